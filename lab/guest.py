"""The lab's hands where its namespaces live (run through the job channel, in the QEMU guest or natively).

    python -m lab.guest run-plan PLAN.json           run commands in order, stop at the first failure
    python -m lab.guest attach PLAN.json OUT.json    VM stand-ins: namespaces attached by the bridge CNI plugin
    python -m lab.guest probe PLAN.json OUT.json     pings and DHCP discoveries, in parallel
    python -m lab.guest snapshot PLAN.json OUT.json  iproute2's JSON view of some namespaces
    python -m lab.guest teardown PREFIX             delete the namespaces named PREFIX*, and every process in them

The host side (lab.topology, lab.vms, lab.checks) decides everything and writes the plans; this module only
executes them and reports what happened. Stdlib only: under QEMU's software emulation every import counts.
"""

import concurrent.futures
import json
import os
import re
import select
import subprocess
import sys
import time

from lab.channel import read_json, write_json

CMD_TIMEOUT = 120
BUSYBOX = '/bin/busybox'
_PING = re.compile(r'(\d+) packets transmitted, (\d+) (?:packets )?received')
_LEASE = re.compile(r'^LEASE (.*)$', re.MULTILINE)


def say(message):
    sys.stdout.write(message + '\n')
    sys.stdout.flush()


def run(argv, stdin=None, timeout=CMD_TIMEOUT, env=None):
    """Run a command; returns ``(rc, stdout, stderr)`` as text, never raises for a failing command."""
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, env=full_env,
                              check=False)
    except subprocess.TimeoutExpired:
        return 124, '', '%s: timed out after %ss' % (argv[0], timeout)
    except OSError as exc:
        return 127, '', '%s: %s' % (argv[0], exc)
    return proc.returncode, proc.stdout, proc.stderr


# ---------------------------------------------------------------------------------------------------------------------
# run-plan


def run_plan(plan):
    """``plan``: {steps: [{desc, argv, input}]}; prints a line per step. Returns 0, or 1 at the first failure."""
    steps = plan['steps']
    for index, step in enumerate(steps, start=1):
        rc, out, err = run(step['argv'], stdin=step.get('input'), timeout=step.get('timeout', CMD_TIMEOUT))
        if rc != 0:
            say('FAILED step %d/%d (%s): %s exited %d: %s' % (index, len(steps), step['desc'], ' '.join(step['argv']),
                                                              rc, ' / '.join((err or out).strip().splitlines())[-1500:]))
            return 1
        if step.get('say'):
            say(step['say'])
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# attach: VM stand-ins


def _dhcp(netns, ifname, hook, tries=4):
    """busybox udhcpc in ``netns`` on ``ifname``; ``hook`` prints ``LEASE k=v ...``. Returns (lease dict or None, log)."""
    argv = ['ip', 'netns', 'exec', netns, BUSYBOX, 'udhcpc', '-i', ifname, '-f', '-q', '-n', '-t', str(tries),
            '-T', '2', '-s', hook]
    started = time.monotonic()
    rc, out, err = run(argv, timeout=tries * 4 + 20)
    found = _LEASE.search(out)
    lease = None
    if found:
        lease = dict(item.split('=', 1) for item in found.group(1).split() if '=' in item)
    log = 'udhcpc exit %d after %.1fs%s' % (rc, time.monotonic() - started,
                                            (': ' + err.strip().splitlines()[-1]) if err.strip() and not lease else '')
    return lease, log


