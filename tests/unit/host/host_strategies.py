"""Hypothesis strategies: random but mostly valid host_network params over a fixed set of NICs.

Shared by the pure planner properties (tests/unit/host) and the check-mode accuracy test on the real kernel
(tests/integration/host), so both explore the same space.
"""

from hypothesis import strategies as st

from ansible_collections.harvester.network.plugins.module_utils.host import model
from ansible_collections.harvester.network.plugins.module_utils.host.vids import range_strings

# The node: four "physical" NICs and three VM ports (veth pairs on the real kernel).
NICS = ['eth1', 'eth2', 'eth3', 'eth4']
VM_PORTS = ['vm1', 'vm2', 'vm3']
ARP_MODES = model.BOND_OPTION_MODES['arp_interval']


@st.composite
def bond_params(draw):
    mode = draw(st.sampled_from(model.BOND_MODES))
    params = {'name': 'bo0', 'mode': mode}
    slaves = draw(st.lists(st.sampled_from(['eth1', 'eth2']), unique=True, max_size=2))
    params['slaves'] = slaves
    if draw(st.booleans()):
        params['mtu'] = draw(st.sampled_from([1500, 4000, 9000]))
    if mode in ARP_MODES and draw(st.integers(0, 3)) == 0:
        params['miimon'] = 0
        params['arp_interval'] = draw(st.sampled_from([100, 250]))
        params['arp_ip_target'] = draw(st.lists(st.sampled_from(['10.1.0.1', '10.1.0.7']), unique=True,
                                                min_size=1))
    else:
        miimon = draw(st.sampled_from([None, 100, 50]))
        if miimon is not None:
            params['miimon'] = miimon
            if mode in ARP_MODES:
                params['arp_interval'] = 0
            if draw(st.booleans()):
                params['updelay'] = miimon * draw(st.integers(0, 3))
            if draw(st.booleans()):
                params['downdelay'] = miimon * draw(st.integers(0, 3))
    if mode == '802.3ad':
        if draw(st.booleans()):
            params['lacp_rate'] = draw(st.sampled_from(model.LACP_RATES))
        if draw(st.booleans()):
            params['ad_select'] = draw(st.sampled_from(model.AD_SELECTS))
        if draw(st.booleans()):
            params['min_links'] = draw(st.integers(0, 2))
    if mode in model.BOND_OPTION_MODES['xmit_hash_policy'] and draw(st.booleans()):
        params['xmit_hash_policy'] = draw(st.sampled_from(['layer2', 'layer3+4', 'layer2+3']))
    if mode in model.BOND_OPTION_MODES['primary'] and slaves and draw(st.booleans()):
        params['primary'] = draw(st.sampled_from(slaves))
    return params


@st.composite
def vids_list(draw, min_vid=2):
    shape = draw(st.sampled_from(['none', 'few', 'range', 'trunk']))
    if shape == 'none':
        return None
    if shape == 'trunk':
        return ['%d-4094' % min_vid]
    if shape == 'range':
        first = draw(st.integers(min_vid, 4000))
        return ['%d-%d' % (first, first + draw(st.integers(1, 90)))]
    return range_strings(draw(st.sets(st.integers(min_vid, 4094), min_size=1, max_size=6)))


@st.composite
def vlan_params(draw, port, bridge=None):
    params = {'port': port}
    if bridge and draw(st.booleans()):
        params['bridge'] = bridge
    vids = draw(vids_list())
    if vids is not None:
        params['vids'] = vids
    pvid = draw(st.sampled_from([None, None, 0, 1, 100, 200]))
    if pvid is not None:
        params['pvid'] = pvid
    if draw(st.integers(0, 3)) == 0:
        params['untagged'] = range_strings(draw(st.sets(st.integers(300, 310), max_size=3)))
    return params


@st.composite
def bridge_params(draw, name, uplinks, ports):
    params = {'name': name, 'vlan_filtering': draw(st.sampled_from([True, True, True, False])),
              'default_pvid': draw(st.sampled_from([1, 1, 1, 10, 0])), 'stp': draw(st.booleans()),
              'promisc': draw(st.booleans())}
    uplink = draw(st.sampled_from(uplinks + [None]))
    if uplink:
        params['uplink'] = uplink
        if uplink.startswith('eth') and draw(st.integers(0, 4)) == 0:
            params['migrate'] = True
    params['ports'] = draw(st.lists(st.sampled_from(ports), unique=True, max_size=len(ports)))
    if draw(st.integers(0, 2)) == 0:
        params['mtu'] = draw(st.sampled_from([1500, 9000]))
    return params


@st.composite
def network_params(draw, states=('merged', 'replaced', 'overridden')):
    """host_network params (before argument-spec defaults)."""
    params = {'state': draw(st.sampled_from(states)), 'probes': {'enabled': False}}
    bonds = []
    if draw(st.booleans()):
        bonds.append(draw(bond_params()))
    params['bonds'] = bonds
    bridges = []
    br0_uplinks = (['bo0'] if bonds else []) + ['eth3']
    if draw(st.integers(0, 3)):
        bridges.append(draw(bridge_params('br0', br0_uplinks, ['vm1', 'vm2'])))
    if draw(st.booleans()):
        bridges.append(draw(bridge_params('br1', ['eth4'], ['vm3'])))
    for bridge in bridges:
        # A bridge MTU and an explicit, different uplink bond MTU conflict (validation says so): keep them apart.
        if bridge.get('uplink') == 'bo0' and bonds and bonds[0].get('mtu') and bridge.get('mtu'):
            bridge['mtu'] = bonds[0]['mtu']
    params['bridges'] = bridges
    vlans = []
    for bridge in bridges:
        if not bridge['vlan_filtering']:
            continue
        members = [bridge['name']] + list(bridge['ports']) + ([bridge['uplink']] if bridge.get('uplink') else [])
        for port in draw(st.lists(st.sampled_from(members), unique=True, max_size=len(members))):
            vlans.append(draw(vlan_params(port, bridge['name'])))
    params['vlans'] = vlans
    # Addresses on interfaces that can carry them, one /24 per interface; routes through them.
    carriers = [b['name'] for b in bridges] + [n for n in ('eth4',) if not any(b.get('uplink') == n for b in bridges)]
    addresses, routes = [], []
    for number, link in enumerate(carriers, start=1):
        if draw(st.booleans()):
            for host in draw(st.lists(st.sampled_from([2, 3, 9]), unique=True, min_size=1, max_size=2)):
                addresses.append({'interface': link, 'address': '10.%d.0.%d/24' % (number, host)})
            if draw(st.booleans()):
                routes.append({'dst': draw(st.sampled_from(['0.0.0.0/0', '172.16.%d.0/24' % number])),
                               'gateway': '10.%d.0.254' % number, 'interface': link,
                               'metric': draw(st.sampled_from([None, 0, 100]))})
    if addresses or draw(st.booleans()):
        params['addresses'] = addresses
    if routes or draw(st.booleans()):
        params['routes'] = routes
    return params
