"""The host tests' witness (tests/integration/host/witness.py), its pure parts: which promiscuity a snapshot leaves
out as the bond monitor's verdict, and when a Reader's answer is complete.  (The reads themselves are tested on
the real kernel: test_host_check_mode.py, test_reader_reads_what_a_fresh_read_reads.)"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'integration', 'host'))
import witness  # noqa: E402  pylint: disable=wrong-import-position


def node(mode, arp_interval, active):
    """The ``ip -j -d link show`` dump of a bond bo0 over eth1 and eth2, port of a promiscuous bridge: the bond
    passes its promiscuity to ``active`` only (a mode with one active slave) or to both slaves."""
    one_active = mode == 'active-backup'
    links = [{'ifindex': 4, 'ifname': 'bo0', 'flags': ['BROADCAST', 'MASTER', 'UP'], 'mtu': 1500,
              'promiscuity': 1, 'address': '02:00:00:00:0a:01', 'master': 'br0',
              'linkinfo': {'info_kind': 'bond', 'info_data': {'mode': mode, 'miimon': 0 if arp_interval else 100,
                                                              'arp_interval': arp_interval}}},
             {'ifindex': 5, 'ifname': 'br0', 'flags': ['BROADCAST', 'UP'], 'mtu': 1500, 'promiscuity': 0,
              'address': '02:00:00:00:0a:01', 'linkinfo': {'info_kind': 'bridge', 'info_data': {}}}]
    for index, name in ((2, 'eth1'), (3, 'eth2')):
        links.append({'ifindex': index, 'ifname': name, 'flags': ['SLAVE', 'UP'], 'mtu': 1500, 'master': 'bo0',
                      'promiscuity': int(name == active or not one_active), 'address': '02:00:00:00:0a:01',
                      'linkinfo': {'info_kind': 'veth', 'info_slave_kind': 'bond',
                                   'info_slave_data': {'state': 'ACTIVE' if name == active else 'BACKUP'}}})
    return links


def snap(links):
    return witness.parse([links, [], [], '[]', '[]', ''])


def test_arp_monitored_active_backup_slaves_promiscuity_is_the_monitors():
    before, after = snap(node('active-backup', 100, 'eth1')), snap(node('active-backup', 100, 'eth2'))
    assert witness.differences(before, after) == []
    changed = node('active-backup', 100, 'eth2')
    changed[3]['mtu'] = 9000  # eth2: anything else of the slaves is still compared
    assert witness.differences(before, snap(changed)) == ['links.eth2.mtu: expected 1500, found 9000']


@pytest.mark.parametrize('mode, arp_interval', [('active-backup', 0), ('balance-xor', 100)])
def test_promiscuity_the_monitor_does_not_move_is_compared(mode, arp_interval):
    """MII monitoring (carrier follows the slaves' own), or a mode where every slave gets the bond's promiscuity."""
    before = snap(node(mode, arp_interval, 'eth1'))
    moved = node(mode, arp_interval, 'eth1')
    moved[2]['promiscuity'] = 0
    assert witness.differences(before, snap(moved)) == ['links.eth1.promiscuity: expected 1, found 0']


def test_reader_answer_is_complete_only_with_every_document():
    assert witness.complete_documents('[{"a": 1}]\n[]\n', 3) is None
    assert witness.complete_documents('[{"a": 1}]\n[]\n[{"b"', 3) is None
    assert witness.complete_documents('[{"a": 1}]\n[]\n[]\n', 3) == [[{'a': 1}], [], []]
    with pytest.raises(AssertionError):
        witness.complete_documents('[]\n[]\n', 1)


def link(name, flags, kind=None, master=None, data=None, slave_kind=None, slave=None, lower=None):
    """One entry of ``ip -j -d link show``: ``flags`` as iproute2 prints them (UP, LOWER_UP, NO-CARRIER)."""
    item = {'ifname': name, 'flags': ['BROADCAST', 'MULTICAST'] + list(flags), 'linkinfo': {}}
    if kind:
        item['linkinfo'].update(info_kind=kind, info_data=data or {})
    if master:
        item['master'] = master
        item['linkinfo'].update(info_slave_kind=slave_kind, info_slave_data=slave or {})
    if lower:
        item['link'] = lower
    return item


ON, OFF = ('UP', 'LOWER_UP'), ('UP', 'NO-CARRIER')


def bridged_bond(mode='active-backup', bond=ON, bridge=ON, port_state='forwarding', mii=('UP', 'UP'),
                 carriers=(ON, ON), data=None):
    """br0 over bo0 (MII monitoring) over eth1 and eth2."""
    data = dict({'mode': mode, 'miimon': 100, 'arp_interval': 0}, **(data or {}))
    links = [link('br0', bridge, kind='bridge'),
             link('bo0', bond, kind='bond', data=data, master='br0', slave_kind='bridge',
                  slave={'state': port_state})]
    for name, status, flags in zip(('eth1', 'eth2'), mii, carriers):
        links.append(link(name, list(flags) + ['SLAVE'], kind='veth', master='bo0', slave_kind='bond',
                          slave={'mii_status': status, 'state': 'ACTIVE'}))
    return links


def test_nothing_pending_when_the_kernels_views_agree():
    assert witness.carrier_pending(bridged_bond()) == []
    # no slave has carrier: the bond, its bridge port and the bridge are all without carrier, and say so
    assert witness.carrier_pending(bridged_bond(bond=OFF, bridge=OFF, port_state='disabled', mii=('DOWN', 'DOWN'),
                                                carriers=(OFF, OFF))) == []
    # a link that is down shows neither flag
    assert witness.carrier_pending([link('vm1', [])]) == []


def test_link_watch_not_yet_run():
    """Carrier changed (LOWER_UP), the operational state (NO-CARRIER) not yet: both ways, as seen in failures."""
    assert witness.carrier_pending([link('bo0', ['UP', 'LOWER_UP', 'NO-CARRIER'])]) == [
        'bo0: carrier on, its operational state not yet']
    assert witness.carrier_pending([link('br0', ['UP'], kind='bridge')]) == [
        'br0: carrier off, its operational state not yet']


def test_bridge_carrier_follows_its_forwarding_ports():
    assert witness.carrier_pending(bridged_bond(port_state='listening')) == [
        'br0: bridge carrier True, forwarding ports []']
    assert witness.carrier_pending(bridged_bond(bridge=OFF)) == ["br0: bridge carrier False, forwarding ports ['bo0']"]
    # STP still listening: no carrier, and none shown
    assert witness.carrier_pending(bridged_bond(bridge=OFF, port_state='listening')) == []


def test_bond_mii_monitor_and_carrier():
    # eth2 lost its carrier, the monitor's tick has not seen it yet (or the downdelay runs)
    assert witness.carrier_pending(bridged_bond(carriers=(ON, OFF))) == [
        'eth2: slave of bo0 with MII status UP, carrier False']
    assert witness.carrier_pending(bridged_bond(mii=('UP', 'GOING_BACK'))) == [
        'eth2: slave of bo0 with MII status GOING_BACK, carrier True']
    # a slave up, the bond without carrier: bond_set_carrier has not run
    assert witness.carrier_pending(bridged_bond(bond=OFF, bridge=OFF, port_state='disabled')) == [
        'bo0: bond carrier False, 2 slaves up']
    # 802.3ad: no aggregator selected yet; with min_links above the slaves up, no carrier is the steady state
    assert witness.carrier_pending(bridged_bond(mode='802.3ad', bond=OFF, bridge=OFF, port_state='disabled')) == [
        'bo0: 802.3ad bond with 2 slaves up, no aggregator yet']
    assert witness.carrier_pending(bridged_bond(mode='802.3ad', bond=OFF, bridge=OFF, port_state='disabled',
                                                data={'min_links': 3})) == []


def test_arp_monitored_links_and_vlan_links():
    """An ARP-monitored bond's carrier flips by itself (left out, with what follows it); a VLAN link copies its
    lower link's carrier."""
    flapping = bridged_bond(bond=['UP', 'LOWER_UP', 'NO-CARRIER'], data={'miimon': 0, 'arp_interval': 100})
    assert witness.carrier_pending(flapping, monitored=['bo0', 'br0']) == []
    vlan = link('bo0.100', OFF, kind='vlan', lower='bo0')
    assert witness.carrier_pending(bridged_bond() + [vlan]) == ['bo0.100: VLAN carrier False, its lower link bo0 True']


def test_an_stp_bridges_carrier_and_link_local_addressing_are_left_out():
    """An STP bridge has carrier once a port reaches forwarding, one forward delay after another: STP's verdict,
    like an ARP monitor's (the property test saw br1 NO-CARRIER -> LOWER_UP with its fe80:: addressing arriving
    between two snapshots of an unchanged node).  Without STP, both are compared."""
    def dumps(stp, forwarding):
        links = [link('br1', ON if forwarding else OFF, kind='bridge', data={'stp_state': stp}),
                 link('eth4', ON, kind='veth', master='br1', slave_kind='bridge',
                      slave={'state': 'forwarding' if forwarding else 'listening'})]
        addrs = [{'ifname': 'br1', 'addr_info': [
            {'family': 'inet', 'local': '10.2.0.2', 'prefixlen': 24, 'scope': 'global'}] + ([
                {'family': 'inet6', 'local': 'fe80::1', 'prefixlen': 64, 'scope': 'link'}] if forwarding else [])}]
        routes = [{'dst': '10.2.0.0/24', 'dev': 'br1', 'protocol': 'kernel', 'scope': 'link', 'prefsrc': '10.2.0.2'}]
        if forwarding:
            routes += [{'dst': 'fe80::/64', 'dev': 'br1', 'protocol': 'kernel', 'metric': 256},
                       {'type': 'multicast', 'dst': 'ff00::/8', 'dev': 'br1', 'table': 'local', 'metric': 256}]
        return [links, addrs, routes, '[]', '[]', '']
    listening, forwarding = witness.parse(dumps(1, False)), witness.parse(dumps(1, True))
    assert witness.differences(listening, forwarding) == []
    assert listening['addresses']['br1'] == ['inet 10.2.0.2/24 scope global']
    assert witness.carrier_pending(dumps(1, False)[0], listening['carrier_follows_monitor']) == []
    without = witness.differences(witness.parse(dumps(0, False)), witness.parse(dumps(0, True)))
    assert any(line.startswith('links.br1.flags') for line in without), without
    assert any('fe80::1' in line for line in without) and any('ff00::/8' in line for line in without), without
