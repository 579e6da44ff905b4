"""Trunk networks (vlan_network network_type=trunk) and readiness (wait/wait_timeout of vlan_config and vlan_network)
against the real kube-apiserver, issue 14 items 3 and 4.

The Harvester stand-in plays the manager, the webhook and, for readiness, every node's network agent
(testbeds/cluster/harvester_agent.py: one VlanStatus per VlanConfig and matched node, as upstream writes it; per-node
faults for what the bed cannot do: a slow, down or failing agent). The witness is the API server: GETs and LISTs over
the bed's own REST client, and resourceVersions (``api_rvs``), never the module's own result alone.
"""

import json
import secrets

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import (
    ValidationError, WaitTimeout, WebhookRefusal)
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import (
    cluster_network_handler, vlan_config_handler, vlan_network_handler, vlan_network_info_handler)

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import Cluster

from testbeds.cluster.handlers import AUTH_DEFAULTS, ModuleStandIn, call, read, run_playbook, writes

NET = dict(name=None, namespace='default', cluster_network=None, network_type='vlan', vlan_id=None, vlan_trunk=None,
           mtu=None, route=None, description=None, networks=None, prune=False, allow_duplicate_vids=False,
           state='present', preserve_default_vlan=None, wait=False, wait_timeout=300)
INFO = dict(name=None, namespace=None, cluster_network=None)
CN = dict(name=None, description=None, enable=None, default_physical_nic=None, node_nics=None, state='present')
VC = dict(name=None, cluster_network=None, description=None, nics=['eth1'], bond_mode='active-backup', miimon=None,
          mtu=None, tx_queue_len=None, hardware_addr=None, node_selector=None, state='present', wait=False,
          wait_timeout=300)
HN = '/apis/network.harvesterhci.io/v1beta1'
NADS = '/apis/k8s.cni.cncf.io/v1/namespaces/%s/network-attachment-definitions'
NO_ETH9 = 'get link eth9 failed, error: Link not found'  # upstream's setup error (harvester_agent.py)
TRUNK = [{'min_id': 100, 'max_id': 199}, {'min_id': 300, 'max_id': None}]


def nad_path(namespace, name):
    return (NADS % namespace) + '/' + name


def statuses(server, vlan_config):
    """The VlanStatus objects of a VlanConfig, {node: object}, from a LIST over the bed's REST client."""
    body = read(server, HN + '/vlanstatuses?labelSelector=network.harvesterhci.io%2Fvlanconfig%3D' + vlan_config)
    return dict((vs['status']['node'], vs) for vs in body['items'])


def ready_of(vs):
    cond = vs['status']['conditions'][0]
    return cond['type'], cond['status'], cond.get('message')


@pytest.fixture
def site(cluster, harvester):
    """A cluster network and two nodes only its VlanConfigs select (a label of their own); the agents' faults
    cleared afterwards."""
    tag = secrets.token_hex(3)
    cn = 'tr' + tag
    nodes = ['%s-n1' % cn, '%s-n2' % cn]
    for node in nodes:
        status, body = cluster.request('POST', '/api/v1/nodes', {'apiVersion': 'v1', 'kind': 'Node', 'metadata': {
            'name': node, 'labels': {'trunk-test': tag}}})
        assert status == 201, body
    call(cluster, cluster_network_handler, CN, name=cn)
    yield {'cn': cn, 'nodes': nodes, 'selector': {'trunk-test': tag}}
    harvester.controller.agent.reset()
    harvester.settle()
    for node in nodes:
        cluster.request('DELETE', '/api/v1/nodes/' + node)


def call_warned(server, handler, defaults, check=False, **params):
    """As ``call``, and the warnings the module gave: (result, log, warnings)."""
    full = dict(AUTH_DEFAULTS, kubeconfig=server.kubeconfig)
    full.update(defaults)
    full.update(params)
    cluster, module = Cluster(full, check_mode=check), ModuleStandIn(check)
    result = handler(full, cluster, module)
    return result, cluster.transport.log, module.warnings


def polls(log, path):
    return len([entry for entry in log if entry[0] == 'GET' and entry[1].split('?')[0] == path])


