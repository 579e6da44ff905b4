"""The lab's "hitless" stage: changes to the live site while traffic flows, our way and Harvester's way, side by side.

Flows (lab/traffic.py): per network one ICMP echo flow at 100 echoes a second between VM stand-ins, across the
switch where the lab has a pair on different nodes (else to a host on the switch, else on one node):
VLAN 100 node1 -> node2, VLAN 200 node2 -> node1, VLAN 300 on node1 (the switch does not permit it), untagged
node2 -> the untagged host on the switch. Each change below is measured on its own, in one window per way: the flows start,
the change runs (its two steps), a second passes, the flows stop and each says what it lost and its longest gap.

Changes, each done twice in the same run:

- ours: ``lab/playbooks/hitless.yml`` (the collection's node modules, ansible-playbook on every node at once);
- recreate: what Harvester's network controller does for the same change, as plain iproute2 batches, written from
  reading harvester/network-controller-harvester (commit 2e5cbea3; pkg/network/iface/bond.go ``EnsureBond``,
  ``modifyBond``, ``ensureBondSlaves``, pkg/network/vlan/vlan.go ``Setup``/``AddLocalAreas``, pkg/controller/agent/
  vlanconfig/controller.go ``setUplink``): a VLAN network is one ``bridge vlan add/del`` per VID on the uplink; a bond
  member joins set down, enslaved, set up, and leaves set nomaster, set up (both in place); any other change of the
  bond (MTU, mode, miimon, MAC, txqlen: ``compareBond``) deletes the bond and adds a new one, sets it up, enslaves
  its NICs again (each down, master, up), puts it back under the bridge (which loses its VLAN table with the old
  port) and the cluster network's controller adds its VIDs back.

1. VLAN IDs: VID 400 added to every trunk and VID 300 removed; then back (300 added, 400 removed);
2. a bond member: the last uplink NIC leaves the bond (the active one carries the traffic), then joins again;
3. MTU: 1500 -> 9000 on the bond and the bridge, then back to 1500;
4. bond options: ``options`` miimon 100 -> 200 and back (the kernel changes it on a live bond); ``mode``
   active-backup -> 802.3ad and back (the kernel only changes the mode of a bond that is down and has no slaves: not
   hitless either way; our module warns in check mode and --diff, which the stage runs first and records);
5. ``mgmt``: the management address migration of a Harvester v0.3 node: ``harvester-br0`` made over the management
   NIC eth0, the address and default route moved onto it (host_network ``migrate``, as the default_vlan role does on
   a legacy node), while a TCP session from the management switch to each node runs (lab/traffic.py sessions: bytes
   before and after the change on the same socket). One way only (a node migrates once); after each window the node
   is put back by an ip batch outside the window. Harvester's way (network-controller-harvester v0.2.6, commit
   18683425; pkg/network/vlan/vlan.go ``Setup``, pkg/network/iface/bridge.go ``SyncIPv4Addr``, link.go
   ``AddRoutes``/``SetMaster``/``DeleteRoutes``): the bridge ensured, the NIC's IPv4 addresses copied onto it, its
   routes appended through the bridge, the NIC enslaved, the NIC's routes deleted;
6. ``rolling``: a rolling run over both nodes (``serial: 1``) that changes each node's uplink (MTU 9000 and back, node
   after node); the recreate way node after node too.

``HN_LAB_HITLESS_CHANGES`` (change numbers, e.g. ``1,2,3``) selects changes; all of them by default. The lab phase of
``make test`` selects 1-3 (scripts/test.sh): 4-6 add several minutes under emulation, ``make lab`` runs them.

The goal (issue 15) for our way: no echo lost on a flow the change does not concern; a flow whose node loses the
bond member that carried it may lose at most the bond's failover (miimon + downdelay, in echoes, plus what was in
flight). A bond mode change (a kernel rule) may cost the flows through the bonds what it costs, but they must come
back, the flows that do not cross a bond lose nothing, and check mode must have warned. Change 5: every TCP session
survives (one connection, echoes before and after), and no flow loses an echo. Change 6: no flow loses more than one
node's share; our way's share of an MTU change is 0 (change 3), so: nothing lost. The recreate way is the anchor:
measured and shown, not judged.
"""

import json
import math
import os
import time

from lab import checks, playbook
from testbeds.common import REPO_ROOT, progress

