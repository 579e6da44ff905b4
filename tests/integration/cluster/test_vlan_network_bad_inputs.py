"""Bad inputs across the cluster modules: each gives a clear error naming the field, and nothing is written.

Connection problems (bad kubeconfig, unreachable server, a client certificate the server rejects, a user without
RBAC rights) are exercised against the real kube-apiserver too.
"""

import datetime
import socket

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import Cluster
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import (
    AuthError, ClusterError, ConfigError, MissingApiError, UnreachableError)
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import (
    cluster_network_handler, vlan_config_handler, vlan_network_handler)
from ansible_collections.harvester.network.plugins.module_utils.cluster.vms import vm_handler, vm_service_handler

from testbeds.cluster.handlers import AUTH_DEFAULTS, ModuleStandIn, read, writes, run_playbook


NET = dict(name='good', namespace='default', cluster_network='mgmt', network_type='vlan', vlan_id=10, mtu=None,
           route=None, description=None, networks=None, prune=False, allow_duplicate_vids=False, state='present')
CN = dict(name='okcn', description=None, enable=None, default_physical_nic=None, node_nics=None, state='present')
VC = dict(name='okvc', cluster_network='okcn', description=None, nics=['eth1'], bond_mode='active-backup', miimon=None,
          mtu=None, tx_queue_len=None, hardware_addr=None, node_selector=None, state='present')
VM = dict(name='okvm', namespace='default', state='present', run_strategy=None, description=None, labels=None, cpu=1,
          memory='1Gi', interfaces=[dict(name='default', network=None, type=None, model='virtio', mac_address=None,
                                         boot_order=None, guest_name=None, ip_mode='dhcp', addresses=None, gateway=None,
                                         dns=None)],
          disks=None, user_data=None, guest_agent=False, network_data=None, network_data_version=1, wait=False,
          wait_for_ips=False, wait_timeout=300)
SVC = dict(name='oksvc', namespace='default', vm='okvm', type='ClusterIP', cluster_ip=None,
           ports=[dict(name=None, port=22, target_port=None, protocol='TCP', node_port=None)], state='present')


def route(**kw):
    base = dict(mode='manual', cidr='192.168.1.0/24', gateway='192.168.1.1', dhcp_server=None)
    base.update(kw)
    return base


def vm_nic(**kw):
    base = dict(VM['interfaces'][0])
    base.update(kw)
    return base


