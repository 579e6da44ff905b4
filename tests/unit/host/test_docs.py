"""The option docs of a bond and a bridge are written once (doc fragment harvester.network.host) for the argument
spec the modules share (module_utils/host/argspec.py): the fragments cover that spec exactly, and host_network's
``bonds`` and ``bridges`` are the same text nested, with their O() references pointing into the list."""

import yaml

from ansible_collections.harvester.network.plugins.doc_fragments.host import ModuleDocFragment
from ansible_collections.harvester.network.plugins.module_utils.host import argspec, profiles


def _options(text):
    return yaml.safe_load(text)['options']


def _same_shape(doc, spec, path):
    """Type, elements, default, choices and required of every option agree with the argument spec."""
    assert sorted(doc) == sorted(spec), path
    for name, option in spec.items():
        documented = doc[name]
        assert documented['type'] == option['type'], '%s.%s' % (path, name)
        for key in ('elements', 'default', 'choices'):
            assert documented.get(key) == option.get(key), '%s.%s %s' % (path, name, key)
        assert bool(documented.get('required')) == bool(option.get('required')), '%s.%s required' % (path, name)
        assert documented['description'], '%s.%s' % (path, name)


def test_fragments_cover_the_shared_spec():
    _same_shape(_options(ModuleDocFragment.BOND), argspec.bond_options(), 'bond')
    _same_shape(_options(ModuleDocFragment.BRIDGE), argspec.bridge_options(), 'bridge')


def test_host_network_nests_the_same_text():
    network = _options(ModuleDocFragment.NETWORK)
    spec = profiles.module_spec('host_network')['argument_spec']
    for section, fragment in (('bonds', ModuleDocFragment.BOND), ('bridges', ModuleDocFragment.BRIDGE)):
        assert network[section]['type'] == 'list' and network[section]['elements'] == 'dict'
        nested = network[section]['suboptions']
        _same_shape(nested, spec[section]['options'], section)
        top = _options(fragment)
        for name, option in top.items():
            # the same words; only O(x) became O(section[].x)
            lines = option['description'] if isinstance(option['description'], list) else [option['description']]
            for other in top:
                lines = [line.replace('O(%s)' % other, 'O(%s[].%s)' % (section, other)) for line in lines]
            assert nested[name]['description'] in (lines, lines[0]), '%s.%s' % (section, name)
    assert 'O(bonds[].miimon)' in network['bonds']['suboptions']['updelay']['description']
    assert 'O(bridges[].uplink)' in network['bridges']['suboptions']['migrate']['description'][0]