PLAYBOOK = os.path.join(REPO_ROOT, 'lab', 'playbooks', 'hitless.yml')
SETTLE = 1.0  # seconds of traffic after a change before the flows stop
ADDED_VID, REMOVED_VID = 400, 300
JUMBO = 9000
MIIMON = 200  # change 4's miimon (or 100, if the bond has 200 already)
OTHER_MODE = '802.3ad'  # change 4's mode: the switch speaks no LACP, so each NIC is its own aggregator, one active
LEGACY_BRIDGE, MGMT_NIC = 'harvester-br0', 'eth0'  # change 5: Harvester v0.3's bridge over the management NIC
SESSION_PORT = 7070
WARNING = 'takes the bond down'  # what host_network warns about a mode change (plan.interruptions)
# The changes: (id, number in issue 15, title, its two steps). Each is ONE window of traffic per way: the first step,
# then the second, which puts the site back as it was.
CHANGES = (
    ('vlans', 1, 'VID %d added to every trunk and VID %d removed, then back' % (ADDED_VID, REMOVED_VID),
     ('vlans_a', 'vlans_b')),
    ('member', 2, 'a bond member leaves (the other one carries the traffic), then joins again',
     ('member_out', 'member_in')),
    ('mtu', 3, 'MTU 1500 -> %d on the bond and the bridge, then back to 1500' % JUMBO, ('mtu_up', 'mtu_down')),
    ('options', 4, 'bond option miimon changed in place (100 -> %d), then back' % MIIMON, ('miimon_a', 'miimon_b')),
    ('mode', 4, 'bond mode active-backup -> %s (the kernel needs the bond down), then back' % OTHER_MODE,
     ('mode_a', 'mode_b')),
    ('mgmt', 5, 'management address of a v0.3 node moved from %s onto %s, a TCP session to each node open'
     % (MGMT_NIC, LEGACY_BRIDGE), ('mgmt_in',)),
    ('rolling', 6, 'rolling run, serial: 1: MTU %d and back on each node\'s uplink, node after node' % JUMBO,
     ('mtu_up', 'mtu_down')),
)
ROLLING = ('rolling',)


def selected(changes=CHANGES):
    """The changes ``HN_LAB_HITLESS_CHANGES`` selects (change numbers, comma-separated, ranges like 1-3); all by
    default."""
    text = (os.environ.get('HN_LAB_HITLESS_CHANGES') or '').strip()
    if not text:
        return list(changes)
    numbers = set()
    for part in text.split(','):
        low, _dash, high = part.strip().partition('-')
        try:
            numbers.update(range(int(low), int(high or low) + 1))
        except ValueError as exc:
            raise ValueError('HN_LAB_HITLESS_CHANGES: %r is not a list of change numbers (e.g. 1,2,3 or 1-3)'
                             % text) from exc
    return [change for change in changes if change[1] in numbers]


# ---------------------------------------------------------------------------------------------------------------------
# the flows


def plan_flows(world, vm_plan, attach):
    """One flow per network: (source NIC, target address), across nodes where the switch carries the VLAN."""
    nics = checks.nics(vm_plan, attach)
    hosts = []
    if world.router:
        hosts.append((world.router['vlan'], world.router['address'], 'the router'))
    hosts.extend((None, address, name) for name, address in sorted(world.untagged_hosts.items()))
    flows, seen = [], set()
    for nic in sorted(nics, key=lambda item: (item['network'], item['vm'])):
        if nic['network'] in seen or not nic['addrs']:
            continue
        choices = []
        for other in nics:
            if other['network'] != nic['network'] or other['vm'] == nic['vm']:
                continue
            target = checks._shared(nic, other)  # pylint: disable=protected-access
            if target is None:
                continue
            across = other['node'] != nic['node']
            if across and not world.permitted(nic['vid']):
                continue
            choices.append((0 if across else 2, str(target), other['node'], other['vm']))
        for vid, address, name in hosts:
            on_its_vlan = (vid or world.native_vlan) == (nic['vid'] or world.native_vlan)
            if on_its_vlan and any(address.ip in mine.network for mine in nic['addrs']):
                choices.append((1, str(address.ip), None, name))
        if not choices:
            continue
        _rank, target, node, peer = sorted(choices)[0]
        seen.add(nic['network'])
        flows.append({'id': 'flow-%s' % nic['network'].split('/')[-1], 'netns': nic['netns'], 'target': target,
                      'network': nic['network'], 'vid': nic['vid'],
                      'nodes': sorted(set([nic['node']] + ([node] if node else []))),
                      'across': node != nic['node'],
                      'label': '%s %s (%s) -> %s (%s)' % (
                          'VLAN %s' % nic['vid'] if nic['vid'] else 'untagged', nic['vm'], nic['node'], peer,
                          node or 'switch')})
    return flows


