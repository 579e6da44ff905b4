"""Many objects at once against the real kube-apiserver: LISTs read in pages (``limit``/``continue``), writes of one
kind sent by a few threads, 429 answers waited out, and one refused object among many leaving nothing half-created.

The witness is a recording TLS proxy in front of the server (testbeds/cluster/proxy.py): what the server was asked
and what it answered (items per page, continue tokens, writes in flight at once), not the collection's own request
log; stored state is read with the bed's own REST client (``api_rvs``, ``server.request``). A small page size
(monkeypatched, like the module constant it is) makes 30 objects several pages, so the tests stay cheap.
"""

import json

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster import service as service_module
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ConflictError, ValidationError
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import (
    cluster_network_handler, vlan_network_handler)
from ansible_collections.harvester.network.plugins.module_utils.cluster.vms import NETWORK_GETS_MAX, vm_handler

from testbeds.cluster.fixtures import unique_name
from testbeds.cluster.handlers import call
from testbeds.cluster.proxy import RecordingProxy
from tests.integration.cluster.test_vm import VM, disk, nic

NET = dict(name=None, namespace='default', cluster_network=None, network_type='vlan', vlan_id=None, mtu=None, route=None,
           description=None, networks=None, prune=False, allow_duplicate_vids=False, state='present')
CN = dict(name=None, description=None, enable=None, default_physical_nic=None, node_nics=None, state='present')
NADS = 'network-attachment-definitions'
SETTLE = 180.0  # seconds the Harvester stand-in may take to catch up with many writes on a loaded machine


@pytest.fixture(scope='module')
def proxy(cluster, tmp_path_factory):
    recorder = RecordingProxy(cluster)
    recorder.kubeconfig_path = recorder.kubeconfig(cluster, tmp_path_factory.mktemp('proxy') / 'kubeconfig')
    yield recorder
    recorder.stop()


@pytest.fixture
def two_namespaces(cluster, request):
    names = [cluster.create_namespace(unique_name('t', '%s-%d' % (request.node.name, i))) for i in (1, 2)]
    yield names
    for name in names:
        cluster.delete_namespace(name)


def nets(vids):
    return [{'name': 'vlan%d' % vid, 'vlan_id': vid} for vid in vids]


def stored_nads(cluster, namespace, cn=None):
    """{name: config, labels, annotations} read back with the bed's client (one unpaginated LIST); the cluster
    network's name ``cn`` written as CN, so that two sets on two cluster networks compare."""
    status, body = cluster.request('GET', '/apis/k8s.cni.cncf.io/v1/namespaces/%s/%s' % (namespace, NADS))
    assert status == 200, body
    text = json.dumps(dict((item['metadata']['name'], (json.loads(item['spec']['config']),
                                                       item['metadata'].get('labels'),
                                                       item['metadata'].get('annotations')))
                           for item in body['items']), sort_keys=True)
    return json.loads(text.replace(cn, 'CN') if cn else text)


def nad_lists(proxy):
    return [entry for entry in proxy.requests if entry['method'] == 'GET' and entry['path'].endswith('/' + NADS)]


def run(cluster, proxy, namespace, networks, check=False, **params):
    return call(cluster, vlan_network_handler, NET, check=check, kubeconfig=proxy.kubeconfig_path, namespace=namespace,
                cluster_network=params.pop('cluster_network'), networks=networks, **params)[0]