# ---- item 4: vlan_config wait ---------------------------------------------------------------------------------
def test_vlan_config_waits_for_a_late_agent_reports_nodes_and_is_idempotent(cluster, harvester, site, api_rvs):
    cn, (n1, n2) = site['cn'], site['nodes']
    harvester.controller.agent.faults[n2] = ('delay', 3)
    params = dict(name=cn + '-up', cluster_network=cn, node_selector=site['selector'])

    # check mode: no wait (a warning says so), the matched nodes of the dry run, nothing stored
    rvs = api_rvs(cluster)
    result, log, warnings = call_warned(cluster, vlan_config_handler, VC, check=True, wait=True, **params)
    assert result['changed'] and api_rvs(cluster) == rvs and polls(log, HN + '/vlanconfigs/' + cn + '-up') == 0
    assert [w for w in warnings if w.startswith('wait: check mode does not wait')]
    assert result['vlan_config']['matched_nodes'] == [n1, n2]
    assert [s['state'] for s in result['vlan_config']['nodes']] == ['pending', 'pending']

    result, log = call(cluster, vlan_config_handler, VC, wait=True, wait_timeout=60, **params)
    assert result['changed']
    # it waited: several rounds of GET + LIST until n2's agent, 3 s late, reported
    assert polls(log, HN + '/vlanconfigs/' + cn + '-up') >= 2
    assert result['vlan_config']['matched_nodes'] == [n1, n2]
    assert result['vlan_config']['nodes'] == [{'node': n1, 'state': 'ready', 'message': ''},
                                              {'node': n2, 'state': 'ready', 'message': ''}]
    # the witness: the VlanStatus objects the agents wrote, as upstream names and labels them
    found = statuses(cluster, cn + '-up')
    assert sorted(found) == [n1, n2] and all(ready_of(vs) == ('ready', 'True', None) for vs in found.values())
    assert found[n1]['metadata']['labels'] == {'network.harvesterhci.io/clusternetwork': cn,
                                               'network.harvesterhci.io/vlanconfig': cn + '-up',
                                               'network.harvesterhci.io/node': n1}
    # ... and the manager made the cluster network ready from them
    assert read(cluster, HN + '/clusternetworks/' + cn)['status']['conditions'][0]['status'] == 'True'

    # re-run: nothing written, nothing to wait for
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_config_handler, VC, wait=True, wait_timeout=60, **params)
    assert not result['changed'] and not writes(log) and api_rvs(cluster) == rvs
    assert [s['state'] for s in result['vlan_config']['nodes']] == ['ready', 'ready']

    # absent + wait: the VlanConfig and its statuses are gone when the task returns
    result, log = call(cluster, vlan_config_handler, VC, state='absent', wait=True, wait_timeout=60, **params)
    assert result['changed'] and read(cluster, HN + '/vlanconfigs/' + cn + '-up') is None
    assert statuses(cluster, cn + '-up') == {}


def test_vlan_config_wait_times_out_naming_the_node_whose_agent_never_reports(cluster, harvester, site):
    cn, (n1, n2) = site['cn'], site['nodes']
    harvester.controller.agent.faults[n2] = ('down',)
    with pytest.raises(WaitTimeout) as info:
        call(cluster, vlan_config_handler, VC, name=cn + '-up', cluster_network=cn, node_selector=site['selector'],
             wait=True, wait_timeout=2)
    message = str(info.value)
    assert info.value.field == 'wait_timeout' and 'timed out after 2s' in message
    assert '%s (pending: no VlanStatus yet' % n2 in message and n1 + ' (' not in message
    assert info.value.details['changed'] is True and info.value.details['matched_nodes'] == [n1, n2]
    # the write happened; only n1 reported
    assert read(cluster, HN + '/vlanconfigs/' + cn + '-up') is not None
    assert sorted(statuses(cluster, cn + '-up')) == [n1]

    # the agent comes back and retries: the next run writes nothing and returns once it reported
    harvester.controller.agent.faults.clear()
    harvester.controller.requeue_vlan_config(cn + '-up')
    result, log = call(cluster, vlan_config_handler, VC, name=cn + '-up', cluster_network=cn,
                       node_selector=site['selector'], wait=True, wait_timeout=60)
    assert not result['changed'] and not writes(log)
    assert [s['state'] for s in result['vlan_config']['nodes']] == ['ready', 'ready']


