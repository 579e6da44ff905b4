"""Pure logic of ip_pool and load_balancer: Harvester's range rules (allocator.go MakeRange), scope matching
(selector.go), the pool checks against other pools (validator.go) and the manifests. The cluster-side proof is
tests/integration/cluster/test_load_balancer.py."""

import ipaddress

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster import load_balancers as lb
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import (
    ApiError, Errors, ValidationError, webhook_refusal)

POOL = dict(name='p', description=None, ranges=None, selector=None, state='present')
LB = dict(name='web', namespace='default', description=None, workload_type='vm', ipam='pool', ip_pool=None,
          listeners=[dict(name='http', port=80, protocol='TCP', backend_port=8080)], backend_selector=None,
          health_check=None, state='present')


def rng(subnet, start=None, end=None, gateway=None):
    return dict(subnet=subnet, start=start, end=end, gateway=gateway)


def stored_pool(name, ranges, selector=None, labels=None):
    return {'metadata': {'name': name, 'labels': labels or {}},
            'spec': {'ranges': ranges, 'selector': selector or {}}}


@pytest.mark.parametrize('item, first, last, gateway, size', [
    # defaults: first host .. last host before the broadcast, gateway the first host (never handed out)
    (rng('192.168.0.0/24'), '192.168.0.1', '192.168.0.254', '192.168.0.1', 253),
    (rng('192.168.0.0/24', '192.168.0.100', '192.168.0.199', '192.168.0.1'), '192.168.0.100', '192.168.0.199',
     '192.168.0.1', 100),
    # host bits in the subnet are accepted, as Go's net.ParseCIDR does
    (rng('192.168.0.77/24'), '192.168.0.1', '192.168.0.254', '192.168.0.1', 253),
    # a /32 is that one address, no gateway
    (rng('10.0.0.9/32'), '10.0.0.9', '10.0.0.9', None, 1),
    # IPv6: the last address is not a broadcast, so the default end is the subnet's last address
    (rng('fd00::/120'), 'fd00::1', 'fd00::ff', 'fd00::1', 254),
])
def test_parse_range_defaults(item, first, last, gateway, size):
    parsed = lb.parse_range('ranges[0]', item)
    assert (str(parsed.first), str(parsed.last)) == (first, last)
    assert (str(parsed.gateway) if parsed.gateway else None) == gateway
    assert parsed.size() == size


@pytest.mark.parametrize('item, field, words', [
    (rng('192.168.0.0'), 'ranges[0].subnet', 'not a CIDR'),
    (rng('192.168.0.0/40'), 'ranges[0].subnet', 'not a CIDR'),
    (rng('192.168.0.0/24', start='192.168.1.5'), 'ranges[0].start', 'outside subnet'),
    (rng('192.168.0.0/24', start='fd00::1'), 'ranges[0].start', 'outside subnet'),
    (rng('192.168.0.0/24', end='192.168.0.255'), 'ranges[0].end', 'broadcast'),
    (rng('192.168.0.0/24', gateway='192.168.0.0'), 'ranges[0].gateway', 'network address'),
    (rng('192.168.0.0/24', start='x'), 'ranges[0].start', 'not an IP address'),
    (rng('192.168.0.0/24', '192.168.0.9', '192.168.0.8'), 'ranges[0].start', 'comes after end'),
    (rng('10.0.0.9/32', start='10.0.0.9'), 'ranges[0].start', 'network address'),
])
def test_parse_range_refusals(item, field, words):
    with pytest.raises(ValidationError, match=words) as info:
        lb.parse_range('ranges[0]', item)
    assert info.value.field == field


def test_overlap_is_per_family_and_inclusive():
    a = lb.parse_range('a', rng('10.0.0.0/24', '10.0.0.10', '10.0.0.20'))
    assert a.overlaps(lb.parse_range('b', rng('10.0.0.0/24', '10.0.0.20', '10.0.0.30')))
    assert not a.overlaps(lb.parse_range('b', rng('10.0.0.0/24', '10.0.0.21', '10.0.0.30')))
    assert a.overlaps(lb.parse_range('b', rng('10.0.0.16/28')))  # another subnet, shared addresses
    assert not a.overlaps(lb.parse_range('b', rng('fd00::/120')))
    assert a.contains(ipaddress.ip_address('10.0.0.10')) and not a.contains(ipaddress.ip_address('10.0.0.21'))


