"""The lab's traffic witness: steady ICMP echo flows between VM stand-ins, recorded inside their namespaces.

    python -m lab.traffic start PLAN.json OUT.json   start the flows (detached), wait until each has an answer
    python -m lab.traffic stop PLAN.json OUT.json    stop them, read what each recorded: sent, received, lost, gaps
    python -m lab.traffic mark PLAN.json OUT.json    the time now, on the clock the flows and sessions record with

A plan may also hold TCP sessions (``sessions``: [{id, server_netns, client_netns, address, port}]): a server in one
namespace echoes lines, a client in another connects ONCE and sends a numbered line every interval, recording each
echo's time; neither ever reconnects. ``stop`` reports, per session, the connections the server accepted, the
client's local port, the echoes before ``marks.before`` and after ``marks.after`` (the change's start and end) and
an error if the socket failed: bytes before and after the change on the same socket prove the session survived.

A flow is ``ping -D -n -i INTERVAL`` in the source VM's namespace, its output (one timestamped line per echo reply,
the kernel's clock in the guest) in a file of the lab's folder. It is bounded: ``-c`` (count) and ``-w`` (seconds)
end it by itself if nobody stops it. ``stop`` sends SIGINT (ping prints its summary) and reads the file:

- ``sent``: echo requests ping reports transmitted; ``received``: distinct sequence numbers answered;
- ``lost``: sequence numbers without an answer below the last answered one, plus the unanswered tail when it is
  longer than what was in flight at the stop (``in_flight``: the largest round trip seen, in intervals, plus two);
  a flow cut for good shows as a tail of every echo since the cut;
- ``gap_ms``: the longest time between two consecutive answers (the interval when nothing is lost).

Exact counts are the witness's verdict (the lab asserts on them); times under QEMU's emulation depend on the load.
Stdlib only: it runs in the lab's kernel, through the job channel (lab/channel.py).
"""

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time

from lab.channel import read_json, write_json

INTERVAL = 0.01  # 100 echoes a second per flow
MAX_SECONDS = 900  # a flow nobody stops ends by itself after this (ping -w) ...
READY_SECONDS = 20  # ... and must have had its first answer within this after start
SESSION_READY_SECONDS = 120  # a session starts two Pythons in namespaces: slow under emulation at load 20-30
_REPLY = re.compile(r'^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+) .*time=([\d.]+) ms')
_SUMMARY = re.compile(r'(\d+) packets transmitted, (\d+) received')


def _files(plan, flow):
    base = os.path.join(plan['dir'], flow['id'])
    return base + '.out', base + '.pid'


def _answers(text):
    """{seq: (timestamp, rtt_ms)} of the echo replies in ping's output (duplicates keep the first)."""
    answers = {}
    for line in text.splitlines():
        found = _REPLY.match(line)
        if found:
            answers.setdefault(int(found.group(2)), (float(found.group(1)), float(found.group(3))))
    return answers


def views(namespaces):
    """{netns: {links, vlans}}: iproute2's JSON view of the links (details) and bridge VLAN tables of ``namespaces``
    (the nodes, just before a change: saves the lab a job of its own)."""
    found = {}
    for netns in namespaces:
        entry = {}
        for name, argv in (('links', ['ip', '-n', netns, '-d', '-j', 'link', 'show']),
                           ('vlans', ['bridge', '-n', netns, '-j', 'vlan', 'show'])):
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
            try:
                entry[name] = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else []
            except ValueError:
                entry[name] = []
        found[netns] = entry
    return found


def _session_files(plan, session):
    base = os.path.join(plan['dir'], session['id'])
    return {'log': base + '.tcp', 'client': base + '.client.json', 'server': base + '.server.json',
            'pids': base + '.tcp.pids'}


