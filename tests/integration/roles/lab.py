"""The lab the role tests converge: Harvester nodes as network namespaces in one kernel, cabled to a switch.

    switch namespace                      node1 / node2 namespaces
    ----------------                      -----------------------
    bridge "mgmt" 10.10.0.1/24  <-veth->  eth0 10.10.0.1N/24, default route via 10.10.0.1 (the management NIC)
    bridge "trunk" (VLAN filtering,
      VLANs 100 and 200 tagged)   <-veth->  eth1, eth2 (the VLAN uplink NICs)
    (unbridged ends)              <-veth->  eth3, eth4 (NICs for node_prep's PXE-style bond)

Ansible reaches each node with ``ansible_connection=local`` and a per-node interpreter wrapper that runs Python
inside the node's namespace (``exec ip netns exec <ns> <venv python> "$@"``).  A "VM" is a namespace attached to a
node's bridge by the reference bridge CNI plugin fed the network's NAD config (the Multus/Harvester data path).
"""

import json
import os
import secrets
import shlex
import subprocess
import sys

import yaml

from testbeds.common import REPO_ROOT

CNI_BIN = '/usr/lib/cni'
PER_NODE_PATHS = ('/etc/harvester-network', '/var/lib/harvester-network')
VIDS = (100, 200)
NODES = ('node1', 'node2')


def saved_state(lab_or_root, node=None):
    """A node's saved desired state (what harvester.network's boot unit re-applies), as {section: {name: spec}}
    (VLAN sets as sorted lists).  ``saved_state(lab, node)`` or ``saved_state(<node's root folder>)``."""
    root = lab_or_root if node is None else os.path.join(lab_or_root.folder, 'fs-%s' % node.name)
    with open(os.path.join(root, 'etc', 'state.json'), encoding='utf-8') as handle:
        doc = json.load(handle)
    assert doc['version'] == 2, doc.get('version')
    return dict((section, dict((key, item['spec']) for key, item in saved['items'].items()))
                for section, saved in doc['sections'].items())


