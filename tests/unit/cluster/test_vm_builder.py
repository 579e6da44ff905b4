"""Pure VM / Service builders and the VM input normalisation (no cluster)."""

import pytest
import yaml

from ansible_collections.harvester.network.plugins.module_utils.cluster import vm_builder, vms
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ValidationError


def vm_params(**kw):
    params = {'name': 'web1', 'namespace': 'default', 'state': 'present', 'run_strategy': None, 'description': None,
              'labels': None, 'cpu': 2, 'memory': '2Gi', 'interfaces': [
                  {'name': 'default', 'network': None, 'type': None, 'model': 'virtio', 'mac_address': None,
                   'boot_order': None, 'guest_name': None, 'ip_mode': 'dhcp', 'addresses': None, 'gateway': None,
                   'dns': None},
                  {'name': 'nic-1', 'network': 'vlan100', 'type': None, 'model': 'e1000', 'mac_address': '52:54:00:AA:00:01',
                   'boot_order': None, 'guest_name': None, 'ip_mode': 'static', 'addresses': ['192.168.100.10/24'],
                   'gateway': '192.168.100.1', 'dns': ['192.168.100.2']}],
              'disks': [{'name': 'root', 'container_disk': 'img:1', 'pvc': None, 'data_volume': None, 'device': 'disk',
                         'bus': None, 'boot_order': 1}],
              'user_data': {'password': 'x'}, 'guest_agent': True, 'network_data': None, 'network_data_version': 1,
              'wait': False, 'wait_for_ips': False, 'wait_timeout': 300}
    params.update(kw)
    return params


def test_vm_manifest_layout():
    manifest, nics = vms.build_vm_spec(vm_params())
    spec = manifest['spec']
    assert spec['runStrategy'] == 'RerunOnFailure'
    template = spec['template']
    assert template['metadata']['labels'] == {'harvesterhci.io/vmName': 'web1'}
    tspec = template['spec']
    assert tspec['networks'] == [{'name': 'default', 'pod': {}},
                                 {'name': 'nic-1', 'multus': {'networkName': 'default/vlan100'}}]
    interfaces = tspec['domain']['devices']['interfaces']
    assert interfaces[0] == {'name': 'default', 'model': 'virtio', 'masquerade': {}}
    assert interfaces[1] == {'name': 'nic-1', 'model': 'e1000', 'macAddress': '52:54:00:aa:00:01', 'bridge': {}}
    assert tspec['domain']['cpu'] == {'cores': 2, 'sockets': 1, 'threads': 1}
    assert tspec['domain']['resources'] == {'limits': {'cpu': '2', 'memory': '2Gi'}}
    assert tspec['volumes'][0] == {'name': 'root', 'containerDisk': {'image': 'img:1'}}
    cloud = tspec['volumes'][1]['cloudInitNoCloud']
    user = yaml.safe_load(cloud['userData'])
    assert 'qemu-guest-agent' in user['packages']
    network = yaml.safe_load(cloud['networkData'])
    assert [c['name'] for c in network['config']] == ['enp1s0', 'enp2s0']
    assert tspec['domain']['devices']['disks'] == [
        {'name': 'root', 'disk': {'bus': 'virtio'}, 'bootOrder': 1},
        {'name': 'cloudinitdisk', 'disk': {'bus': 'virtio'}}]
    assert [n['binding'] for n in nics] == ['masquerade', 'bridge']


def test_single_dhcp_nic_gets_no_network_data():
    params = vm_params(interfaces=vm_params()['interfaces'][:1], user_data=None, guest_agent=False)
    manifest, _unused = vms.build_vm_spec(params)
    volumes = manifest['spec']['template']['spec']['volumes']
    assert all('cloudInitNoCloud' not in v for v in volumes)


def test_network_data_v2_and_given_network_data():
    manifest, _unused = vms.build_vm_spec(vm_params(network_data_version=2))
    data = yaml.safe_load(manifest['spec']['template']['spec']['volumes'][1]['cloudInitNoCloud']['networkData'])
    assert data['version'] == 2 and set(data['ethernets']) == {'default', 'nic-1'}
    manifest, _unused = vms.build_vm_spec(vm_params(network_data={'version': 1, 'config': []}))
    data = yaml.safe_load(manifest['spec']['template']['spec']['volumes'][1]['cloudInitNoCloud']['networkData'])
    assert data == {'version': 1, 'config': []}


