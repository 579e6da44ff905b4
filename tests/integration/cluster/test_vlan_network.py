"""vlan_network and vlan_network_info against a real kube-apiserver, both Harvester API generations.

Most behaviour is driven through the module's handler in this pytest process (fast); one playbook per generation
runs the real module through ansible-playbook.
"""

import json
import secrets
import threading

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster import builders
from ansible_collections.harvester.network.plugins.module_utils.cluster.common import Cluster
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import (
    ConflictError, InUseError, MissingApiError, ValidationError)
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import (
    cluster_network_handler, vlan_config_handler, vlan_network_handler, vlan_network_info_handler)

from testbeds.cluster.handlers import AUTH_DEFAULTS, call, read, run_playbook


NET = dict(name=None, namespace='default', cluster_network=None, network_type='vlan', vlan_id=None, mtu=None, route=None,
           description=None, networks=None, prune=False, allow_duplicate_vids=False, state='present')
INFO = dict(name=None, namespace=None, cluster_network=None)
CN = dict(name=None, description=None, enable=None, default_physical_nic=None, node_nics=None, state='present')
VC = dict(name=None, cluster_network=None, description=None, nics=None, bond_mode='active-backup', miimon=None, mtu=None,
          tx_queue_len=None, hardware_addr=None, node_selector=None, state='present')


def nad_path(namespace, name):
    return '/apis/k8s.cni.cncf.io/v1/namespaces/%s/network-attachment-definitions/%s' % (namespace, name)


def new_cluster_network(server, mtu=None):
    name = 'cn' + secrets.token_hex(4)
    call(server, cluster_network_handler, CN, name=name)
    if mtu:
        call(server, vlan_config_handler, VC, name=name + '-vc', cluster_network=name, nics=['eth1'], mtu=mtu)
    return name


def vmi(namespace, name, networks):
    return {'apiVersion': 'kubevirt.io/v1', 'kind': 'VirtualMachineInstance',
            'metadata': {'name': name, 'namespace': namespace},
            'spec': {'domain': {'devices': {'interfaces': [{'name': 'nic-%d' % i, 'bridge': {}} for i in range(len(networks))]}},
                     'networks': [{'name': 'nic-%d' % i, 'multus': {'networkName': ref}}
                                  for i, ref in enumerate(networks)]}}


