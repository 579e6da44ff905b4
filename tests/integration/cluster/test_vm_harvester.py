"""vm: what users create in Harvester's UI, on the real kube-apiserver: disks from a VirtualMachineImage, SSH key
pairs, host name and node selector, per-NIC wait_for_lease, NIC hot-plug/unplug and restart_on_change.

The bed runs no Harvester or KubeVirt controller. The tests play their parts, each named where it happens:
Harvester's image controller (an image whose status names its storage class), virt-controller + guest agent
(``start_vmi``: a Ready VMI whose NICs report IPs, standing in for virt-handler). What the bed proves is the API
objects the module writes; that KubeVirt then hot-plugs a NIC or Harvester creates the claim is not proven here.
"""

import json

import pytest
import yaml

from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ValidationError, WaitTimeout
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import vlan_network_handler
from ansible_collections.harvester.network.plugins.module_utils.cluster.vms import vm_handler

from testbeds.cluster.handlers import call, read, run_playbook
from tests.integration.cluster.test_vm import NET, VM, disk, nic, start_vmi, vm_path, vmi_path

HARVESTER = '/apis/harvesterhci.io/v1beta1/namespaces/%s/%s'
PUBLIC_KEY = ('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ0ZXN0a2V5Zm9ydGhlaGFydmVzdGVybmV0d29ya2NvbGxlY3Q admin@example')
VMX = dict(VM, ssh_keys=None, hostname=None, node_selector=None, nic_hotplug=False, restart_on_change=False)


def image_disk(name, image, **kw):
    base = disk(name, image=image, size='10Gi', storage_class=None, volume_mode='Block', access_mode='ReadWriteMany',
                claim_name=None)
    base.update(kw)
    return base


def lease_nic(name, network=None, **kw):
    return nic(name, network, wait_for_lease=kw.pop('wait_for_lease', False), **kw)


def make_image(server, ns, name, storage_class='longhorn-%s'):
    """Play Harvester's image controller: an imported image whose status names its storage class (no status
    subresource in Harvester's CRD, so status is stored with the object)."""
    body = {'apiVersion': 'harvesterhci.io/v1beta1', 'kind': 'VirtualMachineImage',
            'metadata': {'name': name, 'namespace': ns},
            'spec': {'displayName': name + '.qcow2', 'sourceType': 'download', 'url': 'http://example/%s' % name}}
    if storage_class:
        body['status'] = {'storageClassName': storage_class % name if '%s' in storage_class else storage_class,
                          'progress': 100}
    status, answer = server.request('POST', HARVESTER % (ns, 'virtualmachineimages'), body)
    assert status == 201, answer


def make_key_pair(server, ns, name, key=PUBLIC_KEY):
    status, answer = server.request('POST', HARVESTER % (ns, 'keypairs'), {
        'apiVersion': 'harvesterhci.io/v1beta1', 'kind': 'KeyPair', 'metadata': {'name': name, 'namespace': ns},
        'spec': {'publicKey': key}})
    assert status == 201, answer


def db_vm(ns, **kw):
    params = dict(name='db1', namespace=ns, hostname='db1', node_selector={'kubernetes.io/hostname': 'node1'},
                  ssh_keys=['admin'], user_data={'package_update': True},
                  interfaces=[lease_nic('default')], disks=[image_disk('rootdisk', 'ubuntu', boot_order=1)])
    params.update(kw)
    return params


