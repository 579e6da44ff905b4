"""VLAN ID parsing and range maths."""

import pytest
from hypothesis import given, strategies as st

from ansible_collections.harvester.network.plugins.module_utils.host.vids import (
    VidError, format_ranges, parse_vids, range_strings, to_ranges)


@pytest.mark.parametrize('items, expected', [
    ([100], {100}),
    (['100'], {100}),
    ('100-102', {100, 101, 102}),
    (['100-102,200'], {100, 101, 102, 200}),
    ([5, '7-8', '10'], {5, 7, 8, 10}),
    (['1-4094'], set(range(1, 4095))),
    ([' 3 - 4 '], {3, 4}),
    ([], set()),
])
def test_parse(items, expected):
    assert parse_vids(items) == frozenset(expected)


def test_none_means_not_given():
    assert parse_vids(None) is None


@pytest.mark.parametrize('items, words', [
    ([0], ['config[0].vids[0]', 'VLAN ID 0', '1-4094']),
    ([4095], ['4095', 'out of range']),
    (['abc'], ["'abc'", 'not a VLAN ID']),
    (['200-100'], ['reversed', '100-200']),
    (['100-200', '150'], ['150', 'more than once']),
    (['100-200,150-300'], ['150-200', 'more than once']),
    (['5,,6'], ['empty element']),
    ([True], ['True']),
    ([-1], ['-1']),
    (['10-'], ['not a VLAN ID']),
    ([1.5], ['1.5']),
])
def test_errors_name_the_field(items, words):
    with pytest.raises(VidError) as info:
        parse_vids(items, 'config[0].vids')
    message = str(info.value)
    assert message.startswith('config[0].vids[')
    for word in words:
        assert word in message


def test_ranges_and_text():
    vids = {2, 3, 4, 10, 12, 13}
    assert to_ranges(vids) == [(2, 4), (10, 10), (12, 13)]
    assert range_strings(vids) == ['2-4', '10', '12-13']
    assert format_ranges(vids) == '2-4,10,12-13'
    assert format_ranges(set()) == '(none)'
    assert to_ranges(frozenset(range(2, 4095))) == [(2, 4094)]  # a whole trunk: one range
    assert to_ranges({7}) == [(7, 7)] and to_ranges(set()) == []


@given(st.sets(st.integers(min_value=1, max_value=4094), max_size=300))
def test_round_trip(vids):
    """range_strings() output is valid input and means the same VIDs (gathered -> config)."""
    assert parse_vids(range_strings(vids)) == frozenset(vids)
    assert parse_vids(format_ranges(vids) if vids else []) == frozenset(vids)
    assert sum(last - first + 1 for first, last in to_ranges(vids)) == len(vids)
