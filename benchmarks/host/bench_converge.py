"""Benchmark the host engine: converge a Harvester node (a 2-slave 802.3ad bond, a VLAN-filtering bridge over it, the
bond trunking VLANs 2-4094, 100 VM-like veth ports each with its own PVID, untagged) with harvester.network, and
the same end state with ``ip -batch`` + ``bridge -batch``, in the same run, on the same kernel; then the engine's
no-op re-check; then ansible-playbook wall times for host_network against a play running ip/bridge through
ansible.builtin.command.

Run it where the kernel has bonding and VLAN filtering, e.g. in the kernel bed's guest, writing into the docs:

    HN_HOST_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)" python -m testbeds.kernel run --rw docs --env HN_HOST_LOAD \\
        --timeout 3000 -- ~/.cache/harvester-network/venv/bin/python benchmarks/host/bench_converge.py \\
        --write docs/benchmarks.md

Not a test: it measures and reports.  Every converge is checked to reach the same end state as ip/bridge.
"""

import argparse
import contextlib
import ctypes
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
from testbeds.collection import collections_root  # noqa: E402  pylint: disable=wrong-import-position
from testbeds.common import children_cpu  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, collections_root())
os.environ['ANSIBLE_COLLECTIONS_PATH'] = collections_root()

VMS = 100
BEGIN = '<!-- host-benchmark:begin -->'
END = '<!-- host-benchmark:end -->'
NATIVE_BEGIN = '<!-- host-native-benchmark:begin -->'
NATIVE_END = '<!-- host-native-benchmark:end -->'
_LIBC = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def netns(name):
    target = os.open('/run/netns/%s' % name, os.O_RDONLY)
    saved = os.open('/proc/thread-self/ns/net', os.O_RDONLY)
    try:
        if _LIBC.setns(target, 0x40000000):
            raise OSError(ctypes.get_errno(), 'setns')
        yield
    finally:
        _LIBC.setns(saved, 0x40000000)
        os.close(saved)
        os.close(target)


def sh(argv, **kwargs):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def make_node(name):
    """NICs eth1/eth2 cabled to a switch namespace, and VM ports vm0..vm99 (veth, the VM ends stay down)."""
    sh(['ip', 'netns', 'add', name])
    sh(['ip', 'netns', 'add', name + '-sw'])
    lines = ['link set lo up']
    for nic in ('eth1', 'eth2'):
        lines += ['link add %s type veth peer name sw-%s netns %s-sw' % (nic, nic, name), 'link set %s up' % nic]
    for index in range(VMS):
        lines.append('link add vm%d type veth peer name vm%dp' % (index, index))
    sh(['ip', '-netns', name, '-batch', '-'], input='\n'.join(lines) + '\n')
    sh(['ip', '-netns', name + '-sw', '-batch', '-'], input='link set sw-eth1 up\nlink set sw-eth2 up\n')


