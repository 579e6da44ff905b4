"""network_setting (storage-network, vm-migration-network) against a real kube-apiserver with the Harvester stand-in.

The settings are cluster-wide singletons, so the tests of this file share them and each leaves them empty (its
fixture resets them). The proofs read the setting back with separate GETs (value, resourceVersion, annotations,
the ``configured`` condition Harvester's controller writes) and the NAD the controller made.
"""

import hashlib
import json
import re
import secrets

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import (
    InUseError, ValidationError, WaitTimeout)
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import (
    cluster_network_handler, vlan_config_handler, vlan_network_handler)
from ansible_collections.harvester.network.plugins.module_utils.cluster.settings import network_setting_handler

from testbeds.cluster.handlers import call, read, run_playbook, writes

SETTINGS = '/apis/harvesterhci.io/v1beta1/settings/'
MERGE = {'Content-Type': 'application/merge-patch+json'}
NADS = '/apis/k8s.cni.cncf.io/v1/namespaces/%s/network-attachment-definitions/%s'
NS = dict(name='storage-network', cluster_network=None, vlan_id=None, range=None, exclude=[], force=False, wait=False,
          wait_timeout=60, state='present')
CN = dict(name=None, description=None, enable=None, default_physical_nic=None, node_nics=None, state='present')
VC = dict(name=None, cluster_network=None, description=None, nics=['eth1'], bond_mode='active-backup', miimon=None,
          mtu=None, tx_queue_len=None, hardware_addr=None, node_selector=None, state='present')
NET = dict(name=None, namespace='default', cluster_network=None, network_type='vlan', vlan_id=None, mtu=None,
           preserve_default_vlan=None, route=None, description=None, networks=None, prune=False,
           allow_duplicate_vids=False, state='present')


def setting(server, name='storage-network'):
    return read(server, SETTINGS + name)


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


def condition(obj):
    return next((c for c in (obj.get('status') or {}).get('conditions') or [] if c['type'] == 'configured'), {})


def ready_cn(server, harvester):
    """A cluster network with an uplink on every node (a VlanConfig without node selector), ready."""
    cn = 'sn' + secrets.token_hex(3)
    call(server, cluster_network_handler, CN, name=cn)
    call(server, vlan_config_handler, VC, name=cn + '-up', cluster_network=cn)
    harvester.settle()
    return cn


@pytest.fixture
def nodes(cluster):
    """Two nodes and a witness node (which runs no Longhorn or VM pods, so the rules leave it out)."""
    names = {'sn-node-a': {}, 'sn-node-b': {}, 'sn-witness': {'node-role.harvesterhci.io/witness': 'true'}}
    for name, labels in names.items():
        status, body = cluster.request('POST', '/api/v1/nodes', {'apiVersion': 'v1', 'kind': 'Node',
                                                                 'metadata': {'name': name, 'labels': labels}})
        assert status in (201, 409), body
    yield [name for name, labels in names.items() if not labels]
    for name in names:
        cluster.request('DELETE', '/api/v1/nodes/' + name)


@pytest.fixture
def reset(cluster, harvester):
    """Leave both settings empty and configured (and the controller's knobs as found) after the test."""
    yield
    harvester.controller.settings.attached_volumes = []
    for name in ('storage-network', 'vm-migration-network'):
        obj = setting(cluster, name)
        if obj.get('value'):
            harvester.controller.requeue_setting(name)
            harvester.settle()
            call(cluster, network_setting_handler, NS, name=name, state='absent', force=True, wait=True)


