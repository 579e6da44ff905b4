"""ip_pool and load_balancer (Harvester's loadbalancer.harvesterhci.io IPPool and LoadBalancer, v1.2+) against a real
kube-apiserver serving the upstream CRD schemas (testbeds/cluster/crds/current/ippools.yaml, loadbalancers.yaml).

The witness is the server: objects read back with separate GETs over the bed's own REST client, resourceVersions of
every written kind before and after (``api_rvs``: refusals and check mode write nothing, re-runs write nothing).
Check mode's ``diff.after`` against a GET after the real run is in test_check_mode_diff.py. IP pools are cluster-wide:
every test deletes the pools it made (the ``pools`` fixture).
"""

import secrets

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import Cluster
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import (
    ApiError, InUseError, MissingApiError, ValidationError)
from ansible_collections.harvester.network.plugins.module_utils.cluster.load_balancers import (
    ip_pool_handler, load_balancer_handler, load_balancer_info_handler)
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import vlan_network_handler

from testbeds.cluster.handlers import AUTH_DEFAULTS, ModuleStandIn, call, read, run_playbook, writes

POOLS = '/apis/loadbalancer.harvesterhci.io/v1beta1/ippools'
LBS = '/apis/loadbalancer.harvesterhci.io/v1beta1/namespaces/%s/loadbalancers'
MERGE = {'Content-Type': 'application/merge-patch+json'}
POOL = dict(name=None, description=None, ranges=None, selector=None, state='present')
LB = dict(name=None, namespace='default', description=None, workload_type='vm', ipam='pool', ip_pool=None,
          listeners=None, backend_selector=None, health_check=None, state='present')
INFO = dict(name=None, namespace=None, ip_pool=None)
NET = dict(name=None, namespace='default', cluster_network=None, network_type='vlan', vlan_id=None, mtu=None,
           preserve_default_vlan=None, route=None, description=None, networks=None, prune=False,
           allow_duplicate_vids=False, state='present')


def rng(subnet, start=None, end=None, gateway=None):
    return dict(subnet=subnet, start=start, end=end, gateway=gateway)


def sel(network=None, priority=0, scope=()):
    return dict(network=network, priority=priority,
                scope=[dict(dict(project=None, namespace=None, guest_cluster=None), **entry) for entry in scope])


def listener(name, port, backend_port, protocol='TCP'):
    return dict(name=name, port=port, protocol=protocol, backend_port=backend_port)


@pytest.fixture
def pools(cluster):
    """A name prefix for this test's IP pools; every pool with it is deleted afterwards (allocations cleared)."""
    prefix = 'lbt-%s-' % secrets.token_hex(3)
    yield prefix
    for item in (read(cluster, POOLS) or {}).get('items') or []:
        name = item['metadata']['name']
        if name.startswith(prefix):
            cluster.request('PATCH', POOLS + '/' + name, {'status': None}, headers=MERGE)
            cluster.request('DELETE', POOLS + '/' + name)


def allocate(cluster, pool, address, owner):
    """What Harvester's load balancer controller writes when it hands out an address (pkg/ipam/store/store.go: the
    allocation record in the pool's status, written with the object; the CRD has no status subresource)."""
    status, body = cluster.request('PATCH', POOLS + '/' + pool, {'status': {
        'total': 10, 'available': 9, 'lastAllocated': address, 'allocated': {address: owner}}}, headers=MERGE)
    assert status == 200, body


def assert_refused(server, handler, defaults, cases):
    """Each case (params, field, words) is refused with a ValidationError naming the field, in check mode and in a
    real run."""
    for params, field, words in cases:
        for check in (True, False):
            with pytest.raises(ValidationError, match=words) as info:
                call(server, handler, defaults, check=check, **params)
            assert field in info.value.fields, (params, info.value.fields, str(info.value))