@pytest.mark.parametrize('state, wanted, existing, expected', [
    ('present', None, None, 'RerunOnFailure'),
    ('present', None, 'Halted', 'Halted'),
    ('present', 'Manual', 'Halted', 'Manual'),
    ('running', None, 'Halted', 'RerunOnFailure'),
    ('running', None, 'Always', 'Always'),
    ('running', 'Always', None, 'Always'),
    ('stopped', None, 'Always', 'Halted'),
    ('restarted', None, 'Always', 'Always'),
])
def test_run_strategy(state, wanted, existing, expected):
    existing_obj = {'spec': {'runStrategy': existing}} if existing else None
    assert vms.run_strategy({'state': state, 'run_strategy': wanted}, existing_obj) == expected


def nic(**kw):
    base = {'name': 'nic-1', 'network': 'vlan100', 'type': None, 'model': 'virtio', 'mac_address': None,
            'boot_order': None, 'guest_name': None, 'ip_mode': 'dhcp', 'addresses': None, 'gateway': None, 'dns': None}
    base.update(kw)
    return base


@pytest.mark.parametrize('kw, field, words', [
    ({'state': 'running', 'run_strategy': 'Halted'}, 'run_strategy', 'keeps the VM running'),
    ({'state': 'stopped', 'run_strategy': 'Always'}, 'run_strategy', 'Halted'),
    ({'name': 'Web_1'}, 'name', 'DNS-1123'),
    ({'memory': 'lots'}, 'memory', 'quantity'),
    ({'cpu': 0}, 'cpu', 'at least 1'),
    ({'interfaces': [nic(type='masquerade')]}, 'interfaces[0].type', 'masquerade works only'),
    ({'interfaces': [nic(network=None, name='a'), nic(network=None, name='b')]}, 'interfaces', 'at most one management'),
    ({'interfaces': [nic(), nic()]}, 'interfaces[].name', 'more than one'),
    ({'interfaces': [nic(mac_address='zz')]}, 'interfaces[0].mac_address', 'six hex pairs'),
    ({'interfaces': [nic(ip_mode='static')]}, 'interfaces[0].addresses', 'needs addresses'),
    ({'interfaces': [nic(ip_mode='static', addresses=['10.0.0.0/24'])]}, 'interfaces[0].addresses[0]', 'network address'),
    ({'interfaces': [nic(ip_mode='static', addresses=['10.0.0.5/24'], gateway='10.1.0.1')]}, 'interfaces[0].gateway',
     'outside'),
    ({'interfaces': [nic(gateway='10.0.0.1')]}, 'interfaces[0].ip_mode', 'need ip_mode=static'),
    ({'interfaces': [nic(dns=['nope'])]}, 'interfaces[0].dns[0]', 'not an IP'),
    ({'interfaces': [nic(network='Bad/Name')]}, 'interfaces[0].network', 'DNS-1123'),
    ({'disks': [{'name': 'cloudinitdisk', 'container_disk': 'x'}]}, 'disks[0].name', 'reserved'),
    ({'disks': [{'name': 'a', 'container_disk': 'x', 'pvc': 'y'}]}, 'disks[0]', 'exactly one'),
    ({'user_data': '#!/bin/sh\n', 'guest_agent': True}, 'user_data', 'needs cloud-config'),
])
def test_vm_refusals(kw, field, words):
    with pytest.raises(ValidationError) as info:
        vms.build_vm_spec(vm_params(**kw))
    assert info.value.field == field
    assert words in str(info.value)


def test_service_manifest():
    svc = vm_builder.service({'name': 's', 'namespace': 'lab', 'vm': 'web1', 'type': 'NodePort',
                              'ports': [{'name': 'ssh', 'port': 22, 'target_port': None, 'protocol': 'TCP',
                                         'node_port': 30022}]})
    assert svc['spec'] == {'type': 'NodePort', 'selector': {'harvesterhci.io/vmName': 'web1'},
                           'ports': [{'name': 'ssh', 'port': 22, 'protocol': 'TCP', 'targetPort': 22, 'nodePort': 30022}]}


