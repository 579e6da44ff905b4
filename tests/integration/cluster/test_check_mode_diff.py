"""Check mode predicts the real run: its ``diff.after`` equals what the API server holds after the real run.

For every cluster module that writes (cluster_network, vlan_config, vlan_network, vm, vm_service, vlan_dhcp): a
create, an update and a delete, each first in check mode and then for real. The witness is a GET over the bed's own
REST client after the real run, compared with the check run's ``diff.after`` field by field, leaving out only:

- what the server writes on every write (uid, resourceVersion, creationTimestamp, generation, managedFields) and
  ``status``, which the modules never set (the same fields the modules leave out of their diffs);
- fields that Harvester's network manager (the stand-in's field manager ``network-controller``, which writes back
  AFTER our write: finalizers, labels, route connectivity) owns alone in the GET's managedFields, on both sides. That
  controller runs after the write in real life too, so no check mode can predict it; the admission webhook, which
  runs inside the write (dry runs included), is not left out.

Check mode itself must write nothing: the resourceVersions of every kind are the same before and after it.
"""

import copy
import json
import secrets

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import Cluster
from ansible_collections.harvester.network.plugins.module_utils.cluster.load_balancers import (
    ip_pool_handler, load_balancer_handler)
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import (
    cluster_network_handler, vlan_config_handler, vlan_network_handler)
from ansible_collections.harvester.network.plugins.module_utils.cluster.vms import vm_handler, vm_service_handler
from ansible_collections.harvester.network.plugins.modules.vlan_dhcp import vlan_dhcp_handler

from testbeds.cluster.handlers import AUTH_DEFAULTS, ModuleStandIn, call

CN = dict(name=None, description=None, enable=None, default_physical_nic=None, node_nics=None, state='present')
VC = dict(name=None, cluster_network=None, description=None, nics=None, bond_mode='active-backup', miimon=None, mtu=None,
          tx_queue_len=None, hardware_addr=None, node_selector=None, state='present')
NET = dict(name=None, namespace='default', cluster_network=None, network_type='vlan', vlan_id=None, mtu=None, route=None,
           description=None, networks=None, prune=False, allow_duplicate_vids=False, state='present')
VM = dict(name=None, namespace='default', state='present', run_strategy=None, description=None, labels=None, cpu=1,
          memory='1Gi', interfaces=None, disks=None, user_data=None, guest_agent=False, network_data=None,
          network_data_version=1, wait=False, wait_for_ips=False, wait_timeout=300)
SVC = dict(name=None, namespace='default', vm=None, type='ClusterIP', cluster_ip=None, ports=None, state='present')
DHCP = dict(name='dhcp', namespace='default', network=None, cidr=None, gateway=None, server_address=None,
            pool_start=None, pool_end=None, lease_time='12h', dns_servers=None, image='docker.io/4km3/dnsmasq:2.90-r3',
            image_pull_policy='IfNotPresent', leases=None, node_selector=None, interface=None, lease_file=None,
            state='present')
ROUTE = {'mode': 'manual', 'cidr': '192.168.100.0/24', 'gateway': '192.168.100.1', 'dhcp_server': '192.168.100.2'}
CONTROLLER = 'network-controller'  # testbeds/cluster/harvester.py FIELD_MANAGER
BOOKKEEPING = ('uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields')
COLLECTIONS = {
    'ClusterNetwork': '/apis/network.harvesterhci.io/v1beta1/clusternetworks',
    'NodeNetwork': '/apis/network.harvesterhci.io/v1beta1/nodenetworks',
    'VlanConfig': '/apis/network.harvesterhci.io/v1beta1/vlanconfigs',
    'NetworkAttachmentDefinition': '/apis/k8s.cni.cncf.io/v1/namespaces/%s/network-attachment-definitions',
    'VirtualMachine': '/apis/kubevirt.io/v1/namespaces/%s/virtualmachines',
    'Service': '/api/v1/namespaces/%s/services',
    'ConfigMap': '/api/v1/namespaces/%s/configmaps',
    'PersistentVolumeClaim': '/api/v1/namespaces/%s/persistentvolumeclaims',
    'Deployment': '/apis/apps/v1/namespaces/%s/deployments',
    'IPPool': '/apis/loadbalancer.harvesterhci.io/v1beta1/ippools',
    'LoadBalancer': '/apis/loadbalancer.harvesterhci.io/v1beta1/namespaces/%s/loadbalancers',
}


def path_of(obj):
    meta = obj['metadata']
    collection = COLLECTIONS[obj['kind']]
    return '%s/%s' % (collection % meta['namespace'] if '%s' in collection else collection, meta['name'])


