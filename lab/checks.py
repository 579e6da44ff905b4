"""What the lab proves, row by row: probes derived from the VMs on the API server and the lab's world, and the verdicts.

The probes are not a fixed list: they follow from the data (the VMs' networks, nodes and addresses, the switch's
permitted VLANs, the DHCP servers), so a changed vars file is still checked by the same rules:

- same VLAN, different nodes: every pair of VM NICs on one network, on different nodes, in one subnet -> ping works
- different VLANs: a NIC with an address in the subnet of a NIC on another VLAN -> ping fails (and the NIC does reach
  a peer on its own VLAN: the control that shows it is up)
- no frame crosses VLANs: while a VM pings its subnet's broadcast address (flooded in its own VLAN), VMs of other
  VLANs on its node and on the other node capture frames: none may come from its MAC; and no VM port of a VLAN
  network is a member of the native VLAN (the nodes' bridge VLAN tables)
- a VLAN the switch does not permit: pairs across nodes -> ping fails; pairs on one node -> ping works (control)
- untagged: NICs of untagged networks -> ping the switch's untagged hosts works
- the dhcp_server role: leases of the VMs on its network lie in its pool and come from it; a DHCP client on every
  other VLAN gets no lease from it; its lease file holds only MACs of its network
- the router: leases of the VMs on its VLAN come from it, inside its pool, and the router answers them
- idempotence: the second site.yml run reports no change, the nodes and the switch look the same (iproute2), and no
  object on the API server changed (resourceVersion)
- a rolling update with a failing node: one uplink NIC of the last node is renamed away (the NIC is not there), and
  playbooks/default_vlan.yml runs with that node in the first batch (``harvester_serial: 1``): the run stops with a
  failure naming that node and the NIC, the node's iproute2 view is the same after as before, no task ran on the
  nodes of the later batches (recap) and their iproute2 view is the same, and no API object changed
"""

import ipaddress
import json
import os

from lab.config import NS_PREFIX
from lab.topology import switch_port
from lab.vms import addresses

ROWS = (
    ('converge', 'site.yml converges the site (prep, cluster networks, default VLAN, VLAN networks, DHCP, VMs)'),
    ('stand_ins', 'Every VM on the API server runs as a stand-in attached by the bridge CNI plugin with its NAD config'),
    ('same_vlan', 'VMs on the same VLAN on different nodes reach each other'),
    ('different_vlans', 'VMs on different VLANs cannot reach each other'),
    ('vlan_isolation', 'No frame sent on one VLAN, the native VLAN included, arrives at a VM of another VLAN'),
    ('unpermitted_vlan', 'A VLAN the switch does not permit carries nothing between nodes'),
    ('untagged', 'Untagged traffic reaches the PVID 1 (native VLAN) side'),
    ('dhcp_role', "The dhcp_server role's server hands leases inside its pool, and only on its VLAN"),
    ('router_dhcp', "The external router's DHCP works on its VLAN"),
    ('idempotent', 'A second run of site.yml changes nothing'),
    ('confined', "The lab's namespaces have no cable out: its traffic stays between them"),
    # Harvester v1.1+ beyond the VLAN networks, when the vars ask for them (lab/checks_current.py)
    ('storage_network', 'The storage network setting is applied: its value and status read back, its NAD, the nodes '
                        'trunk its VLAN'),
    ('trunk', 'A trunk network carries its VLANs, tagged by the VM, across the switch, and no VLAN outside it'),
    ('ip_pool', "The IP pool is on the API server as written, judged by Harvester's webhook against its VLAN network"),
    ('rolling', 'A rolling update stops at a failing node (a NIC not there): it is left as it was, later batches are '
                'not touched'),
)
TITLES = dict(ROWS)


class Row:
    """One line of the report."""

    def __init__(self, row_id, status=None, evidence=None, reason=None):
        self.id = row_id
        self.title = TITLES[row_id]
        self.status = status
        self.evidence = list(evidence or [])
        self.reason = reason

    def as_dict(self):
        return {'id': self.id, 'title': self.title, 'status': self.status, 'evidence': self.evidence,
                'reason': self.reason}


