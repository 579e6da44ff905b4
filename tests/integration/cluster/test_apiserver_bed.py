"""Proof that the cluster test bed is a real API server that validates what it is sent.

- an object written by the ``kubernetes`` DynamicClient is read back by a second process, a real
  ``ansible-playbook`` run using ``ansible.builtin.uri`` with the client certificate of the kubeconfig;
- objects that violate the CRD schemas are refused with HTTP 422, unknown fields are pruned;
- the legacy profile serves NodeNetwork (and the v0.3 ClusterNetwork), the current one VlanConfig;
- the command line starts a detached bed whose certificate carries --tls-san, and ``down`` removes it.
"""

import base64
import json
import os
import socket
import ssl
import subprocess
import sys

import pytest
import yaml
from cryptography import x509
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from testbeds.cluster import load_crds
from testbeds.cluster.harvester import BYPASS_LABEL
from testbeds.common import REPO_ROOT

HARVESTER_GV = 'network.harvesterhci.io/v1beta1'
NAD_CONFIG = {'cniVersion': '0.3.1', 'name': 'vlan100', 'type': 'bridge', 'bridge': 'mgmt-br',
              'promiscMode': True, 'vlan': 100, 'ipam': {}}

PLAYBOOK = """\
- name: Read a NetworkAttachmentDefinition with nothing but HTTPS and a client certificate
  hosts: localhost
  gather_facts: false
  tasks:
    - name: GET the object from the API server
      ansible.builtin.uri:
        url: "{{ server }}/apis/k8s.cni.cncf.io/v1/namespaces/{{ namespace }}/network-attachment-definitions/{{ name }}"
        method: GET
        client_cert: "{{ cert_dir }}/client.crt"
        client_key: "{{ cert_dir }}/client.key"
        ca_path: "{{ cert_dir }}/ca.crt"
        validate_certs: true
        headers:
          Accept: application/json
        return_content: true
        status_code: 200
      register: nad

    - name: Hand the object back to the test
      ansible.builtin.copy:
        content: "{{ nad.json | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def _nad(name, config, bare=True, **extra_spec):
    """A NAD; ``bare``: labelled so that the Harvester stand-in leaves it alone (these tests are of the API server)."""
    labels = {'network.harvesterhci.io/type': 'L2VlanNetwork', 'network.harvesterhci.io/vlan-id': '100'}
    if bare:
        labels[BYPASS_LABEL] = 'true'
    return {'apiVersion': 'k8s.cni.cncf.io/v1', 'kind': 'NetworkAttachmentDefinition',
            'metadata': {'name': name, 'labels': labels},
            'spec': dict({'config': config}, **extra_spec)}


def _vm(name, **spec):
    body = {'apiVersion': 'kubevirt.io/v1', 'kind': 'VirtualMachine', 'metadata': {'name': name},
            'spec': {'runStrategy': 'Halted', 'template': {
                'metadata': {'labels': {'harvesterhci.io/vmName': name}},
                'spec': {'domain': {'cpu': {'cores': 1, 'sockets': 1, 'threads': 1},
                                    'resources': {'requests': {'memory': '1Gi'}},
                                    'devices': {'disks': [{'name': 'root', 'disk': {'bus': 'virtio'}}],
                                                'interfaces': [{'name': 'default', 'model': 'virtio', 'masquerade': {}},
                                                               {'name': 'nic-1', 'model': 'virtio', 'bridge': {},
                                                                'macAddress': '52:54:00:12:34:56'}]}},
                         'networks': [{'name': 'default', 'pod': {}},
                                      {'name': 'nic-1', 'multus': {'networkName': 'default/vlan100'}}],
                         'volumes': [{'name': 'root', 'containerDisk': {'image': 'example/cirros:latest'}},
                                     {'name': 'cloudinit', 'cloudInitNoCloud': {'userData': '#cloud-config\n'}}]}}}}
    body['spec'].update(spec)
    return body


def _write_client_files(kubeconfig_path, folder):
    """The CA and client certificate/key embedded in a kubeconfig, as the PEM files uri wants."""
    with open(kubeconfig_path, encoding='utf-8') as handle:
        config = yaml.safe_load(handle)
    cluster = config['clusters'][0]['cluster']
    user = config['users'][0]['user']
    for filename, data in (('ca.crt', cluster['certificate-authority-data']),
                           ('client.crt', user['client-certificate-data']),
                           ('client.key', user['client-key-data'])):
        path = os.path.join(folder, filename)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'wb') as handle:
            handle.write(base64.b64decode(data))
    return cluster['server']


def _expect_422(call):
    with pytest.raises(ApiException) as info:
        call()
    assert info.value.status == 422, info.value.body
    return json.loads(info.value.body)


def test_ansible_playbook_reads_back_what_the_python_client_wrote(cluster, namespace, dynamic_client, tmp_path):
    nads = dynamic_client.resources.get(api_version='k8s.cni.cncf.io/v1', kind='NetworkAttachmentDefinition')
    created = nads.create(body=_nad('vlan100', json.dumps(NAD_CONFIG)), namespace=namespace)

    server = _write_client_files(cluster.kubeconfig, str(tmp_path))
    assert server == cluster.server
    (tmp_path / 'read.yml').write_text(PLAYBOOK, encoding='utf-8')
    out = tmp_path / 'out.json'
    extra = {'server': server, 'namespace': namespace, 'name': 'vlan100', 'cert_dir': str(tmp_path), 'out': str(out),
             'ansible_python_interpreter': sys.executable}
    (tmp_path / 'vars.json').write_text(json.dumps(extra), encoding='utf-8')
    (tmp_path / 'ansible.cfg').write_text('[defaults]\n', encoding='utf-8')  # no user or system settings
    env = dict(cluster.env, ANSIBLE_CONFIG=str(tmp_path / 'ansible.cfg'), ANSIBLE_HOME=str(tmp_path / 'ansible-home'),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'), ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0')
    playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    result = subprocess.run([playbook, '-i', 'localhost,', '-c', 'local', str(tmp_path / 'read.yml'),
                             '-e', '@%s' % (tmp_path / 'vars.json')],
                            env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

    got = json.loads(out.read_text(encoding='utf-8'))
    assert got['metadata']['uid'] == created.metadata.uid
    assert got['metadata']['namespace'] == namespace
    assert got['metadata']['labels']['network.harvesterhci.io/vlan-id'] == '100'
    assert json.loads(got['spec']['config']) == NAD_CONFIG


def test_schema_violations_are_refused_with_422(namespace, dynamic_client):
    nads = dynamic_client.resources.get(api_version='k8s.cni.cncf.io/v1', kind='NetworkAttachmentDefinition')
    body = _expect_422(lambda: nads.create(body=_nad('bad-config', 100), namespace=namespace))
    assert 'spec.config' in body['message']

    vms = dynamic_client.resources.get(api_version='kubevirt.io/v1', kind='VirtualMachine')
    body = _expect_422(lambda: vms.create(body=_vm('bad-strategy', runStrategy='Sometimes'), namespace=namespace))
    assert 'spec.runStrategy' in body['message']
    body = _expect_422(lambda: vms.create(body=_vm('bad-running', running='yes'), namespace=namespace))
    assert 'spec.running' in body['message']

    vlanconfigs = dynamic_client.resources.get(api_version=HARVESTER_GV, kind='VlanConfig')
    body = _expect_422(lambda: vlanconfigs.create(body={
        'apiVersion': HARVESTER_GV, 'kind': 'VlanConfig',
        'metadata': {'name': 'bad-bond', 'labels': {BYPASS_LABEL: 'true'}},
        'spec': {'uplink': {'nics': ['eth1'], 'bondOptions': {'mode': 'round-robin'}}}}))
    assert 'spec.clusterNetwork' in body['message'] and 'spec.uplink.bondOptions.mode' in body['message']
    # nothing was stored
    assert not nads.get(namespace=namespace).items and not vms.get(namespace=namespace).items
    assert not vlanconfigs.get().items


def test_unknown_fields_are_pruned_and_defaults_applied(namespace, dynamic_client):
    nads = dynamic_client.resources.get(api_version='k8s.cni.cncf.io/v1', kind='NetworkAttachmentDefinition')
    nad = nads.create(body=_nad('pruned', '{}', bridge='not-in-schema'), namespace=namespace).to_dict()
    assert nad['spec'] == {'config': '{}'}

    vms = dynamic_client.resources.get(api_version='kubevirt.io/v1', kind='VirtualMachine')
    body = _vm('vm1')
    body['spec']['template']['spec']['domain']['devices']['interfaces'][1]['macAdress'] = 'typo'
    body['spec']['template']['spec']['domain']['firmware'] = {'bootloader': {'efi': {}}}  # kept: preserved sub-tree
    vm = vms.create(body=body, namespace=namespace).to_dict()
    spec = vm['spec']['template']['spec']
    assert spec['domain']['devices']['interfaces'][1] == {'name': 'nic-1', 'model': 'virtio', 'bridge': {},
                                                          'macAddress': '52:54:00:12:34:56'}
    assert spec['domain']['firmware'] == {'bootloader': {'efi': {}}}
    assert spec['networks'][1] == {'name': 'nic-1', 'multus': {'networkName': 'default/vlan100'}}

    vlanconfigs = dynamic_client.resources.get(api_version=HARVESTER_GV, kind='VlanConfig')
    vc = vlanconfigs.create(body={'apiVersion': HARVESTER_GV, 'kind': 'VlanConfig',
                                  'metadata': {'name': 'vc-' + namespace[-6:], 'labels': {BYPASS_LABEL: 'true'}},
                                  'spec': {'clusterNetwork': 'data', 'uplink': {'nics': ['eth1', 'eth2'],
                                                                                'linkAttributes': {'mtu': 9000}}}})
    try:
        uplink = vc.to_dict()['spec']['uplink']
        assert uplink['linkAttributes'] == {'mtu': 9000, 'txQLen': -1}
        assert 'bondOptions' not in uplink  # defaults apply only inside objects that are sent
    finally:
        vlanconfigs.delete(name=vc.metadata.name)


def test_vmi_status_is_a_subresource(namespace, dynamic_client):
    vmis = dynamic_client.resources.get(api_version='kubevirt.io/v1', kind='VirtualMachineInstance')
    body = _vm('vmi1')['spec']['template']
    vmi = vmis.create(body=dict(body, apiVersion='kubevirt.io/v1', kind='VirtualMachineInstance',
                                metadata={'name': 'vmi1'}, status={'phase': 'Running'}), namespace=namespace)
    assert not vmi.to_dict().get('status')  # status is ignored on create
    status = {'phase': 'Running', 'nodeName': 'node1',
              'interfaces': [{'name': 'nic-1', 'ipAddress': '192.168.100.10', 'ipAddresses': ['192.168.100.10'],
                              'mac': '52:54:00:12:34:56', 'interfaceName': 'enp2s0'}]}
    updated = vmis.status.patch(name='vmi1', namespace=namespace, body={'status': status},
                                content_type='application/merge-patch+json')
    assert updated.to_dict()['status'] == status


def test_profiles_serve_their_own_harvester_generation(cluster, legacy_cluster, legacy_dynamic_client,
                                                       dynamic_client):
    def plurals(server):
        status, body = server.request('GET', '/apis/' + HARVESTER_GV)
        assert status == 200, body
        return {res['name'] for res in body['resources'] if '/' not in res['name']}

    assert plurals(cluster) == {'clusternetworks', 'vlanconfigs', 'vlanstatuses', 'linkmonitors', 'hostnetworkconfigs'}
    assert plurals(legacy_cluster) == {'clusternetworks', 'nodenetworks'}

    legacy_dynamic_client.resources.get(api_version=HARVESTER_GV, kind='NodeNetwork')
    with pytest.raises(ResourceNotFoundError):
        dynamic_client.resources.get(api_version=HARVESTER_GV, kind='NodeNetwork')
    dynamic_client.resources.get(api_version=HARVESTER_GV, kind='VlanConfig')
    with pytest.raises(ResourceNotFoundError):
        legacy_dynamic_client.resources.get(api_version=HARVESTER_GV, kind='VlanConfig')

    # the same ClusterNetwork object means different things to the two generations
    v03 = {'apiVersion': HARVESTER_GV, 'kind': 'ClusterNetwork', 'metadata': {'name': 'vlan'},
           'enable': True, 'config': {'defaultPhysicalNIC': 'eth1'}}
    legacy_cns = legacy_dynamic_client.resources.get(api_version=HARVESTER_GV, kind='ClusterNetwork')
    current_cns = dynamic_client.resources.get(api_version=HARVESTER_GV, kind='ClusterNetwork')
    try:
        got = legacy_cns.create(body=v03).to_dict()
        assert got['enable'] is True and got['config'] == {'defaultPhysicalNIC': 'eth1'}
        got = current_cns.create(body=v03).to_dict()
        assert 'enable' not in got and 'config' not in got
        nodenetworks = legacy_dynamic_client.resources.get(api_version=HARVESTER_GV, kind='NodeNetwork')
        node = nodenetworks.create(body={'apiVersion': HARVESTER_GV, 'kind': 'NodeNetwork',
                                         'metadata': {'name': 'node1-vlan'},
                                         'spec': {'nodeName': 'node1', 'type': 'vlan', 'nic': 'eth2'}})
        assert node.spec.nic == 'eth2'
        with pytest.raises(ApiException) as info:
            nodenetworks.create(body={'apiVersion': HARVESTER_GV, 'kind': 'NodeNetwork',
                                      'metadata': {'name': 'node2-vlan'}, 'spec': {'nodeName': 'node2', 'type': 'vxlan'}})
        assert info.value.status == 422
        nodenetworks.delete(name='node1-vlan')
    finally:
        for api in (legacy_cns, current_cns):
            try:
                api.delete(name='vlan')
            except ApiException as exc:
                if exc.status != 404:
                    raise


def test_namespace_fixture_isolates_and_cleans_up(cluster, namespace):
    status, body = cluster.request('GET', '/api/v1/namespaces/' + namespace)
    assert status == 200 and body['status']['phase'] == 'Active'
    # a namespace that is deleted goes away completely (the bed finalizes it, no controller does)
    other = cluster.create_namespace(namespace + '-x')
    cluster.request('POST', '/api/v1/namespaces/%s/configmaps' % other,
                    {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'cm'}, 'data': {'a': 'b'}})
    cluster.delete_namespace(other)
    assert cluster.request('GET', '/api/v1/namespaces/' + other)[0] == 404
    # Services get a clusterIP from the configured range: the allocator runs inside the API server
    status, svc = cluster.request('POST', '/api/v1/namespaces/%s/services' % namespace, {
        'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'vm1'},
        'spec': {'selector': {'harvesterhci.io/vmName': 'vm1'}, 'ports': [{'port': 22}]}})
    assert status == 201, svc
    assert svc['spec']['clusterIP'].startswith('10.0.0.')


def test_vmi_spec_schema_is_the_vm_template_schema():
    crds = {crd['metadata']['name']: crd for crd in load_crds('current')}

    def schema(name):
        return crds[name]['spec']['versions'][0]['schema']['openAPIV3Schema']
    vm_template_spec = schema('virtualmachines.kubevirt.io')['properties']['spec']['properties']['template']
    assert schema('virtualmachineinstances.kubevirt.io')['properties']['spec'] == vm_template_spec['properties']['spec']


def _served_certificate(server_url):
    host, port = server_url.rsplit('//', 1)[1].rsplit(':', 1)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def test_command_line_up_status_down(tmp_path):
    state_dir = tmp_path / 'bed'
    cli = [sys.executable, '-m', 'testbeds.cluster']
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)

    def run(*args):
        return subprocess.run(cli + list(args), cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=300, check=False)
    up = run('up', '--state-dir', str(state_dir), '--profile', 'legacy', '--tls-san', '10.0.2.100')
    try:
        assert up.returncode == 0, up.stderr
        kubeconfig = up.stdout.strip()
        assert kubeconfig == str(state_dir / 'kubeconfig')
        with open(kubeconfig, encoding='utf-8') as handle:
            server = yaml.safe_load(handle)['clusters'][0]['cluster']['server']
        assert server.startswith('https://127.0.0.1:')

        sans = _served_certificate(server).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert '10.0.2.100' in [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]

        status = run('status', '--state-dir', str(state_dir))
        assert status.returncode == 0, status.stdout + status.stderr
        servers = json.loads(status.stdout)['servers']
        assert servers['kube-apiserver/legacy']['ready'] and servers['etcd']['alive']
        pids = [info['pid'] for info in servers.values()]
    finally:
        down = run('down', '--state-dir', str(state_dir))
    assert down.returncode == 0, down.stderr
    assert not state_dir.exists()
    for pid in pids:
        assert not os.path.exists('/proc/%d/cmdline' % pid) or str(state_dir) not in open(
            '/proc/%d/cmdline' % pid, encoding='utf-8', errors='replace').read()