def test_ip_pool_lifecycle(cluster, pools, api_rvs):
    name = pools + 'a'
    params = dict(name=name, description='lb addresses', ranges=[rng('10.180.0.0/24', '10.180.0.100',
                                                                     '10.180.0.199', '10.180.0.1')],
                  selector=sel(scope=[{'namespace': 'default'}]))
    before = api_rvs(cluster)
    result, log = call(cluster, ip_pool_handler, POOL, check=True, **params)
    assert result['changed'] and result['changes'] == [{'kind': 'IPPool', 'name': name, 'action': 'create'}]
    assert [entry[0] for entry in writes(log)] == ['PATCH']
    assert api_rvs(cluster) == before and read(cluster, POOLS + '/' + name) is None
    result, _unused = call(cluster, ip_pool_handler, POOL, **params)
    stored = read(cluster, POOLS + '/' + name)
    assert stored['spec'] == {'description': 'lb addresses', 'selector': {'scope': [{'namespace': 'default'}]},
                              'ranges': [{'subnet': '10.180.0.0/24', 'rangeStart': '10.180.0.100',
                                          'rangeEnd': '10.180.0.199', 'gateway': '10.180.0.1'}]}
    assert api_rvs.changed(before, api_rvs(cluster)) == [('IPPool', '', name, 'created')]
    assert result['ip_pool']['size'] == 100 and not result['ip_pool']['global']
    # Harvester's mutating webhook (the stand-in) labelled it; the module leaves those labels to it
    assert stored['metadata']['labels'] == {'loadbalancer.harvesterhci.io/vid': '0',
                                            'loadbalancer.harvesterhci.io/global-ip-pool': 'false'}
    assert result['diff']['after']['spec'] == stored['spec']
    # re-run: nothing written
    mid = api_rvs(cluster)
    result, log = call(cluster, ip_pool_handler, POOL, **params)
    assert not result['changed'] and writes(log) == [] and api_rvs(cluster) == mid
    # one LIST of pools, no GET of each: the reads of a run
    assert [entry[1] for entry in log if entry[0] == 'GET'].count(POOLS) == 1
    # update: a second range, no selector any more (the selector is stated whole)
    params.update(ranges=params['ranges'] + [rng('10.180.9.7/32')], selector=None)
    result, _unused = call(cluster, ip_pool_handler, POOL, **params)
    stored = read(cluster, POOLS + '/' + name)
    assert result['changed'] and result['changes'][0]['action'] == 'update'
    assert stored['spec']['ranges'][1] == {'subnet': '10.180.9.7/32'} and 'selector' not in stored['spec']
    assert result['ip_pool']['size'] == 101
    # absent: check mode deletes nothing, the real run does, a re-run has nothing to do
    mid = api_rvs(cluster)
    result, _unused = call(cluster, ip_pool_handler, POOL, check=True, name=name, state='absent')
    assert result['changed'] and api_rvs(cluster) == mid
    result, _unused = call(cluster, ip_pool_handler, POOL, name=name, state='absent')
    assert result['changed'] and result['ip_pool'] is None and read(cluster, POOLS + '/' + name) is None
    result, log = call(cluster, ip_pool_handler, POOL, name=name, state='absent')
    assert not result['changed'] and writes(log) == []


