# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read, plan and write objects: one LIST per kind, server-side apply with a field manager, server-side dry run
in check mode (so check mode reports what the server would really store), retry on 409 resourceVersion races.

Every cluster handler reconciles through ``Reconciliation`` (``service.reconcile(module)``): the handler reads what
exists (``read_one`` or one ``list`` per kind), then per kind ``delete`` (state absent) or builds manifests and
``converge`` (plan: create, update, none, prune); checks that need the plan look at ``changes``; ``run()`` applies in
order (server-side dry run in check mode) and returns ``changed``, ``changes`` and ``diff``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import threading
import time

try:
    from concurrent.futures import ThreadPoolExecutor
except ImportError:  # pragma: no cover - Python 2 is not supported; writes then go one by one
    ThreadPoolExecutor = None

from ansible_collections.harvester.network.plugins.module_utils.cluster.compare import (
    format_path, needs_apply, strip_noise)
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import (
    ApiError, ClusterError, ConflictError, NotFoundError, webhook_refusal)
from ansible_collections.harvester.network.plugins.module_utils.cluster.transport import APPLY_CONTENT_TYPE

FIELD_MANAGER = 'harvester.network'
CONFLICT_RETRIES = 4
# LISTs come in pages of this many objects (``limit``/``continue``), so 5000 networks are ten answers of bounded size,
# not one; 500 is client-go's default page size (kubernetes/client-go tools/pager/pager.go, defaultPageSize).
LIST_PAGE_SIZE = 500
# Writes of one kind in a row (many networks) are sent by this many threads at once. Small on purpose: the API
# server's own limits (max-mutating-requests-inflight 200, API Priority and Fairness) are far above it, and 429s
# are waited out by the transport.
WRITE_WORKERS = 4
# Field managers of Harvester's own controllers. They write our objects with plain Update (the network manager:
# finalizers, the ready label, ``connectivity`` in the route annotation, the MTU sync; harvester/
# network-controller-harvester pkg/controller/manager), so a field they rewrote becomes theirs and our next apply of a
# changed value conflicts. Our manifests carry only the fields the module's options set (the user's intent), so on a
# conflict with these managers alone we take exactly those fields over (force) and leave the rest to the controller.
CONTROLLER_MANAGERS = ('network-controller', 'harvester-network-controller', 'harvester-network-manager')
_CONFLICT_MANAGER = re.compile(r'conflicts? with "([^"]+)"')


def conflicting_managers(exc):
    """The field managers named in a server-side apply conflict (409)."""
    causes = ((exc.body or {}).get('details') or {}).get('causes') or []
    text = ' '.join([str(exc)] + [c.get('message', '') for c in causes])
    return set(_CONFLICT_MANAGER.findall(text))


def object_key(obj):
    metadata = obj.get('metadata') or {}
    return (metadata.get('namespace') or '', metadata['name'])


def display_name(kind, key):
    namespace, name = key
    return '%s %s' % (kind.kind, '%s/%s' % (namespace, name) if namespace else name)


class Change(object):
    """One planned write: action is ``create``, ``update``, ``delete`` or ``none``."""

    def __init__(self, kind, key, action, desired=None, existing=None, paths=None):
        self.kind = kind
        self.key = key
        self.action = action
        self.desired = desired
        self.existing = existing
        self.paths = paths or []
        self.result = None

    @property
    def name(self):
        return display_name(self.kind, self.key)

    def summary(self):
        entry = {'kind': self.kind.kind, 'name': self.key[1], 'action': self.action}
        if self.key[0]:
            entry['namespace'] = self.key[0]
        if self.action == 'update':
            entry['fields'] = sorted(set(format_path(path) for path in self.paths))
        return entry

    def diff(self):
        before = strip_noise(self.existing) if self.existing is not None else {}
        if self.action == 'delete':
            after = {}
        else:
            after = strip_noise(self.result if self.result is not None else self.desired)
        return {'before': before, 'after': after, 'before_header': self.name, 'after_header': self.name}


