"""The NetworkAttachmentDefinition config vlan_network writes, fed to the real bridge CNI plugin.

This is the exact Multus/Harvester data path of a VM NIC: the plugin reads ``spec.config`` on stdin, creates the
node bridge (vlan_filtering on) and a veth whose host end is a bridge port with the network's VID as PVID untagged.
A network namespace attached this way stands in for the VM.  Each test runs the plugin inside a "node" namespace
(so the bridge lands there) with CNI_NETNS pointing at "VM" namespaces.
"""

import json
import os
import secrets

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster.builders import cni_config_json, plain_vlan_network
from testbeds import cni

CNI_BIN = '/usr/lib/cni'  # Debian's containernetworking-plugins (1.1.1)


def cni_add(node, vm, config, ifname='eth0', cni_bin=CNI_BIN):
    """Run the bridge plugin's ADD in ``node`` for the namespace ``vm``; returns the plugin's JSON result."""
    env = ['env', 'CNI_COMMAND=ADD', 'CNI_CONTAINERID=%s' % secrets.token_hex(8), 'CNI_NETNS=%s' % vm.path,
           'CNI_IFNAME=%s' % ifname, 'CNI_PATH=%s' % cni_bin]
    result = node.run(env + [os.path.join(cni_bin, 'bridge')], input=config)
    return json.loads(result.stdout)


@pytest.fixture(name='built_plugins')
def fixture_built_plugins():
    """The folder of the bridge plugin scripts/setup.sh builds from Go modules (testbeds.cni)."""
    try:
        folder = cni.bin_dir()
    except OSError as exc:  # the cache is read-only in the guest: the folder was never made
        pytest.fail('the built CNI plugins are missing (%s): run scripts/setup.sh' % exc, pytrace=False)
    if not os.access(os.path.join(folder, 'bridge'), os.X_OK):
        pytest.fail('%s/bridge is missing: run scripts/setup.sh (python -m testbeds.cni build)' % folder, pytrace=False)
    return folder


def host_port(node, bridge):
    """The veth ports of ``bridge`` in ``node`` (names)."""
    links = json.loads(node.ip('-j', 'link', 'show', 'master', bridge).stdout)
    return [link['ifname'] for link in links]


def vlans_of(node, port):
    entries = json.loads(node.bridge('-j', 'vlan', 'show', 'dev', port).stdout)
    for entry in entries:
        if entry.get('ifname') == port:
            return entry['vlans']
    return []


@pytest.mark.parametrize('generation, cluster_network, mtu, bridge', [
    ('legacy', None, None, 'harvester-br0'),
    ('current', 'data', 1400, 'data-br'),
])
def test_plugin_puts_vm_port_on_bridge_with_pvid_untagged(make_netns, generation, cluster_network, mtu, bridge):
    node, vm = make_netns('node'), make_netns('vm')
    config = cni_config_json(generation, 'vlan100', cluster_network, 100, mtu)
    result = cni_add(node, vm, config)
    assert result['interfaces'][0]['name'] == bridge

    details = json.loads(node.ip('-d', '-j', 'link', 'show', bridge).stdout)[0]
    assert details['linkinfo']['info_kind'] == 'bridge'
    assert details['linkinfo']['info_data']['vlan_filtering'] == 1
    assert details['flags'].count('PROMISC') or details.get('promiscuity', 0) > 0

    ports = host_port(node, bridge)
    assert len(ports) == 1
    vlans = vlans_of(node, ports[0])
    assert {'vlan': 100, 'flags': ['PVID', 'Egress Untagged']} in vlans
    vm_link = json.loads(vm.ip('-j', 'link', 'show', 'eth0').stdout)[0]
    if mtu:
        assert vm_link['mtu'] == mtu


def test_same_vlan_talks_other_vlan_is_cut_off(make_netns):
    node = make_netns('node')
    vms = {name: make_netns(name) for name in ('a', 'b', 'c')}
    for name, vid in (('a', 100), ('b', 100), ('c', 200)):
        cni_add(node, vms[name], cni_config_json('current', 'vlan%d' % vid, 'data', vid, 1500))
    for index, name in enumerate(('a', 'b', 'c')):
        vms[name].ip('addr', 'add', '10.99.0.%d/24' % (index + 1), 'dev', 'eth0')
    assert vms['a'].run(['ping', '-c', '1', '-W', '2', '10.99.0.2'], check_rc=False).returncode == 0
    assert vms['a'].run(['ping', '-c', '1', '-W', '1', '10.99.0.3'], check_rc=False).returncode != 0
    assert vms['c'].run(['ping', '-c', '1', '-W', '1', '10.99.0.2'], check_rc=False).returncode != 0