@pytest.mark.parametrize('pool, wanted, matches', [
    (('', 'default', ''), ('', 'default', ''), True),
    (('', 'default', ''), ('', 'other', ''), False),
    (('*', '*', '*'), ('p', 'ns', 'gc'), True),
    (('', 'ns', ''), ('*', '*', '*'), True),  # a wildcard on the requirement's side matches too (strict mode)
    (('p1', 'ns', ''), ('p2', 'ns', ''), False),
])
def test_scope_matches(pool, wanted, matches):
    assert lb.scope_matches(pool, wanted) is matches


def test_validate_pool_manifest_and_collected_errors():
    manifest, ranges = lb.validate_pool(dict(POOL, description='d', ranges=[rng('10.1.0.0/24', gateway='10.1.0.254')],
                                             selector=dict(network='ns/net', priority=3,
                                                           scope=[dict(project=None, namespace='ns',
                                                                       guest_cluster='gc')])))
    assert manifest['spec'] == {'description': 'd', 'ranges': [{'subnet': '10.1.0.0/24', 'gateway': '10.1.0.254'}],
                                'selector': {'priority': 3, 'network': 'ns/net',
                                             'scope': [{'namespace': 'ns', 'guestCluster': 'gc'}]}}
    assert [str(item) for item in ranges] == ['10.1.0.1-10.1.0.254']
    # no selector: none sent; absent: no manifest
    assert 'selector' not in lb.validate_pool(dict(POOL, ranges=[rng('10.1.0.0/24')]))[0]['spec']
    assert lb.validate_pool(dict(POOL, state='absent')) == (None, [])
    with pytest.raises(ValidationError) as info:
        lb.validate_pool(dict(POOL, name='P', ranges=[rng('10.1.0.0/24'), rng('10.1.0.128/25')],
                              selector=dict(network='a/b/c', priority=2 ** 32, scope=[
                                  dict(project=None, namespace='ns', guest_cluster=None),
                                  dict(project=None, namespace='*', guest_cluster=None)])))
    assert info.value.fields == ['name', 'ranges[1]', 'selector.priority', 'selector.network', 'selector.scope[1]']


def test_global_pool_is_exempt_from_the_scope_rules():
    everywhere = dict(project='*', namespace='*', guest_cluster='*')
    manifest, _ranges = lb.validate_pool(dict(POOL, ranges=[rng('10.1.0.0/24')], selector=dict(
        network=None, priority=0, scope=[everywhere])))
    assert lb.is_global(manifest['spec'])
    errors = Errors()
    lb.check_pools(errors, manifest, [], {('', 'other'): stored_pool('other', [], {'scope': [{'namespace': 'x'}]})})
    assert not errors.items
    lb.check_pools(errors, manifest, [], {('', 'g'): stored_pool('g', [], labels={lb.KEY_GLOBAL_POOL: 'true'})})
    assert [field for field, _text in errors.items] == ['selector.scope']


def test_check_pools_against_others():
    manifest, ranges = lb.validate_pool(dict(POOL, ranges=[rng('10.2.0.0/24')], selector=dict(
        network=None, priority=0, scope=[dict(project=None, namespace='ns', guest_cluster=None)])))
    pools = {('', 'p'): stored_pool('p', [{'subnet': '10.9.0.0/24'}]),  # itself: ignored
             ('', 'wide'): stored_pool('wide', [{'subnet': '10.2.0.0/16', 'rangeStart': '10.2.0.200'}]),
             ('', 'same-scope'): stored_pool('same-scope', [{'subnet': '10.3.0.0/24'}],
                                             {'scope': [{'namespace': '*'}]}),
             ('', 'prio'): stored_pool('prio', [{'subnet': '10.4.0.0/24'}], {'priority': 4, 'scope': [{}]})}
    errors = Errors()
    lb.check_pools(errors, manifest, ranges, pools)
    assert errors.items == [
        ('ranges[0]', 'range 10.2.0.1-10.2.0.254 shares addresses with IP pool wide (range 10.2.0.200-10.2.255.254): '
                      'pools may not overlap'),
        ('selector.scope[0]', 'IP pool same-scope (priority 0) already serves this network and scope: give one of '
                              'them a priority or another scope')]
    # with a priority of its own the scope no longer clashes; the same non-zero priority does
    manifest['spec']['selector']['priority'] = 4
    errors = Errors()
    lb.check_pools(errors, manifest, [], pools)
    assert errors.items == [('selector.priority', 'IP pool prio has priority 4 too: give each pool its own priority')]


