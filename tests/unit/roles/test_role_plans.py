"""The roles' logic (plugins/filter/role_plans.py): the trunk of a cluster network's networks, Harvester's device
names, the checks of the roles' inputs, and the default_vlan plan of a node, read in the real shape of
host_network_info (built by the host engine's own fact functions from fabricated node states)."""

import os
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.harvester.network.plugins.filter import role_plans
from ansible_collections.harvester.network.plugins.module_utils.host import facts

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'host'))
from host_nodes import Node  # noqa: E402  pylint: disable=wrong-import-position


def net(kind, vlan_id=None, trunk=None, name='n'):
    return {'name': name, 'network_type': kind, 'vlan_id': vlan_id, 'vlan_trunk': trunk}


# --- trunk_vids: the vlan_network_info contract (network_type, vlan_id, vlan_trunk) -----------------------------

def test_trunk_vids_vlan_networks():
    assert role_plans.trunk_vids([net('vlan', 200), net('vlan', 100), net('vlan', 100), net('vlan', 1)]) == [100, 200]


def test_trunk_vids_counts_trunk_ranges_never_vid_0_or_1():
    networks = [net('trunk', trunk=[{'min_id': 0, 'max_id': 3}, {'min_id': 10, 'max_id': 12}, {'min_id': 50}]),
                net('vlan', 11)]
    assert role_plans.trunk_vids(networks) == [2, 3, 10, 11, 12, 50]


def test_trunk_vids_ignores_untagged_overlay_and_bad_ids():
    networks = [net('untagged'), net('overlay'), net('vlan', 0), net('vlan', 4095), net('vlan', None),
                net('vlan', True), net('vlan', '100'), net('trunk', trunk=None),
                net('trunk', trunk=[{'min_id': None, 'max_id': 5}])]
    assert role_plans.trunk_vids(networks) == []


def test_trunk_vids_on_output_without_trunk_keys():
    """main's vlan_network_info before trunk support: no vlan_trunk key, a trunk NAD misread as vlan 0."""
    networks = [{'name': 'a', 'network_type': 'vlan', 'vlan_id': 100},
                {'name': 't', 'network_type': 'vlan', 'vlan_id': 0}]
    assert role_plans.trunk_vids(networks) == [100]


def test_trunk_vids_whole_range():
    assert role_plans.trunk_vids([net('trunk', trunk=[{'min_id': 1, 'max_id': 4094}])]) == list(range(2, 4095))


# --- names -------------------------------------------------------------------------------------------------------

def test_harvester_devices():
    assert role_plans.harvester_devices('data', 'current', ['eth1']) == {
        'cluster_network': 'data', 'bridge': 'data-br', 'uplink': 'data-bo'}
    assert role_plans.harvester_devices('data', 'legacy', ['bond0']) == {
        'cluster_network': 'vlan', 'bridge': 'harvester-br0', 'uplink': 'bond0'}
    with pytest.raises(AnsibleFilterError, match='generation'):
        role_plans.harvester_devices('data', 'auto', ['eth1'])


def test_pxe_bonds_and_their_nics():
    bonds = [{'name': 'bond0', 'interfaces': [{'name': 'eth1', 'hwAddr': '52:54:00:00:00:01'}, 'eth2'],
              'bond_options': {'mode': '802.3ad', 'miimon': 100}, 'mtu': 9000},
             {'name': 'bond1', 'interfaces': ['eth3'], 'bond_options': None}]
    assert role_plans.pxe_bonds(bonds) == [
        {'mode': '802.3ad', 'miimon': 100, 'name': 'bond0', 'slaves': ['eth1', 'eth2'], 'mtu': 9000},
        {'name': 'bond1', 'slaves': ['eth3']}]
    assert role_plans.bond_nics(bonds + [{'name': 'b', 'interfaces': ['eth3']}]) == ['eth1', 'eth2', 'eth3']


# --- default_vlan ------------------------------------------------------------------------------------------------

