"""persist: true across a real second boot, stage 1 of 2: converge with persistence, record the node, power off.

The host phase (scripts/test.sh) runs this in its guest session, with ``tests/output`` shared read-write; the
guest then powers off, and the phase boots ONE fresh guest (a new kernel: another boot id, no link of this boot
left) on the same folder for stage 2, ``second_boot.py``: the same "hardware" again (NICs with the same names and
MAC addresses, cabled to a switch), the boot unit's own ExecStart run as systemd runs it, ``systemd-analyze
verify`` on the unit, and the witness snapshot compared with the one taken here before power-off.

What this stage leaves in ``REBOOT_DIR`` (default ``tests/output/reboot``, or ``$HN_REBOOT_DIR``):
``root/`` (the saved state, the engine copy, the runner and the unit, installed by the modules with
``persist: true``; ``Paths(root)``), ``stage1.json`` (boot id, namespace name, the unit's path) and
``before.json`` (the witness snapshot of the node just before power-off).
"""

import json
import os
import shutil

from host_support import HARVESTER_NODE, REPO, Node

REBOOT_DIR = os.environ.get('HN_REBOOT_DIR') or os.path.join(REPO, 'tests', 'output', 'reboot')
# The node's hardware: NICs (veth pairs to a switch namespace, up, as cabled NICs are) and VM ports (veth pairs
# inside the node, down; the VM's end too), each with a fixed MAC address, as hardware has.
NICS = (('eth1', '02:00:00:00:0d:01'), ('eth2', '02:00:00:00:0d:02'), ('eth3', '02:00:00:00:0d:03'))
VM_PORTS = (('vm1', '02:00:00:00:0e:01', '02:00:00:00:0f:01'), ('vm2', '02:00:00:00:0e:02', '02:00:00:00:0f:02'))
# Two persisting runs folded into one saved state: the whole node, then one more VLAN on the uplink.
NETWORK = dict(HARVESTER_NODE, state='replaced', persist=True,
               addresses=[{'interface': 'data-br', 'address': '10.7.0.2/24'},
                          {'interface': 'data-br', 'address': 'fd00:7::2/64'}],
               routes=[{'dst': '10.8.0.0/16', 'gateway': '10.7.0.1'}])
TRUNK = {'state': 'merged', 'config': [{'port': 'data-bo', 'vids': ['300']}], 'persist': True}


def boot_id():
    with open('/proc/sys/kernel/random/boot_id', encoding='ascii') as stream:
        return stream.read().strip()


def build_hardware(make_netns):
    """A node namespace with the hardware above (what a node has at boot before any network configuration);
    returns it.  One ``ip -batch`` per namespace."""
    node, switch = make_netns('node'), make_netns('sw')
    batch = []
    for nic, mac in NICS:
        batch += ['link add %s address %s type veth peer name sw-%s netns %s' % (nic, mac, nic, switch.name),
                  'link set %s up' % nic]
    for port, mac, peer_mac in VM_PORTS:
        batch.append('link add %s address %s type veth peer name %sp address %s' % (port, mac, port, peer_mac))
    node.run(['ip', '-batch', '-'], input='\n'.join(batch) + '\n')
    switch.run(['ip', '-batch', '-'], input=''.join('link set sw-%s up\n' % nic for nic, _mac in NICS))
    return node


def test_persist_then_power_off(make_netns):
    shutil.rmtree(REBOOT_DIR, ignore_errors=True)  # never let stage 2 read what an earlier run left
    os.makedirs(REBOOT_DIR)
    node = Node(build_hardware(make_netns), None, os.path.join(REBOOT_DIR, 'root'))
    result = node.converge('host_network', NETWORK)
    assert node.paths.unit_file in result['persist']['changed_files']
    assert node.run('host_vlan_trunk', TRUNK)['changed'] is True
    before = node.settled()
    assert 300 in before['vlans']['data-bo'] and before['links']['data-bo']['master'] == 'data-br', before
    with open(os.path.join(REBOOT_DIR, 'before.json'), 'w', encoding='utf-8') as stream:
        json.dump(before, stream, indent=1, sort_keys=True)
    with open(os.path.join(REBOOT_DIR, 'stage1.json'), 'w', encoding='utf-8') as stream:
        json.dump({'boot_id': boot_id(), 'kernel_bed': os.environ.get('HN_KERNEL_BED'), 'netns': node.ns.name,
                   'unit_file': node.paths.unit_file, 'wants_link': node.paths.wants_link,
                   'log_file': node.paths.log_file}, stream, indent=1, sort_keys=True)