# ---------------------------------------------------------------------------------------------------------------------
# what the nodes have (from the snapshot job: iproute2 JSON)


def uplinks(world, snapshot, vm_plan):
    """{node: {bridge, bond, slaves, mode, miimon, downdelay, mtu, vids (tagged), active}} of the bridge the VMs use."""
    bridges = set(nic['bridge'] for vm in vm_plan['vms'] for nic in vm['nics'] if nic.get('bridge'))
    found = {}
    for node in world.node_names:
        view = snapshot.get(world.netns('node', node)) or {}
        links = view.get('links') if isinstance(view.get('links'), list) else []
        for link in links:
            info = link.get('linkinfo') or {}
            if info.get('info_kind') != 'bond' or link.get('master') not in bridges:
                continue
            data = info.get('info_data') or {}
            table = [entry for entry in (view.get('vlans') or []) if entry.get('ifname') == link['ifname']]
            vids = sorted(item['vlan'] for entry in table for item in entry.get('vlans', [])
                          if 'PVID' not in (item.get('flags') or []) and item.get('vlan'))
            found[node] = {'bridge': link['master'], 'bond': link['ifname'], 'mtu': link.get('mtu'),
                           'slaves': sorted(item['ifname'] for item in links if item.get('master') == link['ifname']),
                           'mode': data.get('mode'), 'miimon': data.get('miimon') or 0,
                           'downdelay': data.get('downdelay') or 0, 'active': data.get('active_slave'), 'vids': vids}
    return found


# ---------------------------------------------------------------------------------------------------------------------
# the changes, both ways


def _ours(step, uplink):
    """The extra variables of lab/playbooks/hitless.yml for ``step``, from the uplink as the stage found it (every
    node has the same names)."""
    base = {'bond': uplink['bond'], 'bridge': uplink['bridge']}
    if step == 'vlans_a':
        base['vids'] = sorted(set(uplink['vids']) - set([REMOVED_VID]) | set([ADDED_VID]))
    elif step == 'vlans_b':
        base['vids'] = uplink['vids']
    elif step == 'member_out':
        base['slaves'] = uplink['slaves'][:-1]
    elif step == 'member_in':
        base['slaves'] = uplink['slaves']
    elif step == 'mtu_up':
        base['mtu'] = JUMBO
    elif step == 'mtu_down':
        base['mtu'] = uplink['mtu']
    elif step in ('miimon_a', 'miimon_b', 'mode_a', 'mode_b'):
        base['bond_options'] = _bond_target(step, uplink, {})
    elif step == 'mgmt_in':
        base = {'migrate': {'bridge': LEGACY_BRIDGE, 'nic': MGMT_NIC}}
    return base


def _bond_target(step, uplink, now):
    """The bond option a step of change 3 or 4 sets: {mtu} or {miimon} or {mode}."""
    if step in ('mtu_up', 'mtu_down'):
        return {'mtu': JUMBO if step == 'mtu_up' else uplink['mtu']}
    if step in ('miimon_a', 'miimon_b'):
        changed = MIIMON if uplink['miimon'] != MIIMON else 100
        return {'miimon': changed if step == 'miimon_a' else uplink['miimon']}
    if step in ('mode_a', 'mode_b'):
        return {'mode': OTHER_MODE if step == 'mode_a' else uplink['mode']}
    del now
    raise ValueError('not a bond option step: %s' % step)


def mgmt_of(world, node):
    """The management address, its network and gateway of ``node`` (lab.yml)."""
    address = world.nodes[node]
    return {'nic': MGMT_NIC, 'address': address.with_prefixlen, 'network': str(address.network),
            'gateway': str(world.gateway.ip), 'ip': str(address.ip)}