def test_pages_and_concurrent_writes_match_one_by_one(cluster, harvester, proxy, two_namespaces, api_rvs, monkeypatch):
    serial_ns, parallel_ns = two_namespaces
    # one cluster network each: the same VIDs on one would be refused as duplicates
    serial_cn, cn = ['cn' + unique_name('', 'scale').replace('-', '')[:10] for _unused in (1, 2)]
    for name in (serial_cn, cn):
        call(cluster, cluster_network_handler, CN, name=name)
    monkeypatch.setattr(service_module, 'LIST_PAGE_SIZE', 7)
    wanted = nets(range(100, 130))

    # the same 30 creates, one by one and four at a time: the same plan, the same stored objects
    monkeypatch.setattr(service_module, 'WRITE_WORKERS', 1)
    proxy.clear()
    serial = run(cluster, proxy, serial_ns, wanted, cluster_network=serial_cn)
    assert proxy.max_writes_in_flight == 1
    monkeypatch.setattr(service_module, 'WRITE_WORKERS', 4)
    proxy.clear()
    parallel = run(cluster, proxy, parallel_ns, wanted, cluster_network=cn)
    assert proxy.max_writes_in_flight > 1, 'the server never had two writes of this run at once'
    assert proxy.max_writes_in_flight <= 4
    writes = [e for e in proxy.requests if e['method'] == 'PATCH']
    assert len(writes) == 30 and all(e['status'] == 201 for e in writes)
    for result in (serial, parallel):
        for change in result['changes']:
            change.pop('namespace')
    assert serial['changes'] == parallel['changes'] and len(serial['changes']) == 30
    assert serial['changed'] and parallel['changed']
    assert [d['after_header'].split('/')[-1] for d in serial['diff']] == \
        [d['after_header'].split('/')[-1] for d in parallel['diff']]
    harvester.settle(timeout=SETTLE)  # the Harvester stand-in labels all 60 (slow on a loaded machine)
    assert stored_nads(cluster, serial_ns, serial_cn) == stored_nads(cluster, parallel_ns, cn)
    assert len(stored_nads(cluster, parallel_ns)) == 30

    # no-op re-run: the NAD LIST comes in pages of 7 joined by the server's continue tokens; nothing written
    harvester.settle(timeout=SETTLE)
    before = api_rvs(cluster)
    proxy.clear()
    result = run(cluster, proxy, parallel_ns, wanted, cluster_network=cn)
    assert not result['changed'] and api_rvs(cluster) == before
    # (vlan_network LISTs the NADs of every namespace: the duplicate-VID check looks at all of them)
    status, every = cluster.request('GET', '/apis/k8s.cni.cncf.io/v1/%s' % NADS)
    count = len(every['items'])
    assert count >= 60
    pages = nad_lists(proxy)
    assert len(pages) == -(-count // 7) and all(p['query']['limit'] == ['7'] for p in pages)
    assert ['continue' in p['query'] for p in pages] == [False] + [True] * (len(pages) - 1)
    assert sum(p['items'] for p in pages) == count and all(p['items'] == 7 for p in pages[:-1])
    assert [p['continue'] for p in pages] == [True] * (len(pages) - 1) + [False]
    assert not [e for e in proxy.requests if e['method'] != 'GET']

    # check mode, 5 more and prune the first 10: dry runs only (four at a time), nothing stored
    more = wanted[10:] + nets(range(130, 135))
    check = run(cluster, proxy, parallel_ns, more, check=True, prune=True, cluster_network=cn)
    assert sorted((c['action'], c['name']) for c in check['changes']) == sorted(
        [('create', n['name']) for n in nets(range(130, 135))] + [('delete', n['name']) for n in wanted[:10]])
    assert api_rvs(cluster) == before

    # the real run does what check mode said: deletes and creates, each run of them concurrent
    proxy.clear()
    real = run(cluster, proxy, parallel_ns, more, prune=True, cluster_network=cn)
    assert real['changes'] == check['changes']
    harvester.settle(timeout=SETTLE)  # the stand-in's finalizer is gone once it settles
    assert sorted(stored_nads(cluster, parallel_ns)) == sorted(n['name'] for n in more)
    assert sorted(e['path'].rsplit('/', 1)[1] for e in proxy.requests if e['method'] == 'DELETE') == \
        sorted(n['name'] for n in wanted[:10])


def test_one_refused_write_among_many_leaves_nothing_created(cluster, harvester, proxy, namespace, api_rvs):
    cn = 'cn' + unique_name('', 'refused').replace('-', '')[:10]
    call(cluster, cluster_network_handler, CN, name=cn)
    # vlan210 exists, its config owned by another client: applying ours conflicts (409) and must not be forced
    first = run(cluster, proxy, namespace, nets([210]), cluster_network=cn)
    assert first['changed']
    path = '/apis/k8s.cni.cncf.io/v1/namespaces/%s/%s/vlan210' % (namespace, NADS)
    status, stored = cluster.request('GET', path)
    config = json.loads(stored['spec']['config'])
    config['vlan'] = 999
    status, body = cluster.request('PATCH', path + '?fieldManager=someone-else&force=true',
                                   body={'apiVersion': 'k8s.cni.cncf.io/v1', 'kind': 'NetworkAttachmentDefinition',
                                         'metadata': {'name': 'vlan210', 'namespace': namespace},
                                         'spec': {'config': json.dumps(config)}},
                                   headers={'Content-Type': 'application/apply-patch+yaml'})
    assert status == 200, body
    harvester.settle(timeout=SETTLE)
    # NADs only: the Harvester stand-in rewrites the ClusterNetwork's status when NADs come and go
    nad_kind = [('NetworkAttachmentDefinition', '/apis/k8s.cni.cncf.io/v1/' + NADS)]
    before = api_rvs(cluster, nad_kind)

    wanted = nets(range(200, 210)) + nets([210]) + nets(range(211, 221))
    proxy.clear()
    with pytest.raises(ConflictError) as caught:
        run(cluster, proxy, namespace, wanted, cluster_network=cn)
    message = str(caught.value)
    assert 'vlan210' in message and 'someone-else' in message and 'force_conflicts' in message
    # the threads take the writes in plan order, so the ten before vlan210 were all sent (and created) before its
    # refusal stopped the rest; they were deleted again, each by its uid
    created = [e for e in proxy.requests if e['method'] == 'PATCH' and e['status'] == 201]
    assert len(created) >= 10
    assert 'the %d objects this run had created were deleted again' % len(created) in message
    undo = [e for e in proxy.requests if e['method'] == 'DELETE']
    assert sorted(e['path'] for e in undo) == sorted(e['path'] for e in created)
    harvester.settle(timeout=SETTLE)
    assert api_rvs(cluster, nad_kind) == before, 'something of the refused run was left behind'
    assert sorted(stored_nads(cluster, namespace)) == ['vlan210']


def test_429_answers_are_waited_out(cluster, harvester, proxy, namespace, api_rvs):
    cn = 'cn' + unique_name('', 'throttle').replace('-', '')[:10]
    call(cluster, cluster_network_handler, CN, name=cn)
    proxy.clear()
    proxy.throttle(3, retry_after='1')
    result = run(cluster, proxy, namespace, nets(range(300, 308)), cluster_network=cn)
    assert result['changed'] and len(result['changes']) == 8
    answers = [(e['status'], e['path'].rsplit('/', 1)[1]) for e in proxy.requests if e['method'] == 'PATCH']
    assert [status for status, _unused in answers].count(429) == 3
    assert sorted(name for status, name in answers if status == 201) == ['vlan%d' % v for v in range(300, 308)]
    harvester.settle(timeout=SETTLE)
    assert sorted(stored_nads(cluster, namespace)) == ['vlan%d' % v for v in range(300, 308)]


def test_vm_looks_up_few_networks_by_name_many_with_one_list(cluster, harvester, proxy, namespace):
    cn = 'cn' + unique_name('', 'vmrefs').replace('-', '')[:10]
    call(cluster, cluster_network_handler, CN, name=cn)
    run(cluster, proxy, namespace, nets(range(400, 400 + NETWORK_GETS_MAX + 1)), cluster_network=cn)
    names = ['vlan%d' % vid for vid in range(400, 400 + NETWORK_GETS_MAX + 1)]

    def vm(name, networks):
        return dict(name=name, namespace=namespace, kubeconfig=proxy.kubeconfig_path,
                    disks=[disk('root', container_disk='img')], interfaces=[nic('default')] + [nic('nic-%d' % i, net) for i, net in enumerate(networks)])

    # two networks: a GET each (the answers the server gave), no LIST of every NAD
    proxy.clear()
    result, _unused = call(cluster, vm_handler, VM, **vm('few', names[:2]))
    assert result['changed']
    reads = [(e['path'].rsplit('/', 1)[1], e['status']) for e in proxy.requests
             if e['method'] == 'GET' and NADS in e['path']]
    assert reads == [('vlan400', 200), ('vlan401', 200)]

    # one missing among more than NETWORK_GETS_MAX: one (paginated) LIST, the missing one named, nothing written
    proxy.clear()
    with pytest.raises(ValidationError, match='NetworkAttachmentDefinition %s/ghost does not exist' % namespace) as info:
        call(cluster, vm_handler, VM, **vm('many', names + ['ghost']))
    assert info.value.field == 'interfaces[%d].network' % (len(names) + 1)
    reads = [e for e in proxy.requests if e['method'] == 'GET' and NADS in e['path']]
    assert reads and all(e['path'].endswith('/' + NADS) and 'items' in e for e in reads)
    assert not [e for e in proxy.requests if e['method'] != 'GET']
