"""Proof that the kernel test bed gives the host-networking tests a real kernel: bonds, 802.1Q trunks on a
VLAN-filtering bridge over netlink (pyroute2), and VLAN isolation on the exact Multus/Harvester VM NIC data path
(the reference bridge CNI plugin)."""

import json
import os
import signal
import socket
import subprocess
import time

BRIDGE_VLAN_INFO_PVID = 0x2
BRIDGE_VLAN_INFO_UNTAGGED = 0x4
BRIDGE_VLAN_INFO_RANGE_BEGIN = 0x8
BRIDGE_VLAN_INFO_RANGE_END = 0x10
RTEXT_FILTER_BRVLAN_COMPRESSED = 0x4
BOND_MODE_8023AD = 4
CNI_BRIDGE = '/usr/lib/cni/bridge'


def port_vlans(ipr, index):
    """``{vid: flags}`` of a bridge port, read with the compressed VLAN dump (ranges come back as begin/end)."""
    vlans = {}
    for msg in ipr.link('dump', family=socket.AF_BRIDGE, ext_mask=RTEXT_FILTER_BRVLAN_COMPRESSED):
        if msg['index'] != index:
            continue
        spec = msg.get_attr('IFLA_AF_SPEC')
        begin = None
        for info in spec.get_attrs('IFLA_BRIDGE_VLAN_INFO') if spec else ():
            flags, vid = info['flags'], info['vid']
            if flags & BRIDGE_VLAN_INFO_RANGE_BEGIN:
                begin = vid
                continue
            first = begin if flags & BRIDGE_VLAN_INFO_RANGE_END else vid
            for each in range(first, vid + 1):
                vlans[each] = flags & ~(BRIDGE_VLAN_INFO_RANGE_BEGIN | BRIDGE_VLAN_INFO_RANGE_END)
            begin = None
    return vlans


def link_index(ipr, name):
    found = ipr.link_lookup(ifname=name)
    assert len(found) == 1, 'no link %s' % name
    return found[0]


def test_bond_bridge_trunk_with_pyroute2(netns):
    """Two dummy NICs in an 802.3ad bond, a vlan_filtering bridge over it, VIDs 2-4094 trunked in ONE request."""
    from pyroute2 import IPBatch  # pylint: disable=import-outside-toplevel
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg  # pylint: disable=import-outside-toplevel

    ipr = netns.ipr()
    for nic in ('nic0', 'nic1'):
        ipr.link('add', ifname=nic, kind='dummy')
    ipr.link('add', ifname='hn-bo', kind='bond', bond_mode=BOND_MODE_8023AD, bond_miimon=100)
    bond = link_index(ipr, 'hn-bo')
    for nic in ('nic0', 'nic1'):
        ipr.link('set', index=link_index(ipr, nic), master=bond)
    ipr.link('add', ifname='hn-br', kind='bridge', br_vlan_filtering=1, br_stp_state=0)
    bridge = link_index(ipr, 'hn-br')
    ipr.link('set', index=bond, master=bridge)
    for name in ('nic0', 'nic1', 'hn-bo', 'hn-br'):
        ipr.link('set', index=link_index(ipr, name), state='up')

    # The trunk is ONE RTM_SETLINK carrying a RANGE_BEGIN/RANGE_END pair, not 4093 requests.
    batch = IPBatch()
    batch.vlan_filter('add', index=bond, vlan_info={'vid': '2-4094'})
    wire = bytes(batch.batch)
    request = ifinfmsg(wire)
    request.decode()
    assert request['header']['length'] == len(wire), 'the trunk must be a single netlink message'
    infos = request.get_attr('IFLA_AF_SPEC').get_attrs('IFLA_BRIDGE_VLAN_INFO')
    assert [(info['flags'], info['vid']) for info in infos] == [
        (BRIDGE_VLAN_INFO_RANGE_BEGIN, 2), (BRIDGE_VLAN_INFO_RANGE_END, 4094)]
    ipr.vlan_filter('add', index=bond, vlan_info={'vid': '2-4094'})

    # Read everything back from the kernel.
    bond_link = ipr.get_links(bond)[0]
    assert bond_link.get_nested('IFLA_LINKINFO', 'IFLA_INFO_KIND') == 'bond'
    assert bond_link.get_nested('IFLA_LINKINFO', 'IFLA_INFO_DATA', 'IFLA_BOND_MODE') == BOND_MODE_8023AD
    assert bond_link.get_nested('IFLA_LINKINFO', 'IFLA_INFO_DATA', 'IFLA_BOND_MIIMON') == 100
    assert bond_link.get_attr('IFLA_MASTER') == bridge
    slaves = {link.get_attr('IFLA_IFNAME') for link in ipr.get_links() if link.get_attr('IFLA_MASTER') == bond}
    assert slaves == {'nic0', 'nic1'}
    for nic in ('nic0', 'nic1'):
        link = ipr.get_links(link_index(ipr, nic))[0]
        assert link.get_nested('IFLA_LINKINFO', 'IFLA_INFO_SLAVE_KIND') == 'bond'
    bridge_link = ipr.get_links(bridge)[0]
    assert bridge_link.get_nested('IFLA_LINKINFO', 'IFLA_INFO_KIND') == 'bridge'
    assert bridge_link.get_nested('IFLA_LINKINFO', 'IFLA_INFO_DATA', 'IFLA_BR_VLAN_FILTERING') == 1

    vlans = port_vlans(ipr, bond)
    assert set(vlans) == set(range(1, 4095))
    # VID 1 is the bridge's default PVID (untagged); the trunk VIDs are tagged.
    assert vlans[1] == BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED
    assert {flags for vid, flags in vlans.items() if vid != 1} == {0}

    # A second opinion from iproute2 on the same kernel state.
    shown = json.loads(netns.bridge('-json', '-compressvlans', 'vlan', 'show', 'dev', 'hn-bo').stdout)
    entries = sorted((entry['vlan'], entry.get('vlanEnd', entry['vlan']), sorted(entry.get('flags', ())))
                     for entry in shown[0]['vlans'])
    assert entries == [(1, 1, ['Egress Untagged', 'PVID']), (2, 4094, [])]


