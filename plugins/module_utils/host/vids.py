# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""VLAN ID maths: parse "100-200,300" style input, and turn VID sets back into ranges.

Pure functions, no third-party imports.  A VID set is a Python ``set``/``frozenset`` of ints.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.harvester.network.plugins.module_utils.host.vocabulary import VID_MAX, VID_MIN


class VidError(ValueError):
    """A VID specification is malformed; the message says what and how to fix it."""


def _parse_int(text, where):
    text = text.strip()
    if not text.isdigit():
        raise VidError('%s: %r is not a VLAN ID; use whole numbers %d-%d, or ranges like "100-200"'
                       % (where, text, VID_MIN, VID_MAX))
    value = int(text)
    if not VID_MIN <= value <= VID_MAX:
        raise VidError('%s: VLAN ID %d is out of range; valid VLAN IDs are %d-%d (0 and 4095 are reserved)'
                       % (where, value, VID_MIN, VID_MAX))
    return value


def parse_vids(items, where='vids'):
    """Parse a list of ints / "a-b" / "a,b-c" strings into a frozenset of VIDs.

    Reversed ranges ("200-100") and overlapping items ("100-200,150") are errors, not silently merged:
    they are usually typos, and the caller should learn which item is wrong.
    """
    if items is None:
        return None
    if isinstance(items, (str, int)):
        items = [items]
    spans = []
    for index, item in enumerate(items):
        label = '%s[%d]' % (where, index)
        if isinstance(item, bool):
            raise VidError('%s: %r is not a VLAN ID' % (label, item))
        if isinstance(item, int):
            if not VID_MIN <= item <= VID_MAX:
                raise VidError('%s: VLAN ID %d is out of range; valid VLAN IDs are %d-%d (0 and 4095 are reserved)'
                               % (label, item, VID_MIN, VID_MAX))
            spans.append((item, None, label))
            continue
        if not isinstance(item, str):
            raise VidError('%s: %r is not a VLAN ID or range' % (label, item))
        for part in item.split(','):
            if not part.strip():
                raise VidError('%s: empty element in %r; write "100-200,300"' % (label, item))
            lo_text, dash, hi_text = part.partition('-')
            low = _parse_int(lo_text, label)
            high = _parse_int(hi_text, label) if dash else None
            if high is not None and high < low:
                raise VidError('%s: range %s is reversed; write it as %d-%d' % (label, part.strip(), high, low))
            spans.append((low, high, label))
    result = set()
    ordered = sorted(spans, key=lambda span: span[0])
    for (low, high, label) in ordered:
        members = set(range(low, (high if high is not None else low) + 1))
        overlap = result & members
        if overlap:
            raise VidError('%s: VLAN %s is listed more than once (ranges overlap); list each VLAN ID once'
                           % (label, format_ranges(overlap)))
        result |= members
    return frozenset(result)


def to_ranges(vids):
    """Sorted VIDs -> list of (first, last) inclusive ranges."""
    ordered = sorted(vids)
    if isinstance(vids, (set, frozenset)) and ordered and ordered[-1] - ordered[0] == len(ordered) - 1:
        return [(ordered[0], ordered[-1])]  # no gap (a set has no repeats): a 2-4094 trunk is one range at once
    ranges = []
    for vid in ordered:
        if ranges and vid == ranges[-1][1] + 1:
            ranges[-1][1] = vid
        else:
            ranges.append([vid, vid])
    return [tuple(span) for span in ranges]


def range_strings(vids):
    """VIDs -> ["2-99", "101", "103-4094"]: the compact list form modules accept and return."""
    return ['%d' % first if first == last else '%d-%d' % (first, last) for first, last in to_ranges(vids)]


def format_ranges(vids):
    """VIDs -> "2-99,101" for messages and iproute2-style command text."""
    return ','.join(range_strings(vids)) or '(none)'