def not_run(row_id, why):
    return Row(row_id, 'FAIL', reason='not evaluated: %s' % why)


# ---------------------------------------------------------------------------------------------------------------------
# the NICs, flattened


def attached(vm_plan, attach):
    """(vm, planned NIC, attach result) of every NIC the bridge CNI plugin attached without an error."""
    results = dict((item['vm'], item) for item in (attach or {}).get('vms', []))
    for vm in vm_plan['vms']:
        done = dict((nic['name'], nic) for nic in (results.get(vm['vm']) or {}).get('nics', []))
        for nic in vm['nics']:
            got = done.get(nic['name']) or {}
            if got.get('cni_rc') == 0 and not got.get('errors'):
                yield vm, nic, got


def nics(vm_plan, attach):
    """Every attached VLAN NIC: vm, node, netns, ifname, network, vid, mode, mac, lease, addrs (ip_interface list).
    Trunk NICs carry many VLANs and have a row of their own (lab/checks_current.py)."""
    flat = []
    for vm, nic, got in attached(vm_plan, attach):
        if nic.get('trunk'):
            continue
        lease = got.get('lease')
        flat.append({'vm': vm['vm'], 'node': vm['node'], 'netns': vm['netns'], 'ifname': nic['ifname'],
                     'network': nic['network'], 'vid': nic['vid'], 'mode': nic['mode'], 'mac': got.get('mac'),
                     'lease': lease, 'route': nic.get('route') or {}, 'addrs': addresses(nic, lease)})
    return flat


def _vid(nic, world):
    return world.native_vlan if nic['vid'] is None else nic['vid']


def _label(nic):
    return '%s (%s, %s)' % (nic['vm'], nic['node'], 'VLAN %s' % nic['vid'] if nic['vid'] is not None else 'untagged')


def _shared(source, target):
    """The first address of ``target`` inside a subnet of ``source`` (not ``source``'s own), or None."""
    for mine in source['addrs']:
        for theirs in target['addrs']:
            if theirs.ip in mine.network and theirs.ip != mine.ip:
                return theirs.ip
    return None


# ---------------------------------------------------------------------------------------------------------------------
# probes


class Plan:
    """The probes of one check run and, per row, which probes with which expectation."""

    def __init__(self):
        self.probes = []
        self.expect = dict((row_id, []) for row_id, _title in ROWS)
        self.notes = dict((row_id, []) for row_id, _title in ROWS)

    def ping(self, row, source, target, expect, what):
        probe_id = 'p%d' % len(self.probes)
        self.probes.append({'id': probe_id, 'kind': 'ping', 'netns': source['netns'], 'target': str(target)})
        self.expect[row].append((probe_id, expect, what))

    def leak(self, row, source, listeners, what):
        probe_id = 'l%d' % len(self.probes)
        broadcast = source['addrs'][0].network.broadcast_address
        self.probes.append({'id': probe_id, 'kind': 'leak', 'mac': source['mac'], 'seconds': 6,
                            'source': {'netns': source['netns'], 'broadcast': str(broadcast)},
                            'listeners': [{'vm': n['vm'], 'netns': n['netns'], 'ifname': n['ifname']} for n in listeners]})
        self.expect[row].append((probe_id, ('leak', dict((n['vm'], n) for n in listeners)), what))

    def dhcp(self, row, nic, hook, expect, what):
        probe_id = 'd%d' % len(self.probes)
        self.probes.append({'id': probe_id, 'kind': 'dhcp', 'netns': nic['netns'], 'ifname': nic['ifname'],
                            'hook': hook, 'tries': 3})
        self.expect[row].append((probe_id, expect, what))


