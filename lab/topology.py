"""The lab's cabling, as a plan of iproute2 batches that ``lab.guest run-plan`` executes where the namespaces live.

::

    hnlab-sw (the physical switch)                         hnlab-node1, hnlab-node2
      bridge mgmt  10.10.0.1/24 <------------- veth ------> eth0  10.10.0.1N/24, default route via 10.10.0.1
      bridge br0   VLAN filtering, node ports  <-- veth --> eth1, eth2 (the VLAN uplink NICs, bonded by site.yml)
                   trunk ONLY the switch's trunk_vlans
                   (tagged) + the native VLAN untagged
                   access port, PVID <router vlan> <-- veth --> hnlab-router eth0 (dnsmasq: the router's DHCP)
                   access port, PVID 1 (native)    <-- veth --> hnlab-<untagged host> eth0
      (on no bridge: spare_nics' ends)         <-- veth --> spare NICs, e.g. eth3, eth4 (for a PXE-style bond)

Nothing here has a route out of its namespace: the lab's traffic stays between its namespaces.
"""

import os
import sys

from lab.config import NS_PREFIX

SWITCH_BRIDGE = 'br0'
MGMT_BRIDGE = 'mgmt'


def switch_port(node_index, nic):
    """The switch's end of a node NIC's cable: ``n1e1`` for node 1's eth1."""
    return 'n%d%s' % (node_index, nic.replace('eth', 'e'))


def _batch(tool, netns, lines, desc):
    argv = [tool, '-n', netns, '-batch', '-'] if netns else [tool, '-batch', '-']
    return {'desc': desc, 'argv': argv, 'input': '\n'.join(lines) + '\n'}


def world_paths(state_dir):
    folder = os.path.join(state_dir, 'world')
    return {'folder': folder, 'router_pid': os.path.join(folder, 'router-dnsmasq.pid'),
            'router_leases': os.path.join(folder, 'router-dnsmasq.leases'),
            'router_log': os.path.join(folder, 'router-dnsmasq.log')}


def build_plan(world, state_dir):
    """The steps that build the switch, the nodes' cables, the router (with its DHCP server) and the untagged hosts."""
    sw = world.netns('sw')
    nodes = [(index, name, world.netns('node', name)) for index, name in enumerate(world.node_names, start=1)]
    extra = []  # (namespace, switch port, pvid, address)
    if world.router:
        extra.append((world.netns('router'), 'rtr', world.router['vlan'], world.router['address']))
    for name, address in sorted(world.untagged_hosts.items()):
        extra.append((world.netns(name), 'u-%s' % name[:12], world.native_vlan, address))

    root = ['netns add %s' % ns for ns in [sw] + [node[2] for node in nodes] + [item[0] for item in extra]]
    # Each cable is made from inside its node (names are checked in the namespace that creates them, and the
    # guest's own root namespace has an eth0 of its own).
    cables = []
    for index, name, netns in nodes:
        cables.append(_batch('ip', netns, ['link add %s type veth peer name %s netns %s'
                                           % (nic, switch_port(index, nic), sw)
                                           for nic in ['eth0'] + world.uplink_nics + world.spare_nics],
                             '%s: cables' % name))
    for netns, port, _pvid, _address in extra:
        cables.append(_batch('ip', netns, ['link add eth0 type veth peer name %s netns %s' % (port, sw)],
                             '%s: cable' % netns))

    switch = ['link set lo up',
              'link add %s type bridge stp_state 0' % MGMT_BRIDGE,
              'addr add %s dev %s' % (world.gateway.with_prefixlen, MGMT_BRIDGE),
              'link set %s up' % MGMT_BRIDGE,
              'link add %s type bridge vlan_filtering 1 vlan_default_pvid %d stp_state 0'
              % (SWITCH_BRIDGE, world.native_vlan),
              'link set %s up' % SWITCH_BRIDGE]
    vlans = []
    for index, _name, _netns in nodes:
        switch += ['link set %s master %s up' % (switch_port(index, 'eth0'), MGMT_BRIDGE)]
        for nic in world.uplink_nics:
            port = switch_port(index, nic)
            switch.append('link set %s master %s up' % (port, SWITCH_BRIDGE))
            vlans += ['vlan add dev %s vid %d' % (port, vid) for vid in world.trunk_vlans]
        switch += ['link set %s up' % switch_port(index, nic) for nic in world.spare_nics]  # cabled, on no bridge
    for _netns, port, pvid, _address in extra:
        switch.append('link set %s master %s up' % (port, SWITCH_BRIDGE))
        if pvid != world.native_vlan:
            vlans += ['vlan del dev %s vid %d' % (port, world.native_vlan),
                      'vlan add dev %s vid %d pvid untagged' % (port, pvid)]

    steps = [_batch('ip', None, root, 'namespaces')] + cables + [
        _batch('ip', sw, switch, 'the switch: management bridge and VLAN-aware bridge')]
    if vlans:
        steps.append(_batch('bridge', sw, vlans, 'the switch ports: trunks of VLANs %s, access ports'
                            % ', '.join(map(str, world.trunk_vlans))))
    for index, name, netns in nodes:
        lines = ['link set lo up', 'link set eth0 up',
                 'addr add %s dev eth0' % world.nodes[name].with_prefixlen]
        lines += ['link set %s up' % nic for nic in world.uplink_nics + world.spare_nics]
        lines.append('route add default via %s' % world.gateway.ip)
        steps.append(_batch('ip', netns, lines, '%s: management address and NICs' % name))
    for netns, _port, _pvid, address in extra:
        steps.append(_batch('ip', netns, ['link set lo up', 'link set eth0 up',
                                          'addr add %s dev eth0' % address.with_prefixlen], '%s: address' % netns))
    if world.router:
        paths = world_paths(state_dir)
        router = world.router
        steps.append({'desc': 'the router: its folder', 'argv': ['mkdir', '-p', paths['folder']]})
        steps.append({
            'desc': "the router's DHCP server (dnsmasq, VLAN %d)" % router['vlan'],
            'argv': ['ip', 'netns', 'exec', world.netns('router'), '/usr/sbin/dnsmasq', '--conf-file=/dev/null',
                     '--port=0', '--interface=eth0', '--bind-interfaces', '--except-interface=lo',
                     '--dhcp-authoritative', '--user=root',
                     '--dhcp-range=%s,%s,%s,%s' % (router['pool'][0], router['pool'][1], router['address'].netmask,
                                                   router['lease_time']),
                     '--dhcp-option=option:router,%s' % router['address'].ip,
                     '--dhcp-leasefile=%s' % paths['router_leases'], '--pid-file=%s' % paths['router_pid'],
                     '--log-dhcp', '--log-facility=%s' % paths['router_log']],
        })
    return {'steps': steps}


def teardown_argv():
    """What removes the lab's namespaces (and every process in them), wherever they live."""
    return [sys.executable, '-m', 'lab.guest', 'teardown', NS_PREFIX]


def namespaces(world, vm_names=()):
    return ([world.netns('sw')] + [world.netns('node', name) for name in world.node_names] +
            ([world.netns('router')] if world.router else []) + [world.netns(name) for name in world.untagged_hosts] +
            [world.netns('vm', name) for name in vm_names])