def mgmt_restore(netns, mgmt):
    """Put a node's management address back on its NIC after change 5 (either way), outside the traffic window:
    the bridge deleted if there is one (a window that never applied the change left none), the address and the
    default route on the NIC again (its prefix route comes back with the address)."""
    ip = 'ip -n %s' % netns
    script = '; '.join([
        'set -e',
        'if %s link show %s >/dev/null 2>&1; then %s link set %s nomaster; %s link del %s; fi' % (
            ip, LEGACY_BRIDGE, ip, mgmt['nic'], ip, LEGACY_BRIDGE),
        '%s addr del %s dev %s 2>/dev/null || true' % (ip, mgmt['address'], mgmt['nic']),
        '%s addr add %s dev %s' % (ip, mgmt['address'], mgmt['nic']),
        '%s link set %s up' % (ip, mgmt['nic']),
        '%s route replace default via %s dev %s' % (ip, mgmt['gateway'], mgmt['nic'])])
    return {'desc': '%s: the management address back on %s' % (netns, mgmt['nic']), 'argv': ['sh', '-c', script]}


def recreate_steps(step, netns, uplink, now, mgmt=None):
    """Harvester's controller's way of ``step`` on one node, as iproute2 batches (run-plan steps); ``uplink``: as
    the stage found it, ``now``: before this step; ``mgmt``: the node's management address (change 5)."""
    bond, bridge, slaves = uplink['bond'], uplink['bridge'], uplink['slaves']

    def ip(lines, what):
        return {'desc': '%s: %s' % (netns, what), 'argv': ['ip', '-n', netns, '-batch', '-'],
                'input': ''.join(line + '\n' for line in lines)}

    def br(lines, what):
        return {'desc': '%s: %s' % (netns, what), 'argv': ['bridge', '-n', netns, '-batch', '-'],
                'input': ''.join(line + '\n' for line in lines)}
    if step in ('vlans_a', 'vlans_b'):
        add, remove = (ADDED_VID, REMOVED_VID) if step == 'vlans_a' else (REMOVED_VID, ADDED_VID)
        # AddLocalAreas / RemoveLocalAreas: one VID at a time on the uplink
        return [br(['vlan add dev %s vid %d' % (bond, add), 'vlan del dev %s vid %d' % (bond, remove)],
                   'VID %d added, VID %d removed' % (add, remove))]
    if step == 'member_out':
        # ensureBondSlaves: a NIC no longer listed is set nomaster, then up
        return [ip(['link set %s nomaster' % slaves[-1], 'link set %s up' % slaves[-1]], '%s leaves' % slaves[-1])]
    if step == 'member_in':
        # ensureBondSlaves: a new NIC is set down, enslaved, set up
        return [ip(['link set %s down' % slaves[-1], 'link set %s master %s' % (slaves[-1], bond),
                    'link set %s up' % slaves[-1]], '%s joins' % slaves[-1])]
    if step == 'mgmt_in':
        # v0.2.6 Vlan.Setup: bridge.Ensure (VLAN filtering, STP off, up); the NIC is the management NIC, so
        # SyncIPv4Addr (its addresses added to the bridge, the NIC keeps them) and AddRoutes (its routes appended
        # through the bridge: the connected one comes with the address, the gateway route last); SetMaster; the
        # NIC's routes deleted (DeleteRoutes)
        lines = ['link add %s type bridge vlan_filtering 1 stp_state 0' % LEGACY_BRIDGE,
                 'link set %s promisc on' % LEGACY_BRIDGE, 'link set %s up' % LEGACY_BRIDGE,
                 'addr add %s dev %s' % (mgmt['address'], LEGACY_BRIDGE),
                 'route append default via %s dev %s' % (mgmt['gateway'], LEGACY_BRIDGE),
                 'link set %s master %s' % (mgmt['nic'], LEGACY_BRIDGE),
                 'route del %s dev %s' % (mgmt['network'], mgmt['nic']),
                 'route del default via %s dev %s' % (mgmt['gateway'], mgmt['nic'])]
        return [ip(lines, '%s made over %s, the management address and routes moved' % (LEGACY_BRIDGE, mgmt['nic']))]
    target = {'mtu': now['mtu'], 'mode': now['mode'], 'miimon': now['miimon']}
    target.update(_bond_target(step, uplink, now))
    # modifyBond: compareBond differs (MTU, mode, miimon) -> LinkDel + LinkAdd; LinkSetUp; ensureBondSlaves;
    # Vlan.Setup (SetMaster to the bridge); then the cluster network's VIDs come back (AddLocalAreas)
    lines = ['link del %s' % bond,
             'link add %s mtu %d type bond mode %s miimon %d' % (bond, target['mtu'], target['mode'],
                                                                 target['miimon']),
             'link set %s up' % bond]
    for slave in now['slaves']:
        lines += ['link set %s down' % slave, 'link set %s master %s' % (slave, bond), 'link set %s up' % slave]
    lines.append('link set %s master %s' % (bond, bridge))
    what = ', '.join('%s %s' % item for item in sorted(target.items()))
    return [ip(lines, 'bond %s deleted and made again with %s, NICs and bridge' % (bond, what)),
            br(['vlan add dev %s vid %d' % (bond, vid) for vid in now['vids']],
               'the VIDs back on %s' % bond)]


