"""Invalid inputs on the real kernel: each fails with a message naming the field, before anything is written."""

import pytest

import witness
from conftest import make_veth
from host_support import make_node

# (module, params, field the message must start with or contain, words it must contain)
CASES = [
    ('host_vlan_trunk', {'config': [{'port': 'eth1', 'vids': [0]}]}, 'config[0].vids[0]', ['VLAN ID 0']),
    ('host_vlan_trunk', {'config': [{'port': 'eth1', 'vids': [4095]}]}, 'config[0].vids[0]', ['4095']),
    ('host_vlan_trunk', {'config': [{'port': 'eth1', 'vids': ['abc']}]}, 'config[0].vids[0]', ['abc']),
    ('host_vlan_trunk', {'config': [{'port': 'eth1', 'vids': ['100-200', 150]}]}, 'config[0].vids[1]', ['once']),
    ('host_vlan_trunk', {'config': [{'port': 'eth1', 'vids': ['200-100']}]}, 'config[0].vids[0]', ['reversed']),
    ('host_vlan_trunk', {'config': [{'port': 'vm1', 'pvid': 4095}]}, 'config[0].pvid', ['4095']),
    ('host_vlan_trunk', {'config': [{'port': 'vm1', 'untagged': ['5000']}]}, 'config[0].untagged[0]', ['5000']),
    ('host_vlan_trunk', {'config': [{'port': 'eth3', 'vids': [10]}]}, 'config[0].port', ['not a bridge port']),
    ('host_vlan_trunk', {'config': [{'port': 'nic9', 'vids': [10]}]}, 'config[0].port', ['does not exist']),
    ('host_vlan_trunk', {'config': [{'port': 'vm3', 'vids': [10]}]}, 'config[0].port', ['vlan_filtering off']),
    ('host_vlan_trunk', {'config': [{'port': 'eth1', 'bridge': 'nf-br', 'vids': [10]}]}, 'config[0].bridge',
     ['port of vlan-br']),
    ('host_vlan_trunk', {'config': [{'port': 'vm1', 'pvid': 5}, {'port': 'vm1', 'pvid': 6}]}, 'config[1].port',
     ['twice']),
    ('host_vlan_trunk', {'state': 'replaced'}, 'config', ['state is replaced']),
    ('host_bond', {'name': 'a-very-long-bond-name', 'slaves': ['eth3']}, 'bond.name', ['at most 15']),
    ('host_bond', {'name': 'bo1', 'mode': 'fast-rr', 'slaves': ['eth3']}, 'mode', ['must be one of']),
    ('host_bond', {'name': 'bo1', 'mode': 'active-backup', 'lacp_rate': 'fast'}, 'bond.lacp_rate',
     ['ignores lacp_rate']),
    ('host_bond', {'name': 'bo1', 'mode': '802.3ad', 'slaves': ['eth3'], 'primary': 'eth3'}, 'bond.primary',
     ['ignores primary']),
    ('host_bond', {'name': 'bo1', 'mode': '802.3ad', 'arp_interval': 100}, 'bond.arp_interval', ['ignores']),
    ('host_bond', {'name': 'bo1', 'miimon': 100, 'arp_interval': 100}, 'bond.miimon', ['mutually exclusive']),
    ('host_bond', {'name': 'bo1', 'miimon': 100, 'updelay': 150}, 'bond.updelay', ['multiple of miimon']),
    ('host_bond', {'name': 'bo1', 'miimon': 0, 'downdelay': 200}, 'bond.downdelay', ['needs MII monitoring']),
    ('host_bond', {'name': 'bo1', 'slaves': ['eth3', 'eth9']}, 'bond.slaves', ['eth9 does not exist']),
    ('host_bond', {'name': 'bo1', 'slaves': ['eth2']}, 'bond.slaves', ['already in bond bo-old']),
    ('host_bond', {'name': 'bo1', 'slaves': ['vlan-br']}, 'bond.slaves', ['is a bridge']),
    ('host_bond', {'name': 'bo1', 'slaves': ['eth3'], 'mtu': 70000}, 'bond.mtu', ['out of range']),
    ('host_bond', {'name': 'bo1', 'slaves': ['eth3'], 'mtu': 20}, 'bond.mtu', ['out of range']),
    ('host_bond', {'name': 'bo1', 'mac': 'zz:00:00:00:00:01'}, 'bond.mac', ['not a MAC']),
    ('host_bond', {'name': 'bo1', 'mac': '01:00:5e:00:00:01'}, 'bond.mac', ['multicast']),
    ('host_bond', {'name': 'bo1', 'mode': 'active-backup', 'slaves': ['eth3'], 'primary': 'eth4'}, 'bond.primary',
     ['not one of the slaves']),
    ('host_bond', {'name': 'bo1', 'arp_ip_target': ['gateway']}, 'bond.arp_ip_target[0]', ['not an IPv4']),
    ('host_bond', {'name': 'eth4', 'slaves': ['eth3']}, 'bond.name', ['is a veth, not a bond']),
    ('host_bond', {'name': 'bo1', 'slaves': ['eth3', 'eth3']}, 'bond.slaves', ['more than once']),
    ('host_bridge', {'name': 'br2', 'ports': ['vlan-br']}, 'bridge.ports', ['a bridge cannot be a port']),
    ('host_bridge', {'name': 'br2', 'default_pvid': 5000}, 'bridge.default_pvid', ['5000']),
    ('host_bridge', {'name': 'br2', 'migrate': True}, 'uplink', ['migrate is True']),
    ('host_bridge', {'name': 'br2', 'uplink': 'eth9'}, 'bridge.uplink', ['does not exist']),
    ('host_bridge', {'name': 'br2', 'uplink': 'eth2'}, 'bridge.ports', ['already in bond bo-old']),
    ('host_bridge', {'name': 'br2', 'uplink': 'eth/3'}, 'bridge.uplink', ['not a usable interface name']),
    ('host_bridge', {'name': 'br2', 'uplink': 'eth1'}, 'bridge.ports', ['already in bridge vlan-br']),
    ('host_network', {'routes': [{'dst': '10.9.0.0/16', 'gateway': '10.8.0.1', 'interface': 'eth3'}]},
     'routes[0].gateway', ['not in the subnet']),
    ('host_network', {'routes': [{'dst': '10.9.0.1/16', 'gateway': '10.8.0.1'}]}, 'routes[0].dst', ['host bits']),
    ('host_network', {'routes': [{'dst': '10.9.0.0/16', 'gateway': 'fd00::1'}]}, 'routes[0].gateway',
     ['different IP versions']),
    ('host_network', {'routes': [{'dst': 'default', 'interface': 'eth3'}]}, 'routes[0].dst', ['needs a gateway']),
    ('host_network', {'addresses': [{'interface': 'eth3', 'address': '10.0.0.1'}]}, 'addresses[0].address',
     ['no prefix length']),
    ('host_network', {'addresses': [{'interface': 'eth2', 'address': '10.0.0.1/24'}]}, 'addresses[0].interface',
     ['bond slave']),
    ('host_network', {'bonds': [{'name': 'bo1', 'slaves': ['eth3']}, {'name': 'bo2', 'slaves': ['eth3']}]},
     'bonds[1].slaves', ['also listed in bonds[0].slaves']),
    ('host_network', {'bonds': [{'name': 'bo1', 'slaves': ['eth3'], 'mtu': 1500}],
                      'bridges': [{'name': 'br2', 'uplink': 'bo1', 'mtu': 9000}]}, 'bridges[0].mtu',
     ['differs from its uplink']),
    ('host_network', {'bonds': [{'name': 'twin'}], 'bridges': [{'name': 'twin'}]}, 'bridges', ['both a bond and']),
    ('host_network', {'state': 'deleted', 'bonds': [{'name': 'bo-old', 'mode': '802.3ad'}]}, 'bonds[0]',
     ['would be ignored']),
    ('host_network', {'probes': {'ping': [{'interface': 'eth3'}]}}, 'target', ['missing']),
]