def test_vlan_config_wait_fails_at_once_with_the_agents_error(cluster, harvester, site):
    cn, (n1, n2) = site['cn'], site['nodes']
    error = 'set up VLAN failed, vlanconfig: %s-up, node: %s, error: link eth1 not found' % (cn, n1)
    harvester.controller.agent.faults[n1] = ('fail', error)
    with pytest.raises(WaitTimeout) as info:
        call(cluster, vlan_config_handler, VC, name=cn + '-up', cluster_network=cn, node_selector=site['selector'],
             wait=True, wait_timeout=120)
    assert info.value.field == 'wait' and '%s (failed: %s)' % (n1, error) in str(info.value)
    assert info.value.details['nodes'][0] == {'node': n1, 'state': 'failed', 'message': error}
    # the witness: the status upstream's agent writes on a setup error
    assert ready_of(statuses(cluster, cn + '-up')[n1]) == ('ready', 'False', error)
    # Harvester's manager counts any VlanStatus: the cluster network reads ready even so
    assert read(cluster, HN + '/clusternetworks/' + cn)['status']['conditions'][0]['status'] == 'True'


# ---- item 4: vlan_network wait --------------------------------------------------------------------------------
def test_vlan_network_waits_for_the_ready_label(cluster, harvester, site, namespace):
    cn = site['cn']
    for node in site['nodes']:
        harvester.controller.agent.faults[node] = ('down',)
    call(cluster, vlan_config_handler, VC, name=cn + '-up', cluster_network=cn, node_selector=site['selector'])
    harvester.settle()
    args = dict(namespace=namespace, cluster_network=cn, networks=[
        {'name': 'v10', 'vlan_id': 10, 'namespace': None, 'network_type': None, 'vlan_trunk': None, 'mtu': None,
         'route': None, 'description': None, 'preserve_default_vlan': None},
        {'name': 'tr', 'network_type': 'trunk', 'vlan_trunk': TRUNK, 'namespace': None, 'vlan_id': None,
         'mtu': None, 'route': None, 'description': None, 'preserve_default_vlan': None}])
    with pytest.raises(WaitTimeout) as info:
        call(cluster, vlan_network_handler, NET, wait=True, wait_timeout=2, **args)
    assert info.value.field == 'wait_timeout' and info.value.details['changed'] is True
    assert '%s/v10 (ready label ' % namespace in str(info.value) and '%s/tr (ready label ' % namespace in str(info.value)
    harvester.settle()
    assert read(cluster, nad_path(namespace, 'tr'))['metadata']['labels']['network.harvesterhci.io/ready'] == 'false'

    # the agents report: the manager makes the cluster network ready and labels its networks; the wait returns
    harvester.controller.agent.faults.clear()
    harvester.controller.requeue_vlan_config(cn + '-up')
    result, log = call(cluster, vlan_network_handler, NET, wait=True, wait_timeout=60, **args)
    assert not result['changed'] and not writes(log)
    assert [n['ready'] for n in result['networks']] == ['true', 'true']
    assert read(cluster, nad_path(namespace, 'tr'))['metadata']['labels']['network.harvesterhci.io/ready'] == 'true'


