# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Typed plan operations, and how each one is undone.

Each operation knows four things and nothing else:

* ``to_dict()`` / ``command()``: how it shows in a plan (with the iproute2 command that would do the same);
* ``simulate(state)``: what the Linux kernel does to the canonical state when it runs (side effects included:
  a port joining a VLAN-filtering bridge gets the default PVID, a released bond slave goes down, ...), built from
  the kernel model in kernel.py.  Check mode predicts with this; the planner uses it to see intermediate states;
* ``requests()``: the netlink requests that carry it out (Request: pyroute2 call arguments, built with
  encoding.py; no I/O here);
* ``inverse(before)``: the operations that undo it, given the state before it ran (the apply journal); the
  helpers the inverses share are at the end of this file.

No third-party imports: the planner and its unit tests run without pyroute2 and without root.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.harvester.network.plugins.module_utils.host import model
from ansible_collections.harvester.network.plugins.module_utils.host.encoding import (
    BRIDGE_FLAGS_SELF, IFF_PROMISC, option_nla, other_route_kwargs, route_kwargs, vlan_info_attrs)
from ansible_collections.harvester.network.plugins.module_utils.host.kernel import (
    BOND_KERNEL_ORDER, apply_bond_options, bridge_mtu_follow_ports, detach, drop_link_routes, drop_v6_addresses,
    ipv4_net, mac_derived, set_default_pvid, vlan_set)
from ansible_collections.harvester.network.plugins.module_utils.host.vids import format_ranges, to_ranges


class Request:
    """One netlink request, as a pyroute2 call: ``getattr(ipr, method)(command, **kwargs)``.

    ``refs`` lists keyword arguments whose value is a link *name* to be turned into an ifindex when
    the request is compiled (links created earlier in the same run have no index before that).
    """

    def __init__(self, method, command, refs=(), **kwargs):
        self.method = method
        self.command = command
        self.refs = tuple(refs)
        self.kwargs = kwargs

    def __repr__(self):
        return 'Request(%s %s %r)' % (self.method, self.command, self.kwargs)

    def names(self):
        """The link names this request refers to (the nexthops of a multipath route included)."""
        found = [self.kwargs.get(ref) for ref in self.refs if ref != 'multipath']
        if 'multipath' in self.refs:
            found.extend(hop.get('oif') for hop in self.kwargs.get('multipath') or ())
        return [name for name in found if isinstance(name, str)]


class Op:
    """Base class: subclasses set ``name`` and ``fields`` and implement the four methods."""

    name = 'op'
    fields = ()
    # A note shown in the plan when the kernel forces something disruptive.
    note = None

    def __init__(self, **kwargs):
        for field in self.fields:
            setattr(self, field, kwargs.pop(field, None))
        self.note = kwargs.pop('note', None)
        if kwargs:
            raise TypeError('%s: unexpected fields %s' % (self.name, sorted(kwargs)))

    def to_dict(self):
        result = {'op': self.name}
        for field in self.fields:
            value = getattr(self, field)
            if isinstance(value, (set, frozenset)):
                value = sorted(value)
            result[field] = value
        if self.note:
            result['note'] = self.note
        result['command'] = self.command()
        return result

    def __eq__(self, other):
        return isinstance(other, Op) and self.to_dict() == other.to_dict()

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.command())

    def __repr__(self):
        return '<%s>' % self.command()

    def targets(self):
        """Link names this operation touches (for messages and for the rollback scope)."""
        return [getattr(self, 'link', None)]

    def command(self):
        raise NotImplementedError

    def simulate(self, state):
        raise NotImplementedError

    def requests(self):
        raise NotImplementedError

    def inverse(self, before):
        raise NotImplementedError


# --------------------------------------------------------------------------- link operations