def test_ip_pool_refusals_change_nothing(cluster, pools, namespace, api_rvs):
    call(cluster, vlan_network_handler, NET, name='vlan120', namespace=namespace, cluster_network='mgmt', vlan_id=120)
    call(cluster, ip_pool_handler, POOL, name=pools + 'ns', ranges=[rng('10.182.0.0/24')],
         selector=sel(scope=[{'namespace': namespace}]))
    call(cluster, ip_pool_handler, POOL, name=pools + 'prio', ranges=[rng('10.182.1.0/24')],
         selector=sel(priority=5, scope=[{'namespace': 'other'}]))
    call(cluster, ip_pool_handler, POOL, name=pools + 'net', ranges=[rng('10.182.2.0/24')],
         selector=sel(network=namespace + '/vlan120', scope=[{'namespace': '*', 'project': '*'}]))
    existing_global = [item['metadata']['name'] for item in read(cluster, POOLS)['items']
                       if item['spec'].get('selector', {}).get('scope') == [
                           {'project': '*', 'namespace': '*', 'guestCluster': '*'}]]
    if not existing_global:
        call(cluster, ip_pool_handler, POOL, name=pools + 'global', ranges=[rng('10.182.3.0/24')],
             selector=sel(scope=[{'project': '*', 'namespace': '*', 'guest_cluster': '*'}]))
    good = dict(name=pools + 'new', ranges=[rng('10.183.0.0/24')])
    everywhere = {'project': '*', 'namespace': '*', 'guest_cluster': '*'}
    cases = [
        (dict(good, name='Bad_Name'), 'name', 'DNS-1123'),
        (dict(good, ranges=[]), 'ranges', 'at least one range'),
        (dict(good, ranges=[rng('10.183.0.0')]), 'ranges[0].subnet', 'not a CIDR'),
        (dict(good, ranges=[rng('10.183.0.0/33')]), 'ranges[0].subnet', 'not a CIDR'),
        (dict(good, ranges=[rng('10.183.0.0/24', start='10.184.0.5')]), 'ranges[0].start', 'outside subnet'),
        (dict(good, ranges=[rng('10.183.0.0/24', end='10.183.0.255')]), 'ranges[0].end', 'broadcast'),
        (dict(good, ranges=[rng('10.183.0.0/24', gateway='10.183.0.0')]), 'ranges[0].gateway', 'network address'),
        (dict(good, ranges=[rng('10.183.0.0/24', gateway='gw')]), 'ranges[0].gateway', 'not an IP address'),
        (dict(good, ranges=[rng('10.183.0.0/24', '10.183.0.50', '10.183.0.10')]), 'ranges[0].start',
         'comes after end'),
        (dict(good, ranges=[rng('10.183.0.0/24', '10.183.0.10', '10.183.0.20'),
                            rng('10.183.0.16/28')]), 'ranges[1]', 'shares addresses with ranges\\[0\\]'),
        (dict(good, ranges=[rng('10.182.0.128/25')]), 'ranges[0]', 'shares addresses with IP pool %sns' % pools),
        (dict(good, selector=sel(priority=5)), 'selector.priority', 'IP pool %sprio has priority 5' % pools),
        (dict(good, selector=sel(priority=-1)), 'selector.priority', 'out of range'),
        (dict(good, selector=sel(scope=[{'namespace': namespace}])), 'selector.scope[0]',
         'IP pool %sns .* already serves' % pools),
        (dict(good, selector=sel(network=namespace + '/vlan120', scope=[{'namespace': 'x'}])), 'selector.scope[0]',
         'IP pool %snet .* already serves' % pools),
        (dict(good, selector=sel(scope=[{'namespace': 'a'}, {'namespace': '*'}])), 'selector.scope[1]',
         'overlaps selector.scope\\[0\\]'),
        (dict(good, selector=sel(scope=[{}])), 'selector.scope[0]', 'give project, namespace'),
        (dict(good, selector=sel(scope=[everywhere])), 'selector.scope', 'already the global pool'),
        (dict(good, selector=sel(network='nosuch')), 'selector.network', 'NAMESPACE/NAME'),
        (dict(good, selector=sel(network=namespace + '/nosuch', scope=[{'namespace': 'y'}])), 'selector.network',
         'no VM network %s/nosuch' % namespace),
    ]
    before = api_rvs(cluster)
    assert_refused(cluster, ip_pool_handler, POOL, cases)
    # every problem of one task in one error, each naming its field
    with pytest.raises(ValidationError) as info:
        call(cluster, ip_pool_handler, POOL, name=pools + 'x', ranges=[rng('bad'), rng('10.183.0.0/24', end='x')],
             selector=sel(priority=-3))
    assert info.value.fields == ['ranges[0].subnet', 'ranges[1].end', 'selector.priority']
    assert api_rvs(cluster) == before
    # the server's own schema (the upstream CRD) refuses what the module would never send
    status, body = cluster.request('POST', POOLS, {'apiVersion': 'loadbalancer.harvesterhci.io/v1beta1',
                                                   'kind': 'IPPool', 'metadata': {'name': pools + 'raw'},
                                                   'spec': {'ranges': [{'rangeStart': '10.183.0.5'}]}})
    assert status == 422 and 'spec.ranges[0].subnet: Required value' in body['message']
    assert api_rvs(cluster) == before


