"""The lab's bed for tests that build their own site on it (the role tests, tests/integration/roles).

The controller side runs HERE, natively: pytest, ansible-playbook, ansible-runner, molecule and the cluster modules,
against the keeper's kube-apiservers on 127.0.0.1. Only what must run where the kernel has bonding/802.1Q/VLAN
filtering goes through the lab's job channel (lab/channel.py) to its agent: the node modules (through the nodes'
Pythons, lab/noderelay.py), and the iproute2 commands, CNI plugin calls and DHCP clients of the tests. Under QEMU's
software emulation that is about five times faster than running the whole controller in the guest.

    bed = Bed(home, World(world_path=..., site_vars_path=...), extra_profiles=('legacy',))
    bed.up()          # the keeper: etcd + kube-apiservers, the guest (or this machine) + the agent
    bed.build()       # a fresh topology (lab.topology), every earlier namespace and node file gone
    bed.nodes['node1'].ip('-j', 'link', 'show')     # iproute2 in a node's namespace, where it lives
    bed.down()        # keeper, guest, servers, namespaces and the state folder gone

Node files (saved state, DHCP files) live under ``bed.node_root(node)`` in the state folder, which the guest shares
read-write at the same path: the tests read them here.
"""

import json
import os
import secrets
import shlex
import shutil
import sys

from lab import channel, lifecycle, topology
from lab.config import Paths
from testbeds import cni
from testbeds.common import REPO_ROOT

COMMAND_TIMEOUT = 120


class Result:
    """A finished command: ``returncode``, ``stdout`` and ``stderr`` (text), like subprocess.CompletedProcess."""

    def __init__(self, argv, returncode, stdout, stderr):
        self.args = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class Namespace:
    """One network namespace of the bed, reached through the channel."""

    def __init__(self, bed, name):
        self.bed = bed
        self.name = name
        self.path = '/run/netns/%s' % name

    def __repr__(self):
        return 'Namespace(%s)' % self.name

    def ip(self, *args, check=True):
        return self.bed.run(['ip', '-n', self.name] + list(args), check=check)

    def bridge(self, *args, check=True):
        return self.bed.run(['bridge', '-n', self.name] + list(args), check=check)

    def exec(self, argv, check=True, timeout=COMMAND_TIMEOUT, input=None, env=None):  # pylint: disable=redefined-builtin
        return self.bed.run(['ip', 'netns', 'exec', self.name] + list(argv), check=check, timeout=timeout,
                            input=input, env=env)

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
        """What the roles could change in this namespace (links, addresses, routes, VLANs), comparable across runs."""
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

    def pids(self):
        return [int(pid) for pid in self.bed.run(['ip', 'netns', 'pids', self.name], check=False).stdout.split()]

    def processes(self):
        """{pid: command line} of the processes in this namespace (read where they run)."""
        script = 'for p in $(ip netns pids "$1"); do printf "%s " "$p"; tr "\\0" " " < /proc/$p/cmdline; echo; done'
        out = self.bed.run(['sh', '-c', script, 'sh', self.name], check=False).stdout
        return dict((int(line.split(' ', 1)[0]), line.split(' ', 1)[1].strip()) for line in out.splitlines()
                    if line.strip())


class Bed:
    """The keeper (control plane + the agent where the kernel is) and a topology of ``world`` on it."""

    def __init__(self, home, world, extra_profiles=()):
        self.paths = Paths(home)
        self.world = world
        self.extra_profiles = tuple(extra_profiles)
        self.cluster = None
        self.cni_bin = None
        self.nodes = {}
        self.switch = None
        self.vms = {}

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def up(self):
        """Start the keeper; returns cluster.json ({kubeconfig, server, port, bed, profiles: {name: {...}}})."""
        self.cni_bin = cni.build()
        self.cluster = lifecycle.start(self.paths, self.world, extra_profiles=self.extra_profiles)
        return self.cluster

    def kubeconfig(self, profile='current'):
        """The kubeconfig of the API server of ``profile`` (Harvester generation), for the controller (127.0.0.1)."""
        return self.cluster['profiles'][profile]['kubeconfig']

    def down(self):
        """Stop everything the bed runs and remove its folder; returns what ``lifecycle.stop`` did."""
        return lifecycle.stop(self.paths)

    @property
    def state_dir(self):
        return self.paths.run

    def run(self, argv, check=True, timeout=COMMAND_TIMEOUT, input=None, env=None):  # pylint: disable=redefined-builtin
        """Run ``argv`` where the lab's namespaces live; a Result (an AssertionError when ``check`` and it failed)."""
        data = input.encode('utf-8') if isinstance(input, str) else (input or b'')
        rc, out, err = channel.run(self.paths.run, argv, stdin=data, timeout=timeout, env=env, cwd=REPO_ROOT)
        result = Result(argv, rc, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace'))
        if check and rc != 0:
            raise AssertionError('%s failed (%d) in the lab:\n%s%s'
                                 % (shlex.join(argv), rc, result.stdout, result.stderr))
        return result

    def guest_python(self, action, *args, timeout=600):
        """``python -m lab.guest ACTION ARGS`` where the lab is (one Python start: several commands in one job)."""
        return self.run([sys.executable, '-m', 'lab.guest', action] + list(args), timeout=timeout)

    # -- the site ----------------------------------------------------------------------------------------------------

    def node_root(self, node):
        return lifecycle.node_root(self.paths, node)

    def interpreter(self, node):
        """The Python Ansible uses for ``node`` (it relays to the node's namespace through the channel)."""
        return self.paths.state('bin', 'python-%s' % node)

    def build(self):
        """A fresh topology: every namespace and node file of an earlier build removed first."""
        self.guest_python('teardown', topology.teardown_argv()[-1])
        for node in self.world.node_names:
            root = self.node_root(node)
            shutil.rmtree(root, ignore_errors=True)
            os.makedirs(root)
        plan = self.paths.state('plans', 'topology.json')
        os.makedirs(os.path.dirname(plan), exist_ok=True)
        channel.write_json(plan, topology.build_plan(self.world, self.paths.run))
        self.guest_python('run-plan', plan)
        self.switch = Namespace(self, self.world.netns('sw'))
        self.nodes = dict((name, Namespace(self, self.world.netns('node', name))) for name in self.world.node_names)
        self.vms = {}
        return self

    def attach_vm(self, label, node_name, nad_config):
        """A VM stand-in: a namespace attached to ``node_name``'s bridge by the bridge CNI plugin (its eth0), fed the
        network's NAD config as Multus feeds it."""
        vm = Namespace(self, self.world.netns('vm', label))
        self.run(['ip', 'netns', 'add', vm.name])
        vm.ip('link', 'set', 'lo', 'up')
        env = {'CNI_COMMAND': 'ADD', 'CNI_CONTAINERID': secrets.token_hex(8), 'CNI_NETNS': vm.path,
               'CNI_IFNAME': 'eth0', 'CNI_PATH': self.cni_bin}
        self.nodes[node_name].exec([os.path.join(self.cni_bin, 'bridge')], input=nad_config, env=env)
        self.vms[label] = vm
        return vm

    def exists(self, path):
        """Does ``path`` exist where the lab runs (a /proc entry of a process there, say)?"""
        return self.run(['test', '-e', path], check=False).returncode == 0


def native_capable():
    """True when this machine's kernel runs the lab itself (then its namespaces are this machine's)."""
    from testbeds.kernel import check  # pylint: disable=import-outside-toplevel
    return check()[0]