def test_storage_network_lifecycle(cluster, harvester, namespace, reset):  # pylint: disable=unused-argument
    cn = ready_cn(cluster, harvester)
    params = dict(cluster_network=cn, vlan_id=50, range='192.168.50.0/24', exclude=['192.168.50.1/32'], force=True)
    before = setting(cluster)
    seen = len(harvester.calls)
    # check mode: a server-side dry run (Harvester's webhook judged it), nothing stored
    result, log = call(cluster, network_setting_handler, NS, check=True, **params)
    assert result['changed'] and result['changes'] == [
        {'kind': 'Setting', 'name': 'storage-network', 'action': 'update', 'fields': ['value']}]
    assert [entry[0] for entry in writes(log)] == ['PATCH']
    assert [c[2:] for c in harvester.calls[seen:] if c[1] == 'Setting'] == [('UPDATE', True, None)]
    assert result['diff']['after']['value'].startswith('{"clusterNetwork":"%s"' % cn)
    assert setting(cluster)['metadata']['resourceVersion'] == before['metadata']['resourceVersion']
    # the real run, waiting for Harvester's controller
    result, _unused = call(cluster, network_setting_handler, NS, wait=True, **params)
    value = '{"clusterNetwork":"%s","vlan":50,"range":"192.168.50.0/24","exclude":["192.168.50.1/32"]}' % cn
    stored = setting(cluster)
    assert stored['value'] == value
    assert condition(stored)['status'] == 'True' and condition(stored)['reason'] == 'Completed'
    annotations = stored['metadata']['annotations']
    assert annotations['storage-network.settings.harvesterhci.io/hash'] == sha1(value)
    nad_ns, nad_name = annotations['storage-network.settings.harvesterhci.io/net-attach-def'].split('/')
    config = json.loads(read(cluster, NADS % (nad_ns, nad_name))['spec']['config'])
    assert (nad_ns, config['bridge'], config['vlan'], config['ipam']) == (
        'harvester-system', cn + '-br', 50,
        {'type': 'whereabouts', 'range': '192.168.50.0/24', 'exclude': ['192.168.50.1/32']})
    assert result['changed'] and result['setting']['configured'] and result['setting']['nad'] == nad_ns + '/' + nad_name
    assert result['diff']['before'].get('value') == before.get('value') and result['diff']['after']['value'] == value
    # idempotent, also with the excludes in another order and without force (nothing to change, nothing to confirm)
    again = dict(params)
    again.update(exclude=['192.168.50.1/32'], force=False)
    result, log = call(cluster, network_setting_handler, NS, **again)
    assert not result['changed'] and writes(log) == []
    # a new range: the old NAD goes, a new one comes
    moved = dict(params)
    moved.update(range='192.168.60.0/24', exclude=[])
    result, _unused = call(cluster, network_setting_handler, NS, wait=True, **moved)
    assert result['changed'] and result['setting']['range'] == '192.168.60.0/24'
    harvester.settle()  # the old NAD carries the network manager's finalizer until its controller removes it
    assert read(cluster, NADS % (nad_ns, nad_name)) is None
    assert result['setting']['nad'] != nad_ns + '/' + nad_name
    # absent empties the value (Harvester does not let the setting be deleted) and the controller completes it
    result, _unused = call(cluster, network_setting_handler, NS, state='absent', force=True, wait=True)
    stored = setting(cluster)
    assert result['changed'] and not stored.get('value') and condition(stored)['status'] == 'True'
    assert stored['metadata']['annotations']['storage-network.settings.harvesterhci.io/net-attach-def'] == ''
    result, log = call(cluster, network_setting_handler, NS, state='absent')
    assert not result['changed'] and writes(log) == []


