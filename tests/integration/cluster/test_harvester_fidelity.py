"""The cluster modules beside Harvester's network manager and webhook (issue 11, items 1-9).

The bed's ``current`` kube-apiserver runs the stand-in of testbeds/cluster/harvester.py: a controller that writes our
objects with plain Update as field manager ``network-controller`` and an admission webhook with Harvester's rules.
The witness is the API server (raw GETs, resourceVersions, managedFields), never the module's own result alone.
"""

import json
import secrets

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster import builders
from ansible_collections.harvester.network.plugins.module_utils.cluster.common import Cluster
from ansible_collections.harvester.network.plugins.module_utils.cluster.discovery import CURRENT
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import (
    InUseError, ValidationError, WebhookRefusal)
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import (
    cluster_network_handler, vlan_config_handler, vlan_network_handler, vlan_network_info_handler)
from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import NAD

from ansible_collections.harvester.network.plugins.modules.vlan_dhcp import vlan_dhcp_handler

from testbeds.cluster.handlers import AUTH_DEFAULTS, ModuleStandIn, call, read, writes

NET = dict(name=None, namespace='default', cluster_network=None, network_type='vlan', vlan_id=None, mtu=None, route=None,
           description=None, networks=None, prune=False, allow_duplicate_vids=False, state='present',
           preserve_default_vlan=None)
INFO = dict(name=None, namespace=None, cluster_network=None)
CN = dict(name=None, description=None, enable=None, default_physical_nic=None, node_nics=None, state='present')
VC = dict(name=None, cluster_network=None, description=None, nics=None, bond_mode='active-backup', miimon=None, mtu=None,
          tx_queue_len=None, hardware_addr=None, node_selector=None, state='present')
DHCP = dict(name='dhcp', namespace='default', network=None, cidr=None, gateway=None, server_address=None,
            pool_start=None, pool_end=None, lease_time='12h', dns_servers=None, image='docker.io/4km3/dnsmasq:2.90-r3',
            image_pull_policy='IfNotPresent', leases=None, node_selector=None, interface=None, lease_file=None,
            state='present')
ROUTE = {'mode': 'manual', 'cidr': '192.168.100.0/24', 'gateway': '192.168.100.1', 'dhcp_server': None}
NADS = '/apis/k8s.cni.cncf.io/v1/namespaces/%s/network-attachment-definitions'
HN = '/apis/network.harvesterhci.io/v1beta1'


def nad_path(namespace, name):
    return (NADS % namespace) + '/' + name


def new_cluster_network(server, harvester, mtu=None, node_selector=None):
    name = 'cn' + secrets.token_hex(4)
    call(server, cluster_network_handler, CN, name=name)
    call(server, vlan_config_handler, VC, name=name + '-vc', cluster_network=name, nics=['eth1'], mtu=mtu,
         node_selector=node_selector)
    harvester.settle()
    return name


def route_of(obj):
    return json.loads(obj['metadata']['annotations']['network.harvesterhci.io/route'])


def managers(obj):
    return sorted((m['manager'], m['operation']) for m in obj['metadata']['managedFields'])


def test_item1_edits_after_the_controller_wrote_no_conflict_no_false_change_no_loop(cluster, harvester, namespace, api_rvs):
    cn = new_cluster_network(cluster, harvester, mtu=9000)
    args = dict(name='net', namespace=namespace, cluster_network=cn, vlan_id=100, route=ROUTE)
    call(cluster, vlan_network_handler, NET, **args)
    harvester.settle()
    stored = read(cluster, nad_path(namespace, 'net'))
    # the controller did what Harvester's manager does, with plain Update as network-controller
    assert stored['metadata']['finalizers'] == ['wrangler.cattle.io/harvester-network-manager-nad-controller']
    assert stored['metadata']['labels']['network.harvesterhci.io/ready'] == 'true'
    assert route_of(stored)['connectivity'] == 'false'
    assert ('network-controller', 'Update') in managers(stored)

    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_network_handler, NET, **args)
    assert not result['changed'] and api_rvs(cluster) == rvs

    # change the gateway and the VLAN ID: fields the controller rewrote; today's main failed here with a 409
    new_route = dict(ROUTE, gateway='192.168.100.254')
    changed_args = dict(name='net', namespace=namespace, cluster_network=cn)
    result, log = call(cluster, vlan_network_handler, NET, vlan_id=101, route=new_route, **changed_args)
    assert result['changed'] and len(writes(log)) == 2  # the refused apply, then the forced one
    harvester.settle()
    stored = read(cluster, nad_path(namespace, 'net'))
    assert json.loads(stored['spec']['config'])['vlan'] == 101
    assert route_of(stored)['gateway'] == '192.168.100.254' and route_of(stored)['connectivity'] == 'false'
    # the controller's own fields stayed the controller's
    assert stored['metadata']['finalizers'] == ['wrangler.cattle.io/harvester-network-manager-nad-controller']
    assert stored['metadata']['labels']['network.harvesterhci.io/ready'] == 'true'
    assert stored['metadata']['labels']['network.harvesterhci.io/vlan-id'] == '101'

    # the controller's next write is no change for us, and nobody writes again: no loop
    version = stored['metadata']['resourceVersion']
    for _unused in range(2):
        rvs = api_rvs(cluster)
        result, log = call(cluster, vlan_network_handler, NET, vlan_id=101, route=new_route, **changed_args)
        assert not result['changed'] and api_rvs(cluster) == rvs
        harvester.settle()
    assert read(cluster, nad_path(namespace, 'net'))['metadata']['resourceVersion'] == version