# ---- current generation (Harvester v1.1+) ---------------------------------------------------------------------
def test_lifecycle_create_rerun_update_check_diff_delete(cluster, namespace, harvester, api_rvs):
    cn = new_cluster_network(cluster, mtu=9000)
    path = nad_path(namespace, 'vlan100')
    route = {'mode': 'manual', 'cidr': '192.168.100.0/24', 'gateway': '192.168.100.1', 'dhcp_server': None}
    result, _unused = call(cluster, vlan_network_handler, NET, name='vlan100', namespace=namespace, cluster_network=cn,
                           vlan_id=100, route=route)
    assert result['changed'] and result['changes'] == [
        {'kind': 'NetworkAttachmentDefinition', 'namespace': namespace, 'name': 'vlan100', 'action': 'create'}]
    harvester.settle()  # Harvester's manager labels it, adds its finalizer and the route's connectivity
    stored = read(cluster, path)
    assert json.loads(stored['spec']['config']) == {
        'cniVersion': '0.3.1', 'name': 'vlan100', 'mtu': 9000, 'type': 'bridge', 'bridge': '%s-br' % cn,
        'promiscMode': True, 'vlan': 100, 'ipam': {}}
    assert stored['metadata']['labels'] == {'network.harvesterhci.io/type': 'L2VlanNetwork',
                                            'network.harvesterhci.io/vlan-id': '100',
                                            'network.harvesterhci.io/clusternetwork': cn,
                                            'network.harvesterhci.io/ready': 'true'}
    assert json.loads(stored['metadata']['annotations']['network.harvesterhci.io/route'])['gateway'] == '192.168.100.1'
    assert sorted(m['manager'] for m in stored['metadata']['managedFields']) == ['harvester.network',
                                                                                 'network-controller']
    assert result['networks'][0]['mtu'] == 9000

    # re-run: no change, no write, a handful of reads
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_network_handler, NET, name='vlan100', namespace=namespace, cluster_network=cn,
                       vlan_id=100, route=route)
    assert not result['changed'] and api_rvs(cluster) == rvs and len(log) <= 5

    # check mode: the server dry-runs the change, the diff shows it, nothing is stored
    result, log = call(cluster, vlan_network_handler, NET, check=True, name='vlan100', namespace=namespace,
                       cluster_network=cn, vlan_id=101, route=route)
    assert result['changed']
    assert result['changes'][0]['action'] == 'update'
    assert 'spec.config.vlan' in result['changes'][0]['fields']
    assert json.loads(result['diff']['after']['spec']['config'])['vlan'] == 101
    assert json.loads(result['diff']['before']['spec']['config'])['vlan'] == 100
    assert ('PATCH', path) in log
    after = read(cluster, path)
    assert after['metadata']['resourceVersion'] == stored['metadata']['resourceVersion']

    # real update
    result, _unused = call(cluster, vlan_network_handler, NET, name='vlan100', namespace=namespace, cluster_network=cn,
                           vlan_id=101, route=route, description='moved')
    assert result['changed']
    assert json.loads(read(cluster, path)['spec']['config'])['vlan'] == 101
    assert read(cluster, path)['metadata']['labels']['network.harvesterhci.io/vlan-id'] == '101'
    harvester.settle()

    # leaving route out: the route annotation, which Harvester's manager rewrote (connectivity) and so owns now,
    # stays; it is no change, and nothing is written
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_network_handler, NET, name='vlan100', namespace=namespace, cluster_network=cn,
                       vlan_id=101, description='moved')
    assert not result['changed'] and api_rvs(cluster) == rvs
    assert 'network.harvesterhci.io/route' in read(cluster, path)['metadata'].get('annotations', {})

    # delete: check mode keeps it, then it goes, then nothing to do
    result, _unused = call(cluster, vlan_network_handler, NET, check=True, name='vlan100', namespace=namespace,
                           cluster_network=cn, state='absent')
    assert result['changed'] and read(cluster, path) is not None
    result, _unused = call(cluster, vlan_network_handler, NET, name='vlan100', namespace=namespace, cluster_network=cn,
                           state='absent')
    harvester.settle()  # Harvester's manager removes its finalizer, then the object is gone
    assert result['changed'] and read(cluster, path) is None
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_network_handler, NET, name='vlan100', namespace=namespace, cluster_network=cn,
                       state='absent')
    assert not result['changed'] and api_rvs(cluster) == rvs


def test_many_networks_one_list_and_prune(cluster, namespace, api_rvs):
    cn = new_cluster_network(cluster)
    other_cn = new_cluster_network(cluster)
    items = [{'name': 'v%d' % vid, 'vlan_id': vid} for vid in range(10, 30)]
    result, _unused = call(cluster, vlan_network_handler, NET, namespace=namespace, cluster_network=cn, networks=items)
    assert len(result['changes']) == 20
    # a network of another cluster network in the same namespace: never pruned
    call(cluster, vlan_network_handler, NET, name='keep', namespace=namespace, cluster_network=other_cn, vlan_id=10)

    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_network_handler, NET, namespace=namespace, cluster_network=cn, networks=items)
    assert not result['changed'] and api_rvs(cluster) == rvs
    nad_lists = [e for e in log if e == ('GET', '/apis/k8s.cni.cncf.io/v1/network-attachment-definitions')]
    assert len(nad_lists) == 1 and len(log) == 5

    rvs = api_rvs(cluster)
    result, _unused = call(cluster, vlan_network_handler, NET, namespace=namespace, cluster_network=cn,
                           networks=items[:15] + [{'name': 'native', 'network_type': 'untagged'}], prune=True)
    actions = sorted((c['action'], c['name']) for c in result['changes'])
    assert actions == [('create', 'native')] + [('delete', 'v%d' % vid) for vid in range(25, 30)]
    # the server's view (Harvester's controller then updates the cluster network's VID set: not ours)
    assert [c for c in api_rvs.changed(rvs, api_rvs(cluster)) if c[0] == 'NetworkAttachmentDefinition'] == sorted(
        [('NetworkAttachmentDefinition', namespace, 'native', 'created')]
        + [('NetworkAttachmentDefinition', namespace, 'v%d' % vid, 'deleted') for vid in range(25, 30)])
    listed = read(cluster, '/apis/k8s.cni.cncf.io/v1/namespaces/%s/network-attachment-definitions' % namespace)
    assert sorted(i['metadata']['name'] for i in listed['items']) == sorted(
        ['keep', 'native'] + ['v%d' % vid for vid in range(10, 25)])
    native = read(cluster, nad_path(namespace, 'native'))
    assert 'vlan' not in json.loads(native['spec']['config'])
    assert native['metadata']['labels']['network.harvesterhci.io/type'] == 'UntaggedNetwork'

    info, log = call(cluster, vlan_network_info_handler, INFO, namespace=namespace, cluster_network=cn)
    assert len(info['networks']) == 16 and info['flavor'] == 'harvester'
    # one LIST; the discovery GETs of the NAD group and of Harvester's network group (the flavor it returns)
    assert sorted(entry[1].split('?')[0] for entry in log) == sorted([
        '/apis/k8s.cni.cncf.io/v1', '/apis/k8s.cni.cncf.io/v1/namespaces/%s/network-attachment-definitions' % namespace,
        '/apis/network.harvesterhci.io/v1beta1']), log
    info, _unused = call(cluster, vlan_network_info_handler, INFO, namespace=namespace, name='keep')
    assert info['networks'][0]['cluster_network'] == other_cn and info['networks'][0]['vlan_id'] == 10