@pytest.mark.parametrize('preserve, vlans', [
    # Harvester's config: the port keeps the bridge's default VLAN 1, egress untagged (native VLAN floods reach it)
    (None, [{'vlan': 1, 'flags': ['Egress Untagged']}, {'vlan': 100, 'flags': ['PVID', 'Egress Untagged']}]),
    (False, [{'vlan': 100, 'flags': ['PVID', 'Egress Untagged']}]),
])
def test_preserve_default_vlan_with_the_built_plugin(make_netns, built_plugins, preserve, vlans):
    node, vm = make_netns('node'), make_netns('vm')
    # the node's bridge as the host modules make it: VLAN filtering, default PVID 1 (also on its own port)
    node.ip('link', 'add', 'data-br', 'type', 'bridge', 'vlan_filtering', '1', 'vlan_default_pvid', '1')
    node.ip('link', 'set', 'data-br', 'up')
    config = cni_config_json('current', 'vlan100', 'data', 100, 1500, preserve)
    assert ('"preserveDefaultVlan":false' in config) == (preserve is False)
    cni_add(node, vm, config, cni_bin=built_plugins)
    ports = host_port(node, 'data-br')
    assert len(ports) == 1
    assert vlans_of(node, ports[0]) == vlans


def tagged_vids(entries):
    """The VIDs of ``bridge -j vlan show`` entries without the PVID flag (a range entry has ``vlanEnd``)."""
    vids = set()
    for entry in entries:
        if 'PVID' not in entry.get('flags', []):
            vids.update(range(entry['vlan'], entry.get('vlanEnd', entry['vlan']) + 1))
    return vids


def test_plain_kubevirt_nads_with_the_built_plugin(make_netns, built_plugins):
    """The NADs vlan_network writes with flavor plain (no Harvester: builders.plain_vlan_network), fed to the bridge
    plugin v1.6.2 the nodes of a plain KubeVirt + Multus cluster run: every config is accepted, the ports get the
    VLANs asked for (VLAN 100 only with preserve_default_vlan false; the trunk's VIDs tagged), the bridge is not
    made promiscuous (no promiscMode), and the VLANs separate the VMs."""
    node = make_netns('node')
    # the node bridge as harvester.network.host_bridge builds it: VLAN filtering, default PVID 1
    node.ip('link', 'add', 'br-vlan', 'type', 'bridge', 'vlan_filtering', '1', 'vlan_default_pvid', '1')
    node.ip('link', 'set', 'br-vlan', 'up')
    networks = {
        'a': dict(name='vlan100', vlan_id=100, preserve_default_vlan=False),
        'b': dict(name='vlan100', vlan_id=100),
        'c': dict(name='vlan200', vlan_id=200, preserve_default_vlan=False, mtu=1400),
        't': dict(name='trunk', network_type='trunk', vlan_trunk=[{'min_id': 300}, {'min_id': 310, 'max_id': 311}]),
    }
    vms, ports = {}, {}
    for name, network in sorted(networks.items()):
        config = plain_vlan_network(dict(network, namespace='default', bridge='br-vlan'))['spec']['config']
        vms[name] = make_netns(name)
        before = set(host_port(node, 'br-vlan'))
        cni_add(node, vms[name], config, cni_bin=built_plugins)
        (ports[name],) = set(host_port(node, 'br-vlan')) - before
    assert vlans_of(node, ports['a']) == [{'vlan': 100, 'flags': ['PVID', 'Egress Untagged']}]
    assert {'vlan': 100, 'flags': ['PVID', 'Egress Untagged']} in vlans_of(node, ports['b'])
    assert {'vlan': 1, 'flags': ['Egress Untagged']} in vlans_of(node, ports['b'])  # the plugin's default: kept
    assert vlans_of(node, ports['c']) == [{'vlan': 200, 'flags': ['PVID', 'Egress Untagged']}]
    assert tagged_vids(vlans_of(node, ports['t'])) == {300, 310, 311}
    assert json.loads(vms['c'].ip('-j', 'link', 'show', 'eth0').stdout)[0]['mtu'] == 1400
    details = json.loads(node.ip('-d', '-j', 'link', 'show', 'br-vlan').stdout)[0]
    assert 'PROMISC' not in details['flags'] and details.get('promiscuity', 0) == 0

    for index, name in enumerate(('a', 'b', 'c')):
        vms[name].ip('addr', 'add', '10.98.0.%d/24' % (index + 1), 'dev', 'eth0')
    assert vms['a'].run(['ping', '-c', '1', '-W', '2', '10.98.0.2'], check_rc=False).returncode == 0
    assert vms['a'].run(['ping', '-c', '1', '-W', '1', '10.98.0.3'], check_rc=False).returncode != 0
