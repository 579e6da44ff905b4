"""A bridge left without ports has the MAC address 00:00:00:00:00:00, and the kernel refuses VLANs of its own
then (kernel.ZERO_MAC).  The planner sets such a bridge's own VLAN table before its last port leaves; a bridge that
has no port before the run and gets none in it is refused, naming the field, by check mode and the real run alike
(the real kernel: tests/integration/host/test_host_check_mode.py, PORTLESS_BRIDGE_TABLE)."""

import pytest

from host_nodes import Node, bridge_spec, vlan_spec, want

from ansible_collections.harvester.network.plugins.module_utils.host import engine, kernel, validate
from ansible_collections.harvester.network.plugins.module_utils.host.plan import make_plan

OWN_TABLE = {'br1': dict(vlan_spec(vids=[398, 4093], pvid=200, untagged=[]), bridge='br1')}


def commands(plan):
    return [op.command() for op in plan.ops]


def bridge_node(*ports):
    """A bridge with ``ports`` whose MAC address is derived, as the kernel derives it: its lowest port's."""
    node = Node().bridge('br1', ports=ports).state
    node['links']['br1']['mac'] = min(node['links'][port]['mac'] for port in ports)
    return node


def test_the_bridge_table_is_set_before_the_last_port_leaves():
    node = bridge_node('vm3')
    desired = want(state='replaced', bridges={'br1': bridge_spec(default_pvid=10, ports=[])}, vlans=OWN_TABLE)
    plan = make_plan(node, desired)
    assert commands(plan) == [
        'ip link set br1 type bridge vlan_default_pvid 10',
        'bridge vlan add dev br1 vid 398 self; bridge vlan add dev br1 vid 4093 self;'
        ' bridge vlan add dev br1 vid 200 pvid self; bridge vlan del dev br1 vid 10 self',
        'ip link set vm3 nomaster',
    ]
    assert plan.refused == []  # the table went in while vm3 still gave br1 a MAC address
    assert plan.state['links']['br1']['mac'] == kernel.ZERO_MAC
    assert plan.state['vlans']['br1'] == {398: 0, 4093: 0, 200: 2}
    assert commands(make_plan(plan.state, desired)) == []


def test_a_bridge_keeps_its_mac_while_a_port_remains_and_a_set_one_for_good():
    node = bridge_node('vm3', 'vm4')
    plan = make_plan(node, want(state='replaced', bridges={'br1': bridge_spec(ports=['vm4'])}))
    assert plan.state['links']['br1']['mac'] is None  # re-derived from the ports: unknown to the model
    # A MAC that is not the lowest port's was set (the kernel keeps it when the last port leaves): no zero MAC, and
    # the bridge's own table stays where the phases put it.
    node['links']['br1']['mac'] = '02:00:00:00:00:ee'
    plan = make_plan(node, want(state='replaced', bridges={'br1': bridge_spec(ports=[])}, vlans=OWN_TABLE))
    assert plan.state['links']['br1']['mac'] == '02:00:00:00:00:ee' and plan.refused == []
    assert commands(plan)[0] == 'ip link set vm3 nomaster'


def test_a_portless_bridge_without_a_mac_is_refused_before_anything_changes():
    node = Node().bridge('br1').state
    node['links']['br1']['mac'] = kernel.ZERO_MAC
    desired = want(state='merged', vlans=OWN_TABLE, vlan_fields={'br1': 'vlans[0]'})
    with pytest.raises(validate.ValidationError) as caught:
        validate.checked_plan(node, desired)
    assert caught.value.errors == [
        'vlans[0]: the kernel refuses VLANs on the bridge br1 itself while it has no port and no MAC address of its'
        ' own (00:00:00:00:00:00: a bridge gets it when its last port leaves); give it a port in this task, or a MAC'
        ' address (its mac option)']
    # a port joining in the same task gives it a MAC address: accepted
    node['links']['vm3'] = dict(node['links']['br1'], kind='veth', mac='02:00:00:00:00:33', master=None)
    plan = validate.checked_plan(node, dict(desired, bridges={'br1': bridge_spec(ports=['vm3'])}))
    assert plan.refused == []


def test_the_engine_names_the_field():
    """Through the engine's Python API: the message carries the field of the VLAN entry."""
    params = {'state': 'merged', 'vlans': [{'port': 'br1', 'bridge': 'br1', 'vids': ['398']}]}
    want_ = engine.build_want('host_network', engine.check_params('host_network', params))
    node = Node().bridge('br1').state
    node['links']['br1']['mac'] = kernel.ZERO_MAC
    with pytest.raises(validate.ValidationError) as caught:
        validate.checked_plan(node, want_)
    assert caught.value.errors[0].startswith('vlans[0]: the kernel refuses VLANs on the bridge br1 itself')


def test_a_new_default_pvid_waits_for_the_new_ports_when_the_old_uplink_is_deleted():
    """Found by the check-mode property test (session 7): br0's only port, the bond bo0, is deleted in this run and
    br0 becomes VLAN-filtering with default PVID 1 and new ports.  Set right after the deletion, the default PVID
    went to a bridge with the zero MAC (the kernel's EINVAL); it is set once eth3 and vm1 have joined."""
    node = Node().bond('bo0').nic('eth3').nic('vm1', up=False).bridge(
        'br0', ports=['bo0'], vlan_filtering=False, default_pvid=0).state
    node['links']['br0']['mac'] = node['links']['bo0']['mac']
    desired = want(state='overridden', bonds={}, bridges={'br0': bridge_spec(uplink='eth3', ports=['vm1'])})
    plan = make_plan(node, desired)
    assert plan.refused == []
    sequence = commands(plan)
    assert sequence.index('ip link del bo0') < sequence.index('ip link set eth3 master br0') \
        < sequence.index('ip link set br0 type bridge vlan_default_pvid 1 vlan_filtering 1'), sequence
    assert commands(make_plan(plan.state, desired)) == []


def test_a_new_default_pvid_on_a_bridge_left_without_ports_is_refused_naming_the_field():
    node = Node().bond('bo0').bridge('br0', ports=['bo0'], vlan_filtering=False, default_pvid=0).state
    node['links']['br0']['mac'] = node['links']['bo0']['mac']
    desired = want(state='overridden', bonds={}, bridges={'br0': bridge_spec(ports=[])}, fields={'br0': 'bridges[0]'})
    with pytest.raises(validate.ValidationError) as caught:
        validate.checked_plan(node, desired)
    assert caught.value.errors == [
        'bridges[0].default_pvid: the kernel refuses the default PVID 1 on the bridge br0 itself while it has no port'
        ' and no MAC address of its own (00:00:00:00:00:00: a bridge gets it when its last port leaves); give it a'
        ' port in this task, or a MAC address (its mac option)']
