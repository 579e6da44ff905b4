"""cluster_network against a real kube-apiserver: Harvester v1.1+ ClusterNetwork and the v0.3/v1.0 "vlan" network
with NodeNetwork overrides."""

import secrets

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import InUseError, ValidationError
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import (
    cluster_network_handler, vlan_config_handler, vlan_network_handler)

from testbeds.cluster.handlers import call, read, run_playbook


CN = dict(name=None, description=None, enable=None, default_physical_nic=None, node_nics=None, state='present')
VC = dict(name=None, cluster_network=None, description=None, nics=None, bond_mode='active-backup', miimon=None, mtu=None,
          tx_queue_len=None, hardware_addr=None, node_selector=None, state='present')
NET = dict(name=None, namespace='default', cluster_network=None, network_type='vlan', vlan_id=None, mtu=None, route=None,
           description=None, networks=None, prune=False, allow_duplicate_vids=False, state='present')
CN_PATH = '/apis/network.harvesterhci.io/v1beta1/clusternetworks/'
NN_PATH = '/apis/network.harvesterhci.io/v1beta1/nodenetworks/'


def test_current_lifecycle(cluster, harvester, api_rvs):
    name = 'cn' + secrets.token_hex(4)
    result, _unused = call(cluster, cluster_network_handler, CN, check=True, name=name, description='data')
    assert result['changed'] and read(cluster, CN_PATH + name) is None
    result, _unused = call(cluster, cluster_network_handler, CN, name=name, description='data')
    assert result['changed'] and result['generation'] == 'current'
    assert read(cluster, CN_PATH + name)['metadata']['annotations'] == {'field.cattle.io/description': 'data'}
    before = api_rvs(cluster)
    result, _unused = call(cluster, cluster_network_handler, CN, name=name, description='data')
    assert not result['changed'] and api_rvs(cluster) == before
    result, _unused = call(cluster, cluster_network_handler, CN, name=name, description='storage')
    assert result['changed'] and result['diff']['after']['metadata']['annotations'] == {
        'field.cattle.io/description': 'storage'}
    result, _unused = call(cluster, cluster_network_handler, CN, name=name, state='absent')
    harvester.settle()  # Harvester's controller removes its finalizer, then the object is gone
    assert result['changed'] and read(cluster, CN_PATH + name) is None


def test_current_mgmt_is_built_in(cluster, api_rvs):
    before = api_rvs(cluster)
    result, _unused = call(cluster, cluster_network_handler, CN, name='mgmt')
    assert not result['changed'] and api_rvs(cluster) == before
    with pytest.raises(ValidationError, match='built-in management'):
        call(cluster, cluster_network_handler, CN, name='mgmt', state='absent')
    assert api_rvs(cluster) == before


def test_current_delete_refused_while_used(cluster, namespace, api_rvs):
    name = 'cn' + secrets.token_hex(4)
    call(cluster, cluster_network_handler, CN, name=name)
    call(cluster, vlan_config_handler, VC, name=name + '-up', cluster_network=name, nics=['eth1'])
    call(cluster, vlan_network_handler, NET, name='v5', namespace=namespace, cluster_network=name, vlan_id=5)
    before = api_rvs(cluster)
    with pytest.raises(InUseError, match='still used by VlanConfig %s-up, NetworkAttachmentDefinition %s/v5'
                       % (name, namespace)):
        call(cluster, cluster_network_handler, CN, name=name, state='absent')
    assert read(cluster, CN_PATH + name) is not None and api_rvs(cluster) == before


@pytest.mark.parametrize('params, field, words', [
    (dict(name='name-too-long'), 'name', 'limit is 12'),
    (dict(name='Data'), 'name', 'DNS-1123'),
    (dict(name='data', enable=True), 'enable', 'v0.3/v1.0 only'),
    (dict(name='data', node_nics=[{'node': 'n1', 'nic': 'eth1', 'description': None}]), 'node_nics', 'v0.3/v1.0 only'),
])
def test_current_refusals(cluster, api_rvs, params, field, words):
    before = api_rvs(cluster)
    with pytest.raises(ValidationError, match=words) as info:
        call(cluster, cluster_network_handler, CN, **params)
    assert info.value.field == field
    assert api_rvs(cluster) == before