# ---- item 3: trunk networks -----------------------------------------------------------------------------------
def test_trunk_network_lifecycle(cluster, harvester, site, namespace, api_rvs):
    cn = site['cn']
    call(cluster, vlan_config_handler, VC, name=cn + '-up', cluster_network=cn, node_selector=site['selector'],
         mtu=9000)
    harvester.settle()
    args = dict(name='trunk', namespace=namespace, cluster_network=cn, network_type='trunk')

    rvs = api_rvs(cluster)
    result, _unused = call(cluster, vlan_network_handler, NET, check=True, vlan_trunk=TRUNK, **args)
    assert result['changed'] and api_rvs(cluster) == rvs and read(cluster, nad_path(namespace, 'trunk')) is None
    predicted = result['diff']['after']

    result, _unused = call(cluster, vlan_network_handler, NET, vlan_trunk=TRUNK, **args)
    assert result['changed']
    harvester.settle()
    stored = read(cluster, nad_path(namespace, 'trunk'))
    # the CNI config Harvester builds for a trunk network, and the labels its manager derives from it
    assert json.loads(stored['spec']['config']) == {
        'cniVersion': '0.3.1', 'name': 'trunk', 'mtu': 9000, 'type': 'bridge', 'bridge': cn + '-br',
        'promiscMode': True, 'vlan': 0, 'ipam': {}, 'vlanTrunk': [{'minID': 100, 'maxID': 199}, {'id': 300}]}
    assert stored['metadata']['labels'] == {'network.harvesterhci.io/type': 'L2VlanTrunkNetwork',
                                            'network.harvesterhci.io/clusternetwork': cn,
                                            'network.harvesterhci.io/ready': 'true'}
    assert predicted['spec'] == stored['spec']
    # the cluster network's VID set (what the agents trunk on the uplink) has every VID of the ranges
    vid_set = read(cluster, HN + '/clusternetworks/' + cn)['metadata']['annotations'][
        'network.harvesterhci.io/vlan-id-set-str']
    assert vid_set == ','.join(str(v) for v in list(range(100, 200)) + [300])
    # read back as the same ranges, fit to feed back
    info, _unused = call(cluster, vlan_network_info_handler, INFO, namespace=namespace, name='trunk')
    assert (info['networks'][0]['network_type'], info['networks'][0]['vlan_id'], info['networks'][0]['vlan_trunk']) \
        == ('trunk', None, [{'min_id': 100, 'max_id': 199}, {'min_id': 300, 'max_id': 300}])
    fed_back = info['networks'][0]['vlan_trunk']

    # re-run, also with the ranges read back: nothing written
    for trunk in (TRUNK, fed_back):
        rvs = api_rvs(cluster)
        result, log = call(cluster, vlan_network_handler, NET, vlan_trunk=trunk, **args)
        assert not result['changed'] and not writes(log) and api_rvs(cluster) == rvs

    # a change: check mode's diff is what the real run stores
    wider = [{'min_id': 1, 'max_id': None}, {'min_id': 100, 'max_id': 250}]
    result, _unused = call(cluster, vlan_network_handler, NET, check=True, vlan_trunk=wider, **args)
    predicted = result['diff']['after']
    result, _unused = call(cluster, vlan_network_handler, NET, vlan_trunk=wider, **args)
    assert result['changed'] and result['changes'][0]['fields'] and \
        all(f.startswith('spec.config.vlanTrunk[') for f in result['changes'][0]['fields'])
    stored = read(cluster, nad_path(namespace, 'trunk'))
    assert predicted['spec'] == stored['spec']
    assert json.loads(stored['spec']['config'])['vlanTrunk'] == [{'id': 1}, {'minID': 100, 'maxID': 250}]

    # a trunk network becomes a VLAN network and back (the webhook allows it: same CNI type and bridge)
    result, _unused = call(cluster, vlan_network_handler, NET, name='trunk', namespace=namespace, cluster_network=cn,
                           vlan_id=42)
    harvester.settle()
    stored = read(cluster, nad_path(namespace, 'trunk'))
    assert 'vlanTrunk' not in json.loads(stored['spec']['config'])
    assert stored['metadata']['labels']['network.harvesterhci.io/type'] == 'L2VlanNetwork'
    result, _unused = call(cluster, vlan_network_handler, NET, vlan_trunk=TRUNK, **args)
    harvester.settle()
    assert read(cluster, nad_path(namespace, 'trunk'))['metadata']['labels']['network.harvesterhci.io/type'] == \
        'L2VlanTrunkNetwork'

    # prune leaves trunk networks alone; state=absent deletes it by name
    result, _unused = call(cluster, vlan_network_handler, NET, namespace=namespace, cluster_network=cn, prune=True,
                           networks=[{'name': 'v7', 'vlan_id': 7}])
    assert [c['action'] for c in result['changes']] == ['create']
    result, _unused = call(cluster, vlan_network_handler, NET, state='absent', **args)
    assert result['changed'] and result['changes'][0]['action'] == 'delete'
    harvester.settle()
    assert read(cluster, nad_path(namespace, 'trunk')) is None