class CreateLink(Op):
    """Create a bond or a bridge, down, with its options in the same request."""

    name = 'create_link'
    fields = ('link', 'kind', 'mtu', 'mac', 'options', 'promisc')

    def command(self):
        words = ['ip link add', self.link]
        if self.mtu:
            words.append('mtu %d' % self.mtu)
        if self.mac:
            words.append('address %s' % self.mac)
        words.append('type %s' % self.kind)
        for key in sorted(self.options or {}):
            words.append(_option_text(self.kind, key, self.options[key]))
        if self.promisc:
            words.append('&& ip link set %s promisc on' % self.link)
        return ' '.join(words)

    def simulate(self, state):
        state['links'][self.link] = {'kind': self.kind, 'mtu': self.mtu or 1500, 'up': False, 'master': None,
                                     'max_mtu': 65535, 'index': None, 'mac': self.mac, 'mac_set': bool(self.mac),
                                     'promisc': bool(self.promisc)}
        options = dict(self.options or {})
        if self.kind == 'bond':
            bond = dict(model.BOND_DEFAULTS)
            bond['_updelay_ticks'] = bond['_downdelay_ticks'] = 0
            # A bond created over netlink starts as balance-rr with the module defaults; the mode is applied
            # like a change (an 802.3ad bond gets MII monitoring at 100 ms).
            apply_bond_options(bond, dict(options, mode=options.get('mode', 'balance-rr')))
            state['bonds'][self.link] = bond
        else:
            bridge = dict(model.BRIDGE_DEFAULTS)
            bridge['promisc'] = bool(self.promisc)
            bridge['mtu_pinned'] = False
            bridge['vlan_filtering'] = bool(options.get('vlan_filtering', False))
            bridge['stp'] = bool(options.get('stp', False))
            state['bridges'][self.link] = bridge
            state['vlans'][self.link] = model.default_vlan_table(1)
            if 'default_pvid' in options:
                set_default_pvid(state, self.link, options['default_pvid'])

    def requests(self):
        kwargs = {'ifname': self.link, 'kind': self.kind}
        if self.mtu:
            kwargs['mtu'] = self.mtu
        if self.mac:
            kwargs['address'] = self.mac
        if self.promisc:
            kwargs['flags'] = IFF_PROMISC
            kwargs['change'] = IFF_PROMISC
        refs = []
        for key, value in (self.options or {}).items():
            nla, value = option_nla(self.kind, key, value)
            kwargs[nla] = value
            if key == 'primary' and value:
                refs.append(nla)
        return [Request('link', 'add', refs=refs, **kwargs)]

    def inverse(self, before):
        return [DeleteLink(link=self.link)]


class DeleteLink(Op):
    """Delete a bond or bridge; the kernel releases its slaves/ports and drops its addresses and routes."""

    name = 'delete_link'
    fields = ('link',)

    def command(self):
        return 'ip link del %s' % self.link

    def simulate(self, state):
        name = self.link
        link = state['links'].pop(name)
        for member in model.members(state, name):
            detach(state, member, name)
        if link.get('master'):
            state['vlans'].pop(name, None)
        state['vlans'].pop(name, None)
        state['addresses'].pop(name, None)
        drop_link_routes(state, name)
        state['bonds'].pop(name, None)
        state['bridges'].pop(name, None)
        if link.get('master') in state['bridges']:
            bridge_mtu_follow_ports(state, link['master'])
            mac_derived(state, link['master'])

    def requests(self):
        return [Request('link', 'del', refs=('index',), index=self.link)]

    def inverse(self, before):
        # Re-creating a deleted link with everything hanging off it is a planning problem:
        # the apply engine asks the planner for it (see apply.Journal).
        return None


class SetLink(Op):
    """Change MTU, MAC or promiscuity of a link in one request."""

    name = 'set_link'
    fields = ('link', 'mtu', 'mac', 'promisc')

    def command(self):
        words = ['ip link set', self.link]
        if self.mtu is not None:
            words.append('mtu %d' % self.mtu)
        if self.mac is not None:
            words.append('address %s' % self.mac)
        if self.promisc is not None:
            words.append('promisc %s' % ('on' if self.promisc else 'off'))
        return ' '.join(words)

    def simulate(self, state):
        link = state['links'][self.link]
        if self.mac is not None:
            link['mac'] = self.mac
            link['mac_set'] = True  # addr_assign_type NET_ADDR_SET: ports and slaves no longer change it
            if link.get('master') in state['bridges']:
                mac_derived(state, link['master'])  # a port's new MAC can be the bridge's lowest
        if self.promisc is not None:
            link['promisc'] = self.promisc
            if self.link in state['bridges']:
                state['bridges'][self.link]['promisc'] = self.promisc
        if self.mtu is not None:
            link['mtu'] = self.mtu
            if self.link in state['bridges']:
                state['bridges'][self.link]['mtu_pinned'] = True
            if link['kind'] == 'bond':
                for slave in model.members(state, self.link):
                    state['links'][slave]['mtu'] = self.mtu
            master = link.get('master')
            if master in state['bridges']:
                bridge_mtu_follow_ports(state, master)

    def requests(self):
        kwargs = {'index': self.link}
        if self.mtu is not None:
            kwargs['mtu'] = self.mtu
        if self.mac is not None:
            kwargs['address'] = self.mac
        if self.promisc is not None:
            kwargs['flags'] = IFF_PROMISC if self.promisc else 0
            kwargs['change'] = IFF_PROMISC
        return [Request('link', 'set', refs=('index',), **kwargs)]

    def inverse(self, before):
        link = before['links'][self.link]
        undo = {}
        if self.mtu is not None and link.get('mtu') is not None:
            undo['mtu'] = link['mtu']
        if self.mac is not None and link.get('mac') is not None:
            undo['mac'] = link['mac']
        if self.promisc is not None:
            undo['promisc'] = bool(link.get('promisc'))
        return [SetLink(link=self.link, **undo)] if undo else []


