"""Every cluster module documents exactly the options of its argument spec (module_utils/cluster/argspecs.py, the
one file the cluster modules' specs live in): names, type, elements, default, choices, required and aliases, nested
options too; the shared options through the doc fragments of harvester.network.cluster_auth. The host side's twin is
tests/unit/host/test_docs.py."""

import importlib
import os

import pytest
import yaml

from ansible_collections.harvester.network.plugins.doc_fragments.cluster_auth import ModuleDocFragment
from ansible_collections.harvester.network.plugins.module_utils.cluster import argspecs
from testbeds.common import REPO_ROOT

FRAGMENTS = {
    'harvester.network.cluster_auth': ModuleDocFragment.DOCUMENTATION,
    'harvester.network.cluster_auth.apply': ModuleDocFragment.APPLY,
    'harvester.network.cluster_auth.generation': ModuleDocFragment.GENERATION,
    'harvester.network.cluster_auth.flavor': ModuleDocFragment.FLAVOR,
}
MODULES_DIR = os.path.join(REPO_ROOT, 'plugins', 'modules')


def documented_options(name):
    module = importlib.import_module('ansible_collections.harvester.network.plugins.modules.' + name)
    doc = yaml.safe_load(module.DOCUMENTATION)
    options = dict(doc.get('options') or {})
    for fragment in doc.get('extends_documentation_fragment') or []:
        options.update(yaml.safe_load(FRAGMENTS[fragment])['options'])
    return options


def _same_shape(doc, spec, path):
    """The documented options are the spec's: same names, and per option the same shape."""
    assert sorted(doc) == sorted(spec), path
    for name, option in spec.items():
        documented = doc[name]
        where = '%s.%s' % (path, name)
        assert documented.get('type', 'str') == option.get('type', 'str'), where
        for key in ('elements', 'default', 'choices'):
            assert documented.get(key) == option.get(key), '%s %s' % (where, key)
        assert bool(documented.get('required')) == bool(option.get('required')), '%s required' % where
        assert sorted(documented.get('aliases') or []) == sorted(option.get('aliases') or []), '%s aliases' % where
        assert documented.get('description'), where
        if option.get('options'):
            _same_shape(documented.get('suboptions') or {}, option['options'], where)
        else:
            assert not documented.get('suboptions'), '%s: documents suboptions the spec does not have' % where


@pytest.mark.parametrize('name', sorted(argspecs.MODULES))
def test_documented_options_are_the_argument_spec(name):
    _same_shape(documented_options(name), argspecs.argument_spec(name), name)


def test_every_cluster_module_takes_its_spec_from_argspecs():
    """A module file of the cluster layer builds its AnsibleModule with ``new_module(<its own name>)``, and every
    spec in argspecs.py belongs to a module file."""
    cluster_modules = set()
    for filename in sorted(os.listdir(MODULES_DIR)):
        if not filename.endswith('.py') or filename.startswith('_'):
            continue
        with open(os.path.join(MODULES_DIR, filename)) as handle:
            text = handle.read()
        if 'module_utils.cluster.common import' in text:
            name = filename[:-3]
            cluster_modules.add(name)
            assert "new_module('%s')" % name in text, filename
            assert 'argument_spec=' not in text and 'AnsibleModule(' not in text, filename
    assert cluster_modules == set(argspecs.MODULES)


def test_shared_options_are_the_fragments():
    """The connection, apply and generation options match their doc fragments, as the inventory plugin's do."""
    _same_shape(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options'], argspecs.AUTH_ARG_SPEC, 'cluster_auth')
    _same_shape(yaml.safe_load(ModuleDocFragment.APPLY)['options'], argspecs.APPLY_ARG_SPEC, 'cluster_auth.apply')
    _same_shape(yaml.safe_load(ModuleDocFragment.GENERATION)['options'], argspecs.GENERATION_ARG_SPEC,
                'cluster_auth.generation')
    _same_shape(yaml.safe_load(ModuleDocFragment.FLAVOR)['options'], argspecs.FLAVOR_ARG_SPEC, 'cluster_auth.flavor')