@pytest.mark.parametrize('params, field', [
    ({'ports': [{'port': 70000}]}, 'ports[0].port'),
    ({'ports': [{'port': 22, 'node_port': 30022}]}, 'ports[0].node_port'),
    ({'type': 'NodePort', 'ports': [{'port': 22, 'node_port': 80}]}, 'ports[0].node_port'),
    ({'ports': [{'port': 22}, {'port': 23}]}, 'ports[0].name'),
    ({'ports': [{'port': 22, 'target_port': 'Not A Name'}]}, 'ports[0].target_port'),
    ({'ports': []}, 'ports'),
    ({'vm': None}, 'vm'),
    ({'cluster_ip': '10.0.0.999'}, 'cluster_ip'),
])
def test_service_refusals(params, field):
    base = {'name': 's', 'namespace': 'default', 'vm': 'web1', 'type': 'ClusterIP', 'state': 'present',
            'cluster_ip': None, 'ports': [{'port': 22}]}
    base.update(params)
    with pytest.raises(ValidationError) as info:
        vms.validate_service(base)
    assert info.value.field == field


def test_vm_facts_from_vmi():
    manifest, _unused = vms.build_vm_spec(vm_params())
    vmi = {'status': {'phase': 'Running', 'nodeName': 'n1', 'conditions': [{'type': 'Ready', 'status': 'True'}],
                      'interfaces': [{'name': 'default', 'ipAddress': '10.52.0.7', 'mac': '52:54:00:00:00:09'},
                                     {'name': 'nic-1', 'ipAddress': '192.168.100.10',
                                      'ipAddresses': ['192.168.100.10', 'fe80::1'], 'interfaceName': 'enp2s0'}]}}
    facts = vm_builder.vm_facts(manifest, vmi)
    assert facts['phase'] == 'Running' and facts['ready'] is True and facts['node'] == 'n1'
    assert facts['interfaces'][1]['network'] == 'default/vlan100'
    assert facts['interfaces'][1]['ip_addresses'] == ['192.168.100.10', 'fe80::1']
    assert facts['interfaces'][1]['mac'] == '52:54:00:aa:00:01'
    assert facts['interfaces'][0]['management'] is True
    assert vm_builder.vm_facts(manifest)['phase'] == 'Stopped'


def test_wait_for_vm_times_out_with_reason():
    class Svc:
        def get(self, kind, name, namespace):
            return {'status': {'phase': 'Running', 'conditions': [{'type': 'Ready', 'status': 'True'}],
                               'interfaces': [{'name': 'default', 'ipAddress': '10.0.0.5'}]}}
    clock = iter([0, 1, 2, 400])
    nics = [{'name': 'default', 'ip_mode': 'dhcp'}, {'name': 'nic-1', 'ip_mode': 'dhcp'}]
    with pytest.raises(Exception) as info:
        vms.wait_for_vm(Svc(), {'name': 'v', 'namespace': 'd', 'state': 'running', 'wait_for_ips': True}, nics, 300,
                        sleep=lambda s: None, clock=lambda: next(clock))
    assert 'NIC nic-1 has no IP address yet' in str(info.value)
    clock = iter([0, 1])
    vmi = vms.wait_for_vm(Svc(), {'name': 'v', 'namespace': 'd', 'state': 'running', 'wait_for_ips': False}, nics, 300,
                          sleep=lambda s: None, clock=lambda: next(clock))
    assert vmi['status']['phase'] == 'Running'


