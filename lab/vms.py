"""VM stand-ins: what site.yml left on the API server, turned into namespaces attached the way Multus attaches a VM.

For every KubeVirt VirtualMachine on the API server, one namespace ``hnlab-vm-<name>`` on the node its label names
(``vm_node_label`` in lab.yml; nothing schedules VMs here). For each of its VLAN NICs (``multus`` networks), the
reference bridge CNI plugin runs in the node's namespace with the NetworkAttachmentDefinition's ``spec.config`` as
read back from the API server, byte for byte, on stdin: the data path Harvester's VMs get. (The plugin is built from
Go modules by testbeds.cni: Debian's 1.1.1 predates the ``preserveDefaultVlan`` option.) The NIC is named as the
guest would name it and addressed as the VM's cloud-init network data says (static addresses, or DHCP); a VM without
network data brings up its first NIC by DHCP, as Harvester's VMs do. Management (pod network) NICs have no data path
in the lab and are listed as such.
"""

import ipaddress
import json
import os

import yaml


VM = ('kubevirt.io', 'v1', 'virtualmachines')
NAD = ('k8s.cni.cncf.io', 'v1', 'network-attachment-definitions')
ROUTE_ANNOTATION = 'network.harvesterhci.io/route'


class Api:
    """The few reads the lab makes, with the official ``kubernetes`` client (not the collection's transport)."""

    def __init__(self, kubeconfig):
        from kubernetes import client, config  # pylint: disable=import-outside-toplevel
        self.api_client = config.new_client_from_config(config_file=kubeconfig)
        self.custom = client.CustomObjectsApi(self.api_client)
        self.client = client

    def close(self):
        self.api_client.close()

    def served(self, group, version):
        """The plural names the server serves in ``group``/``version`` (its discovery document), None when it does
        not serve that group version at all (404)."""
        try:
            answer = self.custom.get_api_resources(group, version)
        except self.client.exceptions.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return set(item.name for item in answer.resources or [])

    def list(self, kind):
        group, version, plural = kind
        return self.custom.list_cluster_custom_object(group, version, plural).get('items', [])

    def versions(self):
        """{kind/namespace/name: resourceVersion} of every object of the kinds the site writes, that the server serves."""
        kinds = [VM, NAD, ('network.harvesterhci.io', 'v1beta1', 'clusternetworks'),
                 ('network.harvesterhci.io', 'v1beta1', 'vlanconfigs'),
                 ('network.harvesterhci.io', 'v1beta1', 'nodenetworks'), ('harvesterhci.io', 'v1beta1', 'settings'),
                 ('loadbalancer.harvesterhci.io', 'v1beta1', 'ippools')]
        found = {}
        for kind in kinds:
            try:
                items = self.list(kind)
            except self.client.exceptions.ApiException as exc:
                if exc.status == 404:
                    continue
                raise
            for item in items:
                meta = item['metadata']
                found['%s/%s/%s' % (kind[2], meta.get('namespace', ''), meta['name'])] = meta['resourceVersion']
        return found


def guest_name(index):
    """KubeVirt's virtio NICs appear in the guest as enp1s0, enp2s0, ... (same default as harvester.network.vm)."""
    return 'enp%ds0' % (index + 1)


def _network_data(vm):
    for volume in vm['spec']['template']['spec'].get('volumes') or []:
        source = volume.get('cloudInitNoCloud') or volume.get('cloudInitConfigDrive')
        if source and source.get('networkData'):
            data = yaml.safe_load(source['networkData'])
            return data if isinstance(data, dict) else None
    return None


def nic_addressing(network_data, index, name, mac):
    """How the guest brings NIC ``index`` up: {mode: static|dhcp|none, addresses, gateway}."""
    none = {'mode': 'none', 'addresses': [], 'gateway': None}
    if network_data is None:
        return {'mode': 'dhcp', 'addresses': [], 'gateway': None} if index == 0 else none
    wanted = guest_name(index)
    if network_data.get('version') == 2 or 'ethernets' in network_data:
        for key, entry in (network_data.get('ethernets') or {}).items():
            match = entry.get('match') or {}
            if (mac and (match.get('macaddress') or '').lower() == mac.lower()) or \
                    match.get('name') == wanted or entry.get('set-name') == wanted or key == name:
                if entry.get('dhcp4'):
                    return {'mode': 'dhcp', 'addresses': [], 'gateway': None}
                gateway = None
                for route in entry.get('routes') or []:
                    if route.get('to') in ('0.0.0.0/0', 'default'):
                        gateway = route.get('via')
                return {'mode': 'static' if entry.get('addresses') else 'none',
                        'addresses': [a for a in entry.get('addresses') or [] if ':' not in a], 'gateway': gateway}
        return none
    for entry in network_data.get('config') or []:
        if entry.get('type') != 'physical':
            continue
        if (mac and (entry.get('mac_address') or '').lower() == mac.lower()) or entry.get('name') == wanted:
            subnets = entry.get('subnets') or []
            if any(s.get('type') == 'dhcp' or s.get('type') == 'dhcp4' for s in subnets):
                return {'mode': 'dhcp', 'addresses': [], 'gateway': None}
            addresses = [s['address'] for s in subnets if s.get('type') == 'static' and s.get('address')]
            gateway = next((s['gateway'] for s in subnets if s.get('type') == 'static' and s.get('gateway')), None)
            return {'mode': 'static' if addresses else 'none', 'addresses': addresses, 'gateway': gateway}
    return none