class SetBondOptions(Op):
    """Change bond options in place (one request; the kernel applies them in bond_changelink() order)."""

    name = 'set_bond_options'
    fields = ('link', 'options')

    def command(self):
        return 'ip link set %s type bond %s' % (
            self.link, ' '.join(_option_text('bond', key, self.options[key]) for key in sorted(self.options)))

    def simulate(self, state):
        apply_bond_options(state['bonds'][self.link], self.options)

    def requests(self):
        kwargs = {'index': self.link, 'kind': 'bond'}
        refs = ['index']
        for key, value in self.options.items():
            nla, value = option_nla('bond', key, value)
            kwargs[nla] = value
            if key == 'primary' and value:
                refs.append(nla)
        return [Request('link', 'set', refs=refs, **kwargs)]

    def inverse(self, before):
        old = before['bonds'][self.link]
        after = dict(old)
        apply_bond_options(after, self.options)
        undo = {}
        for key in BOND_KERNEL_ORDER:
            if key == 'primary':
                if 'primary' in self.options and old.get('_primary_name') != after.get('_primary_name'):
                    undo['primary'] = old.get('_primary_name')
            elif old.get(key) != after.get(key):
                undo[key] = old.get(key)
        # Restoring miimon scales up/downdelay: always restore them together (and only while miimon is on).
        if 'miimon' in undo and old.get('miimon'):
            undo['updelay'] = old.get('updelay', 0)
            undo['downdelay'] = old.get('downdelay', 0)
        if not old.get('miimon'):
            undo.pop('updelay', None)
            undo.pop('downdelay', None)
        # The kernel sets the mode first and refuses an option the new mode does not take ("mode dependency
        # failed"), so options only the current mode takes (an 802.3ad bond's lacp_rate) go back before the mode.
        early = {}
        if 'mode' in undo:
            modes = model.BOND_OPTION_MODES
            early = dict((key, undo.pop(key)) for key in list(undo) if key in modes
                         and after.get('mode') in modes[key] and undo['mode'] not in modes[key])
        return [SetBondOptions(link=self.link, options=options) for options in (early, undo) if options]


class SetBridgeOptions(Op):
    """Change bridge options (vlan_filtering, stp, default_pvid) in place."""

    name = 'set_bridge_options'
    fields = ('link', 'options')

    def command(self):
        return 'ip link set %s type bridge %s' % (
            self.link, ' '.join(_option_text('bridge', key, self.options[key]) for key in sorted(self.options)))

    def simulate(self, state):
        bridge = state['bridges'][self.link]
        for key in ('vlan_filtering', 'stp'):
            if key in self.options:
                bridge[key] = bool(self.options[key])
        if 'default_pvid' in self.options:
            set_default_pvid(state, self.link, self.options['default_pvid'])

    def requests(self):
        kwargs = {'index': self.link, 'kind': 'bridge'}
        for key, value in self.options.items():
            nla, value = option_nla('bridge', key, value)
            kwargs[nla] = value
        return [Request('link', 'set', refs=('index',), **kwargs)]

    def inverse(self, before):
        old = before['bridges'][self.link]
        undo = dict((key, old[key]) for key in self.options if old.get(key) != self.options[key])
        ops = [SetBridgeOptions(link=self.link, options=undo)] if undo else []
        if 'default_pvid' in undo:
            # Moving the default PVID back may not restore every port exactly: re-assert the tables.
            ops.extend(_restore_tables(before, [self.link] + model.members(before, self.link)))
        return ops


