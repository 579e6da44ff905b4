"""The host tests' witness (tests/integration/host/witness.py), its pure parts: which promiscuity a snapshot leaves
out as the bond monitor's verdict, and when a Reader's answer is complete.  (The reads themselves are tested on
the real kernel: test_host_check_mode.py, test_reader_reads_what_a_fresh_read_reads.)"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'integration', 'host'))
import witness  # noqa: E402  pylint: disable=wrong-import-position


def node(mode, arp_interval, active):
    """The ``ip -j -d link show`` dump of a bond bo0 over eth1 and eth2, port of a promiscuous bridge: the bond
    passes its promiscuity to ``active`` only (a mode with one active slave) or to both slaves."""
    one_active = mode == 'active-backup'
    links = [{'ifindex': 4, 'ifname': 'bo0', 'flags': ['BROADCAST', 'MASTER', 'UP'], 'mtu': 1500,
              'promiscuity': 1, 'address': '02:00:00:00:0a:01', 'master': 'br0',
              'linkinfo': {'info_kind': 'bond', 'info_data': {'mode': mode, 'miimon': 0 if arp_interval else 100,
                                                              'arp_interval': arp_interval}}},
             {'ifindex': 5, 'ifname': 'br0', 'flags': ['BROADCAST', 'UP'], 'mtu': 1500, 'promiscuity': 0,
              'address': '02:00:00:00:0a:01', 'linkinfo': {'info_kind': 'bridge', 'info_data': {}}}]
    for index, name in ((2, 'eth1'), (3, 'eth2')):
        links.append({'ifindex': index, 'ifname': name, 'flags': ['SLAVE', 'UP'], 'mtu': 1500, 'master': 'bo0',
                      'promiscuity': int(name == active or not one_active), 'address': '02:00:00:00:0a:01',
                      'linkinfo': {'info_kind': 'veth', 'info_slave_kind': 'bond',
                                   'info_slave_data': {'state': 'ACTIVE' if name == active else 'BACKUP'}}})
    return links


def snap(links):
    return witness.parse([links, [], [], '[]', '[]', ''])


def test_arp_monitored_active_backup_slaves_promiscuity_is_the_monitors():
    before, after = snap(node('active-backup', 100, 'eth1')), snap(node('active-backup', 100, 'eth2'))
    assert witness.differences(before, after) == []
    changed = node('active-backup', 100, 'eth2')
    changed[3]['mtu'] = 9000  # eth2: anything else of the slaves is still compared
    assert witness.differences(before, snap(changed)) == ['links.eth2.mtu: expected 1500, found 9000']


@pytest.mark.parametrize('mode, arp_interval', [('active-backup', 0), ('balance-xor', 100)])
def test_promiscuity_the_monitor_does_not_move_is_compared(mode, arp_interval):
    """MII monitoring (carrier follows the slaves' own), or a mode where every slave gets the bond's promiscuity."""
    before = snap(node(mode, arp_interval, 'eth1'))
    moved = node(mode, arp_interval, 'eth1')
    moved[2]['promiscuity'] = 0
    assert witness.differences(before, snap(moved)) == ['links.eth1.promiscuity: expected 1, found 0']


def test_reader_answer_is_complete_only_with_every_document():
    assert witness.complete_documents('[{"a": 1}]\n[]\n', 3) is None
    assert witness.complete_documents('[{"a": 1}]\n[]\n[{"b"', 3) is None
    assert witness.complete_documents('[{"a": 1}]\n[]\n[]\n', 3) == [[{'a': 1}], [], []]
    with pytest.raises(AssertionError):
        witness.complete_documents('[]\n[]\n', 1)