def serve(address, port, status_path):
    """The server end of a session: accept ONE connection, echo every line back until it closes; write what it
    accepted (count, peer) and echoed to ``status_path`` as it goes."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, port))
    listener.listen(4)
    status = {'accepted': 0, 'peer': None, 'echoed_bytes': 0, 'error': None}
    write_json(status_path, status)
    conn, peer = listener.accept()
    status.update(accepted=1, peer='%s:%d' % peer)
    write_json(status_path, status)
    listener.close()  # a second connection would be refused: one socket for the whole session
    try:
        while True:
            data = conn.recv(4096)
            if not data:
                break
            conn.sendall(data)
            status['echoed_bytes'] += len(data)
    except OSError as exc:
        status['error'] = '%s: %s' % (type(exc).__name__, exc)
    status['closed'] = True
    write_json(status_path, status)
    return 0


def converse(address, port, interval, log_path, status_path):
    """The client end: connect once (retrying until the server listens), then a numbered line every ``interval``,
    each echo's arrival time and number in ``log_path``; any socket error ends it (written to ``status_path``)."""
    status = {'connects': 0, 'local': None, 'error': None}
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_args: stopping.append(True))
    deadline = time.monotonic() + SESSION_READY_SECONDS
    while True:
        try:
            conn = socket.create_connection((address, port), timeout=5)
            break
        except OSError as exc:
            if time.monotonic() > deadline:
                status['error'] = 'connect: %s' % exc
                write_json(status_path, status)
                return 1
            time.sleep(0.2)
    status.update(connects=1, local='%s:%d' % conn.getsockname()[:2])
    write_json(status_path, status)
    conn.settimeout(60)  # TCP retransmits through a short outage; a minute of silence is a failed session
    reader = conn.makefile('rb')
    seq = 0
    with open(log_path, 'w', encoding='utf-8', buffering=1) as log:
        try:
            while not stopping:
                seq += 1
                conn.sendall(b'%d\n' % seq)
                line = reader.readline()
                if not line:
                    raise OSError('the server closed the connection')
                log.write('%.6f %s\n' % (time.time(), line.decode('ascii', 'replace').strip()))
                time.sleep(interval)
        except OSError as exc:
            status['error'] = '%s: %s' % (type(exc).__name__, exc)
    status['sent'] = seq
    status['stopped'] = bool(stopping)
    write_json(status_path, status)
    conn.close()
    return 0


def start_sessions(plan):
    """Start every session of ``plan`` (server, then client), detached; wait for their first echo."""
    started = {}
    for session in plan.get('sessions') or []:
        files = _session_files(plan, session)
        for path in files.values():
            if os.path.exists(path):
                os.unlink(path)
        me = [sys.executable, '-m', 'lab.traffic']
        pids = []
        server = ['serve', session['address'], str(session['port']), files['server']]
        client = ['converse', session['address'], str(session['port']), str(plan.get('interval', INTERVAL)),
                  files['log'], files['client']]
        for netns, args in ((session['server_netns'], server), (session['client_netns'], client)):
            proc = subprocess.Popen(['ip', 'netns', 'exec', netns] + me + args,  # pylint: disable=consider-using-with
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True, cwd=os.getcwd())
            pids.append(proc.pid)
        with open(files['pids'], 'w', encoding='utf-8') as handle:
            handle.write(' '.join(map(str, pids)))
        started[session['id']] = pids
    deadline = time.monotonic() + SESSION_READY_SECONDS
    waiting = set(started)
    while waiting and time.monotonic() < deadline:
        time.sleep(0.2)
        for session in plan.get('sessions') or []:
            log = _session_files(plan, session)['log']
            if session['id'] in waiting and os.path.exists(log) and os.path.getsize(log) > 0:
                waiting.discard(session['id'])
    return started, sorted(waiting)


