"""vlan_network, vlan_network_info, vm and vm_service on a plain KubeVirt + Multus cluster (no Harvester API).

The ``plain`` profile's kube-apiserver serves only the KubeVirt (VirtualMachine, VirtualMachineInstance) and Multus
(NetworkAttachmentDefinition) CRDs of testbeds/cluster/crds/common, so ``flavor: auto`` must detect plain. The witness
is the server: objects read back with the bed's own REST client, resourceVersions before and after (``api_rvs``), and
check mode's ``diff.after`` compared with a GET after the real run.
"""

import json

import pytest
import yaml

from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import (
    InUseError, MissingApiError, ValidationError)
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import (
    vlan_network_handler, vlan_network_info_handler)
from ansible_collections.harvester.network.plugins.module_utils.cluster.vms import vm_handler, vm_service_handler
from ansible_collections.harvester.network.plugins.modules import vlan_network as vlan_network_module
from ansible_collections.harvester.network.plugins.modules import vm as vm_module

from testbeds.cluster.handlers import call, read, run_playbook, writes


NET = dict(name=None, namespace='default', cluster_network=None, bridge=None, network_type='vlan', vlan_id=None,
           vlan_trunk=None, mtu=None, route=None, description=None, preserve_default_vlan=None, networks=None,
           prune=False, allow_duplicate_vids=False, state='present', wait=False, wait_timeout=300, flavor='auto')
INFO = dict(name=None, namespace=None, cluster_network=None)
VM = dict(name=None, namespace='default', state='present', run_strategy=None, description=None, labels=None, cpu=1,
          memory='1Gi', interfaces=None, disks=None, ssh_keys=None, hostname=None, node_selector=None,
          nic_hotplug=False, restart_on_change=False, user_data=None, guest_agent=False, network_data=None,
          network_data_version=1, wait=False, wait_for_ips=False, wait_timeout=300, flavor='auto')
SVC = dict(name=None, namespace='default', vm=None, type='ClusterIP', cluster_ip=None, ports=None, state='present',
           flavor='auto')
BRIDGE = 'br-vlan'


def nad_path(namespace, name):
    return '/apis/k8s.cni.cncf.io/v1/namespaces/%s/network-attachment-definitions/%s' % (namespace, name)


def vm_path(namespace, name):
    return '/apis/kubevirt.io/v1/namespaces/%s/virtualmachines/%s' % (namespace, name)


def nic(name, network=None, **kw):
    base = dict(name=name, network=network, type=None, model='virtio', mac_address=None, boot_order=None,
                guest_name=None, ip_mode='dhcp', addresses=None, gateway=None, dns=None, wait_for_lease=False)
    base.update(kw)
    return base


def disk(name, **kw):
    base = dict(name=name, container_disk=None, pvc=None, data_volume=None, image=None, size='10Gi',
                storage_class=None, volume_mode='Block', access_mode='ReadWriteMany', claim_name=None, device='disk',
                bus=None, boot_order=None)
    base.update(kw)
    return base


def no_harvester_keys(obj):
    """No label or annotation of Harvester's (harvesterhci.io groups) anywhere in the object."""
    return 'harvesterhci.io' not in json.dumps(obj)


def test_discovery_serves_no_harvester_api(plain_cluster):
    """The profile itself, read by the bed's client: KubeVirt and Multus served, no Harvester group at all."""
    status, groups = plain_cluster.request('GET', '/apis')
    assert status == 200
    names = set(group['name'] for group in groups['groups'])
    assert {'kubevirt.io', 'k8s.cni.cncf.io'} <= names
    assert not [name for name in names if name.endswith('harvesterhci.io')]