def attach_vm(vm, hooks):
    """One VM stand-in: its namespace, then per NIC the bridge CNI plugin (run in the node's namespace with the NAD's
    config on stdin, as Multus runs it), the MAC, and the addresses of its network data (static or DHCP)."""
    result = {'vm': vm['vm'], 'netns': vm['netns'], 'nics': [], 'error': None}
    for argv in (['ip', 'netns', 'add', vm['netns']], ['ip', '-n', vm['netns'], 'link', 'set', 'lo', 'up']):
        rc, out, err = run(argv)
        if rc != 0:
            result['error'] = '%s: %s' % (' '.join(argv), (err or out).strip())
            return result
    for nic in vm['nics']:
        entry = {'name': nic['name'], 'ifname': nic['ifname'], 'network': nic['network'], 'errors': []}
        result['nics'].append(entry)
        bridge = nic.get('bridge')
        entry['bridge_existed'] = bool(bridge) and run(['ip', '-n', nic['node_netns'], 'link', 'show', bridge])[0] == 0
        env = {'CNI_COMMAND': 'ADD', 'CNI_CONTAINERID': nic['container_id'], 'CNI_NETNS': '/run/netns/' + vm['netns'],
               'CNI_IFNAME': nic['ifname'], 'CNI_PATH': nic['cni_path']}
        rc, out, err = run(['ip', 'netns', 'exec', nic['node_netns'], os.path.join(nic['cni_path'], 'bridge')],
                           stdin=nic['config'], env=env)
        entry['cni_rc'] = rc
        try:
            entry['cni_result'] = json.loads(out) if out.strip() else None
        except ValueError:
            entry['cni_result'] = out.strip()
        if rc != 0:
            entry['errors'].append('bridge CNI plugin exited %d: %s' % (rc, (err or out).strip()[-500:]))
            continue
        if nic.get('mac'):
            rc, out, err = run(['ip', '-n', vm['netns'], 'link', 'set', nic['ifname'], 'address', nic['mac']])
            if rc != 0:
                entry['errors'].append('setting MAC %s: %s' % (nic['mac'], err.strip()))
        link = run(['ip', '-n', vm['netns'], '-j', 'link', 'show', nic['ifname']])[1]
        try:
            entry['mac'] = json.loads(link)[0]['address']
        except (ValueError, IndexError, KeyError):
            entry['mac'] = None
        if nic['mode'] == 'static':
            for address in nic['addresses']:
                rc, out, err = run(['ip', '-n', vm['netns'], 'addr', 'add', address, 'dev', nic['ifname']])
                if rc != 0:
                    entry['errors'].append('ip addr add %s: %s' % (address, err.strip()))
            if nic.get('gateway'):
                rc, out, err = run(['ip', '-n', vm['netns'], 'route', 'add', 'default', 'via', nic['gateway']])
                if rc != 0:
                    entry['errors'].append('default route via %s: %s' % (nic['gateway'], err.strip()))
        elif nic['mode'] == 'dhcp':
            entry['lease'], entry['dhcp_log'] = _dhcp(vm['netns'], nic['ifname'], hooks['apply'])
        for vlan in nic.get('vlans') or []:  # the guest's VLAN interfaces on this NIC (network data ``vlans``)
            lines = ['link add link %s name %s type vlan id %d' % (nic['ifname'], vlan['ifname'], vlan['vid'])]
            lines += ['addr add %s dev %s' % (address, vlan['ifname']) for address in vlan['addresses']]
            lines.append('link set %s up' % vlan['ifname'])
            rc, out, err = run(['ip', '-n', vm['netns'], '-batch', '-'], stdin='\n'.join(lines) + '\n')
            if rc != 0:
                entry['errors'].append('VLAN interface %s: %s' % (vlan['ifname'], (err or out).strip()))
    return result