def dhcp_servers(world, nic_list, state_dir):
    """The dhcp_server role's node servers of the site's vars: network, node, pool, server address, lease file."""
    servers = []
    site = world.site
    mode_default = site.get('dhcp_server_mode', 'node')
    namespace_default = site.get('dhcp_server_namespace', 'default')
    for index, item in enumerate(site.get('dhcp_server_networks') or []):
        if item.get('state', 'present') != 'present' or item.get('mode', mode_default) != 'node':
            continue
        ref = item.get('network') or ''
        ref = ref if '/' in ref else '%s/%s' % (namespace_default, ref)
        route = next((n['route'] for n in nic_list if n['network'] == ref and n['route']), {})
        server = item.get('server_address') or route.get('serverIPAddr')
        node = item.get('node') or world.node_names[0]
        name = item.get('name') or '%s-dhcp' % ref.split('/')[-1]
        servers.append({
            'field': 'dhcp_server_networks[%d]' % index, 'network': ref, 'node': node, 'name': name,
            'pool': (ipaddress.ip_address(item['pool_start']), ipaddress.ip_address(item['pool_end'])),
            'server': ipaddress.ip_address(server) if server else None,
            'lease_file': os.path.join(state_dir, 'nodes', node, 'var', 'lib', 'harvester-network', 'dhcp',
                                       '%s.leases' % name),
        })
    return servers


def plan_probes(world, vm_plan, attach, state_dir):  # pylint: disable=too-many-locals,too-many-branches
    """All probes of the checks stage."""
    plan = Plan()
    flat = nics(vm_plan, attach)
    hooks = vm_plan['hooks']
    controls = set()

    def control(source, row):
        """A target ``source`` must reach on its own VLAN: the evidence that it is up and the failure is the VLAN's."""
        if (source['vm'], row) in controls:
            return
        for other in flat:
            if other['vm'] == source['vm'] or _vid(other, world) != _vid(source, world):
                continue
            if other['node'] != source['node'] and not world.permitted(source['vid']):
                continue
            target = _shared(source, other)
            if target:
                controls.add((source['vm'], row))
                plan.ping(row, source, target, True, 'control: %s reaches %s %s on its own VLAN'
                          % (_label(source), other['vm'], target))
                return
        if world.router and _vid(source, world) == world.router['vlan']:
            for mine in source['addrs']:
                if world.router['address'].ip in mine.network:
                    controls.add((source['vm'], row))
                    plan.ping(row, source, world.router['address'].ip, True, 'control: %s reaches the router %s'
                              % (_label(source), world.router['address'].ip))
                    return

    for source in flat:
        for target_nic in flat:
            if target_nic['vm'] == source['vm']:
                continue
            target = _shared(source, target_nic)
            if target is None:
                continue
            same_vlan = _vid(source, world) == _vid(target_nic, world)
            what = '%s -> %s %s' % (_label(source), target_nic['vm'], target)
            if same_vlan and world.permitted(source['vid']) and source['node'] != target_nic['node'] and \
                    source['network'] == target_nic['network']:
                plan.ping('same_vlan', source, target, True, what)
            elif not same_vlan:
                plan.ping('different_vlans', source, target, False, what + ' (VLAN %s)' % target_nic['vid'])
                control(source, 'different_vlans')
            elif not world.permitted(source['vid']):
                if source['node'] != target_nic['node']:
                    plan.ping('unpermitted_vlan', source, target, False, what + ' across the switch')
                else:
                    plan.ping('unpermitted_vlan', source, target, True, 'control: ' + what + ' on the same node')

    for nic in flat:
        if nic['vid'] is not None and nic['vid'] != world.native_vlan:
            continue
        for host, address in sorted(world.untagged_hosts.items()):
            if any(address.ip in mine.network for mine in nic['addrs']):
                plan.ping('untagged', nic, address.ip, True, '%s -> %s %s on a native VLAN access port'
                          % (_label(nic), host, address.ip))

    # One sender per VLAN (the native VLAN included); listeners on every other VLAN, on its node and across the switch.
    senders = {}
    for nic in flat:
        if nic['addrs'] and nic['mac']:
            senders.setdefault(_vid(nic, world), nic)
    for vid, source in sorted(senders.items()):
        listeners, seen = [], set()
        for nic in sorted(flat, key=lambda n: (n['node'] != source['node'], n['vm'])):
            key = (_vid(nic, world), nic['node'] == source['node'])
            if _vid(nic, world) != vid and key not in seen:
                seen.add(key)
                listeners.append(nic)
        if listeners:
            plan.leak('vlan_isolation', source, listeners, '%s floods its VLAN (ping -b %s)'
                      % (_label(source), source['addrs'][0].network.broadcast_address))

    for server in dhcp_servers(world, flat, state_dir):
        on_network = [n for n in flat if n['network'] == server['network']]
        others = [n for n in on_network if n['node'] != server['node'] and n['mode'] == 'static']
        if others:
            plan.dhcp('dhcp_role', others[0], hooks['report'], ('pool', server),
                      'a DHCP client on %s (%s, across the switch) gets a lease from %s'
                      % (others[0]['vm'], others[0]['node'], server['server']))
        seen = set()
        for nic in sorted(flat, key=lambda n: (n['node'] != server['node'], n['vm'])):
            vid = _vid(nic, world)
            if nic['network'] == server['network'] or vid in seen:
                continue
            seen.add(vid)
            plan.dhcp('dhcp_role', nic, hooks['report'], ('not-from', server),
                      'a DHCP client on %s gets no lease from %s' % (_label(nic), server['server']))
    if world.router:
        for nic in flat:
            if _vid(nic, world) == world.router['vlan'] and nic['mode'] == 'dhcp' and nic['lease']:
                plan.ping('router_dhcp', nic, world.router['address'].ip, True,
                          '%s with its DHCP lease reaches the router %s' % (_label(nic), world.router['address'].ip))
    return plan


