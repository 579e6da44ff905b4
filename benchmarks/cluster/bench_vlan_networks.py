"""Benchmark: 500 VLAN networks created, then a no-op re-run, harvester.network.vlan_network (one task, ``networks:``)
against a loop of kubernetes.core.k8s tasks writing the same NetworkAttachmentDefinitions to the same server.

Every HTTP request is counted by a small TLS proxy in front of the server (testbeds/cluster/proxy.py; the server's own
request metric leaves discovery out); wall time around each ansible-playbook run.  kubernetes.core comes from the ``ansible`` PyPI package installed in a
throwaway venv (``--k8s-venv``, created on first use), never in the project's requirements.

    <venv>/bin/python benchmarks/cluster/bench_vlan_networks.py [--count 500] [--k8s-venv DIR] [--skip-k8s]

Writes the cluster section of docs/benchmarks.md (between the cluster markers, other sections kept).
"""

import argparse
import collections
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from testbeds.collection import collections_root  # noqa: E402  pylint: disable=wrong-import-position
from testbeds.cluster.controlplane import ControlPlane  # noqa: E402  pylint: disable=wrong-import-position
from testbeds.cluster.proxy import RecordingProxy  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, collections_root())
from ansible_collections.harvester.network.plugins.module_utils.cluster import builders  # noqa: E402

DOC = os.path.join(REPO, 'docs', 'benchmarks.md')
BEGIN, END = '<!-- cluster-benchmark:begin -->', '<!-- cluster-benchmark:end -->'

OURS = """
- hosts: localhost
  gather_facts: false
  tasks:
    - harvester.network.vlan_network:
        namespace: {ns}
        cluster_network: mgmt
        networks: "{{{{ nets }}}}"
"""

K8S_LOOP = """
- hosts: localhost
  gather_facts: false
  tasks:
    - kubernetes.core.k8s:
        state: present
        definition: "{{{{ item }}}}"
      loop: "{{{{ nads }}}}"
      loop_control:
        label: "{{{{ item.metadata.name }}}}"
"""