def test_image_disk_key_pair_hostname_node_selector(cluster, namespace, api_rvs):
    make_image(cluster, namespace, 'ubuntu')
    make_key_pair(cluster, namespace, 'admin')
    result, _unused = call(cluster, vm_handler, VMX, **db_vm(namespace))
    assert result['changed'] and result['changes'][0]['action'] == 'create'

    stored = read(cluster, vm_path(namespace, 'db1'))  # a separate GET, not the module's answer
    claims = json.loads(stored['metadata']['annotations']['harvesterhci.io/volumeClaimTemplates'])
    assert claims == [{'metadata': {'name': 'db1-rootdisk',
                                    'annotations': {'harvesterhci.io/imageId': '%s/ubuntu' % namespace}},
                       'spec': {'accessModes': ['ReadWriteMany'], 'resources': {'requests': {'storage': '10Gi'}},
                                'storageClassName': 'longhorn-ubuntu', 'volumeMode': 'Block'}}]
    tspec = stored['spec']['template']['spec']
    assert tspec['volumes'][0] == {'name': 'rootdisk', 'persistentVolumeClaim': {'claimName': 'db1-rootdisk'}}
    assert tspec['domain']['devices']['disks'][0] == {'name': 'rootdisk', 'disk': {'bus': 'virtio'}, 'bootOrder': 1}
    assert tspec['hostname'] == 'db1' and tspec['nodeSelector'] == {'kubernetes.io/hostname': 'node1'}
    annotations = stored['spec']['template']['metadata']['annotations']
    assert json.loads(annotations['harvesterhci.io/sshNames']) == ['%s/admin' % namespace]
    assert 'harvesterhci.io/waitForLeaseInterfaceNames' not in annotations
    user_data = yaml.safe_load(tspec['volumes'][-1]['cloudInitNoCloud']['userData'])
    assert user_data == {'package_update': True, 'ssh_authorized_keys': [PUBLIC_KEY]}
    assert result['vm']['hostname'] == 'db1' and result['vm']['ssh_keys'] == ['%s/admin' % namespace]

    rvs = api_rvs(cluster)
    result, _unused = call(cluster, vm_handler, VMX, **db_vm(namespace))
    assert not result['changed'] and api_rvs(cluster) == rvs

    # check mode: a bigger disk and another node, predicted by a server-side dry run, nothing stored
    bigger = db_vm(namespace, disks=[image_disk('rootdisk', 'ubuntu', size='20Gi', boot_order=1)],
                   node_selector={'kubernetes.io/hostname': 'node2'})
    result, _unused = call(cluster, vm_handler, VMX, check=True, **bigger)
    assert result['changed'] and api_rvs(cluster) == rvs
    after = result['diff']['after']
    assert json.loads(after['metadata']['annotations']['harvesterhci.io/volumeClaimTemplates'])[0]['spec'][
        'resources'] == {'requests': {'storage': '20Gi'}}
    assert after['spec']['template']['spec']['nodeSelector'] == {'kubernetes.io/hostname': 'node2'}
    result, _unused = call(cluster, vm_handler, VMX, **bigger)
    assert result['changed']
    assert [k[0] for k in api_rvs.changed(rvs, api_rvs(cluster))] == ['VirtualMachine']
    stored = read(cluster, vm_path(namespace, 'db1'))
    assert stored['spec']['template']['spec']['nodeSelector'] == {'kubernetes.io/hostname': 'node2'}