def session_verdict(log_text, client, server, marks):
    """What one session shows: echoes (and bytes) before the change began and after it ended, on one socket."""
    times = []
    for line in log_text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            times.append((float(parts[0]), int(parts[1])))
    before = [seq for when, seq in times if when < marks.get('before', 0)]
    after = [seq for when, seq in times if when > marks.get('after', float('inf'))]
    in_order = [seq for _when, seq in times] == list(range(1, len(times) + 1))
    gaps = [later[0] - earlier[0] for earlier, later in zip(times, times[1:])]
    client, server = client or {}, server or {}
    return {'echoes': len(times), 'before': len(before), 'after': len(after), 'in_order': in_order,
            'bytes_before': sum(len(b'%d\n' % seq) for seq in before),
            'bytes_after': sum(len(b'%d\n' % seq) for seq in after),
            'gap_ms': round(max(gaps) * 1000.0, 1) if gaps else None,
            'connects': client.get('connects', 0), 'local': client.get('local'), 'accepted': server.get('accepted', 0),
            'peer': server.get('peer'), 'error': client.get('error') or server.get('error'),
            'survived': bool(before) and bool(after) and in_order and client.get('connects') == 1 and
            server.get('accepted') == 1 and server.get('peer') == client.get('local') and
            not client.get('error') and not server.get('error')}


