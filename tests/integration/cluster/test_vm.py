"""vm, vm_info and vm_service against a real kube-apiserver.

No KubeVirt controller runs in the bed: the tests play its part where needed (defaults and annotations written by
another field manager, a VirtualMachineInstance with status) to prove idempotence and the waits.
"""

import threading
import time

import pytest
import yaml

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import Cluster
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ValidationError, WaitTimeout
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import vlan_network_handler
from ansible_collections.harvester.network.plugins.module_utils.cluster.vms import (
    vm_handler, vm_info_handler, vm_service_handler)

from testbeds.cluster.handlers import AUTH_DEFAULTS, ModuleStandIn, call, read, run_playbook


NET = dict(name=None, namespace='default', cluster_network='mgmt', network_type='vlan', vlan_id=None, mtu=None,
           route=None, description=None, networks=None, prune=False, allow_duplicate_vids=False, state='present')
VM = dict(name=None, namespace='default', state='present', run_strategy=None, description=None, labels=None, cpu=1,
          memory='1Gi', interfaces=None, disks=None, user_data=None, guest_agent=False, network_data=None,
          network_data_version=1, wait=False, wait_for_ips=False, wait_timeout=300)
INFO = dict(name=None, namespace=None, label_selector=None)
SVC = dict(name=None, namespace='default', vm=None, type='ClusterIP', cluster_ip=None, ports=None, state='present')


def nic(name, network=None, **kw):
    base = dict(name=name, network=network, type=None, model='virtio', mac_address=None, boot_order=None,
                guest_name=None, ip_mode='dhcp', addresses=None, gateway=None, dns=None)
    base.update(kw)
    return base


def disk(name, **kw):
    base = dict(name=name, container_disk=None, pvc=None, data_volume=None, device='disk', bus=None, boot_order=None)
    base.update(kw)
    return base


def vm_path(ns, name):
    return '/apis/kubevirt.io/v1/namespaces/%s/virtualmachines/%s' % (ns, name)


def vmi_path(ns, name=None):
    return '/apis/kubevirt.io/v1/namespaces/%s/virtualmachineinstances%s' % (ns, '/' + name if name else '')


def web_vm(ns, **kw):
    params = dict(name='web1', namespace=ns, cpu=2, memory='2Gi', guest_agent=True,
                  user_data={'password': 'secret', 'chpasswd': {'expire': False}},
                  interfaces=[nic('default'), nic('nic-1', 'vlan100', mac_address='52:54:00:00:01:01', ip_mode='static',
                                                  addresses=['192.168.100.10/24'], gateway='192.168.100.1')],
                  disks=[disk('root', container_disk='quay.io/containerdisks/ubuntu:22.04', boot_order=1)])
    params.update(kw)
    return params


def start_vmi(server, ns, name, ips):
    """Play virt-controller + guest agent: a Ready VMI whose NICs report the given IPs."""
    status, body = server.request('POST', vmi_path(ns), {
        'apiVersion': 'kubevirt.io/v1', 'kind': 'VirtualMachineInstance', 'metadata': {'name': name, 'namespace': ns},
        'spec': {'domain': {'devices': {'interfaces': [{'name': 'default', 'masquerade': {}}]}},
                 'networks': [{'name': 'default', 'pod': {}}]}})
    assert status == 201, body
    body['status'] = {'phase': 'Running', 'nodeName': 'node1', 'conditions': [{'type': 'Ready', 'status': 'True'}],
                      'interfaces': [{'name': n, 'ipAddress': ip, 'ipAddresses': [ip], 'mac': '52:54:00:00:00:%02d' % i}
                                     for i, (n, ip) in enumerate(sorted(ips.items()))]}
    status, body = server.request('PUT', vmi_path(ns, name) + '/status', body)
    assert status == 200, body