# ---------------------------------------------------------------------------------------------------------------------
# verdicts


def _ping_text(result):
    if result.get('error') and not result.get('sent'):
        return 'error: %s' % result['error']
    text = '%d/%d replies' % (result.get('received', 0), result.get('sent', 0))
    if result.get('rtt_ms') is not None:
        text += ', rtt %.1f ms' % result['rtt_ms']
    if not result.get('received') and result.get('neighbour'):
        text += ', ARP %s' % '/'.join(result['neighbour'])
    return text


def _lease_text(lease):
    return 'lease %s/%s from %s (router %s)' % (
        lease.get('ip'), lease.get('mask'), lease.get('serverid'), lease.get('router') or '-')


def _in_pool(address, pool):
    return pool[0] <= ipaddress.ip_address(address) <= pool[1]


def evaluate_probe(row, expect, result):
    """(ok, text) for one probe result against its expectation."""
    if result is None:
        return False, 'no result'
    if 'received' in result:
        ok = (result['received'] > 0) if expect else (result['received'] == 0 and result.get('sent', 0) > 0)
        return ok, _ping_text(result)
    if 'counts' in result:
        listeners = expect[1]
        leaked = dict((vm, count) for vm, count in result['counts'].items() if count)
        parts = ['%s %s' % (_label(listeners[vm]), ('%s frames' % count) if isinstance(count, int) else count)
                 for vm, count in sorted(result['counts'].items())]
        ok = not leaked and all(isinstance(count, int) for count in result['counts'].values())
        return ok, 'received by ' + ', '.join(parts)
    lease = result.get('lease')
    kind, server = expect
    if kind == 'pool':
        ok = bool(lease) and _in_pool(lease['ip'], server['pool']) and lease.get('serverid') == str(server['server'])
        return ok, _lease_text(lease) if lease else 'no lease (%s)' % result.get('log')
    if kind == 'not-from':
        ok = not lease or lease.get('serverid') != str(server['server'])
        return ok, (_lease_text(lease) + ', not from ' + str(server['server'])) if lease and ok else \
            (_lease_text(lease) if lease else 'no lease (%s)' % result.get('log'))
    return False, 'unknown expectation %r in %s' % (kind, row)