def test_duplicate_vids_refused_unless_allowed(cluster, namespace):
    cn = new_cluster_network(cluster)
    call(cluster, vlan_network_handler, NET, name='a', namespace=namespace, cluster_network=cn, vlan_id=200)
    with pytest.raises(ValidationError, match='VLAN 200 used by .*/b, .*/a') as info:
        call(cluster, vlan_network_handler, NET, name='b', namespace=namespace, cluster_network=cn, vlan_id=200)
    assert info.value.field == 'vlan_id'
    assert read(cluster, nad_path(namespace, 'b')) is None
    with pytest.raises(ValidationError, match='VLAN 300'):
        call(cluster, vlan_network_handler, NET, namespace=namespace, cluster_network=cn,
             networks=[{'name': 'c', 'vlan_id': 300}, {'name': 'd', 'vlan_id': 300}])
    assert read(cluster, nad_path(namespace, 'c')) is None
    result, _unused = call(cluster, vlan_network_handler, NET, name='b', namespace=namespace, cluster_network=cn, vlan_id=200,
                           allow_duplicate_vids=True)
    assert result['changed']


def test_network_used_by_running_vm_cannot_change_or_go(cluster, namespace, harvester):
    cn = new_cluster_network(cluster)
    call(cluster, vlan_network_handler, NET, name='busy', namespace=namespace, cluster_network=cn, vlan_id=42)
    harvester.settle()
    before = read(cluster, nad_path(namespace, 'busy'))
    status, _unused = cluster.request('POST', '/apis/kubevirt.io/v1/namespaces/%s/virtualmachineinstances' % namespace,
                                      vmi(namespace, 'web1', ['%s/busy' % namespace]))
    assert status == 201
    with pytest.raises(InUseError, match='used by running VM %s/web1: stop the VM' % namespace):
        call(cluster, vlan_network_handler, NET, name='busy', namespace=namespace, cluster_network=cn, vlan_id=43)
    with pytest.raises(InUseError):
        call(cluster, vlan_network_handler, NET, name='busy', namespace=namespace, cluster_network=cn, state='absent')
    with pytest.raises(InUseError):
        call(cluster, vlan_network_handler, NET, namespace=namespace, cluster_network=cn, prune=True,
             networks=[{'name': 'other', 'vlan_id': 44}])
    assert read(cluster, nad_path(namespace, 'busy'))['metadata']['resourceVersion'] == before['metadata']['resourceVersion']
    assert read(cluster, nad_path(namespace, 'other')) is None
    # a description is not the CNI config: allowed while the VM runs
    result, _unused = call(cluster, vlan_network_handler, NET, name='busy', namespace=namespace, cluster_network=cn,
                           vlan_id=42, description='in use')
    assert result['changed']


def test_field_owned_by_another_client(cluster, namespace):
    cn = new_cluster_network(cluster)
    call(cluster, vlan_network_handler, NET, name='ui', namespace=namespace, cluster_network=cn, vlan_id=5)
    path = nad_path(namespace, 'ui')
    # the Harvester UI (another field manager, Update operation) changes the VLAN ID
    ui_config = builders.cni_config_json('current', 'ui', cn, 6, 1500)
    status, _unused = cluster.request('PATCH', path + '?fieldManager=harvester-ui', {'spec': {'config': ui_config}},
                                      headers={'Content-Type': 'application/merge-patch+json'})
    assert status == 200
    with pytest.raises(ConflictError, match='force_conflicts=true'):
        call(cluster, vlan_network_handler, NET, name='ui', namespace=namespace, cluster_network=cn, vlan_id=5)
    assert json.loads(read(cluster, path)['spec']['config'])['vlan'] == 6
    result, _unused = call(cluster, vlan_network_handler, NET, name='ui', namespace=namespace, cluster_network=cn, vlan_id=5,
                           force_conflicts=True)
    assert result['changed'] and json.loads(read(cluster, path)['spec']['config'])['vlan'] == 5


