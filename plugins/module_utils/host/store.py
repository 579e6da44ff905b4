# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The saved desired state: every ``persist: true`` run of host_bond, host_bridge, host_vlan_trunk and
host_network folds what it manages into one document, and the boot-time unit re-applies that document.

A document (``version: 2``)::

    {'version': 2, 'sections': {
        'bonds' | 'bridges' | 'vlans' | 'addresses' | 'routes': {
            'overridden': False | True | [bridge, ...] (vlans: overridden for these bridges only),
            'items': {name | port | interface | (dst, metric): {'exact': bool, 'spec': spec}}}}}

``spec`` is the item as validate.py builds it (a bond, a bridge, a port's VLAN spec, a set of addresses, a
route).  ``exact`` says how its member list applies: a bond's slaves, a bridge's ports, a port's VLAN table or an
interface's addresses exactly (``replaced``), or added to what is there (``merged``).  A VLAN table saved as the run left it (a merge into a
saved one, a table the run changed as a side effect) is exact.

``fold(doc, want, have, end)`` gives the document after one more run, as if the saved runs were replayed in
order: ``replaced`` and ``overridden`` items replace the saved ones, ``merged`` ones add to them (options
given win), ``deleted`` removes them.  What the run did besides, on the node (``have`` -> ``end``), is folded in
too: VLAN tables, addresses and routes the kernel dropped with a port or link go, a migrated uplink's saved
addresses and routes follow it onto the bridge, and a VLAN table the run changed without naming it is saved as it
now is.

``layers(doc)`` turns a document back into desired states the planner takes, one per section and kind, in
dependency order (bonds, bridges, VLAN tables, addresses, routes), and ``plan_layers()`` plans them one after the
other on the simulated node.  The engine plans a folded document against the end state a run predicts before
it writes anything: that plan must be empty (the boot-time unit would leave the node as the run does), or the
run fails and names what differs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.harvester.network.plugins.module_utils.host import model, persist, validate

VERSION = 2
SECTIONS = ('bonds', 'bridges', 'vlans', 'addresses', 'routes')


def empty():
    sections = dict((section, {'overridden': False, 'items': {}}) for section in SECTIONS)
    return {'version': VERSION, 'sections': sections}


def _copy(doc):
    new = empty()
    for section in SECTIONS:
        saved = doc['sections'][section]
        new['sections'][section] = {
            'overridden': list(saved['overridden']) if isinstance(saved['overridden'], list) else saved['overridden'],
            'items': dict((key, {'exact': item['exact'], 'spec': _copy_spec(item['spec'])})
                          for key, item in saved['items'].items())}
    return new


def _copy_spec(spec):
    if isinstance(spec, dict):
        return dict((key, list(value) if isinstance(value, list) else value) for key, value in spec.items())
    return set(spec)


# --------------------------------------------------------------------------------------- one run folded in

def _default_pvid(state, port):
    bridge = model.bridge_of(state, port)
    return state['bridges'][bridge]['default_pvid'] if bridge else None


def _table_spec(state, port):
    """A port's VLAN table as a spec that sets exactly that table."""
    table = state['vlans'][port]
    return {'bridge': model.bridge_of(state, port), 'vids': frozenset(table),
            'untagged': frozenset(vid for vid, flags in table.items() if flags & model.BRIDGE_VLAN_UNTAGGED),
            'pvid': model.table_pvid(table)}


def _within(spec, saved):
    """A merged VLAN spec that adds nothing to the saved merged one."""
    return (set(spec.get('vids') or ()) <= set(saved.get('vids') or ()) and
            set(spec.get('untagged') or ()) <= set(saved.get('untagged') or ()) and
            spec.get('pvid') in (None, saved.get('pvid')) and
            not (spec.get('pvid') and spec.get('untagged') is None and saved.get('untagged') is not None and
                 spec['pvid'] not in saved['untagged']) and
            not (set(spec.get('vids') or ()) & set(saved.get('untagged') or ())))


def _only_tagged(spec):
    return spec.get('pvid') is None and spec.get('untagged') is None