def test_vm_lifecycle_idempotent_against_controller_additions(cluster, namespace, api_rvs):
    call(cluster, vlan_network_handler, NET, name='vlan100', namespace=namespace, vlan_id=100)
    result, _unused = call(cluster, vm_handler, VM, **web_vm(namespace))
    assert result['changed'] and result['changes'][0]['action'] == 'create'
    stored = read(cluster, vm_path(namespace, 'web1'))
    tspec = stored['spec']['template']['spec']
    assert tspec['networks'][1] == {'name': 'nic-1', 'multus': {'networkName': '%s/vlan100' % namespace}}
    assert tspec['domain']['devices']['interfaces'][0] == {'name': 'default', 'model': 'virtio', 'masquerade': {}}
    assert tspec['domain']['devices']['interfaces'][1]['bridge'] == {}
    cloud = tspec['volumes'][-1]['cloudInitNoCloud']
    assert 'qemu-guest-agent' in yaml.safe_load(cloud['userData'])['packages']
    assert len(yaml.safe_load(cloud['networkData'])['config']) == 2
    assert stored['spec']['template']['metadata']['labels'] == {'harvesterhci.io/vmName': 'web1'}

    # what KubeVirt's webhooks and controller add afterwards (kubevirt.core#145 reported these as changes)
    patch = {'metadata': {'annotations': {'kubevirt.io/latest-observed-api-version': 'v1',
                                          'kubevirt.io/storage-observed-api-version': 'v1'},
                          'finalizers': ['kubevirt.io/virtualMachineControllerFinalize']},
             'spec': {'template': {'spec': {'domain': {'machine': {'type': 'q35'}, 'firmware': {'uuid': 'abc'},
                                                       'features': {'acpi': {'enabled': True}}}}}}}
    status, _unused = cluster.request('PATCH', vm_path(namespace, 'web1') + '?fieldManager=virt-controller', patch,
                                      headers={'Content-Type': 'application/merge-patch+json'})
    assert status == 200
    status, _unused = cluster.request('PATCH', vm_path(namespace, 'web1') + '/status?fieldManager=virt-controller',
                                      {'status': {'printableStatus': 'Starting', 'created': True}},
                                      headers={'Content-Type': 'application/merge-patch+json'})
    assert status == 200
    rvs = api_rvs(cluster)
    result, log = call(cluster, vm_handler, VM, **web_vm(namespace))
    assert not result['changed'] and api_rvs(cluster) == rvs

    before = read(cluster, vm_path(namespace, 'web1'))
    result, _unused = call(cluster, vm_handler, VM, check=True, **web_vm(namespace, cpu=4))
    assert result['changed']
    assert result['diff']['after']['spec']['template']['spec']['domain']['cpu']['cores'] == 4
    assert read(cluster, vm_path(namespace, 'web1'))['metadata']['resourceVersion'] == before['metadata']['resourceVersion']

    result, _unused = call(cluster, vm_handler, VM, **web_vm(namespace, cpu=4))
    assert result['changed']
    after = read(cluster, vm_path(namespace, 'web1'))
    assert after['spec']['template']['spec']['domain']['cpu']['cores'] == 4
    # the controller's fields survive our apply
    assert after['spec']['template']['spec']['domain']['machine'] == {'type': 'q35'}

    result, _unused = call(cluster, vm_handler, VM, **web_vm(namespace, cpu=4, state='stopped'))
    assert result['changed'] and read(cluster, vm_path(namespace, 'web1'))['spec']['runStrategy'] == 'Halted'
    rvs = api_rvs(cluster)
    result, log = call(cluster, vm_handler, VM, **web_vm(namespace, cpu=4, state='stopped'))
    assert not result['changed'] and api_rvs(cluster) == rvs

    result, _unused = call(cluster, vm_handler, VM, name='web1', namespace=namespace, state='absent')
    assert result['changed']
    # the VM carries the controller's finalizer: it is marked for deletion (no controller here to finish it)
    gone = read(cluster, vm_path(namespace, 'web1'))
    assert gone is None or gone['metadata'].get('deletionTimestamp')
    # play virt-controller finishing the delete: until the VM is gone, Harvester's webhook keeps its network
    status, _unused = cluster.request('PATCH', vm_path(namespace, 'web1'), {'metadata': {'finalizers': None}},
                                      headers={'Content-Type': 'application/merge-patch+json'})
    assert status in (200, 404)