def run_playbook(binary, text, env, workdir, extra_vars_file):
    path = os.path.join(workdir, 'play.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)
    started = time.monotonic()
    proc = subprocess.run([binary, '-i', 'localhost,', '-c', 'local', '-e', '@' + extra_vars_file, path], env=env,
                          capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit('ansible-playbook failed:\n%s\n%s' % (proc.stdout[-3000:], proc.stderr[-3000:]))
    changed = re.search(r'changed=(\d+)', proc.stdout)
    return elapsed, int(changed.group(1)) if changed else None


def measure(proxy, label, binary, text, env, workdir, vars_file):
    before = collections.Counter(proxy.counts)
    elapsed, changed = run_playbook(binary, text, env, workdir, vars_file)
    delta = collections.Counter(proxy.counts)
    delta.subtract(before)
    delta = dict((k, v) for k, v in delta.items() if v > 0)
    total = sum(delta.values())
    print('%-48s %8.2f s  %6d requests  changed=%s  %s' % (label, elapsed, total, changed, sorted(delta.items())),
          flush=True)
    return {'label': label, 'seconds': elapsed, 'requests': total, 'by_verb': delta, 'changed': changed}


def ensure_k8s_venv(folder):
    binary = os.path.join(folder, 'bin', 'ansible-playbook')
    if not os.path.exists(binary):
        subprocess.run([sys.executable, '-m', 'venv', folder], check=True)
        subprocess.run([os.path.join(folder, 'bin', 'pip'), 'install', '-q', 'ansible', 'kubernetes'], check=True)
    version = subprocess.run([os.path.join(folder, 'bin', 'python'), '-c',
                              'import importlib.metadata as m; print(m.version("ansible"), m.version("ansible-core"),'
                              ' m.version("kubernetes"))'], capture_output=True, text=True, check=True).stdout.split()
    return binary, version


def verbs(entry):
    return ', '.join('%s %d' % (verb, count) for verb, count in sorted(entry['by_verb'].items()))


def _load():
    return ' '.join('%.2f' % value for value in os.getloadavg())


def write_doc(count, results, versions):
    rows = ['| run | wall time | API requests | by verb | changed tasks |',
            '|---|---:|---:|---|---:|']
    for entry in results:
        rows.append('| %s | %.1f s | %d | %s | %s |' % (entry['label'], entry['seconds'], entry['requests'],
                                                        verbs(entry), entry['changed']))
    by_label = dict((e['label'], e) for e in results)
    lines = [BEGIN, '## Cluster: %d VLAN networks (NetworkAttachmentDefinitions)' % count, '',
             'Measured by `benchmarks/cluster/bench_vlan_networks.py` against the real kube-apiserver of the cluster '
             'test bed (kube-apiserver %s, etcd on the same machine), %s, %d cores, Linux %s, Python %s, '
             'ansible-core %s; %s, load average %s when it started, %s when it ended. Each row is one '
             '`ansible-playbook` run; every HTTP request is counted by a proxy in front of the server (discovery '
             'included; PATCH is server-side apply for harvester.network).'
             % (versions.get('apiserver', '?'), platform.machine(), os.cpu_count(), platform.release(),
                platform.python_version(), versions.get('ansible_core', '?'), versions.get('started', '?'),
                versions.get('load_start', '?'), versions.get('load_end', '?')), '',
             ] + rows + ['']
    ours_noop = by_label.get('harvester.network.vlan_network, no-op re-run')
    k8s_noop = by_label.get('kubernetes.core.k8s loop, no-op re-run')
    if ours_noop and k8s_noop:
        lines += ['No-op re-run: **%.0fx faster** (%.1f s vs %.1f s) with **%d vs %d API requests**. '
                  'harvester.network.vlan_network reads each kind once (discovery of two API groups, one LIST of '
                  'NetworkAttachmentDefinitions, one LIST of VlanConfigs), finds nothing to change and writes nothing. '
                  'The loop starts the k8s module %d times and each start sends a GET and two PATCH requests for its '
                  'object although nothing changes.'
                  % (k8s_noop['seconds'] / ours_noop['seconds'], ours_noop['seconds'], k8s_noop['seconds'],
                     ours_noop['requests'], k8s_noop['requests'], count), '']
    ours_create = by_label.get('harvester.network.vlan_network, create')
    k8s_create = by_label.get('kubernetes.core.k8s loop, create')
    if ours_create and k8s_create:
        lines += ['Create: %.0fx faster (%.1f s vs %.1f s): one server-side apply PATCH per network from one module '
                  'process, against a GET and a POST per network from one module process each.'
                  % (k8s_create['seconds'] / ours_create['seconds'], ours_create['seconds'], k8s_create['seconds']), '']
    lines += ['Wall times come from a shared 2-core machine (the load average above says how busy it was); the '
              'request counts are exact and do not depend on load.', '']
    if versions.get('k8s'):
        lines += ['kubernetes.core from the `ansible` %s PyPI package (ansible-core %s, kubernetes client %s) in a '
                  'throwaway venv; harvester.network with ansible-core from the project venv.' % tuple(versions['k8s'])]
    lines.append(END)
    replace_section(lines, BEGIN, END)


def replace_section(lines, begin, end):
    """Put ``lines`` (from the ``begin`` marker to the ``end`` marker) into docs/benchmarks.md, other sections kept."""
    section = '\n'.join(lines) + '\n'
    text = open(DOC, encoding='utf-8').read() if os.path.exists(DOC) else '# Benchmarks\n\n'
    if begin in text and end in text:
        text = text[:text.index(begin)] + section.rstrip('\n') + text[text.index(end) + len(end):]
    else:
        text = text.rstrip('\n') + '\n\n' + section
    os.makedirs(os.path.dirname(DOC), exist_ok=True)
    with open(DOC, 'w', encoding='utf-8') as handle:
        handle.write(text)


def common_arguments(parser):
    """The options both cluster benchmarks take."""
    parser.add_argument('--k8s-venv', default=os.path.join(tempfile.gettempdir(), 'harvester-network-bench-k8s'))
    parser.add_argument('--skip-k8s', action='store_true')
    parser.add_argument('--no-doc', action='store_true')
    parser.add_argument('--doc-from', metavar='JSON', help='only rewrite the doc section from a saved result file')
    return parser


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--count', type=int, default=500)
    args = common_arguments(parser).parse_args()
    if args.doc_from:
        with open(args.doc_from, encoding='utf-8') as handle:
            saved = json.load(handle)
        write_doc(saved['count'], saved['results'], saved['versions'])
        return

    workdir = tempfile.mkdtemp(prefix='hn-bench-')
    plane = ControlPlane(os.path.join(workdir, 'state'))
    results = []
    from ansible.release import __version__ as ansible_core  # pylint: disable=import-outside-toplevel
    versions = {'started': time.strftime('%Y-%m-%d %H:%M %Z'), 'load_start': _load(), 'ansible_core': ansible_core}
    try:
        server = plane.apiserver('current')
        status, version = server.request('GET', '/version')
        versions['apiserver'] = version.get('gitVersion') if status == 200 else '?'
        for ns in ('bench-ours', 'bench-k8s'):
            server.create_namespace(ns)
        nets = [{'name': 'vlan%d' % vid, 'vlan_id': vid} for vid in range(2, 2 + args.count)]
        nads = [builders.vlan_network('current', dict(net, namespace='bench-k8s', cluster_network='mgmt', mtu=1500))
                for net in nets]
        vars_file = os.path.join(workdir, 'vars.json')
        with open(vars_file, 'w', encoding='utf-8') as handle:
            json.dump({'nets': nets, 'nads': json.loads(json.dumps(nads))}, handle)
        proxy = RecordingProxy(server, record=False)
        kubeconfig = proxy.kubeconfig(server, os.path.join(workdir, 'kubeconfig'))
        env = dict(server.env)
        env.update({'K8S_AUTH_KUBECONFIG': kubeconfig, 'KUBECONFIG': kubeconfig,
                    'ANSIBLE_COLLECTIONS_PATH': collections_root(), 'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
                    'ANSIBLE_LOCALHOST_WARNING': '0', 'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0',
                    'ANSIBLE_NOCOLOR': '1'})
        ours = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
        text = OURS.format(ns='bench-ours')
        results.append(measure(proxy, 'harvester.network.vlan_network, create', ours, text, env, workdir, vars_file))
        results.append(measure(proxy, 'harvester.network.vlan_network, no-op re-run', ours, text, env, workdir,
                               vars_file))
        if not args.skip_k8s:
            binary, versions['k8s'] = ensure_k8s_venv(args.k8s_venv)
            k8s_env = dict(env)
            k8s_env.pop('ANSIBLE_COLLECTIONS_PATH')
            k8s_env['ANSIBLE_PYTHON_INTERPRETER'] = os.path.join(args.k8s_venv, 'bin', 'python')
            text = K8S_LOOP.format()
            results.append(measure(proxy, 'kubernetes.core.k8s loop, create', binary, text, k8s_env, workdir,
                                   vars_file))
            results.append(measure(proxy, 'kubernetes.core.k8s loop, no-op re-run', binary, text, k8s_env, workdir,
                                   vars_file))
        proxy.stop()
    finally:
        plane.stop()
    versions['load_end'] = _load()
    if not args.no_doc:
        write_doc(args.count, results, versions)
    print(json.dumps({'count': args.count, 'results': results, 'versions': versions}, indent=1))


if __name__ == '__main__':
    main()