class ResourceService(object):

    def __init__(self, transport, check_mode=False, field_manager=FIELD_MANAGER, force_conflicts=False):
        self.transport = transport
        self.check_mode = check_mode
        self.field_manager = field_manager
        self.force_conflicts = force_conflicts
        self.local_only = False  # check mode: predict from the plan, send no dry run (prerequisites not there yet)
        self.page_size = LIST_PAGE_SIZE
        self.workers = WRITE_WORKERS

    # ---- reads -------------------------------------------------------------------------------------------------
    def list(self, kind, namespace=None, label_selector=None):
        """All objects of ``kind`` (in ``namespace``, or everywhere) as a dict keyed by (namespace, name): one LIST,
        read in pages of ``page_size`` objects. A continue token that expired between pages (410 Gone: etcd compacted
        past the list's resourceVersion) is answered with one unpaginated LIST, as client-go's pager does."""
        selector = [('labelSelector', label_selector)] if label_selector else []
        items, token = {}, None
        while True:
            query = selector + [('limit', self.page_size)] + ([('continue', token)] if token else [])
            try:
                answer = self.transport.request('GET', kind.collection_path(namespace), query=query)
            except ApiError as exc:
                if exc.status != 410 or token is None:
                    raise
                items, token = {}, None
                answer = self.transport.request('GET', kind.collection_path(namespace), query=selector or None)
            for item in answer.get('items') or []:
                item.setdefault('apiVersion', kind.api_version)
                item.setdefault('kind', kind.kind)
                items[object_key(item)] = item
            token = (answer.get('metadata') or {}).get('continue')
            if not token:
                return items

    def get(self, kind, name, namespace=None):
        try:
            return self.transport.request('GET', kind.item_path(name, namespace))
        except NotFoundError:
            return None

    def read_one(self, kind, name, namespace=None):
        """One GET: the object's key and, as ``list`` answers, {key: object} (empty when it does not exist)."""
        key = (namespace or '', name)
        existing = self.get(kind, name, namespace)
        return key, ({key: existing} if existing is not None else {})

    # ---- writes ------------------------------------------------------------------------------------------------
    def _dry_run(self):
        return [('dryRun', 'All')] if self.check_mode else []

    def apply(self, kind, manifest):
        """Server-side apply ``manifest``; in check mode a server-side dry run. Returns the server's object."""
        namespace, name = object_key(manifest)
        query = [('fieldManager', self.field_manager)] + self._dry_run()
        if self.force_conflicts:
            query.append(('force', 'true'))
        for attempt in range(CONFLICT_RETRIES):
            try:
                return self.transport.request('PATCH', kind.item_path(name, namespace or None), query=query,
                                              body=manifest, content_type=APPLY_CONTENT_TYPE)
            except ConflictError as exc:
                causes = ((exc.body or {}).get('details') or {}).get('causes') or []
                field_conflicts = [c for c in causes if 'FieldManagerConflict' in (c.get('reason'), c.get('type'))]
                managers = conflicting_managers(exc)
                if (field_conflicts or str(exc).startswith('Apply failed with')) and managers and \
                        managers <= set(CONTROLLER_MANAGERS) and ('force', 'true') not in query:
                    query.append(('force', 'true'))
                    continue
                if field_conflicts or str(exc).startswith('Apply failed with'):
                    raise ConflictError(
                        '%s: fields managed by another client would change (%s): set force_conflicts=true to take '
                        'them over, or change them with the client that owns them'
                        % (display_name(kind, (namespace, name)),
                           '; '.join(c.get('message', c.get('field', '')) for c in field_conflicts) or exc),
                        status=409, body=exc.body)
                if attempt == CONFLICT_RETRIES - 1:
                    raise ConflictError('%s: still conflicting after %d attempts: %s'
                                        % (display_name(kind, (namespace, name)), CONFLICT_RETRIES, exc),
                                        status=409, body=exc.body)
                time.sleep(0.2 * (attempt + 1))
            except NotFoundError as exc:
                raise NotFoundError('%s cannot be written: %s%s' % (
                    display_name(kind, (namespace, name)), exc,
                    ' (create the namespace first)' if namespace and 'namespace' in str(exc).lower() else ''),
                    status=404, body=exc.body)
            except ApiError as exc:
                refusal = webhook_refusal(display_name(kind, (namespace, name)), exc)
                if refusal is not None:
                    raise refusal
                if exc.status == 422:
                    raise ApiError('%s was refused by the API server as invalid: %s'
                                   % (display_name(kind, (namespace, name)), exc.body.get('message', exc)),
                                   status=422, body=exc.body)
                raise
        return None  # not reached

    def delete(self, kind, name, namespace=None):
        """Delete (dry run in check mode). Returns False when the object was already gone."""
        query = [('propagationPolicy', 'Background')] + self._dry_run()
        try:
            self.transport.request('DELETE', kind.item_path(name, namespace), query=query)
        except NotFoundError:
            return False
        except ApiError as exc:
            refusal = webhook_refusal(display_name(kind, (namespace or '', name)), exc)
            if refusal is not None:
                raise refusal
            raise
        return True

    # ---- plans -------------------------------------------------------------------------------------------------
    def plan(self, kind, desired, existing, prune_keys=()):
        """Changes turning ``existing`` (dict keyed like ``object_key``) into ``desired`` (list of manifests)."""
        changes = []
        for manifest in desired:
            key = object_key(manifest)
            have = existing.get(key)
            if have is None:
                changes.append(Change(kind, key, 'create', desired=manifest))
                continue
            paths = needs_apply(manifest, have, self.field_manager)
            changes.append(Change(kind, key, 'update' if paths else 'none', desired=manifest, existing=have,
                                  paths=paths))
        for key in prune_keys:
            changes.append(Change(kind, key, 'delete', existing=existing[key]))
        return changes

    def delete_plan(self, kind, keys, existing):
        return [Change(kind, key, 'delete', existing=existing[key]) for key in keys if key in existing]

    def reconcile(self, module=None):
        """A new reconciliation (the one path every handler takes; see the module docstring)."""
        return Reconciliation(self, module)

    def execute(self, changes):
        """Run the writes of a plan in order; returns the changes that wrote something.

        Writes of one kind in a row (applies, or deletes) go out ``workers`` at a time; kinds stay in plan order, so
        what one kind needs (a network before the VM naming it) is written first. A failure stops the rest of its
        run; the objects that run had just created are deleted again (nothing half-created), then the first failure
        in plan order is raised. Updates and deletes already sent stay: each is whole, and a re-run finishes the
        plan."""
        if self.check_mode and self.local_only:
            return self._predict(changes)
        done = []
        for run in _runs(changes):
            if len(run) == 1 or self.workers <= 1 or ThreadPoolExecutor is None:
                done.extend(change for change in run if self._write(change))
            else:
                done.extend(self._write_concurrently(run))
        return done

    @staticmethod
    def _predict(changes):
        """Check mode without the server: the server cannot judge these requests (their prerequisites exist only
        later in this check run), so the plan is the prediction."""
        done = []
        for change in changes:
            if change.action in ('create', 'update'):
                change.result = change.desired
            if change.action != 'none':
                done.append(change)
        return done

    def _write(self, change):
        """One change's request; True when it wrote something."""
        if change.action in ('create', 'update'):
            change.result = self.apply(change.kind, change.desired)
            return True
        if change.action == 'delete':
            return self.delete(change.kind, change.key[1], change.key[0] or None)
        return False

    def _write_concurrently(self, run):
        outcomes = [None] * len(run)
        failed = threading.Event()

        def write(index):
            if failed.is_set():
                return  # not sent: an earlier write of this run failed
            try:
                outcomes[index] = (True, self._write(run[index]))
            except Exception as exc:  # pylint: disable=broad-except  # re-raised below, in plan order
                outcomes[index] = (False, exc)
                failed.set()

        pool = ThreadPoolExecutor(max_workers=self.workers)
        try:
            list(pool.map(write, range(len(run))))
        finally:
            pool.shutdown(wait=True)
        written = [change for change, outcome in zip(run, outcomes) if outcome and outcome[0] and outcome[1]]
        errors = [outcome[1] for outcome in outcomes if outcome and not outcome[0]]
        if errors:
            raise self._undo_creates(written, errors[0], len(errors))
        return written

    def _undo_creates(self, written, error, count):
        """Delete again what a failed run of writes created (only that object: its uid is a precondition); returns
        ``error`` with what was undone, and what was left, added to its message."""
        created = [change for change in written if change.action == 'create' and change.result]
        undone, stuck = 0, []
        for change in created if not self.check_mode else ():
            uid = (change.result.get('metadata') or {}).get('uid')
            body = {'apiVersion': 'v1', 'kind': 'DeleteOptions', 'propagationPolicy': 'Background',
                    'preconditions': {'uid': uid}}
            try:
                self.transport.request('DELETE', change.kind.item_path(change.key[1], change.key[0] or None),
                                       body=body)
                undone += 1
            except ClusterError as exc:
                if not isinstance(exc, NotFoundError):
                    stuck.append('%s (%s)' % (change.name, exc))
        notes = []
        if count > 1:
            notes.append('%d writes of this run failed, this is the first' % count)
        if undone:
            notes.append('the %d objects this run had created were deleted again' % undone)
        if stuck:
            notes.append('these created objects could not be deleted again: %s' % '; '.join(stuck))
        kept = [change.name for change in written if change.action != 'create']
        if kept:
            notes.append('already written and kept: %s' % ', '.join(kept[:10]) + (' ...' if len(kept) > 10 else ''))
        if notes and isinstance(error, ClusterError) and error.args:
            error.args = ('%s (%s)' % (error.args[0], '; '.join(notes)),) + tuple(error.args[1:])
        return error


