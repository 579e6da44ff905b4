"""The independent witness: what a network namespace holds, read only with iproute2's JSON output and sysfs.

It never imports the collection: a bug in the engine's netlink reader (``netlink.py``) cannot hide itself from a
test that compares snapshots taken here.  A snapshot is three processes, started together (each started program
costs 0.1-0.2 s under QEMU's emulation, more than what it reads; the guest has two vCPUs):

    ip -n NS -j -d -batch -    with   link show / addr show / route show table all   (IPv4 and IPv6 routes)
    bridge -n NS -c -j vlan show
    ip netns exec NS busybox sh -c 'grep -rs . /sys/class/net/*/bonding/ /sys/class/net/*/bridge/'

(``ip netns exec`` mounts the namespace's own sysfs, so /sys/class/net is the namespace's; busybox is static, so
its shell and grep cost one cheap start instead of a dynamic sh and grep; plain ``sh`` where there is none).
``-d`` prints every route's defaults (type unicast, table main, protocol boot, scope global), which plain
``ip -j route`` leaves out: they are dropped again, so a route reads the same as in ``ip -j route show`` output.

``snapshot(ns)`` returns a plain dict::

    {'links': {name: {ifindex, kind, slave_kind, mtu, mac, promiscuity, operstate, flags, master, info, slave}},
     'addresses': {name: [sorted 'family local/prefixlen scope flags' strings]},
     'routes': [sorted route strings of every table, IPv4 and IPv6],
     'vlans': {port: {vid: sorted flags}},
     'sysfs': {name: {'bonding/<file>' or 'bridge/<file>': text}},
     'topology_change': [bridges in an STP topology change]}

Only what changes by itself is left out: counters, timers, LACP partner data, the bond link monitor's and STP's
verdicts, DAD's "tentative" flag and address lifetimes; the ageing time of a bridge in an STP topology change (the
kernel shortens it while the change lasts) is not compared.  ``differences(a, b)`` lists what differs, path by
path; ``config_differences(config, snap)`` checks a configuration in the shape host_network takes and gathers
(check mode's predicted ``after``) against a snapshot.
"""

import copy
import ipaddress
import json
import os
import select
import shutil
import subprocess
import time

_BATCH = 'link show\naddr show\nroute show table all\n'
_SYSFS = 'grep -rs . /sys/class/net/*/bonding/ /sys/class/net/*/bridge/; true'
_SHELL = ['busybox', 'sh'] if shutil.which('busybox') else ['sh']
# What ``ip -d route`` prints that plain ``ip route`` leaves out, being the default (iproute2 ip/iproute.c).
_ROUTE_DEFAULTS = {'type': 'unicast', 'table': 'main', 'protocol': 'boot', 'scope': 'global'}
# Values that change by themselves (timers, counters, LACP negotiation with a partner that never answers).
_VOLATILE = ('timer', 'link_failure', 'ad_partner', 'ad_aggregator', 'ad_num_ports', 'ad_actor_oper',
             'ad_partner_oper', 'gso_', 'gro_', 'tso_', 'stats', 'num_tx_queues', 'num_rx_queues',
             # the link monitor's verdicts, not configuration: with ARP monitoring towards targets that never answer
             # (the bond tests' 10.0.0.1), the slaves take turns as active and their MII status flips on each tick
             'mii_status', 'active_slave',
             # STP's own verdict that the topology changed (a port reached forwarding): protocol state, not
             # configuration; while it lasts the kernel also shortens the bridge's ageing_time (see _TC_KEYS)
             'topology_change')
# The same verdict in a slave's data: ACTIVE or BACKUP, as the monitor last decided.
_SLAVE_VERDICTS = ('state',)
_LINK_KEYS = ('ifindex', 'mtu', 'operstate', 'promiscuity', 'master', 'link', 'link_index', 'link_netnsid',
              'txqlen', 'min_mtu', 'max_mtu', 'inet6_addr_gen_mode')


# What a bridge shows differently while an STP topology change lasts: ageing_time is 2 x forward_delay then
# (br_stp.c, __br_set_topology_change), the configured value again afterwards.
_TC_KEYS = ('ageing_time', 'bridge/ageing_time')


def _volatile(key):
    return any(word in key for word in _VOLATILE)


def _plain(data):
    """A dict without its volatile keys (recursively)."""
    if isinstance(data, dict):
        return dict((key, _plain(value)) for key, value in data.items() if not _volatile(key))
    if isinstance(data, list):
        return [_plain(value) for value in data]
    return data