def inputs(**overrides):
    value = {'nics': ['eth1', 'eth2'], 'host_nics': [], 'cluster_network': 'data',
             'play_nics': {'node1': ['eth1', 'eth2'], 'node2': ['eth1', 'eth2']}}
    value.update(overrides)
    return value


def test_default_vlan_inputs_fine():
    assert role_plans.default_vlan_input_errors(inputs()) == []
    assert role_plans.default_vlan_input_errors(inputs(host_nics=['eth2'])) == []


@pytest.mark.parametrize('overrides, expected', [
    ({'nics': []}, ['default_vlan_nics = []: give the uplink NIC names']),
    ({'host_nics': ['eth1', 'eth1']}, ["default_vlan_host_nics = ['eth1', 'eth1']"]),
    ({'nics': ['a-very-long-nic-name']}, ["default_vlan_nics = ['a-very-long-nic-name']"]),
    ({'nics': ['eth1', 5]}, ["default_vlan_nics = ['eth1', 5]"]),
    ({'cluster_network': 'mgmt'}, ['default_vlan_cluster_network = mgmt: give a DNS label']),
    ({'cluster_network': 'much-too-long'}, ['default_vlan_cluster_network = much-too-long']),
    ({'cluster_network': 'Data'}, ['default_vlan_cluster_network = Data']),
    ({'play_nics': {'node1': ['eth1'], 'node2': ['eth2']}},
     ["default_vlan_nics differs between the hosts of this play (node1: ['eth1']; node2: ['eth2'])"]),
])
def test_default_vlan_input_errors_name_the_variable(overrides, expected):
    errors = role_plans.default_vlan_input_errors(inputs(**overrides))
    assert len(errors) == len(expected)
    for error, start in zip(errors, expected):
        assert error.startswith(start)


def node_info(node):
    """What harvester.network.host_network_info returns for a fabricated node (the engine's own fact functions)."""
    return {'gathered': facts.to_config(node.state), 'status': facts.status(node.state)}


def plan_inputs(generation='current', **overrides):
    value = inputs(generation=generation, hostname='node1', bonds=[], bond_mode='active-backup', bond_miimon=100,
                   mtu=None, allow_management_migration=False, vids=[100, 200])
    value.update(overrides)
    return value


def test_node_plan_current_first_run():
    node = Node().nic('eth0').nic('eth1').nic('eth2').address('eth0', '10.10.0.11/24')
    plan = role_plans.default_vlan_node_plan(node_info(node), plan_inputs(mtu=9000))
    assert plan['errors'] == []
    assert plan['bonds'] == [{'name': 'data-bo', 'slaves': ['eth1', 'eth2'], 'mode': 'active-backup', 'miimon': 100,
                              'mtu': 9000}]
    assert plan['bridge_spec'] == {'name': 'data-br', 'uplink': 'data-bo', 'mtu': 9000}
    assert (plan['bridge'], plan['uplink'], plan['vids']) == ('data-br', 'data-bo', [100, 200])
    assert plan['addresses'] is None and plan['routes'] is None and plan['stale_vids'] == []


def test_node_plan_stale_vids_from_the_uplink_ranges():
    node = (Node().bond('data-bo', slaves=['eth1', 'eth2']).bridge('data-br', ports=['data-bo'])
            .vlans('data-bo', {1: 6, 100: 0, 300: 0, 301: 0, 302: 0}))
    plan = role_plans.default_vlan_node_plan(node_info(node), plan_inputs())
    assert plan['errors'] == []
    assert plan['stale_vids'] == [300, 301, 302]