def _fold_bond(old, spec, exact, current):
    if old is None:
        return {'exact': exact, 'spec': dict(spec)}
    new = dict(old['spec'])
    if spec.get('mode') and spec['mode'] != old['spec'].get('mode') and current and (
            not current.get('arp_interval') or spec['mode'] not in model.BOND_OPTION_MODES['arp_interval']):
        # The kernel keeps MII monitoring across a mode change (802.3ad turns it on by itself): a bond created at
        # boot in the new mode would not have it, so save what the bond has.
        for key in ('miimon', 'updelay', 'downdelay'):
            if spec.get(key) is None:
                new[key] = current.get(key)
    new.update((key, value) for key, value in spec.items() if value is not None and key != 'slaves')
    keep_exact = old['exact']
    if spec.get('slaves') is not None:
        if exact:
            new['slaves'], keep_exact = list(spec['slaves']), True
        else:
            new['slaves'] = sorted(set(old['spec'].get('slaves') or ()) | set(spec['slaves']))
    if spec.get('miimon') is not None or spec.get('arp_interval'):
        # up/downdelay live in miimon ticks: the kernel rounds or drops them with a new interval.
        for key in ('updelay', 'downdelay'):
            if spec.get(key) is None:
                new[key] = current.get(key) if current and current.get('miimon') else None
    if spec.get('arp_interval') and spec.get('miimon') is None:
        new['miimon'] = None  # the kernel keeps one of the two monitors
    if spec.get('miimon') and spec.get('arp_interval') is None:
        new['arp_interval'] = None
    mode = new.get('mode') or 'active-backup'
    for key, modes in model.BOND_OPTION_MODES.items():
        if mode not in modes:
            new[key] = None  # an option the new mode ignores: the kernel keeps it, but nobody asks for it any more
    if new.get('primary') and new.get('slaves') is not None and new['primary'] not in new['slaves']:
        new['primary'] = None
    return {'exact': keep_exact, 'spec': new}


def _fold_bridge(old, spec, exact, _current):
    if old is None:
        return {'exact': exact, 'spec': dict(spec)}
    new = dict(old['spec'])
    new.update((key, value) for key, value in spec.items()
               if value is not None and key not in ('ports', 'uplink', 'migrate'))
    keep_exact = old['exact']
    if spec.get('ports') is not None or spec.get('uplink'):
        if exact:
            new['ports'], new['uplink'], keep_exact = spec.get('ports'), spec.get('uplink'), True
        else:
            ports = set(old['spec'].get('ports') or ()) | set(spec.get('ports') or ())
            if spec.get('uplink') and old['spec'].get('uplink') not in (None, spec['uplink']):
                ports.add(old['spec']['uplink'])  # the old uplink stays a port (merged adds, never releases)
            ports.discard(spec.get('uplink') or old['spec'].get('uplink'))
            none = old['spec'].get('ports') is None and spec.get('ports') is None and not ports
            new['ports'] = None if none else sorted(ports)
            new['uplink'] = spec.get('uplink') or old['spec'].get('uplink')
    # Once saved, a migration stays: at boot the uplink gets its addresses again and they must move again.
    new['migrate'] = bool(spec.get('migrate') or (old['spec'].get('migrate') and new.get('uplink') ==
                                                  old['spec'].get('uplink')))
    return {'exact': keep_exact, 'spec': new}