def destroy(name):
    for ns in (name, name + '-sw'):
        subprocess.run(['ip', 'netns', 'del', ns], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def engine_params():
    return {
        'state': 'replaced',
        'bonds': [{'name': 'bo0', 'mode': '802.3ad', 'slaves': ['eth1', 'eth2'], 'miimon': 100}],
        'bridges': [{'name': 'br0', 'uplink': 'bo0', 'ports': ['vm%d' % i for i in range(VMS)]}],
        'vlans': [{'port': 'bo0', 'vids': '2-4094'}] + [{'port': 'vm%d' % i, 'pvid': 100 + i} for i in range(VMS)],
        'probes': {'enabled': False},
    }


def batch_files(folder):
    """The same end state, written as iproute2 batch files (what a careful shell script would do)."""
    links = ['link add bo0 type bond mode 802.3ad miimon 100',
             'link set eth1 down', 'link set eth1 master bo0',
             'link set eth2 down', 'link set eth2 master bo0',
             'link add br0 type bridge vlan_filtering 1 vlan_default_pvid 1 stp_state 0',
             'link set br0 promisc on',
             'link set bo0 master br0', 'link set bo0 up']
    links += ['link set vm%d master br0 up' % i for i in range(VMS)]
    links += ['link set br0 up']
    vlans = ['vlan add dev bo0 vid 2-4094']
    for i in range(VMS):
        vlans += ['vlan add dev vm%d vid %d pvid untagged' % (i, 100 + i), 'vlan del dev vm%d vid 1' % i]
    paths = (os.path.join(folder, 'links.batch'), os.path.join(folder, 'vlans.batch'))
    for path, lines in zip(paths, (links, vlans)):
        with open(path, 'w') as stream:
            stream.write('\n'.join(lines) + '\n')
    return paths, len(links) + len(vlans)


def end_state(name):
    from ansible_collections.harvester.network.plugins.module_utils.host import facts
    from ansible_collections.harvester.network.plugins.module_utils.host.netlink import Netlink
    with netns(name):
        nl = Netlink()
    try:
        state = nl.read()
    finally:
        nl.close()
    return facts.comparable(state)


def bench_engine(name):
    from ansible_collections.harvester.network.plugins.module_utils.host import engine
    with netns(name):
        start = time.perf_counter()
        result = engine.run('host_network', engine_params(), validated=False)
        elapsed = time.perf_counter() - start
        start = time.perf_counter()
        again = engine.run('host_network', engine_params(), validated=False)
        noop = time.perf_counter() - start
    assert result['changed'] and not again['changed'], again.get('commands')
    return elapsed, noop, result, again


def bench_batches(name, files):
    start = time.perf_counter()
    sh(['ip', '-netns', name, '-batch', files[0]])
    sh(['bridge', '-netns', name, '-batch', files[1]])
    return time.perf_counter() - start


def write_interpreter(folder, name):
    path = os.path.join(folder, 'python-%s' % name)
    with open(path, 'w') as stream:
        stream.write('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (shlex.quote(name), shlex.quote(sys.executable)))
    os.chmod(path, 0o755)
    return path


def playbook(folder, name, play, host=None):
    book = os.path.join(folder, 'play-%s.yml' % name)
    with open(book, 'w') as stream:
        json.dump(play, stream)  # JSON is YAML
    inventory = os.path.join(folder, 'inventory-%s' % name)
    with open(inventory, 'w') as stream:
        stream.write('%s ansible_connection=local ansible_python_interpreter=%s\n' % (
            host or name, write_interpreter(folder, host or name)))
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING='False', ANSIBLE_LOCAL_TEMP=os.path.join(folder, 'tmp'),
               ANSIBLE_NOCOLOR='1', HARVESTER_NETWORK_ROOT=os.path.join(folder, 'root'))
    command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', inventory, book]
    start = time.perf_counter()
    result = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            check=False)
    elapsed = time.perf_counter() - start
    if result.returncode:
        raise RuntimeError('ansible-playbook failed:\n%s' % result.stdout[-4000:])
    changed = int(re.search(r'changed=(\d+)', result.stdout).group(1))
    return elapsed, changed


def engine_play(name):
    return [{'hosts': name, 'gather_facts': False, 'tasks': [
        {'name': 'converge the node', 'harvester.network.host_network': engine_params()}]}]


def command_play(name, files):
    return [{'hosts': name, 'gather_facts': False, 'tasks': [
        {'name': 'is the node converged', 'ansible.builtin.command': 'ip link show bo0', 'register': 'check',
         'failed_when': False, 'changed_when': False},
        {'name': 'links', 'ansible.builtin.command': 'ip -batch %s' % files[0], 'when': 'check.rc != 0'},
        {'name': 'vlans', 'ansible.builtin.command': 'bridge -batch %s' % files[1], 'when': 'check.rc != 0'},
    ]}]


def machine_cpu():
    with open('/proc/cpuinfo') as stream:
        for line in stream:
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    return 'unknown CPU'


def machine():
    cpu = machine_cpu()
    vendor = ''
    try:
        with open('/sys/class/dmi/id/sys_vendor') as stream:
            vendor = stream.read().strip()
    except OSError:
        pass
    accel = 'QEMU guest, software emulation (TCG)' if vendor == 'QEMU' else 'native'
    import pyroute2  # pylint: disable=import-outside-toplevel
    import ansible.release  # pylint: disable=import-outside-toplevel
    return {'kernel': platform.release(), 'cpu': cpu, 'cpus': os.cpu_count(), 'where': accel,
            'python': platform.python_version(), 'pyroute2': pyroute2.__version__,
            'ansible': ansible.release.__version__, 'load': os.getloadavg()}


