"""lab/checks_current.py and the VLAN interfaces of lab/vms.py: the pure logic that decides which rows exist and which
probes the trunk row runs (the rows themselves are proven by the lab phase, tests/integration/lab)."""

import ipaddress

from lab import checks, checks_current, report
from lab.config import World
from lab.vms import nic_vlans


def test_rows_follow_the_vars():
    current, legacy = World('current'), World('legacy')
    assert checks_current.applicable(current) == {'storage_network', 'trunk', 'ip_pool'}
    assert checks_current.applicable(legacy) == set()
    assert checks_current.row_ids(legacy) == [row_id for row_id, _title in checks.ROWS
                                              if row_id not in checks_current.ROW_IDS]
    assert checks_current.row_ids(current) == [row_id for row_id, _title in checks.ROWS]
    current.site['harvester_ip_pools'] = [{'name': 'gone', 'state': 'absent'}]
    assert 'ip_pool' not in checks_current.row_ids(current)


def test_plain_profile_rows_and_report():
    """The plain profile keeps the site's storage network and IP pool in its vars (site.yml skips them, saying so):
    their rows exist and are n/a there, never failed, and the report's result counts them as such."""
    plain = World('plain')
    assert checks_current.applicable(plain) == {'storage_network', 'trunk', 'ip_pool'}
    assert set(checks_current.NEEDS_HARVESTER) == {'storage_network', 'ip_pool'}
    assert all(not item.get('route') for item in plain.site['harvester_vlan_networks'])  # refused on plain

    class Served:  # the one read not_applicable_row makes: the API group's discovery (None: 404)
        def __init__(self, answer):
            self.answer = answer

        def served(self, _group, _version):
            return self.answer

    row = checks_current.not_applicable_row('ip_pool', Served(None))
    assert (row.status, row.reason.startswith('n/a on plain (needs Harvester: ')) == ('N/A', True)
    assert row.evidence == ['ok   GET /apis/loadbalancer.harvesterhci.io/v1beta1: not served (404)']
    assert checks_current.not_applicable_row('ip_pool', Served({'ippools'})).status == 'FAIL'
    rows = [{'id': 'converge', 'status': 'PASS'}, row.as_dict()]
    summary = report.build(rows, [], {})['summary']
    assert (summary['result'], summary['passed'], summary['failed'], summary['na']) == ('PASS', 1, 0, 1)
    assert report.build([row.as_dict()], [], {})['summary']['result'] == 'FAIL'  # nothing proven at all
    rows[0]['status'] = 'FAIL'
    assert report.build(rows, [], {})['summary']['result'] == 'FAIL'


def test_trunk_vids_and_storage_value():
    assert checks_current.trunk_vids([{'id': 100}, {'minID': 200, 'maxID': 202}]) == {100, 200, 201, 202}
    assert checks_current.trunk_text([{'id': 200}, {'id': 100}]) == 'trunk of VLANs 100, 200'
    item = {'cluster_network': 'data', 'vlan_id': 50, 'range': '192.168.50.0/24', 'exclude': ['b', 'a']}
    assert checks_current.expected_storage_value(item) == {'clusterNetwork': 'data', 'vlan': 50,
                                                           'range': '192.168.50.0/24', 'exclude': ['a', 'b']}
    assert 'vlan' not in checks_current.expected_storage_value(dict(item, vlan_id=None))


def test_nic_vlans_from_network_data():
    data = {'version': 2, 'ethernets': {'eth': {'match': {'name': 'enp1s0'}}},
            'vlans': {'v100': {'id': 100, 'link': 'eth', 'addresses': ['192.168.100.31/24', 'fd00::1/64']},
                      'v7': {'id': 7, 'link': 'enp2s0', 'addresses': ['10.7.0.1/24']},
                      'v200': {'id': 200, 'link': 'enp1s0'}}}
    assert nic_vlans(data, 0, 'nic-1') == [{'ifname': 'v100', 'vid': 100, 'addresses': ['192.168.100.31/24']},
                                           {'ifname': 'v200', 'vid': 200, 'addresses': []}]
    assert nic_vlans(data, 1, 'nic-2') == [{'ifname': 'v7', 'vid': 7, 'addresses': ['10.7.0.1/24']}]
    assert nic_vlans({'version': 1, 'config': []}, 0, 'nic-1') == [] and nic_vlans(None, 0, 'nic-1') == []


def _nic(name, vid, address, trunk=None, vlans=None):
    return {'name': name, 'ifname': 'enp1s0', 'network': 'default/%s' % name, 'vid': vid, 'mode': 'static',
            'addresses': [address] if address else [], 'trunk': trunk, 'vlans': vlans or [], 'route': {}}


def test_trunk_probes():
    """VLANs of the trunk ping their peers on the other node only; a VLAN outside it pings one on its own node and
    expects silence, and frames are captured both ways."""
    vlans = [{'ifname': 'enp1s0.100', 'vid': 100, 'addresses': ['192.168.100.31/24']},
             {'ifname': 'enp1s0.300', 'vid': 300, 'addresses': ['192.168.30.31/24']}]
    vms = [('t1', 'node1', _nic('trunk', 0, None, [{'id': 100}, {'id': 200}], vlans)),
           ('a1', 'node1', _nic('vlan100', 100, '192.168.100.11/24')),
           ('a2', 'node2', _nic('vlan100', 100, '192.168.100.12/24')),
           ('c1', 'node1', _nic('vlan300', 300, '192.168.30.11/24')),
           ('c2', 'node2', _nic('vlan300', 300, '192.168.30.12/24'))]
    vm_plan = {'vms': [{'vm': vm, 'node': node, 'netns': 'hnlab-vm-' + vm, 'nics': [nic]} for vm, node, nic in vms],
               'hooks': {}}
    attach = {'vms': [{'vm': vm, 'nics': [{'name': nic['name'], 'cni_rc': 0, 'errors': [], 'mac': '02:00:00:00:00:0%d' % i}]}
                      for i, (vm, _node, nic) in enumerate(vms)]}
    plan = checks.Plan()
    notes = checks_current.plan_probes(plan, World('current'), vm_plan, attach)
    probes = dict((probe['id'], probe) for probe in plan.probes)
    pings = [(probes[pid]['netns'], probes[pid]['target'], expect) for pid, expect, _what in plan.expect['trunk']
             if probes[pid]['kind'] == 'ping']
    assert pings == [('hnlab-vm-t1', '192.168.100.12', True), ('hnlab-vm-t1', '192.168.30.11', False)]
    leaks = [probes[pid] for pid, _expect, _what in plan.expect['trunk'] if probes[pid]['kind'] == 'leak']
    assert [(leak['source']['netns'], leak['source']['broadcast'], [item['vm'] for item in leak['listeners']])
            for leak in leaks] == [('hnlab-vm-t1', '192.168.30.255', ['c1', 'c2']),
                                   ('hnlab-vm-c1', '192.168.30.255', ['t1'])]
    assert leaks[0]['mac'] == '02:00:00:00:00:00'
    assert notes == []
    assert all(ipaddress.ip_address(probe['target']) for probe in probes.values() if probe['kind'] == 'ping')