def attach(plan):
    """Attach every VM of ``plan`` ({vms: [...], hooks: {...}}), a few at a time."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda vm: attach_vm(vm, plan['hooks']), plan['vms']))
    for result in results:
        leases = ['%s %s' % (nic['ifname'], nic['lease']['ip']) for nic in result['nics'] if nic.get('lease')]
        errors = [err for nic in result['nics'] for err in nic['errors']] + ([result['error']] if result['error'] else [])
        say('  %-10s %s%s' % (result['vm'], 'attached' if not errors else 'FAILED: ' + '; '.join(errors),
                              (' (DHCP: %s)' % ', '.join(leases)) if leases else ''))
    return {'vms': results}


# ---------------------------------------------------------------------------------------------------------------------
# probe


def ping(probe):
    argv = ['ip', 'netns', 'exec', probe['netns'], 'ping', '-n', '-q', '-c', str(probe.get('count', 3)), '-i', '0.2',
            '-W', str(probe.get('wait', 2)), probe['target']]
    rc, out, err = run(argv, timeout=60)
    found = _PING.search(out)
    sent, received = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
    neigh = run(['ip', '-n', probe['netns'], '-j', 'neigh', 'show', probe['target']])[1]
    try:
        states = sorted(set(state for entry in json.loads(neigh or '[]') for state in entry.get('state', [])))
    except ValueError:
        states = []
    rtt = re.search(r'= [\d.]+/([\d.]+)/', out)
    return {'sent': sent, 'received': received, 'rc': rc, 'neighbour': states,
            'rtt_ms': float(rtt.group(1)) if rtt else None, 'error': err.strip()[-300:] if not found else None}


def dhcp(probe):
    lease, log = _dhcp(probe['netns'], probe['ifname'], probe['hook'], tries=probe.get('tries', 3))
    return {'lease': lease, 'log': log}


def read_file(probe):
    try:
        with open(probe['path'], encoding='utf-8', errors='replace') as handle:
            return {'text': handle.read()}
    except OSError as exc:
        return {'text': None, 'error': str(exc)}


def command(probe):
    rc, out, err = run(probe['argv'], timeout=probe.get('timeout', 60))
    return {'rc': rc, 'stdout': out, 'stderr': err[-1000:]}


SNIFF = r"""
import select, socket, sys, time
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
sock.bind((sys.argv[1], 0))
mac = bytes.fromhex(sys.argv[2].replace(':', ''))
print('ready', flush=True)
deadline, count = time.monotonic() + float(sys.argv[3]), 0
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        print('not stopped within %ss' % sys.argv[3], flush=True)
        break
    readable = select.select([sock, sys.stdin], [], [], left)[0]
    if sock in readable:
        count += sock.recv(65535)[6:12] == mac
    if sys.stdin in readable:
        print(count, flush=True)
        break
"""
LISTEN_LIMIT = 300  # a listener that is never told to stop gives up (and reports no count) after this many seconds


def _ready(proc, deadline):
    """Wait (until ``deadline``) for a listener's 'ready' line."""
    while time.monotonic() < deadline:
        readable, _w, _x = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if readable:
            return proc.stdout.readline().strip() == 'ready'
    return False