def _owned_alone(fields, others, prefix=()):
    """Paths in ``fields`` (a managedFields fieldsV1 tree) that no tree in ``others`` holds too."""
    for key, sub in fields.items():
        if key == '.':
            continue
        shared = [other[key] for other in others if key in other]
        if sub and set(sub) - {'.'}:
            yield from _owned_alone(sub, shared, prefix + (key,))
        elif not shared:
            yield prefix + (key,)


def _drop(obj, path):
    """Remove one fieldsV1 path (``f:name``, ``v:<json value>`` of a set-like list) from ``obj``; containers that it
    leaves empty go too."""
    key, rest = path[0], path[1:]
    if isinstance(obj, dict) and key.startswith('f:') and key[2:] in obj:
        if rest:
            _drop(obj[key[2:]], rest)
            if obj[key[2:]] in ({}, []):
                del obj[key[2:]]
        else:
            del obj[key[2:]]
    elif isinstance(obj, list) and key.startswith('v:') and not rest:
        value = json.loads(key[2:])
        obj[:] = [item for item in obj if item != value]


def comparable(obj, stored):
    """``obj`` without server bookkeeping, status, and the fields only the Harvester controller owns in ``stored``."""
    clean = copy.deepcopy(obj)
    for key in BOOKKEEPING:
        clean['metadata'].pop(key, None)
    clean.pop('status', None)
    entries = stored['metadata'].get('managedFields') or []
    mine = [e.get('fieldsV1') or {} for e in entries if e['manager'] == CONTROLLER]
    others = [e.get('fieldsV1') or {} for e in entries if e['manager'] != CONTROLLER]
    for fields in mine:
        for path in _owned_alone(fields, others):
            if path[0] != 'f:status':
                _drop(clean, path)
    return clean


def run(server, handler, defaults, check, params):
    full = dict(AUTH_DEFAULTS, kubeconfig=server.kubeconfig)
    full.update(defaults)
    full.update(params)
    module = ModuleStandIn(check)
    return handler(full, Cluster(full, check_mode=check), module), module.warnings


def _drop_dotted(obj, dotted):
    """Remove ``spec.ports[1].nodePort`` style paths from ``obj``."""
    parts = dotted.replace('[', '.[').split('.')
    for part in parts[:-1]:
        obj = obj[int(part[1:-1])] if part.startswith('[') else obj[part]
    obj.pop(parts[-1], None)


def predict_then_run(server, api_rvs, handler, defaults, allocated=(), **params):
    """Check mode, then the real run; every ``diff.after`` of the check run compared with a GET after the real run.

    ``allocated``: paths the server allocates on the real run (a Service's cluster IP, node ports): check mode must
    say so in a warning and leave them out of ``diff.after``; they are left out of the GET's copy too."""
    before = api_rvs(server)
    predicted, warnings = run(server, handler, defaults, True, params)
    assert api_rvs(server) == before, 'check mode wrote'
    real, _unused = run(server, handler, defaults, False, params)
    assert predicted['changed'] is True and real['changed'] is True
    assert predicted['changes'] == real['changes']
    diffs = predicted['diff'] if isinstance(predicted['diff'], list) else [predicted['diff']]
    api_rvs(server)  # waits until Harvester's controller is idle
    compared = []
    for diff, done in zip(diffs, real['diff'] if isinstance(real['diff'], list) else [real['diff']]):
        if not diff['after']:  # a deletion: gone now, or held only by a finalizer of someone else
            status, stored = server.request('GET', path_of(done['before']))
            assert status == 404 or stored['metadata'].get('deletionTimestamp'), (status, stored)
            compared.append(('deleted', done['before']['kind']))
            continue
        status, stored = server.request('GET', path_of(diff['after']))
        assert status == 200, (status, stored)
        expected = comparable(stored, stored)
        for dotted in allocated:
            assert any(dotted in warning and 'allocates' in warning for warning in warnings), (dotted, warnings)
            _drop_dotted(expected, dotted)
            if dotted == 'spec.clusterIP':
                _drop_dotted(expected, 'spec.clusterIPs')
        assert comparable(diff['after'], stored) == expected, diff['after_header']
        compared.append(('same', diff['after']['kind']))
    return compared