def test_controller_additions_are_not_changes(cluster, namespace, api_rvs):
    cn = new_cluster_network(cluster)
    call(cluster, vlan_network_handler, NET, name='auto', namespace=namespace, cluster_network=cn, vlan_id=7,
         route={'mode': 'auto', 'cidr': None, 'gateway': None, 'dhcp_server': None})
    path = nad_path(namespace, 'auto')
    # what Harvester's controller and webhook do afterwards: ready label, learned subnet, re-marshalled config
    route = '{"mode":"auto","serverIPAddr":"","cidr":"10.7.0.0/16","gateway":"10.7.0.1","connectivity":"true"}'
    patch = {'metadata': {'labels': {'network.harvesterhci.io/ready': 'true'},
                          'annotations': {'network.harvesterhci.io/route': route}},
             'spec': {'config': '{"bridge":"%s-br","cniVersion":"0.3.1","ipam":{},"mtu":1500,"name":"auto",'
                                '"promiscMode":true,"type":"bridge","vlan":7}' % cn}}
    status, _unused = cluster.request('PATCH', path + '?fieldManager=harvester-network-controller', patch,
                                      headers={'Content-Type': 'application/merge-patch+json'})
    assert status == 200
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_network_handler, NET, name='auto', namespace=namespace, cluster_network=cn,
                       vlan_id=7, route={'mode': 'auto', 'cidr': None, 'gateway': None, 'dhcp_server': None})
    assert not result['changed'] and api_rvs(cluster) == rvs
    assert result['networks'][0]['route']['cidr'] == '10.7.0.0/16'


def test_preserve_default_vlan(cluster, namespace, api_rvs):
    """Unset, a NAD Harvester made is left alone; false writes preserveDefaultVlan, true turns it back."""
    cn = new_cluster_network(cluster)
    # a network made in Harvester's UI: its config, its field manager
    harvester = builders.vlan_network('current', {'name': 'made', 'namespace': namespace, 'cluster_network': cn,
                                                  'vlan_id': 30, 'mtu': 1500})
    status, _unused = cluster.request('POST', '/apis/k8s.cni.cncf.io/v1/namespaces/%s/network-attachment-definitions'
                                      '?fieldManager=harvester' % namespace, harvester)
    assert status == 201
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_network_handler, NET, name='made', namespace=namespace, cluster_network=cn,
                       vlan_id=30)
    assert not result['changed'] and api_rvs(cluster) == rvs
    assert result['networks'][0]['preserve_default_vlan'] is None

    path = nad_path(namespace, 'own')
    call(cluster, vlan_network_handler, NET, name='own', namespace=namespace, cluster_network=cn, vlan_id=31)
    assert 'preserveDefaultVlan' not in json.loads(read(cluster, path)['spec']['config'])
    result, _unused = call(cluster, vlan_network_handler, NET, name='own', namespace=namespace, cluster_network=cn,
                           vlan_id=31, preserve_default_vlan=False)
    assert result['changed'] and result['changes'][0]['action'] == 'update'
    assert 'spec.config.preserveDefaultVlan' in result['changes'][0]['fields']
    stored = read(cluster, path)['spec']['config']
    assert stored == builders.cni_config_json('current', 'own', cn, 31, 1500, False)
    assert json.loads(stored)['preserveDefaultVlan'] is False
    assert result['networks'][0]['preserve_default_vlan'] is False
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_network_handler, NET, name='own', namespace=namespace, cluster_network=cn,
                       vlan_id=31, preserve_default_vlan=False)
    assert not result['changed'] and api_rvs(cluster) == rvs
    # unset: the key is not managed (a config is compared as "contains"), so it stays; true is the way back
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_network_handler, NET, name='own', namespace=namespace, cluster_network=cn,
                       vlan_id=31)
    assert not result['changed'] and api_rvs(cluster) == rvs
    result, _unused = call(cluster, vlan_network_handler, NET, name='own', namespace=namespace, cluster_network=cn,
                           vlan_id=31, preserve_default_vlan=True)
    assert result['changed'] and json.loads(read(cluster, path)['spec']['config'])['preserveDefaultVlan'] is True

    # module level: the default of the tagged items; an untagged network never gets the key
    result, _unused = call(cluster, vlan_network_handler, NET, namespace=namespace, cluster_network=cn,
                           preserve_default_vlan=False, networks=[
                               {'name': 'v32', 'vlan_id': 32}, {'name': 'native', 'network_type': 'untagged'}])
    assert json.loads(read(cluster, nad_path(namespace, 'v32'))['spec']['config'])['preserveDefaultVlan'] is False
    assert 'preserveDefaultVlan' not in json.loads(read(cluster, nad_path(namespace, 'native'))['spec']['config'])
    with pytest.raises(ValidationError, match='native VLAN by design') as info:
        call(cluster, vlan_network_handler, NET, name='native', namespace=namespace, cluster_network=cn,
             network_type='untagged', preserve_default_vlan=False)
    assert info.value.field == 'preserve_default_vlan'


