"""Pure logic that follows Harvester's own rules (issue 11): network types, hardwareAddr, webhook refusals."""

import json

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster import builders
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ApiError, webhook_refusal
from ansible_collections.harvester.network.plugins.module_utils.cluster.service import conflicting_managers


def nad(config, labels=None):
    return {'metadata': {'name': 'n', 'namespace': 'ns', 'labels': labels or {}},
            'spec': {'config': json.dumps(config)}}


# configs as harvester/network-controller-harvester writes them (pkg/utils/nad.go @2e5cbea3: NetConf, VlanTrunk)
@pytest.mark.parametrize('config,labels,network_type,vlan_id,trunk,cn', [
    ({'type': 'bridge', 'bridge': 'data-br', 'vlan': 100}, {}, 'vlan', 100, None, 'data'),
    ({'type': 'bridge', 'bridge': 'data-br'}, {'network.harvesterhci.io/type': 'UntaggedNetwork'}, 'untagged', None,
     None, 'data'),
    ({'type': 'bridge', 'bridge': 'data-br', 'vlan': 0, 'vlanTrunk': [{'minID': 100, 'maxID': 110}, {'id': 200}]},
     {'network.harvesterhci.io/type': 'L2VlanTrunkNetwork'}, 'trunk', None,
     [{'min_id': 100, 'max_id': 110}, {'min_id': 200, 'max_id': 200}], 'data'),
    # a trunk NAD read without its labels is still a trunk (the config decides, as Harvester's GetNetworkType)
    ({'type': 'bridge', 'bridge': 'data-br', 'vlan': 0, 'vlanTrunk': [{'id': 5}]}, {}, 'trunk', None,
     [{'min_id': 5, 'max_id': 5}], 'data'),
    ({'type': 'kube-ovn', 'provider': 'n.ns.ovn'}, {'network.harvesterhci.io/type': 'OverlayNetwork'}, 'overlay', None,
     None, 'mgmt'),
])
def test_every_harvester_network_type_is_read(config, labels, network_type, vlan_id, trunk, cn):
    facts = builders.parse_vlan_network(nad(config, labels))
    assert (facts['network_type'], facts['vlan_id'], facts['vlan_trunk'], facts['cluster_network']) == \
        (network_type, vlan_id, trunk, cn)


def test_hardware_addr_is_base64_of_the_bytes_and_reads_back():
    encoded = builders.hardware_addr_to_api('52:54:00:AB:cd:0e')
    assert encoded == 'UlQAq80O'  # base64 of 52 54 00 ab cd 0e, what Go's json.Marshal(net.HardwareAddr) writes
    assert builders.hardware_addr_from_api(encoded) == '52:54:00:ab:cd:0e'
    vc = builders.vlan_config('u', 'data', ['eth1'], hardware_addr='52-54-00-ab-cd-0e')
    assert vc['spec']['uplink']['linkAttributes']['hardwareAddr'] == encoded


def test_untagged_networks_never_carry_a_route():
    obj = builders.vlan_network('current', {'name': 'u', 'namespace': 'ns', 'cluster_network': 'data',
                                            'network_type': 'untagged', 'vlan_id': None,
                                            'route': {'mode': 'manual', 'cidr': '10.0.0.0/24', 'gateway': '10.0.0.1'}})
    assert builders.ROUTE_ANNOTATION not in (obj['metadata'].get('annotations') or {})


def test_webhook_refusal_names_object_option_and_fix():
    body = {'message': 'admission webhook "validator.harvester-network-webhook" denied the request: Internal error '
                       'occurred: can\'t update nad ns/n because nad MTU 9000 does not match cluster network MTU 1500'}
    error = webhook_refusal('NetworkAttachmentDefinition ns/n', ApiError('x', status=500, body=body))
    text = str(error)
    assert error.field == 'mtu' and text.startswith('mtu: NetworkAttachmentDefinition ns/n was refused')
    assert 'nad MTU 9000 does not match cluster network MTU 1500' in text and 'Internal error' not in text
    assert 'leave it out' in text
    assert webhook_refusal('X', ApiError('plain failure', status=500, body={'message': 'etcd timeout'})) is None


def test_conflicting_managers_are_read_from_the_409():
    class Exc(Exception):
        body = {'details': {'causes': [{'reason': 'FieldManagerConflict', 'message': 'conflict with "network-controller" '
                                        'using k8s.cni.cncf.io/v1', 'field': '.metadata.annotations'}]}}
    assert conflicting_managers(Exc('Apply failed with 1 conflict: conflict with "network-controller"')) == \
        {'network-controller'}
