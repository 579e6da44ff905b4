"""Pure logic of flavor plain (KubeVirt + Multus without Harvester): the NAD and VM builders, the Service selector,
the inventory's Service match, and the flavor detection on a discovery answer (no cluster)."""

import json

import pytest

from ansible_collections.harvester.network.plugins.inventory import vms as inventory
from ansible_collections.harvester.network.plugins.module_utils.cluster import builders, vm_builder, vms
from ansible_collections.harvester.network.plugins.module_utils.cluster.discovery import Discovery
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import (
    MissingApiError, NotFoundError, ValidationError)

from tests.unit.cluster.test_vm_builder import vm_params


@pytest.mark.parametrize('network, config', [
    (dict(vlan_id=100), {'vlan': 100}),
    (dict(vlan_id=100, preserve_default_vlan=False, mtu=9000), {'mtu': 9000, 'vlan': 100, 'preserveDefaultVlan': False}),
    (dict(network_type='untagged'), {}),
    (dict(network_type='trunk', vlan_trunk=[{'min_id': 10, 'max_id': 20}, {'min_id': 30}]),
     {'vlan': 0, 'vlanTrunk': [{'minID': 10, 'maxID': 20}, {'id': 30}]}),
], ids=['vlan', 'vlan-preserve-mtu', 'untagged', 'trunk'])
def test_plain_nad(network, config):
    item = dict(name='net', namespace='lab', bridge='br-vlan', network_type='vlan')
    item.update(network)
    obj = builders.plain_vlan_network(item)
    expected = dict(cniVersion='0.3.1', name='net', type='bridge', bridge='br-vlan', ipam={})
    expected.update(config)
    assert json.loads(obj['spec']['config']) == expected
    assert obj['metadata'] == {'name': 'net', 'namespace': 'lab'}
    facts = builders.parse_vlan_network(obj)
    assert (facts['network_type'], facts['bridge']) == (item['network_type'], 'br-vlan')
    assert facts['vlan_id'] == network.get('vlan_id')


def test_harvester_nad_unchanged_by_the_shared_config_builder():
    """cni_config goes through bridge_cni_config: Harvester's key order and keys stay (the fidelity tests pin the
    values; this pins the order, which the stored JSON string shows)."""
    assert builders.cni_config_json('current', 'v', 'data', 100, 1500, False) == (
        '{"cniVersion":"0.3.1","name":"v","mtu":1500,"type":"bridge","bridge":"data-br","promiscMode":true,'
        '"vlan":100,"preserveDefaultVlan":false,"ipam":{}}')


def test_plain_vm_has_no_harvester_keys():
    interfaces = vm_params()['interfaces']
    interfaces[1]['wait_for_lease'] = True
    harvester, _nics = vms.build_vm_spec(vm_params(interfaces=interfaces, description='d'))
    plain, _nics = vms.build_vm_spec(vm_params(interfaces=interfaces, description='d', flavor='plain'))
    assert 'harvesterhci.io' in json.dumps(harvester)
    assert 'harvesterhci.io' not in json.dumps(plain)
    # apart from those keys, the same VM
    template = harvester['spec']['template']['metadata']
    assert template.pop('labels') == {vm_builder.VM_NAME_LABEL: 'web1'}
    assert template.pop('annotations') == {vm_builder.WAIT_FOR_LEASE_ANNOTATION: '["nic-1"]'}
    assert plain == harvester


def test_plain_refuses_images_and_key_pairs():
    disks = [dict(vm_params()['disks'][0], image=None), dict(name='data', image='default/ubuntu')]
    with pytest.raises(ValidationError) as caught:
        vms.refuse_harvester_only(vm_params(disks=disks, ssh_keys=['admin']))
    assert caught.value.fields == ['disks[1].image', 'ssh_keys']
    vms.refuse_harvester_only(vm_params())  # container disks, no keys: fine


@pytest.mark.parametrize('plain, label', [(False, 'harvesterhci.io/vmName'), (True, 'vm.kubevirt.io/name')])
def test_service_selector_and_inventory_match(plain, label):
    svc = vm_builder.service(dict(name='web1-ssh', namespace='lab', vm='web1', ports=[{'port': 22}], plain=plain))
    assert svc['spec']['selector'] == {label: 'web1'}
    assert inventory._selects(svc, 'lab', 'web1')  # pylint: disable=protected-access
    assert not inventory._selects(svc, 'lab', 'web2')  # pylint: disable=protected-access


class Answers(object):
    """A transport answering discovery GETs from a dict (path -> resources); others are 404."""

    def __init__(self, served):
        self.served = served
        self.log = []

    def request(self, method, path):
        self.log.append((method, path))
        if path not in self.served:
            raise NotFoundError('404', status=404)
        return {'resources': [{'name': name} for name in self.served[path]]}


HARVESTER = {'/apis/network.harvesterhci.io/v1beta1': ['clusternetworks', 'vlanconfigs']}


@pytest.mark.parametrize('served, requested, flavor', [
    (HARVESTER, 'auto', 'harvester'),
    ({}, 'auto', 'plain'),
    (HARVESTER, 'plain', 'plain'),
    (HARVESTER, 'harvester', 'harvester'),
])
def test_flavor(served, requested, flavor):
    transport = Answers(served)
    discovery = Discovery(transport)
    assert discovery.flavor(requested) == flavor
    discovery.flavor(requested)
    if requested != 'plain':
        assert transport.log == [('GET', '/apis/network.harvesterhci.io/v1beta1')]  # one GET, cached
    if served:
        assert discovery.generation() == 'current'  # the same answer serves the generation: no second GET
        assert len(transport.log) == 1


def test_flavor_harvester_needs_harvester():
    with pytest.raises(MissingApiError):
        Discovery(Answers({})).flavor('harvester')