def _fold_deleted(doc, want, end):
    sections = doc['sections']
    given = set()
    for section in ('bonds', 'bridges'):
        specs = want.get(section)
        if specs is None:
            continue
        for name in list(specs or sections[section]['items']):
            sections[section]['items'].pop(name, None)
    specs = want.get('vlans')
    if specs is not None:
        items = sections['vlans']['items']
        scope = want.get('vlan_bridges')
        if not specs:
            for port in list(items):
                if scope is None or items[port]['spec'].get('bridge') in scope:
                    del items[port]
        for port, spec in specs.items():
            if port not in items:
                continue
            if spec.get('vids') is None and spec.get('untagged') is None and spec.get('pvid') is None:
                del items[port]  # reset to the bridge's default: nothing left to save
            elif not items[port]['exact'] and items[port]['spec'].get('pvid') is None:
                # a merged spec without a PVID, minus the VIDs: replayed, the same as the two runs
                gone = set(spec.get('vids') or ()) | set(spec.get('untagged') or ()) | set([spec.get('pvid')])
                old = items[port]['spec']
                items[port]['spec'] = dict(old, **dict((key, frozenset(set(old[key]) - gone)) for key in
                                                       ('vids', 'untagged') if old.get(key) is not None))
                given.add(('vlans', port))
            elif port in end['vlans']:
                items[port] = {'exact': True, 'spec': _table_spec(end, port)}
    specs = want.get('addresses')
    if specs is not None:
        items = sections['addresses']['items']
        for link in list(items if not specs else specs):
            if link in items and (not specs or not specs[link]):
                del items[link]
            elif link in items:
                items[link]['spec'] = set(items[link]['spec']) - set(specs[link])
    specs = want.get('routes')
    if specs is not None:
        items = sections['routes']['items']
        for key in list(items if not specs else specs):
            items.pop(key, None)
    return given


def _fold_present(doc, want, end):
    sections = doc['sections']
    state = want['state']
    exact = state != 'merged'
    given = set()  # (section, key) this run names, as it names them
    for section, fold in (('bonds', _fold_bond), ('bridges', _fold_bridge)):
        specs = want.get(section)
        if specs is None:
            continue
        saved = sections[section]
        if state == 'overridden':
            # The unlisted ones go; the listed ones keep saved options this run leaves alone (None).
            saved['overridden'] = True
            saved['items'] = dict((name, item) for name, item in saved['items'].items() if name in specs)
        for name, spec in specs.items():
            saved['items'][name] = fold(saved['items'].get(name), spec, exact, end[section].get(name))
            if spec.get('mtu') is not None:
                given.add((section, name))
    specs = want.get('vlans')
    if specs is not None:
        saved = sections['vlans']
        scope = want.get('vlan_bridges')
        if state == 'overridden':
            if scope is None or saved['overridden'] is True:
                saved['overridden'] = True
            else:
                saved['overridden'] = sorted(set(saved['overridden'] or ()) | set(scope))
            saved['items'] = dict((port, item) for port, item in saved['items'].items()
                                  if scope is not None and item['spec'].get('bridge') not in scope)
        for port, spec in specs.items():
            old = saved['items'].get(port)
            in_overridden = saved['overridden'] is True or model.bridge_of(end, port) in (saved['overridden'] or ())
            merged_into_merged = old is not None and not old['exact'] and not exact and not in_overridden
            if exact or (old is None and not in_overridden):
                item = {'exact': exact, 'spec': dict(spec, bridge=model.bridge_of(end, port))}
                given.add(('vlans', port))
            elif merged_into_merged and _within(spec, old['spec']):
                item = old  # asks nothing the saved spec does not (a re-run)
            elif merged_into_merged and _only_tagged(spec) and _only_tagged(old['spec']):
                item = {'exact': False, 'spec': dict(old['spec'], vids=frozenset(old['spec']['vids'] or ()) |
                                                     frozenset(spec['vids'] or ()))}
                given.add(('vlans', port))
            else:  # merged into a saved table: save the table the merge made
                item = {'exact': True, 'spec': _table_spec(end, port)}
            saved['items'][port] = item
    specs = want.get('addresses')
    if specs is not None:
        saved = _section(sections, 'addresses', state)
        for link, addresses in specs.items():
            old = saved['items'].get(link)
            if exact or old is None:
                saved['items'][link] = {'exact': exact, 'spec': set(addresses)}
            else:
                saved['items'][link] = {'exact': old['exact'], 'spec': set(old['spec']) | set(addresses)}
    specs = want.get('routes')
    if specs is not None:
        saved = _section(sections, 'routes', state)
        for key, route in specs.items():
            saved['items'][key] = {'exact': True, 'spec': dict(route)}
    _fold_migrations(doc, want)
    return given


def _section(sections, section, state):
    """A saved section a run folds into: emptied first when the run overrides it."""
    saved = sections[section]
    if state == 'overridden':
        saved['overridden'], saved['items'] = True, {}
    return saved