def _runs(changes):
    """The changes that write, cut into runs of one kind and one sort of request (apply or delete), in plan order."""
    runs, last = [], None
    for change in changes:
        if change.action == 'none':
            continue
        sort = (change.kind, change.action == 'delete')
        if sort != last:
            runs.append([])
            last = sort
        runs[-1].append(change)
    return runs


def changes_result(changes, done, module=None):
    """``changed``, ``changes`` (summaries of the plan) and ``diff`` (one before/after per written object)."""
    planned = [change for change in changes if change.action != 'none']
    result = {
        'changed': bool(done),
        'changes': [change.summary() for change in planned],
    }
    written = done if done else []
    if module is None or module._diff:
        diffs = [change.diff() for change in written]
        if len(diffs) == 1:
            result['diff'] = diffs[0]
        elif diffs:
            result['diff'] = diffs
    return result


class Reconciliation(object):
    """One handler's plan and its run: ``delete``/``converge`` per kind add to ``changes`` (nothing is written yet),
    checks that need the plan read ``changes``, ``run()`` writes and returns the result."""

    def __init__(self, service, module=None):
        self.service = service
        self.module = module
        self.changes = []
        self.done = []
        self._finals = None  # (how many changes it indexed, {(id(kind), key): first change not a delete})

    def delete(self, kind, keys, existing):
        """Delete the objects of ``keys`` that are in ``existing`` (what the handler read)."""
        self.changes.extend(self.service.delete_plan(kind, keys, existing))
        return self

    def converge(self, kind, desired, existing, prune_keys=()):
        """Make the built manifests ``desired`` true against ``existing``; delete ``prune_keys``."""
        self.changes.extend(self.service.plan(kind, desired, existing, prune_keys))
        return self

    def add(self, change):
        """A change the planner cannot derive (e.g. deleting a VM's instance to restart it)."""
        self.changes.append(change)
        return self

    def run(self):
        """Apply (server-side dry run in check mode): ``changed``, ``changes`` and ``diff``."""
        return self.execute().result()

    def execute(self):
        """Only the writes (or their dry runs); ``result()`` then reports them. Split for the handler that must
        correct what a dry run answered before it is shown (vm_service: addresses allocated only for show)."""
        self.done = self.service.execute(self.changes)
        return self

    def result(self):
        """``changed``, ``changes`` and ``diff`` of what ``execute()`` did."""
        return changes_result(self.changes, self.done, self.module)

    def final(self, kind, key):
        """The object ``key`` after the run: what the server returned, else what existed, else the manifest."""
        if self._finals is None or self._finals[0] != len(self.changes):
            index = {}
            for change in self.changes:  # indexed once: a handler asks this for each of thousands of networks
                if change.action != 'delete':
                    index.setdefault((id(change.kind), change.key), change)
            self._finals = (len(self.changes), index)
        change = self._finals[1].get((id(kind), key))
        if change is None:
            return None
        return change.result or change.existing or change.desired