def test_unknown_cluster_network_and_missing_namespace(cluster, namespace):
    with pytest.raises(ValidationError, match='cluster network nosuch does not exist') as info:
        call(cluster, vlan_network_handler, NET, name='x', namespace=namespace, cluster_network='nosuch', vlan_id=5)
    assert info.value.field == 'cluster_network'
    cn = new_cluster_network(cluster)
    with pytest.raises(Exception, match='namespaces "no-such-ns" not found'):
        call(cluster, vlan_network_handler, NET, name='x', namespace='no-such-ns', cluster_network=cn, vlan_id=5)


def test_stale_resource_version_is_retried_then_explained(cluster, namespace):
    cn = new_cluster_network(cluster)
    call(cluster, vlan_network_handler, NET, name='rv', namespace=namespace, cluster_network=cn, vlan_id=5)
    c = Cluster(dict(AUTH_DEFAULTS, kubeconfig=cluster.kubeconfig))
    kind = builders.NAD
    manifest = builders.vlan_network('current', {'name': 'rv', 'namespace': namespace, 'cluster_network': cn,
                                                 'vlan_id': 5, 'mtu': 1500})
    manifest['metadata']['resourceVersion'] = '1'
    with pytest.raises(ConflictError, match='still conflicting after 4 attempts'):
        c.service.apply(kind, manifest)
    assert len([e for e in c.transport.log if e[0] == 'PATCH']) == 4


def test_concurrent_runs_converge(cluster, namespace, api_rvs):
    """Two runs at once on the same networks: both succeed and the result is the same objects."""
    cn = new_cluster_network(cluster)
    items = [{'name': 'p%d' % vid, 'vlan_id': vid} for vid in range(100, 110)]
    errors = []

    def worker():
        try:
            call(cluster, vlan_network_handler, NET, namespace=namespace, cluster_network=cn, networks=items)
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(exc)
    threads = [threading.Thread(target=worker) for _index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_network_handler, NET, namespace=namespace, cluster_network=cn, networks=items)
    assert not result['changed'] and api_rvs(cluster) == rvs


# ---- legacy generation (Harvester v0.3/v1.0) ------------------------------------------------------------------
def test_legacy_lifecycle(legacy_cluster, legacy_namespace, api_rvs):
    ns = legacy_namespace
    result, _unused = call(legacy_cluster, vlan_network_handler, NET, name='vlan100', namespace=ns, vlan_id=100)
    assert result['generation'] == 'legacy' and result['changed']
    stored = read(legacy_cluster, nad_path(ns, 'vlan100'))
    assert stored['spec']['config'] == ('{"cniVersion":"0.3.1","name":"vlan100","type":"bridge","bridge":"harvester-br0",'
                                        '"promiscMode":true,"vlan":100,"ipam":{}}')
    assert stored['metadata']['labels'] == {'networks.harvesterhci.io/type': 'L2VlanNetwork'}
    rvs = api_rvs(legacy_cluster)
    result, log = call(legacy_cluster, vlan_network_handler, NET, name='vlan100', namespace=ns, vlan_id=100)
    assert not result['changed'] and api_rvs(legacy_cluster) == rvs
    result, _unused = call(legacy_cluster, vlan_network_handler, NET, check=True, name='vlan100', namespace=ns, vlan_id=200)
    assert result['changed']
    assert json.loads(read(legacy_cluster, nad_path(ns, 'vlan100'))['spec']['config'])['vlan'] == 100
    result, _unused = call(legacy_cluster, vlan_network_handler, NET, name='vlan100', namespace=ns, vlan_id=200)
    assert json.loads(read(legacy_cluster, nad_path(ns, 'vlan100'))['spec']['config'])['vlan'] == 200
    info, _unused = call(legacy_cluster, vlan_network_info_handler, INFO, namespace=ns)
    assert info['networks'][0]['cluster_network'] == 'vlan' and info['networks'][0]['bridge'] == 'harvester-br0'
    result, _unused = call(legacy_cluster, vlan_network_handler, NET, name='vlan100', namespace=ns, state='absent')
    assert result['changed'] and read(legacy_cluster, nad_path(ns, 'vlan100')) is None


