"""``python -m lab slices`` (``make lab-slices``): playbooks/site.yml run the way AWX job slicing runs it, proven
against the unsliced converge of the same fresh lab.

AWX slices a job template with ``job_slice_count`` N into N jobs; job K gets a pared-down inventory: the enabled
hosts ordered by name, every N-th one from the K-th (``hosts[K-1::N]``), every group kept (empty ones too, with
their vars), host vars only for its hosts (ansible/awx awx/main/models/inventory.py ``get_sliced_hosts`` and
``get_script_data``, commit e21dd0a0933fd544d1fe2513c54fe41203775eb5). No slice number reaches the playbook
(``awx_meta_vars`` of awx/main/models/jobs.py and unified_jobs.py, same commit). ``awx_inventory`` below builds
that inventory from the lab's (``ansible-inventory --list --export``) and hands it to ansible-runner as an inventory
script, as AWX does.

On one fresh lab (new etcd and kube-apiserver, new namespaces), the layout docs/awx.md recommends:

A. the first converge: one ansible-runner job of site.yml with the whole inventory (the unsliced "site" template);
B. drift (one VLAN taken off a bridge port's trunk on every node with iproute2, one IP pool deleted over REST),
   then the "reconcile" template: site.yml in N (default 4) slice jobs at once, AWX's partition of the inventory;
   then the slices again (the next scheduled run, nothing to do).

The witness is not the playbook: every request of the cluster modules goes through the recording proxy
(testbeds/cluster/proxy.py), so the writes per object are counted by what reached the server; the end state is a
separate LIST of every kind of the site's API groups over the bed's own REST client, and ``ip -j`` / ``bridge -j``
in each node (lab.bed.Namespace.snapshot). Proven: every slice succeeds, the cluster host is in exactly one slice,
every node ran its node stages in exactly one slice and that slice repaired it, no cluster object was written twice
and the deleted IP pool was created once, the end state after B equals A's, and the re-run writes nothing and
changes nothing. The result goes to ``<lab home>/slices.json`` and, with ``--write FILE``, into the "Sliced
site.yml" section of FILE (docs/benchmarks.md).
"""

import argparse
import collections
import itertools
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
import types

from lab import lifecycle, playbook
from lab.bed import Bed
from lab.config import INVENTORY, World, lab_home
from testbeds import cni
from testbeds.cluster.controlplane import Rest
from testbeds.cluster.pki import Pki
from testbeds.cluster.proxy import WRITE_VERBS, RecordingProxy
from testbeds.common import REPO_ROOT, progress

SITE = os.path.join(REPO_ROOT, 'playbooks', 'site.yml')
CLUSTER_GROUP = 'harvester_cluster'
# The API groups site.yml writes to (LISTed whole for the end state; kinds found by discovery).
API_GROUPS = ('network.harvesterhci.io', 'harvesterhci.io', 'k8s.cni.cncf.io', 'kubevirt.io',
              'loadbalancer.harvesterhci.io')
VOLATILE = ('resourceVersion', 'uid', 'creationTimestamp', 'managedFields', 'selfLink')
JOB_TIMEOUT = 2400
SECTION = '## Sliced site.yml (AWX job slicing)'
BEGIN, END = '<!-- lab-slices:begin -->', '<!-- lab-slices:end -->'


# -- the inventory AWX hands a slice ----------------------------------------------------------------------------------

def export_inventory(inventory=INVENTORY):
    """The lab's inventory as ``ansible-inventory --list --export`` gives it (group vars on the groups)."""
    tool = os.path.join(os.path.dirname(sys.executable), 'ansible-inventory')
    out = subprocess.run([tool, '-i', inventory, '--list', '--export'], capture_output=True, text=True, check=True,
                         cwd=REPO_ROOT, timeout=300).stdout
    return json.loads(out)


def _group_hosts(data, name, seen=None):
    seen = seen if seen is not None else set()
    if name in seen:
        return set()
    seen.add(name)
    group = data.get(name) or {}
    hosts = set(group.get('hosts') or [])
    for child in group.get('children') or []:
        hosts |= _group_hosts(data, child, seen)
    return hosts


