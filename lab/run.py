"""``make lab``: bring the lab up, converge it with site.yml, prove it works, report; the lab stays up afterwards.

Stages, each timed, each failure named with its reason (later stages that need it are skipped, and the rows they
would have proven FAIL with that reason):

1. control plane and kernel   the keeper: etcd + kube-apiserver (CRDs registered), the guest (or this machine) + agent
2. topology                   switch, cables, nodes' management addresses, router with its DHCP server, untagged host
3. site.yml (converge)        playbooks/site.yml with lab/inventory and its vars file
4. VM stand-ins               every VM on the API server as a namespace, attached by the bridge CNI plugin
5. site.yml again             the idempotence run, with the nodes and the API objects compared before and after
6. checks                     pings and DHCP clients, in parallel, from the stand-ins
7. hitless                    changes to the live uplink while traffic flows between the stand-ins, our way and
                              Harvester's recreate way (lab/hitless.py); HN_LAB_HITLESS=0 leaves it out
8. rolling update             a node's uplink NIC taken away, default_vlan.yml with that node in the first batch: the
                              run stops there, the node is as it was, later batches untouched; the NIC comes back
9. report                     report.txt (the table) and report.json next to it
"""

import json
import os
import sys
import time
import traceback

from lab import channel, checks, checks_current, hitless, lifecycle, playbook, report, topology, vms
from lab.config import PROFILE, Paths, World
from testbeds import cni
from testbeds.cluster.gobuild import BuildError
from testbeds.common import REPO_ROOT, progress

JOB_TIMEOUT = 900
ROLLING_PLAYBOOK = os.path.join(REPO_ROOT, 'playbooks', 'default_vlan.yml')


class StageError(RuntimeError):
    """A stage failed; the message is the reason shown in the report."""


class Stage:
    def __init__(self, name):
        self.name = name
        self.status = 'SKIP'
        self.seconds = 0.0
        self.error = None
        self.parts = []

    def as_dict(self):
        return {'name': self.name, 'status': self.status, 'seconds': round(self.seconds, 1), 'error': self.error,
                'parts': [(name, round(seconds, 1)) for name, seconds in self.parts]}