class SetMaster(Op):
    """Enslave a link to a bond or bridge, or release it (master None)."""

    name = 'set_master'
    fields = ('link', 'master', 'up')

    def command(self):
        text = 'ip link set %s %s' % (self.link, 'master %s' % self.master if self.master else 'nomaster')
        if self.up:
            text += ' up'
        return text

    def simulate(self, state):
        link = state['links'][self.link]
        old = link.get('master')
        if old and old != self.master:
            detach(state, self.link, old)
            if old in state['bridges']:
                bridge_mtu_follow_ports(state, old)
        if self.master:
            link['master'] = self.master
            if self.master in state['bonds']:
                bond_link = state['links'][self.master]
                link['_orig_mtu'] = link.get('mtu')
                link['_orig_mac'] = link.get('mac')
                link['mtu'] = bond_link.get('mtu')
                link['mac'] = None  # the bonding driver decides (mode, fail_over_mac)
                link['up'] = True   # bond_enslave() opens the slave
                mac_derived(state, self.master)
            else:
                bridge = state['bridges'][self.master]
                state['vlans'][self.link] = model.default_vlan_table(bridge['default_pvid'])
                bridge_mtu_follow_ports(state, self.master, joined=self.link)
                mac_derived(state, self.master)  # the bridge takes the lowest port MAC
        if self.up:
            link['up'] = True

    def requests(self):
        kwargs = {'index': self.link, 'master': self.master or 0}
        if self.up:
            kwargs['state'] = 'up'
        return [Request('link', 'set', refs=('index', 'master') if self.master else ('index',), **kwargs)]

    def inverse(self, before):
        link = before['links'][self.link]
        old = link.get('master')
        ops = []
        if self.up and not link.get('up'):
            ops.append(SetUp(link=self.link, up=False))
        if old == self.master:
            return ops
        if self.master:
            ops.append(SetMaster(link=self.link, master=None))
            if self.master in before['bonds'] and link.get('up'):
                ops.append(SetUp(link=self.link, up=True))
        if old:
            reopen = old in before['bonds'] and bool(link.get('up'))
            if reopen:
                ops.append(SetUp(link=self.link, up=False))
            # "up" too: enslaving opens the slave, but if the release never happened (its request failed) the
            # kernel takes the enslave as a no-op and only "up" brings back the slave the undo took down.
            ops.append(SetMaster(link=self.link, master=old, up=reopen or None))
            if old in before['bridges']:
                ops.extend(_restore_tables(before, [self.link], after_join=True))
        return ops


class SetUp(Op):
    """Set a link administratively up or down."""

    name = 'set_up'
    fields = ('link', 'up')

    def command(self):
        return 'ip link set %s %s' % (self.link, 'up' if self.up else 'down')

    def simulate(self, state):
        state['links'][self.link]['up'] = bool(self.up)
        if not self.up:
            # Going down flushes the link's routes and its IPv6 addresses.
            drop_link_routes(state, self.link)
            drop_v6_addresses(state, self.link)

    def requests(self):
        return [Request('link', 'set', refs=('index',), index=self.link, state='up' if self.up else 'down')]

    def inverse(self, before):
        was = bool(before['links'][self.link].get('up'))
        if was == bool(self.up):
            return []
        return [SetUp(link=self.link, up=was)] + restore_side_effects(before, self)


# --------------------------------------------------------------------------- VLAN membership

