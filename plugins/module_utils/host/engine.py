# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The host engine: one flow for every host module.

    params -> desired state (validate) -> facts (netlink) -> checks -> plan (pure) -> check mode stops here
    -> lock -> apply with journal -> verify (a second plan must be empty) -> probes -> keep or roll back
    -> persist -> result {changed, diff{before, after}, plan, commands, before, after}

``run()`` is the Python API (tests and benchmarks call it directly, optionally inside a network namespace);
``run_module()`` adapts it to an AnsibleModule.  This package imports nothing from Ansible, so the boot-time
unit can run it on a node without Ansible.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.harvester.network.plugins.module_utils.host import facts, model, persist, probes, store, validate
from ansible_collections.harvester.network.plugins.module_utils.host.apply import ApplyError, execute, rollback
from ansible_collections.harvester.network.plugins.module_utils.host.harvester_agent import agent_warnings
from ansible_collections.harvester.network.plugins.module_utils.host.plan import PlanError, make_plan


# The modules that change a node, and so can save what they manage (persist: true).
PERSISTING = ('host_bond', 'host_bridge', 'host_vlan_trunk', 'host_network')


class EngineError(Exception):
    """A run failed; ``result`` carries what the module returns alongside the message."""

    def __init__(self, message, result=None):
        Exception.__init__(self, message)
        self.result = result or {}