def probe_rows(world, vm_plan, attach, plan, results, state_dir):
    """Rows same_vlan .. router_dhcp from the probe results."""
    rows = []
    flat = nics(vm_plan, attach)
    for row_id in ('same_vlan', 'different_vlans', 'vlan_isolation', 'unpermitted_vlan', 'untagged', 'dhcp_role',
                   'router_dhcp'):
        row = Row(row_id)
        ok_all = True
        for probe_id, expect, what in plan.expect[row_id]:
            ok, text = evaluate_probe(row_id, expect, results.get(probe_id))
            ok_all = ok_all and ok
            row.evidence.append('%s %s: %s' % ('ok  ' if ok else 'BAD ', what, text))
        if row_id == 'dhcp_role':
            ok_all = _dhcp_role_extra(row, world, flat, state_dir) and ok_all
        if row_id == 'router_dhcp':
            ok_all = _router_extra(row, world, flat, state_dir) and ok_all
        if row_id == 'unpermitted_vlan':
            ok_all = _switch_evidence(row, world, results) and ok_all
        if row_id == 'vlan_isolation':
            receivers = set(vm for probe_id, _expect, _what in plan.expect[row_id]
                            for vm, count in ((results.get(probe_id) or {}).get('counts') or {}).items()
                            if isinstance(count, int) and count)
            ok_all = _port_evidence(row, world, flat, attach, results, receivers) and ok_all
        if not plan.expect[row_id] and row_id not in ('dhcp_role', 'router_dhcp'):
            row.reason = 'no VMs in the vars exercise this (see lab/inventory/harvester-network.yml)'
            ok_all = False
        row.status = 'PASS' if ok_all else 'FAIL'
        rows.append(row)
    return rows


def _dhcp_role_extra(row, world, flat, state_dir):
    servers = dhcp_servers(world, flat, state_dir)
    if not servers:
        row.reason = 'the vars give the dhcp_server role no node server (dhcp_server_networks)'
        return False
    ok_all = True
    for server in servers:
        if server['server'] is None:
            row.evidence.append('BAD  %s: no server address (server_address or the route annotation)' % server['field'])
            ok_all = False
            continue
        leased = [n for n in flat if n['network'] == server['network'] and n['mode'] == 'dhcp']
        for nic in leased:
            ok = bool(nic['lease']) and _in_pool(nic['lease']['ip'], server['pool']) and \
                nic['lease'].get('serverid') == str(server['server'])
            ok_all = ok_all and ok
            row.evidence.append('%s %s booted with %s (pool %s-%s)' % (
                'ok  ' if ok else 'BAD ', _label(nic), _lease_text(nic['lease']) if nic['lease'] else 'no lease',
                server['pool'][0], server['pool'][1]))
        if not leased:
            row.evidence.append('BAD  no VM on %s uses DHCP' % server['network'])
            ok_all = False
        macs = dict((n['mac'], n) for n in flat if n['mac'])
        try:
            with open(server['lease_file'], encoding='utf-8') as handle:
                entries = [line.split() for line in handle if line.strip()]
        except OSError as exc:
            row.evidence.append('BAD  lease file of %s on %s: %s' % (server['name'], server['node'], exc))
            ok_all = False
            continue
        strangers = ['%s %s' % (e[1], e[2]) for e in entries if len(e) > 2 and
                     (e[1] not in macs or macs[e[1]]['network'] != server['network'] or not _in_pool(e[2], server['pool']))]
        row.evidence.append('%s lease file of %s on %s: %d leases, %s' % (
            'ok  ' if not strangers else 'BAD ', server['name'], server['node'], len(entries),
            'all to NICs of %s inside the pool' % server['network'] if not strangers else
            'foreign or out of pool: %s' % ', '.join(strangers)))
        ok_all = ok_all and not strangers
    return ok_all


def _router_extra(row, world, flat, state_dir):
    if not world.router:
        row.reason = 'lab.yml has no router'
        return False
    router = world.router
    leased = [n for n in flat if _vid(n, world) == router['vlan'] and n['mode'] == 'dhcp']
    ok_all = bool(leased)
    if not leased:
        row.evidence.append('BAD  no VM on VLAN %d uses DHCP' % router['vlan'])
    for nic in leased:
        lease = nic['lease']
        ok = bool(lease) and _in_pool(lease['ip'], router['pool']) and lease.get('serverid') == str(router['address'].ip) \
            and (lease.get('router') or '').split(' ')[0] == str(router['address'].ip)
        ok_all = ok_all and ok
        row.evidence.append('%s %s booted with %s (router pool %s-%s)' % (
            'ok  ' if ok else 'BAD ', _label(nic), _lease_text(lease) if lease else 'no lease: %s' % nic.get('lease'),
            router['pool'][0], router['pool'][1]))
    del state_dir
    return ok_all