def _fold_migrations(doc, want):
    """A bridge that takes its uplink's addresses and routes takes their saved copies too."""
    sections = doc['sections']
    addresses = sections['addresses']['items']
    for uplink, bridge in model.migrations(want).items():
        moving = addresses.get(uplink)
        if moving is not None:
            target = addresses.get(bridge)
            addresses[bridge] = {'exact': bool(moving['exact'] or (target and target['exact'])),
                                 'spec': set(moving['spec']) | set(target['spec'] if target else ())}
            addresses[uplink] = {'exact': True, 'spec': set()}
        for item in sections['routes']['items'].values():
            if item['spec'].get('interface') == uplink:
                item['spec']['interface'] = bridge


def _fold_side_effects(doc, have, end, given):
    """What the run did to saved items it did not name: the kernel drops VLAN tables, addresses and routes with
    a port or a link, enslaving a NIC to a bond removes its addresses, a default PVID change moves ports."""
    sections = doc['sections']
    for port, item in list(sections['vlans']['items'].items()):
        if port not in end['vlans'] or port not in end['links']:
            if port in have['vlans']:  # this run took the port off its bridge (or deleted it)
                del sections['vlans']['items'][port]
        elif ('vlans', port) not in given and (have['vlans'].get(port) != end['vlans'][port] or
                                               _default_pvid(have, port) != _default_pvid(end, port)):
            # A table the run changed without naming the port, or whose meaning it changed (a merged spec starts
            # from the bridge's default PVID): saved as it is now.
            sections['vlans']['items'][port] = {'exact': True, 'spec': _table_spec(end, port)}
    for port, item in list(sections['vlans']['items'].items()):
        bridge = item['spec'].get('bridge') or model.bridge_of(end, port)
        if bridge in end['bridges'] and not end['bridges'][bridge]['vlan_filtering']:
            del sections['vlans']['items'][port]  # a bridge that does not filter by VLAN: its tables do nothing
    for link, item in list(sections['addresses']['items'].items()):
        if link in have['links'] and link not in end['links']:
            del sections['addresses']['items'][link]
            continue
        gone = set(have['addresses'].get(link, {})) - set(end['addresses'].get(link, {}))
        item['spec'] = set(item['spec']) - gone
        if not item['spec'] and not item['exact']:
            del sections['addresses']['items'][link]
    for key in list(sections['routes']['items']):
        if key in have['routes'] and key not in end['routes']:
            del sections['routes']['items'][key]
    for item in sections['bridges']['items'].values():
        if item['spec'].get('ports'):
            item['spec']['ports'] = [port for port in item['spec']['ports']
                                     if not (port in have['links'] and port not in end['links'])]


def _without_saved_links(doc, end):
    """``end`` without the saved bonds and bridges: roughly the node the boot-time unit starts from."""
    node = model.clone(end)
    saved = set(doc['sections']['bonds']['items']) | set(doc['sections']['bridges']['items'])
    for name in saved:
        for section in ('links', 'bonds', 'bridges', 'vlans', 'addresses'):
            node[section].pop(name, None)
    for name, link in node['links'].items():
        if link.get('master') in saved:
            link['master'] = None
            node['vlans'].pop(name, None)
    node['routes'] = dict((key, route) for key, route in node['routes'].items() if route.get('interface') not in saved)
    return node


def _pin_mtus(doc, end, given):
    """A bond or bridge whose MTU nobody sets has what the kernel derives (from its uplink, its ports, the
    default), and keeps it when those change later: where re-applying the saved state from scratch would give
    another MTU than the node has now, the saved item gets the MTU it has.  A saved MTU this run did not set and
    the kernel changed (a bridge re-derives its MTU when ports join) is not held against the node."""
    for section in ('bonds', 'bridges'):
        for name, item in doc['sections'][section]['items'].items():
            mtu = end['links'].get(name, {}).get('mtu')
            if (section, name) not in given and item['spec'].get('mtu') not in (None, mtu):
                item['spec']['mtu'] = None
    try:
        _ops, booted = plan_layers(_without_saved_links(doc, end), layers(doc))
    except validate.ValidationError:
        return  # the engine's check reports it
    for section in ('bonds', 'bridges'):
        for name, item in doc['sections'][section]['items'].items():
            mtu = end['links'].get(name, {}).get('mtu')
            if item['spec'].get('mtu') is None and mtu and booted['links'].get(name, {}).get('mtu') != mtu:
                item['spec']['mtu'] = mtu