def test_vlan_network_lifecycle(plain_cluster, plain_namespace, api_rvs):
    ns = plain_namespace
    path = nad_path(ns, 'vlan100')
    result, _log = call(plain_cluster, vlan_network_handler, NET, name='vlan100', namespace=ns, bridge=BRIDGE,
                        vlan_id=100, preserve_default_vlan=False, description='VLAN 100 on br-vlan')
    assert result['changed'] and result['flavor'] == 'plain' and result['generation'] is None
    stored = read(plain_cluster, path)
    # the bridge CNI plugin's keys only (containernetworking/cni.dev content/plugins/current/main/bridge.md
    # @48e9df11), no Harvester label, no promiscMode, no MTU unless given
    assert json.loads(stored['spec']['config']) == {
        'cniVersion': '0.3.1', 'name': 'vlan100', 'type': 'bridge', 'bridge': BRIDGE, 'vlan': 100,
        'preserveDefaultVlan': False, 'ipam': {}}
    assert 'labels' not in stored['metadata']
    assert stored['metadata']['annotations'] == {'field.cattle.io/description': 'VLAN 100 on br-vlan'}
    assert result['networks'][0]['vlan_id'] == 100 and result['networks'][0]['bridge'] == BRIDGE

    # re-run: nothing written
    rvs = api_rvs(plain_cluster)
    result, log = call(plain_cluster, vlan_network_handler, NET, name='vlan100', namespace=ns, bridge=BRIDGE,
                       vlan_id=100, preserve_default_vlan=False, description='VLAN 100 on br-vlan')
    assert not result['changed'] and not writes(log) and api_rvs(plain_cluster) == rvs

    # check mode: a server-side dry run, nothing stored; its diff.after is what the real run then stores
    checked, log = call(plain_cluster, vlan_network_handler, NET, check=True, name='vlan100', namespace=ns,
                        bridge=BRIDGE, vlan_id=101, mtu=9000, description='VLAN 100 on br-vlan')
    assert checked['changed'] and ('PATCH', path) in log and api_rvs(plain_cluster) == rvs
    assert json.loads(checked['diff']['before']['spec']['config'])['vlan'] == 100
    real, _log = call(plain_cluster, vlan_network_handler, NET, name='vlan100', namespace=ns, bridge=BRIDGE,
                      vlan_id=101, mtu=9000, description='VLAN 100 on br-vlan')
    after = read(plain_cluster, path)
    assert real['changed'] and api_rvs(plain_cluster) != rvs
    assert json.loads(checked['diff']['after']['spec']['config']) == json.loads(after['spec']['config']) == {
        'cniVersion': '0.3.1', 'name': 'vlan100', 'mtu': 9000, 'type': 'bridge', 'bridge': BRIDGE, 'vlan': 101,
        'ipam': {}}

    # delete: check mode keeps it, the real run deletes it, a third run has nothing to do
    rvs = api_rvs(plain_cluster)
    result, _log = call(plain_cluster, vlan_network_handler, NET, check=True, name='vlan100', namespace=ns,
                        state='absent')
    assert result['changed'] and api_rvs(plain_cluster) == rvs
    result, _log = call(plain_cluster, vlan_network_handler, NET, name='vlan100', namespace=ns, state='absent')
    assert result['changed'] and read(plain_cluster, path) is None
    rvs = api_rvs(plain_cluster)
    result, log = call(plain_cluster, vlan_network_handler, NET, name='vlan100', namespace=ns, state='absent')
    assert not result['changed'] and not writes(log) and api_rvs(plain_cluster) == rvs