def test_ip_pool_in_use(cluster, pools, namespace, api_rvs):
    name = pools + 'used'
    call(cluster, ip_pool_handler, POOL, name=name, ranges=[rng('10.184.0.0/24', '10.184.0.10', '10.184.0.19')])
    allocate(cluster, name, '10.184.0.12', namespace + '/web')
    before = api_rvs(cluster)
    for check in (True, False):
        with pytest.raises(InUseError, match='allocated to load balancer.*%s/web \\(10.184.0.12\\)' % namespace) as info:
            call(cluster, ip_pool_handler, POOL, check=check, name=name, state='absent')
        assert info.value.field == 'state'
        with pytest.raises(ValidationError, match='10.184.0.12 is allocated to load balancer %s/web' % namespace) as info:
            call(cluster, ip_pool_handler, POOL, check=check, name=name,
                 ranges=[rng('10.184.0.0/24', '10.184.0.13', '10.184.0.19')])
        assert info.value.field == 'ranges'
    assert api_rvs(cluster) == before
    # a change that keeps the allocated address inside is fine, and the status Harvester wrote stays
    result, _unused = call(cluster, ip_pool_handler, POOL, name=name,
                           ranges=[rng('10.184.0.0/24', '10.184.0.10', '10.184.0.29')])
    stored = read(cluster, POOLS + '/' + name)
    assert result['changed'] and stored['status']['allocated'] == {'10.184.0.12': namespace + '/web'}
    assert result['ip_pool']['allocated'] == {'10.184.0.12': namespace + '/web'} and result['ip_pool']['size'] == 20


