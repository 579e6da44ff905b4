# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Apply a plan with a journal, and roll back.

The journal records every operation with its inverse, computed from the simulated state just before
it ran.  Requests are sent in batches (one sendmsg per batch: see netlink.py); a batch ends early only
when a request needs the index of a link created in the same batch.  On the first failed batch the run
stops and reports which operation failed and what the kernel said.

Rollback undoes the journal in reverse order, then reads the node and compares it with the snapshot
taken before the run; if anything still differs, it plans from the current state to the snapshot (the
planner can reach any state) and applies that too.  The result says whether the node is back exactly.

A run that dies while it writes (SIGKILL) cannot roll back, and a migration (addresses and routes moved from an
uplink to its bridge: route deleted, then added through the bridge) or a link taken down for a moment (the kernel
flushes its routes) may be cut between the deletion and the addition.  So before its first write a run keeps the
node's addresses and routes in a file (``in_flight()``, persist.save_inflight), removed when the run ends; the next
run finds the ones that are gone (``lost_in_flight()``) and the planner puts them back where its desired state wants
them (plan.py: ``have['interrupted']``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.harvester.network.plugins.module_utils.host import facts, model
from ansible_collections.harvester.network.plugins.module_utils.host import ops as O
from ansible_collections.harvester.network.plugins.module_utils.host.plan import make_plan, want_from_state


class ApplyError(Exception):
    """A plan operation failed; ``journal`` holds what ran."""

    def __init__(self, message, journal, failures):
        Exception.__init__(self, message)
        self.journal = journal
        self.failures = failures


class Journal:
    def __init__(self):
        self.entries = []

    def record(self, op, inverse):
        self.entries.append({'op': op, 'inverse': inverse, 'status': 'pending', 'error': None})
        return len(self.entries) - 1

    def done(self):
        return [entry['op'] for entry in self.entries if entry['status'] == 'done']

    def undo_ops(self, snapshot=None):
        ops = []
        for entry in reversed(self.entries):
            if entry['status'] in ('done', 'failed'):
                ops.extend(entry['inverse'] or [])
        if snapshot is not None:
            ops.extend(O.restore_bridge_mtus(snapshot, [entry['op'] for entry in self.entries
                                                        if entry['status'] in ('done', 'failed')]))
        return ops

    def summary(self):
        return [{'op': entry['op'].command(), 'status': entry['status'], 'error': entry['error']}
                for entry in self.entries]


def execute(nl, have, ops, stop_on_error=True):
    """Run ``ops`` against the node.  Returns the journal; raises ApplyError on a failure (when stopping)."""
    journal = Journal()
    state = model.clone(have)
    index = dict((name, link['index']) for name, link in have['links'].items() if link.get('index'))
    batch = []
    failures = []

    def index_of(name):
        if name not in index:
            found = nl.index_of(name)
            if found is None:
                return None
            index[name] = found
        return index[name]

    def flush():
        if not batch:
            return []
        positions = [position for position, _data in batch]
        refused, count = nl.send([data for _position, data in batch], stop_on_error=stop_on_error)
        del batch[:]
        failed = {}
        for item, code, text in refused:
            failed.setdefault(positions[item], (code, text))
        unsent = set(positions[count:]) - set(positions[:count])
        for position in sorted(set(positions)):
            entry = journal.entries[position]
            if position in failed:
                entry['status'] = 'failed'
                entry['error'] = _error_text(*failed[position])
            elif position in unsent:
                entry['status'] = 'skipped'
            elif entry['status'] == 'pending':
                entry['status'] = 'done'
        return [(position,) + failed[position] for position in sorted(failed)]

    for op in ops:
        try:
            inverse = op.inverse(state)
            if inverse is None:
                # Undoing a deletion means re-creating the link with everything hanging off it: plan it.
                after = model.clone(state)
                op.simulate(after)
                inverse = make_plan(after, want_from_state(state)).ops
                state = after
            else:
                op.simulate(state)
        except KeyError as exc:
            # A link this operation needs is not there (it vanished): nothing to send.
            position = journal.record(op, [])
            journal.entries[position]['status'] = 'failed'
            journal.entries[position]['error'] = 'link %s does not exist' % exc
            failures.append((position, None, 'link %s does not exist' % exc))
            if stop_on_error:
                break
            continue
        position = journal.record(op, inverse)
        for request in op.requests():
            unknown = [name for name in request.names() if name not in index]
            if unknown and batch:
                failures.extend(flush())
                if failures and stop_on_error:
                    break
            try:
                data = nl.compile(request, index_of)
            except Exception as exc:  # pylint: disable=broad-except
                journal.entries[position]['status'] = 'failed'
                journal.entries[position]['error'] = str(exc)
                failures.append((position, None, str(exc)))
                if stop_on_error:
                    break
                continue
            batch.append((position, data))
        if failures and stop_on_error:
            break
        if isinstance(op, O.DeleteLink):
            failures.extend(flush())  # the name may come back with a new index
            index.pop(op.link, None)
            if failures and stop_on_error:
                break
    if not (failures and stop_on_error):
        failures.extend(flush())
    for entry in journal.entries:
        if entry['status'] == 'pending':
            entry['status'] = 'skipped'
    if failures and stop_on_error:
        position = failures[0][0]
        entry = journal.entries[position]
        raise ApplyError('%s failed: %s' % (entry['op'].command(), entry['error']), journal, failures)
    return journal


def _error_text(code, text):
    import os  # local: only needed on failure
    message = os.strerror(code) if code else 'failed'
    if code:
        message = '%s (errno %d)' % (message, code)
    if text:
        message = '%s: %s' % (message, text)
    return message


def in_flight(state):
    """The addresses and routes of ``state`` (and those a run before it lost, not yet back) as JSON data."""
    lost = state.get('interrupted') or {}
    addresses = {}
    for source in (lost.get('addresses') or {}, state['addresses']):
        for link, items in source.items():
            addresses.setdefault(link, set()).update(items)
    routes = dict(lost.get('routes') or {})
    routes.update(state['routes'])
    others = dict(lost.get('other_routes') or {})
    others.update(state.get('other_routes') or {})
    return {'addresses': dict((link, sorted(items)) for link, items in sorted(addresses.items()) if items),
            'routes': [routes[key] for key in sorted(routes, key=str)],
            'other_routes': [others[key] for key in sorted(others)]}


def _other_route_id(route):
    return (route['table'], route['dst'], route['metric'])


def lost_in_flight(record, have):
    """What an interrupted run's ``record`` (in_flight()) held that the node ``have`` no longer has anywhere: an
    address on no link, a main-table route whose (destination, metric) is gone, another table's route whose
    (table, destination, metric) is gone.  One that moved (a migration got that far) is not lost.  Returns
    {'addresses': {link: set}, 'routes': {key: route}, 'other_routes': {text: route}}, or None when nothing is."""
    if not record:
        return None
    present = set(address for items in have['addresses'].values() for address in items)
    addresses = {}
    for link, items in (record.get('addresses') or {}).items():
        gone = set(items) - present
        if gone:
            addresses[link] = gone
    routes = dict((model.route_key(route), dict(route)) for route in record.get('routes') or ()
                  if model.route_key(route) not in have['routes'])
    kept = set(_other_route_id(route) for route in (have.get('other_routes') or {}).values())
    others = dict((model.other_route_text(route), route) for route in record.get('other_routes') or ()
                  if _other_route_id(route) not in kept)
    if not (addresses or routes or others):
        return None
    return {'addresses': addresses, 'routes': routes, 'other_routes': others}


def lost_text(lost):
    """The iproute2 commands that would put back what ``lost`` (lost_in_flight()) names, for messages."""
    lines = ['ip addr add %s dev %s' % (address, link) for link, items in sorted(lost['addresses'].items())
             for address in sorted(items)]
    lines.extend(O.AddRoute(dst=route['dst'], gateway=route.get('gateway'), interface=route.get('interface'),
                            metric=route['metric']).command() for _key, route in sorted(lost['routes'].items()))
    lines.extend(sorted(lost['other_routes']))
    return lines


def without_links(state, names):
    """``state`` as if the links ``names`` had never existed (for comparing with a node that lost them)."""
    state = model.clone(state)
    for name in names:
        state['links'].pop(name, None)
        state['vlans'].pop(name, None)
        state['addresses'].pop(name, None)
        for key in [key for key, route in state['routes'].items() if route.get('interface') == name]:
            del state['routes'][key]
        for section in ('bonds', 'bridges'):
            state[section].pop(name, None)
    return state


def rollback(nl, journal, snapshot):
    """Undo ``journal`` and make sure the node is back to ``snapshot``.  Returns a report dict."""
    report = {'undone': 0, 'undo_errors': [], 'reconverged': [], 'restored': False, 'remaining': [],
              'vanished': []}
    undo = journal.undo_ops(snapshot) if journal is not None else []
    current = nl.read()
    # A link that disappeared during the run without us deleting it (a NIC unplugged, a VM's veth gone) cannot
    # come back: restore everything else, and say so.
    deleted = set(op.link for op in (journal.done() if journal is not None else []) if isinstance(op, O.DeleteLink))
    created = set(op.link for op in (journal.done() if journal is not None else []) if isinstance(op, O.CreateLink))
    vanished = sorted(name for name in snapshot['links']
                      if name not in current['links'] and name not in deleted and name not in created)
    if vanished:
        snapshot = without_links(snapshot, vanished)
        report['vanished'] = vanished
    if undo:
        report['undone'] = len(undo)
        undo_journal = execute(nl, current, undo, stop_on_error=False)
        report['undo_errors'].extend(entry['error'] for entry in undo_journal.entries if entry['error'])
        current = nl.read()
    remaining = facts.differences(snapshot, current)
    if remaining:
        # The journal could not put everything back (a kernel side effect, a vanished link): plan the way back.
        plan = make_plan(current, want_from_state(snapshot))
        report['reconverged'] = [op.command() for op in plan.ops]
        undo_journal = execute(nl, current, plan.ops, stop_on_error=False)
        report['undo_errors'].extend(entry['error'] for entry in undo_journal.entries if entry['error'])
        current = nl.read()
        remaining = facts.differences(snapshot, current)
    report['restored'] = not remaining
    report['remaining'] = remaining
    return report