def check_params(module, params):
    """Validate raw params against the module's argument spec (the Python API; AnsibleModule does it itself)."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # pylint: disable=import-outside-toplevel
    from ansible_collections.harvester.network.plugins.module_utils.host.argspec import SPECS
    spec = SPECS[module]()
    validator = ArgumentSpecValidator(spec['argument_spec'], mutually_exclusive=spec.get('mutually_exclusive'),
                                      required_if=spec.get('required_if'))
    outcome = validator.validate(params)
    if outcome.error_messages:
        raise EngineError('; '.join(outcome.error_messages), {'changed': False})
    return outcome.validated_parameters


def build_want(module, params):
    if module == 'host_bond':
        return validate.bond_want(params)
    if module == 'host_bridge':
        return validate.bridge_want(params)
    if module == 'host_vlan_trunk':
        return validate.trunk_want(params)
    return validate.network_want(params, params.get('state') or 'merged')


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


def view(module, params, state, want):
    """The part of the node a module reports in before/after."""
    if module == 'host_bond':
        name = params['name']
        return facts.bond_config(state, name) if name in state['bonds'] and name in state['links'] else {}
    if module == 'host_bridge':
        name = params['name']
        if name not in state['bridges'] or name not in state['links']:
            return {}
        item = facts.bridge_config(state, name)
        links = set([name, params.get('uplink')])
        config = facts.to_config(state, sections=('addresses', 'routes'))
        item['addresses'] = [a['address'] for a in config['addresses'] if a['interface'] == name]
        if params.get('migrate'):
            item['uplink_addresses'] = [a['address'] for a in config['addresses']
                                        if a['interface'] == params.get('uplink')]
            item['routes'] = [r for r in config['routes'] if r.get('interface') in links]
        return item
    if module == 'host_vlan_trunk':
        scope = want.get('vlan_bridges')
        ports = set(want.get('vlans') or {})
        everything = want['state'] in ('overridden', 'gathered') or (want['state'] == 'deleted' and not ports)
        return [item for item in facts.to_config(state, sections=('vlans',), bridges=scope)['vlans']
                if everything or item['port'] in ports]
    return facts.to_config(state)


def _default_gateways(state):
    return sorted(set(route['gateway'] for route in state['routes'].values()
                      if route['dst'] in ('0.0.0.0/0', '::/0') and route.get('gateway')))


def _run_probes(probe_list, netns, delay):
    results = []
    if delay:
        time.sleep(delay)
    for probe in probe_list:
        ok, detail = probes.run_probe(probe, netns=netns)
        results.append({'probe': probes.describe(probe), 'ok': ok, 'detail': detail, 'auto': probe.get('auto', False)})
    return results


def run(module, params, check_mode=False, netns=None, paths=None, validated=True, nl=None):
    """Run one host module.  Returns the result dict; raises EngineError (with a result) on failure."""
    if not validated:
        params = check_params(module, params)
    from ansible_collections.harvester.network.plugins.module_utils.host.netlink import Netlink  # noqa
    started = time.monotonic()
    result = {'changed': False, 'warnings': []}
    state_name = params.get('state')
    if module == 'host_network_info':
        own = nl is None
        nl = nl or Netlink(netns)
        try:
            have = nl.read()
        finally:
            if own:
                nl.close()
        result['gathered'] = facts.to_config(have)
        result['status'] = facts.status(have)
        return result
    try:
        want = build_want(module, params)
    except validate.ValidationError as exc:
        raise EngineError(str(exc), dict(result, errors=exc.errors))
    if state_name == 'rendered':
        have = _rendered_have(want)
        want = dict(want, state='replaced' if module == 'host_vlan_trunk' else 'merged')
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
        return _converge(module, params, want, nl, check_mode, netns, paths or persist.Paths(), result, started)
    finally:
        if own:
            nl.close()


def saved_document(want, plan, paths):
    """The saved desired state with this run folded in, checked: planned against the node this run leaves, it
    must change nothing (so the boot-time unit recreates exactly that).  Raises ValidationError ('persist: ...')."""
    text = persist.read_state(paths)
    try:
        current = store.from_json(text) if text else store.empty()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise validate.ValidationError(['persist: %s is not a saved state this engine can read (%s); fix or remove it'
                                        % (paths.state_file, exc)])
    doc = store.fold(current, want, plan.have, plan.state)
    hint = ('save those items again with persist: true (host_network can name them all in one task), or remove them'
            ' with state absent/deleted and persist: true')
    try:
        ops, _end = store.plan_layers(plan.state, store.layers(doc))
    except validate.ValidationError as exc:
        raise validate.ValidationError(['persist: with this change, the saved state %s would not apply at boot: %s; %s'
                                        % (paths.state_file, '; '.join(exc.errors), hint)])
    if ops:
        raise validate.ValidationError(['persist: with this change, the saved state %s would not leave the node as this'
                                        ' run does: at boot it would also run %s; %s'
                                        % (paths.state_file, '; '.join(op.command() for op in ops[:5]), hint)])
    return store.to_json(doc)


def _converge(module, params, want, nl, check_mode, netns, paths, result, started):
    timings = result['timings'] = {}
    mark = time.monotonic()
    have = nl.read()
    timings['read'] = round(time.monotonic() - mark, 4)
    if params.get('state') == 'gathered':
        result['gathered'] = view(module, params, have, want)
        return result
    mark = time.monotonic()
    persist_wanted = module in PERSISTING and params.get('persist')
    try:
        validate.check_against_facts(want, have)
        plan = make_plan(have, want)
        validate.check_outcome(want, plan.state)
        validate.check_other_routes(want, plan)
        saved = saved_document(want, plan, paths) if persist_wanted else None
        timings['plan'] = round(time.monotonic() - mark, 4)
    except validate.ValidationError as exc:
        raise EngineError(str(exc), dict(result, errors=exc.errors))
    except PlanError as exc:
        raise EngineError(str(exc), result)
    before = view(module, params, have, want)
    predicted = view(module, params, plan.state, want)
    planned = plan.to_list()
    result.update(before=before, plan=planned, commands=[item['command'] for item in planned])
    result['warnings'].extend(agent_warnings(plan.ops, have))
    if check_mode:
        result.update(changed=bool(plan.ops), after=predicted, diff={'before': before, 'after': predicted})
        if persist_wanted:
            changed_files = persist.planned_files(saved, paths)
            result['persist'] = {'changed_files': changed_files}
            result['changed'] = result['changed'] or bool(changed_files)
        result['elapsed'] = round(time.monotonic() - started, 3)
        return result
    probe_options = params.get('probes') if module == 'host_network' else None
    do_rollback = params.get('rollback', True) if module == 'host_network' else True
    try:
        with persist.Lock(paths.lock_file, params.get('lock_timeout') or 60.0) as lock:
            result['lock_wait'] = round(lock.waited, 3)
            if lock.waited > 0.05:
                # Another run changed the node while we waited: plan again from fresh facts.
                have = nl.read()
                try:
                    validate.check_against_facts(want, have)
                    plan = make_plan(have, want)
                    validate.check_outcome(want, plan.state)
                    validate.check_other_routes(want, plan)
                    saved = saved_document(want, plan, paths) if persist_wanted else None
                except validate.ValidationError as exc:
                    raise EngineError(str(exc), dict(result, errors=exc.errors))
                before = view(module, params, have, want)
                planned = plan.to_list()
                result.update(before=before, plan=planned, commands=[item['command'] for item in planned])
            if plan.ops:
                _apply(module, params, want, nl, have, plan, netns, probe_options, do_rollback, result)
            else:
                result.update(after=result['before'], diff={'before': result['before'], 'after': result['before']})
            if persist_wanted:
                result['persist'] = {'changed_files': persist.install(saved, paths)}
                result['changed'] = result['changed'] or bool(result['persist']['changed_files'])
    except persist.LockTimeout as exc:
        raise EngineError(str(exc), result)
    result['elapsed'] = round(time.monotonic() - started, 3)
    return result


def _apply(module, params, want, nl, have, plan, netns, probe_options, do_rollback, result):
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
        after = view(module, params, after_state, want)
        result.update(after=after, diff={'before': result['before'], 'after': after})
        done = journal.done()
        if len(done) != len(plan.ops):  # (never with a successful run; kept honest anyway)
            result.update(plan=[op.to_dict() for op in done], commands=[op.command() for op in done])
        return
    if not do_rollback:
        current = nl.read()
        result.update(after=view(module, params, current, want))
        raise EngineError('%s (rollback disabled: the node is left as it is)' % failure, result)
    report = rollback(nl, journal, have)
    result['rollback'] = report
    current = nl.read()
    result['after'] = view(module, params, current, want)
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
