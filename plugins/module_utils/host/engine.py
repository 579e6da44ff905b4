# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The host engine: one flow for every host module.

    params -> desired state (validate) -> facts (netlink) -> checks -> plan (pure) -> check mode stops here
    -> lock -> apply with journal -> verify (a second plan must be empty) -> probes -> keep or roll back
    -> persist -> result {changed, diff{before, after}, plan, commands, before, after}

The flow is the same for every module; what differs between modules (argument spec, desired state, the part of
the node it reports, persistence, probes and rollback) is the module's profile (profiles.py), so nothing here
asks which module it runs.  ``_prepare()`` is everything before the first write; it runs once more under the lock
when another run held it.

``run()`` is the Python API (tests and benchmarks call it directly, optionally inside a network namespace);
``run_module()`` adapts it to an AnsibleModule.  This package imports nothing from Ansible (but for the argument
spec check of the Python API), so the boot-time unit can run it on a node without Ansible.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.harvester.network.plugins.module_utils.host import facts, model, persist, profiles, validate
from ansible_collections.harvester.network.plugins.module_utils.host.plan import PlanError, interruptions, make_plan

# Imported where they are used, not here (a module task compiles what it imports from AnsiballZ's zip on every
# run): apply.py (a run that writes, or finds what an interrupted run left), store.py (persist: true), probes.py
# (probes after a change), harvester_agent.py (warnings about planned operations).  AnsiballZ still packs them:
# its dependency finder reads the imports inside functions too.


class EngineError(Exception):
    """A run failed; ``result`` carries what the module returns alongside the message."""

    def __init__(self, message, result=None):
        Exception.__init__(self, message)
        self.result = result or {}


