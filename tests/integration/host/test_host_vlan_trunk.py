"""host_vlan_trunk on the real kernel: every state, re-run for idempotence; the trunk is one request; the VLANs
really isolate traffic."""

import pytest

from host_support import make_node

PVID_UNTAGGED = {'PVID', 'Egress Untagged'}


@pytest.fixture
def node(make_netns, veth, tmp_path):
    node = make_node(make_netns, veth, tmp_path)
    node.converge('host_bridge', {'name': 'vlan-br', 'uplink': 'eth1', 'ports': ['vm1', 'vm2']})
    return node


def test_states(node):
    merged = node.converge('host_vlan_trunk', {'config': [{'port': 'eth1', 'vids': [100, '200-202']},
                                                          {'port': 'vm1', 'pvid': 100}]})
    assert node.vlans('eth1') == dict([(1, PVID_UNTAGGED)] + [(v, set()) for v in (100, 200, 201, 202)])
    assert node.vlans('vm1') == {1: {'Egress Untagged'}, 100: PVID_UNTAGGED}
    assert {'port': 'eth1', 'bridge': 'vlan-br', 'vids': ['100', '200-202'], 'pvid': 1,
            'untagged': ['1']} in merged['after']

    # merged only adds.
    node.converge('host_vlan_trunk', {'config': [{'port': 'eth1', 'vids': [300]}]})
    assert 300 in node.vlans('eth1') and 100 in node.vlans('eth1')

    # replaced: exact for the listed ports; VID 1 stays the uplink's untagged PVID (Harvester never adds it).
    node.converge('host_vlan_trunk', {'state': 'replaced', 'config': [
        {'port': 'eth1', 'vids': ['1-10']}, {'port': 'vm1', 'pvid': 100}]})
    assert node.vlans('eth1') == dict([(1, PVID_UNTAGGED)] + [(v, set()) for v in range(2, 11)])
    assert node.vlans('vm1') == {100: PVID_UNTAGGED}

    # deleted with VIDs removes them; without, resets the port to the default PVID.
    node.converge('host_vlan_trunk', {'state': 'deleted', 'config': [{'port': 'eth1', 'vids': ['5-10']}]})
    assert sorted(node.vlans('eth1')) == [1, 2, 3, 4]
    node.converge('host_vlan_trunk', {'state': 'deleted', 'config': [{'port': 'vm1'}]})
    assert node.vlans('vm1') == {1: PVID_UNTAGGED}

    # gathered -> overridden is a no-op; overridden resets every port not listed.
    gathered = node.run('host_vlan_trunk', {'state': 'gathered', 'bridge': 'vlan-br'})['gathered']
    assert [item['port'] for item in gathered] == ['eth1', 'vlan-br', 'vm1', 'vm2']
    same = node.run('host_vlan_trunk', {'state': 'overridden', 'bridge': 'vlan-br', 'config': gathered})
    assert same['changed'] is False
    node.converge('host_vlan_trunk', {'state': 'overridden', 'bridge': 'vlan-br',
                                      'config': [{'port': 'vm2', 'pvid': 200}]})
    assert node.vlans('eth1') == {1: PVID_UNTAGGED} and node.vlans('vm2') == {200: PVID_UNTAGGED}

    rendered = node.run('host_vlan_trunk', {'state': 'rendered', 'bridge': 'vlan-br',
                                            'config': [{'port': 'eth1', 'vids': '2-4094'}]})
    assert rendered['rendered'] == ['bridge vlan add dev eth1 vid 2-4094'] and rendered['changed'] is False


def test_full_trunk_is_one_request(node):
    result = node.converge('host_vlan_trunk', {'state': 'replaced', 'config': [{'port': 'eth1', 'vids': '2-4094'}]})
    assert result['commands'] == ['bridge vlan add dev eth1 vid 2-4094']
    assert len(result['journal']) == 1
    table = node.vlans('eth1')
    assert len(table) == 4094 and table[1] == PVID_UNTAGGED and table[4094] == set()


def test_vlans_isolate_vms(make_netns, veth, tmp_path):
    """Two VMs on VLAN 100 talk; the one on VLAN 200 (same subnet) does not: the seed's promise."""
    node = make_node(make_netns, veth, tmp_path, vm_ports=())
    vms = []
    for index, vid in enumerate((100, 100, 200), start=1):
        vm = make_netns('vm%d' % index)
        veth(vm, 'eth0', node.ns, 'vm%d' % index)
        vm.ip('addr', 'add', '10.100.0.%d/24' % index, 'dev', 'eth0')
        vms.append(vm)
    node.converge('host_network', {
        'bridges': [{'name': 'vlan-br', 'uplink': 'eth1', 'ports': ['vm1', 'vm2', 'vm3']}],
        'vlans': [{'port': 'vm1', 'pvid': 100}, {'port': 'vm2', 'pvid': 100}, {'port': 'vm3', 'pvid': 200},
                  {'port': 'eth1', 'vids': [100, 200]}],
        'state': 'replaced', 'probes': {'enabled': False}})
    vms[0].run(['ping', '-c', '1', '-W', '5', '10.100.0.2'])
    assert vms[0].run(['ping', '-c', '1', '-W', '1', '10.100.0.3'], check_rc=False).returncode != 0
    assert vms[2].run(['ping', '-c', '1', '-W', '1', '10.100.0.2'], check_rc=False).returncode != 0