def test_node_plan_errors_name_the_variable():
    node = Node().nic('eth0').nic('eth1').address('eth1', '10.10.0.11/24').route('0.0.0.0/0', '10.10.0.1', 'eth1')
    plan = role_plans.default_vlan_node_plan(node_info(node), plan_inputs(nics=['eth1', 'eth9']))
    assert len(plan['errors']) == 2
    assert plan['errors'][0] == ('default_vlan_nics: eth9 does not exist on node1 (its interfaces: eth0, eth1); '
                                 'check the NIC names')
    assert plan['errors'][1].startswith("default_vlan_nics: eth1 carries 10.10.0.11/24 on node1, the node's "
                                        'management address.')
    assert 'default_vlan_allow_management_migration' in plan['errors'][1]
    legacy = role_plans.default_vlan_node_plan(node_info(Node().nic('eth0').nic('eth1')),
                                               plan_inputs('legacy', host_nics=['eth0', 'eth1']))
    assert legacy['errors'] == ["default_vlan_host_nics = ['eth0', 'eth1']: Harvester v0.3/v1.0 bridges one NIC (or "
                                'one bond, made with node_prep_bonds); give one name']


def test_node_plan_migration_current_moves_addresses_and_routes_and_keeps_them():
    node = Node().nic('eth1').nic('eth2').address('eth1', '10.10.0.11/24').route('0.0.0.0/0', '10.10.0.1', 'eth1')
    plan = role_plans.default_vlan_node_plan(node_info(node), plan_inputs(allow_management_migration=True))
    assert plan['errors'] == []
    assert plan['addresses'] == [{'interface': 'data-br', 'address': '10.10.0.11/24'}]
    assert [route['interface'] for route in plan['routes']] == ['data-br']
    assert plan['routes'][0]['gateway'] == '10.10.0.1'
    assert 'migrate' not in plan['bridge_spec']
    # the second run: the address is on the bridge now and stays in the desired state
    after = (Node().bond('data-bo', slaves=['eth1', 'eth2']).bridge('data-br', ports=['data-bo'])
             .address('data-br', '10.10.0.11/24').route('0.0.0.0/0', '10.10.0.1', 'data-br'))
    again = role_plans.default_vlan_node_plan(node_info(after), plan_inputs(allow_management_migration=True))
    assert again['addresses'] == plan['addresses'] and again['routes'] == plan['routes']


def test_node_plan_migration_legacy_uses_the_bridge_option():
    node = Node().nic('bond0', kind='bond').address('bond0', '10.10.0.11/24')
    plan = role_plans.default_vlan_node_plan(
        node_info(node), plan_inputs('legacy', nics=['bond0'], allow_management_migration=True,
                                     bonds=[{'name': 'bond0', 'interfaces': ['eth1']}]))
    assert plan['errors'] == []
    assert plan['bridge_spec'] == {'name': 'harvester-br0', 'uplink': 'bond0', 'migrate': True}
    assert plan['bonds'] == [{'name': 'bond0', 'slaves': ['eth1']}]
    assert plan['addresses'] is None


def test_node_plan_a_pxe_bond_not_made_yet_is_known():
    node = Node().nic('eth1')
    plan = role_plans.default_vlan_node_plan(
        node_info(node), plan_inputs('legacy', nics=['bond0'], bonds=[{'name': 'bond0', 'interfaces': ['eth1']}]))
    assert plan['errors'] == []


# --- node_prep ---------------------------------------------------------------------------------------------------

def test_node_prep_inputs():
    good = {'bonds': [{'name': 'bond0', 'interfaces': [{'name': 'eth1'}, 'eth2']}], 'kernel_modules': ['8021q'],
            'sysctls': {'net.bridge.bridge-nf-call-iptables': 0}}
    assert role_plans.node_prep_input_errors(good) == []
    bad = {'bonds': [{'name': 'bond-with-a-long-name', 'interfaces': []},
                     {'name': 'b1', 'interfaces': [{'hwAddr': 'x'}, 'eth1']},
                     {'name': 'b2', 'interfaces': ['eth1']}],
           'kernel_modules': ['8021q', 'no/slash'], 'sysctls': {'kernel': 1}}
    assert role_plans.node_prep_input_errors(bad) == [
        'node_prep_bonds[0].name: bond-with-a-long-name is longer than 15 characters',
        'node_prep_bonds[0].interfaces: give at least one NIC',
        "node_prep_bonds[1].interfaces: {'hwAddr': 'x'} is not a NIC name or an item like {name: eth1}",
        'node_prep_bonds: eth1 is in more than one bond; a NIC has one',
        'node_prep_kernel_modules: no/slash is not a kernel module name',
        'node_prep_sysctls: kernel is not a sysctl key like net.ipv4.ip_forward']