def awx_inventory(data, number, count):
    """Slice ``number`` (1-based) of ``count`` of an exported inventory, the way AWX builds it (see the docstring):
    the hosts ordered by name, ``hosts[number-1::count]``; every group kept, its hosts filtered; the ungrouped hosts
    under ``all``; host vars only for the slice's hosts."""
    groups = dict((name, value) for name, value in data.items() if name != '_meta')
    everyone = sorted(_group_hosts(data, 'all'))
    hosts = everyone[number - 1::count] if count > 1 else everyone
    keep = set(hosts)
    result = {'all': {'hosts': [], 'children': []}}
    if (groups.get('all') or {}).get('vars'):
        result['all']['vars'] = groups['all']['vars']
    grouped = set()
    for name, group in sorted(groups.items()):
        if name in ('all', 'ungrouped'):
            continue
        info = {}
        members = [host for host in group.get('hosts') or [] if host in keep]
        grouped.update(members)
        if members:
            info['hosts'] = members
        if group.get('children'):
            info['children'] = list(group['children'])
        if group.get('vars'):
            info['vars'] = group['vars']
        if info:
            result[name] = info
        result['all']['children'].append(name)
    result['all']['hosts'] = [host for host in hosts if host not in grouped]
    hostvars = (data.get('_meta') or {}).get('hostvars') or {}
    result['_meta'] = {'hostvars': dict((host, hostvars.get(host, {})) for host in hosts)}
    return hosts, result


def write_inventory_script(path, inventory):
    """An inventory script that prints ``inventory`` (AWX hands ansible-playbook its inventory as a script too)."""
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('#!/bin/sh\n# a slice inventory of lab/slices.py\ncat <<\'EOF\'\n%s\nEOF\n'
                     % json.dumps(inventory, indent=1, sort_keys=True))
    os.chmod(path, 0o755)
    return path


# -- the witness ------------------------------------------------------------------------------------------------------

def _scrub(value):
    """An object without what differs between two equal writes at other times (uid, resourceVersion, timestamps)."""
    if isinstance(value, dict):
        return dict((key, _scrub(item)) for key, item in value.items()
                    if key not in VOLATILE and not re.search('time', key, re.IGNORECASE))
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def api_state(rest):
    """{kind/namespace/name: object without volatile fields} for every kind of API_GROUPS, by discovery and LIST."""
    state = {}
    for group in API_GROUPS:
        status, info = rest.request('GET', '/apis/%s' % group)
        if status != 200:
            continue
        version = info['preferredVersion']['groupVersion']
        status, resources = rest.request('GET', '/apis/%s' % version)
        for resource in resources.get('resources', []) if status == 200 else []:
            if '/' in resource['name'] or 'list' not in resource.get('verbs', []):
                continue
            status, listing = rest.request('GET', '/apis/%s/%s' % (version, resource['name']), timeout=60)
            if status != 200:
                raise RuntimeError('LIST %s/%s answered %s' % (version, resource['name'], status))
            for item in listing.get('items', []):
                meta = item['metadata']
                key = '%s/%s/%s' % (resource['name'], meta.get('namespace', ''), meta['name'])
                state[key] = _scrub(item)
    return state


def writes(proxy):
    """Counter of (verb, path) of the writes that reached the server through the proxy."""
    return collections.Counter('%s %s' % (entry['method'], entry['path']) for entry in proxy.requests
                               if entry['method'] in WRITE_VERBS)


def _object_path(key):
    """A write's object: the path without the verb, a PATCH/PUT/DELETE's name, or a POST's collection."""
    return key.split(' ', 1)[1]


