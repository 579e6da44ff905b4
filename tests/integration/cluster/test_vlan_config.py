"""vlan_config against a real kube-apiserver (Harvester v1.1+ only)."""

import secrets

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ValidationError
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import (
    cluster_network_handler, vlan_config_handler)

from testbeds.cluster.handlers import call, read, run_playbook


CN = dict(name=None, description=None, enable=None, default_physical_nic=None, node_nics=None, state='present')
VC = dict(name=None, cluster_network=None, description=None, nics=None, bond_mode='active-backup', miimon=None, mtu=None,
          tx_queue_len=None, hardware_addr=None, node_selector=None, state='present')
VC_PATH = '/apis/network.harvesterhci.io/v1beta1/vlanconfigs/'


def new_cn(server):
    name = 'cn' + secrets.token_hex(4)
    call(server, cluster_network_handler, CN, name=name)
    return name


def add_node(server, name, labels):
    status, body = server.request('POST', '/api/v1/nodes', {'apiVersion': 'v1', 'kind': 'Node',
                                                            'metadata': {'name': name, 'labels': labels}})
    assert status in (201, 409), body


def test_lifecycle(cluster, harvester, api_rvs):
    cn = new_cn(cluster)
    name = cn + '-up'
    params = dict(name=name, cluster_network=cn, nics=['eth1', 'eth2'], bond_mode='802.3ad', miimon=100, mtu=9000,
                  node_selector={'rack': 'r1'})
    result, _unused = call(cluster, vlan_config_handler, VC, check=True, **params)
    assert result['changed'] and read(cluster, VC_PATH + name) is None
    result, _unused = call(cluster, vlan_config_handler, VC, **params)
    assert result['changed']
    spec = read(cluster, VC_PATH + name)['spec']
    assert spec['uplink']['linkAttributes'].pop('txQLen', -1) == -1  # a CRD default: not ours, not a difference
    assert spec == {'clusterNetwork': cn, 'nodeSelector': {'rack': 'r1'}, 'uplink': {
        'nics': ['eth1', 'eth2'], 'linkAttributes': {'mtu': 9000}, 'bondOptions': {'mode': '802.3ad', 'miimon': 100}}}
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_config_handler, VC, **params)
    assert not result['changed'] and api_rvs(cluster) == rvs
    smaller = dict(params)
    smaller.update(nics=['eth1'], miimon=None)
    result, _unused = call(cluster, vlan_config_handler, VC, **smaller)
    assert result['changed']
    # our miimon is gone; what is left is the CRD's default, which is no difference on the next run
    assert read(cluster, VC_PATH + name)['spec']['uplink']['bondOptions'] == {'mode': '802.3ad', 'miimon': -1}
    assert result['changes'][0]['fields'] == ['spec.uplink.bondOptions.miimon', 'spec.uplink.nics']
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_config_handler, VC, **smaller)
    assert not result['changed'] and api_rvs(cluster) == rvs
    result, _unused = call(cluster, vlan_config_handler, VC, name=name, cluster_network=cn, state='absent')
    harvester.settle()  # Harvester's controller removes its finalizer, then the object is gone
    assert result['changed'] and read(cluster, VC_PATH + name) is None


def test_overlap_and_mtu_refused_before_any_write(cluster):
    cn = new_cn(cluster)
    add_node(cluster, 'vc-node-a', {'rack': 'a', 'gpu': 'yes'})
    add_node(cluster, 'vc-node-b', {'rack': 'b'})
    call(cluster, vlan_config_handler, VC, name=cn + '-a', cluster_network=cn, nics=['eth1'], node_selector={'rack': 'a'})
    # same MTU, disjoint racks: fine
    result, _unused = call(cluster, vlan_config_handler, VC, name=cn + '-b', cluster_network=cn, nics=['eth2'],
                           node_selector={'rack': 'b'})
    assert result['changed']
    with pytest.raises(ValidationError, match='MTU 9000 differs from VlanConfig %s-a' % cn) as info:
        call(cluster, vlan_config_handler, VC, name=cn + '-c', cluster_network=cn, nics=['eth1'], mtu=9000,
             node_selector={'rack': 'c'})
    assert info.value.field == 'mtu'
    with pytest.raises(ValidationError, match='selects nodes that VlanConfig %s-a' % cn) as info:
        call(cluster, vlan_config_handler, VC, name=cn + '-c', cluster_network=cn, nics=['eth1'],
             node_selector={'gpu': 'yes'})
    assert info.value.field == 'node_selector'
    with pytest.raises(ValidationError, match='selects nodes'):
        call(cluster, vlan_config_handler, VC, name=cn + '-c', cluster_network=cn, nics=['eth1'])
    assert read(cluster, VC_PATH + cn + '-c') is None


@pytest.mark.parametrize('params, field, words', [
    (dict(cluster_network='mgmt', nics=['eth1']), 'cluster_network', 'cannot target mgmt'),
    (dict(cluster_network='nosuchcn', nics=['eth1']), 'cluster_network', 'does not exist'),
    (dict(cluster_network='cn', nics=[]), 'nics', 'at least one'),
    (dict(cluster_network='cn', nics=['eth1', 'eth1']), 'nics', 'listed twice'),
    (dict(cluster_network='cn', nics=['eth1'], mtu=20000), 'mtu', '576-9000'),
    (dict(cluster_network='cn', nics=['eth1'], miimon=-5), 'miimon', 'positive'),
    (dict(cluster_network='cn', nics=['eth1'], hardware_addr='zz'), 'hardware_addr', 'MAC'),
])
def test_refusals(cluster, params, field, words):
    name = 'bad-' + secrets.token_hex(3)
    with pytest.raises(ValidationError, match=words) as info:
        call(cluster, vlan_config_handler, VC, name=name, **params)
    assert info.value.field == field
    assert read(cluster, VC_PATH + name) is None


def test_legacy_cluster_has_no_vlan_config(legacy_cluster):
    with pytest.raises(Exception, match='VlanConfig needs Harvester v1.1|serves no VlanConfig'):
        call(legacy_cluster, vlan_config_handler, VC, name='x', cluster_network='data', nics=['eth1'])


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - harvester.network.vlan_config: {name: CN-up, cluster_network: CN, nics: [eth1], mtu: 1500}
      register: create
    - harvester.network.vlan_config: {name: CN-up, cluster_network: CN, nics: [eth1], mtu: 1500}
      register: rerun
    - harvester.network.vlan_config: {name: CN-up, cluster_network: CN, nics: [eth1, eth2], mtu: 1500}
      check_mode: true
      diff: true
      register: check
    - harvester.network.vlan_config: {name: CN-up, cluster_network: CN, nics: [eth1, eth2], mtu: 1500}
      check_mode: true
      register: check_again
    - harvester.network.vlan_config: {name: CN-up, cluster_network: CN, nics: [eth1, eth2], mtu: 1500, bond_mode: balance-alb}
      diff: true
      register: update
    - harvester.network.vlan_config: {name: CN-up, cluster_network: CN, state: absent}
      register: delete
    - ansible.builtin.assert:
        that:
          - create is changed
          - rerun is not changed
          - check is changed and check.diff.after.spec.uplink.nics == ['eth1', 'eth2']
          - check.diff.before.spec.uplink.nics == ['eth1']
          - check_again is changed
          - update is changed and update.vlan_config.spec.uplink.bondOptions.mode == 'balance-alb'
          - delete is changed
"""


def test_playbook(cluster, tmp_path):
    cn = new_cn(cluster)
    proc = run_playbook(cluster, tmp_path, PLAYBOOK.replace('CN', cn))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert read(cluster, VC_PATH + cn + '-up') is None