@pytest.fixture(scope='module')
def bad_node(module_netns, tmp_path_factory):
    """One node for all cases (each leaves it as it was): a bond, a VLAN bridge, a bridge without filtering."""
    node = make_node(module_netns, make_veth, tmp_path_factory.mktemp('bad-input'))
    node.converge('host_network', {
        'bonds': [{'name': 'bo-old', 'slaves': ['eth2']}],
        'bridges': [{'name': 'vlan-br', 'uplink': 'eth1', 'ports': ['vm1', 'vm2']},
                    {'name': 'nf-br', 'vlan_filtering': False, 'ports': ['vm3']}],
        'probes': {'enabled': False}})
    return node, node.snapshot(), node.state()


@pytest.mark.parametrize('module, params, field, words', CASES,
                         ids=['%02d-%s-%s' % (number, case[0][5:], case[2]) for number, case in enumerate(CASES)])
def test_bad_input_names_the_field_and_changes_nothing(bad_node, module, params, field, words):
    """The real run refuses, naming the field; check mode refuses with the same message; the node (as iproute2
    and sysfs show it, and as the engine reads it) is exactly as before; nothing was written."""
    node, before, before_state = bad_node
    error = node.fail(module, params)
    message = str(error)
    assert field in message and all(word in message for word in words), message
    assert 'journal' not in error.result, error.result['journal']
    predicted = node.fail(module, params, check=True)
    assert str(predicted) == message, 'check mode refused differently'
    assert witness.differences(before, node.snapshot()) == []
    assert node.state() == before_state