def check_params(module, params):
    """Validate raw params against the module's argument spec (the Python API; AnsibleModule does it itself)."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # pylint: disable=import-outside-toplevel
    spec = profiles.module_spec(module)
    validator = ArgumentSpecValidator(spec['argument_spec'], mutually_exclusive=spec.get('mutually_exclusive'),
                                      required_if=spec.get('required_if'))
    outcome = validator.validate(params)
    if outcome.error_messages:
        raise EngineError('; '.join(outcome.error_messages), {'changed': False})
    return outcome.validated_parameters


def build_want(module, params):
    """Module params -> the desired state (the module's profile builds it; raises validate.ValidationError)."""
    return profiles.profile(module).want(params)


def _rendered_have(want):
    """``rendered`` plans offline against a node that has the named NICs and nothing else."""
    have = model.empty_state()
    names = set()
    for spec in (want.get('bonds') or {}).values():
        names.update(spec.get('slaves') or [])
    for spec in (want.get('bridges') or {}).values():
        names.update(spec.get('ports') or [])
        if spec.get('uplink'):
            names.add(spec['uplink'])
    names.update(want.get('addresses') or {})
    names.update(route['interface'] for route in (want.get('routes') or {}).values() if route.get('interface'))
    names -= set(want.get('bonds') or {}) | set(want.get('bridges') or {})
    # A VLAN entry on a port of a bridge this task does not create: assume that bridge, VLAN-filtering.
    ports_of = {}
    for bridge, spec in (want.get('bridges') or {}).items():
        for port in list(spec.get('ports') or []) + [spec.get('uplink')]:
            ports_of[port] = bridge
    extra_bridges = {}
    for port, spec in (want.get('vlans') or {}).items():
        if port in ports_of or port in (want.get('bridges') or {}):
            continue
        bridge = spec.get('bridge') or next(iter(sorted(want.get('vlan_bridges') or [])), None)
        if bridge is None:
            raise EngineError('%s.bridge: rendered works offline and cannot look up the bridge of %s; name the bridge'
                              % (want.get('vlan_fields', {}).get(port, 'config'), port), {'changed': False})
        if bridge != port:
            extra_bridges.setdefault(bridge, []).append(port)
            names.add(port)
        else:
            extra_bridges.setdefault(bridge, [])
    for name in sorted(names):
        have['links'][name] = {'kind': None, 'mtu': 1500, 'up': False, 'master': None, 'max_mtu': 65535,
                               'index': None, 'mac': None, 'promisc': False}
    for bridge, ports in extra_bridges.items():
        have['links'][bridge] = {'kind': 'bridge', 'mtu': 1500, 'up': True, 'master': None, 'max_mtu': 65535,
                                 'index': None, 'mac': None, 'promisc': False}
        have['bridges'][bridge] = dict(model.BRIDGE_DEFAULTS, vlan_filtering=True, mtu_pinned=None)
        have['vlans'][bridge] = model.default_vlan_table(1)
        for port in ports:
            have['links'][port]['master'] = bridge
            have['vlans'][port] = model.default_vlan_table(1)
    return have


def _default_gateways(state):
    return sorted(set(route['gateway'] for route in state['routes'].values()
                      if route['dst'] in ('0.0.0.0/0', '::/0') and route.get('gateway')))


def _run_probes(probe_list, netns, delay):
    from ansible_collections.harvester.network.plugins.module_utils.host import probes  # noqa
    results = []
    if delay:
        time.sleep(delay)
    for probe in probe_list:
        ok, detail = probes.run_probe(probe, netns=netns)
        results.append({'probe': probes.describe(probe), 'ok': ok, 'detail': detail, 'auto': probe.get('auto', False)})
    return results


def run(module, params, check_mode=False, netns=None, paths=None, validated=True, nl=None):
    """Run one host module.  Returns the result dict; raises EngineError (with a result) on failure."""
    profile = profiles.profile(module)
    if not validated:
        params = check_params(module, params)
    from ansible_collections.harvester.network.plugins.module_utils.host.netlink import Netlink  # noqa
    started = time.monotonic()
    result = {'changed': False, 'warnings': []}
    state_name = params.get('state')
    if profile.report is not None:
        own = nl is None
        nl = nl or Netlink(netns)
        try:
            have = nl.read()
        finally:
            if own:
                nl.close()
        result.update(profile.report(have))
        return result
    try:
        want = profile.want(params)
    except validate.ValidationError as exc:
        raise EngineError(str(exc), dict(result, errors=exc.errors))
    if state_name == 'rendered' and profile.rendered_state:
        have = _rendered_have(want)
        want = dict(want, state=profile.rendered_state)
        try:
            plan = make_plan(have, want)
        except PlanError as exc:
            raise EngineError(str(exc), result)
        result['rendered'] = [op.command() for op in plan.ops]
        result['plan'] = plan.to_list()
        return result
    own = nl is None
    nl = nl or Netlink(netns)
    try:
        return _converge(profile, params, want, nl, check_mode, netns, paths or persist.Paths(), result, started)
    finally:
        if own:
            nl.close()


def saved_document(want, plan, paths):
    """The saved desired state with this run folded in, checked: planned against the node this run leaves, it
    must change nothing (so the boot-time unit recreates exactly that).  Raises ValidationError ('persist: ...')."""
    from ansible_collections.harvester.network.plugins.module_utils.host import store  # noqa
    text = persist.read_state(paths)
    try:
        current = store.from_json(text) if text else store.empty()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise validate.ValidationError('%s is not a saved state this engine can read (%s); fix or remove it'
                                       % (paths.state_file, exc), field='persist')
    doc = store.fold(current, want, plan.have, plan.state)
    hint = ('save those items again with persist: true (host_network can name them all in one task), or remove them'
            ' with state absent/deleted and persist: true')
    try:
        ops, _end = store.plan_layers(plan.state, store.layers(doc))
    except validate.ValidationError as exc:
        raise validate.ValidationError('with this change, the saved state %s would not apply at boot: %s; %s'
                                       % (paths.state_file, '; '.join(exc.errors), hint), field='persist')
    if ops:
        raise validate.ValidationError('with this change, the saved state %s would not leave the node as this run'
                                       ' does: at boot it would also run %s; %s'
                                       % (paths.state_file, '; '.join(op.command() for op in ops[:5]), hint),
                                       field='persist')
    return store.to_json(doc)


def _read(nl, paths):
    """The node, with what a run that was killed while it wrote removed and did not put back (``interrupted``:
    the planner plans as if the node still had it)."""
    have = nl.read()
    record = persist.load_inflight(paths)
    if not record:
        return have
    from ansible_collections.harvester.network.plugins.module_utils.host.apply import lost_in_flight  # noqa
    lost = lost_in_flight(record, have)
    if lost:
        have['interrupted'] = dict(lost, pid=record.get('pid'), started=record.get('started'))
    return have


def _prepare(profile, params, want, have, paths, result):
    """Everything before the first write: check the desired state against the node, plan, check the planned end
    state, and fold this run into the saved state when it persists.  Fills ``before``, ``plan`` and ``commands``
    of ``result``; returns (plan, saved document text or None).  Raises EngineError, naming the fields."""
    try:
        plan = validate.checked_plan(have, want)
        saved = saved_document(want, plan, paths) if profile.persists and params.get('persist') else None
    except validate.ValidationError as exc:
        raise EngineError(str(exc), dict(result, errors=exc.errors))
    except PlanError as exc:
        raise EngineError(str(exc), result)
    planned = plan.to_list()
    result.update(before=profile.view(params, have, want), plan=planned,
                  commands=[item['command'] for item in planned])
    if have.get('interrupted'):
        from ansible_collections.harvester.network.plugins.module_utils.host.apply import lost_text  # noqa
        run, lost = have['interrupted'], lost_text(have['interrupted'])
        result['interrupted'] = {'pid': run['pid'], 'started': run['started'], 'lost': lost}
        result['warnings'].append('a run before this one (pid %s, started %s) was interrupted while it wrote and '
                                  'left these removed: %s; this run puts back the ones its desired state keeps'
                                  % (run['pid'], run['started'], '; '.join(lost)))
    return plan, saved


def diff_of(before, after):
    """The `diff` Ansible shows with --diff. Its callbacks render only mappings (a list view, such as
    host_vlan_trunk's O(config)-shaped tables, breaks the default callback), so a list is shown under C(config)."""
    if isinstance(before, list) or isinstance(after, list):
        return {'before': {'config': before}, 'after': {'config': after}}
    return {'before': before, 'after': after}


def _converge(profile, params, want, nl, check_mode, netns, paths, result, started):
    timings = result['timings'] = {}
    mark = time.monotonic()
    have = _read(nl, paths)
    timings['read'] = round(time.monotonic() - mark, 4)
    if params.get('state') == 'gathered':
        result['gathered'] = profile.view(params, have, want)
        return result
    mark = time.monotonic()
    plan, saved = _prepare(profile, params, want, have, paths, result)
    timings['plan'] = round(time.monotonic() - mark, 4)
    if plan.ops:
        from ansible_collections.harvester.network.plugins.module_utils.host.harvester_agent import (  # noqa
            agent_warnings)
        result['warnings'].extend(agent_warnings(plan.ops, have))
    result['warnings'].extend(interruptions(plan.ops, have))
    if check_mode:
        predicted = profile.view(params, plan.state, want)
        result.update(changed=bool(plan.ops), after=predicted, diff=diff_of(result['before'], predicted))
        if saved is not None:
            changed_files = persist.planned_files(saved, paths)
            result['persist'] = {'changed_files': changed_files}
            result['changed'] = result['changed'] or bool(changed_files)
        result['elapsed'] = round(time.monotonic() - started, 3)
        return result
    try:
        with persist.Lock(paths.lock_file, params.get('lock_timeout') or 60.0) as lock:
            result['lock_wait'] = round(lock.waited, 3)
            if lock.waited > 0.05:
                # Another run changed the node while we waited: plan again from fresh facts.
                have = _read(nl, paths)
                result['warnings'] = [w for w in result['warnings'] if not w.startswith('a run before this one')]
                plan, saved = _prepare(profile, params, want, have, paths, result)
            if plan.ops:
                _apply(profile, params, want, nl, have, plan, netns, paths, result)
            else:
                persist.clear_inflight(paths)
                result.update(after=result['before'], diff=diff_of(result['before'], result['before']))
            if saved is not None:
                result['persist'] = {'changed_files': persist.install(saved, paths)}
                result['changed'] = result['changed'] or bool(result['persist']['changed_files'])
    except persist.LockTimeout as exc:
        raise EngineError(str(exc), result)
    result['elapsed'] = round(time.monotonic() - started, 3)
    return result


def _apply(profile, params, want, nl, have, plan, netns, paths, result):
    """Apply the plan with a journal, verify, probe; keep the change, or roll it back (when the profile says so)."""
    from ansible_collections.harvester.network.plugins.module_utils.host import probes  # noqa
    from ansible_collections.harvester.network.plugins.module_utils.host.apply import (  # noqa
        ApplyError, execute, in_flight, rollback)
    probe_options = profile.probes(params)
    gateways = []
    probe_list = probes.probe_list(probe_options)
    if probe_options and probe_options.get('enabled', True) and probe_options.get('gateway', True):
        # Only gateways that answer now are held against the change.
        for gateway in _default_gateways(have):
            ok, _detail = probes.ping(gateway, timeout=2.0, netns=netns)
            if ok:
                gateways.append(gateway)
        probe_list = probes.probe_list(probe_options, gateways)
    journal = None
    failure = None
    timings = result.setdefault('timings', {})
    mark = time.monotonic()
    persist.save_inflight(paths, in_flight(have))  # a kill from here on: the next run finds what went missing
    try:
        journal = execute(nl, have, plan.ops)
    except ApplyError as exc:
        journal = exc.journal
        failure = 'apply failed: %s' % exc
    timings['apply'] = round(time.monotonic() - mark, 4)
    if journal is not None:
        result['journal'] = journal.summary()
    after_state = None
    if failure is None:
        mark = time.monotonic()
        after_state = nl.read()
        leftover = make_plan(after_state, want).ops
        timings['verify'] = round(time.monotonic() - mark, 4)
        if leftover:
            failure = 'verify failed: the node still differs after the change: %s' % '; '.join(
                op.command() for op in leftover[:5])
        mismatch = facts.differences(plan.state, after_state)
        if mismatch:
            result['warnings'].append('check mode would have predicted this run inexactly: %s' % '; '.join(mismatch))
    if failure is None and probe_list:
        mark = time.monotonic()
        outcome = _run_probes(probe_list, netns, (probe_options or {}).get('delay') or 0)
        timings['probes'] = round(time.monotonic() - mark, 4)
        result['probes'] = outcome
        failed = [item for item in outcome if not item['ok']]
        if failed:
            failure = 'probe failed after the change: %s' % '; '.join(
                '%s: %s' % (item['probe'], item['detail']) for item in failed)
    result['changed'] = True
    if failure is None:
        after = profile.view(params, after_state, want)
        result.update(after=after, diff=diff_of(result['before'], after))
        done = journal.done()
        if len(done) != len(plan.ops):  # (never with a successful run; kept honest anyway)
            result.update(plan=[op.to_dict() for op in done], commands=[op.command() for op in done])
        persist.clear_inflight(paths)
        return
    if not profile.rollback(params):
        current = nl.read()
        result.update(after=profile.view(params, current, want))
        raise EngineError('%s (rollback disabled: the node is left as it is)' % failure, result)
    report = rollback(nl, journal, have)
    result['rollback'] = report
    if report['restored'] and not have.get('interrupted'):
        persist.clear_inflight(paths)  # back to the node it found; else the record stays for the next run
    current = nl.read()
    result['after'] = profile.view(params, current, want)
    result['changed'] = bool(facts.differences(have, current))
    if report['restored']:
        raise EngineError('%s; rolled back: the node is exactly as before' % failure, result)
    raise EngineError('%s; rollback could not restore everything: %s' % (failure, '; '.join(report['remaining'])),
                      result)


def run_module(module, name):
    """Glue for the thin modules: AnsibleModule in, exit_json/fail_json out."""
    try:
        result = run(name, module.params, check_mode=module.check_mode)
    except EngineError as exc:
        outcome = dict(exc.result)
        for warning in outcome.pop('warnings', []):
            module.warn(warning)
        outcome.setdefault('changed', False)
        module.fail_json(msg=str(exc), **outcome)
    for warning in result.pop('warnings', []):
        module.warn(warning)
    module.exit_json(**result)


def boot_apply(state_file, log_file=None, lock_file=None, netns=None):
    """Entry point of the boot-time unit: re-apply the saved desired state, idempotently."""
    from ansible_collections.harvester.network.plugins.module_utils.host.netlink import Netlink  # noqa
    from ansible_collections.harvester.network.plugins.module_utils.host import store  # noqa
    from ansible_collections.harvester.network.plugins.module_utils.host.apply import (  # noqa
        ApplyError, execute, rollback)
    import sys  # pylint: disable=import-outside-toplevel
    started = time.monotonic()
    record = {'time': time.strftime('%Y-%m-%dT%H:%M:%S'), 'state_file': state_file}
    try:
        with open(state_file) as stream:
            wants = store.layers(store.from_json(stream.read()))
        with persist.Lock(lock_file or persist.Paths().lock_file, 300.0):
            nl = Netlink(netns)
            try:
                have = nl.read()
                ops, _end = store.plan_layers(have, wants)
                record['plan'] = [op.command() for op in ops]
                if ops:
                    try:
                        execute(nl, have, ops)
                    except ApplyError as exc:
                        record['rollback'] = rollback(nl, exc.journal, have)
                        raise
                    leftover, _end = store.plan_layers(nl.read(), wants)
                    record['leftover'] = [op.command() for op in leftover]
            finally:
                nl.close()
        record['result'] = 'changed' if record['plan'] else 'unchanged'
        code = 0
    except Exception as exc:  # pylint: disable=broad-except
        record['result'] = 'failed'
        record['error'] = str(exc)
        code = 1
    record['elapsed'] = round(time.monotonic() - started, 3)
    if log_file:
        persist.log(log_file, record)
    sys.stdout.write('harvester-network: %s%s\n' % (record['result'], ': %s' % record.get('error') if code else
                                                    ' (%d operations)' % len(record.get('plan') or [])))
    for line in record.get('plan') or []:
        sys.stdout.write('  %s\n' % line)
    return code