def test_a_vm_made_in_harvesters_ui_is_left_alone(cluster, namespace, api_rvs):
    """Harvester's UI names the claim <vm>-<disk>-<random> and Go's json.Marshal writes creationTimestamp null and
    an empty status into each template: the module keeps the claim name and sees the same template."""
    make_image(cluster, namespace, 'ubuntu')
    make_key_pair(cluster, namespace, 'admin')
    call(cluster, vlan_network_handler, NET, name='vlan100', namespace=namespace, vlan_id=100)
    params = db_vm(namespace)
    result, _unused = call(cluster, vm_handler, VMX, check=True, **params)
    manifest = result['diff']['after']
    for key in ('uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'generation'):
        manifest['metadata'].pop(key, None)
    manifest['spec']['template']['spec']['volumes'][0]['persistentVolumeClaim']['claimName'] = 'db1-rootdisk-x7k2p'
    manifest['metadata']['annotations']['harvesterhci.io/volumeClaimTemplates'] = json.dumps([{
        'metadata': {'name': 'db1-rootdisk-x7k2p', 'creationTimestamp': None,
                     'annotations': {'harvesterhci.io/imageId': '%s/ubuntu' % namespace}},
        'spec': {'accessModes': ['ReadWriteMany'], 'resources': {'requests': {'storage': '10Gi'}},
                 'volumeMode': 'Block', 'storageClassName': 'longhorn-ubuntu'}, 'status': {}}])
    status, answer = cluster.request('POST', '/apis/kubevirt.io/v1/namespaces/%s/virtualmachines?fieldManager='
                                     'harvester' % namespace, manifest)
    assert status == 201, answer
    rvs = api_rvs(cluster)
    result, _unused = call(cluster, vm_handler, VMX, **params)
    assert not result['changed'] and api_rvs(cluster) == rvs


@pytest.mark.parametrize('change, field, message', [
    (dict(disks=[image_disk('rootdisk', 'nope')]), 'disks[0].image', 'VirtualMachineImage .*/nope does not exist'),
    (dict(disks=[image_disk('rootdisk', 'pending')]), 'disks[0].image', 'has no storage class yet'),
    (dict(disks=[image_disk('rootdisk', 'ubuntu', storage_class='fast')]), 'disks[0].storage_class',
     'uses storage class longhorn-ubuntu'),
    (dict(ssh_keys=['admin', 'ghost']), 'ssh_keys[1]', 'KeyPair .*/ghost does not exist'),
    (dict(user_data='#!/bin/sh\necho hi\n'), 'ssh_keys', 'ssh_keys need cloud-config user data'),
    (dict(disks=[disk('rootdisk', container_disk='img', claim_name='x', size='10Gi')]), 'disks[0].claim_name',
     'claim_name is for a disk from an image'),
    (dict(node_selector={'kubernetes.io/hostname': 'bad value!'}), 'node_selector', 'bad value!'),
    (dict(hostname='Not_A_Host'), 'hostname', 'DNS-1123'),
    (dict(disks=[image_disk('rootdisk', 'ubuntu', size='lots')]), 'disks[0].size', 'not a Kubernetes quantity'),
])
def test_bad_references_name_the_field_and_change_nothing(cluster, namespace, api_rvs, change, field, message):
    make_image(cluster, namespace, 'ubuntu')
    make_image(cluster, namespace, 'pending', storage_class=None)
    make_key_pair(cluster, namespace, 'admin')
    rvs = api_rvs(cluster)
    with pytest.raises(ValidationError, match=message) as info:
        call(cluster, vm_handler, VMX, **db_vm(namespace, **change))
    assert info.value.field == field
    assert api_rvs(cluster) == rvs and read(cluster, vm_path(namespace, 'db1')) is None


def test_wait_for_lease_waits_for_that_nic(cluster, namespace):
    call(cluster, vlan_network_handler, NET, name='vlan100', namespace=namespace, vlan_id=100)
    interfaces = [lease_nic('default'), lease_nic('nic-1', 'vlan100', wait_for_lease=True)]
    params = dict(name='web2', namespace=namespace, state='running', interfaces=interfaces, guest_agent=True,
                  user_data={}, disks=[disk('root', container_disk='img')], wait_timeout=3)
    # the VMI stand-in reports an IP only for the management NIC: the lease of nic-1 never comes
    start_vmi(cluster, namespace, 'web2', {'default': '10.52.0.9'})
    with pytest.raises(WaitTimeout, match='NIC nic-1 has no IP address yet') as info:
        call(cluster, vm_handler, VMX, **params)
    assert info.value.field == 'wait_timeout'
    stored = read(cluster, vm_path(namespace, 'web2'))
    assert json.loads(stored['spec']['template']['metadata']['annotations'][
        'harvesterhci.io/waitForLeaseInterfaceNames']) == ['nic-1']
    status, _unused = cluster.request('DELETE', vmi_path(namespace, 'web2'))
    assert status == 200
    start_vmi(cluster, namespace, 'web2', {'default': '10.52.0.9', 'nic-1': '192.168.100.20'})
    result, _unused = call(cluster, vm_handler, VMX, **params)
    assert not result['changed']
    assert [n['ip_address'] for n in result['vm']['interfaces']] == ['10.52.0.9', '192.168.100.20']


def hot_vm(ns, names, **kw):
    macs = {'default': '52:54:00:00:02:00', 'nic-1': '52:54:00:00:02:01', 'nic-2': '52:54:00:00:02:02'}
    interfaces = [nic(n, None if n == 'default' else 'vlan%d' % (100 + int(n[-1])), mac_address=macs[n])
                  for n in names]
    params = dict(name='hot', namespace=ns, state='running', interfaces=interfaces,
                  disks=[disk('root', container_disk='img')])
    params.update(kw)
    return params


def test_nic_hotplug_unplug_and_restart_on_change(cluster, namespace, api_rvs):
    for vid in (101, 102):
        call(cluster, vlan_network_handler, NET, name='vlan%d' % vid, namespace=namespace, vlan_id=vid)
    call(cluster, vm_handler, VMX, **hot_vm(namespace, ['default', 'nic-1']))
    start_vmi(cluster, namespace, 'hot', {'default': '10.52.0.7'})
    before = read(cluster, vm_path(namespace, 'hot'))
    cloud_before = before['spec']['template']['spec']['volumes'][-1]

    # without nic_hotplug: the change waits for a restart, said so, and the instance is left running
    result, _unused = call(cluster, vm_handler, VMX, check=True, **hot_vm(namespace, ['default', 'nic-1', 'nic-2']))
    assert result['changed'] and result['restart_required']
    assert read(cluster, vmi_path(namespace, 'hot')) is not None

    # hot-plug nic-2: appended, the cloud-init disk kept, nothing restarted
    three = hot_vm(namespace, ['default', 'nic-1', 'nic-2'], nic_hotplug=True)
    result, _unused = call(cluster, vm_handler, VMX, **three)
    assert result['changed'] and not result['restart_required']
    assert [c['kind'] for c in result['changes']] == ['VirtualMachine']
    stored = read(cluster, vm_path(namespace, 'hot'))['spec']['template']['spec']
    assert [i['name'] for i in stored['domain']['devices']['interfaces']] == ['default', 'nic-1', 'nic-2']
    assert stored['networks'][2] == {'name': 'nic-2', 'multus': {'networkName': '%s/vlan102' % namespace}}
    assert stored['volumes'][-1] == cloud_before
    assert read(cluster, vmi_path(namespace, 'hot')) is not None
    rvs = api_rvs(cluster)
    three = hot_vm(namespace, ['default', 'nic-1', 'nic-2'], nic_hotplug=True)
    result, _unused = call(cluster, vm_handler, VMX, **three)
    assert not result['changed'] and api_rvs(cluster) == rvs

    # hot-unplug nic-1: it stays in the spec with state absent, its network too; a re-run changes nothing
    result, _unused = call(cluster, vm_handler, VMX, **hot_vm(namespace, ['default', 'nic-2'], nic_hotplug=True))
    assert result['changed']
    stored = read(cluster, vm_path(namespace, 'hot'))['spec']['template']['spec']
    # in place, as Harvester's Remove NIC action marks it
    assert [i['name'] for i in stored['domain']['devices']['interfaces']] == ['default', 'nic-1', 'nic-2']
    unplugged = stored['domain']['devices']['interfaces'][1]
    assert unplugged['state'] == 'absent' and unplugged['bridge'] == {}
    assert [n['name'] for n in stored['networks']] == ['default', 'nic-1', 'nic-2']
    rvs = api_rvs(cluster)
    result, _unused = call(cluster, vm_handler, VMX, **hot_vm(namespace, ['default', 'nic-2'], nic_hotplug=True))
    assert not result['changed'] and api_rvs(cluster) == rvs

    # the management NIC cannot be hot-plugged, and every NIC needs a MAC: refused before any write
    no_mac = hot_vm(namespace, ['default', 'nic-2'], nic_hotplug=True)
    no_mac['interfaces'].append(nic('nic-3', 'vlan101'))
    with pytest.raises(ValidationError, match='needs a MAC address') as info:
        call(cluster, vm_handler, VMX, **no_mac)
    assert info.value.field == 'interfaces[2].mac_address' and api_rvs(cluster) == rvs

    # another MAC on a NIC the VM keeps is no hot-plug: it waits for a restart, said so
    other_mac = hot_vm(namespace, ['default', 'nic-2'], nic_hotplug=True)
    other_mac['interfaces'][1]['mac_address'] = '52:54:00:00:02:99'
    result, _unused = call(cluster, vm_handler, VMX, check=True, **other_mac)
    assert result['changed'] and result['restart_required']

    # restart_on_change: another CPU count restarts the instance (deleted, the controller would start a new one)
    bigger = hot_vm(namespace, ['default', 'nic-2'], cpu=2, nic_hotplug=True, restart_on_change=True)
    result, _unused = call(cluster, vm_handler, VMX, **bigger)
    assert [c['action'] for c in result['changes']] == ['update', 'delete'] and not result['restart_required']
    assert read(cluster, vmi_path(namespace, 'hot')) is None


def test_module_examples_run_with_ansible_playbook(cluster, namespace, tmp_path):
    """The vm module's two Harvester examples as written (only the namespace is the test's), through real
    ansible-playbook: the image disk, key pair, host name, node selector and lease wait, then a hot-plugged NIC."""
    from ansible_collections.harvester.network.plugins.modules import vm as vm_module
    tasks = yaml.safe_load(vm_module.EXAMPLES)[:2]
    for task in tasks:
        args = task['harvester.network.vm']
        args['namespace'] = namespace
        text = json.dumps(args).replace('"default/', '"%s/' % namespace)
        task['harvester.network.vm'] = json.loads(text)
    for vid in (100, 200):
        call(cluster, vlan_network_handler, NET, name='vlan%d' % vid, namespace=namespace, vlan_id=vid)
    make_image(cluster, namespace, 'ubuntu-22.04')
    make_key_pair(cluster, namespace, 'admin')
    start_vmi(cluster, namespace, 'db1', {'default': '10.52.0.11', 'nic-1': '192.168.100.11'})
    play = [{'name': 'vm examples', 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]
    proc = run_playbook(cluster, tmp_path, yaml.safe_dump(play, sort_keys=False))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'changed=2' in proc.stdout and 'failed=0' in proc.stdout
    stored = read(cluster, vm_path(namespace, 'db1'))
    tspec = stored['spec']['template']['spec']
    assert [i['name'] for i in tspec['domain']['devices']['interfaces']] == ['default', 'nic-1', 'nic-2']
    assert tspec['volumes'][0]['persistentVolumeClaim'] == {'claimName': 'db1-rootdisk'}
    assert json.loads(stored['metadata']['annotations']['harvesterhci.io/volumeClaimTemplates'])[0]['spec'][
        'storageClassName'] == 'longhorn-ubuntu-22.04'
    assert read(cluster, vmi_path(namespace, 'db1')) is not None  # hot-plugged: not restarted