# ---------------------------------------------------------------------------------------------------------------------
# the verdicts


def failover_allowance(uplink, interval):
    """Echoes a flow may lose when its active bond member leaves: the bond's failover (miimon + downdelay)."""
    return int(math.ceil((uplink['miimon'] + uplink['downdelay']) / 1000.0 / interval)) + 1


def concerned(change, flow, uplinks_before):
    """Does ``change`` concern ``flow``?  None, or why (then the failover allowance applies)."""
    if change == 'vlans':
        return 'its VLAN changes on the trunk' if flow['across'] and flow['vid'] in (ADDED_VID, REMOVED_VID) else None
    if change == 'mode':
        return 'it crosses the bonds, which a mode change takes down (a kernel rule)' if flow['across'] else None
    if change == 'member':
        for node in flow['nodes']:
            uplink = uplinks_before.get(node)
            if uplink and uplink['active'] == uplink['slaves'][-1]:
                return 'it used %s of %s, which leaves' % (uplink['active'], node)
    return None


def judge(change, flows, results, uplinks_before, interval):
    """Our way's verdict per flow: (ok, the goal in words)."""
    verdicts = {}
    for flow in flows:
        got = results.get(flow['id']) or {}
        if 'lost' not in got:
            verdicts[flow['id']] = (False, 'no result (%s)' % got.get('error', 'the flow did not run'))
            continue
        why = concerned(change, flow, uplinks_before)
        if why and change == 'mode':
            # not hitless by a kernel rule: measured, not bounded; the flow must come back after it
            ok = got['received'] > 0 and got['tail'] <= got['in_flight']
            verdicts[flow['id']] = (ok, 'concerned (%s): measured, answered again after it' % why)
            continue
        allowed = 0
        if why:
            allowed = max(failover_allowance(uplinks_before[node], interval) for node in flow['nodes']
                          if node in uplinks_before) + got['in_flight']
        ok = got['lost'] <= allowed and got['received'] > 0
        if why:
            goal = 'concerned (%s): at most %d' % (why, allowed)
        elif change in ROLLING:
            goal = 'one node\'s share (an MTU change of one node, ours: 0): 0'
        else:
            goal = 'not concerned: 0'
        verdicts[flow['id']] = (ok, goal)
    return verdicts


def describe_session(got):
    if not got:
        return 'no result'
    return '%s: %d echoes (%d B) before the change, %d (%d B) after, %d connection(s) accepted, longest gap %s ms%s' % (
        'survived' if got.get('survived') else 'FAILED', got.get('before', 0), got.get('bytes_before', 0),
        got.get('after', 0), got.get('bytes_after', 0), got.get('accepted', 0),
        '%.0f' % got['gap_ms'] if got.get('gap_ms') is not None else '-',
        ' (%s)' % got['error'] if got.get('error') else '')


def describe(got):
    if 'lost' not in got:
        return 'no result'
    return 'lost %d of %d, longest gap %s ms' % (got['lost'], got['sent'],
                                                 '%.0f' % got['gap_ms'] if got.get('gap_ms') is not None else '-')


# ---------------------------------------------------------------------------------------------------------------------
# the stage


