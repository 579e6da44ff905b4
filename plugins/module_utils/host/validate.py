# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Every cross-field check, in one place.  Types, choices and required options are the argument spec's
job; what is here needs more than one field, or the node's facts.  Each error names the field and says
how to fix it, all errors are reported at once, and all of this runs before the first write.

Three steps:
  * ``network_want(params, state)``, ``bond_want(params)``, ``bridge_want(params)``, ``trunk_want(params)``: module
    params -> the desired state (syntax and cross-field checks); each module's profile (profiles.py) names its
    builder, and engine.build_want(module, params) calls it;
  * ``check_against_facts(want, have)``: names that must exist, links that are taken, MTU limits;
  * ``check_outcome(want, predicted)``: what only the planned end state can tell (gateways reachable).

``checked_plan(have, want)`` plans with the checks around it: the engine's runs and the saved state's layers
(store.py) are planned that one way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.harvester.network.plugins.module_utils.host import model, vocabulary
from ansible_collections.harvester.network.plugins.module_utils.host.field_errors import FieldError, FieldErrors
from ansible_collections.harvester.network.plugins.module_utils.host.kernel import ZERO_MAC
from ansible_collections.harvester.network.plugins.module_utils.host.plan import make_plan
from ansible_collections.harvester.network.plugins.module_utils.host.vids import VidError, parse_vids


class ValidationError(FieldError):
    """One or more invalid inputs; ``errors`` lists them, each starting with the field it is about (the model of
    field_errors.py, shared with the cluster modules)."""


class _Errors(FieldErrors):
    """Every error of one validation step, raised together as one ValidationError."""

    def raise_if_any(self, cls=ValidationError):
        FieldErrors.raise_if_any(self, cls)


def check_link_name(errors, field, name):
    if not name:
        errors.add(field, 'an interface name is required')
        return False
    if len(name) > model.IFNAMSIZ - 1:
        errors.add(field, '%r is %d characters long; Linux interface names have at most %d characters'
                   % (name, len(name), model.IFNAMSIZ - 1))
        return False
    if not vocabulary.is_nic_name(name) or name == 'lo':
        errors.add(field, '%r is not a usable interface name (no "/", ":", spaces, ".", ".." or "lo")' % (name,))
        return False
    return True


def _check_mtu(errors, field, mtu):
    if mtu is not None and not model.MTU_MIN <= mtu <= model.MTU_MAX:
        errors.add(field, 'MTU %d is out of range; use %d-%d' % (mtu, model.MTU_MIN, model.MTU_MAX))


def _mac(errors, field, value):
    if value is None:
        return None
    try:
        mac = model.normalize_mac(value)
    except ValueError as exc:
        errors.add(field, str(exc))
        return None
    if int(mac[:2], 16) & 1 or mac == '00:00:00:00:00:00':
        errors.add(field, '%s is a multicast or zero address; a link needs a unicast MAC (first octet even, e.g. 02:..)'
                   % mac)
        return None
    return mac


# --------------------------------------------------------------------------------------- params -> want

def _bond_spec(errors, field, params):
    spec = dict((key, params.get(key)) for key in model.BOND_OPTIONS)
    check_link_name(errors, '%s.name' % field, params.get('name'))
    spec['slaves'] = None if params.get('slaves') is None else sorted(set(params['slaves']))
    for index, slave in enumerate(params.get('slaves') or []):
        check_link_name(errors, '%s.slaves[%d]' % (field, index), slave)
    if params.get('slaves') is not None and len(set(params['slaves'])) != len(params['slaves']):
        errors.add('%s.slaves' % field, 'lists a slave more than once; list each NIC once')
    spec['mtu'] = params.get('mtu')
    _check_mtu(errors, '%s.mtu' % field, spec['mtu'])
    spec['mac'] = _mac(errors, '%s.mac' % field, params.get('mac'))
    spec['up'] = params.get('up')
    for key in ('miimon', 'updelay', 'downdelay', 'arp_interval', 'min_links'):
        value = spec.get(key)
        if value is not None and not 0 <= value <= 2 ** 31 - 1:
            errors.add('%s.%s' % (field, key), '%d is out of range; use 0 or a positive number of %s'
                       % (value, 'links' if key == 'min_links' else 'milliseconds'))
    targets = params.get('arp_ip_target')
    if targets is not None:
        clean = []
        for index, target in enumerate(targets):
            try:
                address = ipaddress.ip_address(str(target).strip())
                if address.version != 4:
                    raise ValueError
                clean.append(str(address))
            except ValueError:
                errors.add('%s.arp_ip_target[%d]' % (field, index),
                           '%r is not an IPv4 address; ARP monitoring targets are IPv4 addresses' % (target,))
        if len(clean) > 16:
            errors.add('%s.arp_ip_target' % field, 'at most 16 targets are allowed, got %d' % len(clean))
        spec['arp_ip_target'] = sorted(set(clean))
    if params.get('primary') is not None:
        spec['primary'] = params['primary']
    return spec