def _switch_evidence(row, world, results):
    """From the switch's own VLAN table: the node ports carry exactly the permitted VLANs."""
    snap = results.get('switch-vlans') or {}
    try:
        table = json.loads(snap.get('stdout') or '[]')
    except ValueError:
        row.evidence.append('BAD  the switch VLAN table could not be read: %s' % snap.get('stderr'))
        return False
    ok_all = True
    ports = set(switch_port(index, nic) for index in range(1, len(world.node_names) + 1) for nic in world.uplink_nics)
    for entry in table:
        port = entry.get('ifname', '')
        if port not in ports:
            continue
        vids = sorted(v['vlan'] for v in entry.get('vlans', []) if 'PVID' not in (v.get('flags') or []))
        ok = vids == world.trunk_vlans
        ok_all = ok_all and ok
        row.evidence.append('%s switch port %s trunks VLANs %s tagged (+ native VLAN %d untagged)' % (
            'ok  ' if ok else 'BAD ', port, ', '.join(map(str, vids)) or 'none', world.native_vlan))
    return ok_all


def _port_vlans(world, attach, results):
    """{vm: (node, port, [(vid, flags)])}: the VLANs of each VM's bridge port, from the nodes' own VLAN tables."""
    ports = {}
    for vm in (attach or {}).get('vms', []):
        for nic in vm['nics']:
            result = nic.get('cni_result') if isinstance(nic.get('cni_result'), dict) else {}
            for iface in result.get('interfaces') or []:
                if not iface.get('sandbox') and iface.get('name', '').startswith('veth'):
                    ports[iface['name']] = vm['vm']
    found = {}
    for node in world.node_names:
        try:
            table = json.loads((results.get('vlans-%s' % node) or {}).get('stdout') or '[]')
        except ValueError:
            continue
        for entry in table:
            vm = ports.get(entry.get('ifname'))
            if vm is not None and vm not in found:
                found[vm] = (node, entry['ifname'], [(v['vlan'], v.get('flags') or []) for v in entry.get('vlans', [])])
    return found


def _vlans_text(vlans):
    return ', '.join('%d%s' % (vid, ' (%s)' % ', '.join(flags) if flags else '') for vid, flags in vlans)


def _port_evidence(row, world, flat, attach, results, receivers):  # pylint: disable=too-many-arguments
    """Why frames did or did not cross VLANs: the VLANs of the VM ports of tagged networks (receivers first). A port
    that is a member of the native VLAN fails the row even when no VM of the vars floods it."""
    tagged = set(n['vm'] for n in flat if n['vid'] is not None and n['vid'] != world.native_vlan)
    native_members = []
    for vm, (node, port, vlans) in sorted(_port_vlans(world, attach, results).items(),
                                          key=lambda item: (item[0] not in receivers, item[0])):
        if vm not in tagged:
            continue
        if any(vid == world.native_vlan for vid, _flags in vlans):
            native_members.append(vm)
        row.evidence.append('%s %s bridge port %s of %s is a member of VLANs %s'
                            % ('BAD ' if vm in native_members else 'ok  ', node, port, vm, _vlans_text(vlans)))
    if native_members:
        row.reason = ('VM ports of VLAN networks stay members of the native VLAN %d (egress untagged): a port joins the '
                      'bridge with its vlan_default_pvid (%d) and the bridge CNI plugin only moves the PVID to the '
                      "network's VLAN unless the NAD config says \"preserveDefaultVlan\": false (harvester.network."
                      'vlan_network option preserve_default_vlan=false; Harvester does not write it). Frames flooded '
                      'on the native VLAN reach every VLAN VM, one way.' % (world.native_vlan, world.native_vlan))
    return not native_members


def vlan_table_probes(world):
    return [{'id': 'vlans-%s' % node, 'kind': 'command',
             'argv': ['bridge', '-n', world.netns('node', node), '-j', 'vlan', 'show']} for node in world.node_names]