class Hitless:
    """Runs the steps against a running lab (``lab``: lab.run.Lab, with its cluster and job channel)."""

    def __init__(self, lab, vm_plan, attach, interval=0.01):
        self.lab = lab
        self.world = lab.world
        self.vm_plan = vm_plan
        self.interval = interval
        self.flows = plan_flows(self.world, vm_plan, attach)
        self.folder = lab.paths.state('traffic')
        self.base = {}

    def sessions(self, change):
        """Change 5's TCP sessions: from the management switch to each node's management address."""
        if change != 'mgmt':
            return []
        return [{'id': 'tcp-%s' % node, 'server_netns': self.world.netns('node', node),
                 'client_netns': self.world.netns('sw'), 'address': mgmt_of(self.world, node)['ip'],
                 'port': SESSION_PORT} for node in self.world.node_names]

    def traffic(self, action, views=(), sessions=(), marks=None):
        plan = {'dir': self.folder, 'interval': self.interval, 'views': list(views), 'sessions': list(sessions),
                'flows': [dict((k, flow[k]) for k in ('id', 'netns', 'target')) for flow in self.flows]}
        if marks:
            plan['marks'] = marks
        return self.lab.job(action, plan, module='lab.traffic')

    def measure(self, change, way, apply):
        """The nodes' uplinks seen and the flows (and sessions) on, ``apply(uplinks)``, a second more, flows off:
        (results, error of apply or None, seconds of apply, the uplinks before)."""
        sessions = self.sessions(change)
        started = self.traffic('start', [self.world.netns('node', node) for node in self.world.node_names], sessions)
        before = uplinks(self.world, started['views'], self.vm_plan)
        if started.get('not_ready'):
            self.traffic('stop', sessions=sessions)
            return {}, 'flows without an answer before the change: %s' % ', '.join(started['not_ready']), 0.0, before
        missing = [node for node in self.world.node_names if node not in before]
        begun = time.monotonic()
        try:
            error = apply(before) if not missing else 'no uplink bond under the VMs\' bridge on %s' % ', '.join(
                missing)
        except Exception as exc:  # pylint: disable=broad-except
            error = '%s: %s' % (type(exc).__name__, exc)
        seconds = time.monotonic() - begun
        marks = {'before': started['time'], 'after': self.traffic('mark')['time']} if sessions else None
        time.sleep(SETTLE)
        results = self.traffic('stop', sessions=sessions, marks=marks)
        progress('    hitless %s (%s): %.1fs; %s' % (change, way, seconds, '; '.join(
            ['%s %s' % (flow['network'], describe(results.get(flow['id']) or {})) for flow in self.flows] +
            ['%s %s' % (key, describe_session(got)) for key, got in sorted((results.get('sessions') or {}).items())])))
        return results, error, seconds, before

    def play(self, change, steps, label, extra=()):
        """lab/playbooks/hitless.yml with ``steps`` (every node the same, from the uplink as the stage found it)."""
        first = self.base[self.world.node_names[0]]
        argv = ['-e', json.dumps({'hitless': {'steps': [_ours(step, first) for step in steps]}}, sort_keys=True)]
        if change in ROLLING:
            argv += ['-e', 'hitless_serial=1']
        return playbook.run(self.lab.paths.run, self.lab.cluster['kubeconfig'], self.world.vars_files,
                            'hitless %s' % change, self.lab.paths.state('logs', 'hitless-%s%s.log' % (change, label)),
                            playbook=PLAYBOOK, extra=argv + list(extra), echo=False)

    def warnings(self, change, steps):
        """Check mode and --diff of the first step, before the window (change 4's mode): the warnings it printed."""
        run = self.play(change, steps[:1], '-check', ['--check', '--diff'])
        with open(run.log_path, encoding='utf-8', errors='replace') as handle:
            found = [line.strip() for line in handle if WARNING in line]
        return run, found

    def ours(self, change, steps):
        """Both steps in one ansible-playbook run (lab/playbooks/hitless.yml: one pass over the nodes per step)."""
        def apply(before):
            del before  # every node gets the same change, from the uplink as the stage found it
            run = self.play(change, steps, '')
            if run.rc != 0:
                return 'ansible-playbook exited %d: %s' % (run.rc, '; '.join(run.failures[:2]) or run.tail(5))
            return None
        return self.measure(change, 'ours', apply)

    def recreate(self, change, steps):
        """Both steps as one run-plan job: every node's first step, a second, every node's second step (rolling:
        each node's steps, node after node)."""
        def apply(before):
            plan = []
            if change in ROLLING:
                order = [(node, step) for node in self.world.node_names for step in steps]
            else:
                order = [(node, step) for step in steps for node in self.world.node_names]
            previous = None
            for node, step in order:
                if previous is not None and previous != step:
                    plan.append({'desc': 'a second between the steps', 'argv': ['sleep', '1']})
                previous = step
                # each step's target comes from the uplink as the stage found it; ``before`` gives the rest
                plan += recreate_steps(step, self.world.netns('node', node), self.base[node], before[node],
                                       mgmt_of(self.world, node))
            self.lab.job('run-plan', {'steps': plan})
        return self.measure(change, 'recreate', apply)

    def restore(self, change):
        """Change 5 moves the management address for good: put it back on the NIC (outside the window)."""
        if change == 'mgmt':
            self.lab.job('run-plan', {'steps': [mgmt_restore(self.world.netns('node', node),
                                                             mgmt_of(self.world, node))
                                                for node in self.world.node_names]})

    def run(self):
        """Every change, our way then the recreate way; returns the report section (rows + flows)."""
        if not self.flows:
            return {'flows': [], 'rows': [], 'error': 'no pair of VM stand-ins to send traffic between'}
        namespaces = [self.world.netns('node', node) for node in self.world.node_names]
        self.base = uplinks(self.world, self.lab.job('snapshot', {'namespaces': namespaces}), self.vm_plan)
        missing = [node for node in self.world.node_names if node not in self.base]
        if missing:
            return {'flows': [], 'rows': [], 'error': 'no uplink bond under the VMs\' bridge on %s' % ', '.join(missing)}
        rows = []
        for change, number, title, steps in selected():
            try:
                rows.append(self.change(change, number, title, steps))
            except Exception as exc:  # pylint: disable=broad-except
                # one change's failure is its row's, not the stage's: the rows measured before it stay
                rows.append({'id': change, 'change': number, 'title': 'Change %d: %s' % (number, title),
                             'status': 'FAIL', 'error': '%s: %s' % (type(exc).__name__, exc), 'recreate_error': None,
                             'seconds': {'ours': 0.0, 'recreate': 0.0}, 'flows': {}, 'notes': [], 'sessions': {},
                             'warned': None})
        return {'flows': [dict((k, flow[k]) for k in ('id', 'label', 'network', 'vid', 'nodes')) for flow in self.flows],
                'interval_ms': self.interval * 1000, 'rows': rows,
                'changes': [change[0] for change in selected()]}

    def change(self, change, number, title, steps):
        """One change, our way then the recreate way (change 4's mode: check mode first): its row."""
        notes = []
        warned = None
        if change == 'mode':
            check, warned = self.warnings(change, steps)
            notes.append('check mode and --diff (exit %s): %s' % (
                check.rc, '; '.join(sorted(set(warned))) if warned else 'NO warning that the bond goes down'))
        ours = self.ours(change, steps)
        self.restore(change)
        recreate = self.recreate(change, steps)
        self.restore(change)
        return self.row(change, number, title, ours, recreate, notes, warned)

    def row(self, change, number, title, ours, recreate, notes=(), warned=None):  # pylint: disable=too-many-arguments
        results, error, seconds, before = ours
        verdicts = judge(change, self.flows, results, before, self.interval)
        ok = error is None and all(verdict[0] for verdict in verdicts.values())
        if warned is not None:
            ok = ok and bool(warned)
        sessions = {}
        for key, got in sorted((results.get('sessions') or {}).items()):
            theirs = (recreate[0].get('sessions') or {}).get(key) or {}
            sessions[key] = {'ours': got, 'recreate': theirs}
            ok = ok and got.get('survived', False)
            notes = list(notes) + ['TCP session %s: ours %s; recreate %s'
                                   % (key, describe_session(got), describe_session(theirs))]
        if change == 'mgmt' and len(sessions) != len(self.world.node_names):
            ok = False
            notes = list(notes) + ['TCP sessions: %d of %d measured' % (len(sessions), len(self.world.node_names))]
        flows = {}
        for flow in self.flows:
            flows[flow['id']] = {'ours': results.get(flow['id']) or {}, 'recreate': recreate[0].get(flow['id']) or {},
                                 'goal': verdicts[flow['id']][1], 'ok': verdicts[flow['id']][0]}
        return {'id': change, 'change': number, 'title': 'Change %d: %s' % (number, title),
                'status': 'PASS' if ok else 'FAIL', 'error': error, 'recreate_error': recreate[1],
                'seconds': {'ours': round(seconds, 1), 'recreate': round(recreate[2], 1)}, 'flows': flows,
                'notes': list(notes), 'sessions': sessions, 'warned': warned}