BAD_TRUNKS = [
    # (params, fields the error names, words of the message)
    (dict(vlan_trunk=[{'min_id': 0, 'max_id': 10}]), ['vlan_trunk[0].min_id'], 'out of range: give 1-4094'),
    (dict(vlan_trunk=[{'min_id': 4000, 'max_id': 4095}]), ['vlan_trunk[0].max_id'], 'out of range'),
    (dict(vlan_trunk=[{'min_id': 20, 'max_id': 10}]), ['vlan_trunk[0]'], 'min_id 20 is greater than max_id 10'),
    (dict(vlan_trunk=[{'min_id': 10, 'max_id': 20}, {'min_id': 15, 'max_id': None}]), ['vlan_trunk'], 'overlap'),
    (dict(vlan_trunk=[]), ['vlan_trunk'], 'at least one VLAN range'),
    (dict(vlan_trunk=None), ['vlan_trunk'], 'at least one VLAN range'),
    (dict(vlan_trunk=TRUNK, vlan_id=5), ['vlan_id'], 'drop vlan_id'),
    (dict(vlan_trunk=TRUNK, route={'mode': 'manual', 'cidr': '10.0.0.0/24', 'gateway': '10.0.0.1',
                                   'dhcp_server': None}), ['route'], 'carries no route'),
    (dict(vlan_trunk=TRUNK, preserve_default_vlan=False), ['preserve_default_vlan'], 'network_type=vlan'),
    (dict(network_type='vlan', vlan_id=5, vlan_trunk=TRUNK), ['vlan_trunk'], 'for trunk networks only'),
    (dict(network_type='overlay'), ['network_type'], 'read-only in this collection'),
]


@pytest.mark.parametrize('bad,fields,words', BAD_TRUNKS)
def test_bad_trunk_inputs_name_the_field_and_change_nothing(cluster, site, namespace, api_rvs, bad, fields, words):
    params = dict(dict(name='bad', namespace=namespace, cluster_network=site['cn'], network_type='trunk'), **bad)
    rvs = api_rvs(cluster)
    for check in (True, False):
        with pytest.raises(ValidationError) as info:
            call(cluster, vlan_network_handler, NET, check=check, **params)
        assert info.value.fields == fields and words in str(info.value)
    assert api_rvs(cluster) == rvs


def test_trunk_rules_match_the_webhook(cluster, site, namespace):
    """The VID rules the module checks are the webhook's (the stand-in's, from pkg/utils/nad.go): the edges pass
    there too, an ID out of range is refused there as well."""
    cn = site['cn']
    edges = [{'min_id': 1, 'max_id': None}, {'min_id': 4094, 'max_id': None}]
    result, _unused = call(cluster, vlan_network_handler, NET, name='edges', namespace=namespace, cluster_network=cn,
                           network_type='trunk', vlan_trunk=edges)
    assert result['changed'] and read(cluster, nad_path(namespace, 'edges')) is not None
    config = {'cniVersion': '0.3.1', 'name': 'raw', 'mtu': 1500, 'type': 'bridge', 'bridge': cn + '-br',
              'promiscMode': True, 'vlan': 0, 'ipam': {}, 'vlanTrunk': [{'id': 4095}]}
    status, body = cluster.request('POST', NADS % namespace, {
        'apiVersion': 'k8s.cni.cncf.io/v1', 'kind': 'NetworkAttachmentDefinition', 'metadata': {'name': 'raw'},
        'spec': {'config': json.dumps(config)}})
    assert status >= 400 and 'incorrect trunk id parameter 4095' in body['message']


def test_vlan_network_wait_on_the_legacy_api_warns_and_does_not_poll(legacy_cluster, legacy_namespace):
    result, log, warnings = call_warned(legacy_cluster, vlan_network_handler, NET, name='v10', namespace=legacy_namespace,
                                        vlan_id=10, wait=True, wait_timeout=1)
    assert result['changed'] and result['networks'][0]['vlan_id'] == 10
    assert warnings == ['wait: Harvester v0.3/v1.0 labels no network ready; there is nothing to wait for']
    assert len([e for e in log if e[0] == 'GET' and 'network-attachment-definitions' in e[1]]) == 1  # the one LIST


def test_trunk_is_refused_on_the_legacy_api(legacy_cluster, legacy_namespace, api_rvs):
    rvs = api_rvs(legacy_cluster)
    with pytest.raises(ValidationError) as info:
        call(legacy_cluster, vlan_network_handler, NET, name='t', namespace=legacy_namespace, network_type='trunk',
             vlan_trunk=TRUNK)
    assert info.value.field == 'network_type' and 'v0.3/v1.0' in str(info.value)
    assert api_rvs(legacy_cluster) == rvs


