"""Bad inputs across the cluster modules: each gives a clear error naming the field, and nothing is written.

The bad inputs run through the real modules in ONE ansible-playbook run (a task each, ``ignore_errors``), so type,
choice and required errors come from Ansible's own argument parsing, as users see them; the API server's
resourceVersions before and after that run prove that nothing was written.

Connection problems (bad kubeconfig, unreachable server, a client certificate the server rejects, a user without RBAC
rights) are exercised against the real kube-apiserver too, in this process.
"""

import datetime
import json
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
    vlan_config_handler, vlan_network_handler)

from testbeds.cluster.handlers import AUTH_DEFAULTS, ModuleStandIn, run_playbook


NET = dict(name='good', cluster_network='mgmt', vlan_id=10)
CN = dict(name='okcn')
VC = dict(name='okvc', cluster_network='okcn', nics=['eth1'])
VM = dict(name='okvm', cpu=1, memory='1Gi', interfaces=[dict(name='default')])
SVC = dict(name='oksvc', vm='okvm', ports=[dict(port=22)])
# the handlers' full parameter set, for the in-process connection tests below
NET_PARAMS = dict(name='good', namespace='default', cluster_network='mgmt', network_type='vlan', vlan_id=10, mtu=None,
                  route=None, description=None, networks=None, prune=False, allow_duplicate_vids=False, state='present')
VC_PARAMS = dict(name='okvc', cluster_network='okcn', description=None, nics=['eth1'], bond_mode='active-backup',
                 miimon=None, mtu=None, tx_queue_len=None, hardware_addr=None, node_selector=None, state='present')
DROP = object()  # an option left out of the task


def route(**kw):
    base = dict(mode='manual', cidr='192.168.1.0/24', gateway='192.168.1.1')
    base.update(kw)
    return dict((key, value) for key, value in base.items() if value is not DROP)


def vm_nic(**kw):
    return dict(VM['interfaces'][0], **kw)


# What the module itself refuses (after Ansible's argument parsing accepted the types): the message starts with the
# option's path and the result names it in ``field``.
BAD = [
    # (id, module, defaults, args, field, words)
    ('nad-name-not-dns1123', 'vlan_network', NET, dict(name='VLAN_100'), 'name', 'DNS-1123'),
    ('nad-name-too-long', 'vlan_network', NET, dict(name='n' * 64), 'name', 'limit is 63'),
    ('namespace-not-dns1123', 'vlan_network', NET, dict(namespace='Prod'), 'namespace', 'DNS-1123'),
    ('vid-zero', 'vlan_network', NET, dict(vlan_id=0), 'vlan_id', 'out of range'),
    ('vid-4095', 'vlan_network', NET, dict(vlan_id=4095), 'vlan_id', '1-4094'),
    ('vid-missing', 'vlan_network', NET, dict(vlan_id=DROP), 'vlan_id', 'required for a VLAN network'),
    ('untagged-with-vid', 'vlan_network', NET, dict(network_type='untagged'), 'vlan_id', 'has no VLAN ID'),
    ('mtu-too-big', 'vlan_network', NET, dict(mtu=65000), 'mtu', '576-9000'),
    ('gateway-outside-cidr', 'vlan_network', NET, dict(route=route(gateway='10.0.0.1')), 'route.gateway',
     'outside 192.168.1.0/24'),
    ('gateway-is-broadcast', 'vlan_network', NET, dict(route=route(gateway='192.168.1.255')), 'route.gateway',
     'broadcast'),
    ('cidr-garbage', 'vlan_network', NET, dict(route=route(cidr='192.168.1.0/33')), 'route.cidr', 'not a CIDR'),
    ('cidr-everything', 'vlan_network', NET, dict(route=route(cidr='0.0.0.0/0')), 'route.cidr', 'every address'),
    ('manual-without-gateway', 'vlan_network', NET, dict(route=route(gateway=DROP)), 'route.gateway',
     'needs gateway'),
    ('dhcp-server-outside', 'vlan_network', NET, dict(route=route(dhcp_server='10.1.1.1')), 'route.dhcp_server',
     'outside'),
    ('unknown-cluster-network', 'vlan_network', NET, dict(cluster_network='nosuch'), 'cluster_network',
     'does not exist'),
    ('cluster-network-missing', 'vlan_network', NET, dict(cluster_network=DROP), 'cluster_network',
     'is required on Harvester v1.1+'),
    ('list-item-bad-vid', 'vlan_network', NET,
     dict(name=DROP, networks=[dict(name='a', vlan_id=5), dict(name='b', vlan_id=5000)]), 'networks[1].vlan_id',
     '1-4094'),
    ('cn-name-13-chars', 'cluster_network', CN, dict(name='abcdefghijklm'), 'name', 'limit is 12'),
    ('cn-delete-mgmt', 'cluster_network', CN, dict(name='mgmt', state='absent'), 'name', 'built-in'),
    ('vc-on-mgmt', 'vlan_config', VC, dict(cluster_network='mgmt'), 'cluster_network', 'cannot target mgmt'),
    ('vc-nic-name', 'vlan_config', VC, dict(nics=['eth0:1']), 'nics[0]', 'interface name'),
    ('vc-unknown-cn', 'vlan_config', VC, dict(cluster_network='ghost'), 'cluster_network', 'does not exist'),
    ('vm-name', 'vm', VM, dict(name='My VM'), 'name', 'DNS-1123'),
    ('vm-memory', 'vm', VM, dict(memory='2 gigs'), 'memory', 'quantity'),
    ('vm-mac', 'vm', VM, dict(interfaces=[vm_nic(mac_address='01:02:03:04:05:06')]), 'interfaces[0].mac_address',
     'multicast'),
    ('vm-static-gateway', 'vm', VM, dict(interfaces=[vm_nic(ip_mode='static', addresses=['10.0.0.5/24'],
                                                            gateway='10.9.9.1')]), 'interfaces[0].gateway', 'outside'),
    ('vm-unknown-nad', 'vm', VM, dict(interfaces=[vm_nic(), vm_nic(name='nic-1', network='ghost')]),
     'interfaces[1].network', 'does not exist'),
    ('vm-masquerade-vlan', 'vm', VM, dict(interfaces=[vm_nic(network='x', type='masquerade')]),
     'interfaces[0].type', 'masquerade works only'),
    ('vm-guest-agent-script', 'vm', VM, dict(user_data='#!/bin/sh\n', guest_agent=True), 'user_data',
     'needs cloud-config'),
    ('svc-port', 'vm_service', SVC, dict(ports=[dict(port=0)]), 'ports[0].port', '1-65535'),
    ('svc-nodeport-on-clusterip', 'vm_service', SVC, dict(ports=[dict(port=22, node_port=30022)]),
     'ports[0].node_port', 'needs type NodePort'),
]