BAD = [
    # (id, handler, defaults, params, field, words)
    ('nad-name-not-dns1123', vlan_network_handler, NET, dict(name='VLAN_100'), 'name', 'DNS-1123'),
    ('nad-name-too-long', vlan_network_handler, NET, dict(name='n' * 64), 'name', 'limit is 63'),
    ('namespace-not-dns1123', vlan_network_handler, NET, dict(namespace='Prod'), 'namespace', 'DNS-1123'),
    ('vid-zero', vlan_network_handler, NET, dict(vlan_id=0), 'vlan_id', 'out of range'),
    ('vid-4095', vlan_network_handler, NET, dict(vlan_id=4095), 'vlan_id', '1-4094'),
    ('vid-missing', vlan_network_handler, NET, dict(vlan_id=None), 'vlan_id', 'required for a VLAN network'),
    ('untagged-with-vid', vlan_network_handler, NET, dict(network_type='untagged'), 'vlan_id', 'has no VLAN ID'),
    ('mtu-too-big', vlan_network_handler, NET, dict(mtu=65000), 'mtu', '576-9000'),
    ('gateway-outside-cidr', vlan_network_handler, NET, dict(route=route(gateway='10.0.0.1')), 'route.gateway',
     'outside 192.168.1.0/24'),
    ('gateway-is-broadcast', vlan_network_handler, NET, dict(route=route(gateway='192.168.1.255')), 'route.gateway',
     'broadcast'),
    ('cidr-garbage', vlan_network_handler, NET, dict(route=route(cidr='192.168.1.0/33')), 'route.cidr', 'not a CIDR'),
    ('cidr-everything', vlan_network_handler, NET, dict(route=route(cidr='0.0.0.0/0')), 'route.cidr', 'every address'),
    ('manual-without-gateway', vlan_network_handler, NET, dict(route=route(gateway=None)), 'route.gateway',
     'needs gateway'),
    ('dhcp-server-outside', vlan_network_handler, NET, dict(route=route(dhcp_server='10.1.1.1')), 'route.dhcp_server',
     'outside'),
    ('unknown-cluster-network', vlan_network_handler, NET, dict(cluster_network='nosuch'), 'cluster_network',
     'does not exist'),
    ('cluster-network-missing', vlan_network_handler, NET, dict(cluster_network=None), 'cluster_network',
     'is required on Harvester v1.1+'),
    ('list-item-bad-vid', vlan_network_handler, NET,
     dict(name=None, networks=[dict(name='a', namespace=None, network_type=None, vlan_id=5, mtu=None, route=None,
                                    description=None),
                               dict(name='b', namespace=None, network_type=None, vlan_id=5000, mtu=None, route=None,
                                    description=None)]), 'networks[1].vlan_id', '1-4094'),
    ('name-and-networks', vlan_network_handler, NET, dict(networks=[]), 'networks', 'not both'),
    ('cn-name-13-chars', cluster_network_handler, CN, dict(name='abcdefghijklm'), 'name', 'limit is 12'),
    ('cn-delete-mgmt', cluster_network_handler, CN, dict(name='mgmt', state='absent'), 'name', 'built-in'),
    ('vc-on-mgmt', vlan_config_handler, VC, dict(cluster_network='mgmt'), 'cluster_network', 'cannot target mgmt'),
    ('vc-nic-name', vlan_config_handler, VC, dict(nics=['eth0:1']), 'nics[0]', 'interface name'),
    ('vc-unknown-cn', vlan_config_handler, VC, dict(cluster_network='ghost'), 'cluster_network', 'does not exist'),
    ('vm-name', vm_handler, VM, dict(name='My VM'), 'name', 'DNS-1123'),
    ('vm-memory', vm_handler, VM, dict(memory='2 gigs'), 'memory', 'quantity'),
    ('vm-mac', vm_handler, VM, dict(interfaces=[vm_nic(mac_address='01:02:03:04:05:06')]), 'interfaces[0].mac_address',
     'multicast'),
    ('vm-static-gateway', vm_handler, VM, dict(interfaces=[vm_nic(ip_mode='static', addresses=['10.0.0.5/24'],
                                                                  gateway='10.9.9.1')]), 'interfaces[0].gateway',
     'outside'),
    ('vm-unknown-nad', vm_handler, VM, dict(interfaces=[vm_nic(), vm_nic(name='nic-1', network='ghost')]),
     'interfaces[1].network', 'does not exist'),
    ('vm-masquerade-vlan', vm_handler, VM, dict(interfaces=[vm_nic(network='x', type='masquerade')]),
     'interfaces[0].type', 'masquerade works only'),
    ('vm-guest-agent-script', vm_handler, VM, dict(user_data='#!/bin/sh\n', guest_agent=True), 'user_data',
     'needs cloud-config'),
    ('svc-port', vm_service_handler, SVC, dict(ports=[dict(name=None, port=0, target_port=None, protocol='TCP', node_port=None)]),
     'ports[0].port', '1-65535'),
    ('svc-nodeport-on-clusterip', vm_service_handler, SVC,
     dict(ports=[dict(name=None, port=22, target_port=None, protocol='TCP', node_port=30022)]), 'ports[0].node_port',
     'needs type NodePort'),
]


@pytest.mark.parametrize('handler, defaults, params, field, words', [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_refused_and_nothing_written(cluster, handler, defaults, params, field, words):
    full = dict(AUTH_DEFAULTS, kubeconfig=cluster.kubeconfig)
    full.update(defaults)
    full.update(params)
    c = Cluster(full)
    with pytest.raises(ClusterError) as info:
        handler(full, c, ModuleStandIn())
    message = str(info.value)
    assert info.value.field == field, message
    assert message.startswith(field + ':'), message
    assert words in message, message
    assert writes(c._transport.log if c._transport else []) == []


def test_at_least_25_bad_inputs():
    assert len(BAD) >= 25


# ---- connection problems --------------------------------------------------------------------------------------
def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert(subject_cn, org, issuer_key, issuer_name, key):
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name or subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(issuer_key, hashes.SHA256()))


def client_pair(tmp_path, name, signed_by_cluster_ca, cluster):
    key = ec.generate_private_key(ec.SECP256R1())
    if signed_by_cluster_ca:
        ca_key = serialization.load_pem_private_key(open(cluster.pki.ca_key, 'rb').read(), None)
        ca_name = x509.load_pem_x509_certificate(open(cluster.pki.ca_cert, 'rb').read()).subject
        cert = _cert(name, 'nobody-group', ca_key, ca_name, key)
    else:
        rogue_ca = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(name, 'system:masters', rogue_ca, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'rogue')]),
                     key)
    cert_path, key_path = tmp_path / (name + '.crt'), tmp_path / (name + '.key')
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_key_pem(key))
    return str(cert_path), str(key_path)


def network_params(cluster, **kw):
    full = dict(AUTH_DEFAULTS, kubeconfig=None, host=cluster.server, ca_cert=cluster.pki.ca_cert)
    full.update(NET)
    full.update(kw)
    return full


def run_handler(params):
    return vlan_network_handler(params, Cluster(params), ModuleStandIn())