def test_running_waits_for_ready_and_ips_then_info_and_restart(cluster, namespace):
    call(cluster, vlan_network_handler, NET, name='vlan100', namespace=namespace, vlan_id=100)
    timer = threading.Timer(2.0, start_vmi, (cluster, namespace, 'web1',
                                             {'default': '10.52.0.9', 'nic-1': '192.168.100.10'}))
    timer.start()
    started = time.monotonic()
    result, _unused = call(cluster, vm_handler, VM, **web_vm(namespace, state='running', wait=True, wait_for_ips=True, wait_timeout=60))
    timer.join()
    assert time.monotonic() - started >= 2.0
    assert result['vm']['ready'] and result['vm']['phase'] == 'Running'
    assert [n['ip_address'] for n in result['vm']['interfaces']] == ['10.52.0.9', '192.168.100.10']
    assert read(cluster, vm_path(namespace, 'web1'))['spec']['runStrategy'] == 'RerunOnFailure'

    info, log = call(cluster, vm_info_handler, INFO, namespace=namespace)
    assert len(log) == 3  # discovery + LIST VMs + LIST VMIs
    facts = info['vms'][0]
    assert facts['name'] == 'web1' and facts['node'] == 'node1'
    assert facts['interfaces'][1] == {
        'name': 'nic-1', 'network': '%s/vlan100' % namespace, 'management': False, 'binding': 'bridge',
        'model': 'virtio', 'mac': '52:54:00:00:00:01', 'ip_address': '192.168.100.10',
        'ip_addresses': ['192.168.100.10'], 'guest_interface': None, 'state': None}

    # restarted: the running instance is deleted so the controller starts a fresh one
    result, _unused = call(cluster, vm_handler, VM, check=True, **web_vm(namespace, state='restarted'))
    assert result['changed'] and read(cluster, vmi_path(namespace, 'web1')) is not None
    result, _unused = call(cluster, vm_handler, VM, **web_vm(namespace, state='restarted'))
    assert result['changed'] and [c['action'] for c in result['changes']] == ['delete']
    assert read(cluster, vmi_path(namespace, 'web1')) is None


def test_wait_times_out_with_a_reason(cluster, namespace):
    with pytest.raises(WaitTimeout, match='timed out after 3s waiting for VM .*/lonely: the VM never got a'):
        call(cluster, vm_handler, VM, name='lonely', namespace=namespace, state='running', wait=True, wait_timeout=3,
             interfaces=[nic('default')], disks=[disk('root', container_disk='img')])


def test_missing_network_refused_before_writing(cluster, namespace):
    with pytest.raises(ValidationError, match='NetworkAttachmentDefinition %s/nope does not exist' % namespace) as info:
        call(cluster, vm_handler, VM, name='vm2', namespace=namespace,
             interfaces=[nic('default'), nic('nic-1', 'nope')])
    assert info.value.field == 'interfaces[1].network'
    assert read(cluster, vm_path(namespace, 'vm2')) is None


def test_vm_service(cluster, namespace, api_rvs):
    ports = [dict(name='ssh', port=22, target_port=None, protocol='TCP', node_port=30122),
             dict(name='web', port=80, target_port='8080', protocol='TCP', node_port=None)]
    result, _unused = call(cluster, vm_service_handler, SVC, name='web1-svc', namespace=namespace, vm='web1', type='NodePort',
                           ports=ports)
    assert result['changed']
    svc = result['service']
    assert svc['selector'] == {'harvesterhci.io/vmName': 'web1'}
    assert svc['cluster_ip'].startswith('10.0.0.')
    assert svc['ports'][0]['nodePort'] == 30122 and 30000 <= svc['ports'][1]['nodePort'] <= 32767
    assert svc['ports'][1]['targetPort'] == 8080
    rvs = api_rvs(cluster)
    result, log = call(cluster, vm_service_handler, SVC, name='web1-svc', namespace=namespace, vm='web1',
                       type='NodePort', ports=ports)
    assert not result['changed'] and api_rvs(cluster) == rvs and result['service']['cluster_ip'] == svc['cluster_ip']
    path = '/api/v1/namespaces/%s/services/web1-svc' % namespace
    before = read(cluster, path)
    result, _unused = call(cluster, vm_service_handler, SVC, check=True, name='web1-svc', namespace=namespace, vm='web1',
                           type='ClusterIP', ports=[dict(ports[0], node_port=None)])
    assert result['changed'] and read(cluster, path)['metadata']['resourceVersion'] == before['metadata']['resourceVersion']
    result, _unused = call(cluster, vm_service_handler, SVC, name='web1-svc', namespace=namespace, vm='web1',
                           type='ClusterIP', ports=[dict(ports[0], node_port=None)])
    assert result['changed']
    stored = read(cluster, path)
    assert stored['spec']['type'] == 'ClusterIP' and 'nodePort' not in stored['spec']['ports'][0]
    assert stored['spec']['clusterIP'] == svc['cluster_ip']
    result, _unused = call(cluster, vm_service_handler, SVC, name='web1-svc', namespace=namespace, state='absent')
    assert result['changed'] and read(cluster, path) is None


