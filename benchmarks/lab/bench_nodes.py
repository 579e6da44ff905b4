"""``make bench-nodes``: playbooks/site.yml on the lab grown to N nodes (HN_LAB_NODES), N = 2, 4, 8, 16 by default.

Not a test: numbers for docs/benchmarks.md. For each N, a fresh lab (keeper with Harvester's stand-in, the topology
with N nodes, each with its management NIC and the two uplink NICs site.yml bonds under the VLAN bridge with the
trunk; the VM stand-ins are not attached), then site.yml twice with ``harvester_serial=N`` and ``--forks`` >= N: the
converge and the no-op re-run. Per run: wall time, per node, the plays that took longest, and the controller's CPU
time (ansible-playbook and everything it waited for: its forks, the cluster modules, the node relays; the node
modules themselves run where the lab's kernel is, a QEMU guest here, and are not in it). A budget (``--budget``,
seconds) stops before an N that would start after it; the table says where it stopped.

    python benchmarks/lab/bench_nodes.py [--nodes 2,4,8,16] [--budget 3600] [--write docs/benchmarks.md]
"""

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from lab import lifecycle, playbook  # noqa: E402  pylint: disable=wrong-import-position
from lab.bed import Bed  # noqa: E402  pylint: disable=wrong-import-position
from lab.config import NODES_ENV, World, lab_home  # noqa: E402  pylint: disable=wrong-import-position
from lab.slices import write_section  # noqa: E402  pylint: disable=wrong-import-position
from testbeds import cni  # noqa: E402  pylint: disable=wrong-import-position
from testbeds.common import children_cpu, processes_cpu, progress  # noqa: E402  pylint: disable=wrong-import-position

BEGIN, END = '<!-- lab-nodes-benchmark:begin -->', '<!-- lab-nodes-benchmark:end -->'


def _guest_cpu(marker):
    """CPU seconds so far of the QEMU guest the lab's nodes live in (the process whose command line shares the lab's
    run folder ``marker``): the nodes' side of a run, module processes and kernel alike; None without a guest."""
    return processes_cpu(marker, program='qemu')


def _load():
    return ' '.join('%.1f' % value for value in os.getloadavg())


def measure(home, count):
    """One N: a fresh lab, site.yml converge and no-op re-run; returns the entry for the table."""
    os.environ[NODES_ENV] = str(count)
    world = World()
    bed = Bed(home, world)
    lifecycle.stop(bed.paths)
    entry = {'nodes': count, 'load_start': _load(), 'runs': {}}
    started = time.monotonic()
    try:
        bed.cni_bin = cni.build()
        bed.cluster = lifecycle.start(bed.paths, world, harvester=True)
        bed.build()
        entry['lab_up_seconds'] = round(time.monotonic() - started, 1)
        extra = ['-e', 'harvester_serial=%d' % count, '--forks', str(max(count, 5))]
        for label in ('converge', 'no-op'):
            progress('bench-nodes: N=%d %s' % (count, label))
            cpu, guest = children_cpu(), _guest_cpu(bed.paths.run)
            run = playbook.run(bed.paths.run, bed.cluster['kubeconfig'], world.vars_files, 'N=%d %s' % (count, label),
                               bed.paths.state('logs', '%s.log' % label), extra=extra, echo=False)
            plays = sorted(run.plays, key=lambda item: -item[1])[:3]
            entry['runs'][label] = {
                'rc': run.rc, 'seconds': round(run.seconds, 1), 'per_node': round(run.seconds / count, 1),
                'controller_cpu': round(children_cpu() - cpu, 1),
                'guest_cpu': round(_guest_cpu(bed.paths.run) - guest, 1) if guest is not None else None,
                'changed': sum(c['changed'] for c in run.recap.values()),
                'failed': sum(c['failed'] + c['unreachable'] for c in run.recap.values()),
                'hosts': len(run.recap), 'slowest_plays': [(name, round(seconds, 1)) for name, seconds in plays],
                'failures': run.failures[:3]}
            if run.rc != 0:
                break
    finally:
        lifecycle.stop(bed.paths)
        os.environ.pop(NODES_ENV, None)
    entry['load_end'] = _load()
    entry['seconds'] = round(time.monotonic() - started, 1)
    return entry


def versions():
    from ansible.release import __version__ as ansible_core  # pylint: disable=import-outside-toplevel
    return {'ansible_core': ansible_core, 'python': platform.python_version(), 'kernel': platform.release(),
            'cpus': os.cpu_count()}