def test_client_certificate_the_server_rejects(cluster, tmp_path):
    cert, key = client_pair(tmp_path, 'rogue-admin', False, cluster)
    with pytest.raises(AuthError, match='rejected the client certificate: it is not signed by a CA the server trusts, '
                                        'or it has expired.*401 Unauthorized') as info:
        run_handler(network_params(cluster, client_cert=cert, client_key=key))
    assert info.value.field == 'client_cert'


def test_user_without_rbac_rights(cluster, tmp_path):
    cert, key = client_pair(tmp_path, 'nobody', True, cluster)
    with pytest.raises(AuthError, match=r'not allowed: .*nobody.*403 Forbidden.*RBAC') as info:
        run_handler(network_params(cluster, client_cert=cert, client_key=key))
    assert info.value.field == 'client_cert'


def test_bad_bearer_token(cluster):
    with pytest.raises(AuthError, match='rejected the bearer token: it is unknown, revoked or expired.*401') as info:
        run_handler(network_params(cluster, api_key='not-a-token'))
    assert info.value.field == 'api_key'


def test_server_certificate_not_trusted(cluster):
    with pytest.raises(UnreachableError, match='TLS handshake failed: check ca_cert'):
        run_handler(network_params(cluster, ca_cert=None, api_key='x'))


def test_unreachable_server():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    params = dict(AUTH_DEFAULTS, kubeconfig=None, host='https://127.0.0.1:%d' % port, api_key='x')
    params.update(NET)
    with pytest.raises(UnreachableError, match='cannot reach the Kubernetes API server at https://127.0.0.1:%d' % port) \
            as info:
        run_handler(params)
    assert info.value.field == 'host'


@pytest.mark.parametrize('content, field, words', [
    (None, 'kubeconfig', 'does not exist'),
    (':: not yaml [', 'kubeconfig', 'kubeconfig'),
    ('apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n', 'kubeconfig', 'kubeconfig'),
])
def test_bad_kubeconfig(tmp_path, content, field, words):
    path = tmp_path / 'kubeconfig'
    if content is not None:
        path.write_text(content)
    params = dict(AUTH_DEFAULTS, kubeconfig=str(path))
    params.update(NET)
    with pytest.raises(ConfigError, match=words) as info:
        run_handler(params)
    assert info.value.field == field


def test_unknown_context(cluster):
    params = dict(AUTH_DEFAULTS, kubeconfig=cluster.kubeconfig, context='nope')
    params.update(NET)
    with pytest.raises(ConfigError, match='nope') as info:
        run_handler(params)
    assert info.value.field == 'context'


def test_client_cert_without_key(cluster):
    params = network_params(cluster, client_cert=cluster.pki.admin_cert)
    with pytest.raises(ConfigError, match='client_cert and client_key go together'):
        run_handler(params)


def test_missing_crd_named(legacy_cluster):
    params = dict(AUTH_DEFAULTS, kubeconfig=legacy_cluster.kubeconfig)
    params.update(VC)
    with pytest.raises(ClusterError, match='VlanConfig needs Harvester v1.1+') as info:
        vlan_config_handler(params, Cluster(params), ModuleStandIn())
    assert info.value.field == 'api_generation'
    params['api_generation'] = 'current'
    with pytest.raises(MissingApiError, match='this cluster serves no VlanConfig .network.harvesterhci.io/v1beta1.: '
                                              'Harvester older than v1.1?'):
        vlan_config_handler(params, Cluster(params), ModuleStandIn())


def test_explicit_host_and_cert_options_work(cluster):
    """The non-kubeconfig path (host + ca_cert + client_cert/client_key) authenticates for real."""
    params = network_params(cluster, client_cert=cluster.pki.admin_cert, client_key=cluster.pki.admin_key,
                            name='explicit', vlan_id=3999, namespace='default', state='absent')
    result = run_handler(params)
    assert result['changed'] is False


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: VID out of range
      harvester.network.vlan_network: {name: bad, cluster_network: mgmt, vlan_id: 5000}
      register: vid
      ignore_errors: true
    - name: rejected credentials
      harvester.network.vlan_network: {name: bad, cluster_network: mgmt, vlan_id: 5, api_key: nope, kubeconfig: null,
                                       host: SERVER, ca_cert: CA}
      register: auth
      ignore_errors: true
    - name: wrong type
      harvester.network.vlan_network: {name: bad, cluster_network: mgmt, vlan_id: ten}
      register: typed
      ignore_errors: true
    - ansible.builtin.assert:
        that:
          - vid is failed and vid.msg is search('^vlan_id. VLAN ID 5000 is out of range. give 1-4094')
          - vid.field == 'vlan_id'
          - auth is failed and auth.msg is search('401 Unauthorized')
          - typed is failed and typed.msg is search('vlan_id')
"""


def test_playbook_errors(cluster, tmp_path):
    text = PLAYBOOK.replace('SERVER', cluster.server).replace('CA', cluster.pki.ca_cert)
    proc = run_playbook(cluster, tmp_path, text)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert read(cluster, '/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/bad') is None