def cni_add(switch, vm, bridge, vid, container_id):
    """Attach ``vm`` to ``bridge`` in ``switch`` exactly as Multus does for a Harvester VLAN network's NAD."""
    config = {'cniVersion': '0.3.1', 'name': 'hn-vlan%d' % vid, 'type': 'bridge', 'bridge': bridge,
              'promiscMode': True, 'vlan': vid, 'ipam': {}}
    env = {'PATH': os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin'), 'CNI_COMMAND': 'ADD',
           'CNI_CONTAINERID': container_id, 'CNI_NETNS': vm.path, 'CNI_IFNAME': 'eth0', 'CNI_PATH': '/usr/lib/cni'}
    result = switch.run([CNI_BRIDGE], input=json.dumps(config), env=env, check_rc=False)
    assert result.returncode == 0, 'bridge CNI plugin failed: %s %s' % (result.stdout, result.stderr)
    return json.loads(result.stdout)


def ping(src, address, expect):
    """Ping from namespace ``src``; assert that replies come back (expect=True) or that none do."""
    count = '3' if expect else '2'
    result = src.run(['ping', '-n', '-c', count, '-i', '0.2', '-W', '3' if expect else '1', address], check_rc=False,
                     timeout=60)
    if expect:
        assert result.returncode == 0, '%s cannot reach %s:\n%s%s' % (src.name, address, result.stdout, result.stderr)
    else:
        assert result.returncode == 1 and ' 0 received' in result.stdout, \
            '%s reached %s across VLANs:\n%s%s' % (src.name, address, result.stdout, result.stderr)