# What Ansible's own argument parsing refuses (type, choices, required, mutually exclusive, unknown options), before
# the module's code runs: the messages users see, word for word as ansible-core writes them.
ARGSPEC = [
    # (id, module, defaults, args, words)
    ('vid-not-an-int', 'vlan_network', NET, dict(vlan_id='ten'),
     "argument 'vlan_id' is of type str and we were unable to convert to int"),
    ('network-type-choice', 'vlan_network', NET, dict(network_type='vxlan'),
     'value of network_type must be one of: vlan, untagged, trunk, overlay, got: vxlan'),
    ('state-choice', 'vlan_network', NET, dict(state='gone'), 'value of state must be one of: present, absent, got: gone'),
    ('route-mode-choice', 'vlan_network', NET, dict(route=route(mode='static')),
     'value of mode must be one of: auto, manual, got: static found in route'),
    ('prune-not-a-bool', 'vlan_network', NET, dict(prune='maybe'),
     "argument 'prune' is of type str and we were unable to convert to bool"),
    ('name-or-networks-required', 'vlan_network', NET, dict(name=DROP), 'one of the following is required: name, networks'),
    ('name-and-networks', 'vlan_network', NET, dict(networks=[dict(name='a', vlan_id=5)]),
     'parameters are mutually exclusive: name|networks'),
    ('networks-item-without-name', 'vlan_network', NET, dict(name=DROP, networks=[dict(vlan_id=5)]),
     'missing required arguments: name found in networks'),
    ('unknown-option', 'vlan_network', NET, dict(vlan=5),
     'Unsupported parameters for (harvester.network.vlan_network) module: vlan.'),
    ('cn-name-required', 'cluster_network', CN, dict(name=DROP), 'missing required arguments: name'),
    ('cn-enable-not-a-bool', 'cluster_network', CN, dict(enable='sometimes'),
     "argument 'enable' is of type str and we were unable to convert to bool"),
    ('vc-cluster-network-required', 'vlan_config', VC, dict(cluster_network=DROP),
     'missing required arguments: cluster_network'),
    ('vc-bond-mode-choice', 'vlan_config', VC, dict(bond_mode='lacp'),
     'value of bond_mode must be one of: balance-rr, active-backup, balance-xor, broadcast, 802.3ad, balance-tlb, '
     'balance-alb, got: lacp'),
    ('vc-mtu-not-an-int', 'vlan_config', VC, dict(mtu='jumbo'),
     "argument 'mtu' is of type str and we were unable to convert to int"),
    ('vm-cpu-not-an-int', 'vm', VM, dict(cpu='two'), "argument 'cpu' is of type str and we were unable to convert to int"),
    ('vm-state-choice', 'vm', VM, dict(state='paused'),
     'value of state must be one of: present, absent, running, stopped, restarted, got: paused'),
    ('vm-nic-without-name', 'vm', VM, dict(interfaces=[dict(network='x')]),
     'missing required arguments: name found in interfaces'),
    ('svc-type-choice', 'vm_service', SVC, dict(type='External'),
     'value of type must be one of: ClusterIP, NodePort, LoadBalancer, got: External'),
    ('svc-ports-required-when-present', 'vm_service', SVC, dict(ports=DROP),
     'state is present but all of the following are missing: ports'),
    ('svc-port-required', 'vm_service', SVC, dict(ports=[dict(protocol='TCP')]),
     'missing required arguments: port found in ports'),
]


