"""Idempotence rules: server noise is no difference, a dropped owned field is."""

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster import compare

NAD = {'apiVersion': 'k8s.cni.cncf.io/v1', 'kind': 'NetworkAttachmentDefinition',
       'metadata': {'name': 'n', 'namespace': 'default', 'labels': {'a': '1'},
                    'annotations': {'network.harvesterhci.io/route': '{"mode":"auto"}'}},
       'spec': {'config': '{"cniVersion":"0.3.1","name":"n","type":"bridge","bridge":"data-br","vlan":5}'}}


def server_copy(obj, **extra):
    out = compare.strip_noise(obj)
    out['metadata'].update({'resourceVersion': '77', 'uid': 'u', 'generation': 3, 'creationTimestamp': 'now',
                            'managedFields': []})
    out['metadata'].update(extra)
    return out


def test_noise_is_not_a_difference():
    assert compare.needs_apply(NAD, server_copy(NAD), 'me') == []


def test_json_config_compared_as_json_and_server_additions_ignored():
    have = server_copy(NAD)
    # Harvester's webhook re-marshals the config and adds mtu; the controller fills the route
    have['spec']['config'] = '{"vlan":5,"bridge":"data-br","type":"bridge","name":"n","cniVersion":"0.3.1","mtu":1500}'
    have['metadata']['annotations']['network.harvesterhci.io/route'] = \
        '{"mode":"auto","cidr":"10.0.0.0/24","gateway":"10.0.0.1","connectivity":"true"}'
    have['metadata']['labels']['network.harvesterhci.io/ready'] = 'true'
    assert compare.needs_apply(NAD, have, 'me') == []


@pytest.mark.parametrize('mutate, path', [
    (lambda o: o['spec'].update(config='{"cniVersion":"0.3.1","name":"n","type":"bridge","bridge":"data-br","vlan":6}'),
     ('spec', 'config', 'vlan')),
    (lambda o: o['metadata']['labels'].update(a='2'), ('metadata', 'labels', 'a')),
    (lambda o: o['metadata'].pop('labels'), ('metadata', 'labels')),
])
def test_real_differences(mutate, path):
    have = server_copy(NAD)
    mutate(have)
    assert path in compare.needs_apply(NAD, have, 'me')


def test_owned_field_no_longer_sent_is_a_difference():
    have = server_copy(NAD)
    have['metadata']['labels']['old'] = 'x'
    have['metadata']['managedFields'] = [
        {'manager': 'me', 'operation': 'Apply', 'fieldsV1': {'f:metadata': {'f:labels': {'f:a': {}, 'f:old': {}}}}},
        {'manager': 'ui', 'operation': 'Update', 'fieldsV1': {'f:metadata': {'f:labels': {'f:x': {}}}}},
    ]
    assert compare.needs_apply(NAD, have, 'me') == [('metadata', 'labels', 'old')]
    # another manager's fields are none of our business
    assert compare.needs_apply(NAD, have, 'other') == []


@pytest.mark.parametrize('want, have, diff', [
    ({'a': [1, 2]}, {'a': [1, 2, 3]}, [('a',)]),
    ({'a': [{'n': 1}]}, {'a': [{'n': 1, 'default': True}]}, []),
    ({'a': 1}, {'a': 1.0}, []),
    ({'a': True}, {'a': 1}, [('a',)]),
    ({'a': None}, {}, []),
    ({'a': {}}, {}, [('a',)]),
])
def test_differences(want, have, diff):
    assert compare.differences(want, have) == diff


def test_strip_noise_drops_status_and_last_applied():
    obj = server_copy(NAD)
    obj['status'] = {'x': 1}
    obj['metadata']['annotations']['kubectl.kubernetes.io/last-applied-configuration'] = '{}'
    clean = compare.strip_noise(obj)
    assert 'status' not in clean
    assert 'resourceVersion' not in clean['metadata']
    assert 'kubectl.kubernetes.io/last-applied-configuration' not in clean['metadata']['annotations']


@pytest.mark.parametrize('path, text', [
    (('spec', 'template', 'spec', 'domain', 'devices', 'interfaces', 1, 'model'),
     'spec.template.spec.domain.devices.interfaces[1].model'),
    (('metadata', 'annotations', 'network.harvesterhci.io/route'), 'metadata.annotations."network.harvesterhci.io/route"'),
    ((), '(whole object)'),
])
def test_format_path(path, text):
    assert compare.format_path(path) == text