def test_load_balancer_lifecycle(cluster, pools, namespace, api_rvs):
    pool = pools + 'lb'
    call(cluster, ip_pool_handler, POOL, name=pool, ranges=[rng('10.185.0.0/24')])
    params = dict(name='web', namespace=namespace, ip_pool=pool, description='front',
                  listeners=[listener('http', 80, 8080), listener('dns', 53, 53, 'UDP')],
                  backend_selector={'harvesterhci.io/vmName': ['web1', 'web2'], 'tier': 'front'},
                  health_check=dict(port=8080, success_threshold=2, failure_threshold=3, period_seconds=10,
                                    timeout_seconds=1))
    path = LBS % namespace + '/web'
    before = api_rvs(cluster)
    result, _unused = call(cluster, load_balancer_handler, LB, check=True, **params)
    assert result['changed'] and api_rvs(cluster) == before and read(cluster, path) is None
    result, _unused = call(cluster, load_balancer_handler, LB, **params)
    stored = read(cluster, path)
    assert stored['spec'] == {
        'description': 'front', 'workloadType': 'vm', 'ipam': 'pool', 'ipPool': pool,
        'listeners': [{'name': 'http', 'port': 80, 'protocol': 'TCP', 'backendPort': 8080},
                      {'name': 'dns', 'port': 53, 'protocol': 'UDP', 'backendPort': 53}],
        'backendServerSelector': {'harvesterhci.io/vmName': ['web1', 'web2'], 'tier': ['front']},
        'healthCheck': {'port': 8080, 'successThreshold': 2, 'failureThreshold': 3, 'periodSeconds': 10,
                        'timeoutSeconds': 1}}
    assert api_rvs.changed(before, api_rvs(cluster)) == [('LoadBalancer', namespace, 'web', 'created')]
    assert result['load_balancer']['listeners'][1] == {'name': 'dns', 'port': 53, 'protocol': 'UDP',
                                                       'backend_port': 53}
    mid = api_rvs(cluster)
    result, log = call(cluster, load_balancer_handler, LB, **params)
    assert not result['changed'] and writes(log) == [] and api_rvs(cluster) == mid
    # Harvester's controller allocates the address; the module returns it and leaves it alone
    status, body = cluster.request('PATCH', path, {'status': {'address': '10.185.0.2', 'allocatedAddress': {
        'ipPool': pool, 'ip': '10.185.0.2', 'mask': '255.255.255.0', 'gateway': '10.185.0.1'},
        'conditions': [{'type': 'Ready', 'status': 'True'}]}}, headers=MERGE)
    assert status == 200, body
    # update: one listener less, no health check (the module owned it: server-side apply removes it)
    params.update(listeners=[listener('http', 80, 8080)], health_check=None)
    result, _unused = call(cluster, load_balancer_handler, LB, **params)
    stored = read(cluster, path)
    assert result['changed'] and len(stored['spec']['listeners']) == 1 and 'healthCheck' not in stored['spec']
    assert stored['status']['address'] == '10.185.0.2'
    assert result['load_balancer']['address'] == '10.185.0.2' and result['load_balancer']['ready']
    # load_balancer_info: the same view of both kinds, one LIST each, nothing written
    mid = api_rvs(cluster)
    info, log = call(cluster, load_balancer_info_handler, INFO, namespace=namespace, ip_pool=pool)
    assert info['load_balancers'] == [result['load_balancer']] and not info['changed']
    assert [item['name'] for item in info['ip_pools']] == [pool] and info['ip_pools'][0]['size'] == 253
    assert [entry[1] for entry in log if entry[0] == 'GET'] == [
        '/apis/loadbalancer.harvesterhci.io/v1beta1', POOLS, LBS % namespace]  # discovery, then one LIST each
    assert writes(log) == [] and api_rvs(cluster) == mid
    assert call(cluster, load_balancer_info_handler, INFO, namespace=namespace, name='nosuch')[0][
        'load_balancers'] == []
    # another pool: Harvester will release the address; the module says so
    other = pools + 'lb2'
    call(cluster, ip_pool_handler, POOL, name=other, ranges=[rng('10.185.1.0/24')])
    moved = dict(params)
    moved['ip_pool'] = other
    result, warned = call_warnings(cluster, load_balancer_handler, LB, check=True, **moved)
    assert result['changed'] and any('releases its address 10.185.0.2 back to IP pool %s' % pool in w for w in warned), warned
    # fixed at creation: ipam and workload type (refused before any write, in check mode too)
    mid = api_rvs(cluster)
    for check in (True, False):
        dhcp = dict(params)
        dhcp.update(ipam='dhcp', ip_pool=None)
        with pytest.raises(ValidationError, match='does not let it change to dhcp') as info:
            call(cluster, load_balancer_handler, LB, check=check, **dhcp)
        assert info.value.field == 'ipam'
        cluster_type = dict(params)
        cluster_type['workload_type'] = 'cluster'
        with pytest.raises(ValidationError, match='workload type vm.*change to cluster') as info:
            call(cluster, load_balancer_handler, LB, check=check, **cluster_type)
        assert info.value.field == 'workload_type'
    assert api_rvs(cluster) == mid
    # absent
    result, _unused = call(cluster, load_balancer_handler, LB, name='web', namespace=namespace, state='absent')
    assert result['changed'] and read(cluster, path) is None and result['load_balancer'] is None
    result, log = call(cluster, load_balancer_handler, LB, name='web', namespace=namespace, state='absent')
    assert not result['changed'] and writes(log) == []


def call_warnings(server, handler, defaults, check=False, **params):
    """A run's result and the warnings it gave (ModuleStandIn collects module.warn)."""
    full = dict(AUTH_DEFAULTS, kubeconfig=server.kubeconfig)
    full.update(defaults)
    full.update(params)
    module = ModuleStandIn(check)
    result = handler(full, Cluster(full, check_mode=check), module)
    return result, module.warnings


