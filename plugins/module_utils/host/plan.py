# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The planner: (have, want) -> an ordered list of small typed operations.  Pure: no I/O, no root.

``want`` is the validated desired state (see validate.py)::

    {'state': 'merged' | 'replaced' | 'overridden' | 'deleted',
     'bonds': {name: spec} | None, 'bridges': {name: spec} | None, 'vlans': {port: spec} | None,
     'vlan_bridges': set | None, 'addresses': {link: set} | None, 'routes': {key: route} | None,
     'links': {name: {'mtu', 'up'}} | None}

A list that is ``None`` is not managed at all.  Options that are ``None`` are left as they are.

The plan runs in a fixed phase order (deletions, creations, in-place changes, releases, enslaving,
links up, VLAN tables, addresses, routes with gateway routes last), and every step is simulated with the
kernel model (kernel.py, through the operations of ops.py) so later phases see what earlier ones (and the
kernel's side effects) did.  Who is where (membership, migrations, a port's bridge) is asked of model.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.harvester.network.plugins.module_utils.host import kernel, model
from ansible_collections.harvester.network.plugins.module_utils.host import ops as O


class PlanError(Exception):
    """The desired state cannot be reached (a bug in validation if it ever shows)."""


class Plan:
    """Operations plus the states around them."""

    def __init__(self, have):
        self.have = have
        self.state = model.clone(have)
        kernel.mark_set_bridge_macs(self.state)
        self.ops = []
        # VLAN tables of a bridge itself planned while it has no MAC address (kernel.ZERO_MAC): the kernel refuses
        # them (make_plan() plans them before the bridge's last port leaves; validate.py refuses what remains).
        self.refused = []

    def add(self, op):
        if op is None:
            return
        if isinstance(op, O.SetVlans) and op.bridge_self and op.add and \
                self.state['links'][op.link].get('mac') == kernel.ZERO_MAC:
            self.refused.append(op)
        portless = isinstance(op, O.SetBridgeOptions) and self.state['links'][op.link].get('mac') == kernel.ZERO_MAC
        before = set(self.state['vlans'].get(op.link) or ()) if portless else None
        op.simulate(self.state)
        if portless and set(self.state['vlans'].get(op.link) or ()) - before:
            # A new default PVID the bridge takes itself (br_vlan.c __br_vlan_set_default_pvid() -> br_vlan_add()):
            # refused on the zero MAC address like any VLAN of its own (found by the check-mode property test).
            self.refused.append(op)
        self.ops.append(op)

    def to_list(self):
        return [op.to_dict() for op in self.ops]


# --------------------------------------------------------------------------- phase 1-7: links

def _l3_prepare_down(plan, link, drop_all_addresses=False):
    """Before a link goes down (or becomes a bond slave), remove what the kernel would flush anyway,
    explicitly, so the plan shows it, the journal can undo it and the addresses phase re-adds it."""
    state = plan.state
    for key in sorted(k for k, route in state['routes'].items() if route.get('interface') == link):
        route = state['routes'][key]
        plan.add(O.DelRoute(dst=route['dst'], gateway=route.get('gateway'), interface=link,
                            metric=route['metric']))
    addresses = state['addresses'].get(link, {})
    doomed = [a for a in addresses if drop_all_addresses or ':' in a]
    for address in _deletion_order(addresses, doomed):
        plan.add(O.DelAddress(link=link, address=address))


def _deletion_order(addresses, doomed):
    """IPv4 secondaries before their primary, so no deletion takes another address with it."""
    return sorted(doomed, key=lambda a: (not addresses.get(a, {}).get('secondary', False), a))