class Lab:
    """One ``up`` run: the stages, their results, the report."""

    def __init__(self, paths=None, world=None, profile=PROFILE, echo=True, extra_profiles=()):  # pylint: disable=too-many-arguments
        self.paths = paths or Paths()
        self.world = world or World(profile)
        # more API servers of other CRD profiles in the keeper, for the controller only (the lab phase's plain stages)
        self.extra_profiles = tuple(extra_profiles)
        self.profile = self.world.profile
        self.echo = echo
        self.stages = []
        self.cluster = None
        self.cni_bin = None
        self.jobs = 0

    # -- helpers -----------------------------------------------------------------------------------------------------

    def stage(self, number, total, name, func, *args):
        stage = Stage(name)
        self.stages.append(stage)
        progress('==> stage %d/%d: %s' % (number, total, name))
        started = time.monotonic()
        try:
            result = func(stage, *args)
            stage.status = 'PASS' if stage.error is None else 'FAIL'
        except (StageError, lifecycle.LabError, channel.ChannelError, OSError, ValueError, KeyError) as exc:
            stage.status = 'FAIL'
            stage.error = str(exc)
            result = None
            if not isinstance(exc, (StageError, lifecycle.LabError, channel.ChannelError)):
                stage.error = '%s: %s' % (type(exc).__name__, exc)
                sys.stderr.write(traceback.format_exc())
        stage.seconds = time.monotonic() - started
        progress('<== stage %s: %s after %.1fs%s'
                 % (name, stage.status, stage.seconds, (': ' + stage.error) if stage.error else ''))
        return result

    def skip(self, name, why):
        stage = Stage(name)
        stage.error = 'skipped: %s' % why
        self.stages.append(stage)
        progress('==> stage %s: skipped (%s)' % (name, why))

    def job(self, action, plan, timeout=JOB_TIMEOUT, module='lab.guest'):
        """Run ``python -m MODULE ACTION`` (lab.guest, or lab.traffic) where the lab is; stream its lines; return its
        JSON output (or None)."""
        self.jobs += 1
        folder = self.paths.state('plans')
        os.makedirs(folder, exist_ok=True)
        plan_path = os.path.join(folder, '%02d-%s.json' % (self.jobs, action))
        out_path = os.path.join(folder, '%02d-%s.out.json' % (self.jobs, action))
        with open(plan_path, 'w', encoding='utf-8') as handle:
            json.dump(plan, handle, indent=1)
        argv = [sys.executable, '-m', module, action, plan_path] + ([] if action == 'run-plan' else [out_path])
        pending = []

        def show(data):
            pending.append(data.decode('utf-8', 'replace'))
            text = ''.join(pending)
            *lines, rest = text.split('\n')
            pending[:] = [rest]
            for line in lines:
                if line.strip() and self.echo:
                    progress('    %s' % line)
        rc, out, err = channel.run(self.paths.run, argv, timeout=timeout, cwd=REPO_ROOT, on_output=show)
        if rc != 0:
            text = (out.decode('utf-8', 'replace').strip().splitlines() or [''])[-1]
            detail = (' / ' + err.decode('utf-8', 'replace').strip()[-800:]) if err.strip() else ''
            raise StageError('%s failed (exit %d): %s%s' % (action, rc, text, detail))
        if action == 'run-plan':
            return None
        with open(out_path, encoding='utf-8') as handle:
            return json.load(handle)

    # -- stages ------------------------------------------------------------------------------------------------------

    def _start(self, stage):
        started = time.monotonic()
        try:
            self.cni_bin = cni.build()
        except BuildError as exc:
            raise StageError('the bridge CNI plugin: %s' % exc) from exc
        built = time.monotonic() - started
        stage.parts.append(('bridge CNI plugin %s (from Go modules)' % cni.plugins_version(), built))
        # Harvester's own controllers and webhooks (stand-ins) on the current API only: the legacy API predates them
        self.cluster = lifecycle.start(self.paths, self.world, self.profile, harvester=self.profile == 'current',
                                       extra_profiles=self.extra_profiles)
        agent = channel.agent_info(self.paths.run) or {}
        stage.parts.append(('etcd + kube-apiserver ready, CRDs registered', built + self.cluster['api_seconds']))
        stage.parts.append(('%s up, agent ready' % ('QEMU guest' if agent.get('bed') == 'guest' else 'agent'),
                            built + self.cluster['agent_seconds']))
        progress('lab: the agent runs in the %s (kernel %s)' % (
            'QEMU guest' if agent.get('bed') == 'guest' else 'host', agent.get('kernel')))
        return self.cluster

    def _topology(self, stage):
        del stage
        self.job('run-plan', topology.build_plan(self.world, self.paths.run))

    def _site(self, stage, label, number):
        run = playbook.run(self.paths.run, self.cluster['kubeconfig'], self.world.vars_files, label,
                           self.paths.state('logs', 'site-%d.log' % number), echo=self.echo)
        stage.parts.extend(run.plays)
        progress('%s: %s (log: %s)' % (label, run.summary(), run.log_path))
        if run.rc != 0:
            reason = '; '.join(run.failures[:3]) or run.tail(15)
            stage.error = 'ansible-playbook exited %d: %s' % (run.rc, reason)
            stage.status = 'FAIL'
        return run

    def _stand_ins(self, stage):
        del stage
        api = vms.Api(self.cluster['kubeconfig'])
        try:
            plan, notes = vms.plan(api, self.world, self.paths.run, self.cni_bin)
        finally:
            api.close()
        for note in notes:
            progress('    note: %s' % note)
        if not plan['vms']:
            raise StageError('the API server holds no VirtualMachine: site.yml made none (harvester_vms)')
        result = self.job('attach', plan)
        return plan, notes, result

    def _snapshot(self):
        snap = self.job('snapshot', {'namespaces': topology.namespaces(self.world)[:1 + len(self.world.nodes)]})
        api = vms.Api(self.cluster['kubeconfig'])
        try:
            versions = api.versions()
        finally:
            api.close()
        return checks.normalise_snapshot(snap), versions

    def _again(self, stage):
        before, versions_before = self._snapshot()
        run = self._site(stage, 'site.yml again', 2)
        after, versions_after = self._snapshot()
        return run, before, after, versions_before, versions_after

    def _checks(self, stage, vm_plan, attach):
        del stage
        plan = checks.plan_probes(self.world, vm_plan, attach, self.paths.run)
        notes = checks_current.plan_probes(plan, self.world, vm_plan, attach)
        probes = plan.probes + [checks.switch_probe(self.world), checks.confinement_probe()] + \
            checks.vlan_table_probes(self.world)
        progress('    %d probes (pings, DHCP clients), in parallel' % len(probes))
        results = self.job('probe', {'probes': probes, 'parallel': 6})
        extra = checks_current.rows(self.world, self.cluster['kubeconfig'], vm_plan, attach, plan, results, notes)
        return plan, results, extra

    def _hitless(self, stage, vm_plan, attach):
        del stage
        return hitless.Hitless(self, vm_plan, attach).run()

    def _rolling(self, stage):
        """The last node loses an uplink NIC (renamed away: the NIC is not there), then the rolling default_vlan.yml
        runs with that node in the first batch and the others after it; the NIC gets its name back afterwards."""
        del stage
        names = self.world.node_names
        failing, later = names[-1], names[:-1]
        nic = self.world.uplink_nics[-1]
        renamed = (nic + 'gone')[:15]
        netns = dict((node, self.world.netns('node', node)) for node in names)

        def rename(old, new):
            where = ['ip', '-n', netns[failing], 'link', 'set']
            return {'steps': [{'desc': '%s: %s down' % (failing, old), 'argv': where + [old, 'down']},
                              {'desc': '%s: %s -> %s' % (failing, old, new), 'argv': where + [old, 'name', new]},
                              {'desc': '%s: %s up' % (failing, new), 'argv': where + [new, 'up']}]}
        self.job('run-plan', rename(nic, renamed))
        restored = 'not tried'
        try:
            before, versions_before = self._snapshot()
            order = [failing] + later
            run = playbook.run(self.paths.run, self.cluster['kubeconfig'], self.world.vars_files, 'rolling update',
                               self.paths.state('logs', 'rolling.log'), playbook=ROLLING_PLAYBOOK, echo=self.echo,
                               extra=['-e', 'harvester_node_group=%s' % ':'.join(order), '-e', 'harvester_serial=1'])
            progress('rolling update: %s (log: %s)' % (run.summary(), run.log_path))
            after, versions_after = self._snapshot()
        finally:
            try:
                self.job('run-plan', rename(renamed, nic))
                restored = None
            except (StageError, channel.ChannelError) as exc:
                restored = str(exc)
        return {'run': run, 'failing': failing, 'later': later, 'order': order, 'nic': nic, 'renamed': renamed,
                'netns': netns, 'before': before, 'after': after, 'versions_before': versions_before,
                'versions_after': versions_after, 'restored': restored}

    # -- the whole run -----------------------------------------------------------------------------------------------

    def up(self):
        """Bring the lab up and prove it; returns the report document (also written next to the lab)."""
        total = 8
        rows = {}
        section = None
        cluster = self.stage(1, total, 'control plane and kernel', self._start)
        if cluster is None:
            why = 'the lab did not start (stage "control plane and kernel")'
            for row_id in checks_current.row_ids(self.world):
                rows[row_id] = checks.not_run(row_id, why)
            return self.finish(rows)
        topo_ok = self.stage(2, total, 'topology', self._topology) is None and self.stages[-1].status == 'PASS'
        converge = None
        if topo_ok:
            converge = self.stage(3, total, 'site.yml (converge)', self._site, 'site.yml', 1)
        else:
            self.skip('site.yml (converge)', 'the topology failed')
        rows['converge'] = self.converge_row(converge)
        stand_ins = None
        if topo_ok:
            stand_ins = self.stage(4, total, 'VM stand-ins', self._stand_ins)
        else:
            self.skip('VM stand-ins', 'the topology failed')
        rows['stand_ins'] = self.stand_ins_row(stand_ins)
        converged = converge is not None and converge.rc == 0
        if converged and stand_ins is not None:
            again = self.stage(5, total, 'site.yml again (idempotence)', self._again)
            if again is not None:
                rows['idempotent'] = checks.idempotence_row(*again)
            else:
                rows['idempotent'] = checks.not_run('idempotent', self.stages[-1].error)
        else:
            why = 'site.yml did not converge' if not converged else 'the VM stand-ins failed'
            self.skip('site.yml again (idempotence)', why)
            rows['idempotent'] = checks.not_run('idempotent', why)
        if stand_ins is not None:
            probed = self.stage(6, total, 'checks', self._checks, stand_ins[0], stand_ins[2])
            if probed is not None:
                for row in checks.probe_rows(self.world, stand_ins[0], stand_ins[2], probed[0], probed[1],
                                             self.paths.run):
                    rows[row.id] = row
                rows['confined'] = checks.confinement_row(probed[1], self.cluster.get('bed'))
                rows.update((row.id, row) for row in probed[2])
        else:
            self.skip('checks', 'no VM stand-ins')
        if os.environ.get('HN_LAB_HITLESS', '1') == '0':
            self.skip('hitless: changes while traffic flows', 'HN_LAB_HITLESS=0')
        elif converged and stand_ins is not None:
            section = self.stage(7, total, 'hitless: changes while traffic flows', self._hitless, stand_ins[0],
                                 stand_ins[2])
            if section is None:
                section = {'rows': [], 'error': 'the stage failed: %s' % self.stages[-1].error}
        else:
            self.skip('hitless: changes while traffic flows', 'site.yml did not converge or no VM stand-ins')
            section = {'rows': [], 'error': 'not run: site.yml did not converge or no VM stand-ins'}
        if converged:
            # last: it takes a NIC away for a while, after every other row has been proven
            rolled = self.stage(8, total, 'rolling update, a node fails', self._rolling)
            rows['rolling'] = checks.rolling_row(rolled) if rolled is not None else checks.not_run(
                'rolling', self.stages[-1].error)
        else:
            self.skip('rolling update, a node fails', 'site.yml did not converge')
        for row_id in checks_current.row_ids(self.world):
            if row_id not in rows:
                failed = [s for s in self.stages if s.status == 'FAIL']
                rows[row_id] = checks.not_run(row_id, 'stage "%s" failed: %s' % (failed[0].name, failed[0].error)
                                              if failed else 'no result')
        return self.finish(rows, section)

    def converge_row(self, run):
        if run is None:
            failed = [s for s in self.stages if s.status == 'FAIL']
            return checks.not_run('converge', failed[-1].error if failed else 'site.yml did not run')
        row = checks.Row('converge')
        row.status = 'PASS' if run.rc == 0 and run.recap and not any(c['failed'] or c['unreachable']
                                                                     for c in run.recap.values()) else 'FAIL'
        row.evidence.append('%s %s' % ('ok  ' if row.status == 'PASS' else 'BAD ', run.summary()))
        row.evidence.append('plays: %s' % ', '.join('%s %.0fs' % (name, seconds) for name, seconds in run.plays))
        for failure in run.failures[:5]:
            row.evidence.append('BAD  %s' % failure)
        return row

    def stand_ins_row(self, stand_ins):
        if stand_ins is None:
            failed = [s for s in self.stages if s.status == 'FAIL']
            return checks.not_run('stand_ins', failed[-1].error if failed else 'no VM stand-ins')
        plan, notes, result = stand_ins
        row = checks.Row('stand_ins')
        ok_all = True
        results = dict((item['vm'], item) for item in result['vms'])
        for vm in plan['vms']:
            got = results.get(vm['vm']) or {}
            parts = []
            ok = not got.get('error') and bool(vm['nics'])
            for nic, done in zip(vm['nics'], got.get('nics') or []):
                nic_ok = done.get('cni_rc') == 0 and not done.get('errors') and done.get('bridge_existed')
                ok = ok and nic_ok
                where = '%s -> %s %s' % (nic['ifname'], nic['bridge'], 'VLAN %s' % nic['vid'] if nic['vid'] else
                                         checks_current.trunk_text(nic['trunk']) if nic.get('trunk') else 'untagged')
                how = ', '.join(nic['addresses']) if nic['mode'] == 'static' else (
                    'DHCP %s' % (done['lease']['ip'] if done.get('lease') else 'got no lease') if nic['mode'] == 'dhcp'
                    else 'not brought up')
                problems = list(done.get('errors') or [])
                if not done.get('bridge_existed'):
                    problems.append('bridge %s did not exist before (site.yml did not build it)' % nic['bridge'])
                parts.append('%s (%s config, %s)%s' % (where, nic['network'], how,
                                                       (' ' + '; '.join(problems)) if problems else ''))
            if got.get('error'):
                parts.append(got['error'])
            if not vm['nics']:
                parts.append('no VLAN NIC')
            ok_all = ok_all and ok
            row.evidence.append('%s %s on %s: %s' % ('ok  ' if ok else 'BAD ', vm['vm'], vm['node'], '; '.join(parts)))
        row.evidence.append('plugin: %s (containernetworking/plugins %s, built from Go modules)'
                            % (os.path.join(self.cni_bin, 'bridge'), cni.plugins_version()))
        row.evidence.extend('note: %s' % note for note in notes)
        row.status = 'PASS' if ok_all else 'FAIL'
        return row

    def finish(self, rows, hitless_section=None):
        ordered = [rows[row_id].as_dict() for row_id in checks_current.row_ids(self.world)]
        agent = channel.agent_info(self.paths.run) or {}
        meta = {'profile': self.profile, 'bed': {'guest': 'QEMU guest (TCG)', 'native': 'native kernel'}.get(
            agent.get('bed'), agent.get('bed')), 'guest_kernel': agent.get('kernel'), 'state': self.paths.run,
            'inventory': 'lab/inventory/hosts.yml',
            'vars': [os.path.relpath(path, REPO_ROOT) for path in self.world.vars_files]}
        document = report.build(ordered, [stage.as_dict() for stage in self.stages], meta, hitless_section)
        report.write(document, self.paths.report_json, self.paths.report_txt)
        return document