def nic_vlans(network_data, index, name):
    """The VLAN interfaces the guest's network data (version 2 ``vlans``) puts on NIC ``index``:
    [{ifname, vid, addresses}] (IPv4 addresses only; the link named by its guest name, its ``ethernets`` key or the
    interface name)."""
    if not network_data or not (network_data.get('version') == 2 or 'ethernets' in network_data):
        return []
    wanted = guest_name(index)
    links = {wanted, name}
    for key, entry in (network_data.get('ethernets') or {}).items():
        if (entry.get('match') or {}).get('name') == wanted or entry.get('set-name') == wanted:
            links.add(key)
    found = []
    for ifname, entry in sorted((network_data.get('vlans') or {}).items()):
        if entry.get('link') in links and entry.get('id') is not None:
            found.append({'ifname': ifname, 'vid': int(entry['id']),
                          'addresses': [a for a in entry.get('addresses') or [] if ':' not in a]})
    return found


def plan(api, world, state_dir, cni_path):
    """Read the VMs and NADs back from the API server and plan the stand-ins (attached by the plugins in ``cni_path``).
    Returns (plan, notes)."""
    nads = {}
    for item in api.list(NAD):
        meta = item['metadata']
        nads['%s/%s' % (meta['namespace'], meta['name'])] = item
    vms = sorted(api.list(VM), key=lambda item: (item['metadata']['namespace'], item['metadata']['name']))
    notes = []
    planned = []
    nodes = world.node_names
    for position, vm in enumerate(vms):
        meta = vm['metadata']
        label = (meta.get('labels') or {}).get(world.vm_node_label)
        node = label if label in nodes else nodes[position % len(nodes)]
        if label and label not in nodes:
            notes.append('%s: label %s=%s names no lab node; placed on %s'
                         % (meta['name'], world.vm_node_label, label, node))
        template = vm['spec']['template']['spec']
        networks = dict((n['name'], n) for n in template.get('networks') or [])
        network_data = _network_data(vm)
        nics = []
        for index, iface in enumerate(template['domain']['devices'].get('interfaces') or []):
            net = networks.get(iface['name']) or {}
            if 'multus' not in net:
                notes.append('%s/%s: management (pod network) NIC, not emulated by the lab' % (meta['name'], iface['name']))
                continue
            ref = net['multus']['networkName']
            if '/' not in ref:
                ref = '%s/%s' % (meta['namespace'], ref)
            nad = nads.get(ref)
            if nad is None:
                notes.append('%s/%s: network %s is not on the API server' % (meta['name'], iface['name'], ref))
                continue
            config_text = nad['spec']['config']
            config = json.loads(config_text)
            mac = iface.get('macAddress')
            addressing = nic_addressing(network_data, index, iface['name'], mac)
            route = {}
            try:
                route = json.loads((nad['metadata'].get('annotations') or {}).get(ROUTE_ANNOTATION) or '{}')
            except ValueError:
                pass
            nics.append(dict(addressing, **{
                'name': iface['name'], 'ifname': guest_name(index), 'network': ref, 'config': config_text,
                'bridge': config.get('bridge'), 'vid': config.get('vlan'), 'route': route, 'mac': mac,
                # a trunk network's VLANs (bridge CNI vlanTrunk), and the guest's own VLAN interfaces on the NIC
                'trunk': config.get('vlanTrunk'), 'vlans': nic_vlans(network_data, index, iface['name']),
                'node_netns': world.netns('node', node), 'cni_path': cni_path,
                'container_id': 'hnlab-%s-%s-%s' % (meta['namespace'], meta['name'], iface['name']),
            }))
        planned.append({'vm': meta['name'], 'namespace': meta['namespace'], 'node': node,
                        'netns': world.netns('vm', meta['name']), 'nics': nics})
    hooks = write_dhcp_hooks(state_dir)
    return {'vms': planned, 'hooks': hooks}, notes


REPORT_HOOK = """#!/bin/sh
# busybox udhcpc hook of the lab (a probe): print the lease, configure nothing
[ "$1" = bound ] || exit 0
echo "LEASE ip=$ip mask=$mask router=$router serverid=$serverid lease=$lease interface=$interface"
"""
APPLY_HOOK = """#!/bin/sh
# busybox udhcpc hook of the lab (a VM's DHCP client): print the lease and configure it
[ "$1" = bound ] || exit 0
echo "LEASE ip=$ip mask=$mask router=$router serverid=$serverid lease=$lease interface=$interface"
ip addr flush dev "$interface" scope global
ip addr add "$ip/$mask" dev "$interface"
if [ -n "$router" ]; then
    set -- $router
    ip route replace default via "$1" dev "$interface"
fi
exit 0
"""


def write_dhcp_hooks(state_dir):
    """Two udhcpc hook scripts in the lab's folder: ``apply`` (a VM's DHCP client) and ``report`` (a probe only)."""
    folder = os.path.join(state_dir, 'bin')
    os.makedirs(folder, exist_ok=True)
    hooks = {}
    for name, text in (('apply', APPLY_HOOK), ('report', REPORT_HOOK)):
        path = os.path.join(folder, 'udhcpc-%s' % name)
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(text)
        os.chmod(path, 0o755)
        hooks[name] = path
    return hooks


def addresses(nic, leased=None):
    """The IPv4 interfaces of a planned NIC (static ones, or its DHCP lease)."""
    if nic['mode'] == 'static':
        return [ipaddress.ip_interface(a) for a in nic['addresses']]
    if leased and leased.get('ip') and leased.get('mask'):
        return [ipaddress.ip_interface('%s/%s' % (leased['ip'], leased['mask']))]
    return []
