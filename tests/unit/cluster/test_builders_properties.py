"""Properties of the builders and the comparison, over generated inputs (hypothesis)."""

import json

from hypothesis import given, settings, strategies as st

from ansible_collections.harvester.network.plugins.module_utils.cluster import builders, cloudinit, compare

NAMES = st.from_regex(r'^[a-z][a-z0-9-]{0,20}[a-z0-9]$', fullmatch=True)
CLUSTER_NETWORKS = st.from_regex(r'^[a-z][a-z0-9]{0,11}$', fullmatch=True)


@st.composite
def networks(draw):
    untagged = draw(st.booleans())
    item = {'name': draw(NAMES), 'namespace': draw(NAMES), 'cluster_network': draw(CLUSTER_NETWORKS),
            'network_type': 'untagged' if untagged else 'vlan',
            'vlan_id': None if untagged else draw(st.integers(1, 4094)),
            'mtu': draw(st.one_of(st.none(), st.integers(576, 9000))),
            'description': draw(st.one_of(st.none(), st.text(min_size=1, max_size=20)))}
    if draw(st.booleans()):
        third = draw(st.integers(0, 255))
        item['route'] = {'mode': 'manual', 'cidr': '10.%d.0.0/16' % third, 'gateway': '10.%d.0.1' % third}
    return item


def server_copy(obj):
    """What a server hands back: our fields plus bookkeeping, a controller label, re-marshalled JSON."""
    have = json.loads(json.dumps(obj))
    have['metadata'].update({'resourceVersion': '9', 'uid': 'u', 'creationTimestamp': 't', 'generation': 1,
                             'managedFields': [{'manager': 'harvester.network', 'operation': 'Apply',
                                                'fieldsV1': {'f:metadata': {'f:labels': {}}, 'f:spec': {'f:config': {}}}}]})
    have['metadata'].setdefault('labels', {})['network.harvesterhci.io/ready'] = 'true'
    have['spec']['config'] = json.dumps(json.loads(have['spec']['config']), sort_keys=True)
    return have


@settings(max_examples=200, deadline=None)
@given(networks(), st.sampled_from(['legacy', 'current']))
def test_a_server_copy_is_never_a_change_and_parses_back(item, generation):
    if generation == 'legacy':
        item = dict(item, network_type='vlan', vlan_id=item['vlan_id'] or 5, mtu=None)
    nad = builders.vlan_network(generation, item)
    assert compare.needs_apply(nad, server_copy(nad), 'harvester.network') == []
    facts = builders.parse_vlan_network(nad)
    assert facts['name'] == item['name'] and facts['namespace'] == item['namespace']
    assert facts['vlan_id'] == item['vlan_id']
    assert facts['network_type'] == item['network_type']
    if generation == 'current':
        assert facts['cluster_network'] == item['cluster_network']
        assert facts['mtu'] == (item['mtu'] or 1500)
    else:
        assert facts['bridge'] == 'harvester-br0'
    if item['network_type'] == 'untagged':
        assert facts['route'] is None  # Harvester's rule: untagged networks carry no route
    elif item.get('route'):
        assert facts['route']['cidr'] == item['route']['cidr']


@settings(max_examples=200, deadline=None)
@given(networks(), st.integers(1, 4094))
def test_a_different_vlan_is_always_a_change(item, other_vid):
    item = dict(item, network_type='vlan', vlan_id=item['vlan_id'] or 7)
    have = server_copy(builders.vlan_network('current', item))
    if other_vid == item['vlan_id']:
        return
    want = builders.vlan_network('current', dict(item, vlan_id=other_vid))
    assert ('spec', 'config', 'vlan') in compare.needs_apply(want, have, 'harvester.network')


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 250), st.sampled_from(['dhcp', 'static', 'none'])), min_size=1, max_size=6,
                unique_by=lambda t: t[0]), st.sampled_from([1, 2]))
def test_network_data_names_every_configured_nic_once(spec, version):
    nics = []
    for index, (host, mode) in enumerate(spec):
        nic = {'name': 'nic-%d' % index, 'guest_name': 'enp%ds0' % (index + 1), 'ip_mode': mode}
        if mode == 'static':
            nic.update(addresses=['10.0.%d.%d/24' % (index, host)], gateway='10.0.%d.254' % index)
        nics.append(nic)
    data = cloudinit.network_data(nics, version)
    configured = [n for n in nics if n['ip_mode'] != 'none']
    if version == 1:
        assert [c['name'] for c in data['config']] == [n['guest_name'] for n in configured]
    else:
        assert list(data['ethernets']) == [n['name'] for n in configured]
    # deterministic text: the same NICs always render the same network data (no false changes)
    assert cloudinit.network_data_text(nics, version) == cloudinit.network_data_text(nics, version)