def stop_sessions(plan):
    """Stop every session (the client first: SIGTERM ends its loop; then the server sees the close) and judge it."""
    results = {}
    for session in plan.get('sessions') or []:
        files = _session_files(plan, session)
        try:
            with open(files['pids'], encoding='utf-8') as handle:
                client_pid = [int(pid) for pid in handle.read().split()]
        except (OSError, ValueError):
            results[session['id']] = {'error': 'never started', 'survived': False}
            continue
        # ip netns exec execs the program: the pids are the server's and the client's own
        for pid in reversed(client_pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            _wait_all([pid], timeout=10)
        try:
            with open(files['log'], encoding='utf-8') as handle:
                text = handle.read()
        except OSError:
            text = ''
        results[session['id']] = session_verdict(text, read_json(files['client']), read_json(files['server']),
                                                 plan.get('marks') or {})
        for path in files.values():
            if os.path.exists(path):
                os.unlink(path)
    return results


def start(plan):
    """Start every flow of ``plan`` ({dir, interval, flows: [{id, netns, target}], views: [netns]}) detached; wait
    for an answer; with ``views``, iproute2's view of those namespaces first."""
    os.makedirs(plan['dir'], exist_ok=True)
    seen = views(plan.get('views') or [])
    interval = plan.get('interval', INTERVAL)
    count = int(MAX_SECONDS / interval)
    started, stale = {}, []
    for flow in plan['flows']:
        out, pid_file = _files(plan, flow)
        # a flow of an earlier run that was never stopped: stop it, and give the new one a file of its own (an old
        # ping still writing into a reused file would mix its answers in)
        try:
            with open(pid_file, encoding='utf-8') as handle:
                old = int(handle.read().strip())
            if _interrupt(old):
                stale.append(flow['id'])
                _wait_all([old])
        except (OSError, ValueError):
            pass
        for path in (out, pid_file):
            if os.path.exists(path):
                os.unlink(path)
        with open(out, 'w', encoding='utf-8') as handle:
            proc = subprocess.Popen(  # pylint: disable=consider-using-with
                ['ip', 'netns', 'exec', flow['netns'], 'ping', '-D', '-n', '-i', str(interval), '-W', '1',
                 '-c', str(count), '-w', str(MAX_SECONDS), flow['target']],
                stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        with open(pid_file, 'w', encoding='utf-8') as handle:
            handle.write(str(proc.pid))
        started[flow['id']] = proc.pid
    deadline = time.monotonic() + READY_SECONDS
    waiting = set(started)
    while waiting and time.monotonic() < deadline:
        time.sleep(0.2)
        for flow in plan['flows']:
            # ping's output to a file is block-buffered: a block with an answer shows within a second at this rate
            if flow['id'] in waiting and _has_answer(_files(plan, flow)[0]):
                waiting.discard(flow['id'])
    sessions, sessions_waiting = start_sessions(plan)
    return {'pids': started, 'not_ready': sorted(waiting) + sessions_waiting, 'views': seen, 'stale': stale,
            'sessions': sessions, 'time': time.time()}


def _has_answer(path):
    try:
        with open(path, encoding='utf-8', errors='replace') as handle:
            return ' bytes from ' in handle.read()
    except OSError:
        return False


def _interrupt(pid):
    """SIGINT to ping: it stops sending, prints its summary and exits."""
    try:
        os.kill(pid, signal.SIGINT)
        return True
    except ProcessLookupError:
        return False


def _ended(pid):
    try:
        with open('/proc/%d/stat' % pid, encoding='utf-8') as handle:
            return handle.read().split(') ')[-1].startswith('Z')
    except OSError:
        return True


def _wait_all(pids, timeout=20):
    """Wait for every ping of ``pids`` to end; SIGKILL the ones that do not within ``timeout``: their ids."""
    deadline = time.monotonic() + timeout
    left = set(pids)
    while left and time.monotonic() < deadline:
        left = set(pid for pid in left if not _ended(pid))
        if left:
            time.sleep(0.05)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def verdict(text, interval=INTERVAL):
    """What one flow's ping output says: sent, received, lost, in_flight, tail, gap_ms, first/last seq answered."""
    answers = _answers(text)
    summary = _SUMMARY.search(text)
    sent = int(summary.group(1)) if summary else (max(answers) if answers else 0)
    result = {'sent': sent, 'received': len(answers), 'summary': bool(summary)}
    if not answers:
        result.update(lost=sent, in_flight=0, tail=sent, gap_ms=None, holes=sent)
        return result
    last = max(answers)
    holes = sum(1 for seq in range(1, last) if seq not in answers)
    in_flight = int(math.ceil(max(rtt for _ts, rtt in answers.values()) / 1000.0 / interval)) + 2
    tail = max(0, sent - last)
    ordered = [answers[seq][0] for seq in sorted(answers)]
    gaps = [later - earlier for earlier, later in zip(ordered, ordered[1:])]
    result.update(holes=holes, tail=tail, in_flight=in_flight, lost=holes + (tail if tail > in_flight else 0),
                  gap_ms=round(max(gaps) * 1000.0, 1) if gaps else None, first=min(answers), last=last,
                  seconds=round(ordered[-1] - ordered[0], 2))
    return result


def stop(plan):
    """Stop every flow of ``plan`` (all at once) and judge its output; {flow id: verdict (+ 'stop' note)}."""
    results, pids = {}, {}
    sessions = stop_sessions(plan)
    if sessions:
        results['sessions'] = sessions
    for flow in plan['flows']:
        try:
            with open(_files(plan, flow)[1], encoding='utf-8') as handle:
                pids[flow['id']] = int(handle.read().strip())
        except (OSError, ValueError):
            results[flow['id']] = {'error': 'never started'}
    running = dict((flow_id, pid) for flow_id, pid in pids.items() if _interrupt(pid))
    killed = _wait_all(running.values())
    for flow in plan['flows']:
        if flow['id'] not in pids:
            continue
        out, pid_file = _files(plan, flow)
        with open(out, encoding='utf-8', errors='replace') as handle:
            text = handle.read()
        result = verdict(text, plan.get('interval', INTERVAL))
        result['stop'] = 'had ended by itself' if flow['id'] not in running else (
            'killed (did not stop on SIGINT)' if pids[flow['id']] in killed else None)
        results[flow['id']] = result
        for path in (out, pid_file):
            os.unlink(path)
    return results


def main(argv):
    if argv[:1] == ['serve'] and len(argv) == 4:
        return serve(argv[1], int(argv[2]), argv[3])
    if argv[:1] == ['converse'] and len(argv) == 6:
        return converse(argv[1], int(argv[2]), float(argv[3]), argv[4], argv[5])
    if len(argv) != 3 or argv[0] not in ('start', 'stop', 'mark'):
        sys.stderr.write(__doc__)
        return 2
    plan = read_json(argv[1], strict=True)
    actions = {'start': start, 'stop': stop, 'mark': lambda _plan: {'time': time.time()}}
    write_json(argv[2], actions[argv[0]](plan))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