def test_item2_hardware_addr_is_accepted_stored_as_bytes_and_idempotent(cluster, harvester, api_rvs):
    cn = 'cn' + secrets.token_hex(4)
    call(cluster, cluster_network_handler, CN, name=cn)
    args = dict(name=cn + '-vc', cluster_network=cn, nics=['eth1'], hardware_addr='52:54:00:AB:CD:0E')
    result, _unused = call(cluster, vlan_config_handler, VC, **args)
    assert result['changed'] and result['vlan_config']['hardware_addr'] == '52:54:00:ab:cd:0e'
    stored = read(cluster, '%s/vlanconfigs/%s-vc' % (HN, cn))
    assert stored['spec']['uplink']['linkAttributes']['hardwareAddr'] == 'UlQAq80O'
    harvester.settle()
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_config_handler, VC, **args)
    assert not result['changed'] and api_rvs(cluster) == rvs


def test_item3_nad_mtu_must_be_the_cluster_networks(cluster, harvester, namespace, api_rvs):
    cn = new_cluster_network(cluster, harvester, mtu=1500)
    with pytest.raises(ValidationError) as info:
        call(cluster, vlan_network_handler, NET, name='big', namespace=namespace, cluster_network=cn, vlan_id=10,
             mtu=9000)
    assert info.value.field == 'mtu' and '1500' in str(info.value)
    assert read(cluster, nad_path(namespace, 'big')) is None
    result, _unused = call(cluster, vlan_network_handler, NET, name='big', namespace=namespace, cluster_network=cn,
                           vlan_id=10, mtu=1500)
    assert result['changed']
    harvester.settle()
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_network_handler, NET, name='big', namespace=namespace, cluster_network=cn,
                       vlan_id=10)
    assert not result['changed'] and api_rvs(cluster) == rvs


def _node(server, name, labels):
    status, body = server.request('POST', '/api/v1/nodes', {'apiVersion': 'v1', 'kind': 'Node',
                                                            'metadata': {'name': name, 'labels': labels}})
    assert status == 201, body


def _vmi_on(server, namespace, name, nad, node):
    status, body = server.request('POST', '/apis/kubevirt.io/v1/namespaces/%s/virtualmachineinstances' % namespace, {
        'apiVersion': 'kubevirt.io/v1', 'kind': 'VirtualMachineInstance', 'metadata': {'name': name},
        'spec': {'domain': {'devices': {'interfaces': [{'name': 'nic-1', 'bridge': {}}]}},
                 'networks': [{'name': 'nic-1', 'multus': {'networkName': '%s/%s' % (namespace, nad)}}]}})
    assert status == 201, body
    body['status'] = {'phase': 'Running', 'nodeName': node}
    status, body = server.request('PUT', '/apis/kubevirt.io/v1/namespaces/%s/virtualmachineinstances/%s/status'
                                  % (namespace, name), body)
    assert status == 200, body