def _bond_option_changes(current, spec):
    """Options of ``spec`` that differ from the bond's current (kernel-reported) options."""
    changes = {}
    for key in model.BOND_OPTIONS:
        value = spec.get(key)
        if value is None:
            continue
        if key == 'arp_ip_target':
            if sorted(value) != sorted(current.get(key) or []):
                changes[key] = sorted(value)
        elif key == 'primary':
            if (value or None) != current.get('_primary_name'):
                changes[key] = value
        elif current.get(key) != value:
            changes[key] = value
    if 'mode' in changes and changes['mode'] not in model.BOND_OPTION_MODES['arp_interval'] and \
            not changes.get('miimon') and not current.get('miimon') and 'miimon' not in changes:
        # The kernel turns MII monitoring on (100 ms) for this mode; pin up/downdelay so the ticks it kept from
        # before (unknown to us) do not resurface.
        for key in ('updelay', 'downdelay'):
            if key not in changes:
                changes[key] = spec.get(key) or 0
    if 'miimon' in changes and changes['miimon']:
        # up/downdelay are stored in miimon ticks: send them with the new miimon so they stay what they are
        # meant to be (the requested value, or the current one rounded to the new interval).
        for key in ('updelay', 'downdelay'):
            if key not in changes:
                wanted = spec.get(key)
                if wanted is None:
                    wanted = current.get(key) or 0
                changes[key] = (wanted // changes['miimon']) * changes['miimon']
    return changes


def _mtu_target(have, want, link):
    """The MTU the desired state asks for ``link`` (None: not managed)."""
    for section in ('bonds', 'bridges'):
        spec = (want.get(section) or {}).get(link)
        if spec and spec.get('mtu') is not None:
            return spec['mtu']
    # An uplink takes the MTU of its bridge when the bridge sets one (the bridge and its uplink share it).
    for name, spec in (want.get('bridges') or {}).items():
        if spec.get('uplink') == link and spec.get('mtu') is not None:
            return spec['mtu']
    spec = (want.get('links') or {}).get(link)
    if spec and spec.get('mtu') is not None:
        return spec['mtu']
    return None


def bridge_mtu_target(have, want, name):
    """A bridge's MTU: its own if set, else its uplink's (harvester#4353: the bridge follows the uplink)."""
    spec = want['bridges'][name]
    if spec.get('mtu') is not None:
        return spec['mtu']
    uplink = spec.get('uplink')
    if not uplink:
        return None
    mtu = _mtu_target(have, want, uplink)
    if mtu is not None:
        return mtu
    link = have['links'].get(uplink)
    if link is not None:
        return link.get('mtu')
    if uplink in (want.get('bonds') or {}):
        return 1500  # a new bond without an MTU gets the kernel default
    return None


def plan_links(plan, want, early_tables=(), late_options=()):
    """Phases 1-7.  ``early_tables``: bridges whose own VLAN table is set after the in-place changes and before
    the releases, while a port still gives the bridge a MAC address; ``late_options``: bridges whose option changes
    wait until their new ports have joined (the old ones were deleted in phase 1: see make_plan())."""
    have = plan.have
    state = want['state']
    masters, deleted, conflicts, _released = model.membership(have, want)
    if conflicts:
        link, first, second = conflicts[0]
        raise PlanError('%s is claimed by %s (%s) and %s (%s)' % (link, first[0], first[1], second[0], second[1]))
    # Links that are gone cannot be placed anywhere (a rollback towards a snapshot that had them).
    masters = dict((link, target) for link, target in masters.items()
                   if link in have['links'] or link in (want.get('bonds') or {}))
    bonds = {} if state == 'deleted' else dict(want.get('bonds') or {})
    bridges = {} if state == 'deleted' else dict(want.get('bridges') or {})

    # Phase 1: deletions (bridges first: a bond may be one of their ports).
    for name in sorted(deleted, key=lambda n: (plan.state['links'].get(n, {}).get('kind') != 'bridge', n)):
        if name in plan.state['links']:
            plan.add(O.DeleteLink(link=name))

    # Phase 2: new bonds and bridges, created down with their options.
    for name in sorted(bonds):
        spec = bonds[name]
        if name in plan.state['links']:
            continue
        options = dict((key, spec[key]) for key in model.BOND_OPTIONS if spec.get(key) is not None)
        if options.get('arp_ip_target') is not None:
            options['arp_ip_target'] = sorted(options['arp_ip_target'])
        if not options.get('primary'):
            options.pop('primary', None)
        plan.add(O.CreateLink(link=name, kind='bond', mtu=_mtu_target(have, want, name), mac=spec.get('mac'),
                              options=options))
    for name in sorted(bridges):
        spec = bridges[name]
        if name in plan.state['links']:
            continue
        options = dict((key, spec[key]) for key in ('vlan_filtering', 'stp', 'default_pvid')
                       if spec.get(key) is not None)
        plan.add(O.CreateLink(link=name, kind='bridge', mtu=bridge_mtu_target(have, want, name),
                              mac=spec.get('mac'), options=options, promisc=spec.get('promisc') or None))

    # Phase 3: in-place changes of existing links.
    for name in sorted(bonds):
        if name in have['links']:
            for slave in _plan_bond_changes(plan, name, bonds[name]):
                # Released for a mode change: they come back unless the desired state sends them elsewhere.
                masters.setdefault(slave, (name, 'bonds[%s].slaves' % name))
    for name in sorted(bridges):
        if name not in have['links']:
            continue
        spec = bridges[name]
        if name not in late_options:
            plan.add(_bridge_options(plan, name, spec))
        link = plan.state['links'][name]
        changes = {}
        if spec.get('mac') is not None and link.get('mac') != spec['mac']:
            changes['mac'] = spec['mac']
        if spec.get('promisc') is not None and bool(link.get('promisc')) != spec['promisc']:
            changes['promisc'] = spec['promisc']
        if changes:
            plan.add(O.SetLink(link=name, **changes))
    for name in sorted(plan.state['links']):
        if name in bridges:
            continue  # a bridge's MTU is set after its ports (phase 7)
        mtu = _mtu_target(have, want, name)
        if name in bonds or mtu is not None:
            link = plan.state['links'][name]
            changes = {}
            if mtu is not None and link.get('mtu') != mtu and not link.get('master') in plan.state['bonds']:
                changes['mtu'] = mtu
            if name in bonds and name in have['links']:
                mac = bonds[name].get('mac')
                if mac is not None and link.get('mac') != mac:
                    changes['mac'] = mac
            if changes:
                plan.add(O.SetLink(link=name, **changes))

    if early_tables:
        tables = wanted_tables(plan.state, want)
        for name in sorted(early_tables):
            if name in tables and name in plan.state['links']:
                plan.add(O.vlan_table_ops(name, plan.state['vlans'].get(name, {}), tables[name], is_bridge=True))

    # Phase 4: releases (before anything joins its new master).
    for link in sorted(masters):
        target = masters[link][0]
        current = plan.state['links'].get(link, {}).get('master')
        if link in plan.state['links'] and current and current != target:
            plan.add(O.SetMaster(link=link, master=None))

    # Phase 5+6: enslaving.  Bond slaves first (a new bond may be a bridge's uplink), each taken down first
    # (the kernel refuses an up slave) after its addresses and routes are removed.
    joining = [(link, masters[link][0]) for link in sorted(masters)
               if masters[link][0] and plan.state['links'].get(link, {}).get('master') != masters[link][0]]
    for link, master in joining:
        if master in plan.state['bonds']:
            _l3_prepare_down(plan, link, drop_all_addresses=True)
            if plan.state['links'][link].get('up'):
                plan.add(O.SetUp(link=link, up=False))
            plan.add(O.SetMaster(link=link, master=master))
    for link, master in joining:
        if master in plan.state['bridges']:
            plan.add(O.SetMaster(link=link, master=master, up=not plan.state['links'][link].get('up') or None))
    for name in sorted(late_options):
        if name in bridges and name in plan.state['bridges']:
            plan.add(_bridge_options(plan, name, bridges[name]))

    # Phase 7: bridge MTUs (after their ports: the kernel re-derives an unpinned bridge MTU from its ports),
    # then links up.
    for name in sorted(bridges):
        _bridge_mtu(plan, have, want, bridges, name)
    for section in (bonds, bridges):
        for name in sorted(section):
            up = section[name].get('up')
            if up is None:
                up = bool(have['links'].get(name, {}).get('up'))
            if bool(plan.state['links'][name].get('up')) != up:
                if not up:
                    _l3_prepare_down(plan, name)
                plan.add(O.SetUp(link=name, up=up))
    for name in sorted(want.get('links') or {}):
        spec = want['links'][name]
        link = plan.state['links'].get(name)
        if link is None or link.get('master') in plan.state['bonds']:
            continue
        if spec.get('up') is not None and bool(link.get('up')) != spec['up']:
            if not spec['up']:
                _l3_prepare_down(plan, name)
            plan.add(O.SetUp(link=name, up=spec['up']))
    for name in sorted(bridges):
        spec = bridges[name]
        uplink = spec.get('uplink')
        if uplink and uplink in plan.state['links'] and not plan.state['links'][uplink].get('up'):
            plan.add(O.SetUp(link=uplink, up=True))


def _bridge_options(plan, name, spec):
    """The in-place option change (vlan_filtering, stp, default_pvid) bridge ``name`` needs, or None."""
    current = plan.state['bridges'][name]
    options = dict((key, spec[key]) for key in ('vlan_filtering', 'stp', 'default_pvid')
                   if spec.get(key) is not None and current.get(key) != spec[key])
    return O.SetBridgeOptions(link=name, options=options) if options else None


def _bridge_mtu(plan, have, want, bridges, name):
    """Set bridge ``name``'s MTU when it differs from its target."""
    mtu = bridge_mtu_target(have, want, name)
    if mtu is None or plan.state['links'][name].get('mtu') == mtu:
        return
    plan.add(O.SetLink(link=name, mtu=mtu, note='the bridge MTU follows its uplink (harvester#4353)'
                       if bridges[name].get('mtu') is None else None))


def _plan_bond_changes(plan, name, spec):
    """In-place bond changes; returns the slaves released for a mode change."""
    current = plan.state['bonds'][name]
    changes = _bond_option_changes(current, spec)
    if not changes:
        return []
    link = plan.state['links'][name]
    released = []
    needs_down = [key for key in model.BOND_OPTIONS_NEED_DOWN if key in changes]
    if 'mode' in changes:
        note = ('mode %s -> %s: the kernel needs the bond down and without slaves; slaves are released and '
                're-enslaved, the bond is not recreated' % (current.get('mode'), changes['mode']))
        for slave in model.members(plan.state, name):
            plan.add(O.SetMaster(link=slave, master=None, note='released for the mode change of %s' % name))
            released.append(slave)
    elif needs_down:
        note = '%s can only change while the bond is down: it goes down and comes back up' % ', '.join(needs_down)
    else:
        note = None
    if needs_down and link.get('up'):
        _l3_prepare_down(plan, name)
        plan.add(O.SetUp(link=name, up=False, note=note))
        note = None
    plan.add(O.SetBondOptions(link=name, options=changes, note=note))
    return released


# --------------------------------------------------------------------------- phase 8: VLAN tables

def wanted_table(state, port, spec, mode):
    """The VLAN table ``spec`` asks for on ``port``, given its current table in ``state``."""
    bridge = model.bridge_of(state, port)
    default_pvid = state['bridges'][bridge]['default_pvid']
    vids = spec.get('vids')
    pvid = spec.get('pvid')
    untagged = spec.get('untagged')
    if mode == 'deleted':
        if vids is None and untagged is None and pvid is None:
            return model.default_vlan_table(default_pvid)
        current = dict(state['vlans'].get(port, {}))
        for vid in set(vids or ()) | set(untagged or ()) | (set([pvid]) if pvid else set()):
            current.pop(vid, None)
        return current
    if mode == 'merged':
        table = dict(state['vlans'].get(port, {}))
        current_pvid = model.table_pvid(table)
        if pvid is not None:
            if pvid:
                untag = untagged is None or pvid in untagged
                kernel.vlan_set(table, pvid, model.BRIDGE_VLAN_PVID | (model.BRIDGE_VLAN_UNTAGGED if untag else 0))
            elif current_pvid:
                table[current_pvid] &= ~model.BRIDGE_VLAN_PVID
        keep = model.table_pvid(table)
        for vid in vids or ():
            if vid != keep and vid not in (untagged or ()):
                table[vid] = 0
        for vid in untagged or ():
            table[vid] = table.get(vid, 0) | model.BRIDGE_VLAN_UNTAGGED
        return table
    # replaced / overridden: exactly what is asked, with the bridge's default PVID unless told otherwise.
    if pvid is None:
        pvid = default_pvid
    if untagged is None:
        untagged = set([pvid]) if pvid else set()
    table = dict.fromkeys(set(vids or ()) | set(untagged), 0)  # a 2-4094 trunk at once, not VID by VID
    for vid in untagged:
        table[vid] = model.BRIDGE_VLAN_UNTAGGED
    if pvid:
        table[pvid] = model.BRIDGE_VLAN_PVID | (model.BRIDGE_VLAN_UNTAGGED if pvid in untagged else 0)
    return table


def wanted_tables(state, want):
    """{port: the VLAN table the desired state asks for}, given the node ``state`` (ports of VLAN-filtering bridges
    and bridges themselves)."""
    specs = want.get('vlans')
    if specs is None:
        return {}
    mode = want['state']
    scope = want.get('vlan_bridges')
    tables = {}
    for port in sorted(specs):
        if port in state['links'] and model.bridge_of(state, port):
            tables[port] = wanted_table(state, port, specs[port], mode)
    if mode == 'overridden' or (mode == 'deleted' and not specs):
        for bridge in sorted(state['bridges']):
            if (scope is not None and bridge not in scope) or not state['bridges'][bridge]['vlan_filtering']:
                continue  # VLAN tables of a bridge that does not filter by VLAN do nothing: left alone
            for port in [bridge] + model.members(state, bridge):
                if port not in tables:
                    tables[port] = model.default_vlan_table(state['bridges'][bridge]['default_pvid'])
    return tables


def plan_vlans(plan, want):
    state = plan.state
    tables = wanted_tables(state, want)
    for port in sorted(tables):
        plan.add(O.vlan_table_ops(port, state['vlans'].get(port, {}), tables[port],
                                  is_bridge=port in state['bridges']))


# --------------------------------------------------------------------------- phase 9: addresses, routes

def _interrupted(plan, section):
    """What an interrupted run lost of ``section`` (apply.lost_in_flight(), set by the engine as
    ``have['interrupted']``): planned as if the node still had it, so it comes back where the desired state wants
    it (through the bridge, when a migration moves its link's addresses and routes)."""
    return (plan.have.get('interrupted') or {}).get(section) or {}


def _surviving(state, link):
    """A link that still exists after the structural phases and may carry addresses (not a bond slave)."""
    info = state['links'].get(link)
    return info is not None and info.get('master') not in state['bonds']


def _address_targets(plan, want):
    state = plan.state
    mode = want['state']
    # Start from what the node had before this run: addresses the structural phases removed only because
    # a link went down for a moment come back.
    current = dict((link, set(addresses)) for link, addresses in plan.have['addresses'].items()
                   if _surviving(state, link))
    for link, addresses in _interrupted(plan, 'addresses').items():
        if _surviving(state, link):
            current.setdefault(link, set()).update(addresses)
    target = dict((link, set(addresses)) for link, addresses in current.items())
    specs = want.get('addresses')
    if specs is not None:
        if mode == 'merged':
            for link, addresses in specs.items():
                target.setdefault(link, set()).update(addresses)
        elif mode == 'replaced':
            for link, addresses in specs.items():
                target[link] = set(addresses)
        elif mode == 'overridden':
            target = dict((link, set(addresses)) for link, addresses in specs.items())
            for link in current:
                target.setdefault(link, set())
        elif mode == 'deleted':
            if not specs:
                target = dict((link, set()) for link in current)
            for link, addresses in specs.items():
                target[link] = target.get(link, set()) - set(addresses) if addresses else set()
    for uplink, bridge in model.migrations(want).items():
        moving = target.pop(uplink, set())
        # An exact address list for the bridge (replaced/overridden) wins over what the uplink had.
        exact = specs is not None and (mode == 'overridden' or (mode == 'replaced' and bridge in specs))
        if not exact:
            target.setdefault(bridge, set()).update(moving)
        target[uplink] = set()
    return dict((link, addresses) for link, addresses in target.items() if _surviving(state, link))


def _route_targets(plan, want):
    state = plan.state
    mode = want['state']
    current = dict((key, dict(route)) for key, route in plan.have['routes'].items()
                   if route.get('interface') is None or _surviving(state, route['interface']))
    for key, route in _interrupted(plan, 'routes').items():
        if key not in current and (route.get('interface') is None or _surviving(state, route['interface'])):
            current[key] = dict(route)
    target = dict((key, dict(route)) for key, route in current.items())
    specs = want.get('routes')
    if specs is not None:
        if mode in ('merged', 'replaced'):
            target.update((key, dict(route)) for key, route in specs.items())
        elif mode == 'overridden':
            target = dict((key, dict(route)) for key, route in specs.items())
        elif mode == 'deleted':
            if not specs:
                target = {}
            for key in specs:
                target.pop(key, None)
    for uplink, bridge in model.migrations(want).items():
        for route in target.values():
            if route.get('interface') == uplink:
                route['interface'] = bridge
    return dict((key, route) for key, route in target.items()
                if route.get('interface') is None or _surviving(state, route['interface']))


def _route_matches(have_route, target_route):
    if have_route.get('gateway') != target_route.get('gateway'):
        return False
    wanted_link = target_route.get('interface')
    return wanted_link is None or wanted_link == have_route.get('interface')


def _route_order(route):
    """Link routes first, then routes via a gateway, default routes last."""
    is_default = route['dst'] in ('0.0.0.0/0', '::/0')
    return (bool(route.get('gateway')), is_default, route['dst'], route['metric'])


def _other_route_moves(plan, want):
    """The routes of other tables and multipath routes through a migrating uplink: [(route, moved route)]."""
    moves = model.migrations(want)
    if not moves:
        return []
    return [(route, model.moved_route(route, moves))
            for _key, route in sorted((plan.state.get('other_routes') or {}).items())
            if any(hop.get('interface') in moves for hop in route['nexthops'])]


def plan_l3(plan, want):
    addresses = _address_targets(plan, want)
    routes = _route_targets(plan, want)
    moving = _other_route_moves(plan, want)
    state = plan.state
    # New addresses first (on a migration the bridge gets them before the uplink loses them).
    for link in sorted(addresses):
        for address in sorted(addresses[link] - set(state['addresses'].get(link, {}))):
            plan.add(O.AddAddress(link=link, address=address))
    # Routes that go away or change.
    for key in sorted(state['routes']):
        route = state['routes'][key]
        wanted = routes.get(key)
        if wanted is None or not _route_matches(route, wanted):
            plan.add(O.DelRoute(dst=route['dst'], gateway=route.get('gateway'), interface=route.get('interface'),
                                metric=route['metric']))
    for route, _moved in moving:  # before the uplink loses its addresses (the kernel would drop them)
        plan.add(O.DelOtherRoute(route=route))
    # Addresses that go away; an IPv4 primary takes its subnet's secondaries along, so remove those first
    # and add back the ones to keep.
    for link in sorted(addresses):
        present = state['addresses'].get(link, {})
        doomed = set(present) - addresses[link]
        for address in list(doomed):
            if ':' in address or present[address].get('secondary'):
                continue
            net = kernel.ipv4_net(address)
            doomed.update(a for a in present if ':' not in a and kernel.ipv4_net(a) == net)
        for address in _deletion_order(present, doomed):
            plan.add(O.DelAddress(link=link, address=address))
    for link in sorted(addresses):
        for address in sorted(addresses[link] - set(state['addresses'].get(link, {}))):
            plan.add(O.AddAddress(link=link, address=address))
    # Routes to add, gateway routes last (their gateway must be reachable through the routes before them).
    missing = [route for key, route in routes.items()
               if key not in state['routes'] or not _route_matches(state['routes'][key], route)]
    for route in sorted(missing, key=_route_order):
        plan.add(O.AddRoute(dst=route['dst'], gateway=route.get('gateway'), interface=route.get('interface'),
                            metric=route['metric']))
    for _route, moved in moving:  # last: their gateways are reachable through the bridge by now
        plan.add(O.AddOtherRoute(route=moved))
    moves = model.migrations(want)
    for _text, route in sorted(_interrupted(plan, 'other_routes').items()):
        route = model.moved_route(route, moves)
        if all(_surviving(state, hop.get('interface')) for hop in route['nexthops'] if hop.get('interface')):
            plan.add(O.AddOtherRoute(route=route))


# --------------------------------------------------------------------------- what stops traffic

def interruptions(ops, have):
    """Warnings for the planned changes that stop the traffic through a live bond: options the kernel only takes
    while the bond is down (a mode change also releases its slaves). A kernel rule, not the plan's choice; every
    other change the planner makes to a live uplink (VLAN IDs, members, MTU, other options) keeps it up
    (docs/host.md, "Hitless changes")."""
    found = []
    for op in ops:
        if not isinstance(op, O.SetBondOptions):
            continue
        keys = [key for key in model.BOND_OPTIONS_NEED_DOWN if key in op.options]
        link = have['links'].get(op.link) or {}
        if keys and link.get('up') and model.members(have, op.link):
            found.append('%s: changing %s takes the bond down%s: the traffic through it stops until it is back up '
                         '(a kernel rule; docs/host.md, "Hitless changes")'
                         % (op.link, ', '.join(keys), ' and releases its slaves' if 'mode' in keys else ''))
    return found


# --------------------------------------------------------------------------- entry points

def make_plan(have, want):
    """Plan everything ``want`` asks for.  Returns a Plan (ops + predicted state)."""
    plan = _plan(have, want, (), ())
    if plan.refused:
        # A bridge whose last port leaves in this run loses its MAC address, and with it the kernel's consent to
        # VLANs of its own: set its table while a port is still there; a new default PVID (the bridge takes it
        # itself) after its new ports have joined, when its old ports were deleted.
        plan = _plan(have, want, set(op.link for op in plan.refused if isinstance(op, O.SetVlans)),
                     set(op.link for op in plan.refused if isinstance(op, O.SetBridgeOptions)))
    return plan


def _plan(have, want, early_tables, late_options):
    plan = Plan(have)
    plan_links(plan, want, early_tables, late_options)
    plan_vlans(plan, want)
    plan_l3(plan, want)
    return plan


def want_from_state(state):
    """A desired state that describes ``state`` completely: planning towards it restores it (rollback)."""
    want = {'state': 'overridden', 'bonds': {}, 'bridges': {}, 'vlans': {}, 'vlan_bridges': None,
            'addresses': {}, 'routes': {}, 'links': {}}
    for name, link in state['links'].items():
        kind = link.get('kind')
        if kind == 'bond':
            bond = state['bonds'][name]
            # Only the options the bond's mode takes: re-creating a deleted balance-rr bond with lacp_rate (say)
            # is refused by the kernel ("mode dependency failed"), and the rollback would lose the bond.
            mode = bond.get('mode')
            spec = dict((key, bond.get(key)) for key in model.BOND_OPTIONS
                        if key == 'mode' or mode in model.BOND_OPTION_MODES[key])
            if 'primary' in spec:
                spec['primary'] = bond.get('_primary_name') or ''
            if 'arp_ip_target' in spec:
                spec['arp_ip_target'] = list(bond.get('arp_ip_target') or [])
            if not bond.get('miimon'):
                spec['updelay'] = spec['downdelay'] = None
            if bond.get('arp_interval'):
                spec['miimon'] = None
            spec.update(slaves=model.members(state, name), mtu=link.get('mtu'), up=bool(link.get('up')))
            want['bonds'][name] = spec
        elif kind == 'bridge':
            bridge = state['bridges'][name]
            want['bridges'][name] = {
                'vlan_filtering': bridge['vlan_filtering'], 'stp': bridge['stp'],
                'default_pvid': bridge['default_pvid'], 'promisc': bool(link.get('promisc')),
                'mtu': link.get('mtu'), 'up': bool(link.get('up')), 'ports': model.members(state, name),
                'uplink': None}
        else:
            want['links'][name] = {'mtu': link.get('mtu'), 'up': bool(link.get('up'))}
    for port, table in state['vlans'].items():
        pvid = model.table_pvid(table)
        want['vlans'][port] = {
            'pvid': pvid, 'untagged': frozenset(v for v, f in table.items() if f & model.BRIDGE_VLAN_UNTAGGED),
            'vids': frozenset(table)}
    for name, addresses in state['addresses'].items():
        if addresses:
            want['addresses'][name] = set(addresses)
    for key, route in state['routes'].items():
        want['routes'][key] = dict(route)
    return want