def table(saved):
    info = saved['versions']
    lines = ['## Nodes: site.yml on the lab with N nodes', '',
             'Measured by `make bench-nodes` (`benchmarks/lab/bench_nodes.py`), %s: the lab grown with `HN_LAB_NODES` '
             '(each node a network namespace with its management NIC and two uplink NICs that site.yml bonds under '
             'the VLAN bridge with the trunk), a fresh lab per N, `site.yml` with `harvester_serial=N` and `--forks` '
             '>= N, the converge then the no-op re-run. Machine: %d cores, Linux %s, Python %s, ansible-core %s; the '
             'nodes run in a QEMU guest (TCG), and the machine was shared with other engineers\' guests and tests: '
             'the load average is given per N. "controller CPU" is the CPU time of ansible-playbook and all it waited '
             'for (forks, cluster modules, node relays); "nodes CPU" is the CPU '
             'time of the QEMU guest the nodes live in (their modules, their kernel), 2 vCPUs on the same 2 cores.'
             % (saved['started'], info['cpus'], info['kernel'], info['python'], info['ansible_core']), '',
             '| N | run | wall s | s per node | controller CPU s | nodes CPU s | changed | failed | slowest plays (s) '
             '| load start / end |', '|---|---|---|---|---|---|---|---|---|---|']
    for entry in saved['entries']:
        for label, run in entry['runs'].items():
            plays = '; '.join('%s %.0f' % (name, seconds) for name, seconds in run['slowest_plays'])
            guest = run.get('guest_cpu')
            lines.append('| %d | %s | %.1f | %.1f | %.1f | %s | %d | %d | %s | %s / %s |'
                         % (entry['nodes'], label, run['seconds'], run['per_node'], run['controller_cpu'],
                            '-' if guest is None else '%.1f' % guest, run['changed'], run['failed'], plays,
                            entry['load_start'], entry['load_end']))
        if entry.get('error'):
            lines.append('| %d | error | | | | | | | %s | |' % (entry['nodes'], entry['error'][:200]))
    noop = dict((entry['nodes'], entry['runs'].get('no-op', {}).get('seconds')) for entry in saved['entries'])
    base = noop.get(min(noop)) if noop else None
    if base and len(noop) > 1:
        lines += ['', 'No-op re-run against N=%d: %s (goal, issue 17: N=16 at most 2x N=2).'
                  % (min(noop), ', '.join('N=%d %.2fx' % (n, seconds / base) for n, seconds in sorted(noop.items())
                                          if seconds))]
    if saved.get('stopped'):
        lines += ['', 'Stopped: %s' % saved['stopped']]
    lines += ['', 'Benchmark wall time: %.0f s.' % saved['wall']]
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--nodes', default='2,4,8,16', help='the Ns, comma-separated (default 2,4,8,16)')
    parser.add_argument('--budget', type=float, default=3600, help='seconds; no N starts after it (default 3600)')
    parser.add_argument('--home', help='the lab folder (default <lab home>/bench-nodes)')
    parser.add_argument('--write', help='write the table into this Markdown file (docs/benchmarks.md)')
    parser.add_argument('--stopped', help='with --doc-from: why the run stopped (a run cut short by hand)')
    parser.add_argument('--doc-from', metavar='JSON', help='only write the table of a saved bench-nodes.json')
    args = parser.parse_args(argv)
    if args.doc_from:
        with open(args.doc_from, encoding='utf-8') as handle:
            saved = json.load(handle)
        if 'stopped' not in saved and args.stopped:
            saved['stopped'] = args.stopped
        text = table(saved)
        sys.stdout.write(text + '\n')
        if args.write:
            write_section(args.write, text, BEGIN, END)
        return 0
    counts = [int(item) for item in args.nodes.split(',') if item.strip()]
    home = args.home or os.path.join(lab_home(), 'bench-nodes')
    os.makedirs(home, exist_ok=True)
    started = time.monotonic()
    saved = {'started': time.strftime('%Y-%m-%d %H:%M %Z'), 'versions': versions(), 'entries': []}
    for count in counts:
        if time.monotonic() - started > args.budget:
            saved['stopped'] = 'N=%d and later not started: the budget of %.0f s was spent' % (count, args.budget)
            break
        try:
            entry = measure(home, count)
        except (lifecycle.LabError, OSError, ValueError) as exc:
            entry = {'nodes': count, 'runs': {}, 'error': '%s: %s' % (type(exc).__name__, exc)}
        saved['entries'].append(entry)
        saved['wall'] = time.monotonic() - started
        with open(os.path.join(home, 'bench-nodes.json'), 'w', encoding='utf-8') as handle:
            json.dump(saved, handle, indent=1)
        progress('bench-nodes: N=%d done: %s' % (count, json.dumps(entry['runs'])[:400]))
        if entry.get('error') or any(run['rc'] != 0 for run in entry['runs'].values()):
            saved['stopped'] = 'N=%d failed; later Ns not started' % count
            break
    saved['wall'] = time.monotonic() - started
    text = table(saved)
    sys.stdout.write(text + '\n')
    if args.write:
        write_section(args.write, text, BEGIN, END)
    failed = any(entry.get('error') or any(run['rc'] != 0 for run in entry['runs'].values())
                 for entry in saved['entries'])
    return 1 if failed or not saved['entries'] else 0


if __name__ == '__main__':
    sys.exit(main())