def test_many_networks_prune_by_bridge_and_info(plain_cluster, plain_namespace, api_rvs):
    """A VLAN, an untagged and a trunk network on one bridge; prune deletes only the unlisted VLAN/untagged
    networks of that bridge; duplicate VLAN IDs are counted per bridge; vlan_network_info reads them all."""
    ns = plain_namespace
    call(plain_cluster, vlan_network_handler, NET, name='old200', namespace=ns, bridge=BRIDGE, vlan_id=200)
    call(plain_cluster, vlan_network_handler, NET, name='other', namespace=ns, bridge='br-other', vlan_id=100)
    networks = [dict(name='vlan100', vlan_id=100), dict(name='native', network_type='untagged'),
                dict(name='trunk', network_type='trunk', vlan_trunk=[{'min_id': 100, 'max_id': 199}, {'min_id': 300}])]
    result, _log = call(plain_cluster, vlan_network_handler, NET, namespace=ns, bridge=BRIDGE, prune=True,
                        networks=networks)
    actions = sorted((c['name'], c['action']) for c in result['changes'])
    assert actions == [('native', 'create'), ('old200', 'delete'), ('trunk', 'create'), ('vlan100', 'create')]
    assert read(plain_cluster, nad_path(ns, 'old200')) is None
    assert read(plain_cluster, nad_path(ns, 'other')) is not None  # another bridge: not this task's
    assert json.loads(read(plain_cluster, nad_path(ns, 'native'))['spec']['config']) == {
        'cniVersion': '0.3.1', 'name': 'native', 'type': 'bridge', 'bridge': BRIDGE, 'ipam': {}}
    assert json.loads(read(plain_cluster, nad_path(ns, 'trunk'))['spec']['config']) == {
        'cniVersion': '0.3.1', 'name': 'trunk', 'type': 'bridge', 'bridge': BRIDGE, 'vlan': 0, 'ipam': {},
        'vlanTrunk': [{'minID': 100, 'maxID': 199}, {'id': 300}]}
    rvs = api_rvs(plain_cluster)
    result, log = call(plain_cluster, vlan_network_handler, NET, namespace=ns, bridge=BRIDGE, prune=True,
                       networks=networks)
    assert not result['changed'] and not writes(log) and api_rvs(plain_cluster) == rvs

    # VLAN 100 on br-other is no clash for br-vlan's VLAN 100, a second one on br-vlan is
    with pytest.raises(ValidationError) as caught:
        call(plain_cluster, vlan_network_handler, NET, name='dup', namespace=ns, bridge=BRIDGE, vlan_id=100)
    assert caught.value.field == 'vlan_id' and 'bridge %s' % BRIDGE in str(caught.value)
    assert api_rvs(plain_cluster) == rvs

    info, _log = call(plain_cluster, vlan_network_info_handler, INFO, namespace=ns)
    assert info['flavor'] == 'plain'  # what the default_vlan role learns the flavor from
    found = dict((n['name'], n) for n in info['networks'])
    assert sorted(found) == ['native', 'other', 'trunk', 'vlan100']
    assert (found['vlan100']['network_type'], found['vlan100']['vlan_id'], found['vlan100']['bridge']) == \
        ('vlan', 100, BRIDGE)
    assert found['native']['network_type'] == 'untagged' and found['native']['vlan_id'] is None
    assert found['trunk']['vlan_trunk'] == [{'min_id': 100, 'max_id': 199}, {'min_id': 300, 'max_id': 300}]
    assert found['other']['bridge'] == 'br-other'


@pytest.mark.parametrize('params, field', [
    (dict(cluster_network='data'), 'cluster_network'),
    (dict(route={'mode': 'manual', 'cidr': '192.168.1.0/24', 'gateway': '192.168.1.1', 'dhcp_server': None}),
     'route'),
    (dict(wait=True), 'wait'),
    (dict(api_generation='current'), 'api_generation'),
    (dict(bridge=None), 'bridge'),
    (dict(bridge='br vlan'), 'bridge'),
], ids=['cluster_network', 'route', 'wait', 'api_generation', 'no-bridge', 'bad-bridge'])
def test_harvester_options_refused_before_any_write(plain_cluster, plain_namespace, api_rvs, params, field):
    rvs = api_rvs(plain_cluster)
    call_params = dict(name='vlan100', namespace=plain_namespace, bridge=BRIDGE, vlan_id=100)
    call_params.update(params)
    with pytest.raises(ValidationError) as caught:
        call(plain_cluster, vlan_network_handler, NET, **call_params)
    assert caught.value.field == field, str(caught.value)
    assert api_rvs(plain_cluster) == rvs


def test_flavor_harvester_on_a_plain_cluster_is_refused(plain_cluster, plain_namespace, api_rvs):
    rvs = api_rvs(plain_cluster)
    with pytest.raises(MissingApiError) as caught:
        call(plain_cluster, vlan_network_handler, NET, name='vlan100', namespace=plain_namespace,
             cluster_network='data', vlan_id=100, flavor='harvester')
    assert 'ClusterNetwork' in str(caught.value)
    assert api_rvs(plain_cluster) == rvs


