# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One profile per host module: everything the engine (engine.py) needs to know about a module, in one record.

A host module is its documentation plus ``run_module(AnsibleModule(**module_spec(NAME)), NAME)``; the engine does
the rest from the module's profile here.  Adding a host module means one ``Profile`` in PROFILES below and one
module file (docs/host.md, "How to add a host module").

A profile says:

* ``spec``: the module's AnsibleModule arguments (argument spec, required_if, ...), composed from the option
  shapes of argspec.py that the doc fragments mirror;
* ``want``: params -> the desired state the planner takes (validate.py builds it, every error naming its field);
* ``view``: the part of the node the module reports as ``before``/``after`` (and as ``gathered``);
* ``persists``: whether ``persist: true`` saves what the module manages (store.py);
* ``rendered_state``: how ``state: rendered`` plans the desired state offline (None: no rendered state);
* ``probes`` / ``rollback``: params -> the probe options after a change (None: no probes) and whether a failed
  change is rolled back;
* ``report``: for a module that only reads (host_network_info), the facts -> its result; the engine then only
  reads the node.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.harvester.network.plugins.module_utils.host import facts, validate
from ansible_collections.harvester.network.plugins.module_utils.host.argspec import (
    RESOURCE_STATES, address_options, bond_options, bridge_options, common_write_options, probe_options, route_options,
    vlan_options)


class Profile:
    """What the engine needs to know about one host module (see the module docstring)."""

    def __init__(self, name, spec, want=None, view=None, persists=False, rendered_state=None, probes=None,
                 rollback=None, report=None):
        self.name = name
        self.spec = spec
        self.want = want
        self.view = view
        self.persists = persists
        self.rendered_state = rendered_state
        self.probes = probes or (lambda params: None)
        self.rollback = rollback or (lambda params: True)
        self.report = report


# --------------------------------------------------------------------------------------- host_bond

def host_bond_spec():
    spec = bond_options()
    spec.update(state=dict(type='str', choices=['present', 'absent'], default='present'))
    spec.update(common_write_options())
    return dict(argument_spec=spec, supports_check_mode=True)


def bond_view(params, state, want):
    """The bond, in the shape host_bond takes ({} when there is none)."""
    name = params['name']
    return facts.bond_config(state, name) if name in state['bonds'] and name in state['links'] else {}


# --------------------------------------------------------------------------------------- host_bridge

def host_bridge_spec():
    spec = bridge_options()
    spec.update(state=dict(type='str', choices=['present', 'absent'], default='present'),
                purge_ports=dict(type='bool', default=False))
    spec.update(common_write_options())
    return dict(argument_spec=spec, supports_check_mode=True,
                required_if=[('migrate', True, ('uplink',))])


def bridge_view(params, state, want):
    """The bridge with its addresses; with migrate, also the uplink's addresses and the routes of both."""
    name = params['name']
    if name not in state['bridges'] or name not in state['links']:
        return {}
    item = facts.bridge_config(state, name)
    links = set([name, params.get('uplink')])
    config = facts.to_config(state, sections=('addresses', 'routes'))
    item['addresses'] = [a['address'] for a in config['addresses'] if a['interface'] == name]
    if params.get('migrate'):
        item['uplink_addresses'] = [a['address'] for a in config['addresses']
                                    if a['interface'] == params.get('uplink')]
        item['routes'] = [r for r in config['routes'] if r.get('interface') in links]
    return item


# --------------------------------------------------------------------------------------- host_vlan_trunk

def host_vlan_trunk_spec():
    spec = dict(
        config=dict(type='list', elements='dict', options=vlan_options()),
        bridge=dict(type='str'),
        state=dict(type='str', choices=RESOURCE_STATES, default='merged'),
    )
    spec.update(common_write_options())
    return dict(argument_spec=spec, supports_check_mode=True,
                required_if=[('state', 'merged', ('config',)), ('state', 'replaced', ('config',)),
                             ('state', 'rendered', ('config',))])


def trunk_view(params, state, want):
    """The VLAN tables of the ports concerned (all of the bridge's, or every bridge's, when the state says so)."""
    scope = want.get('vlan_bridges')
    ports = set(want.get('vlans') or {})
    everything = want['state'] in ('overridden', 'gathered') or (want['state'] == 'deleted' and not ports)
    return [item for item in facts.to_config(state, sections=('vlans',), bridges=scope)['vlans']
            if everything or item['port'] in ports]


# --------------------------------------------------------------------------------------- host_network

def host_network_spec():
    spec = dict(
        state=dict(type='str', choices=RESOURCE_STATES, default='merged'),
        bonds=dict(type='list', elements='dict', options=bond_options()),
        bridges=dict(type='list', elements='dict', options=bridge_options()),
        vlans=dict(type='list', elements='dict', options=vlan_options()),
        addresses=dict(type='list', elements='dict', options=address_options()),
        routes=dict(type='list', elements='dict', options=route_options()),
        probes=dict(type='dict', options=probe_options(), apply_defaults=True),
        rollback=dict(type='bool', default=True),
    )
    spec.update(common_write_options())
    return dict(argument_spec=spec, supports_check_mode=True)


def network_want(params):
    return validate.network_want(params, params.get('state') or 'merged')


def network_view(params, state, want):
    """The whole node, in the shape host_network takes."""
    return facts.to_config(state)


# --------------------------------------------------------------------------------------- host_network_info

def host_network_info_spec():
    return dict(argument_spec=dict(), supports_check_mode=True)


def network_info_report(have):
    return {'gathered': facts.to_config(have), 'status': facts.status(have)}


# --------------------------------------------------------------------------------------- the profiles

PROFILES = dict((profile.name, profile) for profile in (
    Profile('host_bond', host_bond_spec, want=validate.bond_want, view=bond_view, persists=True),
    Profile('host_bridge', host_bridge_spec, want=validate.bridge_want, view=bridge_view, persists=True),
    Profile('host_vlan_trunk', host_vlan_trunk_spec, want=validate.trunk_want, view=trunk_view, persists=True,
            rendered_state='replaced'),
    Profile('host_network', host_network_spec, want=network_want, view=network_view, persists=True,
            rendered_state='merged', probes=lambda params: params.get('probes'),
            rollback=lambda params: params.get('rollback', True)),
    Profile('host_network_info', host_network_info_spec, report=network_info_report),
))


def profile(name):
    """The profile of host module ``name``."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError('%s is not a host module; the host modules are %s' % (name, ', '.join(sorted(PROFILES))))


def module_spec(name):
    """The AnsibleModule arguments of host module ``name`` (what its main() passes to AnsibleModule)."""
    return profile(name).spec()