def test_trunk_mtu_is_checked_before_any_write(cluster, site, namespace):
    """A trunk network with another MTU than its cluster network's: refused by the module before any write (the
    webhook's rule), not by the webhook."""
    with pytest.raises(ValidationError) as info:
        call(cluster, vlan_network_handler, NET, name='m', namespace=namespace, cluster_network=site['cn'],
             network_type='trunk', vlan_trunk=TRUNK, mtu=1400)
    assert info.value.field == 'mtu' and not isinstance(info.value, WebhookRefusal)


PLAYBOOK = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: The uplink on both nodes, waited for (the agent of NODE2 reports 2 s late)
      harvester.network.vlan_config:
        name: CN-up
        cluster_network: CN
        nics: [eth1]
        node_selector: {trunk-test: TAG}
        wait: true
        wait_timeout: 60
      register: uplink
    - name: A trunk network on it, waited for
      harvester.network.vlan_network:
        name: trunk
        namespace: NS
        cluster_network: CN
        network_type: trunk
        vlan_trunk: [{min_id: 100, max_id: 199}, {min_id: 300}]
        wait: true
      register: trunk
    - name: The module's own report, through AnsibleModule
      ansible.builtin.assert:
        that:
          - uplink is changed
          - uplink.vlan_config.matched_nodes == ['NODE1', 'NODE2']
          - uplink.vlan_config.nodes | map(attribute='state') | list == ['ready', 'ready']
          - trunk is changed
          - trunk.networks[0].network_type == 'trunk'
          - "trunk.networks[0].vlan_trunk == [{'min_id': 100, 'max_id': 199}, {'min_id': 300, 'max_id': 300}]"
          - trunk.networks[0].ready == 'true'
    - name: A second cluster network
      harvester.network.cluster_network:
        name: CN2
    - name: Its uplink eth9, which NODE1 lacks, so the agent there fails
      harvester.network.vlan_config:
        name: CN2-up
        cluster_network: CN2
        nics: [eth9]
        node_selector: {trunk-test: TAG}
        wait: true
      register: failed
      ignore_errors: true
    - name: The failure names the node and the agent's message, and still says what was written
      ansible.builtin.assert:
        that:
          - failed is failed
          - failed.field == 'wait'
          - "'NODE1 (failed: get link eth9 failed, error: Link not found)' in failed.msg"
          - failed.changed
          - "failed.nodes[0] == {'node': 'NODE1', 'state': 'failed', 'message': 'get link eth9 failed, error: Link not found'}"
    - name: Bad ranges stop the task before any write, naming the field
      harvester.network.vlan_network:
        name: bad
        namespace: NS
        cluster_network: CN
        network_type: trunk
        vlan_trunk: [{min_id: 10, max_id: 20}, {min_id: 20, max_id: 30}]
      register: bad
      ignore_errors: true
    - name: The refusal
      ansible.builtin.assert:
        that:
          - bad is failed and bad is not changed
          - bad.field == 'networks[0].vlan_trunk' or bad.field == 'vlan_trunk'
          - "'overlap' in bad.msg"
'''


def test_playbook_trunk_wait_and_failures(cluster, harvester, site, namespace, tmp_path):
    """The real modules through ansible-playbook: the new options' argument specs, the results, and a failed wait's
    result (``changed``, ``nodes``) as Ansible reports it."""
    cn, (n1, n2) = site['cn'], site['nodes']
    harvester.controller.agent.faults[n2] = ('delay', 2)
    text = PLAYBOOK.replace('NODE1', n1).replace('NODE2', n2).replace('CN', cn).replace('NS', namespace).replace(
        'TAG', site['selector']['trunk-test'])
    harvester.controller.agent.nics[n1] = {'eth1'}  # n1 has no eth9: its agent fails once the uplink names it
    proc = run_playbook(cluster, tmp_path, text)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert 'ok=' in proc.stdout and 'failed=0' in proc.stdout
    # the witness: what the agents and the server hold afterwards
    assert ready_of(statuses(cluster, cn + '2-up')[n1]) == ('ready', 'False', NO_ETH9)
    assert ready_of(statuses(cluster, cn + '-up')[n1]) == ('ready', 'True', None)
    assert read(cluster, nad_path(namespace, 'bad')) is None
    assert json.loads(read(cluster, nad_path(namespace, 'trunk'))['spec']['config'])['vlanTrunk'] == \
        [{'minID': 100, 'maxID': 199}, {'id': 300}]