def test_select_pool_mirrors_harvester():
    pools = {('', 'low'): stored_pool('low', [], {'priority': 1, 'scope': [{'namespace': 'ns'}]}),
             ('', 'high'): stored_pool('high', [], {'priority': 9, 'scope': [{'namespace': '*'}]}),
             ('', 'net'): stored_pool('net', [], {'network': 'ns/vlan', 'priority': 20, 'scope': [{'namespace': '*'}]}),
             ('', 'all'): stored_pool('all', [], {'scope': [{'project': '*', 'namespace': '*', 'guestCluster': '*'}]})}
    assert lb.select_pool(pools, 'ns') == 'high'  # 'net' needs the network a VM load balancer does not have
    del pools[('', 'high')]
    assert lb.select_pool(pools, 'other') == 'all'
    del pools[('', 'all')]
    assert lb.select_pool(pools, 'other') is None


def test_load_balancer_manifest_fills_harvesters_health_check_defaults():
    manifest = lb.validate_load_balancer(dict(LB, backend_selector={'app': 'web', 'tier': ['a', 'b']},
                                              health_check=dict(port=8080, success_threshold=None,
                                                                failure_threshold=5, period_seconds=None,
                                                                timeout_seconds=None)))
    assert manifest['spec'] == {
        'workloadType': 'vm', 'ipam': 'pool',
        'listeners': [{'name': 'http', 'port': 80, 'protocol': 'TCP', 'backendPort': 8080}],
        'backendServerSelector': {'app': ['web'], 'tier': ['a', 'b']},
        'healthCheck': {'port': 8080, 'successThreshold': 2, 'failureThreshold': 5, 'periodSeconds': 1,
                        'timeoutSeconds': 1}}
    # a cluster load balancer needs no listeners
    assert lb.validate_load_balancer(dict(LB, workload_type='cluster', listeners=[]))['spec']['listeners'] == []
    # UDP and TCP may share a port number
    both = [dict(name='a', port=53, protocol='TCP', backend_port=53),
            dict(name='b', port=53, protocol='UDP', backend_port=53)]
    assert len(lb.validate_load_balancer(dict(LB, listeners=both))['spec']['listeners']) == 2


def test_immutable_fields():
    manifest = lb.validate_load_balancer(LB)
    lb.check_immutable(manifest, {'metadata': {'name': 'web', 'namespace': 'default'}, 'spec': {}})  # '' is pool, vm
    with pytest.raises(ValidationError, match='has ipam dhcp') as info:
        lb.check_immutable(manifest, {'metadata': {'name': 'web', 'namespace': 'default'}, 'spec': {'ipam': 'dhcp'}})
    assert info.value.field == 'ipam'


@pytest.mark.parametrize('sentence, field', [
    ("can't create IP pool p because the ranges [...] overlap with other pools", 'ranges'),
    ("can't update IP pool p because allocated IP 10.0.0.5 is excluded", 'ranges'),
    ("can't create IP pool p because invalid range start 10.9.0.1: IP 10.9.0.1 is out of subnet 10.0.0.0/24", 'ranges'),
    ("can't create IP pool p because network-attachment-definitions.k8s.cni.cncf.io \"n\" not found",
     'selector.network'),
    ("can't create IP pool p because there is already a global IP pool: g", 'selector'),
    ("can't delete pool before releasing all the allocated IP", 'state'),
    ('create loadbalancer ns/web failed: listener has duplicate name http', 'listeners'),
    ('create loadbalancer ns/web failed with healthyCheck: healthcheck port 9 is not in listener backend port list',
     'health_check'),
    ("update loadbalancer ns/web failed: can't change the IPAM from pool to dhcp", 'ipam'),
    ("update loadbalancer ns/web failed: can't change the WorkloadType from vm to cluster", 'workload_type'),
])
def test_load_balancer_webhook_refusals_name_the_option(sentence, field):
    """A refusal of Harvester's load balancer webhook (a race the module's own checks could not see) still names
    the option and says what to do."""
    body = {'message': 'admission webhook "validator.harvester-load-balancer-webhook" denied the request: Internal '
                       'error occurred: ' + sentence}
    error = webhook_refusal('IPPool p', ApiError('x', status=500, body=body))
    assert error.field == field and sentence.split(': ')[-1] in str(error)