class SetVlans(Op):
    """Change one bridge port's (or the bridge's own) VLAN table: add/update entries, then remove entries.

    ``add`` maps flags -> VIDs; VIDs sharing flags go as ranges in ONE request, so a 2-4094 trunk is one
    netlink message, not 4093.
    """

    name = 'set_vlans'
    fields = ('link', 'add', 'remove', 'bridge_self')

    def __init__(self, **kwargs):
        Op.__init__(self, **kwargs)
        self.add = dict((flags, frozenset(vids)) for flags, vids in (self.add or {}).items() if vids)
        self.remove = frozenset(self.remove or ())

    def to_dict(self):
        result = {'op': self.name, 'link': self.link}
        if self.add:
            result['add'] = [{'vids': format_ranges(vids), 'pvid': bool(flags & model.BRIDGE_VLAN_PVID),
                              'untagged': bool(flags & model.BRIDGE_VLAN_UNTAGGED)}
                             for flags, vids in sorted(self.add.items())]
        if self.remove:
            result['remove'] = format_ranges(self.remove)
        if self.note:
            result['note'] = self.note
        result['command'] = self.command()
        return result

    def command(self):
        words = []
        suffix = ' self' if self.bridge_self else ''
        for flags, vids in sorted(self.add.items()):
            extra = ''
            if flags & model.BRIDGE_VLAN_PVID:
                extra += ' pvid'
            if flags & model.BRIDGE_VLAN_UNTAGGED:
                extra += ' untagged'
            for first, last in to_ranges(vids):
                vid = '%d' % first if first == last else '%d-%d' % (first, last)
                words.append('bridge vlan add dev %s vid %s%s%s' % (self.link, vid, extra, suffix))
        for first, last in to_ranges(self.remove):
            vid = '%d' % first if first == last else '%d-%d' % (first, last)
            words.append('bridge vlan del dev %s vid %s%s' % (self.link, vid, suffix))
        return '; '.join(words)

    def simulate(self, state):
        table = state['vlans'].setdefault(self.link, {})
        for flags, vids in sorted(self.add.items()):
            if flags & model.BRIDGE_VLAN_PVID:
                for vid in vids:
                    vlan_set(table, vid, flags)
            else:  # what vlan_set() does without a PVID, for a whole trunk at once
                table.update(dict.fromkeys(vids, flags))
        for vid in self.remove:
            table.pop(vid, None)

    def requests(self):
        result = []
        head = [('IFLA_BRIDGE_FLAGS', BRIDGE_FLAGS_SELF)] if self.bridge_self else []
        if self.add:
            attrs = list(head)
            for flags, vids in sorted(self.add.items()):
                attrs.extend(vlan_info_attrs(vids, flags))
            result.append(Request('vlan_filter', 'add', refs=('index',), index=self.link,
                                  IFLA_AF_SPEC={'attrs': attrs}))
        if self.remove:
            attrs = list(head) + vlan_info_attrs(self.remove, 0)
            result.append(Request('vlan_filter', 'del', refs=('index',), index=self.link,
                                  IFLA_AF_SPEC={'attrs': attrs}))
        return result

    def inverse(self, before):
        if self.link not in before['vlans']:
            return _restore_tables(before, [self.link])
        old = before['vlans'][self.link]
        state = {'vlans': {self.link: dict(old)}}
        self.simulate(state)
        op = vlan_table_ops(self.link, state['vlans'][self.link], old, is_bridge=bool(self.bridge_self))
        return [op] if op else []


def vlan_table_ops(link, current, wanted, is_bridge=False, note=None):
    """The SetVlans that turns VLAN table ``current`` into ``wanted`` (None when they are equal)."""
    if current == wanted:
        return None  # compared whole first: a re-check's 2-4094 trunk is 4093 entries to compare one by one
    add = {}
    # A new PVID first: the kernel takes the PVID flag off the old one by itself, so the old entry may
    # need nothing more.
    after = dict(current)
    for vid, flags in wanted.items():
        if flags & model.BRIDGE_VLAN_PVID and current.get(vid) != flags:
            add.setdefault(flags, set()).add(vid)
            vlan_set(after, vid, flags)
    for vid, flags in wanted.items():
        if after.get(vid) != flags:
            add.setdefault(flags, set()).add(vid)
    remove = set(current) - set(wanted)
    if not add and not remove:
        return None
    return SetVlans(link=link, add=add, remove=remove, bridge_self=is_bridge or None, note=note)


# --------------------------------------------------------------------------- addresses and routes

class AddAddress(Op):
    name = 'add_address'
    fields = ('link', 'address')

    def command(self):
        return 'ip addr add %s dev %s' % (self.address, self.link)

    def simulate(self, state):
        addresses = state['addresses'].setdefault(self.link, {})
        if self.address not in addresses:
            secondary = False
            if ':' not in self.address:
                net = ipv4_net(self.address)
                secondary = any(':' not in other and ipv4_net(other) == net for other in addresses)
            addresses[self.address] = {'secondary': secondary}

    def requests(self):
        ip, prefix = self.address.split('/')
        return [Request('addr', 'add', refs=('index',), index=self.link, address=ip, prefixlen=int(prefix))]

    def inverse(self, before):
        if self.address in before['addresses'].get(self.link, {}):
            return []
        return [DelAddress(link=self.link, address=self.address)]