@pytest.mark.parametrize('params, field, words', [
    (dict(vlan_id=5, mtu=9000), 'mtu', 'carry no MTU'),
    (dict(network_type='untagged'), 'network_type', 'need Harvester v1.1+'),
    (dict(vlan_id=5, cluster_network='data'), 'cluster_network', 'one cluster network, "vlan"'),
])
def test_legacy_refusals(legacy_cluster, legacy_namespace, params, field, words):
    with pytest.raises(ValidationError, match=words) as info:
        call(legacy_cluster, vlan_network_handler, NET, name='bad', namespace=legacy_namespace, **params)
    assert info.value.field == field
    assert read(legacy_cluster, nad_path(legacy_namespace, 'bad')) is None


def test_generation_override_must_be_served(legacy_cluster, cluster, legacy_namespace):
    with pytest.raises(MissingApiError, match='serves no VlanConfig .*Harvester older than v1.1'):
        call(legacy_cluster, vlan_network_handler, NET, name='x', namespace=legacy_namespace, vlan_id=5,
             api_generation='current')
    with pytest.raises(MissingApiError, match='serves no NodeNetwork .*v1.1 or newer'):
        call(cluster, vlan_network_handler, NET, name='x', namespace='default', vlan_id=5, api_generation='legacy')


# ---- through ansible-playbook ---------------------------------------------------------------------------------
PLAYBOOK_CURRENT = """
- hosts: localhost
  gather_facts: false
  vars:
    ns: NAMESPACE
    cn: CLUSTERNET
    items: "{% set out = [] %}{% for vid in range(20, 30) %}{% set _ = out.append({'name': 'n' ~ vid, 'vlan_id': vid}) %}{% endfor %}{{ out }}"
  tasks:
    - name: create
      harvester.network.vlan_network: {name: vlan10, namespace: "{{ ns }}", cluster_network: "{{ cn }}", vlan_id: 10}
      register: create
    - name: re-run
      harvester.network.vlan_network: {name: vlan10, namespace: "{{ ns }}", cluster_network: "{{ cn }}", vlan_id: 10}
      register: rerun
    - name: update in check mode with diff
      harvester.network.vlan_network: {name: vlan10, namespace: "{{ ns }}", cluster_network: "{{ cn }}", vlan_id: 11}
      check_mode: true
      diff: true
      register: check
    - name: read back after check mode
      harvester.network.vlan_network_info: {namespace: "{{ ns }}", name: vlan10}
      register: after_check
    - name: update with diff
      harvester.network.vlan_network: {name: vlan10, namespace: "{{ ns }}", cluster_network: "{{ cn }}", vlan_id: 11}
      diff: true
      register: update
    - name: many, with prune
      harvester.network.vlan_network:
        namespace: "{{ ns }}"
        cluster_network: "{{ cn }}"
        prune: true
        networks: "{{ items }}"
      register: many
    - name: many again
      harvester.network.vlan_network:
        namespace: "{{ ns }}"
        cluster_network: "{{ cn }}"
        prune: true
        networks: "{{ items }}"
      register: many_again
    - name: delete
      harvester.network.vlan_network: {name: n20, namespace: "{{ ns }}", cluster_network: "{{ cn }}", state: absent}
      register: delete
    - name: read back
      harvester.network.vlan_network_info: {namespace: "{{ ns }}"}
      register: final
    - ansible.builtin.assert:
        that:
          - create is changed
          - rerun is not changed
          - check is changed
          - check.diff.before.spec.config is search('"vlan":10')
          - check.diff.after.spec.config is search('"vlan":11')
          - after_check.networks[0].vlan_id == 10
          - update is changed
          - update.diff.after.spec.config is search('"vlan":11')
          - many is changed
          - many.changes | selectattr('action', 'equalto', 'delete') | list | length == 1
          - many_again is not changed
          - delete is changed
          - final.networks | length == 9
          - final.networks | map(attribute='bridge') | unique == [cn ~ '-br']
"""