def test_load_balancer_refusals_change_nothing(cluster, pools, namespace, api_rvs):
    good = dict(name='api', namespace=namespace, listeners=[listener('http', 80, 8080)])
    cases = [
        (dict(good, name='1api'), 'name', 'starts with a digit'),
        (dict(good, namespace='Bad'), 'namespace', 'DNS-1123'),
        (dict(good, listeners=[]), 'listeners', 'at least one listener'),
        (dict(good, listeners=[listener('http', 80, 8080), listener('http', 81, 8081)]), 'listeners[1].name',
         'same name'),
        (dict(good, listeners=[listener('a', 80, 8080), listener('b', 80, 8081)]), 'listeners[1].port',
         'same port \\(TCP 80\\)'),
        (dict(good, listeners=[listener('a', 80, 8080), listener('b', 81, 8080)]), 'listeners[1].backend_port',
         'same backend port'),
        (dict(good, listeners=[listener('a', 0, 8080)]), 'listeners[0].port', 'out of range'),
        (dict(good, listeners=[listener('a', 80, 65536)]), 'listeners[0].backend_port', 'out of range'),
        (dict(good, listeners=[listener('A_b', 80, 8080)]), 'listeners[0].name', 'DNS-1123'),
        (dict(good, health_check=dict(port=9090, success_threshold=2, failure_threshold=2, period_seconds=1,
                                      timeout_seconds=1)), 'health_check.port', 'not the backend_port'),
        (dict(good, listeners=[listener('dns', 53, 53, 'UDP')],
              health_check=dict(port=53, success_threshold=2, failure_threshold=2, period_seconds=1,
                                timeout_seconds=1)), 'health_check.port', 'UDP listener'),
        (dict(good, health_check=dict(port=8080, success_threshold=0, failure_threshold=2, period_seconds=1,
                                      timeout_seconds=1)), 'health_check.success_threshold', '1 or more'),
        (dict(good, ipam='dhcp', ip_pool='x'), 'ip_pool', 'ipam=pool only'),
        (dict(good, ip_pool=pools + 'nosuch'), 'ip_pool', 'there is no IP pool'),
        (dict(good, backend_selector={'app': []}), 'backend_selector.app', 'non-empty list'),
        (dict(good, backend_selector={'bad key!': 'x'}), 'backend_selector.bad key!', 'not a valid label key'),
        (dict(good, workload_type='cluster', listeners=[],
              health_check=dict(port=80, success_threshold=2, failure_threshold=2, period_seconds=1,
                                timeout_seconds=1)), 'health_check', 'cluster load balancer has no health check'),
    ]
    before = api_rvs(cluster)
    assert_refused(cluster, load_balancer_handler, LB, cases)
    assert api_rvs(cluster) == before
    # the upstream CRD's enum refuses an unknown IPAM at the server
    status, body = cluster.request('POST', LBS % namespace, {
        'apiVersion': 'loadbalancer.harvesterhci.io/v1beta1', 'kind': 'LoadBalancer',
        'metadata': {'name': 'raw'}, 'spec': {'ipam': 'static', 'listeners': [{'port': 80, 'protocol': 'TCP'}]}})
    assert status == 422 and 'spec.ipam: Unsupported value: "static"' in body['message'], body
    assert 'spec.listeners[0].backendPort: Required value' in body['message']
    assert api_rvs(cluster) == before


def test_no_pool_for_the_namespace_warns(cluster, pools, namespace):
    """Without ip_pool Harvester picks a pool by scope (or the global pool); with none the module warns."""
    global_pools = [item['metadata']['name'] for item in read(cluster, POOLS)['items']
                    if item['spec'].get('selector', {}).get('scope') == [
                        {'project': '*', 'namespace': '*', 'guestCluster': '*'}]]
    assert global_pools == [], 'a global pool left behind by another test would serve every namespace'
    params = dict(name='lonely', namespace=namespace, listeners=[listener('http', 80, 8080)])
    _unused, warned = call_warnings(cluster, load_balancer_handler, LB, check=True, **params)
    assert any('no IP pool serves namespace %s' % namespace in w for w in warned), warned
    call(cluster, ip_pool_handler, POOL, name=pools + 'scoped', ranges=[rng('10.186.0.0/24')],
         selector=sel(scope=[{'namespace': namespace}]))
    assert call_warnings(cluster, load_balancer_handler, LB, check=True, **params)[1] == []