def test_vlan_isolation_with_the_bridge_cni_plugin(make_netns, veth):
    """vm1 (bridge CNI plugin, VLAN 100) and vm2 (VLAN 100) talk; vm3 on VLAN 200, same subnet, is cut off."""
    assert os.access(CNI_BRIDGE, os.X_OK), 'the reference bridge CNI plugin is missing (containernetworking-plugins)'
    switch = make_netns('sw')
    vms = {name: make_netns(name) for name in ('vm1', 'vm2', 'vm3')}
    switch.ip('link', 'add', 'hn-br', 'type', 'bridge', 'vlan_filtering', '1', 'stp_state', '0')
    switch.ip('link', 'set', 'hn-br', 'up')

    # vm1: the Multus/Harvester data path, the reference bridge plugin with a NAD's config.
    result = cni_add(switch, vms['vm1'], 'hn-br', 100, switch.name + '-vm1')
    host_ports = [iface['name'] for iface in result['interfaces'] if 'sandbox' not in iface and iface['name'] != 'hn-br']
    assert len(host_ports) == 1, result
    # vm2 and vm3: by hand, a veth with its PVID untagged.
    for vm, vid in (('vm2', 100), ('vm3', 200)):
        veth(switch, 'p-' + vm, vms[vm], 'eth0')
        switch.ip('link', 'set', 'p-' + vm, 'master', 'hn-br')
        switch.bridge('vlan', 'add', 'dev', 'p-' + vm, 'vid', str(vid), 'pvid', 'untagged')
    for number, vm in enumerate(('vm1', 'vm2', 'vm3'), start=11):
        vms[vm].ip('addr', 'add', '192.168.100.%d/24' % number, 'dev', 'eth0')
        vms[vm].ip('link', 'set', 'eth0', 'up')

    ipr = switch.ipr()
    cni_port = link_index(ipr, host_ports[0])
    assert ipr.get_links(cni_port)[0].get_attr('IFLA_MASTER') == link_index(ipr, 'hn-br')
    vlans = port_vlans(ipr, cni_port)
    pvids = [vid for vid, flags in vlans.items() if flags & BRIDGE_VLAN_INFO_PVID]
    assert pvids == [100], vlans
    assert vlans[100] & BRIDGE_VLAN_INFO_UNTAGGED, vlans
    bridge_link = ipr.get_links(link_index(ipr, 'hn-br'))[0]
    assert bridge_link.get_nested('IFLA_LINKINFO', 'IFLA_INFO_DATA', 'IFLA_BR_VLAN_FILTERING') == 1
    assert bridge_link['flags'] & 0x100, 'promiscMode: the plugin puts the bridge in promiscuous mode'  # IFF_PROMISC

    ping(vms['vm1'], '192.168.100.12', expect=True)
    ping(vms['vm2'], '192.168.100.11', expect=True)
    ping(vms['vm3'], '192.168.100.11', expect=False)
    ping(vms['vm3'], '192.168.100.12', expect=False)
    ping(vms['vm1'], '192.168.100.13', expect=False)


def test_netns_fixture_isolates_and_cleans_up(make_netns, tmp_path):
    """Each namespace starts empty (only lo); enter() and write_interpreter() run code inside one; deleting one
    removes it and its devices."""
    first, second = make_netns('a'), make_netns('b')
    assert first.name != second.name
    first.ip('link', 'add', 'only-in-first', 'type', 'dummy')
    second.ip('link', 'add', 'only-in-second', 'type', 'dummy')
    names = json.loads(second.ip('-json', 'link', 'show').stdout)
    assert sorted(link['ifname'] for link in names) == ['lo', 'only-in-second']

    outside = {name for _index, name in socket.if_nameindex()}
    with first.enter():
        inside = {name for _index, name in socket.if_nameindex()}
    assert inside == {'lo', 'only-in-first'}
    assert {name for _index, name in socket.if_nameindex()} == outside, 'enter() must restore the namespace'

    python = first.write_interpreter(str(tmp_path))
    listed = subprocess.run([python, '-c', 'import socket; print(sorted(n for _i, n in socket.if_nameindex()))'],
                            check=True, timeout=120, capture_output=True, text=True).stdout
    assert listed.strip() == "['lo', 'only-in-first']"

    second.destroy()
    assert not os.path.exists(second.path)
    listed = subprocess.run(['ip', 'netns', 'list'], check=True, timeout=60, capture_output=True, text=True).stdout
    assert second.name not in listed.split() and first.name in listed.split()

    # pids() and destroy() do what `ip netns pids` and `ip netns delete` do, without starting ip: iproute2 agrees
    sleeper = subprocess.Popen(['ip', 'netns', 'exec', first.name, 'sleep', '600'])  # pylint: disable=consider-using-with
    for _attempt in range(100):
        shown = subprocess.run(['ip', 'netns', 'pids', first.name], check=True, timeout=60, capture_output=True,
                               text=True).stdout.split()
        if shown:
            break
        time.sleep(0.1)
    assert sorted(first.pids()) == sorted(int(pid) for pid in shown) == [sleeper.pid]
    first.destroy()
    assert sleeper.wait(timeout=60) == -signal.SIGKILL
    listed = subprocess.run(['ip', 'netns', 'list'], check=True, timeout=60, capture_output=True, text=True).stdout
    assert first.name not in listed.split() and not os.path.exists(first.path)
