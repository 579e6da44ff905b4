"""Benchmark: how the cluster modules' cost grows with the number of networks (500 and 5000 NADs), against the real
kube-apiserver of the cluster bed. Not a test: numbers for docs/benchmarks.md.

Per count N, in a namespace of its own, each step one ``ansible-playbook`` run:
  * create N VLAN networks with one ``harvester.network.vlan_network`` task (``networks:``),
  * the no-op re-run,
  * a few ``harvester.network.vm`` tasks (a loop), each VM referencing two of the N networks,
  * prune half: the same task with the first N/2 networks and ``prune: true``.
At 500 also a ``kubernetes.core.k8s`` loop creating the same 500 NADs (the baseline of the create goal).

Measured per step: wall time, API requests by verb (a recording proxy in front of the server,
testbeds/cluster/proxy.py), the LIST pages the server answered, the most writes in flight at once, and the peak
resident memory of the module process (the interpreter ansible runs the module with is wrapped in
``/usr/bin/time -f %M``).

    <venv>/bin/python benchmarks/cluster/bench_scale.py [--counts 500,5000] [--vms 5] [--skip-k8s] [--no-doc]

Writes the scale section of docs/benchmarks.md (between the cluster-scale markers, other sections kept).
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)

from testbeds.collection import collections_root  # noqa: E402  pylint: disable=wrong-import-position
from testbeds.common import children_cpu, processes_cpu  # noqa: E402  pylint: disable=wrong-import-position
from testbeds.cluster.controlplane import ControlPlane  # noqa: E402  pylint: disable=wrong-import-position
from testbeds.cluster.proxy import RecordingProxy  # noqa: E402  pylint: disable=wrong-import-position
from bench_vlan_networks import (  # noqa: E402  pylint: disable=wrong-import-position
    K8S_LOOP, OURS, common_arguments, ensure_k8s_venv, replace_section, run_playbook)

sys.path.insert(0, collections_root())
from ansible_collections.harvester.network.plugins.module_utils.cluster import builders  # noqa: E402
from ansible_collections.harvester.network.plugins.module_utils.cluster.service import (  # noqa: E402
    LIST_PAGE_SIZE, WRITE_WORKERS)
from ansible_collections.harvester.network.plugins.module_utils.cluster.vms import NETWORK_GETS_MAX  # noqa: E402

BEGIN, END = '<!-- cluster-scale-benchmark:begin -->', '<!-- cluster-scale-benchmark:end -->'

# the same task with the first half of the networks, and prune
PRUNE = OURS.replace('"{{{{ nets }}}}"', '"{{{{ nets[:(nets | length) // 2] }}}}"\n        prune: true')

VMS = """
- hosts: localhost
  gather_facts: false
  tasks:
    - harvester.network.vm:
        name: "vm{{{{ item }}}}"
        namespace: {ns}
        state: stopped
        cpu: 1
        memory: 1Gi
        interfaces:
          - name: nic-1
            network: "{ns}/vlan{{{{ 2 + item }}}}"
          - name: nic-2
            network: "{ns}/vlan{{{{ 3 + item }}}}"
        disks:
          - name: root
            container_disk: quay.io/containerdisks/ubuntu:22.04
      loop: "{{{{ range(vm_count) | list }}}}"