def confinement_probe():
    return {'id': 'confinement', 'kind': 'confinement', 'prefix': NS_PREFIX}


def confinement_row(results, bed):
    row = Row('confined')
    result = results.get('confinement') or {}
    if 'namespaces' not in result:
        row.status = 'FAIL'
        row.reason = 'the confinement probe failed: %s' % result.get('error')
        return row
    problems = result['problems']
    row.evidence.append('%s %d namespaces, %d links (%s); every veth ends in a lab namespace' % (
        'ok  ' if not problems else 'BAD ', len(result['namespaces']), result['links'],
        ', '.join('%d %s' % (count, kind) for kind, count in sorted(result['kinds'].items()))))
    row.evidence.append('%s the namespace the lab runs from (%s) has no link into the lab; its links: %s' % (
        'ok  ' if not any(p.startswith('the root') for p in problems) else 'BAD ', bed, ', '.join(result['root_links'])))
    if bed == 'guest':
        row.evidence.append('the QEMU guest itself has one NIC, user-mode with restrict=on: it reaches 127.0.0.1:<API '
                            'port> through the forward and nothing else')
    row.evidence.extend('BAD  %s' % problem for problem in problems)
    row.status = 'PASS' if not problems else 'FAIL'
    return row


def switch_probe(world):
    return {'id': 'switch-vlans', 'kind': 'command', 'argv': ['bridge', '-n', world.netns('sw'), '-j', 'vlan', 'show']}


# ---------------------------------------------------------------------------------------------------------------------
# idempotence


def normalise_snapshot(snapshot):
    """What must not change between two runs of site.yml, per namespace: links (kind, master, MTU, flags, MAC,
    ifindex, the bridge/bond settings), addresses, routes and the bridge VLAN table."""
    keep = {'bridge': ('vlan_filtering', 'vlan_default_pvid', 'stp_state', 'vlan_protocol'),
            'bond': ('mode', 'miimon', 'updelay', 'downdelay', 'xmit_hash_policy')}
    result = {}
    for netns, views in sorted(snapshot.items()):
        links = {}
        for link in views.get('links') or []:
            info = link.get('linkinfo') or {}
            kind = info.get('info_kind')
            data = info.get('info_data') or {}
            links[link['ifname']] = {'ifindex': link.get('ifindex'), 'kind': kind, 'master': link.get('master'),
                                     'mtu': link.get('mtu'), 'flags': sorted(link.get('flags') or []),
                                     'mac': link.get('address'),
                                     'settings': dict((k, data.get(k)) for k in keep.get(kind, ()) if k in data)}
        addrs = sorted('%s %s/%s' % (item['ifname'], a.get('local'), a.get('prefixlen'))
                       for item in views.get('addresses') or [] for a in item.get('addr_info') or [])
        routes = sorted(json.dumps(route, sort_keys=True) for route in views.get('routes') or [])
        vlans = dict((entry['ifname'], sorted(json.dumps(v, sort_keys=True) for v in entry.get('vlans') or []))
                     for entry in views.get('vlans') or [] if isinstance(entry, dict))
        result[netns] = {'links': links, 'addresses': addrs, 'routes': routes, 'vlans': vlans}
    return result


def diff_snapshots(before, after):
    """Human-readable differences between two normalised snapshots (empty when equal)."""
    changes = []
    for netns in sorted(set(before) | set(after)):
        one, two = before.get(netns), after.get(netns)
        if one is None or two is None:
            changes.append('%s %s' % (netns, 'appeared' if one is None else 'disappeared'))
            continue
        for view in ('links', 'addresses', 'routes', 'vlans'):
            if one[view] == two[view]:
                continue
            if isinstance(one[view], dict):
                for key in sorted(set(one[view]) | set(two[view])):
                    if one[view].get(key) != two[view].get(key):
                        changes.append('%s %s %s: %s -> %s' % (netns, view, key, one[view].get(key), two[view].get(key)))
            else:
                changes.append('%s %s: -%s +%s' % (netns, view, sorted(set(one[view]) - set(two[view])),
                                                   sorted(set(two[view]) - set(one[view]))))
    return changes


