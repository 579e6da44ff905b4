"""Pure logic of network_setting: input checks, Harvester's value JSON, address counting, the wait loop."""

import json
import random

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster import settings
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ValidationError, WaitTimeout

from testbeds.cluster import harvester_settings

BASE = dict(name='storage-network', cluster_network='storage', vlan_id=50, range='192.168.50.0/24', exclude=[],
            state='present')


@pytest.mark.parametrize('changes, field, words', [
    (dict(cluster_network=None), 'cluster_network', 'required'),
    (dict(range=None), 'range', 'required'),
    (dict(cluster_network='Storage'), 'cluster_network', 'DNS-1123'),
    (dict(vlan_id=4095), 'vlan_id', 'out of range'),
    (dict(vlan_id=-1), 'vlan_id', 'out of range'),
    (dict(cluster_network='mgmt', vlan_id=1), 'vlan_id', 'mgmt'),
    (dict(cluster_network='mgmt', vlan_id=None), 'vlan_id', 'mgmt'),
    (dict(range='192.168.50.0'), 'range', 'ADDRESS/PREFIX'),
    (dict(range='192.168.50.7/24'), 'range', 'host bits.*give 192.168.50.0/24'),
    (dict(range='banana/24'), 'range', 'not a CIDR'),
    (dict(range='172.16.0.0/12'), 'range', '/16 or longer'),
    (dict(range='fd00::/64'), 'range', 'IPv6'),
    (dict(exclude=['10.0.0.0/24']), 'exclude[0]', 'outside range'),
    (dict(exclude=['192.168.50.0/23']), 'exclude[0]', 'whole range'),
    (dict(exclude=['192.168.0.0/8']), 'exclude[0]', '/16 or longer'),
    (dict(exclude=['192.168.50.0/25', '192.168.50.64/26']), 'exclude[1]', 'overlaps exclude\\[0\\]'),
    (dict(range='192.168.50.0/30', exclude=['192.168.50.0/31', '192.168.50.2/31']), 'exclude', 'no address'),
])
def test_refusals(changes, field, words):
    params = dict(BASE, **changes)
    with pytest.raises(ValidationError, match=words) as info:
        settings.validate_params(params)
    assert info.value.field == field


def test_value_is_written_as_harvester_marshals_it():
    config = settings.validate_params(dict(BASE, exclude=['192.168.50.1/32', '192.168.50.128/25']))
    # Go's json.Marshal of network.Config (pkg/util/network/common.go): field order, no spaces, empty left out
    assert settings.encode(config) == ('{"clusterNetwork":"storage","vlan":50,"range":"192.168.50.0/24",'
                                       '"exclude":["192.168.50.1/32","192.168.50.128/25"]}')
    untagged = settings.validate_params(dict(BASE, vlan_id=None))
    assert settings.encode(untagged) == '{"clusterNetwork":"storage","range":"192.168.50.0/24"}'
    assert settings.validate_params(dict(BASE, state='absent')) is None and settings.encode(None) == ''


def test_same_config_ignores_exclude_order_and_empty_fields():
    a = {'clusterNetwork': 'x', 'vlan': 5, 'range': '10.1.0.0/24', 'exclude': ['10.1.0.1/32', '10.1.0.2/32']}
    b = json.loads(json.dumps(a))
    b['exclude'].reverse()
    b['vlan'] = 5
    assert settings.same_config(a, b)
    assert settings.same_config({'clusterNetwork': 'x', 'range': 'r', 'exclude': []}, {'clusterNetwork': 'x', 'range': 'r'})
    assert not settings.same_config(a, dict(a, vlan=6))
    assert not settings.same_config(a, None) and settings.same_config(None, None)
    assert settings.decode('not json') == {'_invalid': 'not json'} and settings.decode('') is None