class DelAddress(Op):
    name = 'del_address'
    fields = ('link', 'address')

    def command(self):
        return 'ip addr del %s dev %s' % (self.address, self.link)

    def simulate(self, state):
        addresses = state['addresses'].get(self.link, {})
        info = addresses.pop(self.address, None)
        if info is None or ':' in self.address:
            return
        net = ipv4_net(self.address)
        if not info.get('secondary'):
            # Deleting a primary IPv4 address takes its secondaries with it (promote_secondaries off),
            # the planner removes them explicitly first, so this is only a safety net.
            for other in [a for a in addresses if ':' not in a and ipv4_net(a) == net]:
                del addresses[other]
        if not any(':' not in a for a in addresses):
            # The last IPv4 address gone: the kernel flushes the link's IPv4 routes (fib_disable_ip).
            drop_link_routes(state, self.link, families=(4,))

    def requests(self):
        ip, prefix = self.address.split('/')
        return [Request('addr', 'del', refs=('index',), index=self.link, address=ip, prefixlen=int(prefix))]

    def inverse(self, before):
        if self.address not in before['addresses'].get(self.link, {}):
            return []
        return [AddAddress(link=self.link, address=self.address)] + restore_side_effects(before, self)


def _route_command(verb, op):
    """``ip route add|del`` for a route op (the command a plan shows)."""
    words = ['ip', '-6' if ':' in op.dst else '-4', 'route %s' % verb, op.dst]
    if op.gateway:
        words.append('via %s' % op.gateway)
    if op.interface:
        words.append('dev %s' % op.interface)
    words.append('metric %d' % op.metric)
    return ' '.join(words)


class AddRoute(Op):
    name = 'add_route'
    fields = ('dst', 'gateway', 'interface', 'metric')

    def targets(self):
        return [self.interface]

    def command(self):
        return _route_command('add', self)

    def simulate(self, state):
        route = {'dst': self.dst, 'gateway': self.gateway, 'interface': self.interface, 'metric': self.metric}
        state['routes'][model.route_key(route)] = route

    def requests(self):
        return [Request('route', 'add', refs=('oif',) if self.interface else (), **route_kwargs(self))]

    def inverse(self, before):
        key = (self.dst, self.metric)
        if key in before['routes']:
            return []
        return [DelRoute(dst=self.dst, gateway=self.gateway, interface=self.interface, metric=self.metric)]


class DelRoute(Op):
    name = 'del_route'
    fields = ('dst', 'gateway', 'interface', 'metric')

    def targets(self):
        return [self.interface]

    def command(self):
        return _route_command('del', self)

    def simulate(self, state):
        state['routes'].pop((self.dst, self.metric), None)

    def requests(self):
        return [Request('route', 'del', refs=('oif',) if self.interface else (), **route_kwargs(self))]

    def inverse(self, before):
        old = before['routes'].get((self.dst, self.metric))
        if not old:
            return []
        return [AddRoute(dst=old['dst'], gateway=old.get('gateway'), interface=old.get('interface'),
                         metric=old['metric'])]


class AddOtherRoute(Op):
    """Add a route the engine does not otherwise manage (another table, multipath): what a migration moves."""

    name = 'add_other_route'
    fields = ('route',)

    def targets(self):
        return [hop.get('interface') for hop in self.route['nexthops']]

    def command(self):
        return model.other_route_text(self.route)

    def simulate(self, state):
        state.setdefault('other_routes', {})[self.command()] = dict(self.route)

    def requests(self):
        kwargs = other_route_kwargs(self.route)
        return [Request('route', 'add', refs=('multipath',) if 'multipath' in kwargs else ('oif',), **kwargs)]

    def inverse(self, before):
        if self.command() in (before.get('other_routes') or {}):
            return []
        return [DelOtherRoute(route=self.route)]


