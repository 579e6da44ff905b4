"""The lab's traffic witness: steady ICMP echo flows between VM stand-ins, recorded inside their namespaces.

    python -m lab.traffic start PLAN.json OUT.json   start the flows (detached), wait until each has an answer
    python -m lab.traffic stop PLAN.json OUT.json    stop them, read what each recorded: sent, received, lost, gaps

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
import subprocess
import sys
import time

from lab.channel import read_json, write_json

INTERVAL = 0.01  # 100 echoes a second per flow
MAX_SECONDS = 900  # a flow nobody stops ends by itself after this (ping -w) ...
READY_SECONDS = 20  # ... and must have had its first answer within this after start
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
    return {'pids': started, 'not_ready': sorted(waiting), 'views': seen, 'stale': stale}


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
    if len(argv) != 3 or argv[0] not in ('start', 'stop'):
        sys.stderr.write(__doc__)
        return 2
    plan = read_json(argv[1], strict=True)
    write_json(argv[2], (start if argv[0] == 'start' else stop)(plan))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