def test_legacy_vlan_network_and_node_overrides(legacy_cluster, api_rvs):
    nodes = [{'node': 'node1', 'nic': 'eth2', 'description': None}, {'node': 'node2', 'nic': 'eth3', 'description': 'x'}]
    result, _unused = call(legacy_cluster, cluster_network_handler, CN, check=True, name='vlan', enable=True,
                           default_physical_nic='eth1', node_nics=nodes)
    assert result['changed'] and read(legacy_cluster, CN_PATH + 'vlan') is None
    assert read(legacy_cluster, NN_PATH + 'node1-vlan') is None
    result, _unused = call(legacy_cluster, cluster_network_handler, CN, name='vlan', enable=True, default_physical_nic='eth1',
                           node_nics=nodes)
    assert result['changed'] and result['generation'] == 'legacy'
    stored = read(legacy_cluster, CN_PATH + 'vlan')
    assert stored['enable'] is True and stored['config'] == {'defaultPhysicalNIC': 'eth1'}
    assert read(legacy_cluster, NN_PATH + 'node1-vlan')['spec'] == {'nodeName': 'node1', 'type': 'vlan', 'nic': 'eth2'}
    before = api_rvs(legacy_cluster)
    result, _unused = call(legacy_cluster, cluster_network_handler, CN, name='vlan', enable=True,
                           default_physical_nic='eth1', node_nics=nodes)
    assert not result['changed'] and api_rvs(legacy_cluster) == before
    # leaving enable and the NIC out keeps them; changing one node's NIC writes only that node
    result, _unused = call(legacy_cluster, cluster_network_handler, CN, name='vlan',
                           node_nics=[dict(nodes[0], nic='eth4'), nodes[1]])
    assert [c['name'] for c in result['changes']] == ['node1-vlan']
    assert api_rvs.changed(before, api_rvs(legacy_cluster)) == [('NodeNetwork', '', 'node1-vlan', 'updated')]
    assert read(legacy_cluster, CN_PATH + 'vlan')['enable'] is True
    assert read(legacy_cluster, NN_PATH + 'node1-vlan')['spec']['nic'] == 'eth4'
    result, _unused = call(legacy_cluster, cluster_network_handler, CN, name='vlan', enable=False)
    assert result['changed'] and read(legacy_cluster, CN_PATH + 'vlan')['enable'] is False
    assert read(legacy_cluster, CN_PATH + 'vlan')['config'] == {'defaultPhysicalNIC': 'eth1'}


@pytest.mark.parametrize('params, field, words', [
    (dict(name='data'), 'name', 'exactly one cluster network, "vlan"'),
    (dict(name='vlan', state='absent'), 'state', 'set enable=false'),
    (dict(name='vlan', default_physical_nic='eth 1'), 'default_physical_nic', 'interface name'),
    (dict(name='vlan', node_nics=[{'node': 'Node_1', 'nic': 'eth1', 'description': None}]), 'node_nics[0].node',
     'DNS-1123'),
    (dict(name='vlan', node_nics=[{'node': 'n1', 'nic': 'eth1', 'description': None},
                                  {'node': 'n1', 'nic': 'eth2', 'description': None}]), 'node_nics', 'more than once'),
])
def test_legacy_refusals(legacy_cluster, api_rvs, params, field, words):
    before = api_rvs(legacy_cluster)
    with pytest.raises(ValidationError, match=words) as info:
        call(legacy_cluster, cluster_network_handler, CN, **params)
    assert info.value.field == field
    assert api_rvs(legacy_cluster) == before


PLAYBOOK_CURRENT = """
- hosts: localhost
  gather_facts: false
  tasks:
    - harvester.network.cluster_network: {name: CN, description: one}
      register: create
    - harvester.network.cluster_network: {name: CN, description: one}
      register: rerun
    - harvester.network.cluster_network: {name: CN, description: two}
      check_mode: true
      diff: true
      register: check
    - harvester.network.cluster_network: {name: CN, description: two}
      check_mode: true
      register: check_again
    - harvester.network.cluster_network: {name: CN, description: two}
      diff: true
      register: update
    - harvester.network.cluster_network: {name: CN, state: absent}
      register: delete
    - harvester.network.cluster_network: {name: CN, state: absent}
      register: delete_again
    - ansible.builtin.assert:
        that:
          - create is changed and create.generation == 'current'
          - rerun is not changed
          - check is changed
          - check.diff.before.metadata.annotations['field.cattle.io/description'] == 'one'
          - check.diff.after.metadata.annotations['field.cattle.io/description'] == 'two'
          - check_again is changed
          - update is changed
          - delete is changed and delete_again is not changed
"""

PLAYBOOK_LEGACY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - harvester.network.cluster_network:
        name: vlan
        enable: true
        default_physical_nic: eth5
        node_nics: [{node: pb-node, nic: eth6}]
      register: create
    - harvester.network.cluster_network:
        name: vlan
        enable: true
        default_physical_nic: eth5
        node_nics: [{node: pb-node, nic: eth6}]
      register: rerun
    - harvester.network.cluster_network: {name: vlan, default_physical_nic: eth7}
      check_mode: true
      diff: true
      register: check
    - harvester.network.cluster_network: {name: vlan, default_physical_nic: eth7}
      diff: true
      register: update
    - harvester.network.cluster_network: {name: vlan, default_physical_nic: eth7}
      register: rerun2
    - ansible.builtin.assert:
        that:
          - create is changed and create.generation == 'legacy'
          - rerun is not changed
          - check is changed and check.diff.after.config.defaultPhysicalNIC == 'eth7'
          - update is changed and update.cluster_network.default_physical_nic == 'eth7'
          - update.cluster_network.enable
          - rerun2 is not changed
"""


def test_playbook_current(cluster, tmp_path):
    name = 'cn' + secrets.token_hex(4)
    proc = run_playbook(cluster, tmp_path, PLAYBOOK_CURRENT.replace('CN', name))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert read(cluster, CN_PATH + name) is None


def test_playbook_legacy(legacy_cluster, tmp_path):
    proc = run_playbook(legacy_cluster, tmp_path, PLAYBOOK_LEGACY)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert read(legacy_cluster, CN_PATH + 'vlan')['config'] == {'defaultPhysicalNIC': 'eth7'}
    assert read(legacy_cluster, NN_PATH + 'pb-node-vlan')['spec']['nic'] == 'eth6'