def test_storage_network_refusals_change_nothing(cluster, harvester, namespace, nodes, reset):  # pylint: disable=unused-argument
    cn = ready_cn(cluster, harvester)
    call(cluster, vlan_network_handler, NET, name='routed', namespace=namespace, cluster_network=cn, vlan_id=70,
         route={'mode': 'manual', 'cidr': '192.168.70.0/24', 'gateway': '192.168.70.1', 'dhcp_server': None})
    call(cluster, cluster_network_handler, CN, name=cn + 'x')  # exists, no uplink: never ready
    count = len([n for n in read(cluster, '/api/v1/nodes')['items']
                 if 'node-role.harvesterhci.io/witness' not in (n['metadata'].get('labels') or {})])
    assert count >= len(nodes)
    good = dict(cluster_network=cn, vlan_id=50, range='192.168.50.0/24', force=True)
    version = setting(cluster)['metadata']['resourceVersion']
    cases = [
        (dict(good, force=False), ValidationError, 'force', 'without force=true'),
        (dict(good, range='192.168.50.1/24'), ValidationError, 'range', 'give 192.168.50.0/24'),
        (dict(good, range='10.0.0.0/8'), ValidationError, 'range', '/16 or longer'),
        (dict(good, range='fd00::/64'), ValidationError, 'range', 'IPv6'),
        (dict(good, exclude=['192.168.99.0/28']), ValidationError, 'exclude[0]', 'outside range'),
        (dict(good, exclude=['192.168.50.0/24']), ValidationError, 'exclude[0]', 'whole range'),
        (dict(good, exclude=['192.168.50.0/28', '192.168.50.8/29']), ValidationError, 'exclude[1]', 'overlaps'),
        (dict(good, vlan_id=4095), ValidationError, 'vlan_id', 'out of range'),
        (dict(good, cluster_network='mgmt', vlan_id=None), ValidationError, 'vlan_id', 'untagged'),
        (dict(good, cluster_network='nosuch'), ValidationError, 'cluster_network', 'does not exist'),
        (dict(good, cluster_network=cn + 'x'), ValidationError, 'cluster_network', 'no VlanConfig'),
        (dict(good, range='192.168.70.128/25'), ValidationError, 'range', 'routed'),
        (dict(good, range='192.168.50.0/29'), ValidationError, 'range', 'leaves 6 .* at least %d' % (4 * count)),
        (dict(good, range='192.168.50.0/28', exclude=['192.168.50.0/29']), ValidationError, 'range',
         'leaves 7 .* at least %d' % (4 * count)),
    ]
    for params, error, field, words in cases:
        for check in (True, False):
            try:
                call(cluster, network_setting_handler, NS, check=check, **params)
            except error as exc:
                assert re.search(words, str(exc)) and exc.field == field, (params, exc)
            else:
                pytest.fail('not refused: %s' % params)
    assert setting(cluster)['metadata']['resourceVersion'] == version


def test_running_vm_and_in_progress_refused(cluster, harvester, namespace, reset):  # pylint: disable=unused-argument
    cn = ready_cn(cluster, harvester)
    vmi = {'apiVersion': 'kubevirt.io/v1', 'kind': 'VirtualMachineInstance',
           'metadata': {'name': 'busy', 'namespace': namespace}, 'spec': {'domain': {'devices': {}}}}
    status, body = cluster.request('POST', '/apis/kubevirt.io/v1/namespaces/%s/virtualmachineinstances' % namespace,
                                   vmi)
    assert status == 201, body
    params = dict(cluster_network=cn, vlan_id=50, range='192.168.50.0/24', force=True)
    version = setting(cluster)['metadata']['resourceVersion']
    for check in (True, False):
        with pytest.raises(InUseError, match='running: %s/busy' % namespace) as info:
            call(cluster, network_setting_handler, NS, check=check, **params)
        assert info.value.field == 'force'
    # Harvester's webhook refuses it on its own (the module's check is not the only guard)
    status, body = cluster.request('PATCH', SETTINGS + 'storage-network?fieldManager=probe',
                                   {'value': '{"clusterNetwork":"%s","vlan":50,"range":"192.168.50.0/24"}' % cn},
                                   headers=MERGE)
    assert status == 422 and 'Please stop all VMs' in body['message']
    assert setting(cluster)['metadata']['resourceVersion'] == version
    cluster.request('DELETE', '/apis/kubevirt.io/v1/namespaces/%s/virtualmachineinstances/busy' % namespace)
    # Longhorn volumes still attached: the controller stays In Progress, wait times out naming it
    harvester.controller.settings.attached_volumes = ['pvc-1']
    with pytest.raises(WaitTimeout, match='waiting for all volumes detached: pvc-1'):
        call(cluster, network_setting_handler, NS, wait=True, wait_timeout=3, **params)
    # a new value while in progress: refused by the module, and by Harvester's webhook (409)
    with pytest.raises(InUseError, match='still applying') as info:
        moved = dict(params)
        moved['range'] = '192.168.60.0/24'
        call(cluster, network_setting_handler, NS, **moved)
    status, body = cluster.request('PATCH', SETTINGS + 'storage-network?fieldManager=probe',
                                   {'value': '{"clusterNetwork":"%s","range":"192.168.60.0/24"}' % cn},
                                   headers=MERGE)
    assert status == 409 and 'still being configured' in body['message']
    # the volumes detach: the controller finishes, wait returns
    harvester.controller.settings.attached_volumes = []
    harvester.controller.requeue_setting('storage-network')
    result, log = call(cluster, network_setting_handler, NS, wait=True, **params)
    assert not result['changed'] and writes(log) == [] and result['setting']['reason'] == 'Completed'