def test_image_disk_claim_template_key_pairs_hostname_node_selector():
    disks = [{'name': 'rootdisk', 'container_disk': None, 'pvc': None, 'data_volume': None, 'image': 'ubuntu',
              'size': '20Gi', 'storage_class': None, 'volume_mode': 'Block', 'access_mode': 'ReadWriteMany',
              'claim_name': None, 'device': 'disk', 'bus': None, 'boot_order': 1}]
    lookups = {'storage_classes': {'default/ubuntu': 'lh-1234'}, 'public_keys': {'default/admin': 'ssh-ed25519 AAAA a@b'}}
    params = vm_params(disks=disks, ssh_keys=['admin'], hostname='web1', node_selector={'zone': 'a'})
    manifest, _unused = vms.build_vm_spec(params, None, lookups)
    # Go's json.Marshal order and compactness (harvester/harvester pkg/builder/disk.go PVCVolume)
    assert manifest['metadata']['annotations']['harvesterhci.io/volumeClaimTemplates'] == (
        '[{"metadata":{"name":"web1-rootdisk","annotations":{"harvesterhci.io/imageId":"default/ubuntu"}},'
        '"spec":{"accessModes":["ReadWriteMany"],"resources":{"requests":{"storage":"20Gi"}},'
        '"storageClassName":"lh-1234","volumeMode":"Block"}}]')
    template = manifest['spec']['template']
    assert template['spec']['volumes'][0] == {'name': 'rootdisk', 'persistentVolumeClaim': {'claimName': 'web1-rootdisk'}}
    assert template['metadata']['annotations'] == {'harvesterhci.io/sshNames': '["default/admin"]'}
    assert template['spec']['hostname'] == 'web1' and template['spec']['nodeSelector'] == {'zone': 'a'}
    user_data = yaml.safe_load(template['spec']['volumes'][-1]['cloudInitNoCloud']['userData'])
    assert user_data['ssh_authorized_keys'] == ['ssh-ed25519 AAAA a@b']
    # the claim an existing VM's volume names (a UI-made VM has a random suffix) is kept
    existing = {'spec': {'template': {'spec': {'volumes': [
        {'name': 'rootdisk', 'persistentVolumeClaim': {'claimName': 'web1-rootdisk-x7k2p'}}]}}}}
    manifest, _unused = vms.build_vm_spec(params, existing, lookups)
    assert manifest['spec']['template']['spec']['volumes'][0]['persistentVolumeClaim'] == {
        'claimName': 'web1-rootdisk-x7k2p'}
    # no options, no annotations: VMs made before these options stay unchanged
    manifest, _unused = vms.build_vm_spec(vm_params())
    assert 'annotations' not in manifest['spec']['template']['metadata']
    assert 'hostname' not in manifest['spec']['template']['spec']


def test_authorized_keys_merged_into_cloud_config():
    from ansible_collections.harvester.network.plugins.module_utils.cluster import cloudinit
    text = cloudinit.user_data_text('user_data', {'ssh_authorized_keys': ['ssh-rsa OLD x']}, False,
                                    ['ssh-rsa OLD x', 'ssh-ed25519 NEW y'])
    assert yaml.safe_load(text)['ssh_authorized_keys'] == ['ssh-rsa OLD x', 'ssh-ed25519 NEW y']
    assert yaml.safe_load(cloudinit.user_data_text('user_data', None, False, ['k']))['ssh_authorized_keys'] == ['k']
    with pytest.raises(ValidationError) as info:
        cloudinit.user_data_text('user_data', '#!/bin/sh\n', False, ['k'])
    assert info.value.field == 'ssh_keys'


def test_wait_for_lease_waits_only_for_those_nics():
    class Svc:
        def get(self, kind, name, namespace):
            return {'status': {'phase': 'Running', 'conditions': [{'type': 'Ready', 'status': 'True'}],
                               'interfaces': [{'name': 'default', 'ipAddress': '10.0.0.5'},
                                              {'name': 'nic-2', 'ipAddresses': ['fd00::5']}]}}
    nics = [{'name': 'default', 'ip_mode': 'dhcp'}, {'name': 'nic-1', 'ip_mode': 'dhcp', 'wait_for_lease': True}]
    clock = iter([0, 1, 2, 400])
    with pytest.raises(Exception, match='NIC nic-1 has no IP address yet'):
        vms.wait_for_vm(Svc(), {'name': 'v', 'namespace': 'd', 'state': 'running'}, nics, 300,
                        sleep=lambda s: None, clock=lambda: next(clock))
    nics[1]['name'] = 'nic-2'  # an address in ipAddresses only counts too
    clock = iter([0, 1])
    assert vms.wait_for_vm(Svc(), {'name': 'v', 'namespace': 'd', 'state': 'running'}, nics, 300,
                           sleep=lambda s: None, clock=lambda: next(clock)) is not None