# --- dhcp_server -------------------------------------------------------------------------------------------------

NETWORKS = [
    {'namespace': 'default', 'name': 'vlan100', 'vlan_id': 100, 'cluster_network': 'data', 'bridge': 'data-br',
     'route': {'cidr': '192.168.100.0/24', 'gateway': '192.168.100.1', 'dhcp_server': '192.168.100.2'}},
    {'namespace': 'default', 'name': 'vlan200', 'vlan_id': 200, 'cluster_network': 'data', 'bridge': 'data-br',
     'route': None},
    {'namespace': 'other', 'name': 'vlan200b', 'vlan_id': 200, 'cluster_network': 'data', 'bridge': 'data-br',
     'route': None},
]
SETTINGS = {'mode': 'node', 'namespace': 'default', 'cluster_network': 'data', 'hosts': ['node1', 'node2']}


def test_dhcp_server_items_resolve_the_network_and_default_from_its_route():
    (item,) = role_plans.dhcp_server_items([{'network': 'vlan100', 'node': 'node2', 'pool_start': '192.168.100.100'}],
                                           NETWORKS, SETTINGS)
    assert item['error'] == ''
    assert (item['name'], item['network'], item['vlan_id'], item['bridge'], item['interface'], item['port']) == (
        'vlan100-dhcp', 'default/vlan100', 100, 'data-br', 'dhcp100', 'dhcp100p')
    assert (item['cidr'], item['gateway'], item['server_address'], item['node'], item['lease_time']) == (
        '192.168.100.0/24', '192.168.100.1', '192.168.100.2', 'node2', '12h')
    (by_vid,) = role_plans.dhcp_server_items([{'vlan_id': 100, 'gateway': None}], NETWORKS, SETTINGS)
    assert by_vid['network'] == 'default/vlan100' and by_vid['node'] == 'node1' and by_vid['gateway'] is None


def test_dhcp_server_items_errors_name_the_item_and_option():
    items = role_plans.dhcp_server_items(
        [{}, {'network': 'nothere'}, {'vlan_id': 200}, {'network': 'vlan100', 'vlan_id': 200},
         {'vlan_id': 300, 'mode': 'pod', 'node': 'node9', 'interface': 'averylonginterface'},
         {'network': 'nothere', 'state': 'absent', 'vlan_id': 100}],
        NETWORKS, SETTINGS)
    errors = [item['error'] for item in items]
    assert errors[0].startswith('dhcp_server_networks[0].network: name the VLAN network')
    assert errors[1].startswith('dhcp_server_networks[1].network: there is no VLAN network default/nothere')
    assert errors[2] == ('dhcp_server_networks[2].vlan_id: VLAN 200 is used by several networks (vlan200, vlan200b); '
                         'name one with network')
    assert errors[3] == 'dhcp_server_networks[3].vlan_id: network default/vlan100 carries VLAN 100, not 200'
    assert errors[4] == ('dhcp_server_networks[4].vlan_id: VLAN 300 is used by no VLAN network on cluster network '
                         'data; create the network first or fix the VLAN ID; dhcp_server_networks[4].mode: pod is not '
                         'a mode; use node or container')
    assert errors[5] == ''  # removing a server of a network that is gone is fine