class DelOtherRoute(AddOtherRoute):
    name = 'del_other_route'

    def command(self):
        return model.other_route_text(self.route).replace(' route add ', ' route del ', 1)

    def simulate(self, state):
        (state.get('other_routes') or {}).pop(model.other_route_text(self.route), None)

    def requests(self):
        kwargs = other_route_kwargs(self.route)
        return [Request('route', 'del', refs=('multipath',) if 'multipath' in kwargs else ('oif',), **kwargs)]

    def inverse(self, before):
        if model.other_route_text(self.route) not in (before.get('other_routes') or {}):
            return []
        return [AddOtherRoute(route=self.route)]


# --------------------------------------------------------------------------- plan text

def _option_text(kind, key, value):
    """Option -> iproute2 syntax, for plan text only."""
    if kind == 'bond':
        if key == 'arp_ip_target':
            return 'arp_ip_target %s' % (','.join(value) if value else '""')
        if key == 'primary':
            return 'primary %s' % (value or '""')
        return '%s %s' % (key, value)
    names = {'vlan_filtering': 'vlan_filtering', 'stp': 'stp_state', 'default_pvid': 'vlan_default_pvid'}
    if key in ('vlan_filtering', 'stp'):
        value = 1 if value else 0
    return '%s %s' % (names[key], value)


# --------------------------------------------------------------------------- undo: what the inverses share

def restore_side_effects(before, op):
    """Ops that re-add the addresses and routes the kernel drops as a side effect of ``op``
    (a link going down, the last IPv4 address going away, a primary address taking its secondaries)."""
    after = model.clone_light(before)
    op.simulate(after)
    ops = []
    for link, addresses in sorted(before['addresses'].items()):
        if link not in after['links']:
            continue
        for address in sorted(addresses):
            if address not in after['addresses'].get(link, {}) and not (
                    isinstance(op, DelAddress) and op.link == link and op.address == address):
                ops.append(AddAddress(link=link, address=address))
    lost = [route for key, route in before['routes'].items() if key not in after['routes']
            and not isinstance(op, DelRoute) and route.get('interface') in after['links']]
    for route in sorted(lost, key=lambda r: (bool(r.get('gateway')), r['dst'] in ('0.0.0.0/0', '::/0'), r['dst'])):
        ops.append(AddRoute(dst=route['dst'], gateway=route.get('gateway'), interface=route.get('interface'),
                            metric=route['metric']))
    return ops


def restore_bridge_mtus(snapshot, ops):
    """SetLinks that put back the MTU of every bridge whose ports ``ops`` changed: the kernel re-derives an unpinned
    bridge MTU from its ports (br_mtu_auto_adjust), which the per-operation inverses cannot see.  Appended once at
    the end of an undo, not per operation (that would cost a state copy per port)."""
    touched = set()
    for op in ops:
        if isinstance(op, SetMaster):
            touched.update([op.master, snapshot['links'].get(op.link, {}).get('master')])
        elif isinstance(op, SetLink) and op.mtu is not None:
            touched.add(snapshot['links'].get(op.link, {}).get('master'))
    result = []
    for name in sorted(name for name in touched if name in snapshot['bridges']):
        mtu = snapshot['links'][name].get('mtu')
        if mtu is not None:
            result.append(SetLink(link=name, mtu=mtu))
    return result


def _restore_tables(before, names, after_join=False):
    """Ops that bring the VLAN tables of ``names`` back to ``before`` (used by inverses).

    ``after_join``: the link has just re-joined its bridge, so its table is the default one.
    """
    ops = []
    for name in names:
        wanted = before['vlans'].get(name)
        if wanted is None:
            continue
        if after_join:
            master = before['links'][name].get('master')
            current = model.default_vlan_table(before['bridges'][master]['default_pvid'])
        else:
            current = None  # unknown: assert the whole table (adds are idempotent, removes of absent VIDs too)
        if current is None:
            op = SetVlans(link=name, add=_group_by_flags(wanted), remove=set(range(1, 4095)) - set(wanted),
                          bridge_self=(name in before['bridges']) or None)
        else:
            op = vlan_table_ops(name, current, wanted, is_bridge=name in before['bridges'])
        if op:
            ops.append(op)
    return ops


def _group_by_flags(table):
    grouped = {}
    for vid, flags in table.items():
        grouped.setdefault(flags, set()).add(vid)
    return grouped


OPS = dict((cls.name, cls) for cls in (CreateLink, DeleteLink, SetLink, SetBondOptions, SetBridgeOptions,
                                       SetMaster, SetUp, SetVlans, AddAddress, DelAddress, AddRoute, DelRoute))