def test_item4_vlan_config_change_refused_while_vms_run_check_mode_too(cluster, harvester, namespace):
    node, label = 'node-' + secrets.token_hex(3), 'fid-' + secrets.token_hex(3)
    _node(cluster, node, {label: 'yes'})
    try:
        cn = new_cluster_network(cluster, harvester, node_selector={label: 'yes'})
        vc_path = '%s/vlanconfigs/%s-vc' % (HN, cn)
        assert json.loads(read(cluster, vc_path)['metadata']['annotations']['network.harvesterhci.io/matched-nodes']) \
            == [node]
        call(cluster, vlan_network_handler, NET, name='net', namespace=namespace, cluster_network=cn, vlan_id=7)
        _vmi_on(cluster, namespace, 'vm1', 'net', node)
        version = read(cluster, vc_path)['metadata']['resourceVersion']
        for check in (True, False):
            with pytest.raises(InUseError) as info:
                call(cluster, vlan_config_handler, VC, check=check, name=cn + '-vc', cluster_network=cn,
                     nics=['eth1', 'eth2'], node_selector={label: 'yes'})
            assert '%s/vm1 (node %s)' % (namespace, node) in str(info.value) and 'state=stopped' in str(info.value)
        with pytest.raises(InUseError):
            call(cluster, vlan_config_handler, VC, name=cn + '-vc', cluster_network=cn, state='absent')
        assert read(cluster, vc_path)['metadata']['resourceVersion'] == version
        # a change that touches no node the VM runs on goes through (the description is not the uplink)
        result, _unused = call(cluster, vlan_config_handler, VC, name=cn + '-vc', cluster_network=cn, nics=['eth1'],
                               node_selector={label: 'yes'}, description='same uplink')
        assert result['changed']
    finally:
        cluster.request('DELETE', '/api/v1/nodes/' + node)


def test_item5_webhook_refusals_name_object_field_and_fix(cluster, harvester, namespace):
    cluster_obj = Cluster(dict(AUTH_DEFAULTS, kubeconfig=cluster.kubeconfig))
    manifest = builders.vlan_network(CURRENT, {'name': 'orphan', 'namespace': namespace, 'cluster_network': 'nosuch',
                                               'network_type': 'vlan', 'vlan_id': 5})
    with pytest.raises(WebhookRefusal) as info:
        cluster_obj.service.apply(NAD, manifest)
    text = str(info.value)
    assert info.value.field == 'cluster_network'
    assert text.startswith('cluster_network: NetworkAttachmentDefinition %s/orphan was refused by the admission '
                           'webhook' % namespace)
    assert 'clusternetwork.network.harvesterhci.io "nosuch" not found' in text and 'Internal error' not in text
    assert 'create the cluster network first' in text.lower()


def test_item6_check_mode_predicts_locally_when_prerequisites_come_from_this_run(cluster, harvester, namespace, api_rvs):
    cn = 'cn' + secrets.token_hex(4)
    rvs = api_rvs(cluster)
    result, _unused = call(cluster, cluster_network_handler, CN, check=True, name=cn)
    assert result['changed']
    for handler, defaults, args in ((vlan_config_handler, VC, dict(name=cn + '-vc', cluster_network=cn, nics=['eth1'])),
                                    (vlan_network_handler, NET, dict(name='net', namespace=namespace, cluster_network=cn,
                                                                     vlan_id=9))):
        full = dict(AUTH_DEFAULTS, kubeconfig=cluster.kubeconfig)
        full.update(defaults)
        full.update(args)
        cluster_obj = Cluster(full, check_mode=True)
        module = ModuleStandIn(True)
        result = handler(full, cluster_obj, module)
        assert result['changed'] and result['changes'][0]['action'] == 'create'
        assert any('predicted this locally' in w and cn in w for w in module.warnings)
        assert writes(cluster_obj.transport.log) == []  # no dry run the webhook would refuse
    assert read(cluster, '%s/clusternetworks/%s' % (HN, cn)) is None and api_rvs(cluster) == rvs

    # a teardown in check mode: network, uplink, cluster network; every step predicted, nothing deleted
    cn = new_cluster_network(cluster, harvester)
    call(cluster, vlan_network_handler, NET, name='net', namespace=namespace, cluster_network=cn, vlan_id=9)
    harvester.settle()
    for handler, defaults, args in ((vlan_network_handler, NET, dict(name='net', namespace=namespace,
                                                                     cluster_network=cn, state='absent')),
                                    (vlan_config_handler, VC, dict(name=cn + '-vc', cluster_network=cn, state='absent')),
                                    (cluster_network_handler, CN, dict(name=cn, state='absent'))):
        result, _unused = call(cluster, handler, defaults, check=True, **args)
        assert result['changed'] and result['changes'][0]['action'] == 'delete'
    assert read(cluster, nad_path(namespace, 'net')) is not None
    assert read(cluster, '%s/clusternetworks/%s' % (HN, cn)) is not None