def test_cluster_network_and_vlan_config(cluster, api_rvs):
    cn = 'cn' + secrets.token_hex(4)
    assert predict_then_run(cluster, api_rvs, cluster_network_handler, CN, name=cn, description='one') == [
        ('same', 'ClusterNetwork')]
    assert predict_then_run(cluster, api_rvs, cluster_network_handler, CN, name=cn, description='two') == [
        ('same', 'ClusterNetwork')]
    vc = dict(name=cn + '-vc', cluster_network=cn)
    assert predict_then_run(cluster, api_rvs, vlan_config_handler, VC, nics=['eth1'], **vc) == [('same', 'VlanConfig')]
    assert predict_then_run(cluster, api_rvs, vlan_config_handler, VC, nics=['eth1', 'eth2'], bond_mode='802.3ad',
                            miimon=100, mtu=9000, **vc) == [('same', 'VlanConfig')]
    assert predict_then_run(cluster, api_rvs, vlan_config_handler, VC, state='absent', **vc) == [('deleted', 'VlanConfig')]
    assert predict_then_run(cluster, api_rvs, cluster_network_handler, CN, name=cn, state='absent') == [
        ('deleted', 'ClusterNetwork')]


def test_legacy_cluster_network(legacy_cluster, api_rvs):
    # the one "vlan" cluster network of the legacy API is shared by the session's tests: put it back afterwards
    paths = [COLLECTIONS['ClusterNetwork'] + '/vlan', COLLECTIONS['NodeNetwork'] + '/cm-node1-vlan']
    kept = [legacy_cluster.request('GET', path) for path in paths]
    nodes = [{'node': 'cm-node1', 'nic': 'eth12', 'description': None}]
    try:
        assert ('same', 'NodeNetwork') in predict_then_run(legacy_cluster, api_rvs, cluster_network_handler, CN,
                                                           name='vlan', enable=True, default_physical_nic='eth11',
                                                           node_nics=nodes)
        assert predict_then_run(legacy_cluster, api_rvs, cluster_network_handler, CN, name='vlan',
                                default_physical_nic='eth13', node_nics=[dict(nodes[0], nic='eth14')]) == [
            ('same', 'ClusterNetwork'), ('same', 'NodeNetwork')]
    finally:
        for path, (status, body) in zip(paths, kept):
            legacy_cluster.request('DELETE', path)
            if status == 200:
                for key in ('resourceVersion', 'uid', 'creationTimestamp', 'managedFields', 'generation'):
                    body['metadata'].pop(key, None)
                legacy_cluster.request('POST', path.rsplit('/', 1)[0], body)


def test_vlan_network_and_vlan_dhcp(cluster, namespace, api_rvs):
    cn = 'cn' + secrets.token_hex(4)
    call(cluster, cluster_network_handler, CN, name=cn)
    net = dict(name='vlan100', namespace=namespace, cluster_network=cn)
    assert predict_then_run(cluster, api_rvs, vlan_network_handler, NET, vlan_id=100, route=ROUTE, **net) == [
        ('same', 'NetworkAttachmentDefinition')]
    assert predict_then_run(cluster, api_rvs, vlan_network_handler, NET, vlan_id=100, route=ROUTE,
                            preserve_default_vlan=False, description='data', **net) == [
        ('same', 'NetworkAttachmentDefinition')]
    dhcp = dict(namespace=namespace, network='vlan100')
    created = predict_then_run(cluster, api_rvs, vlan_dhcp_handler, DHCP, pool_start='192.168.100.100',
                               pool_end='192.168.100.199', **dhcp)
    assert sorted(created) == [('same', 'ConfigMap'), ('same', 'Deployment'), ('same', 'PersistentVolumeClaim')]
    assert predict_then_run(cluster, api_rvs, vlan_dhcp_handler, DHCP, pool_start='192.168.100.100',
                            pool_end='192.168.100.150', **dhcp)
    assert predict_then_run(cluster, api_rvs, vlan_dhcp_handler, DHCP, state='absent', namespace=namespace)
    assert predict_then_run(cluster, api_rvs, vlan_network_handler, NET, state='absent', **net) == [
        ('deleted', 'NetworkAttachmentDefinition')]


def _nic(name, network=None, **kw):
    base = dict(name=name, network=network, type=None, model='virtio', mac_address=None, boot_order=None,
                guest_name=None, ip_mode='dhcp', addresses=None, gateway=None, dns=None)
    base.update(kw)
    return base