def fold(doc, want, have, end):
    """The saved document after this run (``want``, which took the node from ``have`` to ``end``)."""
    doc = _copy(doc if doc.get('version') == VERSION else from_want(doc['want']))
    if want['state'] == 'deleted':
        given = _fold_deleted(doc, want, end)
    else:
        given = _fold_present(doc, want, end)
    _fold_side_effects(doc, have, end, given)
    _pin_mtus(doc, end, given)
    return doc


def from_want(want):
    """A version 1 document (one host_network want) as a version 2 one."""
    doc = empty()
    if want['state'] != 'deleted':
        _fold_present(doc, want, model.empty_state())
    return doc


# --------------------------------------------------------------------------------------- back to desired states

def _want(state, section, specs, fields):
    want = {'state': state, 'bonds': None, 'bridges': None, 'vlans': None, 'vlan_bridges': None,
            'addresses': None, 'routes': None, 'links': None, 'fields': {}}
    want[section] = specs
    label = dict((key, 'saved %s[%s]' % (section, key if not isinstance(key, tuple) else '%s metric %s' % key))
                 for key in specs)
    want[fields] = label
    return want


def layers(doc):
    """The desired states that re-apply ``doc``, in the order they must be planned."""
    if doc.get('version') != VERSION:
        return [doc['want']]  # version 1: one host_network desired state, as it was saved
    fields = {'bonds': 'fields', 'bridges': 'fields', 'vlans': 'vlan_fields', 'addresses': 'address_fields',
              'routes': 'route_fields'}
    result = []
    for section in SECTIONS:
        saved = doc['sections'][section]
        items = dict((key, _copy_spec(item['spec'])) for key, item in saved['items'].items())
        exact = set(key for key, item in saved['items'].items() if item['exact'])
        if section == 'vlans':
            for spec in items.values():
                for key in ('vids', 'untagged'):
                    if spec.get(key) is not None:
                        spec[key] = frozenset(spec[key])
        if saved['overridden'] is True:
            result.append(_want('overridden', section, items, fields[section]))
            continue
        if saved['overridden']:
            scope = set(saved['overridden'])
            inside = dict((key, spec) for key, spec in items.items() if spec.get('bridge') in scope)
            want = _want('overridden', section, inside, fields[section])
            want['vlan_bridges'] = scope
            result.append(want)
            items = dict((key, spec) for key, spec in items.items() if key not in inside)
        for state, chosen in (('replaced', exact), ('merged', set(items) - exact)):
            part = dict((key, spec) for key, spec in items.items() if key in chosen)
            if part:
                result.append(_want(state, section, part, fields[section]))
    return result


def plan_layers(have, wants):
    """Validate and plan each desired state on the node the ones before it leave.  Returns (ops, end state);
    raises validate.ValidationError."""
    ops = []
    state = have
    for want in wants:
        plan = validate.checked_plan(state, want)
        ops.extend(plan.ops)
        state = plan.state
    return ops, state


# --------------------------------------------------------------------------------------- JSON

def to_json(doc):
    """The document as JSON text (persist.py holds the one codec of saved states)."""
    return persist.to_json(doc)


def from_json(text):
    """A saved document (version 2, or version 1: ``{'version': 1, 'want': ...}`` as host_network saved it)."""
    data = json.loads(text)
    if data.get('version') != VERSION:
        return {'version': 1, 'want': persist.want_from_json(text)}
    for section in SECTIONS:
        saved = data['sections'].setdefault(section, {'overridden': False, 'items': {}})
        saved['items'] = dict((persist.decode_key(section, key),
                               dict(item, spec=persist.decode_spec(section, item['spec'])))
                              for key, item in saved['items'].items())
    return data