"""


def server_cpu(marker):
    """CPU seconds so far of the bed's processes (kube-apiserver and etcd): those whose command line names
    ``marker`` (the benchmark's work folder, where their state lives)."""
    return processes_cpu(marker) or 0.0


def own_cpu():
    """CPU seconds of this process: the recording proxy's threads (the bench itself only waits meanwhile)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def module_memory(rss_log):
    """The peak resident set (MiB) of the largest module process of a run, and how many ran (``rss_log``: one KiB
    figure a line, written by the interpreter wrapper)."""
    with open(rss_log, encoding='utf-8') as handle:
        rss = [int(line) for line in handle.read().split() if line.isdigit()]
    return {'module_rss_mib': round(max(rss) / 1024.0, 1) if rss else None, 'module_runs': len(rss)}


def measure_direct(label, binary, text, env, workdir, vars_file, rss_log):
    """A run straight to the server (no proxy): wall time and CPU as the user gets them; no request counts."""
    open(rss_log, 'w').close()
    cpu, served = children_cpu(), server_cpu(workdir)
    elapsed, changed = run_playbook(binary, text, env, workdir, vars_file)
    cpu, served = children_cpu() - cpu, server_cpu(workdir) - served
    entry = dict(module_memory(rss_log), label=label, seconds=elapsed, changed=changed, direct=True,
                 client_cpu=round(cpu, 2), server_cpu=round(served, 2))
    print('%-52s %8.2f s (no proxy)  rss=%s MiB  cpu %.1f + server %.1f s' % (
        label, elapsed, entry['module_rss_mib'], cpu, served), flush=True)
    return entry


def measure(proxy, label, binary, text, env, workdir, vars_file, rss_log):
    proxy.clear()
    open(rss_log, 'w').close()
    cpu, served, witness = children_cpu(), server_cpu(workdir), own_cpu()
    elapsed, changed = run_playbook(binary, text, env, workdir, vars_file)
    cpu, served, witness = children_cpu() - cpu, server_cpu(workdir) - served, own_cpu() - witness
    requests = list(proxy.requests)
    by_verb = dict(proxy.counts)
    pages = [e for e in requests if e['method'] == 'GET' and 'items' in e]
    entry = {'label': label, 'seconds': elapsed, 'requests': len(requests), 'by_verb': by_verb, 'changed': changed,
             'list_pages': len(pages), 'largest_page': max([e['items'] for e in pages] or [0]),
             'writes_in_flight': proxy.max_writes_in_flight, 'status_429': sum(e['status'] == 429 for e in requests),
             'client_cpu': round(cpu, 2), 'server_cpu': round(served, 2), 'proxy_cpu': round(witness, 2)}
    entry.update(module_memory(rss_log))
    print('%-52s %8.2f s %6d requests  pages=%d  in-flight=%d  rss=%s MiB  cpu %.1f + server %.1f + proxy %.1f s  %s'
          % (label, elapsed, entry['requests'], entry['list_pages'], entry['writes_in_flight'],
             entry['module_rss_mib'], cpu, served, witness, sorted(by_verb.items())), flush=True)
    return entry


def interpreter_wrapper(workdir, python, rss_log, name='python-rss'):
    """A module interpreter that records the module process's peak RSS (KiB) in ``rss_log``."""
    path = os.path.join(workdir, name)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('#!/bin/sh\nexec /usr/bin/time -a -o %s -f %%M %s "$@"\n' % (rss_log, python))
    os.chmod(path, 0o755)
    return path


def machine():
    with open('/proc/loadavg', encoding='utf-8') as handle:
        load = ' '.join(handle.read().split()[:3])
    cpus = os.cpu_count()
    model = '?'
    with open('/proc/cpuinfo', encoding='utf-8') as handle:
        for line in handle:
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    return {'load': load, 'cpus': cpus, 'cpu': model, 'python': platform.python_version(),
            'kernel': platform.release()}


def verbs(entry):
    return ', '.join('%s %d' % (verb, count) for verb, count in sorted(entry['by_verb'].items()))


def write_doc(saved):
    results, versions, info = saved['results'], saved['versions'], saved['machine']
    lines = [BEGIN, '## Cluster at scale: 500 and 5000 VLAN networks', '',
             'Measured by `make bench-scale` (`benchmarks/cluster/bench_scale.py`) against the real kube-apiserver of '
             'the cluster bed (kube-apiserver %s, etcd 3 on the same machine, no Harvester controllers). Machine: %d '
             'cores (%s), Linux %s, Python %s, ansible-core %s; load average %s when the run started, %s when it '
             'ended (the machine is shared with other builds and tests: the wall times swing, the request counts do '
             'not). LIST page size %d, %d concurrent writes per run of one kind.'
             % (versions.get('apiserver', '?'), info['cpus'], info['cpu'], info['kernel'], info['python'],
                versions.get('ansible_core', '?'), info['load'], saved.get('load_end', '?'), LIST_PAGE_SIZE,
                WRITE_WORKERS), '',
             'Each row is one `ansible-playbook` run (start-up included). Requests are counted by a recording proxy '
             'in front of the server (discovery included); "pages" are the LIST answers and the most objects one of '
             'them carried; "in flight" the most writes the server worked on at once; memory is the peak resident '
             'set of the module process (the largest of the run\'s module processes). CPU is user + sys seconds: '
             '"ansible" of ansible-playbook and every process it started (controller, forks, the module), "server" '
             'of kube-apiserver and etcd while the run lasted (read from /proc), "proxy" of the recording proxy '
             '(the witness: it decrypts, records and re-encrypts every request). The proxy is in the path of the '
             'counted rows and adds to their wall time; the rows marked "no proxy" are the same runs straight to the '
             'server, in a namespace of their own, as a user would run them (nothing counted).', '',
             '| run | wall time | CPU ansible / server / proxy | API requests | by verb | LIST pages (largest) '
             '| in flight | module memory |',
             '|---|---:|---:|---:|---|---:|---:|---:|']
    for entry in results:
        cpu = '-'
        if 'server_cpu' in entry:
            cpu = '%.1f / %.1f / %s s' % (entry['client_cpu'], entry['server_cpu'],
                                          '%.1f' % entry['proxy_cpu'] if 'proxy_cpu' in entry else '-')
        if entry.get('direct'):
            lines.append('| %s (no proxy) | %.1f s | %s | - | not counted | - | - | %s |' % (
                entry['label'], entry['seconds'], cpu,
                '%.0f MiB' % entry['module_rss_mib'] if entry['module_rss_mib'] else '-'))
            continue
        lines.append('| %s | %.1f s | %s | %d | %s | %d (%d) | %d | %s |' % (
            entry['label'], entry['seconds'], cpu, entry['requests'], verbs(entry), entry['list_pages'],
            entry['largest_page'], entry['writes_in_flight'],
            '%.0f MiB' % entry['module_rss_mib'] if entry['module_rss_mib'] else '-'))
    lines.append('')
    by_label = dict((e['label'], e) for e in results if not e.get('direct'))
    direct = dict((e['label'], e) for e in results if e.get('direct'))
    counts = saved['counts']
    ratios = []
    k8s = by_label.get('kubernetes.core.k8s loop, create 500')
    for count in counts:
        create = by_label.get('vlan_network, create %d' % count)
        for way, row in (('through the proxy', create), ('straight to the server', direct.get(
                'vlan_network, create %d' % count))):
            if not row:
                continue
            text = 'creating %d networks %s took %.1f s' % (count, way, row['seconds'])
            if row.get('server_cpu') is not None:
                text += (' (CPU a network: API server and etcd %.1f ms, the ansible side %.1f ms, on %d cores)'
                         % (1000.0 * row['server_cpu'] / count, 1000.0 * row['client_cpu'] / count, info['cpus']))
            if k8s:
                text += (', %.0fx less than the kubernetes.core.k8s loop needs for 500 (%.1f s, through the proxy; '
                         'goal >= 50x)' % (k8s['seconds'] / row['seconds'], k8s['seconds']))
            ratios.append(text)
        noop = by_label.get('vlan_network, no-op re-run %d' % count)
        if noop:
            ratios.append('the no-op re-run at %d took %.1f s with %d requests through the proxy%s (goal <= 3 s)' % (
                count, noop['seconds'], noop['requests'],
                ', %.1f s straight to the server' % direct['vlan_network, no-op re-run %d' % count]['seconds']
                if 'vlan_network, no-op re-run %d' % count in direct else ''))
    if ratios:
        lines += ['Side by side in this run: %s.' % '; '.join(ratios), '']
    lines += ['Every LIST is paginated (`limit=%d` with the server\'s `continue` tokens), so no answer carries more '
              'than %d objects however many networks exist; the module process\'s memory still grows with N because '
              'the plan holds every object it compares. The VM rows show what a VM task pays for the networks '
              'around it: `harvester.network.vm` looks the networks its NICs name up with a GET each (up to %d; '
              'more are one paginated LIST).' % (LIST_PAGE_SIZE, LIST_PAGE_SIZE, NETWORK_GETS_MAX), '',
              'A vlan_network run LISTs the NetworkAttachmentDefinitions of the whole cluster, not of its namespace: '
              'the duplicate-VLAN check looks across namespaces, as Harvester\'s webhook does. So a run costs more '
              'the more networks the cluster holds: the "no proxy" no-op at a count ran after the counted rows had '
              'left their networks in the other namespaces (at 5000: 8250 networks listed, against 5750 for the '
              'counted no-op).', '']
    if versions.get('k8s'):
        lines += ['kubernetes.core from the `ansible` %s PyPI package (ansible-core %s, kubernetes client %s) in a '
                  'throwaway venv.' % tuple(versions['k8s']), '']
    lines += ['Benchmark wall time: %.0f s.' % saved['wall'], END]
    replace_section(lines, BEGIN, END)


def main():  # pylint: disable=too-many-locals,too-many-statements
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--counts', default='500,5000')
    parser.add_argument('--vms', type=int, default=5, help='VM tasks per count')
    parser.add_argument('--save', default=os.path.join(tempfile.gettempdir(), 'harvester-network-bench-scale.json'),
                        help='also write the results as JSON here (for --doc-from; default %(default)s)')
    args = common_arguments(parser).parse_args()
    if args.doc_from:
        with open(args.doc_from, encoding='utf-8') as handle:
            write_doc(json.load(handle))
        return
    counts = [int(c) for c in args.counts.split(',')]
    started = time.monotonic()
    info = machine()
    workdir = tempfile.mkdtemp(prefix='hn-bench-scale-')
    rss_log = os.path.join(workdir, 'rss.log')
    plane = ControlPlane(os.path.join(workdir, 'state'))
    results = []
    versions = {'ansible_core': subprocess.run(
        [sys.executable, '-c', 'import ansible.release as r; print(r.__version__)'], capture_output=True, text=True,
        check=False).stdout.strip()}
    try:
        server = plane.apiserver('current')
        status, version = server.request('GET', '/version')
        versions['apiserver'] = version.get('gitVersion') if status == 200 else '?'
        proxy = RecordingProxy(server)
        kubeconfig = proxy.kubeconfig(server, os.path.join(workdir, 'kubeconfig'))
        env = dict(server.env)
        env.update({'K8S_AUTH_KUBECONFIG': kubeconfig, 'KUBECONFIG': kubeconfig,
                    'ANSIBLE_COLLECTIONS_PATH': collections_root(),
                    'ANSIBLE_PYTHON_INTERPRETER': interpreter_wrapper(workdir, sys.executable, rss_log),
                    'ANSIBLE_LOCALHOST_WARNING': '0', 'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0',
                    'ANSIBLE_NOCOLOR': '1'})
        ours = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
        direct_kubeconfig = server.write_kubeconfig(os.path.join(workdir, 'kubeconfig-direct'))
        direct_env = dict(env, K8S_AUTH_KUBECONFIG=direct_kubeconfig, KUBECONFIG=direct_kubeconfig)
        for count in counts:
            ns = 'scale-%d' % count
            server.create_namespace(ns)
            nets = [{'name': 'vlan%d' % (2 + i), 'vlan_id': 2 + i % 4093} for i in range(count)]
            vars_file = os.path.join(workdir, 'vars-%d.json' % count)
            with open(vars_file, 'w', encoding='utf-8') as handle:
                json.dump({'nets': nets, 'vm_count': args.vms}, handle)
            # VIDs repeat above 4094 networks: allowed, the duplicate-VID check is a separate concern
            text = OURS.format(ns=ns)
            if count > 4093:
                text = text.replace('networks: ', 'allow_duplicate_vids: true\n        networks: ')
            for label, play in (('vlan_network, create %d' % count, text),
                                ('vlan_network, no-op re-run %d' % count, text),
                                ('vm x%d (2 NICs each) beside %d networks' % (args.vms, count),
                                 VMS.format(ns=ns)),
                                ('vm x%d no-op re-run beside %d networks' % (args.vms, count), VMS.format(ns=ns)),
                                ('vlan_network, prune half of %d' % count,
                                 PRUNE.format(ns=ns).replace('prune: true', 'prune: true\n        '
                                                             'allow_duplicate_vids: true') if count > 4093
                                 else PRUNE.format(ns=ns))):
                results.append(measure(proxy, label, ours, play, env, workdir, vars_file, rss_log))
            # the create and its no-op again, straight to the server, in a namespace of their own (its networks
            # share their VLAN IDs with the ones above: allowed, as above 4093)
            server.create_namespace(ns + '-direct')
            again = text.replace(ns, ns + '-direct')
            if 'allow_duplicate_vids' not in again:
                again = again.replace('networks: ', 'allow_duplicate_vids: true\n        networks: ')
            for label in ('vlan_network, create %d' % count, 'vlan_network, no-op re-run %d' % count):
                results.append(measure_direct(label, ours, again, direct_env, workdir, vars_file, rss_log))
        if not args.skip_k8s and 500 in counts:
            binary, versions['k8s'] = ensure_k8s_venv(args.k8s_venv)
            server.create_namespace('scale-k8s')
            nads = [builders.vlan_network('current', dict(name='vlan%d' % vid, vlan_id=vid, namespace='scale-k8s',
                                                          cluster_network='mgmt', mtu=1500))
                    for vid in range(2, 502)]
            vars_file = os.path.join(workdir, 'vars-k8s.json')
            with open(vars_file, 'w', encoding='utf-8') as handle:
                json.dump({'nads': nads}, handle)
            k8s_env = dict(env)
            k8s_env.pop('ANSIBLE_COLLECTIONS_PATH')
            k8s_env['ANSIBLE_PYTHON_INTERPRETER'] = interpreter_wrapper(
                workdir, os.path.join(args.k8s_venv, 'bin', 'python'), rss_log, 'python-rss-k8s')
            results.append(measure(proxy, 'kubernetes.core.k8s loop, create 500', binary, K8S_LOOP.format(),
                                   k8s_env, workdir, vars_file, rss_log))
        proxy.stop()
    finally:
        plane.stop()
    saved = {'counts': counts, 'results': results, 'versions': versions, 'machine': info,
             'load_end': machine()['load'], 'wall': time.monotonic() - started}
    if args.save:
        with open(args.save, 'w', encoding='utf-8') as handle:
            json.dump(saved, handle, indent=1)
    if not args.no_doc:
        write_doc(saved)
    print(json.dumps(saved, indent=1))


if __name__ == '__main__':
    main()