def test_legacy_cluster_has_no_load_balancer_api(legacy_cluster, api_rvs):
    before = api_rvs(legacy_cluster)
    with pytest.raises(MissingApiError, match='serves no IPPool .*came with Harvester v1.2.0'):
        call(legacy_cluster, ip_pool_handler, POOL, name='p', ranges=[rng('10.187.0.0/24')])
    with pytest.raises(MissingApiError, match='serves no LoadBalancer .*came with Harvester v1.2.0'):
        call(legacy_cluster, load_balancer_handler, LB, name='web', listeners=[listener('http', 80, 8080)])
    with pytest.raises(MissingApiError, match='serves no IPPool .*came with Harvester v1.2.0'):
        call(legacy_cluster, load_balancer_info_handler, INFO)
    assert api_rvs(legacy_cluster) == before


def test_harvesters_webhook_refuses_on_its_own(cluster, harvester, pools, namespace, api_rvs):
    """The stand-in of Harvester's load balancer webhook (testbeds/cluster/harvester_lb.py, independent of the
    module's checks) sees the module's requests, dry runs included, and refuses what the module refuses when a
    client writes past the module."""
    call(cluster, vlan_network_handler, NET, name='vlan130', namespace=namespace, cluster_network='mgmt', vlan_id=130)
    name = pools + 'hook'
    seen = len(harvester.calls)
    call(cluster, ip_pool_handler, POOL, check=True, name=name, ranges=[rng('10.189.0.0/24')],
         selector=sel(network=namespace + '/vlan130', scope=[{'namespace': namespace}]))
    assert ('/validate/ippool?timeout=10s', 'IPPool', 'CREATE', True, None) in harvester.calls[seen:]
    call(cluster, ip_pool_handler, POOL, name=name, ranges=[rng('10.189.0.0/24')],
         selector=sel(network=namespace + '/vlan130', scope=[{'namespace': namespace}]))
    assert read(cluster, POOLS + '/' + name)['metadata']['labels']['loadbalancer.harvesterhci.io/vid'] == '130'
    call(cluster, load_balancer_handler, LB, name='web', namespace=namespace, listeners=[listener('http', 80, 8080)],
         health_check=dict(port=8080, success_threshold=None, failure_threshold=None, period_seconds=None,
                           timeout_seconds=None))
    stored = read(cluster, LBS % namespace + '/web')
    assert stored['metadata']['annotations']['loadbalancer.harvesterhci.io/namespace'] == namespace
    # the module sent the thresholds Harvester's mutator would fill in: a re-run changes nothing
    result, log = call(cluster, load_balancer_handler, LB, name='web', namespace=namespace,
                       listeners=[listener('http', 80, 8080)],
                       health_check=dict(port=8080, success_threshold=None, failure_threshold=None,
                                         period_seconds=None, timeout_seconds=None))
    assert not result['changed'] and writes(log) == []
    allocate(cluster, name, '10.189.0.9', namespace + '/web')
    before = api_rvs(cluster)
    raw_pool = {'apiVersion': 'loadbalancer.harvesterhci.io/v1beta1', 'kind': 'IPPool',
                'metadata': {'name': pools + 'raw'}, 'spec': {'ranges': [{'subnet': '10.189.0.128/25'}]}}
    raw_lb = {'apiVersion': 'loadbalancer.harvesterhci.io/v1beta1', 'kind': 'LoadBalancer',
              'metadata': {'name': 'raw', 'namespace': namespace},
              'spec': {'listeners': [{'name': 'a', 'port': 80, 'protocol': 'TCP', 'backendPort': 80},
                                     {'name': 'a', 'port': 81, 'protocol': 'TCP', 'backendPort': 81}]}}
    refusals = [
        (('POST', POOLS, raw_pool), 'overlap with other pools'),
        (('POST', POOLS, dict(raw_pool, spec={'ranges': [{'subnet': '10.190.0.0/24'}],
                                              'selector': {'network': namespace + '/nosuch'}})), '"nosuch" not found'),
        (('DELETE', POOLS + '/' + name, None), 'releasing all the allocated IP'),
        (('PATCH', POOLS + '/' + name, {'spec': {'ranges': [{'subnet': '10.189.1.0/24'}]}}),
         'allocated IP 10.189.0.9 is excluded'),
        (('POST', LBS % namespace, raw_lb), 'listener has duplicate name a'),
        (('PATCH', LBS % namespace + '/web', {'spec': {'ipam': 'dhcp'}}), "can't change the IPAM from pool to dhcp"),
        (('PATCH', LBS % namespace + '/web', {'spec': {'healthCheck': {'port': 9999}}}),
         'healthcheck port 9999 is not in listener backend port list'),
    ]
    for (method, path, body), words in refusals:
        status, answer = cluster.request(method, path, body, headers=MERGE if method == 'PATCH' else None)
        assert status == 500 and words in answer['message'] and 'Internal error occurred' in answer['message'], \
            (method, path, status, answer)
    assert api_rvs(cluster) == before