def import_cost():
    """Seconds for a fresh Python to import pyroute2, to do nothing, and to import the engine (what a module pays)."""
    def timed(code):
        samples = []
        for _attempt in range(3):
            start = time.perf_counter()
            sh([sys.executable, '-c', code], env=dict(os.environ, PYTHONPATH=collections_root()))
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)
    engine = ('from ansible_collections.harvester.network.plugins.module_utils.host import engine, netlink, nlmsg')
    return timed('import pyroute2'), timed('pass'), timed(engine)


def compile_cost(samples=7):
    """CPU seconds (user + sys) a fresh Python spends importing what ``host_network`` imports at its top: from a
    zip of the collection's sources, as AnsiballZ ships a module (nothing compiled survives a task), and from the
    same sources with their bytecode compiled beforehand; medians of ``samples`` each, alternating. The difference is
    what compiling the collection's code costs every host module task (ansible's own module_utils are imported
    first, from site-packages, in both)."""
    folder = tempfile.mkdtemp(prefix='hn-bench-compile-')
    base = os.path.join(collections_root(), 'ansible_collections', 'harvester', 'network')
    tree, archive = os.path.join(folder, 'tree'), os.path.join(folder, 'payload.zip')
    wanted = [('plugins', 'modules', 'host_network.py')] + [
        ('plugins', 'module_utils', 'host', entry) for entry in sorted(os.listdir(
            os.path.join(base, 'plugins', 'module_utils', 'host'))) if entry.endswith('.py')]
    packages = [('ansible_collections',), ('ansible_collections', 'harvester'),
                ('ansible_collections', 'harvester', 'network'), ('ansible_collections', 'harvester', 'network',
                                                                  'plugins')]
    packages += [packages[-1] + (sub,) for sub in ('modules', 'module_utils')]
    with zipfile.ZipFile(archive, 'w') as payload:
        for parts in wanted:
            with open(os.path.join(base, *parts), encoding='utf-8') as handle:
                text = handle.read()
            name = '/'.join(('ansible_collections', 'harvester', 'network') + parts)
            payload.writestr(name, text)
            os.makedirs(os.path.dirname(os.path.join(tree, name)), exist_ok=True)
            with open(os.path.join(tree, name), 'w', encoding='utf-8') as handle:
                handle.write(text)
        for parts in packages:
            name = '/'.join(parts + ('__init__.py',))
            if name not in payload.namelist():
                payload.writestr(name, '')
                with open(os.path.join(tree, name), 'w', encoding='utf-8') as handle:
                    handle.write('')
    sh([sys.executable, '-m', 'compileall', '-q', tree])
    code = ('import resource, sys; sys.path.insert(0, %r); import ansible.module_utils.basic; '
            'u = resource.getrusage(resource.RUSAGE_SELF); t = u.ru_utime + u.ru_stime; '
            'import ansible_collections.harvester.network.plugins.modules.host_network; '
            'u = resource.getrusage(resource.RUSAGE_SELF); print(u.ru_utime + u.ru_stime - t)')
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    env['PYTHONDONTWRITEBYTECODE'] = '1'  # neither run may leave bytecode for the next one
    cpu = {'zip': [], 'compiled': []}
    for sample in range(samples + 1):
        for label, where in (('zip', archive), ('compiled', tree))[::1 if sample % 2 else -1]:
            out = subprocess.run([sys.executable, '-c', code % where], env=env, capture_output=True, text=True,
                                 check=True).stdout
            if sample:  # the first round warms the file cache
                cpu[label].append(float(out.split()[-1]))
    return dict((label, statistics.median(values)) for label, values in cpu.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--repeat', type=int, default=5, help='runs of the engine and of ip/bridge (median)')
    parser.add_argument('--playbook-repeat', type=int, default=2, help='runs of each ansible-playbook case')
    parser.add_argument('--write', metavar='MARKDOWN', help='replace the host section of this file')
    parser.add_argument('--native-noop', action='store_true',
                        help='only time the no-op re-check of a bridge with 101 ports, on any kernel (no bonding or '
                             'VLAN filtering needed): the engine time a native kernel gives')
    parser.add_argument('--ports', type=int, default=VMS, help='VM ports on the bridge of --native-noop')
    parser.add_argument('--peers-elsewhere', action='store_true',
                        help='--native-noop with the VM ends of the veth pairs in another namespace (as in pods)')
    parser.add_argument('--native-task', action='store_true',
                        help='only measure the CPU seconds of a host_network task (a no-op re-check of a small '
                             'bridge) against an ansible.builtin.command task, with ansible-playbook, natively')
    parser.add_argument('--tasks', type=int, default=20, help='tasks per play of --native-task')
    parser.add_argument('--samples', type=int, default=7, help='plays of each kind of --native-task (median)')
    parser.add_argument('--native', action='store_true',
                        help='the native benchmarks together (no-op re-checks at 101 and 1001 ports, the task cost), '
                             'written with --write into their own section')
    args = parser.parse_args()
    if args.native:
        report = native_report(args)
        print(report)
        if args.write:
            replace_section(args.write, report, NATIVE_BEGIN, NATIVE_END)
        return
    if args.native_noop:
        native_noop(ports=args.ports, peers_elsewhere=args.peers_elsewhere)
        return
    if args.native_task:
        native_task(tasks=args.tasks, samples=args.samples)
        return
    folder = tempfile.mkdtemp(prefix='hn-bench-')
    files, batch_lines = batch_files(folder)
    results = {'engine': [], 'noop': [], 'batch': [], 'timings': [], 'requests': 0, 'operations': 0,
               'noop_timings': [], 'host_load': os.environ.get('HN_HOST_LOAD')}
    started = time.perf_counter()
    import_time, bare_python, engine_import = import_cost()
    # Warm up (imports, first-use paths) on a throw-away node, so every timed run sees the same warm process.
    make_node('hnb-warm')
    try:
        bench_engine('hnb-warm')
    finally:
        destroy('hnb-warm')
    for run in range(args.repeat):
        for way in ('engine', 'batch') if run % 2 == 0 else ('batch', 'engine'):
            name = 'hnb-%s-%d' % (way, run)
            make_node(name)
            try:
                if way == 'engine':
                    elapsed, noop, result, again = bench_engine(name)
                    results['engine'].append(elapsed)
                    results['noop'].append(noop)
                    results['timings'].append(result['timings'])
                    results['noop_timings'].append(again['timings'])
                    results['operations'] = len(result['plan'])
                    results['requests'] = sum(len(op_requests(op)) for op in result['plan'])
                    state = end_state(name)
                else:
                    results['batch'].append(bench_batches(name, files))
                    state = end_state(name)
                results.setdefault('states', []).append(scrub(state))
            finally:
                destroy(name)
        sys.stderr.write('run %d: engine %.2fs, ip/bridge %.2fs\n' % (run, results['engine'][-1], results['batch'][-1]))
    assert all(state == results['states'][0] for state in results['states']), 'end states differ'
    plays = {}
    for label in ('engine', 'command'):
        for run in range(args.playbook_repeat):
            name = 'hnp-%s-%d' % (label, run)
            make_node(name)
            try:
                play = engine_play(name) if label == 'engine' else command_play(name, files)
                converge = playbook(folder, name, play)
                noop = playbook(folder, name, play)
                plays.setdefault(label, []).append((converge, noop))
                results.setdefault('states', []).append(scrub(end_state(name)))
            finally:
                destroy(name)
            sys.stderr.write('playbook %s %d: converge %.1fs, no-op %.1fs\n' % (label, run, converge[0], noop[0]))
    assert all(state == results['states'][0] for state in results['states']), 'end states differ (playbooks)'
    report = render(results, plays, machine(), (import_time, bare_python, engine_import), batch_lines,
                    time.perf_counter() - started)
    print(report)
    if args.write:
        replace_section(args.write, report)


def native_noop(samples=20, ports=VMS, peers_elsewhere=False):
    """A bridge over eth1 with ``ports`` VM ports, set up by ip; the engine re-checks it (nothing to do).

    The VM ends of the veth pairs stay in the node's namespace (2 * ports + 2 links: the engine reads them all),
    or with ``peers_elsewhere`` go to a second namespace, as on a Harvester node, where each VM's end is in its
    pod's namespace (ports + 2 links).  Reports wall and CPU time (user + sys of this process: the kernel's work
    for the dumps is done in its recvmsg calls), medians of ``samples``."""
    from ansible_collections.harvester.network.plugins.module_utils.host import engine
    name = 'hnb-native'
    destroy(name)
    sh(['ip', 'netns', 'add', name])
    if peers_elsewhere:
        sh(['ip', 'netns', 'add', name + '-sw'])
    try:
        lines = ['link set lo up', 'link add eth1 type veth peer name sw-eth1', 'link add br0 type bridge',
                 'link set br0 promisc on', 'link set eth1 master br0 up']
        for index in range(ports):
            elsewhere = ' netns %s-sw' % name if peers_elsewhere else ''
            lines += ['link add vm%d type veth peer name vm%dp%s' % (index, index, elsewhere),
                      'link set vm%d master br0 up' % index]
        lines.append('link set br0 up')
        sh(['ip', '-netns', name, '-batch', '-'], input='\n'.join(lines) + '\n')
        params = {'state': 'replaced', 'probes': {'enabled': False}, 'bridges': [{
            'name': 'br0', 'uplink': 'eth1', 'ports': ['vm%d' % i for i in range(ports)], 'vlan_filtering': False,
            'default_pvid': engine_default_pvid(name)}]}
        times, cpu, timings = [], [], None
        with netns(name):
            engine.run('host_network', params, validated=False)  # warm
            for _attempt in range(samples):
                start, start_cpu = time.perf_counter(), time.process_time()
                result = engine.run('host_network', params, validated=False)
                times.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
                timings = result['timings']
                assert not result['changed'], result.get('commands')
            floor = dump_floor(samples)
        values = (ports + 1, 'VM ends in another namespace' if peers_elsewhere else 'VM ends beside them',
                  platform.release(), machine_cpu(), ' '.join('%.2f' % x for x in os.getloadavg()),
                  statistics.median(times) * 1000, min(times) * 1000, statistics.median(cpu) * 1000,
                  min(cpu) * 1000, timings['read'] * 1000, timings['plan'] * 1000)
        line = ('native no-op re-check of a bridge with %d ports (%s; Linux %s, %s, load %s): wall median %.1f ms, '
                'best %.1f ms; CPU median %.1f ms, best %.1f ms (last: read %.1f ms, plan %.1f ms)' % values)
        print(line + '; the four dumps alone, nothing decoded: CPU median %.1f ms' % (floor * 1000))
        return {'ports': ports + 1, 'elsewhere': peers_elsewhere, 'wall': statistics.median(times),
                'best': min(times), 'cpu': statistics.median(cpu), 'best_cpu': min(cpu), 'samples': samples,
                'load': os.getloadavg(), 'floor_cpu': floor}
    finally:
        destroy(name)  # and its -sw namespace


def dump_floor(samples):
    """CPU seconds (median of ``samples``) of the four dumps the engine's reader asks the kernel for (links, bridge
    ports with their VLANs, addresses, routes), received and split into messages but not decoded: what any reader
    in this process pays before it looks at a single attribute. Run inside the node's namespace."""
    from ansible_collections.harvester.network.plugins.module_utils.host import netlink, nlmsg
    reader = netlink.Netlink()

    def ignore(_data, _start, _end):
        return None
    cpu = []
    try:
        for _attempt in range(samples):
            start = time.process_time()
            reader._dump(nlmsg.RTM_GETLINK, nlmsg.AF_UNSPEC, ignore, netlink.RTEXT_FILTER_SKIP_STATS)
            reader._dump(nlmsg.RTM_GETLINK, netlink.AF_BRIDGE, ignore, netlink.RTEXT_FILTER_BRVLAN_COMPRESSED)
            reader._dump(nlmsg.RTM_GETADDR, nlmsg.AF_UNSPEC, ignore)
            reader._dump(nlmsg.RTM_GETROUTE, nlmsg.AF_UNSPEC, ignore)
            cpu.append(time.process_time() - start)
    finally:
        reader.close()
    return statistics.median(cpu)


def native_report(args):
    """The native section: no-op re-checks (101 ports; 1001 ports with the VM ends beside them and elsewhere) and
    the task cost, with machine, load and versions."""
    import ansible.release  # pylint: disable=import-outside-toplevel
    started = time.perf_counter()
    load = ' '.join('%.2f' % x for x in os.getloadavg())
    noops = [native_noop(ports=VMS), native_noop(ports=1000), native_noop(ports=1000, peers_elsewhere=True)]
    task = native_task(tasks=args.tasks, samples=args.samples)
    compiled = compile_cost(samples=args.samples)
    lines = [NATIVE_BEGIN, '## Host, natively: the no-op re-check at 1000 ports and the cost of a module task', '',
             'Measured by `make bench-host-native` (`benchmarks/host/bench_converge.py --native --write '
             'docs/benchmarks.md`) on the machine itself: Linux %s (no bonding or VLAN filtering, so the node is a '
             'plain bridge), %d CPUs (%s), Python %s, ansible-core %s; load average %s when it started, %s when it '
             'ended (a shared machine: other engineers\' guests and tests ran beside it).'
             % (platform.release(), os.cpu_count(), machine_cpu(), platform.python_version(),
                ansible.release.__version__, load, ' '.join('%.2f' % x for x in os.getloadavg())), '',
             '| engine no-op re-check (Python API, warm process) | links read | wall median | wall best | '
             'CPU median | CPU best | the dumps alone (CPU median) |', '|---|---:|---:|---:|---:|---:|---:|']
    for item in noops:
        links = item['ports'] + 2 + (0 if item['elsewhere'] else item['ports'] - 1)  # + br0, sw-eth1
        lines.append('| bridge with %d ports, %s | %d | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms |' % (
            item['ports'], 'VM ends of the veth pairs in another namespace (as in pods)' if item['elsewhere']
            else 'VM ends of the veth pairs beside them', links, item['wall'] * 1000, item['best'] * 1000,
            item['cpu'] * 1000, item['best_cpu'] * 1000, item['floor_cpu'] * 1000))
    lines += ['', 'Medians of %d re-checks each. CPU is user + sys of the process (the kernel builds the dump answers '
              'in its recvmsg calls); under load the wall times swing several times over, the CPU times much less. '
              '"The dumps alone": the four dumps the reader asks for (links, bridge ports with their VLANs, '
              'addresses, routes) received and split into messages, no attribute decoded: the floor of any reader '
              'that asks the kernel for the whole node.' % noops[0]['samples'], '',
              '| ansible-playbook, `ansible_connection=local` into a network namespace | CPU seconds a task |',
              '|---|---:|',
              '| `harvester.network.host_network` (no-op re-check of a bridge with 2 ports) | %.3f s |'
              % task['host_network'],
              '| `ansible.builtin.command: ip -d link show br0` | %.3f s |' % task['command'],
              '| ratio | %.2fx |' % (task['host_network'] / task['command']),
              '| host_network\'s imports of the collection\'s code, from a zip of sources as AnsiballZ ships them '
              '(fresh Python, CPU of the import alone) | %.3f s |' % compiled['zip'],
              '| the same imports with their bytecode compiled beforehand | %.3f s |' % compiled['compiled'],
              '| compiling the collection\'s sources, every task (the difference) | %.3f s |'
              % (compiled['zip'] - compiled['compiled']),
              '| the host task\'s cost above the command task\'s | %.3f s |'
              % (task['host_network'] - task['command']), '',
              'CPU seconds are user + sys of ansible-playbook and every process it started (controller, workers, '
              'the module processes); a task\'s cost is (a play of %d such tasks - a play of one `debug` task) / %d, '
              'medians of %d plays each (the kinds alternating; empty play %.2f s).'
              % (task['tasks'], task['tasks'], task['samples'], task['empty']), '',
              'The import rows are medians of %d fresh interpreters each, alternating: AnsiballZ imports a module\'s '
              'code from the zip it ships, compiled from source on every task (zipimport keeps no bytecode), which '
              'a command task pays for ansible\'s module_utils alone.' % args.samples, '',
              'Benchmark wall time: %.0f s.' % (time.perf_counter() - started), NATIVE_END]
    return '\n'.join(lines)


def native_task(tasks=20, samples=7):
    """CPU seconds (user + sys of ansible-playbook and every process it starts) a host module task costs, against
    an ansible.builtin.command task: plays of ``tasks`` tasks of one kind, and a play of one ``debug`` task for
    what a play costs without them; per task = (play - empty play) / tasks; medians of ``samples`` plays each,
    the kinds alternating.  The host task is host_network's no-op re-check of a bridge with two ports in a network
    namespace (``ansible_connection=local``, the interpreter entering the namespace); the command task runs
    ``ip -d link show br0`` there."""
    name = 'hnb-task'
    destroy(name)
    folder = tempfile.mkdtemp(prefix='hn-bench-task-')
    sh(['ip', 'netns', 'add', name])
    try:
        lines = ['link set lo up', 'link add eth1 type veth peer name sw-eth1', 'link add br0 type bridge',
                 'link set br0 promisc on', 'link set eth1 master br0 up', 'link add vm0 type veth peer name vm0p', 'link set vm0 master br0 up',
                 'link set br0 up']
        sh(['ip', '-netns', name, '-batch', '-'], input='\n'.join(lines) + '\n')
        params = {'state': 'replaced', 'probes': {'enabled': False}, 'bridges': [{
            'name': 'br0', 'uplink': 'eth1', 'ports': ['vm0'], 'vlan_filtering': False,
            'default_pvid': engine_default_pvid(name)}]}
        plays = {
            'host_network': [{'name': 'host %d' % i, 'harvester.network.host_network': params} for i in range(tasks)],
            'command': [{'name': 'command %d' % i, 'ansible.builtin.command': 'ip -d link show br0',
                         'changed_when': False} for i in range(tasks)],
            'empty': [{'name': 'nothing', 'ansible.builtin.debug': {'msg': 'x'}}],
        }
        cpu = dict((label, []) for label in plays)
        for label, task_list in plays.items():  # warm: first-run caches (pyc of the controller side, AnsiballZ)
            cpu_play(folder, name, label, task_list)
        for sample in range(samples):
            order = sorted(plays) if sample % 2 == 0 else sorted(plays, reverse=True)
            for label in order:
                cpu[label].append(cpu_play(folder, name, label, plays[label]))
        med = statistics.median
        empty = med(cpu['empty'])
        per_task = dict((label, (med(cpu[label]) - empty) / tasks) for label in ('host_network', 'command'))
        print('native task cost (Linux %s, %s, %d CPUs, load %s): ansible-playbook CPU seconds (user+sys), medians '
              'of %d plays: empty play %.2f s; %d host_network no-op tasks %.2f s; %d command tasks %.2f s; '
              'per task: host_network %.3f s, command %.3f s: %.2fx'
              % (platform.release(), machine_cpu(), os.cpu_count(), ' '.join('%.2f' % x for x in os.getloadavg()),
                 samples, empty, tasks, med(cpu['host_network']), tasks, med(cpu['command']),
                 per_task['host_network'], per_task['command'], per_task['host_network'] / per_task['command']))
        return {'tasks': tasks, 'samples': samples, 'empty': empty, 'host_network': per_task['host_network'],
                'command': per_task['command'], 'plays': dict((label, med(values)) for label, values in cpu.items()),
                'load': os.getloadavg()}
    finally:
        destroy(name)


def cpu_play(folder, name, label, task_list):
    before = children_cpu()
    _elapsed, changed = playbook(folder, '%s-%s' % (name, label), [{'hosts': name, 'gather_facts': False,
                                                                    'tasks': task_list}], host=name)
    assert changed == 0, '%s: a no-op task changed something' % label
    return children_cpu() - before


def engine_default_pvid(name):
    """A kernel without VLAN filtering reports no default PVID (0); one with it reports 1."""
    out = sh(['ip', '-netns', name, '-d', '-j', 'link', 'show', 'br0']).stdout
    return json.loads(out)[0].get('linkinfo', {}).get('info_data', {}).get('vlan_default_pvid', 0)


def op_requests(op_dict):
    """Netlink requests one planned operation sends (from its kind; see ops.py)."""
    if op_dict['op'] == 'set_vlans':
        return [1] * ((1 if op_dict.get('add') else 0) + (1 if op_dict.get('remove') else 0))
    return [1]


def scrub(state):
    """End state without what legitimately differs between two nodes (MACs are not in it; ifindexes neither)."""
    return json.loads(json.dumps(state, sort_keys=True, default=str))


def render(results, plays, info, imports, batch_lines, total):
    med = statistics.median
    engine, batch, noop = med(results['engine']), med(results['batch']), med(results['noop'])
    best_engine, best_batch = min(results['engine']), min(results['batch'])
    best_apply = min(t.get('apply', 0) for t in results['timings'])
    phase = dict((key, med(t.get(key, 0) for t in results['timings'])) for key in ('read', 'plan', 'apply', 'verify'))
    noop_phase = dict((key, med(t.get(key, 0) for t in results['noop_timings'])) for key in ('read', 'plan'))
    lines = [BEGIN, '## Host: converge a node (2-slave bond, VLAN bridge, 2-4094 trunk, %d VM ports with PVIDs)' % VMS, '',
             'Measured by `benchmarks/host/bench_converge.py` (`make bench`-style: `python -m testbeds.kernel run --rw docs '
             '--env HN_HOST_LOAD -- <venv>/bin/python benchmarks/host/bench_converge.py --write docs/benchmarks.md`).',
             '',
             'Machine: %(where)s, Linux %(kernel)s, %(cpus)s vCPU (%(cpu)s); Python %(python)s, pyroute2 %(pyroute2)s, '
             'ansible-core %(ansible)s. The guest runs on a shared 2-core machine where other builds and guests ran '
             'at the same time (%(load)s), so single runs swing: compare the per-pair ratios and the best runs.'
             % dict(info, load='host load average %s when the run started' % results['host_load']
                    if results['host_load'] else 'host load not recorded'),
             '', 'End state: an 802.3ad bond over two veth NICs, a VLAN-filtering bridge over it, VIDs 2-4094 tagged '
             'on the bond (VID 1 its untagged PVID), %d veth VM ports on the bridge, each with its own PVID untagged and '
             'nothing else. Every run starts from a fresh network namespace; all runs reach the same end state '
             '(checked).' % VMS, '',
             '| way | median of %d | vs ip/bridge | best | vs best ip/bridge |' % len(results['engine']),
             '|---|---:|---:|---:|---:|',
             '| `ip -batch` (%d lines) + `bridge -batch`, two processes | %.3f s | 1.00x | %.3f s | 1.00x |'
             % (batch_lines, batch, best_batch),
             '| harvester.network engine (Python API, warm process): read, plan, apply, verify | %.3f s | %.2fx | '
             '%.3f s | %.2fx |' % (engine, engine / batch, best_engine, best_engine / best_batch),
             '| of which: read %.3f s, plan %.3f s, apply %.3f s (%d operations, %d netlink requests), verify %.3f s '
             '| | | | |' % (phase['read'], phase['plan'], phase['apply'], results['operations'], results['requests'],
                            phase['verify']),
             '| engine, apply only (what ip/bridge does) | %.3f s | %.2fx | %.3f s | %.2fx |'
             % (phase['apply'], phase['apply'] / batch, best_apply, best_apply / best_batch),
             '| ratio engine / ip+bridge within each back-to-back pair (median; robust to load swings) | | %.2fx | | |'
             % med(e / b for e, b in zip(results['engine'], results['batch'])),
             '| same for apply only | | %.2fx | | |'
             % med(t.get('apply', 0) / b for t, b in zip(results['timings'], results['batch'])),
             '| engine no-op re-check (read + plan, nothing to do) | %.3f s | | %.3f s | |' % (noop, min(results['noop'])),
             '| of which: read %.3f s, plan %.3f s | | | | |' % (noop_phase['read'], noop_phase['plan']),
             '', 'Process start-up is not in the engine rows. A fresh Python here takes %.2f s to start, %.2f s to '
             'import the engine (what a module task pays; pyroute2 is not imported by the default codec) and %.2f s '
             'to import pyroute2.' % (imports[1], imports[2], imports[0]), '']
    if plays:
        lines += ['| ansible-playbook (one node) | converge | no-op re-run |', '|---|---:|---:|']
        names = {'engine': '`harvester.network.host_network` (1 task)',
                 'command': '`ansible.builtin.command` running ip/bridge batches (check + 2 tasks)'}
        for label in ('engine', 'command'):
            runs = plays.get(label) or []
            if runs:
                converge = med(run[0][0] for run in runs)
                lines.append('| %s | %.1f s | %.1f s |' % (names[label], converge, med(run[1][0] for run in runs)))
        lines += ['', 'Medians of %d runs each; the no-op re-run of the command play only checks that `bo0` exists '
                      '(it cannot tell a half-configured node from a converged one), the module re-reads and '
                      're-plans everything.' % len(plays.get('engine', [])), '']
    lines += ['Benchmark wall time: %.0f s.' % total, END]
    return '\n'.join(lines)


def replace_section(path, section, begin=BEGIN, end=END):
    text = open(path).read() if os.path.exists(path) else '# Benchmarks\n'
    if begin in text and end in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip('\n') + '\n\n' + section + '\n'
    with open(path, 'w') as stream:
        stream.write(text)


if __name__ == '__main__':
    main()