def _check_bond_semantics(errors, field, spec, current):
    """Option/mode consistency, against the bond's current options when an option is not given."""
    current = current or {}
    mode = spec.get('mode') or current.get('mode') or 'active-backup'
    for key, modes in model.BOND_OPTION_MODES.items():
        value = spec.get(key)
        if value is None or mode in modes:
            continue
        if key == 'arp_ip_target' and not value:
            continue
        errors.add('%s.%s' % (field, key), 'mode %s ignores %s (only %s use it); remove %s or change the mode'
                   % (mode, key, ', '.join(modes), key))

    def effective(key, default):
        value = spec.get(key)
        if value is None:
            value = current.get(key, default)
        return value

    miimon = spec.get('miimon')
    arp_interval = spec.get('arp_interval')
    if miimon and arp_interval:
        errors.add('%s.miimon' % field, 'miimon and arp_interval are mutually exclusive (the kernel keeps only one);'
                   ' set one of them to 0')
    if miimon is None:
        miimon = 0 if arp_interval else effective('miimon', model.BOND_DEFAULTS['miimon'])
    for key in ('updelay', 'downdelay'):
        value = spec.get(key)
        if not value:
            continue
        if not miimon:
            errors.add('%s.%s' % (field, key), '%s needs MII monitoring: set miimon (e.g. 100) or remove %s'
                       % (key, key))
        elif value % miimon:
            errors.add('%s.%s' % (field, key), '%d is not a multiple of miimon %d (the kernel would round it to %d);'
                       ' use a multiple of miimon' % (value, miimon, value // miimon * miimon))
    if spec.get('primary') and spec.get('slaves') is not None and spec['primary'] not in spec['slaves']:
        errors.add('%s.primary' % field, '%s is not one of the slaves %s; name one of the slaves'
                   % (spec['primary'], ', '.join(spec['slaves']) or '(none)'))


def _bridge_spec(errors, field, params):
    spec = {}
    check_link_name(errors, '%s.name' % field, params.get('name'))
    for key in ('vlan_filtering', 'stp', 'promisc', 'up', 'migrate'):
        spec[key] = params.get(key)
    pvid = params.get('default_pvid')
    if pvid is not None and not 0 <= pvid <= 4094:
        errors.add('%s.default_pvid' % field, 'default PVID %d is out of range; use 1-4094, or 0 for none' % pvid)
    spec['default_pvid'] = pvid
    spec['mtu'] = params.get('mtu')
    _check_mtu(errors, '%s.mtu' % field, spec['mtu'])
    spec['mac'] = _mac(errors, '%s.mac' % field, params.get('mac'))
    spec['uplink'] = params.get('uplink')
    if spec['uplink'] is not None:
        check_link_name(errors, '%s.uplink' % field, spec['uplink'])
    ports = params.get('ports')
    for index, port in enumerate(ports or []):
        check_link_name(errors, '%s.ports[%d]' % (field, index), port)
    if ports is not None and len(set(ports)) != len(ports):
        errors.add('%s.ports' % field, 'lists a port more than once; list each port once')
    spec['ports'] = None if ports is None else sorted(set(ports))
    if spec.get('migrate') and not spec['uplink']:
        errors.add('%s.migrate' % field, 'migrate moves the uplink\'s addresses and routes: set uplink too')
    if spec['uplink'] and spec['uplink'] == params.get('name'):
        errors.add('%s.uplink' % field, 'a bridge cannot be its own uplink')
    if params.get('name') in (ports or []):
        errors.add('%s.ports' % field, 'a bridge cannot be a port of itself')
    return spec


def _vlan_spec(errors, field, params):
    spec = {'bridge': params.get('bridge')}
    try:
        spec['vids'] = parse_vids(params.get('vids'), '%s.vids' % field)
    except VidError as exc:
        errors.add(*str(exc).split(': ', 1))  # VidError says "<field>: <what to fix>"
        spec['vids'] = None
    try:
        spec['untagged'] = parse_vids(params.get('untagged'), '%s.untagged' % field)
    except VidError as exc:
        errors.add(*str(exc).split(': ', 1))  # VidError says "<field>: <what to fix>"
        spec['untagged'] = None
    pvid = params.get('pvid')
    if pvid is not None and not 0 <= pvid <= vocabulary.VID_MAX:
        errors.add('%s.pvid' % field, 'PVID %d is out of range; use %d-%d, or 0 for no PVID'
                   % (pvid, vocabulary.VID_MIN, vocabulary.VID_MAX))
    spec['pvid'] = pvid
    check_link_name(errors, '%s.port' % field, params.get('port'))
    return spec


def _route_spec(errors, field, params):
    gateway = params.get('gateway')
    family = None
    if gateway is not None:
        try:
            gateway = str(ipaddress.ip_address(gateway.strip()))
            family = ipaddress.ip_address(gateway).version
        except ValueError:
            errors.add('%s.gateway' % field, '%r is not an IP address' % (params.get('gateway'),))
            gateway = None
    try:
        dst = model.normalize_network(params['dst'], family)
    except ValueError as exc:
        errors.add('%s.dst' % field, '%s; write a network like 10.1.0.0/16 (host bits zero), 0.0.0.0/0 or ::/0'
                   % (exc,))
        return None
    if family is not None and (':' in dst) != (family == 6):
        errors.add('%s.gateway' % field, 'gateway %s and destination %s are of different IP versions' % (gateway, dst))
    metric = params.get('metric')
    if metric is None:
        metric = model.default_metric(dst)
    if not 0 <= metric <= 2 ** 32 - 1:
        errors.add('%s.metric' % field, '%d is out of range; use 0-4294967295' % metric)
    interface = params.get('interface')
    if interface is not None:
        check_link_name(errors, '%s.interface' % field, interface)
    if gateway is None and interface is None:
        errors.add('%s' % field, 'a route needs a gateway, an interface, or both')
    return {'dst': dst, 'gateway': gateway, 'interface': interface, 'metric': metric}


def _keyed(errors, section, items, key, build):
    result = {}
    for index, params in enumerate(items):
        field = '%s[%d]' % (section, index)
        name = params.get(key)
        if name in result:
            errors.add('%s.%s' % (field, key), '%s is listed twice in %s; merge the two entries' % (name, section))
            continue
        result[name] = build(errors, field, params)
    return result


def network_want(params, state):
    """host_network params -> desired state."""
    errors = _Errors()
    want = {'state': state, 'bonds': None, 'bridges': None, 'vlans': None, 'vlan_bridges': None,
            'addresses': None, 'routes': None, 'links': None, 'fields': {}}
    if params.get('bonds') is not None:
        want['bonds'] = _keyed(errors, 'bonds', params['bonds'], 'name', _bond_spec)
        for index, item in enumerate(params['bonds']):
            want['fields'][item.get('name')] = 'bonds[%d]' % index
    if params.get('bridges') is not None:
        want['bridges'] = _keyed(errors, 'bridges', params['bridges'], 'name', _bridge_spec)
        for index, item in enumerate(params['bridges']):
            want['fields'][item.get('name')] = 'bridges[%d]' % index
        for name in set(want['bridges']) & set(want['bonds'] or {}):
            errors.add('bridges', '%s is both a bond and a bridge; use two names' % name)
    if params.get('vlans') is not None:
        want['vlans'] = _keyed(errors, 'vlans', params['vlans'], 'port', _vlan_spec)
        want['vlan_fields'] = dict((item.get('port'), 'vlans[%d]' % i) for i, item in enumerate(params['vlans']))
    if params.get('addresses') is not None:
        want['addresses'] = {}
        want['address_fields'] = {}
        for index, item in enumerate(params['addresses']):
            field = 'addresses[%d]' % index
            check_link_name(errors, field + '.interface', item.get('interface'))
            try:
                address = model.normalize_interface_address(item['address'])
            except ValueError as exc:
                errors.add(field + '.address', str(exc))
                continue
            want['addresses'].setdefault(item['interface'], set()).add(address)
            want['address_fields'].setdefault(item['interface'], field)
    if params.get('routes') is not None:
        want['routes'] = {}
        want['route_fields'] = {}
        for index, item in enumerate(params['routes']):
            field = 'routes[%d]' % index
            route = _route_spec(errors, field, item)
            if route is None:
                continue
            key = model.route_key(route)
            if key in want['routes']:
                errors.add(field, 'a route to %s with metric %d is listed twice' % key)
            want['routes'][key] = route
            want['route_fields'][key] = field
    if state == 'deleted':
        _reject_deleted_extras(errors, params)
    errors.raise_if_any()
    return want


def _reject_deleted_extras(errors, params):
    """In state deleted only names (and VIDs) matter; options would silently do nothing."""
    for index, item in enumerate(params.get('bonds') or []):
        extra = sorted(k for k in model.BOND_OPTIONS + ('slaves', 'mtu', 'mac') if item.get(k) is not None)
        if extra:
            errors.add('bonds[%d]' % index, 'state deleted removes the whole bond; %s would be ignored: remove them'
                       % ', '.join(extra))


def bond_want(params):
    """host_bond params -> desired state (present = the bond as described, slaves exactly as listed)."""
    errors = _Errors()
    spec = _bond_spec(errors, 'bond', params)
    name = params['name']
    errors.raise_if_any()
    if params.get('state') == 'absent':
        return {'state': 'deleted', 'bonds': {name: {}}, 'bridges': None, 'vlans': None, 'vlan_bridges': None,
                'addresses': None, 'routes': None, 'links': None, 'fields': {name: 'bond'}}
    return {'state': 'replaced', 'bonds': {name: spec}, 'bridges': None, 'vlans': None, 'vlan_bridges': None,
            'addresses': None, 'routes': None, 'links': None, 'fields': {name: 'bond'}}


def bridge_want(params):
    """host_bridge params -> desired state (ports are added; purge_ports makes the list exact)."""
    errors = _Errors()
    spec = _bridge_spec(errors, 'bridge', params)
    name = params['name']
    errors.raise_if_any()
    base = {'bonds': None, 'vlans': None, 'vlan_bridges': None, 'addresses': None, 'routes': None, 'links': None,
            'fields': {name: 'bridge'}}
    if params.get('state') == 'absent':
        base.update(state='deleted', bridges={name: {}})
        return base
    base.update(state='replaced' if params.get('purge_ports') else 'merged', bridges={name: spec})
    return base


def trunk_want(params):
    """host_vlan_trunk params -> desired state."""
    errors = _Errors()
    state = params.get('state') or 'merged'
    config = params.get('config') or []
    vlans = _keyed(errors, 'config', config, 'port', _vlan_spec)
    if params.get('bridge') is not None:
        check_link_name(errors, 'bridge', params['bridge'])
    errors.raise_if_any()
    return {'state': state, 'bonds': None, 'bridges': None, 'vlans': vlans,
            'vlan_bridges': set([params['bridge']]) if params.get('bridge') else None,
            'vlan_fields': dict((item.get('port'), 'config[%d]' % i) for i, item in enumerate(config)),
            'addresses': None, 'routes': None, 'links': None, 'fields': {}}


# --------------------------------------------------------------------------------------- against facts

def _field(want, name, suffix=''):
    return '%s%s' % (want.get('fields', {}).get(name, name), suffix)


def check_against_facts(want, have):
    """Names that must exist, links already taken, MTU limits: everything the facts can tell."""
    errors = _Errors()
    state = want['state']
    links = have['links']
    bonds = want.get('bonds') or {}
    bridges = want.get('bridges') or {}
    if state == 'deleted':
        for name in list(bonds) + list(bridges):
            kind = 'bond' if name in bonds else 'bridge'
            if name in links and links[name].get('kind') != kind:
                errors.add(_field(want, name, '.name'), '%s is a %s, not a %s; nothing to delete here'
                           % (name, links[name].get('kind') or 'NIC', kind))
        _check_trunks(errors, want, have, {}, set())
        errors.raise_if_any()
        return
    for name, spec in bonds.items():
        if name not in links and spec.get('mode') is None:
            spec['mode'] = 'active-backup'  # a new bond without a mode: Harvester's default
    masters, deleted, conflicts, released = model.membership(have, want)
    for link, first, second in conflicts:
        errors.add(second[1], '%s cannot join %s: it is also listed in %s (%s); a link has one master'
                   % (link, second[0], first[1], first[0]))
    created = set(name for name in list(bonds) + list(bridges) if name not in links or name in deleted)

    def exists(name):
        return (name in links and name not in deleted) or name in created

    def kind_of(name):
        if name in bonds:
            return 'bond'
        if name in bridges:
            return 'bridge'
        return links.get(name, {}).get('kind')

    for section, kind in (('bonds', 'bond'), ('bridges', 'bridge')):
        for name, spec in (want.get(section) or {}).items():
            if name in links and name not in deleted and links[name].get('kind') != kind:
                errors.add(_field(want, name, '.name'), '%s already exists and is a %s, not a %s; pick another name'
                           % (name, links[name].get('kind') or 'NIC', kind))
    for name, spec in bonds.items():
        field = _field(want, name)
        _check_bond_semantics(errors, field, spec, have['bonds'].get(name))
        for slave in spec.get('slaves') or []:
            if not exists(slave):
                errors.add(field + '.slaves', '%s does not exist on this node; check the NIC name' % slave)
                continue
            if kind_of(slave) in ('bond', 'bridge'):
                errors.add(field + '.slaves', '%s is a %s; a bond slave must be a NIC' % (slave, kind_of(slave)))
        if spec.get('mtu'):
            for slave in spec.get('slaves') or model.members(have, name):
                limit = links.get(slave, {}).get('max_mtu')
                if limit and spec['mtu'] > limit:
                    errors.add(field + '.mtu', 'MTU %d is above what slave %s supports (%d)'
                               % (spec['mtu'], slave, limit))
        if spec.get('primary') and spec.get('slaves') is None and spec['primary'] not in model.members(have, name):
            errors.add(field + '.primary', '%s is not a slave of %s; name one of its slaves' % (spec['primary'], name))
    for name, spec in bridges.items():
        field = _field(want, name)
        candidates = list(spec.get('ports') or [])
        if spec.get('uplink'):
            candidates.append(spec['uplink'])
        for port in candidates:
            what = field + ('.uplink' if port == spec.get('uplink') else '.ports')
            if not exists(port):
                errors.add(what, '%s does not exist on this node; check the name' % port)
                continue
            if kind_of(port) == 'bridge':
                errors.add(what, '%s is a bridge; a bridge cannot be a port of another bridge (the kernel refuses'
                           ' it): use a veth pair or a VLAN interface to connect bridges' % port)
        uplink = spec.get('uplink')
        if spec.get('mtu') and uplink:
            if uplink in bonds and bonds[uplink].get('mtu') and bonds[uplink]['mtu'] != spec['mtu']:
                errors.add(field + '.mtu', 'MTU %d differs from its uplink %s (MTU %d); the bridge and its uplink share'
                           ' one MTU: set the same value or leave one out' % (spec['mtu'], uplink, bonds[uplink]['mtu']))
            limit = links.get(uplink, {}).get('max_mtu')
            if limit and spec['mtu'] > limit:
                errors.add(field + '.mtu', 'MTU %d is above what uplink %s supports (%d)' % (spec['mtu'], uplink, limit))
    # A link joining a master must not be held by another master that keeps it.
    for link, (master, field) in sorted(masters.items()):
        current = links.get(link, {}).get('master')
        if master is None or not current or current == master:
            continue
        if current in deleted or (link, current) in released:
            continue
        kind = links.get(current, {}).get('kind') or 'master'
        errors.add(field, '%s is already in %s %s; remove it there first (or manage %s in the same task)'
                   % (link, kind, current, current))
    _check_addresses(errors, want, have, masters, exists)
    _check_trunks(errors, want, have, masters, deleted)
    errors.raise_if_any()


def _check_addresses(errors, want, have, masters, exists):
    slaves = set(link for link, (master, _f) in masters.items() if master and (
        master in (want.get('bonds') or {}) or have['links'].get(master, {}).get('kind') == 'bond'))
    slaves.update(name for name, link in have['links'].items()
                  if have['links'].get(link.get('master'), {}).get('kind') == 'bond' and name not in masters)
    for link, _addresses in (want.get('addresses') or {}).items():
        field = want.get('address_fields', {}).get(link, 'addresses')
        if want['state'] == 'deleted':
            continue
        if not exists(link):
            errors.add(field + '.interface', '%s does not exist on this node (and is not created here)' % link)
        elif link in slaves:
            errors.add(field + '.interface', '%s is a bond slave; put the address on the bond instead' % link)
    for key, route in (want.get('routes') or {}).items():
        field = want.get('route_fields', {}).get(key, 'routes')
        link = route.get('interface')
        if want['state'] == 'deleted' or link is None:
            continue
        if not exists(link):
            errors.add(field + '.interface', '%s does not exist on this node (and is not created here)' % link)
        elif link in slaves:
            errors.add(field + '.interface', '%s is a bond slave; route through the bond instead' % link)


def _check_trunks(errors, want, have, masters, deleted):
    specs = want.get('vlans')
    if specs is None:
        return
    bridges = want.get('bridges') or {}
    for port, spec in specs.items():
        field = want.get('vlan_fields', {}).get(port, 'vlans')
        if port in bridges or (have['links'].get(port, {}).get('kind') == 'bridge' and port not in deleted):
            bridge = port
        else:
            if port in masters:
                bridge = masters[port][0]
            else:
                bridge = have['links'].get(port, {}).get('master')
            if want['state'] == 'deleted' and (port not in have['links'] or bridge is None
                                               or have['links'].get(bridge, {}).get('kind') != 'bridge'):
                # No VLAN table to delete: a link that is gone, or on no bridge, after a run (this one's first
                # try, say) that deleted its bridge or the link itself.  Refusing it would refuse the re-run of an
                # accepted run; the planner leaves it alone, as ``deleted`` leaves a bond or bridge that is gone.
                continue
            if port not in have['links'] and port not in (want.get('bonds') or {}):
                errors.add(field + '.port', '%s does not exist on this node; check the port name' % port)
                continue
            if bridge is None or bridge in deleted or (bridge not in bridges and
                                                       have['links'].get(bridge, {}).get('kind') != 'bridge'):
                errors.add(field + '.port', '%s is not a bridge port; attach it to a bridge first (host_bridge ports)'
                           % port)
                continue
        if spec.get('bridge') and spec['bridge'] != bridge:
            errors.add(field + '.bridge', '%s is a port of %s, not of %s' % (port, bridge, spec['bridge']))
        if want.get('vlan_bridges') and bridge not in want['vlan_bridges']:
            errors.add(field + '.port', '%s belongs to bridge %s, outside this task\'s bridge %s'
                       % (port, bridge, ', '.join(sorted(want['vlan_bridges']))))
        if want['state'] != 'deleted':
            filtering = (bridges.get(bridge) or {}).get('vlan_filtering')
            if filtering is None:
                filtering = have['bridges'].get(bridge, {}).get('vlan_filtering')
            if not filtering:
                errors.add(field + '.port', 'bridge %s has vlan_filtering off, so VLANs on %s would do nothing; enable'
                           ' vlan_filtering on %s' % (bridge, port, bridge))
    if want.get('vlan_bridges'):
        for bridge in want['vlan_bridges']:
            if bridge not in have['links'] and bridge not in bridges:
                errors.add('bridge', '%s does not exist on this node' % bridge)


# --------------------------------------------------------------------------------------- the end state

def check_outcome(want, predicted):
    """Checks that need the planned end state: every gateway reachable, nothing on bond slaves."""
    errors = _Errors()
    stated = {} if want['state'] == 'deleted' else want.get('routes') or {}
    for key, route in sorted(stated.items()):
        if not _gateway_reachable(route, predicted):
            where = 'on %s' % route['interface'] if route.get('interface') else 'on any interface'
            errors.add(want.get('route_fields', {}).get(key, 'routes') + '.gateway',
                       'gateway %s is not in the subnet of any address %s after this change; add an address in its'
                       ' subnet or fix the gateway' % (route['gateway'], where))
    # A route the task does not state but keeps (moved onto a bridge with its uplink, say) must stay reachable
    # too: the kernel refuses to add it back ("Nexthop has invalid gateway"; found by the check-mode property test).
    for key, route in sorted(predicted['routes'].items()):
        if key not in stated and not _gateway_reachable(route, predicted):
            errors.add('addresses' if want.get('addresses') is not None else 'routes',
                       'the route %s via %s on %s, which this task keeps, needs an address in the subnet of its'
                       ' gateway on %s after this change and would have none; keep such an address, or state the'
                       ' routes without it' % (route['dst'], route['gateway'], route.get('interface') or 'any link',
                                               route.get('interface') or 'some link'))
    errors.raise_if_any()


def _gateway_reachable(route, predicted):
    gateway = route.get('gateway')
    if not gateway:
        return True
    address = ipaddress.ip_address(gateway)
    if address.version == 6 and address.is_link_local:
        return True
    links = [route['interface']] if route.get('interface') else list(predicted['addresses'])
    return any(address in ipaddress.ip_interface(a).network
               for link in links for a in predicted['addresses'].get(link, {}))


def _cause(want, have, link, migrating):
    """The field of ``want`` that makes ``link`` lose its routes."""
    if link in migrating:
        return _field(want, migrating[link], '.migrate')
    if link in want.get('address_fields', {}):
        return want['address_fields'][link]
    if want.get('addresses') is not None and not (have['addresses'].get(link) and link not in want['addresses']
                                                  and want['state'] in ('merged', 'replaced')):
        return 'addresses'
    masters = model.membership(have, want)[0]
    if link in masters:
        return masters[link][1]
    return _field(want, link)


def _loses_routes(have, predicted, link):
    """Whether the kernel drops ``link``'s routes during the change: it goes, goes down, changes master or loses
    its last IPv4 address."""
    before, after = have['links'].get(link), predicted['links'].get(link)
    if after is None or (before or {}).get('up') and not after.get('up'):
        return True
    if (before or {}).get('master') != after.get('master'):
        return True
    return _has_ipv4(have, link) and not _has_ipv4(predicted, link)


def _has_ipv4(state, link):
    return any(':' not in address for address in state['addresses'].get(link, {}))


def check_other_routes(want, plan):
    """Routes the engine does not manage (other tables, multipath) that this change would make the kernel drop
    (their link goes down, is enslaved or loses its last IPv4 address), other than those a migration moves onto
    the bridge: refused, each naming the route and what to do, before anything changes."""
    errors = _Errors()
    have = plan.have
    migrating = model.migrations(want)
    kept = plan.state.get('other_routes') or {}
    for key, route in sorted((have.get('other_routes') or {}).items()):
        if key in kept or model.other_route_text(model.moved_route(route, migrating)) in kept:
            continue
        links = [hop.get('interface') for hop in route['nexthops'] if hop.get('interface')]
        link = ([link for link in links if _loses_routes(have, plan.state, link)] or links or ['?'])[0]
        kind = 'a multipath route' if len(route['nexthops']) > 1 else 'a route in table %s' % route['table']
        errors.add(_cause(want, have, link, migrating),
                   '%s goes through %s and this change would make the kernel drop it (%s; the engine keeps only'
                   ' single-path routes of the main table, and moves other routes only with a migration): delete it'
                   ' first (%s) and add it back afterwards, or leave %s out of this change'
                   % (key, link, kind, key.replace(' route add ', ' route del ', 1), link))
    errors.raise_if_any()


def check_portless_bridge_tables(want, plan):
    """VLANs of a bridge itself while it has no port and no MAC address of its own: the kernel refuses them
    (kernel.ZERO_MAC; the planner already sets such a table before the bridge's last port leaves, so only a bridge
    that has no port before this run and gets none in it is left)."""
    errors = _Errors()
    for op in plan.refused:
        if 'default_pvid' in getattr(op, 'options', {}):
            errors.add('%s.default_pvid' % want.get('fields', {}).get(op.link, op.link),
                       'the kernel refuses the default PVID %s on the bridge %s itself while it has no port and no MAC'
                       ' address of its own (%s: a bridge gets it when its last port leaves); give it a port in this'
                       ' task, or a MAC address (its mac option)' % (op.options['default_pvid'], op.link, ZERO_MAC))
            continue
        errors.add(want.get('vlan_fields', {}).get(op.link, 'vlans'),
                   'the kernel refuses VLANs on the bridge %s itself while it has no port and no MAC address of its'
                   ' own (%s: a bridge gets it when its last port leaves); give it a port in this task, or a MAC'
                   ' address (its mac option)' % (op.link, ZERO_MAC))
    errors.raise_if_any()


def checked_plan(have, want):
    """The plan from ``have`` to ``want`` with every check around it: against the facts before planning, the
    planned end state and the routes the engine does not manage after.  Raises ValidationError (plan.PlanError
    only if validation missed something)."""
    check_against_facts(want, have)
    plan = make_plan(have, want)
    check_portless_bridge_tables(want, plan)
    check_outcome(want, plan.state)
    check_other_routes(want, plan)
    return plan