def test_bridge_refused_on_harvester(cluster, namespace, api_rvs):
    """On a Harvester cluster (auto detects it), bridge is a plain-only option: refused, nothing written."""
    rvs = api_rvs(cluster)
    with pytest.raises(ValidationError) as caught:
        call(cluster, vlan_network_handler, NET, name='vlan100', namespace=namespace, cluster_network='mgmt',
             bridge=BRIDGE, vlan_id=100)
    assert caught.value.field == 'bridge'
    assert api_rvs(cluster) == rvs


def plain_vm(ns, **kw):
    params = dict(name='web1', namespace=ns, state='stopped', cpu=2, memory='2Gi', description='plain VM',
                  user_data={'ssh_authorized_keys': ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlain test@example']},
                  interfaces=[nic('default'), nic('nic-1', 'vlan100', mac_address='52:54:00:00:02:01',
                                                  wait_for_lease=True)],
                  disks=[disk('root', container_disk='quay.io/containerdisks/ubuntu:22.04', boot_order=1)])
    params.update(kw)
    return params


def test_vm_and_service(plain_cluster, plain_namespace, api_rvs):
    ns = plain_namespace
    call(plain_cluster, vlan_network_handler, NET, name='vlan100', namespace=ns, bridge=BRIDGE, vlan_id=100)
    result, _log = call(plain_cluster, vm_handler, VM, **plain_vm(ns))
    assert result['changed'] and result['flavor'] == 'plain'
    stored = read(plain_cluster, vm_path(ns, 'web1'))
    template = stored['spec']['template']
    assert no_harvester_keys(stored['metadata']) and no_harvester_keys(template['metadata'])
    assert template['spec']['networks'] == [{'name': 'default', 'pod': {}},
                                            {'name': 'nic-1', 'multus': {'networkName': '%s/vlan100' % ns}}]
    interfaces = template['spec']['domain']['devices']['interfaces']
    assert [('masquerade' in i, 'bridge' in i) for i in interfaces] == [(True, False), (False, True)]
    assert stored['spec']['runStrategy'] == 'Halted'

    rvs = api_rvs(plain_cluster)
    result, log = call(plain_cluster, vm_handler, VM, **plain_vm(ns))
    assert not result['changed'] and not writes(log) and api_rvs(plain_cluster) == rvs

    # check mode: a second VLAN NIC; diff.after is what the real run stores
    call(plain_cluster, vlan_network_handler, NET, name='vlan200', namespace=ns, bridge=BRIDGE, vlan_id=200)
    rvs = api_rvs(plain_cluster)
    more = plain_vm(ns)
    more['interfaces'] = more['interfaces'] + [nic('nic-2', 'vlan200', mac_address='52:54:00:00:02:02')]
    checked, _log = call(plain_cluster, vm_handler, VM, check=True, **more)
    assert checked['changed'] and api_rvs(plain_cluster) == rvs
    real, _log = call(plain_cluster, vm_handler, VM, **more)
    after = read(plain_cluster, vm_path(ns, 'web1'))
    assert real['changed']
    assert checked['diff']['after']['spec'] == after['spec']
    assert no_harvester_keys(after['spec']['template']['metadata'])

    # a Service for the management NIC selects KubeVirt's own label of the VM's pod
    svc, _log = call(plain_cluster, vm_service_handler, SVC, name='web1-ssh', namespace=ns, vm='web1',
                     ports=[dict(name=None, port=22, target_port=None, protocol='TCP', node_port=None)])
    stored_svc = read(plain_cluster, '/api/v1/namespaces/%s/services/web1-ssh' % ns)
    assert svc['changed'] and stored_svc['spec']['selector'] == {'vm.kubevirt.io/name': 'web1'}
    rvs = api_rvs(plain_cluster)
    svc, log = call(plain_cluster, vm_service_handler, SVC, name='web1-ssh', namespace=ns, vm='web1',
                    ports=[dict(name=None, port=22, target_port=None, protocol='TCP', node_port=None)])
    assert not svc['changed'] and not writes(log) and api_rvs(plain_cluster) == rvs

    # the network a VM uses (stopped, too) is not deleted
    with pytest.raises(InUseError):
        call(plain_cluster, vlan_network_handler, NET, name='vlan200', namespace=ns, state='absent')
    assert api_rvs(plain_cluster) == rvs


def test_vm_harvester_only_features_refused(plain_cluster, plain_namespace, api_rvs):
    rvs = api_rvs(plain_cluster)
    params = plain_vm(plain_namespace, ssh_keys=['admin'],
                      disks=[disk('root', image='default/ubuntu'), disk('data', pvc='data-claim')])
    with pytest.raises(ValidationError) as caught:
        call(plain_cluster, vm_handler, VM, **params)
    assert caught.value.fields == ['disks[0].image', 'ssh_keys']
    assert 'container_disk' in str(caught.value) and 'user_data' in str(caught.value)
    assert api_rvs(plain_cluster) == rvs


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    ns: NAMESPACE
  tasks:
    - harvester.network.vlan_network: {name: vlan10, namespace: "{{ ns }}", bridge: br-vlan, vlan_id: 10}
      register: create
    - harvester.network.vlan_network: {name: vlan10, namespace: "{{ ns }}", bridge: br-vlan, vlan_id: 11}
      check_mode: true
      diff: true
      register: check
    - harvester.network.vlan_network:
        name: vlan10
        namespace: "{{ ns }}"
        bridge: br-vlan
        cluster_network: data
        vlan_id: 10
      register: harvester_only
      ignore_errors: true
    - harvester.network.vm:
        name: vm1
        namespace: "{{ ns }}"
        state: stopped
        interfaces: [{name: default}, {name: nic-1, network: vlan10}]
        disks: [{name: root, container_disk: quay.io/containerdisks/ubuntu:22.04}]
      register: vm
    - harvester.network.vlan_network_info: {namespace: "{{ ns }}"}
      register: info
    - ansible.builtin.assert:
        that:
          - create is changed and create.flavor == 'plain'
          - check is changed and check.diff.after.spec.config is search('"vlan":11')
          - harvester_only is failed and harvester_only.field == 'cluster_network'
          - vm is changed and vm.flavor == 'plain'
          - info.networks | map(attribute='vlan_id') | list == [10]
"""


def plain_examples(namespace):
    """The modules' EXAMPLES tasks with flavor plain, as written (only the namespace is the test's)."""
    tasks = []
    for module in (vlan_network_module, vm_module):
        for task in yaml.safe_load(module.EXAMPLES):
            args = task.get('harvester.network.%s' % module.__name__.rsplit('.', 1)[1])
            if args and args.get('flavor') == 'plain':
                args['namespace'] = namespace
                tasks.append(json.loads(json.dumps(task).replace('"default/', '"%s/' % namespace)))
    return tasks


def test_playbook_auto_detects_plain(plain_cluster, plain_namespace, tmp_path):
    """The real modules through ansible-playbook, flavor left at auto, then the modules' plain EXAMPLES as written
    (one run)."""
    play = yaml.safe_load(PLAYBOOK.replace('NAMESPACE', plain_namespace))
    examples = plain_examples(plain_namespace)
    assert len(examples) == 2
    play[0]['tasks'].extend(examples)
    proc = run_playbook(plain_cluster, tmp_path, yaml.safe_dump(play, sort_keys=False))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert 'failed=0' in proc.stdout
    stored = read(plain_cluster, vm_path(plain_namespace, 'web2'))
    assert stored['spec']['template']['spec']['networks'][1] == {
        'name': 'nic-1', 'multus': {'networkName': '%s/vlan100' % plain_namespace}}
    config = json.loads(read(plain_cluster, nad_path(plain_namespace, 'vlan100'))['spec']['config'])
    assert (config['bridge'], config['vlan'], config['preserveDefaultVlan']) == ('br-vlan', 100, False)