def test_usable_addresses_agree_with_a_brute_force_count():
    """The interval arithmetic against the bed's set-based copy of Harvester's GetUsableIPAddresses."""
    rng = random.Random(7)
    for _round in range(200):
        prefix = rng.randint(22, 30)
        base = '10.%d.%d.0' % (rng.randint(0, 255), rng.randint(0, 3) * 4)
        cidr = '%s/%d' % (base, prefix)
        network = settings.ipaddress.ip_network(cidr, strict=False)
        cidr = str(network)
        exclude = []
        for _item in range(rng.randint(0, 3)):
            size = rng.randint(prefix + 1, 32)
            offset = rng.randrange(network.num_addresses)
            host = network.network_address + offset
            exclude.append('%s/%d' % (host, size))  # host bits set: counted from the address written
        want = harvester_settings.usable(cidr, exclude)
        assert settings.count_usable(cidr, exclude) == len(want), (cidr, exclude)
        pieces = settings.usable_intervals(cidr, exclude)
        assert set(a for low, high in pieces for a in range(low, high + 1)) == want


def test_overlap_is_about_usable_addresses():
    a = settings.usable_intervals('10.0.0.0/24', [])
    assert settings.intervals_overlap(a, settings.usable_intervals('10.0.0.128/25', []))
    # the /24's broadcast address is not usable, and the /30 beyond it shares nothing
    assert not settings.intervals_overlap(a, settings.usable_intervals('10.0.1.0/30', []))
    # a range whose every address is excluded shares nothing
    assert not settings.intervals_overlap(a, settings.usable_intervals('10.0.0.0/24', ['10.0.0.0/25', '10.0.0.128/25']))


def test_required_addresses_leave_witness_nodes_out():
    nodes = {('', 'a'): {'metadata': {}}, ('', 'b'): {'metadata': {'labels': {}}},
             ('', 'w'): {'metadata': {'labels': {settings.WITNESS_LABEL: 'true'}}}}
    assert settings.required_addresses('storage-network', nodes) == 8
    assert settings.required_addresses('vm-migration-network', nodes) == 2
    with pytest.raises(ValidationError, match='leaves 6 address.*at least 8') as info:
        settings.check_range_size('storage-network', {'range': '10.0.0.0/29'}, nodes)
    assert info.value.field == 'range'


class Polled(object):
    """What wait_configured reads: a sequence of setting objects, one per GET."""

    def __init__(self, objects):
        self.objects = list(objects)

    def get(self, _kind, _name):
        return self.objects.pop(0) if len(self.objects) > 1 else self.objects[0]


def obj(value, hash_of=None, status=None, reason='', message=''):
    out = {'metadata': {'annotations': {settings.HASH_ANNOTATION['storage-network']: settings.value_hash(
        value if hash_of is None else hash_of)}}, 'value': value}
    if status:
        out['status'] = {'conditions': [{'type': 'configured', 'status': status, 'reason': reason,
                                         'message': message}]}
    return out


def test_wait_needs_the_new_value_taken_up_and_configured():
    clock = iter(range(1000)).__next__
    stale = obj('new', hash_of='old', status='True', reason='Completed')  # the last change's condition, not ours
    steps = [stale, obj('new', status='False', reason='In Progress', message='create NAD'),
             obj('new', status='True', reason='Completed')]
    got = settings.wait_configured(Polled(steps), 'storage-network', 'new', 60, sleep=lambda _s: None, clock=clock)
    assert got['status']['conditions'][0]['reason'] == 'Completed'


def test_wait_ends_on_a_failure_and_times_out_naming_the_state():
    clock = iter(range(1000)).__next__
    failed = obj('new', status='False', reason='CreateNadError', message='create nad error boom')
    with pytest.raises(WaitTimeout, match='CreateNadError: create nad error boom'):
        settings.wait_configured(Polled([failed]), 'storage-network', 'new', 60, sleep=lambda _s: None, clock=clock)
    clock = iter(range(1000)).__next__
    held = obj('new', status='False', reason='In Progress', message='waiting for all volumes detached: v1')
    with pytest.raises(WaitTimeout, match='timed out after 5s.*waiting for all volumes detached: v1') as info:
        settings.wait_configured(Polled([held]), 'storage-network', 'new', 5, sleep=lambda _s: None, clock=clock)
    assert info.value.field == 'wait_timeout'