def test_dhcp_server_items_in_a_slice_and_on_the_cluster_host():
    # an AWX slice holds node2 only: node1's server is another slice's, a node that is in the inventory but not in the
    # play (a --limit) is still an error, and an item without a node is refused (the default would differ per slice)
    sliced = dict(SETTINGS, hosts=['node2'], inventory=['harvester-cluster', 'node2', 'node3'], partial_inventory=True)
    items = role_plans.dhcp_server_items([{'network': 'vlan100', 'node': 'node1'},
                                          {'network': 'vlan100', 'node': 'node3'}, {'network': 'vlan100'}],
                                         NETWORKS, sliced)
    assert [item['node'] for item in items] == ['node1', 'node3', 'node2']
    assert items[0]['error'] == ''
    assert items[1]['error'].startswith('dhcp_server_networks[1].node: node3 is not a host of this play (node2)')
    assert items[2]['error'].startswith('dhcp_server_networks[2].node: name the node that runs the server')
    # unsliced, a node the inventory does not have is an error as before
    (typo,) = role_plans.dhcp_server_items([{'network': 'vlan100', 'node': 'node9'}], NETWORKS,
                                           dict(SETTINGS, inventory=['node1', 'node2']))
    assert typo['error'].startswith('dhcp_server_networks[0].node: node9 is not a host of this play')
    # the cluster host's play serves no node: node items are not checked there and get no default node
    cluster = dict(SETTINGS, hosts=['harvester-cluster'], manage_nodes=False)
    items = role_plans.dhcp_server_items([{'network': 'vlan100', 'node': 'node1'}, {'network': 'vlan100'}],
                                         NETWORKS, cluster)
    assert [(item['node'], item['error']) for item in items] == [('node1', ''), (None, '')]


def test_dhcp_server_renders_and_node_servers():
    items = role_plans.dhcp_server_items([{'network': 'vlan100'}, {'network': 'vlan200', 'state': 'absent'}],
                                         NETWORKS, SETTINGS)
    results = [{'item': items[0], 'config': 'interface=dhcp100\n', 'address_plan': {'server': '192.168.100.2/24'}},
               {'item': items[1], 'field': 'pool_start', 'msg': 'pool_start: 10.0.0.1 is outside the CIDR'},
               {'item': items[1], 'msg': 'the cluster could not be read'}, {'item': items[1], 'skipped': True}]
    render = role_plans.dhcp_server_renders(results)
    assert render['errors'] == ['dhcp_server_networks[1].pool_start: 10.0.0.1 is outside the CIDR',
                                'dhcp_server_networks[1]: the cluster could not be read']
    assert render['renders'] == {'vlan100-dhcp': {'config': 'interface=dhcp100\n',
                                                  'plan': {'server': '192.168.100.2/24'}}}
    settings = {'config_dir': '/etc/d', 'lease_dir': '/var/d', 'run_dir': '/run/d', 'service_manager': 'none',
                'renders': render['renders'], 'config_changed': ['vlan100-dhcp']}
    assert role_plans.dhcp_server_node_servers(items[:1], 'prepared', settings) == [
        {'name': 'vlan100-dhcp', 'field': 'dhcp_server_networks[0]', 'network': 'default/vlan100',
         'bridge': 'data-br', 'interface': 'dhcp100', 'port': 'dhcp100p', 'config_path': '/etc/d/vlan100-dhcp.conf',
         'config': 'interface=dhcp100\n'}]
    assert role_plans.dhcp_server_node_servers(items[:1], 'running', settings) == [
        {'name': 'vlan100-dhcp', 'restart': True, 'config_path': '/etc/d/vlan100-dhcp.conf',
         'pidfile': '/run/d/dhcp-vlan100-dhcp.pid'}]
    absent = role_plans.dhcp_server_node_servers(items[1:], 'absent', dict(settings, service_manager='systemd'))
    assert absent == [{'name': 'vlan200-dhcp', 'interface': 'dhcp200', 'pidfile': None, 'files': [
        '/etc/systemd/system/harvester-dhcp-vlan200-dhcp.service', '/etc/d/vlan200-dhcp.conf',
        '/var/d/vlan200-dhcp.leases', '/run/d/dhcp-vlan200-dhcp.pid']}]
    with pytest.raises(AnsibleFilterError, match='state'):
        role_plans.dhcp_server_node_servers(items, 'started', settings)


def test_every_filter_is_documented():
    folder = os.path.dirname(role_plans.__file__)
    documented = set(name[:-4] for name in os.listdir(folder) if name.endswith('.yml'))
    assert set(role_plans.FilterModule().filters()) == documented