def leak(probe):
    """Do frames sent by ``probe['source']`` arrive at NICs of other VLANs?  Listeners count the frames whose source
    MAC is the sender's, from before the sender pings its subnet's broadcast address (flooded in its VLAN, nowhere
    else) until a second after it ended. A listener that was not ready in time reports no count, never zero."""
    listeners = []
    for item in probe['listeners']:
        proc = subprocess.Popen(['ip', 'netns', 'exec', item['netns'], sys.executable, '-I', '-S', '-c', SNIFF,  # pylint: disable=consider-using-with
                                 item['ifname'], probe['mac'], str(LISTEN_LIMIT)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        listeners.append((item, proc))
    deadline = time.monotonic() + 120
    ready = [_ready(proc, deadline) for _item, proc in listeners]
    source = probe['source']
    sent = run(['ip', 'netns', 'exec', source['netns'], 'ping', '-n', '-q', '-b', '-c', '3', '-i', '0.3', '-W', '1',
                source['broadcast']], timeout=30)
    time.sleep(1)
    counts = {}
    for (item, proc), was_ready in zip(listeners, ready):
        try:
            out, err = proc.communicate(input='stop\n', timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        lines = out.split()
        counts[item['vm']] = int(lines[-1]) if was_ready and lines and lines[-1].isdigit() else \
            'no count (listener %s, exit %s%s)' % ('ready' if was_ready else 'not ready within 120s', proc.returncode,
                                                   (': ' + err.strip()[-200:]) if err.strip() else '')
    return {'counts': counts, 'ping_rc': sent[0]}


def _json(argv):
    rc, out, _err = run(argv)
    try:
        return json.loads(out) if rc == 0 and out.strip() else []
    except ValueError:
        return []


def confinement(probe):
    """Do the lab's namespaces have a cable out?  Only lo, veth, bridge, bond and VLAN links may be in them, every veth
    must end in one of them, and the namespace the lab runs from (the guest's or this machine's) must have no link into
    them."""
    prefix = probe['prefix']
    named = _json(['ip', '-j', 'netns', 'list'])
    lab = sorted(item['name'] for item in named if item['name'].startswith(prefix))
    lab_ids = set(item['id'] for item in named if item['name'].startswith(prefix) and 'id' in item)
    problems, kinds, links = [], {}, 0
    for link in _json(['ip', '-j', '-d', 'link', 'show']):
        if link.get('link_netnsid') in lab_ids:
            problems.append('the root namespace has %s, cabled into the lab' % link['ifname'])
    for name in lab:
        ids = dict((item['id'], item['name']) for item in _json(['ip', '-n', name, '-j', 'netns', 'list']) if 'id' in item)
        for link in _json(['ip', '-n', name, '-j', '-d', 'link', 'show']):
            links += 1
            kind = (link.get('linkinfo') or {}).get('info_kind') or ('loopback' if link['ifname'] == 'lo' else 'device')
            kinds[kind] = kinds.get(kind, 0) + 1
            if kind not in ('loopback', 'veth', 'bridge', 'bond', 'vlan'):
                problems.append('%s: %s is a %s' % (name, link['ifname'], kind))
            peer = link.get('link_netnsid')
            if kind == 'veth' and peer is not None and not ids.get(peer, '').startswith(prefix):
                problems.append('%s: the peer of %s is in %s' % (name, link['ifname'], ids.get(peer, 'an unnamed namespace')))
    return {'namespaces': lab, 'links': links, 'kinds': kinds, 'problems': problems,
            'root_links': sorted(link['ifname'] for link in _json(['ip', '-j', 'link', 'show']))}


PROBES = {'ping': ping, 'dhcp': dhcp, 'file': read_file, 'command': command, 'leak': leak, 'confinement': confinement}


def probe_all(plan):
    """Run ``plan['probes']`` ([{id, kind, ...}]) in parallel; returns {id: result (with 'seconds')}."""
    def one(probe):
        started = time.monotonic()
        try:
            result = PROBES[probe['kind']](probe)
        except Exception as exc:  # pylint: disable=broad-except
            result = {'error': '%s: %s' % (type(exc).__name__, exc)}
        result['seconds'] = round(time.monotonic() - started, 2)
        return probe['id'], result
    with concurrent.futures.ThreadPoolExecutor(max_workers=plan.get('parallel', 6)) as pool:
        return dict(pool.map(one, plan['probes']))


# ---------------------------------------------------------------------------------------------------------------------
# snapshot


def snapshot(plan):
    """{netns: {links, addresses, routes, vlans}} as iproute2 prints them in JSON."""
    views = {'links': ['ip', '-d', '-j', 'link', 'show'], 'addresses': ['ip', '-j', 'addr', 'show'],
             'routes': ['ip', '-j', 'route', 'show'], 'vlans': ['bridge', '-j', 'vlan', 'show']}
    result = {}
    for netns in plan['namespaces']:
        entry = {}
        for name, argv in views.items():
            rc, out, err = run([argv[0], '-n', netns] + argv[1:])
            try:
                entry[name] = json.loads(out) if rc == 0 and out.strip() else ([] if rc == 0 else {'error': err.strip()})
            except ValueError:
                entry[name] = {'error': 'not JSON: %s' % out[:200]}
        result[netns] = entry
    return result


def teardown(prefix):
    """Kill every process in the namespaces whose name starts with ``prefix``, then delete them. Returns 0 or 1."""
    rc, out, err = run(['ip', 'netns', 'list'])
    names = [line.split()[0] for line in out.splitlines() if line.strip() and line.split()[0].startswith(prefix)]
    failed = []
    for name in names:
        for pid in run(['ip', 'netns', 'pids', name])[1].split():
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass
        rc, out, err = run(['ip', 'netns', 'delete', name])
        if rc != 0:
            failed.append('%s: %s' % (name, err.strip()))
    say('removed %d namespaces%s' % (len(names) - len(failed), ('; failed: ' + '; '.join(failed)) if failed else ''))
    return 1 if failed else 0


def main(argv):
    if len(argv) == 2 and argv[0] == 'teardown':
        return teardown(argv[1])
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    action, plan = argv[0], read_json(argv[1], strict=True)
    if action == 'run-plan':
        return run_plan(plan)
    handlers = {'attach': attach, 'probe': probe_all, 'snapshot': snapshot}
    if action not in handlers or len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    write_json(argv[2], handlers[action](plan))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