def idempotence_row(second, before, after, versions_before, versions_after):
    row = Row('idempotent')
    ok = second.rc == 0
    hosts = sorted(second.recap)
    changed = dict((host, counts['changed']) for host, counts in second.recap.items())
    row.evidence.append('%s second run: exit %d, recap %s' % (
        'ok  ' if ok else 'BAD ', second.rc,
        ', '.join('%s changed=%d failed=%d' % (h, second.recap[h]['changed'], second.recap[h]['failed']) for h in hosts)))
    if any(changed.values()) or not hosts:
        ok = False
        row.evidence.append('BAD  tasks that reported a change: %s'
                            % ('; '.join(second.changed_tasks[:10]) or 'none found in the output'))
    diff = diff_snapshots(before, after)
    row.evidence.append('%s nodes and switch (iproute2: links, addresses, routes, bridge VLANs of %d namespaces): %s'
                        % ('ok  ' if not diff else 'BAD ', len(after), 'identical' if not diff else '; '.join(diff[:8])))
    moved = sorted(key for key in set(versions_before) | set(versions_after)
                   if versions_before.get(key) != versions_after.get(key))
    row.evidence.append('%s API objects (%d): %s' % ('ok  ' if not moved else 'BAD ', len(versions_after),
                                                     'same resourceVersion' if not moved else 'changed: %s'
                                                     % ', '.join(moved[:8])))
    row.status = 'PASS' if ok and not diff and not moved else 'FAIL'
    return row


def rolling_row(rolled):
    """The verdict of Lab._rolling: ``rolled`` holds the failing node, the later nodes, the NIC taken away, the run,
    and the normalised iproute2 snapshots and API resourceVersions before and after it."""
    row = Row('rolling')
    run, failing, nic = rolled['run'], rolled['failing'], rolled['nic']
    before, after = rolled['before'], rolled['after']
    named = [f for f in run.failures if '[%s]' % failing in f]
    stopped = run.rc != 0 and bool(named) and any(nic in f for f in named)
    row.evidence.append('%s %s has no %s (renamed to %s); default_vlan.yml, batches %s: exit %d, %s' % (
        'ok  ' if stopped else 'BAD ', failing, nic, rolled['renamed'],
        ' then '.join('[%s]' % node for node in rolled['order']), run.rc,
        ('stopped at %s' % named[0][:400]) if named else 'no failure on %s' % failing))
    ok = stopped
    for node in [failing] + rolled['later']:
        netns = rolled['netns'][node]
        diff = diff_snapshots({netns: before[netns]}, {netns: after[netns]})
        counts = run.recap.get(node)
        ran = bool(counts) and (counts['ok'] or counts['changed'] or counts['failed'])
        if node == failing:
            line = '%s %s (the failing batch) as it was (iproute2: links, addresses, routes, bridge VLANs): %s' % (
                'ok  ' if not diff else 'BAD ', node, 'identical' if not diff else '; '.join(diff[:6]))
        else:
            line = '%s %s (a later batch) not touched: %s; iproute2 %s' % (
                'ok  ' if not diff and not ran else 'BAD ', node,
                'no task ran (not in the recap)' if not counts else 'recap %s' % counts,
                'identical' if not diff else 'differs: ' + '; '.join(diff[:6]))
            ok = ok and not ran
        ok = ok and not diff
        row.evidence.append(line)
    moved = sorted(key for key in set(rolled['versions_before']) | set(rolled['versions_after'])
                   if rolled['versions_before'].get(key) != rolled['versions_after'].get(key))
    row.evidence.append('%s API objects (%d): %s' % ('ok  ' if not moved else 'BAD ', len(rolled['versions_after']),
                                                     'same resourceVersion' if not moved
                                                     else 'changed: %s' % ', '.join(moved[:8])))
    row.evidence.append('%s %s back to %s afterwards: %s' % (
        'ok  ' if rolled['restored'] is None else 'BAD ', rolled['renamed'], nic,
        'done' if rolled['restored'] is None else rolled['restored']))
    row.status = 'PASS' if ok and not moved and rolled['restored'] is None else 'FAIL'
    return row