def test_item7_a_stopped_vm_blocks_delete_and_prune(cluster, harvester, namespace):
    cn = new_cluster_network(cluster, harvester)
    call(cluster, vlan_network_handler, NET, name='used', namespace=namespace, cluster_network=cn, vlan_id=11)
    status, body = cluster.request('POST', '/apis/kubevirt.io/v1/namespaces/%s/virtualmachines' % namespace, {
        'apiVersion': 'kubevirt.io/v1', 'kind': 'VirtualMachine', 'metadata': {'name': 'stopped'},
        'spec': {'running': False, 'template': {'spec': {
            'domain': {'devices': {'interfaces': [{'name': 'nic-1', 'bridge': {}}]}},
            'networks': [{'name': 'nic-1', 'multus': {'networkName': 'used'}}]}}}})
    assert status == 201, body
    with pytest.raises(InUseError) as info:
        call(cluster, vlan_network_handler, NET, name='used', namespace=namespace, cluster_network=cn, state='absent')
    assert 'VM %s/stopped (running or stopped)' % namespace in str(info.value)
    with pytest.raises(InUseError):
        call(cluster, vlan_network_handler, NET, namespace=namespace, cluster_network=cn, prune=True,
             networks=[{'name': 'other', 'vlan_id': 12}])
    assert read(cluster, nad_path(namespace, 'used')) is not None and read(cluster, nad_path(namespace, 'other')) is None


def test_item8_untagged_networks_carry_no_route(cluster, harvester, namespace, api_rvs):
    cn = new_cluster_network(cluster, harvester)
    call(cluster, vlan_network_handler, NET, name='net', namespace=namespace, cluster_network=cn, vlan_id=20,
         route=ROUTE)
    harvester.settle()
    with pytest.raises(ValidationError) as info:
        call(cluster, vlan_network_handler, NET, name='net', namespace=namespace, cluster_network=cn,
             network_type='untagged', route=ROUTE)
    assert info.value.field == 'route'
    result, _unused = call(cluster, vlan_network_handler, NET, name='net', namespace=namespace, cluster_network=cn,
                           network_type='untagged')
    assert result['changed']
    harvester.settle()
    stored = read(cluster, nad_path(namespace, 'net'))
    assert 'network.harvesterhci.io/route' not in (stored['metadata'].get('annotations') or {})
    assert stored['metadata']['labels']['network.harvesterhci.io/type'] == 'UntaggedNetwork'
    for _unused in range(2):
        rvs = api_rvs(cluster)
        result, log = call(cluster, vlan_network_handler, NET, name='net', namespace=namespace, cluster_network=cn,
                           network_type='untagged')
        assert not result['changed'] and api_rvs(cluster) == rvs


def test_item9_trunk_and_overlay_networks_are_read_and_never_pruned(cluster, harvester, namespace):
    cn = new_cluster_network(cluster, harvester)
    trunk = {'cniVersion': '0.3.1', 'name': 'trunk', 'type': 'bridge', 'bridge': cn + '-br', 'promiscMode': True,
             'vlan': 0, 'vlanTrunk': [{'minID': 100, 'maxID': 102}, {'id': 300}], 'ipam': {}}
    status, body = cluster.request('POST', NADS % namespace, {
        'apiVersion': 'k8s.cni.cncf.io/v1', 'kind': 'NetworkAttachmentDefinition', 'metadata': {'name': 'trunk'},
        'spec': {'config': json.dumps(trunk)}})
    assert status == 201, body
    harvester.settle()
    # Harvester's controller labels it as a trunk network
    assert read(cluster, nad_path(namespace, 'trunk'))['metadata']['labels']['network.harvesterhci.io/type'] == \
        'L2VlanTrunkNetwork'
    result, _unused = call(cluster, vlan_network_info_handler, INFO, namespace=namespace)
    facts = dict((n['name'], n) for n in result['networks'])
    assert (facts['trunk']['network_type'], facts['trunk']['vlan_id'], facts['trunk']['vlan_trunk']) == \
        ('trunk', None, [{'min_id': 100, 'max_id': 102}, {'min_id': 300, 'max_id': 300}])
    result, _unused = call(cluster, vlan_network_handler, NET, namespace=namespace, cluster_network=cn, prune=True,
                           networks=[{'name': 'v100', 'vlan_id': 100}])
    assert [c['action'] for c in result['changes']] == ['create']
    assert read(cluster, nad_path(namespace, 'trunk')) is not None
    # no DHCP server on a trunk network (its VM ports carry tagged frames only)
    with pytest.raises(ValidationError) as info:
        call(cluster, vlan_dhcp_handler, DHCP, namespace=namespace, network='trunk', cidr='10.9.0.0/24',
             pool_start='10.9.0.100', pool_end='10.9.0.199')
    assert info.value.field == 'network' and 'VLAN trunk network (VLANs 100-102, 300-300)' in str(info.value)