def _json_values(text):
    """The JSON documents ``ip -j -batch`` prints one after the other."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return values
        value, at = decoder.raw_decode(text, at)
        values.append(value)


def raw(ns_name=None):
    """The outputs of one witness read, as text: [links, addresses, routes, '[]' (IPv6 routes: in the routes of
    ``table all``), VLANs, sysfs] (``ns_name`` None: the caller's namespace)."""
    parts = _read(ns_name)
    return [json.dumps(part) for part in parts[:3]] + parts[3:]


def _read(ns_name):
    """``raw()`` with the ``ip -batch`` outputs already decoded (lists), as ``parse()`` takes them too."""
    netns = ['-n', ns_name] if ns_name else []
    enter = ['ip', 'netns', 'exec', ns_name] if ns_name else []
    argvs = (['ip'] + netns + ['-j', '-d', '-batch', '-'], ['bridge'] + netns + ['-c', '-j', 'vlan', 'show'],
             enter + _SHELL + ['-c', _SYSFS])
    procs = [subprocess.Popen(argv, stdin=subprocess.PIPE if index == 0 else subprocess.DEVNULL,  # pylint: disable=consider-using-with
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for index, argv in enumerate(argvs)]
    outputs = []
    try:
        for index, proc in enumerate(procs):
            out, err = proc.communicate(_BATCH if index == 0 else None, timeout=120)
            if proc.returncode and index < 2:
                raise AssertionError('witness: %s failed (%d): %s' % (' '.join(argvs[index]), proc.returncode, err))
            outputs.append(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    documents = _json_values(outputs[0])
    if len(documents) != 3:
        raise AssertionError('witness: ip -batch printed %d JSON documents, not 3' % len(documents))
    return documents + ['[]', outputs[1], outputs[2]]


class Reader:
    """The same three readers as ``raw()``, started once for a namespace and kept running between reads: ``ip -batch``
    and ``bridge -batch`` take their commands from a pipe, and a busybox shell started by ``ip netns exec`` (its own
    sysfs of the namespace) runs the same grep for each read.  Every read sends the same commands as a one-shot read
    and gets fresh dumps from the kernel and a fresh grep of sysfs: only the process starts (0.3 s each under
    emulation) are saved.  What ``ip`` and ``bridge`` keep between commands is a cache of link names by ifindex
    (iproute2 lib/ll_map.c), used where they print a name they did not get in the message (a master, a route's
    device, a VLAN port), and it is not refreshed when a link is renamed: when a read's link dump shows an ifindex
    under another name than the Reader first saw it with, both are started again and the read is done again by the
    new ones (the kernel does not reuse an ifindex, so a deleted link's entry is never used again).  A test compares
    a Reader's snapshots with one-shot ones over links made, renamed, deleted and made again
    (test_host_check_mode.py, test_reader_reads_what_a_fresh_read_reads).

    Use it as a context manager (the shell lives in the namespace: close the reader before deleting it);
    ``snapshot(..., reader=r)`` and ``settled(..., reader=r)`` read through it."""

    _END = '@@witness-end@@'

    def __init__(self, ns_name):
        self.ns_name = ns_name
        self.names = {}  # ifindex -> the name the readers first saw
        self.restarts = 0
        self.procs = [self._start(index) for index in range(3)]

    def _start(self, index):
        argv = (['ip', '-n', self.ns_name, '-j', '-d', '-batch', '-'],
                ['bridge', '-n', self.ns_name, '-c', '-j', '-batch', '-'],
                ['ip', 'netns', 'exec', self.ns_name] + _SHELL)[index]
        return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,  # pylint: disable=consider-using-with
                                stderr=subprocess.PIPE)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self, procs=None):
        """End the readers (each ends at the end of its input; killed if not within 10 s)."""
        procs = self.procs if procs is None else procs
        for proc in procs:
            proc.stdin.close()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def _answer(self, index, command, complete):
        """Send ``command`` to reader ``index`` and read its output until ``complete(text)`` holds."""
        proc = self.procs[index]
        proc.stdin.write(command.encode())
        proc.stdin.flush()
        data, deadline = b'', time.monotonic() + 120
        while True:
            text = data.decode(errors='replace')
            done = complete(text)
            if done is not None:
                return done
            if not select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise AssertionError('witness: no answer from %s within 120 s' % ' '.join(proc.args))
            chunk = os.read(proc.stdout.fileno(), 1 << 20)
            if not chunk:
                proc.wait()
                raise AssertionError('witness: %s ended (%s): %s' % (' '.join(proc.args), proc.returncode,
                                                                     proc.stderr.read().decode(errors='replace')))
            data += chunk

    def read(self):
        """What ``_read(ns_name)`` returns, through the running readers."""
        parts = self._read_once()
        names = dict((link['ifindex'], link['ifname']) for link in parts[0])
        if any(self.names.setdefault(index, name) != name for index, name in names.items()):
            # a link was renamed: new ip and bridge readers, without names cached
            self.close(self.procs[:2])
            self.procs[:2] = [self._start(0), self._start(1)]
            self.restarts += 1
            parts = self._read_once()
            self.names = dict((link['ifindex'], link['ifname']) for link in parts[0])
        return parts

    def _read_once(self):
        ip_docs = self._answer(0, _BATCH, lambda text: complete_documents(text, 3))
        vlans = self._answer(1, 'vlan show\n', lambda text: text if complete_documents(text, 1) else None)
        end = '\n%s\n' % self._END
        sysfs = self._answer(2, '%s\necho; echo %s\n' % (_SYSFS, self._END),
                             lambda text: text[:-len(end)] if text.endswith(end) else None)
        return ip_docs + ['[]', vlans, sysfs]


def complete_documents(text, count):
    """The ``count`` JSON documents of ``text`` once all have arrived completely (each ends with a newline), else
    None."""
    if not text.endswith('\n'):
        return None
    try:
        values = _json_values(text)
    except ValueError:
        return None
    if len(values) > count:
        raise AssertionError('witness: %d JSON documents where %d were asked for' % (len(values), count))
    return values if len(values) == count else None


def _route_text(route, monitored=()):
    route = dict((key, value) for key, value in _plain(route).items() if _ROUTE_DEFAULTS.get(key) != value)
    if route.get('dev') in monitored and route.get('flags'):
        route['flags'] = [flag for flag in route['flags'] if flag != 'linkdown']
    family = 'inet6' if ':' in (route.get('dst', '') + route.get('gateway', '') + route.get('prefsrc', '')) else 'inet'

    route.pop('expires', None)
    if not route.get('flags'):
        route.pop('flags', None)
    nexthops = route.pop('nexthops', None)
    text = '%s %s' % (family, ' '.join('%s=%s' % (key, route[key]) for key in sorted(route)))
    if nexthops:
        text += ' nexthops=%s' % ','.join(sorted(json.dumps(_plain(hop), sort_keys=True) for hop in nexthops))
    return text


# What a link's carrier shows: the kernel's verdict, which for a bond under ARP monitoring follows the monitor.
_CARRIER_FLAGS = ('LOWER_UP', 'NO-CARRIER')
# Bond modes with one active slave at a time (bond_uses_primary in the kernel's bonding.h).
_ACTIVE_SLAVE_MODES = ('active-backup', 'balance-tlb', 'balance-alb')


def _forget_monitor_carrier(snap):
    """Leave out the carrier of links whose carrier is the ARP monitor's verdict, not configuration: a bond with
    ``arp_interval`` set whose targets never answer (the tests' switch has no host at them) loses and regains its
    carrier on the monitor's ticks (bond_main.c, bond_ab_arp_inspect/bond_loadbalance_arp_mon), and so do the links
    whose carrier follows it: the bridge it is a port of (a bridge has carrier while a port forwards) and VLAN links
    on top of either.  Their flags lose LOWER_UP/NO-CARRIER, their operstate is left out, and their routes lose the
    ``linkdown`` flag (``snap['carrier_follows_monitor']`` names them)."""
    links = snap['links']
    follows = set(name for name, link in links.items()
                  if link.get('kind') == 'bond' and (link.get('info') or {}).get('arp_interval'))
    # An STP bridge's carrier follows STP's timers the same way: it has carrier once a port is forwarding, which a
    # port reaches listening -> learning -> forwarding, one forward delay (15 s) each (br_stp_timer.c), long after
    # the run; the property test saw br1 go NO-CARRIER -> LOWER_UP (and its link-local addressing appear) between
    # two snapshots of an unchanged node (session 7).
    follows.update(name for name, link in links.items()
                   if link.get('kind') == 'bridge' and (link.get('info') or {}).get('stp_state'))
    grown = True
    while grown:
        grown = False
        for name, link in links.items():
            if name not in follows and (link.get('link') in follows
                                        or any(port in follows and other.get('master') == name
                                               for port, other in links.items())):
                follows.add(name)
                grown = True
    for name in follows:
        link = links[name]
        link['flags'] = [flag for flag in link['flags'] if flag not in _CARRIER_FLAGS]
        link.pop('operstate', None)
    # In a mode with one active slave, the bond passes its promiscuity on to the active slave only, and moves it
    # when the monitor picks another (bond_main.c, bond_change_active_slave -> bond_hw_addr_swap): the slaves'
    # promiscuity is the monitor's verdict too (seen as eth2's promiscuity 0 -> 1 between two reads).
    for name, link in links.items():
        bond = links.get(link.get('master')) or {}
        if link.get('master') in follows and bond.get('kind') == 'bond' \
                and (bond.get('info') or {}).get('mode') in _ACTIVE_SLAVE_MODES:
            link.pop('promiscuity', None)
    snap['carrier_follows_monitor'] = sorted(follows)


def _link_local_of(follows, dev, text):
    """Is ``text`` (an address or route of ``dev``) the IPv6 link-local addressing the kernel makes once the link
    has carrier (its fe80:: address and routes, the ff00::/8 multicast route, an IPv6 address's local route), on a
    link whose carrier follows a monitor or STP's timers: whether it is there yet is the same verdict."""
    return dev in follows and (' fe80:' in text or 'dst=fe80:' in text or 'dst=ff00::/8' in text
                               or ('inet6' in text and 'type=local' in text and 'protocol=kernel' in text))


def _loaded(part):
    return json.loads(part or '[]') if isinstance(part, str) else part


def parse(parts):
    """The snapshot dict of ``raw()``'s output (its JSON parts as text or decoded)."""
    links_json, addr_json, route4_json, route6_json, vlan_json, sysfs_text = parts
    snap = {'links': {}, 'addresses': {}, 'routes': [], 'vlans': {}, 'sysfs': {}, 'topology_change': []}
    for item in _loaded(links_json):
        info = item.get('linkinfo') or {}
        link = dict((key, item.get(key)) for key in _LINK_KEYS if key in item)
        link.update(kind=info.get('info_kind'), slave_kind=info.get('info_slave_kind'),
                    mac=item.get('address'), flags=sorted(item.get('flags') or []),
                    info=_plain(info.get('info_data') or {}),
                    slave=dict((key, value) for key, value in _plain(info.get('info_slave_data') or {}).items()
                               if key not in _SLAVE_VERDICTS))
        snap['links'][item['ifname']] = link
        if (info.get('info_data') or {}).get('topology_change'):
            snap['topology_change'].append(item['ifname'])
    _forget_monitor_carrier(snap)
    for item in _loaded(addr_json):
        entries = []
        for addr in item.get('addr_info') or []:
            flags = sorted(key for key in ('secondary', 'noprefixroute', 'dynamic', 'permanent', 'deprecated',
                                           'dadfailed', 'mngtmpaddr', 'nodad') if addr.get(key))
            entries.append('%s %s/%s scope %s%s' % (addr.get('family'), addr.get('local'), addr.get('prefixlen'),
                                                    addr.get('scope'), ''.join(' ' + flag for flag in flags)))
        snap['addresses'][item['ifname']] = sorted(
            entry for entry in entries if not _link_local_of(snap['carrier_follows_monitor'], item['ifname'],
                                                             ' ' + entry))
    # ``table all`` without -6 lists IPv6 routes too (iproute2 6.1): one set of both outputs.
    snap['routes'] = sorted(set(
        text for text, dev in ((_route_text(route, snap['carrier_follows_monitor']), route.get('dev'))
                               for part in (route4_json, route6_json) for route in _loaded(part))
        if not _link_local_of(snap['carrier_follows_monitor'], dev, text)))
    for item in json.loads(vlan_json or '[]'):
        table = {}
        for entry in item.get('vlans') or []:
            for vid in range(entry['vlan'], entry.get('vlanEnd', entry['vlan']) + 1):
                table[vid] = sorted(entry.get('flags') or [])
        snap['vlans'][item['ifname']] = table
    for line in sysfs_text.splitlines():
        path, _sep, value = line.partition(':')
        pieces = path.split('/')  # /sys/class/net/NAME/(bonding|bridge)/FILE
        if len(pieces) != 7 or _volatile(pieces[6]):
            continue
        snap['sysfs'].setdefault(pieces[4], {})['%s/%s' % (pieces[5], pieces[6])] = value
    return snap


def _flags(item):
    return set(item.get('flags') or ())


def _slave_data(item):
    return (item.get('linkinfo') or {}).get('info_slave_data') or {}


def carrier_pending(links_json, monitored=()):
    """What the kernel has not finished doing about carrier in this link dump: each line names a link whose own
    views of its carrier disagree, one a later step of the kernel brings together (empty: nothing pending).  These
    are the kernel's own states, read in one dump (taken under the RTNL lock, as the steps below run), not a timing
    guess:

    * carrier (``LOWER_UP``: netif_carrier_ok, set at once) and the operational state (``NO-CARRIER`` is an up
      link without IFF_RUNNING, which follows the operstate): the operstate is set by the link watch, which runs
      a non-urgent event (a bridge's) up to a second later (net/core/link_watch.c, linkwatch_schedule_work), and
      only then tells the masters and upper links (NETDEV_CHANGE: a bridge re-checks its port, a VLAN link copies
      the carrier, IPv6 starts its link-local address);
    * a bridge's carrier and its ports: it has carrier exactly while a port is forwarding (net/bridge/br_stp.c,
      br_port_state_selection);
    * a bond under MII monitoring: a slave's MII status and its own carrier (the monitor's next tick, or the
      up/down delay, reconciles them: drivers/net/bonding/bond_main.c, bond_miimon_inspect), and the bond's carrier
      and its slaves' MII status (bond_set_carrier: any slave up; in 802.3ad an aggregator with enough ports, which
      the state machine's next ticks select: bond_3ad.c, so a bond with at least min_links slaves up and no
      carrier is still pending);
    * a VLAN link's carrier and its lower link's (netif_stacked_transfer_operstate on the lower's NETDEV_CHANGE).

    Links whose carrier is an ARP monitor's verdict (``monitored``: it flips by itself) and links that are down
    are left out."""
    links = dict((item['ifname'], item) for item in _loaded(links_json))
    pending = []
    for name, item in sorted(links.items()):
        flags = _flags(item)
        if name in monitored or 'UP' not in flags:
            continue
        info = item.get('linkinfo') or {}
        kind, data = info.get('info_kind'), info.get('info_data') or {}
        carrier = 'LOWER_UP' in flags
        if carrier == ('NO-CARRIER' in flags):
            pending.append('%s: carrier %s, its operational state not yet' % (name, 'on' if carrier else 'off'))
        ports = [other for other in links.values() if other.get('master') == name]
        if kind == 'bridge':
            forwarding = [port['ifname'] for port in ports if _slave_data(port).get('state') == 'forwarding']
            if bool(forwarding) != carrier:
                pending.append('%s: bridge carrier %s, forwarding ports %s' % (name, carrier, forwarding))
        elif kind == 'bond' and data.get('miimon') and not data.get('arp_interval'):
            up = 0
            for port in ports:
                status = _slave_data(port).get('mii_status')
                if 'UP' in _flags(port) and (status == 'UP') != ('LOWER_UP' in _flags(port)):
                    pending.append('%s: slave of %s with MII status %s, carrier %s'
                                   % (port['ifname'], name, status, 'LOWER_UP' in _flags(port)))
                up += status == 'UP'
            if data.get('mode') == '802.3ad':
                if up >= max(1, data.get('min_links') or 0) and not carrier:
                    pending.append('%s: 802.3ad bond with %d slaves up, no aggregator yet' % (name, up))
            elif bool(up) != carrier:
                pending.append('%s: bond carrier %s, %d slaves up' % (name, carrier, up))
        elif kind == 'vlan' and item.get('link') in links:
            lower = links[item['link']]
            if 'UP' in _flags(lower) and ('LOWER_UP' in _flags(lower)) != carrier:
                pending.append('%s: VLAN carrier %s, its lower link %s %s'
                               % (name, carrier, lower['ifname'], not carrier))
    return pending


# How often snapshot() found the kernel still busy (carrier_pending, addresses in DAD) and read again, for the
# tests' reports: {'snapshots', 'waited', 'given_up', 'reasons': {first words of a reason: count}, and 'given_up_on':
# what was still pending in each snapshot that gave up}.
STATS = {'snapshots': 0, 'waited': 0, 'given_up': 0, 'reasons': {}}


def snapshot(ns_name=None, settle=5.0, reader=None):
    """The namespace ``ns_name`` (or the caller's) as iproute2 and sysfs show it, once the kernel has finished
    what a change set off: no IPv6 address still in duplicate address detection (its local route only appears
    after it) and nothing ``carrier_pending``; read again every 0.2 s while it has not, up to ``settle`` seconds
    (then the last read is returned as it is, and counted in ``STATS['given_up']``).  ``reader``: a running
    :class:`Reader` of that namespace to read through."""
    deadline = time.monotonic() + settle
    STATS['snapshots'] += 1
    while True:
        parts = reader.read() if reader else _read(ns_name)
        snap = parse(parts)
        busy = ['tentative address'] if any(address.get('tentative') for item in parts[1]
                                            for address in item.get('addr_info') or ()) else []
        busy += carrier_pending(parts[0], snap['carrier_follows_monitor'])
        if not busy:
            return snap
        if time.monotonic() > deadline:
            STATS['given_up'] += 1
            STATS.setdefault('given_up_on', []).append(busy[:3])
            return snap
        STATS['waited'] += 1
        for reason in busy:
            key = reason.split(': ', 1)[-1].split(',')[0]
            STATS['reasons'][key] = STATS['reasons'].get(key, 0) + 1
        time.sleep(0.2)


def new_link_local(line):
    """Is this difference an IPv6 link-local address (or its route, or the link's ff00::/8 multicast route) that
    the kernel added by itself?

    A link that first gets carrier during a run (a bridge when an up port joins it) gets its fe80:: address then,
    and keeps it when the run is rolled back.  The engine manages no link-local address (gathered output leaves
    them out), so a rollback leaves it: ``differences(..., new_link_local_ok=True)`` accepts such additions, never a
    link-local address that went missing."""
    return ': not expected, found ' in line and (' fe80:' in line or 'dst=fe80:' in line or 'dst=ff00::/8' in line)


def kernel_link_local(line):
    """Is this difference, either way, about what the kernel makes by itself once a link has carrier: its IPv6
    link-local addressing (an fe80:: address, its routes, the ff00::/8 multicast route) and the local route of an
    IPv6 address (added when duplicate address detection completes, which needs carrier)?  Whether a link has them
    yet depends on the order its links came up, not on its configuration: two ways to the same end state (a
    replay, a run after a kill, a boot) may differ there."""
    return (new_link_local(line) or ' fe80:' in line or 'dst=fe80:' in line or 'dst=ff00::/8' in line
            or ('inet6' in line and 'type=local' in line and 'protocol=kernel' in line))


def same_configuration(expected, actual):
    """The differences between two snapshots of one configuration reached two ways (on namespaces whose links
    have the same names and MAC addresses): ifindexes (the order links were made) and the kernel's own IPv6
    link-local addressing are left out, nothing else."""
    names = set(expected['links']) | set(actual['links'])
    return [line for line in differences(expected, actual, ignore_index=names, limit=1000)
            if not kernel_link_local(line)][:40]


def settled(ns_name=None, tries=6, pause=0.3, reader=None):
    """A snapshot once the node has stopped changing by itself: two consecutive snapshots ``pause`` seconds apart
    equal, or the last one.  Each snapshot is already one where the kernel had nothing pending that it shows
    (``snapshot``: addresses in duplicate address detection, ``carrier_pending``); the second read is there for
    what it does not show (a monitor's or timer's next tick).

    Its reads go through ``reader``, or through a Reader of ``ns_name`` that it keeps between calls (started again
    when the name is another namespace now; one kept at a time: ``kept_reader``): saving the read's three process
    starts, about half of a one-shot read under emulation.  (Session 6 had to take quick Reader reads out of here:
    two of them 0.3 s apart agreed, then a bond's carrier and its link-local addressing arrived; both are what
    ``carrier_pending`` now reads from the kernel itself: a link whose operational state lags its carrier, a bond
    whose slaves are up and has no carrier.)  ``ns_name`` None: one-shot reads of the caller's namespace."""
    reader = reader or (kept_reader(ns_name) if ns_name else None)
    last = snapshot(ns_name, reader=reader)
    for _attempt in range(tries):
        time.sleep(pause)
        again = snapshot(ns_name, reader=reader)
        if again == last:
            return again
        last = again
    return last


_KEPT = {}  # namespace name -> (its namespace file's inode, Reader): settled()'s readers


def kept_reader(ns_name):
    """A Reader of the namespace ``ns_name`` kept between calls: the same one while /run/netns/NAME is the same
    namespace (its inode: a namespace deleted and made again under the name gets a new one), else a new one, the
    old ones closed (a test makes and deletes its namespaces one after the other; a deleted namespace's readers
    may have been killed already).  None when there is no such namespace."""
    try:
        inode = os.stat('/run/netns/%s' % ns_name).st_ino
    except OSError:
        return None
    kept = _KEPT.get(ns_name)
    if kept and kept[0] == inode and all(proc.poll() is None for proc in kept[1].procs):
        return kept[1]
    for name in list(_KEPT):
        forget(name)
    reader = Reader(ns_name)
    _KEPT[ns_name] = (inode, reader)
    return reader


def forget(ns_name):
    """Close the Reader ``settled()`` kept of ``ns_name`` (before the namespace is deleted), if any."""
    kept = _KEPT.pop(ns_name, None)
    if kept:
        try:
            kept[1].close()
        except (OSError, ValueError):
            pass


def differences(expected, actual, ignore_index=(), new_link_local_ok=False, limit=40):
    """Path-by-path differences between two snapshots; ``ignore_index`` names links whose ifindex (and the
    index other links hold of them) may differ because they were deleted and made again."""
    found = []
    if new_link_local_ok:
        return [line for line in differences(expected, actual, ignore_index, limit=1000)
                if not new_link_local(line)][:limit]

    def walk(path, a, b):
        if len(found) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                if key not in b:
                    found.append('%s%s: expected %s, missing' % (path, key, _short(a[key])))
                elif key not in a:
                    found.append('%s%s: not expected, found %s' % (path, key, _short(b[key])))
                else:
                    walk('%s%s.' % (path, key), a[key], b[key])
        elif isinstance(a, list) and isinstance(b, list) and path.startswith(('routes', 'addresses')):
            for item in sorted(set(a) - set(b)):
                found.append('%s: expected %s, missing' % (path.rstrip('.'), item))
            for item in sorted(set(b) - set(a)):
                found.append('%s: not expected, found %s' % (path.rstrip('.'), item))
        elif a != b:
            found.append('%s: expected %s, found %s' % (path.rstrip('.'), _short(a), _short(b)))

    expected, actual = _without_index(expected, ignore_index), _without_index(actual, ignore_index)
    expected, actual = _without_topology_change(expected, actual), _without_topology_change(actual, expected)
    for section in ('links', 'addresses', 'routes', 'vlans', 'sysfs'):
        walk(section + '.', expected[section], actual[section])
    return found[:limit]


def without_links(snap, names):
    """``snap`` as if the links ``names`` had never been there (for a node that lost them)."""
    snap = copy.deepcopy(snap)
    for name in names:
        for section in ('links', 'addresses', 'vlans', 'sysfs'):
            snap[section].pop(name, None)
        snap['routes'] = [route for route in snap['routes'] if ' dev=%s ' % name not in route + ' ']
    return snap


def _without_topology_change(snap, other):
    """``snap`` without the values an STP topology change alters (_TC_KEYS) on the bridges in one in either
    snapshot (``topology_change`` lists them)."""
    names = set(snap.get('topology_change') or ()) | set(other.get('topology_change') or ())
    if not names:
        return snap
    snap = copy.deepcopy(snap)
    for name in names:
        for values in ((snap['links'].get(name) or {}).get('info') or {}, snap['sysfs'].get(name) or {}):
            for key in _TC_KEYS:
                values.pop(key, None)
    return snap


def _without_index(snap, names):
    if not names:
        return snap
    snap = copy.deepcopy(snap)
    for name in names:
        link = snap['links'].get(name)
        if link:
            link.pop('ifindex', None)
    # A veth peer refers to its other end by index: drop those that point at a re-made link.
    for link in snap['links'].values():
        if link.get('link') in names:
            link.pop('link_index', None)
    return snap


def _short(value):
    text = repr(value)
    return text if len(text) < 160 else text[:157] + '...'


# ---------------------------------------------------------------------------------- configurations

def _vid_set(items):
    vids = set()
    for item in items or []:
        first, _sep, last = str(item).partition('-')
        vids.update(range(int(first), int(last or first) + 1))
    return vids


def _members(snap, name):
    return sorted(port for port, link in snap['links'].items() if link.get('master') == name)


def _word(value):
    """sysfs 'fast 1' -> 'fast'."""
    return value.split()[0] if value else ''


def _flag(snap, name, flag):
    return flag in snap['links'][name]['flags']


def bond_differences(item, snap):
    name = item['name']
    link = snap['links'].get(name)
    if link is None or link['kind'] != 'bond':
        return ['bond %s: not on the node' % name]
    files = snap['sysfs'].get(name, {})
    seen = {'mode': _word(files.get('bonding/mode')), 'slaves': _members(snap, name), 'mtu': link['mtu'],
            'mac': link['mac'], 'up': _flag(snap, name, 'UP'),
            'lacp_rate': _word(files.get('bonding/lacp_rate')), 'ad_select': _word(files.get('bonding/ad_select')),
            'xmit_hash_policy': _word(files.get('bonding/xmit_hash_policy')),
            'arp_ip_target': sorted((files.get('bonding/arp_ip_target') or '').split()),
            'primary': files.get('bonding/primary') or None}
    for key in ('miimon', 'updelay', 'downdelay', 'arp_interval', 'min_links'):
        seen[key] = int(files['bonding/' + key]) if 'bonding/' + key in files else None
    return _claims('bond ' + name, item, seen, ('name',))


def _claims(label, item, seen, skip):
    """Each claim of ``item`` (but ``skip``) against what the witness ``seen``; lists compare as sets."""
    problems = []
    for key, value in item.items():
        # None: not predicted, by design: a MAC the kernel derives, or a bridge MTU that depends on whether it
        # was pinned before the run (ops._bridge_mtu_follow_ports).
        if key in skip or (key in ('mac', 'mtu') and value is None):
            continue
        if key not in seen:
            problems.append('%s: %s=%r is not something the witness reads' % (label, key, value))
        elif seen[key] != (sorted(value) if isinstance(value, list) else value):
            problems.append('%s: %s predicted %r, node has %r' % (label, key, value, seen[key]))
    return problems


def bridge_differences(item, snap):
    name = item['name']
    link = snap['links'].get(name)
    if link is None or link['kind'] != 'bridge':
        return ['bridge %s: not on the node' % name]
    files = snap['sysfs'].get(name, {})
    members = _members(snap, name)
    seen = {'vlan_filtering': files.get('bridge/vlan_filtering') == '1',
            'default_pvid': int(files.get('bridge/default_pvid') or 0), 'stp': files.get('bridge/stp_state') != '0',
            'promisc': _flag(snap, name, 'PROMISC'), 'mtu': link['mtu'], 'mac': link['mac'],
            'up': _flag(snap, name, 'UP')}
    problems = _claims('bridge ' + name, item, seen,
                       ('name', 'uplink', 'ports', 'addresses', 'uplink_addresses', 'routes'))
    predicted = sorted(list(item.get('ports') or []) + ([item['uplink']] if item.get('uplink') else []))
    if predicted != members:
        problems.append('bridge %s: ports predicted %r, node has %r' % (name, predicted, members))
    for key, owner in (('addresses', name), ('uplink_addresses', item.get('uplink'))):
        if key in item:
            have = sorted(entry['address'] for entry in addresses_of(snap) if entry['interface'] == owner)
            if sorted(_norm_address(a) for a in item[key]) != have:
                problems.append('bridge %s: %s predicted %r, node has %r' % (name, key, item[key], have))
    if 'routes' in item:
        links = set([name, item.get('uplink')])
        have = [route for route in routes_of(snap) if route['interface'] in links]
        problems += _route_problems(item['routes'], have, 'bridge %s: routes' % name)
    return problems


def vlan_table(snap, port):
    """{vid: set of 'PVID'/'Egress Untagged'} of a port."""
    return dict((vid, set(flags)) for vid, flags in (snap['vlans'].get(port) or {}).items())


def vlan_differences(item, snap):
    port = item['port']
    table = vlan_table(snap, port)
    pvids = [vid for vid, flags in table.items() if 'PVID' in flags]
    untagged = set(vid for vid, flags in table.items() if 'Egress Untagged' in flags)
    pvid = pvids[0] if pvids else 0
    tagged = set(table) - untagged - set([pvid])
    problems = []
    if item.get('bridge') is not None and snap['links'].get(port, {}).get('master') != item['bridge'] \
            and port != item['bridge']:
        problems.append('vlans %s: bridge predicted %s, node has %s' % (
            port, item['bridge'], snap['links'].get(port, {}).get('master')))
    for key, want, have in (('pvid', item.get('pvid') or 0, pvid), ('vids', _vid_set(item.get('vids')), tagged),
                            ('untagged', _vid_set(item.get('untagged')), untagged)):
        if want != have:
            problems.append('vlans %s: %s predicted %s, node has %s' % (port, key, _short(want), _short(have)))
    return problems


def _norm_address(text):
    return str(ipaddress.ip_interface(text))


def addresses_of(snap):
    """Global/site/host addresses (no link-local ones, as gathered output leaves them out), normalised."""
    found = []
    for name, entries in snap['addresses'].items():
        if name == 'lo':
            continue
        for entry in entries:
            family, local, _scope_word, scope = entry.split()[:4]
            if scope == 'link' or family not in ('inet', 'inet6'):
                continue
            found.append({'interface': name, 'address': _norm_address(local)})
    return found


def routes_of(snap):
    """Unicast routes of the main table that someone configured (not the kernel's own), as {dst, gateway,
    interface, metric}."""
    found = []
    for text in snap['routes']:
        family, rest = text.split(' ', 1)
        fields = dict(part.split('=', 1) for part in rest.split(' ') if '=' in part and not part.startswith(
            'nexthops='))
        if fields.get('table', 'main') != 'main' or fields.get('type', 'unicast') != 'unicast' \
                or fields.get('protocol') in ('kernel', 'ra', 'redirect') or 'nexthops=' in text:
            continue
        dst = fields['dst']
        if dst == 'default':
            dst = '::/0' if family == 'inet6' else '0.0.0.0/0'
        dst = str(ipaddress.ip_network(dst, strict=False))
        if dst.startswith('fe80:'):
            continue
        found.append({'dst': dst, 'gateway': fields.get('gateway'), 'interface': fields.get('dev'),
                      'metric': int(fields.get('metric', 0))})
    return found


def _route_key(route):
    gateway = route.get('gateway')
    return (str(ipaddress.ip_network(route['dst'], strict=False)), str(ipaddress.ip_address(gateway)) if gateway
            else None, route.get('interface'), int(route.get('metric') or 0))


def _route_problems(predicted, have, label):
    want = sorted(map(_route_key, predicted), key=str)
    seen = sorted(map(_route_key, have), key=str)
    return [] if want == seen else ['%s predicted %r, node has %r' % (label, want, seen)]


def config_differences(config, snap):
    """Every claim of a host_network-shaped configuration (check mode's ``after``) checked against the node,
    and (for each section given) nothing on the node that the configuration leaves out."""
    problems = []
    if 'bonds' in config:
        for item in config['bonds']:
            problems += bond_differences(item, snap)
        extra = set(n for n, l in snap['links'].items() if l['kind'] == 'bond') - set(i['name'] for i in config['bonds'])
        problems += ['bond %s: on the node, not predicted' % name for name in sorted(extra)]
    if 'bridges' in config:
        for item in config['bridges']:
            problems += bridge_differences(item, snap)
        extra = set(n for n, l in snap['links'].items() if l['kind'] == 'bridge') - set(
            i['name'] for i in config['bridges'])
        problems += ['bridge %s: on the node, not predicted' % name for name in sorted(extra)]
    if 'vlans' in config:
        for item in config['vlans']:
            problems += vlan_differences(item, snap)
        filtering = set(name for name, files in snap['sysfs'].items() if files.get('bridge/vlan_filtering') == '1')
        ports = set(name for name, link in snap['links'].items() if link.get('master') in filtering) | filtering
        extra = ports - set(item['port'] for item in config['vlans'])
        problems += ['vlans %s: a VLAN-filtering port on the node, not predicted' % name for name in sorted(extra)]
    if 'addresses' in config:
        want = sorted((a['interface'], _norm_address(a['address'])) for a in config['addresses'])
        have = sorted((a['interface'], a['address']) for a in addresses_of(snap))
        if want != have:
            problems.append('addresses predicted %r, node has %r' % (want, have))
    if 'routes' in config:
        problems += _route_problems(config['routes'], routes_of(snap), 'routes')
    return problems
