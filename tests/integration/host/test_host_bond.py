"""host_bond on the real kernel: every change re-run for idempotence, in-place changes keep the ifindex."""

import pytest

from host_support import make_node, predicted_exactly


@pytest.fixture
def node(make_netns, veth, tmp_path):
    return make_node(make_netns, veth, tmp_path, vm_ports=())


def test_lifecycle_in_place(node):
    created = node.converge('host_bond', {'name': 'bo0', 'mode': '802.3ad', 'slaves': ['eth1', 'eth2'],
                                          'miimon': 100, 'lacp_rate': 'fast', 'xmit_hash_policy': 'layer3+4',
                                          'mtu': 9000})
    assert created['changed'] and created['before'] == {}
    link = node.link('bo0')
    index = link['ifindex']
    info = link['linkinfo']['info_data']
    assert info['mode'] == '802.3ad' and info['ad_lacp_rate'] == 'fast' and info['xmit_hash_policy'] == 'layer3+4'
    assert link['mtu'] == 9000 and node.link('eth1')['mtu'] == 9000
    assert node.link('eth1')['master'] == 'bo0' and node.link('eth2')['master'] == 'bo0'
    assert created['after']['slaves'] == ['eth1', 'eth2']

    # Adding a slave never recreates the bond.
    added = node.converge('host_bond', {'name': 'bo0', 'slaves': ['eth1', 'eth2', 'eth3']})
    assert [op['op'] for op in added['plan']] == ['set_up', 'set_master']
    assert node.link('bo0')['ifindex'] == index and node.link('eth3')['master'] == 'bo0'

    # Removing one neither; the released NIC gets its MTU back and is down (the kernel closes it).
    node.converge('host_bond', {'name': 'bo0', 'slaves': ['eth1', 'eth2']})
    eth3 = node.link('eth3')
    assert 'master' not in eth3 and eth3['mtu'] == 1500 and node.link('bo0')['ifindex'] == index

    # An option the kernel only takes while the bond is down: down, set, up - in place, and the plan says so.
    changed = node.converge('host_bond', {'name': 'bo0', 'ad_select': 'bandwidth', 'lacp_rate': 'slow'})
    assert [op['op'] for op in changed['plan']] == ['set_up', 'set_bond_options', 'set_up']
    assert 'down' in changed['plan'][0]['note']
    assert changed['warnings'] == ['bo0: changing lacp_rate, ad_select takes the bond down: the traffic through it '
                                   'stops until it is back up (a kernel rule; docs/host.md, "Hitless changes")']
    assert node.link('bo0')['linkinfo']['info_data']['ad_select'] == 'bandwidth'
    assert node.link('bo0')['ifindex'] == index and 'UP' in node.link('bo0')['flags']

    # A mode change: slaves released and re-enslaved, the bond itself stays.
    moved = node.converge('host_bond', {'name': 'bo0', 'mode': 'active-backup', 'primary': 'eth2',
                                        'slaves': ['eth1', 'eth2']})
    assert any('not recreated' in (op.get('note') or '') for op in moved['plan'])
    assert [w for w in moved['warnings'] if 'changing mode' in w]
    assert node.link('bo0')['ifindex'] == index
    info = node.link('bo0')['linkinfo']['info_data']
    assert info['mode'] == 'active-backup' and info['primary'] == 'eth2'
    assert moved['after']['primary'] == 'eth2' and 'lacp_rate' not in moved['after']

    # ARP monitoring instead of MII monitoring.
    node.converge('host_bond', {'name': 'bo0', 'miimon': 0, 'arp_interval': 200,
                                'arp_ip_target': ['10.0.0.1', '10.0.0.2']})
    info = node.link('bo0')['linkinfo']['info_data']
    assert info['arp_interval'] == 200 and info['miimon'] == 0 and info['arp_ip_target'] == ['10.0.0.1', '10.0.0.2']

    removed = node.converge('host_bond', {'name': 'bo0', 'state': 'absent'})
    assert removed['after'] == {} and 'bo0' not in node.links()


def test_check_mode_and_delays(node):
    params = {'name': 'bo1', 'mode': 'balance-xor', 'slaves': ['eth1'], 'miimon': 100, 'updelay': 200,
              'downdelay': 300, 'xmit_hash_policy': 'layer2+3'}
    predicted = node.run('host_bond', params, check=True)
    assert predicted['changed'] and 'bo1' not in node.links()
    real = node.converge('host_bond', params)
    assert real['plan'] == predicted['plan'] and predicted_exactly(predicted['after'], real['after'])
    assert predicted['after']['mac'] is None and real['after']['mac'] == node.link('bo1')['address']
    # miimon 100 -> 50: the kernel keeps up/downdelay in miimon ticks; the engine re-sends them.
    node.converge('host_bond', {'name': 'bo1', 'miimon': 50})
    info = node.link('bo1')['linkinfo']['info_data']
    assert (info['miimon'], info['updelay'], info['downdelay']) == (50, 200, 300)