class Site:
    """One fresh lab (keeper with Harvester's stand-in, topology) and the proxy in front of its API server."""

    def __init__(self, home, world):
        self.bed = Bed(home, world)
        self.world = world
        self.proxy = None
        self.rest = None
        self.kubeconfig = None
        self.ids = itertools.count(1)

    def up(self):
        lifecycle.stop(self.bed.paths)
        started = time.monotonic()
        self.bed.cni_bin = cni.build()
        self.bed.cluster = lifecycle.start(self.bed.paths, self.world, harvester=True)
        try:
            self.bed.build()
        except AssertionError as exc:  # a fresh guest's first job timed out (seen at load average 28): once more
            progress('slices: building the topology failed, once more: %s' % str(exc)[-300:])
            self.bed.build()
        pki = Pki(os.path.join(self.bed.paths.run, 'cluster', 'pki'))
        port = int(self.bed.cluster['port'])
        server = types.SimpleNamespace(pki=pki, port=port, kubeconfig=self.bed.cluster['kubeconfig'])
        self.proxy = RecordingProxy(server)
        self.kubeconfig = self.proxy.kubeconfig(server, self.bed.paths.state('kubeconfig-proxy'))
        self.rest = Rest('127.0.0.1', port, pki)
        return time.monotonic() - started

    def snapshot(self):
        return {'api': api_state(self.rest),
                'nodes': dict((name, node.snapshot()) for name, node in sorted(self.bed.nodes.items()))}

    def down(self):
        if self.proxy:
            self.proxy.stop()
        if self.rest:
            self.rest.close()
        return lifecycle.stop(self.bed.paths)

    def job(self, name, inventory, limit=None, workflow=None):
        """One AWX job: ansible-runner with ``inventory`` (an exported inventory, already sliced), its own private
        data dir, and the variables AWX gives every job (``awx_job_id``; ``awx_workflow_job_id`` when ``workflow``,
        as in every job of a workflow or a sliced template: awx/main/models/unified_jobs.py ``awx_meta_vars``,
        e21dd0a); returns {rc, status, seconds, hosts: {host: stats}, node_tasks: {host: count}, output}."""
        import ansible_runner  # pylint: disable=import-outside-toplevel
        private = self.bed.paths.state('runner', name)
        os.makedirs(os.path.join(private, 'inventory'), exist_ok=True)
        script = write_inventory_script(os.path.join(private, 'inventory', 'awx_inventory.sh'), inventory)
        env = playbook.environment(self.bed.paths.run)
        cmdline = ' '.join(['-e @%s' % path for path in self.world.vars_files] +
                           ['-e lab_dir=%s' % self.bed.paths.run, '-e harvester_kubeconfig=%s' % self.kubeconfig])
        cmdline += ' -e awx_job_id=%d' % next(self.ids)
        if workflow is not None:
            cmdline += ' -e awx_workflow_job_id=%d' % workflow
        started = time.monotonic()
        runner = ansible_runner.run(private_data_dir=private, playbook=SITE, inventory=script, cmdline=cmdline,
                                    limit=limit, envvars=dict((k, v) for k, v in env.items()
                                                              if k.startswith(('ANSIBLE_', 'HN_')) or k == 'PATH'),
                                    quiet=True, timeout=JOB_TIMEOUT)
        seconds = time.monotonic() - started
        events = list(runner.events)
        stats = [e for e in events if e.get('event') == 'playbook_on_stats']
        hosts = {}
        if stats:
            data = stats[-1]['event_data']
            for field in ('ok', 'changed', 'failures', 'dark', 'skipped'):
                for host, number in (data.get(field) or {}).items():
                    hosts.setdefault(host, {})[field] = number
        node_tasks = collections.Counter(e['event_data'].get('host') for e in events
                                         if e.get('event') in ('runner_on_ok', 'runner_on_failed')
                                         and e['event_data'].get('host') in self.world.node_names)
        output = '\n'.join(e.get('stdout', '') for e in events if e.get('stdout'))
        return {'name': name, 'rc': runner.rc, 'status': runner.status, 'seconds': round(seconds, 1),
                'hosts': hosts, 'node_tasks': dict(node_tasks), 'output_tail': output[-4000:]}