PLAYBOOK_LEGACY = """
- hosts: localhost
  gather_facts: false
  vars:
    ns: NAMESPACE
  tasks:
    - harvester.network.vlan_network: {name: vlan10, namespace: "{{ ns }}", vlan_id: 10}
      register: create
    - harvester.network.vlan_network: {name: vlan10, namespace: "{{ ns }}", vlan_id: 10}
      register: rerun
    - harvester.network.vlan_network: {name: vlan10, namespace: "{{ ns }}", vlan_id: 11}
      check_mode: true
      diff: true
      register: check
    - harvester.network.vlan_network_info: {namespace: "{{ ns }}"}
      register: after_check
    - harvester.network.vlan_network: {name: vlan10, namespace: "{{ ns }}", vlan_id: 11}
      diff: true
      register: update
    - harvester.network.vlan_network: {name: vlan10, namespace: "{{ ns }}", state: absent}
      register: delete
    - harvester.network.vlan_network_info: {namespace: "{{ ns }}"}
      register: final
    - ansible.builtin.assert:
        that:
          - create is changed and create.generation == 'legacy'
          - rerun is not changed
          - check is changed and check.diff.after.spec.config is search('harvester-br0')
          - after_check.networks[0].vlan_id == 10
          - update is changed and update.networks[0].vlan_id == 11
          - delete is changed
          - final.networks == []
"""


def test_playbook_current(cluster, namespace, tmp_path):
    cn = new_cluster_network(cluster)
    proc = run_playbook(cluster, tmp_path, PLAYBOOK_CURRENT.replace('NAMESPACE', namespace).replace('CLUSTERNET', cn))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


PLAYBOOK_CLI_CHECK = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/harvester.network.cluster:
      kubeconfig: KUBECONFIG
  tasks:
    - harvester.network.vlan_network:
        namespace: NAMESPACE
        cluster_network: mgmt
        prune: true
        networks: [{name: a, vlan_id: 1001}, {name: c, vlan_id: 1003}]
      register: plan
    - ansible.builtin.assert:
        that:
          - plan is changed
          - plan.changes | map(attribute='action') | sort == ['create', 'delete', 'update']
"""


def test_playbook_cli_check_and_diff_write_nothing(cluster, namespace, tmp_path, harvester):
    """``ansible-playbook --check --diff``: plan and diff shown, nothing stored (read back); auth through the
    action group's module_defaults instead of the environment."""
    call(cluster, vlan_network_handler, NET, namespace=namespace, cluster_network='mgmt',
         networks=[{'name': 'a', 'vlan_id': 1000}, {'name': 'b', 'vlan_id': 1002}])
    harvester.settle()
    listing = '/apis/k8s.cni.cncf.io/v1/namespaces/%s/network-attachment-definitions' % namespace
    before = dict((i['metadata']['name'], i['metadata']['resourceVersion']) for i in read(cluster, listing)['items'])
    server = type('NoEnvServer', (), {'env': dict((k, v) for k, v in cluster.env.items()
                                                  if k not in ('K8S_AUTH_KUBECONFIG', 'KUBECONFIG'))})()
    text = PLAYBOOK_CLI_CHECK.replace('NAMESPACE', namespace).replace('KUBECONFIG', cluster.kubeconfig)
    proc = run_playbook(server, tmp_path, text, '--check', '--diff')
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert '-            "network.harvesterhci.io/vlan-id": "1000"' in proc.stdout, proc.stdout  # the diff of a
    assert '+            "network.harvesterhci.io/vlan-id": "1001"' in proc.stdout, proc.stdout
    after = dict((i['metadata']['name'], i['metadata']['resourceVersion']) for i in read(cluster, listing)['items'])
    assert after == before


def test_playbook_legacy(legacy_cluster, legacy_namespace, tmp_path):
    proc = run_playbook(legacy_cluster, tmp_path, PLAYBOOK_LEGACY.replace('NAMESPACE', legacy_namespace))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
