"""default_vlan on Harvester v0.3/v1.0 (the seed's generation): the API server with the legacy CRDs, one node whose
chosen NIC carries its management address, migration allowed.

One playbook, run twice: the ``vlan`` ClusterNetwork enabled with the default NIC, a VLAN network, then the node:
``harvester-br0`` over eth0 with the management address and default route moved onto the bridge (probed: the
gateway must answer after the change), VLAN 100 trunked, and the node's NodeNetwork. The second run changes nothing.
"""

import os
import textwrap

import pytest

from tests.integration.roles.conftest import EXAMPLE_INVENTORY, ansible_playbook, saved_state, write_inventory

PLAYBOOK = textwrap.dedent('''\
    - name: The cluster network of the default VLAN (Harvester v0.3/v1.0)
      hosts: node1
      gather_facts: false
      module_defaults:
        group/harvester.network.cluster: {kubeconfig: "{{ harvester_kubeconfig }}"}
      tasks:
        - name: Cluster part only
          ansible.builtin.include_role:
            name: harvester.network.default_vlan
            tasks_from: cluster

    - name: A VLAN network
      hosts: localhost
      gather_facts: false
      module_defaults:
        group/harvester.network.cluster: {kubeconfig: "{{ harvester_kubeconfig }}"}
      tasks:
        - name: VLAN 100
          harvester.network.vlan_network:
            name: vlan100
            vlan_id: 100

    - name: The node, its management NIC taken with migration allowed
      hosts: node1
      gather_facts: false
      module_defaults:
        group/harvester.network.cluster: {kubeconfig: "{{ harvester_kubeconfig }}"}
      roles:
        - role: harvester.network.default_vlan
    ''')


@pytest.fixture(scope='module')
def legacy_setup(lab, legacy_kubeconfig, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('legacy'))
    inventory, _lab_vars = write_inventory(lab, legacy_kubeconfig, folder)
    playbook = os.path.join(folder, 'legacy.yml')
    with open(playbook, 'w', encoding='utf-8') as handle:
        handle.write(PLAYBOOK)
    extra = ['harvester_kubeconfig=%s' % legacy_kubeconfig, 'default_vlan_cluster_network=vlan',
             '{"default_vlan_nics": ["eth0"], "default_vlan_host_nics": [], "node_prep_bonds": [],'
             ' "default_vlan_allow_management_migration": true,'
             ' "default_vlan_manage_host": true}']
    return playbook, [EXAMPLE_INVENTORY, inventory], extra


@pytest.fixture(scope='module')
def legacy_api(legacy_kubeconfig):
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    api_client = config.new_client_from_config(config_file=legacy_kubeconfig)
    yield client.CustomObjectsApi(api_client)
    api_client.close()


def test_legacy_migration_converges_and_is_idempotent(lab, legacy_setup, legacy_api):
    playbook, inventories, extra = legacy_setup
    node = lab.nodes['node1']
    first = ansible_playbook(playbook, inventories, extra, args=['-v'])
    assert first.rc == 0, first.tail(120)
    assert first.recap['node1']['changed'] > 0

    links = node.links()
    assert links['harvester-br0']['linkinfo']['info_data']['vlan_filtering'] == 1
    assert links['eth0']['master'] == 'harvester-br0'
    addresses = node.snapshot()['addresses']
    assert 'harvester-br0 10.10.0.11/24' in addresses
    assert not [a for a in addresses if a.startswith('eth0 ')], addresses
    routes = node.json('route', 'show', 'default')
    assert routes and routes[0]['dev'] == 'harvester-br0' and routes[0]['gateway'] == '10.10.0.1', routes
    assert node.exec(['ping', '-c', '1', '-W', '2', '10.10.0.1'], check=False).returncode == 0
    table = node.vlans()['eth0']
    assert table.get(100) == set() and table[1] == {'PVID', 'Egress Untagged'}, table
    # the gateway answered before the change, so it was held against it (and answered after: no rollback)
    assert '"probe": "ping 10.10.0.1"' in first.output, first.tail(60)

    cluster_network = legacy_api.get_cluster_custom_object('network.harvesterhci.io', 'v1beta1', 'clusternetworks',
                                                           'vlan')
    assert cluster_network['enable'] is True
    assert cluster_network['config']['defaultPhysicalNIC'] == 'eth0'
    node_network = legacy_api.get_cluster_custom_object('network.harvesterhci.io', 'v1beta1', 'nodenetworks',
                                                        'node1-vlan')
    assert node_network['spec']['nic'] == 'eth0' and node_network['spec']['nodeName'] == 'node1'
    saved = saved_state(lab, 'node1')
    assert saved['bridges']['harvester-br0']['migrate'] is True

    second = ansible_playbook(playbook, inventories, extra, args=['--diff'])
    assert second.rc == 0, second.tail(120)
    assert all(counts['changed'] == 0 for counts in second.recap.values()), (second.recap, second.tail(150))