def test_vm_and_vm_service(cluster, namespace, api_rvs):
    call(cluster, vlan_network_handler, NET, name='vlan100', namespace=namespace, cluster_network='mgmt', vlan_id=100)
    vm = dict(name='web1', namespace=namespace, memory='2Gi', guest_agent=True, user_data={'password': 'secret'},
              interfaces=[_nic('default'), _nic('nic-1', 'vlan100', mac_address='52:54:00:00:01:01', ip_mode='static',
                                                addresses=['192.168.100.10/24'], gateway='192.168.100.1')],
              disks=[dict(name='root', container_disk='quay.io/containerdisks/ubuntu:22.04', pvc=None, data_volume=None,
                          device='disk', bus=None, boot_order=1)])
    assert predict_then_run(cluster, api_rvs, vm_handler, VM, cpu=2, **vm) == [('same', 'VirtualMachine')]
    assert predict_then_run(cluster, api_rvs, vm_handler, VM, cpu=4, **vm) == [('same', 'VirtualMachine')]
    port = dict(name=None, port=22, target_port=None, protocol='TCP', node_port=None)
    svc = dict(name='web1-ssh', namespace=namespace, vm='web1')
    assert predict_then_run(cluster, api_rvs, vm_service_handler, SVC, ports=[port], allocated=['spec.clusterIP'],
                            **svc) == [('same', 'Service')]
    # NodePort: the node port the task sets is predicted, the one the server picks is not
    assert predict_then_run(cluster, api_rvs, vm_service_handler, SVC, type='NodePort',
                            ports=[dict(port, name='ssh', node_port=30222), dict(port, name='web', port=80)],
                            allocated=['spec.ports[1].nodePort'], **svc) == [('same', 'Service')]
    assert predict_then_run(cluster, api_rvs, vm_service_handler, SVC, state='absent', **svc) == [('deleted', 'Service')]
    assert predict_then_run(cluster, api_rvs, vm_handler, VM, state='absent', **vm) == [('deleted', 'VirtualMachine')]


POOL = dict(name=None, description=None, ranges=None, selector=None, state='present')
LB = dict(name=None, namespace='default', description=None, workload_type='vm', ipam='pool', ip_pool=None,
          listeners=None, backend_selector=None, health_check=None, state='present')


def test_ip_pool_and_load_balancer(cluster, namespace, api_rvs):
    name = 'cm-pool-' + secrets.token_hex(3)
    scope = {'selector': {'network': None, 'priority': 7, 'scope': [
        {'project': None, 'namespace': namespace, 'guest_cluster': None}]}}
    subnet = dict(subnet='10.181.0.0/24', start=None, end=None, gateway=None)
    assert predict_then_run(cluster, api_rvs, ip_pool_handler, POOL, name=name, ranges=[subnet], **scope) == [
        ('same', 'IPPool')]
    assert predict_then_run(cluster, api_rvs, ip_pool_handler, POOL, name=name, description='two ranges',
                            ranges=[dict(subnet, start='10.181.0.10', end='10.181.0.20', gateway='10.181.0.1'),
                                    dict(subnet, subnet='10.181.1.5/32')], **scope) == [('same', 'IPPool')]
    lb = dict(name='web', namespace=namespace, ip_pool=name,
              listeners=[dict(name='http', port=80, protocol='TCP', backend_port=8080)])
    assert predict_then_run(cluster, api_rvs, load_balancer_handler, LB, **lb) == [('same', 'LoadBalancer')]
    health = dict(port=8080, success_threshold=2, failure_threshold=3, period_seconds=10, timeout_seconds=5)
    assert predict_then_run(cluster, api_rvs, load_balancer_handler, LB, backend_selector={'app': ['web', 'www']},
                            health_check=health, **lb) == [('same', 'LoadBalancer')]
    assert predict_then_run(cluster, api_rvs, load_balancer_handler, LB, state='absent', **lb) == [
        ('deleted', 'LoadBalancer')]
    assert predict_then_run(cluster, api_rvs, ip_pool_handler, POOL, name=name, state='absent') == [
        ('deleted', 'IPPool')]


@pytest.mark.parametrize('stored, expected', [
    # the controller's finalizer and label go, ours stay; a field both own stays
    ({'metadata': {'name': 'x', 'finalizers': ['c'], 'labels': {'a': '1', 'r': 't'}, 'managedFields': [
        {'manager': CONTROLLER, 'fieldsV1': {'f:metadata': {'f:finalizers': {'.': {}, 'v:"c"': {}},
                                                            'f:labels': {'f:r': {}, 'f:a': {}}}}},
        {'manager': 'harvester.network', 'fieldsV1': {'f:metadata': {'f:labels': {'f:a': {}}}}}]}},
     {'metadata': {'name': 'x', 'labels': {'a': '1'}}}),
])
def test_comparable_leaves_out_only_what_the_controller_owns_alone(stored, expected):
    assert comparable(stored, stored) == expected