def test_vm_service_warns_when_vm_missing(cluster, namespace):
    full = dict(AUTH_DEFAULTS, kubeconfig=cluster.kubeconfig)
    full.update(SVC)
    full.update(name='s', namespace=namespace, vm='ghost',
                ports=[dict(name=None, port=22, target_port=None, protocol='TCP', node_port=None)])
    module = ModuleStandIn()
    vm_service_handler(full, Cluster(full), module)
    assert 'VM %s/ghost does not exist' % namespace in module.warnings[0]


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    ns: NAMESPACE
    vm: &vm
      name: pbvm
      namespace: NAMESPACE
      cpu: 1
      memory: 1Gi
      guest_agent: true
      user_data: {password: pw}
      network_data_version: 2
      interfaces:
        - {name: default}
        - {name: nic-1, network: vlan200, ip_mode: static, addresses: [10.20.0.5/24], gateway: 10.20.0.1}
      disks:
        - {name: root, container_disk: quay.io/containerdisks/fedora:40}
  tasks:
    - harvester.network.vlan_network: {name: vlan200, namespace: "{{ ns }}", cluster_network: mgmt, vlan_id: 200}
    - name: create
      harvester.network.vm: *vm
      register: create
    - name: re-run
      harvester.network.vm: *vm
      register: rerun
    - name: check mode update with diff
      harvester.network.vm: "{{ vm_params | combine({'memory': '2Gi'}) }}"
      vars:
        vm_params: *vm
      check_mode: true
      diff: true
      register: check
    - name: read back
      harvester.network.vm_info: {name: pbvm, namespace: "{{ ns }}"}
      register: info_after_check
    - name: update
      harvester.network.vm: "{{ vm_params | combine({'memory': '2Gi', 'state': 'stopped'}) }}"
      vars:
        vm_params: *vm
      diff: true
      register: update
    - name: service
      harvester.network.vm_service:
        name: pbvm-ssh
        namespace: "{{ ns }}"
        vm: pbvm
        type: NodePort
        ports: [{name: ssh, port: 22}]
      register: svc
    - harvester.network.vm_service:
        name: pbvm-ssh
        namespace: "{{ ns }}"
        vm: pbvm
        type: NodePort
        ports: [{name: ssh, port: 22}]
      register: svc_rerun
    - harvester.network.vm_service:
        name: pbvm-ssh
        namespace: "{{ ns }}"
        vm: pbvm
        type: NodePort
        ports: [{name: ssh, port: 2222, target_port: 22}]
      check_mode: true
      diff: true
      register: svc_check
    - harvester.network.vm_service:
        name: pbvm-ssh
        namespace: "{{ ns }}"
        vm: pbvm
        type: NodePort
        ports: [{name: ssh, port: 2222, target_port: 22}]
      register: svc_update
    - harvester.network.vm_service: {name: pbvm-ssh, namespace: "{{ ns }}", state: absent}
      register: svc_delete
    - name: delete
      harvester.network.vm: {name: pbvm, namespace: "{{ ns }}", state: absent}
      register: delete
    - harvester.network.vm_info: {namespace: "{{ ns }}"}
      register: final
    - ansible.builtin.assert:
        that:
          - create is changed
          - rerun is not changed
          - check is changed
          - check.diff.after.spec.template.spec.domain.resources.limits.memory == '2Gi'
          - check.diff.before.spec.template.spec.domain.resources.limits.memory == '1Gi'
          - info_after_check.vms[0].run_strategy == 'RerunOnFailure'
          - update is changed and update.vm.run_strategy == 'Halted'
          - update.vm.interfaces[1].network == ns ~ '/vlan200'
          - svc is changed and svc.service.ports[0].nodePort >= 30000
          - svc_rerun is not changed
          - svc_check is changed and svc_check.diff.after.spec.ports[0].port == 2222
          - svc_update is changed and svc_update.service.ports[0].port == 2222
          - svc_delete is changed
          - delete is changed
          - final.vms == []
"""


def test_playbook(cluster, namespace, tmp_path):
    proc = run_playbook(cluster, tmp_path, PLAYBOOK.replace('NAMESPACE', namespace))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_check_mode_warns_about_a_network_an_earlier_task_would_create(cluster, namespace):
    full = dict(AUTH_DEFAULTS, kubeconfig=cluster.kubeconfig)
    full.update(VM)
    full.update(name='vm3', namespace=namespace, interfaces=[nic('default'), nic('nic-1', 'later')])
    module = ModuleStandIn(check_mode=True)
    result = vm_handler(full, Cluster(full, check_mode=True), module)
    assert result['changed'] and 'NetworkAttachmentDefinition %s/later does not exist (yet)' % namespace in module.warnings[0]
    assert read(cluster, vm_path(namespace, 'vm3')) is None
