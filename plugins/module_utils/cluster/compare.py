# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure comparison of a desired manifest with what the server holds.

Idempotence rule: an object needs an apply when a field we send differs from the server's value, or when our
field manager owns a field we no longer send (server-side apply would remove it).  Fields the server or a
controller adds (defaults, status, annotations, resourceVersion...) are not differences.  Strings that carry JSON
(a NAD's ``spec.config``, Harvester's route annotation) are compared as JSON.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json

NOISE_METADATA = ('resourceVersion', 'managedFields', 'generation', 'uid', 'creationTimestamp', 'selfLink',
                  'deletionGracePeriodSeconds')
NOISE_ANNOTATIONS = ('kubectl.kubernetes.io/last-applied-configuration',)

# Paths (tuples of keys) whose string value is a JSON document, compared as JSON.
JSON_STRING_PATHS = (
    ('spec', 'config'),
    ('metadata', 'annotations', 'network.harvesterhci.io/route'),
    ('metadata', 'annotations', 'harvesterhci.io/volumeClaimTemplates'),
)


def strip_noise(obj, keep_status=False):
    """A copy of ``obj`` without server bookkeeping, fit for a diff."""
    if obj is None:
        return None
    clean = copy.deepcopy(obj)
    metadata = clean.get('metadata') or {}
    for key in NOISE_METADATA:
        metadata.pop(key, None)
    annotations = metadata.get('annotations')
    if annotations:
        for key in NOISE_ANNOTATIONS:
            annotations.pop(key, None)
        if not annotations:
            metadata.pop('annotations')
    if not keep_status:
        clean.pop('status', None)
    return clean


def _load_json(value):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def differences(desired, existing, path=()):
    """Paths where ``desired`` is not contained in ``existing`` (dicts: subset; lists: same length, item-wise)."""
    if path in JSON_STRING_PATHS:
        desired, existing = _load_json(desired), _load_json(existing)
    if isinstance(desired, dict):
        if not isinstance(existing, dict):
            return [path]
        found = []
        for key, value in desired.items():
            if key not in existing:
                if value is None:
                    continue
                found.append(path + (key,))
            else:
                found.extend(differences(value, existing[key], path + (key,)))
        return found
    if isinstance(desired, list):
        if not isinstance(existing, list) or len(existing) != len(desired):
            return [path]
        found = []
        for index, (want, have) in enumerate(zip(desired, existing)):
            found.extend(differences(want, have, path + (index,)))
        return found
    if isinstance(desired, bool) != isinstance(existing, bool):
        return [path]
    if desired == existing:
        return []
    # the API server keeps what it was sent for CRD fields, but numbers may come back as floats/ints
    if isinstance(desired, (int, float)) and isinstance(existing, (int, float)) and not isinstance(desired, bool) \
            and not isinstance(existing, bool) and float(desired) == float(existing):
        return []
    return [path]


def _owned_fields(existing, field_manager):
    for entry in (existing.get('metadata') or {}).get('managedFields') or []:
        if entry.get('manager') == field_manager and entry.get('operation') == 'Apply':
            return entry.get('fieldsV1') or {}
    return {}


def _owned_not_sent(fields, desired, path=()):
    found = []
    for key, sub in fields.items():
        if not key.startswith('f:'):
            continue  # '.', and k:/v:/i: list members: a list is sent whole, so length/item diffs catch those
        name = key[2:]
        if not isinstance(desired, dict) or name not in desired or desired[name] is None:
            found.append(path + (name,))
        elif sub and isinstance(desired[name], dict):
            found.extend(_owned_not_sent(sub, desired[name], path + (name,)))
    return found


def needs_apply(desired, existing, field_manager):
    """Return the list of differing paths (empty = in sync)."""
    if existing is None:
        return [()]
    found = differences(desired, existing)
    found.extend(_owned_not_sent(_owned_fields(existing, field_manager), desired))
    return found


def format_path(path):
    parts = []
    for item in path:
        if isinstance(item, int):
            parts.append('[%d]' % item)
        else:
            parts.append(('.' if parts else '') + (item if '.' not in item and '/' not in item else '"%s"' % item))
    return ''.join(parts) or '(whole object)'