def _parallel(calls):
    """Run the (name, function) pairs at once, as AWX starts a sliced workflow's jobs; their results in order."""
    results = [None] * len(calls)

    def one(index, func):
        try:
            results[index] = func()
        except Exception as exc:  # pylint: disable=broad-except
            results[index] = {'name': calls[index][0], 'rc': -1, 'status': 'error: %s' % exc, 'hosts': {},
                              'node_tasks': {}, 'seconds': 0, 'output_tail': ''}
    threads = [threading.Thread(target=one, args=(index, func)) for index, (_name, func) in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _failed(job):
    return job['rc'] != 0 or any(stats.get('failures') or stats.get('dark') for stats in job['hosts'].values())


def _diff(left, right, limit=12):
    """The keys whose values differ between two flat dicts (at most ``limit``)."""
    keys = sorted(set(left) | set(right))
    return [key for key in keys if left.get(key) != right.get(key)][:limit]


def drift(site, state):
    """Undo a little of what the converge made, the way a site drifts between scheduled runs: on every node one VLAN
    of a bridge port's trunk (``bridge vlan del``; the first port, by name, with a VID other than 1), and in the
    cluster one IP pool deleted (an object no node stage reads, so the slices do not race over it). Done beside
    the playbook (iproute2 in the node, the bed's own REST client), not through the proxy. Returns what was undone."""
    undone = {'nodes': {}, 'api': []}
    for name, node in sorted(site.bed.nodes.items()):
        links = node.links()
        picked = None
        for port, table in sorted(node.vlans().items()):
            vids = sorted(vid for vid in table if vid != 1)
            if vids and links.get(port, {}).get('master'):  # a bridge port, not the bridge itself
                picked = (port, vids[0])
                break
        if picked is None:
            raise RuntimeError('drift: node %s has no bridge port with a VLAN other than 1 to take away' % name)
        node.bridge('vlan', 'del', 'vid', str(picked[1]), 'dev', picked[0])
        undone['nodes'][name] = {'port': picked[0], 'vid': picked[1]}
    pools = sorted(key for key in state['api'] if key.startswith('ippools/'))
    if not pools:
        raise RuntimeError('drift: the converged site has no IP pool to delete (lab vars: harvester_ip_pools)')
    _kind, _namespace, pool = pools[0].split('/', 2)
    version = state['api'][pools[0]]['apiVersion']
    status, body = site.rest.request('DELETE', '/apis/%s/ippools/%s' % (version, pool))
    if status not in (200, 202):
        raise RuntimeError('drift: DELETE of IP pool %s answered %s: %s' % (pool, status, body))
    undone['api'].append(pools[0])
    return undone


def run(home, count=4, keep=False, save=None):  # pylint: disable=too-many-locals,too-many-statements
    """The layout docs/awx.md recommends, on one fresh lab (see the module docstring); returns the result document."""
    world = World()
    exported = export_inventory()
    result = {'slices': count, 'started': time.strftime('%Y-%m-%dT%H:%M:%S%z'), 'runs': {}, 'checks': []}
    site = Site(home, world)
    partitions = [awx_inventory(exported, number, count) for number in range(1, count + 1)]

    def check(name, ok, evidence):
        result['checks'].append({'check': name, 'result': 'PASS' if ok else 'FAIL', 'evidence': evidence})
        progress('slices: %s %s: %s' % ('PASS' if ok else 'FAIL', name, evidence))

    def sliced(label, workflow):
        started = time.monotonic()
        jobs = _parallel([('%s%d' % (label, number),
                           (lambda n=number, inv=inventory: site.job('%s%d' % (label, n), inv, workflow=workflow)))
                          for number, (_hosts, inventory) in enumerate(partitions, start=1)])
        for job, (hosts, _inventory) in zip(jobs, partitions):
            job['slice_hosts'] = hosts
        return jobs, time.monotonic() - started

    try:
        # A: the first converge, unsliced (the "site" template)
        progress('slices: a fresh lab, then site.yml unsliced (the first converge)')
        up = site.up()
        _hosts, whole = awx_inventory(exported, 1, 1)
        job = site.job('converge', whole)
        if _failed(job):
            raise RuntimeError('the unsliced converge failed: %s\n%s' % (job['status'], job['output_tail']))
        state_a = site.snapshot()
        writes_a = writes(site.proxy)
        result['runs']['A'] = {'lab_up_seconds': round(up, 1), 'jobs': [job], 'writes': sum(writes_a.values()),
                               'requests': len(site.proxy.requests)}
        if save:
            save(result)

        # B: drift, then the "reconcile" template: site.yml in COUNT slices at once
        undone = drift(site, state_a)
        result['drift'] = undone
        progress('slices: drift %s; then site.yml in %d slices at once (the reconcile)' % (undone, count))
        site.proxy.clear()
        slice_jobs, seconds = sliced('slice', 1)
        state_b = site.snapshot()
        writes_b = writes(site.proxy)
        result['runs']['B'] = {'jobs': slice_jobs, 'slices_wall_seconds': round(seconds, 1),
                               'writes': sum(writes_b.values()), 'requests': len(site.proxy.requests)}
        failed = [job['name'] for job in slice_jobs if _failed(job)]
        check('every slice of the reconcile succeeded', not failed, 'failed: %s' % (failed or 'none'))
        cluster_hosts = set((exported.get(CLUSTER_GROUP) or {}).get('hosts') or [])
        cluster_slices = [job['name'] for job in slice_jobs if cluster_hosts & set(job['slice_hosts'])]
        check('the cluster host is in exactly one slice', len(cluster_hosts) == 1 and len(cluster_slices) == 1,
              'group %s: %s; slices holding it: %s' % (CLUSTER_GROUP, sorted(cluster_hosts), cluster_slices))
        per_node = dict((node, [job['name'] for job in slice_jobs if job['node_tasks'].get(node)])
                        for node in world.node_names)
        repaired = dict((node, [job['name'] for job in slice_jobs
                                if (job['hosts'].get(node) or {}).get('changed')]) for node in world.node_names)
        check('every node ran its node stages in exactly one slice, which repaired its trunk',
              all(len(names) == 1 for names in per_node.values()) and repaired == per_node,
              'slices that ran tasks on each node: %s; that changed it: %s' % (per_node, repaired))
        objects = collections.Counter()
        for key, number in writes_b.items():
            objects[_object_path(key)] += number
        twice = dict((path, number) for path, number in objects.items() if number > 1)
        pool = undone['api'][0].split('/', 2)[2]
        pool_writes = sum(number for path, number in objects.items()
                          if path.split('?')[0].endswith(('/ippools', '/ippools/%s' % pool)))
        result['written_objects'] = dict(objects)
        check('no cluster object written twice; the deleted IP pool created once (writes through the proxy)',
              not twice and pool_writes == 1,
              'writes %d on %d objects: %s; written more than once: %s'
              % (sum(writes_b.values()), len(objects), sorted(objects), twice or 'none'))
        api_diff = _diff(state_a['api'], state_b['api'])
        nodes_diff = _diff(state_a['nodes'], state_b['nodes'])
        check('the same end state as the unsliced converge (LIST of every kind; ip -j and bridge -j on each node)',
              not api_diff and not nodes_diff,
              '%d API objects, %d nodes; differing: %s'
              % (len(state_a['api']), len(state_a['nodes']), (api_diff + nodes_diff) or 'none'))
        if save:
            save(result)  # the re-run may be cut short: what is proven so far is kept

        # the next scheduled reconcile: nothing to do
        site.proxy.clear()
        progress('slices: the reconcile again (no-op), %d slices' % count)
        rerun_jobs, seconds = sliced('rerun', 2)
        state_rerun = site.snapshot()
        writes_rerun = writes(site.proxy)
        result['runs']['B rerun'] = {'jobs': rerun_jobs, 'slices_wall_seconds': round(seconds, 1),
                                     'writes': sum(writes_rerun.values()), 'requests': len(site.proxy.requests)}
        changed = dict((job['name'], sum(stats.get('changed', 0) for stats in job['hosts'].values()))
                       for job in rerun_jobs)
        failed = [job['name'] for job in rerun_jobs if _failed(job)]
        check('the sliced re-run succeeds, writes nothing and changes nothing',
              not failed and not writes_rerun and not any(changed.values()) and state_rerun == state_b,
              'failed: %s; writes %d (%s), changed per job %s, end state %s'
              % (failed or 'none', sum(writes_rerun.values()), sorted(writes_rerun) or 'none', changed,
                 'unchanged' if state_rerun == state_b else 'CHANGED'))
    finally:
        if not keep:
            site.down()
    result['result'] = 'PASS' if result['checks'] and all(c['result'] == 'PASS' for c in result['checks']) else 'FAIL'
    return result


def machine():
    load = os.getloadavg()
    return '%s, %d cores, load average %.1f/%.1f/%.1f, Python %s' % (
        platform.platform(), os.cpu_count() or 0, load[0], load[1], load[2], platform.python_version())


def table(result):
    """The Markdown section for docs/benchmarks.md."""
    lines = [SECTION, '',
             '`make lab-slices` (lab/slices.py; docs/awx.md): on a fresh lab, site.yml unsliced (A, the first converge), '
             'then drift (a VLAN off a trunk on every node, an IP pool deleted) and site.yml in %d slices at once '
             '(B, AWX\'s partition of the inventory: the reconcile template), then the slices again. Measured %s '
             '(%s).' % (result['slices'], result['started'], result.get('machine', '')), '',
             '| job | hosts | seconds | changed |', '|---|---|---|---|']
    for label in ('A', 'B', 'B rerun'):
        run_ = result['runs'].get(label) or {}
        for job in run_.get('jobs', []):
            hosts = job.get('slice_hosts') or sorted(job['hosts'])
            changed = sum(stats.get('changed', 0) for stats in job['hosts'].values())
            lines.append('| %s %s | %s | %.1f | %d |' % (label, job['name'], ', '.join(hosts), job['seconds'], changed))
        if run_:
            wall = (' (slices at once: %.1f s wall)' % run_['slices_wall_seconds']) if 'slices_wall_seconds' in run_ \
                else ''
            lines.append('| %s total%s: API writes %d of %d requests | | | |'
                         % (label, wall, run_['writes'], run_['requests']))
    lines += ['', '| check | result | evidence |', '|---|---|---|']
    for item in result['checks']:
        lines.append('| %s | %s | %s |' % (item['check'], item['result'], str(item['evidence']).replace('|', '/')))
    lines += ['', 'Result: %s.' % result['result'], '']
    return '\n'.join(lines)


def write_section(path, text, begin=BEGIN, end=END):
    """Put ``text`` between the ``begin`` and ``end`` markers of ``path`` (appended with them when missing)."""
    section = '%s\n%s\n%s' % (begin, text.rstrip('\n'), end)
    with open(path, encoding='utf-8') as handle:
        doc = handle.read()
    if begin in doc and end in doc:
        doc = doc[:doc.index(begin)] + section + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip('\n') + '\n\n' + section + '\n'
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(doc)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m lab.slices', description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--slices', type=int, default=4, help='job_slice_count (default 4)')
    parser.add_argument('--home', help='the lab folder for these runs (default <lab home>/slices)')
    parser.add_argument('--write', help='write the table into this Markdown file (docs/benchmarks.md)')
    parser.add_argument('--keep', action='store_true', help='leave the lab up at the end')
    parser.add_argument('--doc-from', metavar='JSON', help='only write the table of a saved slices.json')
    args = parser.parse_args(argv)
    if args.doc_from:
        with open(args.doc_from, encoding='utf-8') as handle:
            text = table(json.load(handle))
        sys.stdout.write(text + '\n')
        if args.write:
            write_section(args.write, text)
        return 0
    if args.slices < 1:
        parser.error('--slices: give 1 or more')
    home = args.home or os.path.join(lab_home(), 'slices')
    os.makedirs(home, exist_ok=True)
    started = time.monotonic()

    def save(partial):
        with open(os.path.join(home, 'slices.json'), 'w', encoding='utf-8') as handle:
            json.dump(dict(partial, machine=machine(), seconds=round(time.monotonic() - started, 1),
                           result='PASS so far (saved before the re-run)' if all(
                               item['result'] == 'PASS' for item in partial['checks']) else 'FAIL'),
                      handle, indent=1, sort_keys=True)

    try:
        result = run(home, args.slices, keep=args.keep, save=save)
    except (RuntimeError, lifecycle.LabError, subprocess.CalledProcessError) as exc:
        sys.stderr.write('slices: %s\n' % exc)
        return 1
    result['seconds'] = round(time.monotonic() - started, 1)
    result['machine'] = machine()
    with open(os.path.join(home, 'slices.json'), 'w', encoding='utf-8') as handle:
        json.dump(result, handle, indent=1, sort_keys=True)
    text = table(result)
    sys.stdout.write(text + '\nwhole run: %.0f s\n' % result['seconds'])
    if args.write:
        write_section(args.write, text)
    return 0 if result['result'] == 'PASS' else 1


if __name__ == '__main__':
    sys.exit(main())