def run(argv, check=True, timeout=120, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError('%s failed (%d):\n%s%s' % (shlex.join(argv), result.returncode, result.stdout,
                                                        result.stderr))
    return result


class Namespace:
    """One network namespace of the lab."""

    def __init__(self, name):
        self.name = name
        self.path = '/run/netns/%s' % name

    def ip(self, *args, check=True):
        return run(['ip', '-netns', self.name] + list(args), check=check)

    def bridge(self, *args, check=True):
        return run(['bridge', '-netns', self.name] + list(args), check=check)

    def exec(self, argv, check=True, timeout=120, **kwargs):
        return run(['ip', 'netns', 'exec', self.name] + list(argv), check=check, timeout=timeout, **kwargs)

    def json(self, *args):
        return json.loads(self.ip('-j', *args).stdout or '[]')

    def links(self):
        return dict((link['ifname'], link) for link in self.json('-d', 'link', 'show'))

    def vlans(self):
        """{port: {vid: set(flags)}} from ``bridge -j vlan show``."""
        table = {}
        for entry in json.loads(self.bridge('-j', 'vlan', 'show').stdout or '[]'):
            port = table.setdefault(entry['ifname'], {})
            for vlan in entry.get('vlans', []):
                for vid in range(vlan['vlan'], vlan.get('vlanEnd', vlan['vlan']) + 1):
                    port[vid] = set(vlan.get('flags', []))
        return table

    def snapshot(self):
        """Everything the roles could change in this namespace, comparable across runs."""
        links = {}
        for name, link in self.links().items():
            info = link.get('linkinfo', {})
            links[name] = {'kind': info.get('info_kind'), 'master': link.get('master'), 'mtu': link.get('mtu'),
                           'up': 'UP' in link.get('flags', [])}
        addresses = sorted('%s %s/%s' % (item['ifname'], a['local'], a['prefixlen'])
                           for item in self.json('addr', 'show') for a in item.get('addr_info', [])
                           if a.get('scope') != 'link')
        routes = sorted(json.dumps(route, sort_keys=True) for route in self.json('route', 'show'))
        vlans = dict((port, dict((vid, sorted(flags)) for vid, flags in table.items()))
                     for port, table in self.vlans().items())
        return {'links': links, 'addresses': addresses, 'routes': routes, 'vlans': vlans}

    def write_interpreter(self, folder, python=None):
        """A Python that runs in this namespace with its own /etc/harvester-network and /var/lib/harvester-network.

        The lab's nodes share one filesystem, but a node's saved network state and DHCP files are its own: the
        wrapper bind-mounts per-node folders over those two paths in a private mount namespace first.
        """
        root = os.path.join(folder, 'fs-%s' % self.name)
        for sub in ('etc', 'lib'):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        for target in PER_NODE_PATHS:
            os.makedirs(target, exist_ok=True)
        path = os.path.join(folder, 'python-%s' % self.name)
        script = (
            'mount --bind "$0/etc" %s && mount --bind "$0/lib" %s && exec ip netns exec %s %s "$@"'
            % (PER_NODE_PATHS[0], PER_NODE_PATHS[1], shlex.quote(self.name), shlex.quote(python or sys.executable)))
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write('#!/bin/sh\nexec unshare --mount --propagation private sh -c %s %s "$@"\n'
                         % (shlex.quote(script), shlex.quote(root)))
        os.chmod(path, 0o755)
        self.root = root
        return path

    def pids(self):
        return [int(pid) for pid in run(['ip', 'netns', 'pids', self.name], check=False).stdout.split()]


class Lab:
    """The namespaces, cables and Ansible inventory of one test module; ``destroy()`` removes all of it."""

    def __init__(self, folder, tag=None):
        self.folder = folder
        self.tag = tag or secrets.token_hex(2)
        self.namespaces = []
        self.switch = self._namespace('sw')
        self.nodes = {}
        self.vms = {}

    def _namespace(self, label):
        name = 'hnr-%s-%s' % (self.tag, label)
        run(['ip', 'netns', 'add', name])
        namespace = Namespace(name)
        self.namespaces.append(namespace)
        namespace.ip('link', 'set', 'lo', 'up')
        return namespace

    def build(self):
        sw = self.switch
        sw.ip('link', 'add', 'mgmt', 'type', 'bridge')
        sw.ip('addr', 'add', '10.10.0.1/24', 'dev', 'mgmt')
        sw.ip('link', 'set', 'mgmt', 'up')
        sw.ip('link', 'add', 'trunk', 'type', 'bridge', 'vlan_filtering', '1')
        sw.ip('link', 'set', 'trunk', 'up')
        for index, node_name in enumerate(NODES, start=1):
            node = self._namespace(node_name)
            self.nodes[node_name] = node
            for nic in range(5):
                peer = 'n%de%d' % (index, nic)
                node.ip('link', 'add', 'eth%d' % nic, 'type', 'veth', 'peer', 'name', peer, 'netns', sw.name)
                node.ip('link', 'set', 'eth%d' % nic, 'up')
                if nic == 0:
                    sw.ip('link', 'set', peer, 'master', 'mgmt')
                elif nic in (1, 2):
                    sw.ip('link', 'set', peer, 'master', 'trunk')
                    for vid in VIDS:
                        sw.bridge('vlan', 'add', 'dev', peer, 'vid', str(vid))
                sw.ip('link', 'set', peer, 'up')
            node.ip('addr', 'add', '10.10.0.1%d/24' % index, 'dev', 'eth0')
            node.ip('route', 'add', 'default', 'via', '10.10.0.1')
        return self

    def attach_vm(self, label, node_name, nad_config):
        """A VM stand-in: a namespace attached to ``node_name``'s bridge by the bridge CNI plugin (its eth0)."""
        vm = self._namespace(label)
        env = ['env', 'CNI_COMMAND=ADD', 'CNI_CONTAINERID=%s' % secrets.token_hex(8), 'CNI_NETNS=%s' % vm.path,
               'CNI_IFNAME=eth0', 'CNI_PATH=%s' % CNI_BIN]
        self.nodes[node_name].exec(env + [os.path.join(CNI_BIN, 'bridge')], input=nad_config)
        self.vms[label] = vm
        return vm

    def inventory(self, kubeconfig):
        """An inventory of the lab's nodes, laid over examples/inventory (later sources win)."""
        hosts = {}
        for name, node in self.nodes.items():
            hosts[name] = {'ansible_connection': 'local',
                           'ansible_python_interpreter': node.write_interpreter(self.folder)}
        inventory = {
            'all': {
                'hosts': {'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}},
                'children': {'harvester_nodes': {'hosts': hosts}},
            },
        }
        path = os.path.join(self.folder, 'lab-inventory.yml')
        with open(path, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(inventory, handle)
        overrides = {
            'harvester_kubeconfig': kubeconfig,
            # the lab's namespaces have no systemd: dnsmasq runs as a daemon with a PID file
            'dhcp_server_service_manager': 'none',
            'dhcp_server_run_dir': os.path.join(self.folder, 'run'),
            # both nodes in one batch: under software emulation every batch repeats the controller-side reads
            # (the teardown run uses the default, one node per batch)
            'harvester_serial': 2,
        }
        vars_path = os.path.join(self.folder, 'lab-vars.yml')
        with open(vars_path, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(overrides, handle)
        return path, vars_path

    def destroy(self):
        errors = []
        for namespace in reversed(self.namespaces):
            for pid in namespace.pids():
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            result = run(['ip', 'netns', 'delete', namespace.name], check=False)
            if result.returncode != 0:
                errors.append('%s: %s' % (namespace.name, result.stderr.strip()))
        self.namespaces = []
        if errors:
            raise AssertionError('could not delete namespaces: %s' % '; '.join(errors))


EXAMPLE_DIR = os.path.join(REPO_ROOT, 'examples', 'inventory')
EXAMPLE_INVENTORY = os.path.join(EXAMPLE_DIR, 'hosts.yml')
EXAMPLE_VARS = os.path.join(EXAMPLE_DIR, 'harvester-network.yml')
PLAYBOOKS = os.path.join(REPO_ROOT, 'playbooks')