def test_namespace_missing(cluster):
    with pytest.raises(ApiError, match='create the namespace first'):
        call(cluster, load_balancer_handler, LB, name='web', namespace='nosuch-' + secrets.token_hex(3),
             listeners=[listener('http', 80, 8080)])


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - harvester.network.ip_pool:
        name: {pool}
        ranges: [{{subnet: 10.188.0.0/24, start: 10.188.0.10, end: 10.188.0.50, gateway: 10.188.0.1}}]
        selector: {{scope: [{{namespace: {namespace}}}]}}
      check_mode: true
      diff: true
      register: pool_check
    - harvester.network.ip_pool:
        name: {pool}
        ranges: [{{subnet: 10.188.0.0/24, start: 10.188.0.10, end: 10.188.0.50, gateway: 10.188.0.1}}]
        selector: {{scope: [{{namespace: {namespace}}}]}}
      register: pool_create
    - harvester.network.load_balancer:
        name: web
        namespace: {namespace}
        listeners: [{{name: http, port: 80, backend_port: 8080}}]
        backend_selector: {{harvesterhci.io/vmName: web1}}
        health_check: {{port: 8080}}
      register: lb_create
    - harvester.network.load_balancer:
        name: web
        namespace: {namespace}
        listeners: [{{name: http, port: 80, backend_port: 8080}}]
        backend_selector: {{harvesterhci.io/vmName: [web1]}}
        health_check: {{port: 8080}}
      register: lb_rerun
    - harvester.network.load_balancer:
        name: web
        namespace: {namespace}
        listeners: [{{name: http, port: 80, backend_port: 8080}}, {{name: www, port: 81, backend_port: 8080}}]
      register: lb_bad
      ignore_errors: true
    - harvester.network.load_balancer: {{name: web, namespace: {namespace}, state: absent}}
      register: lb_delete
    - harvester.network.ip_pool: {{name: {pool}, state: absent}}
      register: pool_delete
    - ansible.builtin.assert:
        that:
          - pool_check is changed and pool_check.diff.after.spec.ranges[0].rangeEnd == '10.188.0.50'
          - pool_create is changed and pool_create.ip_pool.size == 41
          - lb_create is changed and lb_create.load_balancer.health_check.success_threshold == 2
          - lb_rerun is not changed
          - lb_bad is failed and lb_bad.field == 'listeners[1].backend_port'
          - lb_bad.msg is search('listeners\\\\[0\\\\] has the same backend port')
          - lb_delete is changed and pool_delete is changed
"""


def test_playbook(cluster, pools, namespace, tmp_path):
    pool = pools + 'play'
    proc = run_playbook(cluster, tmp_path, PLAYBOOK.format(namespace=namespace, pool=pool))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert read(cluster, POOLS + '/' + pool) is None and read(cluster, LBS % namespace + '/web') is None