def test_migration_network_and_overlap(cluster, harvester, reset):  # pylint: disable=unused-argument
    cn = ready_cn(cluster, harvester)
    mig = dict(NS, name='vm-migration-network')
    result, _unused = call(cluster, network_setting_handler, mig, cluster_network='mgmt', vlan_id=60,
                           range='10.60.0.0/24', wait=True)
    stored = setting(cluster, 'vm-migration-network')
    assert result['changed'] and stored['value'] == '{"clusterNetwork":"mgmt","vlan":60,"range":"10.60.0.0/24"}'
    assert condition(stored)['status'] == 'True' and result['setting']['configured']
    assert harvester.controller.settings.kubevirt_migration_network == result['setting']['nad'].split('/')[1]
    # the storage network may not share an address with it (Harvester's rule), in check mode too
    for check in (True, False):
        with pytest.raises(ValidationError, match='shares addresses with the vm-migration-network') as info:
            call(cluster, network_setting_handler, NS, check=check, cluster_network=cn, vlan_id=50,
                 range='10.60.0.0/23', force=True)
        assert info.value.field == 'range'
    # Harvester's webhook also refuses deleting the setting
    status, body = cluster.request('DELETE', SETTINGS + 'vm-migration-network')
    assert status == 405 and 'Disallow delete' in body['message']


def test_node_the_uplinks_miss_refused(cluster, harvester, reset):  # pylint: disable=unused-argument
    """A node that joined after the VlanConfig: its matched nodes miss it, so the network would not reach it;
    refused by the module and by Harvester's webhook."""
    cn = ready_cn(cluster, harvester)
    node = 'sn-late-' + secrets.token_hex(3)
    status, body = cluster.request('POST', '/api/v1/nodes', {'apiVersion': 'v1', 'kind': 'Node',
                                                             'metadata': {'name': node}})
    assert status == 201, body
    try:
        with pytest.raises(ValidationError, match='do not reach node.*%s' % node) as info:
            call(cluster, network_setting_handler, NS, cluster_network=cn, range='192.168.50.0/24', force=True)
        assert info.value.field == 'cluster_network'
        status, body = cluster.request('PATCH', SETTINGS + 'storage-network?fieldManager=probe',
                                       {'value': '{"clusterNetwork":"%s","range":"192.168.50.0/24"}' % cn},
                                       headers=MERGE)
        assert status == 422 and 'vlanconfig does not span %s' % node in body['message']
    finally:
        cluster.request('DELETE', '/api/v1/nodes/' + node)


def test_legacy_cluster_has_no_network_settings(legacy_cluster):
    with pytest.raises(ValidationError, match='needs Harvester v1.1.0 or later') as info:
        call(legacy_cluster, network_setting_handler, NS, cluster_network='vlan', range='192.168.50.0/24', force=True)
    assert info.value.field == 'api_generation'


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - harvester.network.network_setting: {name: vm-migration-network, cluster_network: mgmt, vlan_id: 61,
                                          range: 10.61.0.0/24}
      check_mode: true
      diff: true
      register: check
    - harvester.network.network_setting: {name: vm-migration-network, cluster_network: mgmt, vlan_id: 61,
                                          range: 10.61.0.0/24, wait: true}
      register: create
    - harvester.network.network_setting: {name: vm-migration-network, cluster_network: mgmt, vlan_id: 61,
                                          range: 10.61.0.0/24}
      register: rerun
    - harvester.network.network_setting: {name: storage-network, cluster_network: mgmt, vlan_id: 62,
                                          range: 10.62.0.0/24}
      register: unforced
      ignore_errors: true
    - harvester.network.network_setting: {name: vm-migration-network, state: absent, wait: true}
      register: delete
    - ansible.builtin.assert:
        that:
          - check is changed and check.diff.after.value is search('10.61.0.0/24')
          - create is changed and create.setting.configured and create.setting.vlan_id == 61
          - rerun is not changed
          - unforced is failed and unforced.field == 'force' and unforced.msg is search('without force=true')
          - delete is changed and not delete.setting.enabled
"""


def test_playbook(cluster, harvester, tmp_path, reset):  # pylint: disable=unused-argument
    proc = run_playbook(cluster, tmp_path, PLAYBOOK)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert not setting(cluster, 'vm-migration-network').get('value')