def task_args(defaults, args):
    full = dict(defaults)
    full.update(args)
    return dict((key, value) for key, value in full.items() if value is not DROP)


def bad_inputs_playbook(cases, results_path):
    """One play: every case a task of the real module (``ignore_errors``, registered), then the registered results
    written to ``results_path``. JSON is YAML: the play is written as JSON, so the arguments reach Ansible exactly."""
    tasks = []
    for index, (case_id, module, defaults, args) in enumerate(cases):
        tasks.append({'name': case_id, 'harvester.network.' + module: task_args(defaults, args),
                      'register': 'case_%d' % index, 'ignore_errors': True})
    collected = '{' + ', '.join('"%s": case_%d' % (case[0], index) for index, case in enumerate(cases)) + '}'
    tasks.append({'name': 'collect', 'ansible.builtin.copy': {
        'dest': str(results_path), 'content': '{{ %s | to_json }}' % collected}})
    return json.dumps([{'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}], indent=1)


@pytest.fixture(scope='module')
def bad_runs(cluster, api_rvs, tmp_path_factory):
    """ONE ansible-playbook run of every bad input through the real module (AnsibleModule's argument parsing first),
    with the server's resourceVersions listed before and after it."""
    folder = tmp_path_factory.mktemp('bad-inputs')
    cases = [case[:4] for case in BAD] + [case[:4] for case in ARGSPEC] + [
        ('rejected-credentials', 'vlan_network', NET,
         dict(api_key='not-a-token', kubeconfig=None, host=cluster.server, ca_cert=cluster.pki.ca_cert))]
    before = api_rvs(cluster)
    proc = run_playbook(cluster, folder, bad_inputs_playbook(cases, folder / 'results.json'))
    after = api_rvs(cluster)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    with open(folder / 'results.json', encoding='utf-8') as handle:
        results = json.load(handle)
    return results, before, after


@pytest.mark.parametrize('case_id, field, words', [(b[0], b[4], b[5]) for b in BAD], ids=[b[0] for b in BAD])
def test_module_refuses_naming_the_field(bad_runs, case_id, field, words):
    result = bad_runs[0][case_id]
    message = result.get('msg', '')
    assert result.get('failed') is True and result.get('changed') is False, result
    assert result.get('field') == field, message
    assert message.startswith(field + ':'), message
    assert words in message, message


@pytest.mark.parametrize('case_id, words', [(b[0], b[4]) for b in ARGSPEC], ids=[b[0] for b in ARGSPEC])
def test_ansible_argument_parsing_refuses(bad_runs, case_id, words):
    result = bad_runs[0][case_id]
    message = result.get('msg', '')
    assert result.get('failed') is True, result
    assert words in message, message
    # the module's own code did not run: it would have named the field (harvester.network's errors always do)
    assert 'field' not in result and 'error_type' not in result, result


def test_rejected_credentials_through_ansible(bad_runs):
    result = bad_runs[0]['rejected-credentials']
    assert result.get('failed') is True and result.get('field') == 'api_key', result
    assert 'rejected the bearer token' in result['msg'] and '401 Unauthorized' in result['msg'], result['msg']


def test_bad_inputs_wrote_nothing(bad_runs, api_rvs):
    """Every object of every kind the modules write has the resourceVersion it had before the run."""
    _results, before, after = bad_runs
    assert api_rvs.changed(before, after) == []
    assert before  # the witness saw objects (the built-in mgmt cluster network at least)


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
    full.update(NET_PARAMS)
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
    params.update(NET_PARAMS)
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
    params.update(NET_PARAMS)
    with pytest.raises(ConfigError, match=words) as info:
        run_handler(params)
    assert info.value.field == field


def test_unknown_context(cluster):
    params = dict(AUTH_DEFAULTS, kubeconfig=cluster.kubeconfig, context='nope')
    params.update(NET_PARAMS)
    with pytest.raises(ConfigError, match='nope') as info:
        run_handler(params)
    assert info.value.field == 'context'


def test_client_cert_without_key(cluster):
    params = network_params(cluster, client_cert=cluster.pki.admin_cert)
    with pytest.raises(ConfigError, match='client_cert and client_key go together'):
        run_handler(params)


def test_missing_crd_named(legacy_cluster):
    params = dict(AUTH_DEFAULTS, kubeconfig=legacy_cluster.kubeconfig)
    params.update(VC_PARAMS)
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
