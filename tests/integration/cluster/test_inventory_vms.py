"""The inventory plugin harvester.network.vms against a real kube-apiserver.

No KubeVirt runs in the bed: each test writes the VirtualMachines, the VirtualMachineInstances (status through
the status subresource, as virt-handler and the guest agent would) and the Services itself.  Most tests load the
inventory in this process through InventoryManager (what ansible-playbook does); a few run ``ansible-inventory``.
API calls are counted by the server itself (``apiserver_request_total`` on /metrics), not by the plugin.
"""

import collections
import importlib
import json
import os
import re
import subprocess
import sys
import time

import pytest
import yaml

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.inventory.data import InventoryData
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, inventory_loader

from testbeds.cluster.fixtures import unique_name
from testbeds.collection import collections_root

ANSIBLE_INVENTORY = os.path.join(os.path.dirname(sys.executable), 'ansible-inventory')
VM_NAME_LABEL = 'harvesterhci.io/vmName'
MERGE = {'Content-Type': 'application/merge-patch+json'}


# ---- writing what KubeVirt and Harvester would ---------------------------------------------------------------
def ok(answer, *codes):
    status, body = answer
    assert status in codes, 'HTTP %s: %s' % (status, body)
    return body


def put_vm(server, namespace, name, nics, labels=None, run_strategy='Always', printable_status=None):
    """``nics``: list of (nic name, network) with network None for the management (pod) network."""
    interfaces, networks = [], []
    for nic, network in nics:
        interfaces.append({'name': nic, 'model': 'virtio', ('masquerade' if network is None else 'bridge'): {}})
        networks.append({'name': nic, 'pod': {}} if network is None else {'name': nic, 'multus': {'networkName': network}})
    body = {
        'apiVersion': 'kubevirt.io/v1', 'kind': 'VirtualMachine',
        'metadata': {'name': name, 'namespace': namespace, 'labels': labels or {}},
        'spec': {'runStrategy': run_strategy, 'template': {
            'metadata': {'labels': {VM_NAME_LABEL: name}},
            'spec': {'domain': {'devices': {'interfaces': interfaces}}, 'networks': networks}}},
    }
    path = '/apis/kubevirt.io/v1/namespaces/%s/virtualmachines' % namespace
    ok(server.request('POST', path, body), 201)
    if printable_status:
        ok(server.request('PATCH', '%s/%s/status' % (path, name),
                          {'status': {'printableStatus': printable_status, 'ready': printable_status == 'Running'}},
                          headers=MERGE), 200)


def put_vmi(server, namespace, name, phase='Running', node='node1', interfaces=()):
    """``interfaces``: VMI status.interfaces entries (name, mac, ipAddress, ipAddresses, interfaceName)."""
    path = '/apis/kubevirt.io/v1/namespaces/%s/virtualmachineinstances' % namespace
    ok(server.request('POST', path, {
        'apiVersion': 'kubevirt.io/v1', 'kind': 'VirtualMachineInstance',
        'metadata': {'name': name, 'namespace': namespace, 'labels': {VM_NAME_LABEL: name}},
        'spec': {'domain': {'devices': {}}}}), 201)
    status = {'phase': phase, 'nodeName': node, 'interfaces': list(interfaces),
              'conditions': [{'type': 'Ready', 'status': 'True' if phase == 'Running' else 'False'}]}
    ok(server.request('PATCH', '%s/%s/status' % (path, name), {'status': status}, headers=MERGE), 200)


def put_service(server, namespace, name, vm, ports=((22, 22),), service_type='ClusterIP', ingress_ip=None):
    path = '/api/v1/namespaces/%s/services' % namespace
    body = ok(server.request('POST', path, {
        'apiVersion': 'v1', 'kind': 'Service',
        'metadata': {'name': name, 'namespace': namespace, 'labels': {VM_NAME_LABEL: vm}},
        'spec': {'type': service_type, 'selector': {VM_NAME_LABEL: vm},
                 'ports': [{'name': 'p%d' % port, 'port': port, 'targetPort': target, 'protocol': 'TCP'}
                           for port, target in ports]}}), 201)
    if ingress_ip:
        ok(server.request('PATCH', '%s/%s/status' % (path, name),
                          {'status': {'loadBalancer': {'ingress': [{'ip': ingress_ip}]}}}, headers=MERGE), 200)
    return body['spec']['clusterIP']


def nic_status(name, mac, ips=(), guest_interface=None):
    entry = {'name': name, 'mac': mac, 'infoSource': 'domain, guest-agent'}
    if ips:
        entry['ipAddress'] = ips[0]
        entry['ipAddresses'] = list(ips)
    if guest_interface:
        entry['interfaceName'] = guest_interface
    return entry


# ---- counting what the server was asked ----------------------------------------------------------------------
_METRIC = re.compile(r'^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$')


def request_counts(server):
    """{(verb, resource, scope): count} of every resource request the API server has answered so far."""
    status, text = server.request('GET', '/metrics', timeout=30)
    assert status == 200, text
    counts = collections.Counter()
    for line in text.splitlines():
        match = _METRIC.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            counts[(labels.get('verb'), labels.get('resource'), labels.get('scope'))] += int(float(match.group(2)))
    return counts


VM_KINDS = ('virtualmachines', 'virtualmachineinstances', 'services')


def settled_counts(server, timeout=10.0):
    """``request_counts`` once two readings agree on VMs, VMIs and Services (the server counts a request just
    after answering it)."""
    def ours(counts):
        return dict((key, value) for key, value in counts.items() if key[1] in VM_KINDS)
    deadline = time.monotonic() + timeout
    last = request_counts(server)
    while True:
        time.sleep(0.3)
        current = request_counts(server)
        if ours(current) == ours(last) or time.monotonic() > deadline:
            return current
        last = current


def vm_requests_since(server, before):
    """Requests on VMs, VMIs and Services since ``before`` (a ``settled_counts`` reading).

    The server's counters hold every client's requests, its own informers included: the API server watches all
    Services itself (its Service IP and node port repair loops) and, when such a watch ends, relists them: a
    cluster-wide WATCH and LIST of services that no plugin made (seen under load in this test). The inventory plugin
    never watches, so a cluster-wide LIST is left out only when a cluster-wide WATCH of the same resource came with it
    in the same window; any other request counts."""
    after = settled_counts(server)
    delta = dict((key, after[key] - before[key]) for key in after if key[1] in VM_KINDS and after[key] != before[key])
    rewatched = set(resource for (verb, resource, scope) in delta if verb == 'WATCH' and scope == 'cluster')
    return dict((key, value) for key, value in delta.items()
                if not (key[2] == 'cluster' and key[1] in rewatched and key[0] in ('WATCH', 'LIST')))


# ---- loading the inventory -----------------------------------------------------------------------------------

def install_collection_loader():
    """What ansible-test's pytest plugin does before collecting tests: route ``ansible_collections`` imports through
    Ansible's collection finder, so plugins load with their collection's metadata.  Test modules collected earlier
    may have imported the collection as plain namespace packages: those package modules (no ``__file__``) are
    re-imported through the finder; real modules stay, so classes keep their identity."""
    init_plugin_loader([collections_root()])
    root = sys.modules.get('ansible_collections')
    if root is not None and type(getattr(root, '__loader__', None)).__name__ != '_AnsibleCollectionRootPkgLoader':
        for name in [n for n, m in sys.modules.items() if n.split('.')[0] == 'ansible_collections'
                     and getattr(m, '__file__', None) is None]:
            del sys.modules[name]
        importlib.import_module('ansible_collections.harvester.network')


@pytest.fixture(scope='module', autouse=True)
def collection_loader():
    install_collection_loader()


@pytest.fixture(autouse=True)
def unparsed_is_fatal(monkeypatch):
    """ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=true for this process: a source that fails to parse raises."""
    monkeypatch.setattr(C, 'INVENTORY_ANY_UNPARSED_IS_FAILED', True)


def write_config(tmp_path, config, name='lab.harvester.yml'):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(dict({'plugin': 'harvester.network.vms'}, **config), sort_keys=False))
    return str(path)


def load(path, cache=True):
    """Parse ``path`` like ansible-playbook does (InventoryManager); a source that fails to parse raises."""
    return InventoryManager(loader=DataLoader(), sources=[path], cache=cache)


def failure(path):
    """The error the plugin raises for ``path`` (InventoryManager would only log it): its Python API, called directly."""
    plugin = inventory_loader.get('harvester.network.vms')
    with pytest.raises(AnsibleError) as info:
        plugin.parse(InventoryData(), DataLoader(), path, cache=False)
    return str(info.value)


def host_vars(inventory, name):
    return inventory.get_host(name).get_vars()


def group_members(inventory, group):
    found = inventory.groups.get(group)
    return sorted(h.name for h in found.get_hosts()) if found else None


def safe(text):
    return re.sub(r'[^A-Za-z0-9_]', '_', text)


# ---- a small fleet ---------------------------------------------------------------------------------------------
@pytest.fixture
def fleet(cluster, namespace):
    """web1: management + VLAN NIC, both with IPs; db1: three NICs (one on another namespace's VLAN network),
    guest-agent IPs with an IPv6 link-local first; new1: running, no IP yet; off1: stopped, no instance."""
    vlan = '%s/vlan100' % namespace
    put_vm(cluster, namespace, 'web1', [('default', None), ('nic-1', vlan)], labels={'app': 'web', 'tier': 'front'},
           printable_status='Running')
    put_vmi(cluster, namespace, 'web1', node='node1', interfaces=[
        nic_status('default', '52:54:00:00:01:01', ['10.52.0.11'], 'enp1s0'),
        nic_status('nic-1', '52:54:00:00:01:02', ['192.168.100.11'], 'enp2s0')])
    put_vm(cluster, namespace, 'db1', [('default', None), ('nic-1', 'vlan100'), ('nic-2', 'storage/vlan200')],
           labels={'app': 'db'}, printable_status='Running')
    put_vmi(cluster, namespace, 'db1', node='node2', interfaces=[
        nic_status('default', '52:54:00:00:02:01', ['10.52.0.12']),
        nic_status('nic-1', '52:54:00:00:02:02', ['fe80::5054:ff:fe00:202', '192.168.100.12', '2001:db8::12']),
        nic_status('nic-2', '52:54:00:00:02:03', ['192.168.200.12/24'])])
    put_vm(cluster, namespace, 'new1', [('default', None), ('nic-1', vlan)], labels={'app': 'web'},
           printable_status='Starting')
    put_vmi(cluster, namespace, 'new1', phase='Scheduled', node='node1', interfaces=[])
    put_vm(cluster, namespace, 'off1', [('default', None)], run_strategy='Halted', printable_status='Stopped')
    return namespace


# ---- tests ---------------------------------------------------------------------------------------------------------
def test_hosts_vars_and_groups(cluster, fleet, tmp_path):
    ns = fleet
    inventory = load(write_config(tmp_path, {'kubeconfig': cluster.kubeconfig, 'namespaces': [ns]}))
    names = sorted(h.name for h in inventory.get_hosts())
    assert names == sorted('%s/%s' % (ns, vm) for vm in ('web1', 'db1', 'new1', 'off1'))

    web = host_vars(inventory, '%s/web1' % ns)
    assert web['ansible_host'] == '10.52.0.11'  # management network by default
    assert web['harvester_address_source'] == 'network'
    assert (web['harvester_vm_name'], web['harvester_namespace'], web['harvester_node']) == ('web1', ns, 'node1')
    assert (web['harvester_phase'], web['harvester_printable_status'], web['harvester_ready']) == ('Running', 'Running', True)
    assert web['harvester_labels'] == {'app': 'web', 'tier': 'front'}
    assert web['harvester_networks'] == ['%s/vlan100' % ns]
    assert web['harvester_interfaces'] == [
        {'name': 'default', 'network': None, 'management': True, 'mac': '52:54:00:00:01:01', 'ips': ['10.52.0.11'],
         'guest_interface': 'enp1s0'},
        {'name': 'nic-1', 'network': '%s/vlan100' % ns, 'management': False, 'mac': '52:54:00:00:01:02',
         'ips': ['192.168.100.11'], 'guest_interface': 'enp2s0'}]

    db = host_vars(inventory, '%s/db1' % ns)
    assert db['harvester_node'] == 'node2'
    # a bare NAD name is the VM's own namespace; link-local IPv6 and prefix lengths are dropped
    assert [(n['name'], n['network'], n['ips']) for n in db['harvester_interfaces']] == [
        ('default', None, ['10.52.0.12']),
        ('nic-1', '%s/vlan100' % ns, ['192.168.100.12', '2001:db8::12']),
        ('nic-2', 'storage/vlan200', ['192.168.200.12'])]

    new = host_vars(inventory, '%s/new1' % ns)  # running, but no IP reported yet: host kept, no address
    assert new.get('ansible_host') is None, new
    assert new['harvester_address_source'] is None
    assert (new['harvester_phase'], new['harvester_printable_status']) == ('Scheduled', 'Starting')
    assert [n['ips'] for n in new['harvester_interfaces']] == [[], []]
    off = host_vars(inventory, '%s/off1' % ns)
    assert 'ansible_host' not in off
    assert (off['harvester_phase'], off['harvester_node'], off['harvester_run_strategy']) == ('Stopped', None, 'Halted')

    assert group_members(inventory, 'harvester_namespace_%s' % safe(ns)) == names
    assert group_members(inventory, 'harvester_network_%s_vlan100' % safe(ns)) == sorted(
        '%s/%s' % (ns, vm) for vm in ('web1', 'db1', 'new1'))
    assert group_members(inventory, 'harvester_network_storage_vlan200') == ['%s/db1' % ns]
    assert group_members(inventory, 'harvester_label_app_web') == ['%s/new1' % ns, '%s/web1' % ns]
    assert group_members(inventory, 'harvester_label_tier_front') == ['%s/web1' % ns]
    assert group_members(inventory, 'harvester_no_address') == ['%s/new1' % ns, '%s/off1' % ns]


def test_network_option_picks_the_vlan_address(cluster, fleet, tmp_path):
    ns = fleet
    inventory = load(write_config(tmp_path, {'kubeconfig': cluster.kubeconfig, 'namespaces': [ns],
                                             'network': ['storage/vlan200', 'vlan100']}))
    assert host_vars(inventory, '%s/db1' % ns)['ansible_host'] == '192.168.200.12'
    assert host_vars(inventory, '%s/web1' % ns)['ansible_host'] == '192.168.100.11'  # bare name: own namespace
    assert 'ansible_host' not in host_vars(inventory, '%s/new1' % ns)

    # a network the VM has no address on falls through to the next one
    inventory = load(write_config(tmp_path, {'kubeconfig': cluster.kubeconfig, 'namespaces': [ns],
                                             'network': ['%s/vlan999' % ns, 'management']}))
    assert host_vars(inventory, '%s/web1' % ns)['ansible_host'] == '10.52.0.11'


def test_management_service_gives_the_address_when_no_ip(cluster, fleet, tmp_path):
    ns = fleet
    cluster_ip = put_service(cluster, ns, 'new1-ssh', 'new1', ports=((80, 8080), (2222, 22)))
    put_service(cluster, ns, 'web1-lb', 'web1', service_type='LoadBalancer', ingress_ip='172.16.0.21')
    put_service(cluster, ns, 'off1-ssh', 'off1')
    put_service(cluster, ns, 'other', 'not-a-vm')
    inventory = load(write_config(tmp_path, {'kubeconfig': cluster.kubeconfig, 'namespaces': [ns]}))

    new = host_vars(inventory, '%s/new1' % ns)
    assert (new['ansible_host'], new['ansible_port']) == (cluster_ip, 2222)
    assert (new['harvester_address_source'], new['harvester_service']) == ('service', 'new1-ssh')
    web = host_vars(inventory, '%s/web1' % ns)  # the network address wins by default
    assert (web['ansible_host'], web['harvester_service']) == ('10.52.0.11', 'web1-lb')
    assert 'ansible_port' not in web
    off = host_vars(inventory, '%s/off1' % ns)  # no instance: a Service address would lead nowhere
    assert 'ansible_host' not in off and off['harvester_service'] == 'off1-ssh'
    assert group_members(inventory, 'harvester_no_address') == ['%s/off1' % ns]

    inventory = load(write_config(tmp_path, {'kubeconfig': cluster.kubeconfig, 'namespaces': [ns],
                                             'address_sources': ['service', 'network']}))
    web = host_vars(inventory, '%s/web1' % ns)
    assert (web['ansible_host'], web['harvester_address_source']) == ('172.16.0.21', 'service')
    assert host_vars(inventory, '%s/db1' % ns)['ansible_host'] == '10.52.0.12'  # no Service: network

    inventory = load(write_config(tmp_path, {'kubeconfig': cluster.kubeconfig, 'namespaces': [ns],
                                             'address_sources': ['network']}))
    new = host_vars(inventory, '%s/new1' % ns)
    assert 'ansible_host' not in new and new['harvester_service'] is None


def test_compose_groups_and_keyed_groups(cluster, fleet, tmp_path):
    ns = fleet
    inventory = load(write_config(tmp_path, {
        'kubeconfig': cluster.kubeconfig, 'namespaces': [ns], 'group_by': ['namespace'], 'group_prefix': 'hv_',
        'compose': {
            'ansible_user': "'admin' if harvester_labels.app == 'db' else 'ubuntu'",
            'vlan_ip': "harvester_interfaces | selectattr('network', 'equalto', harvester_namespace ~ '/vlan100')"
                       " | map(attribute='ips') | first | first",
        },
        'groups': {'running': "harvester_phase == 'Running'", 'databases': "'db' in harvester_vm_name"},
        'keyed_groups': [{'key': 'harvester_node', 'prefix': 'node'},
                         {'key': 'harvester_labels', 'prefix': 'label'},
                         {'key': 'harvester_networks', 'prefix': 'vlan', 'parent_group': 'vlans'}],
    }))
    web, db = '%s/web1' % ns, '%s/db1' % ns
    assert host_vars(inventory, db)['ansible_user'] == 'admin'
    assert host_vars(inventory, web)['ansible_user'] == 'ubuntu'
    assert host_vars(inventory, web)['vlan_ip'] == '192.168.100.11'
    assert host_vars(inventory, db)['vlan_ip'] == '192.168.100.12'
    assert 'vlan_ip' not in host_vars(inventory, '%s/off1' % ns)  # not strict: a failing expression is skipped
    assert group_members(inventory, 'running') == [db, web]
    assert group_members(inventory, 'databases') == [db]
    assert group_members(inventory, 'node_node1') == ['%s/new1' % ns, web]
    assert group_members(inventory, 'node_node2') == [db]
    assert group_members(inventory, 'label_app_web') == ['%s/new1' % ns, web]
    assert group_members(inventory, 'vlan_storage_vlan200') == [db]
    assert sorted(g.name for g in inventory.groups['vlans'].child_groups) == sorted([
        'vlan_%s_vlan100' % safe(ns), 'vlan_storage_vlan200'])
    assert group_members(inventory, 'hv_namespace_%s' % safe(ns)) == sorted(h.name for h in inventory.get_hosts())
    assert group_members(inventory, 'hv_no_address') == ['%s/new1' % ns, '%s/off1' % ns]
    assert group_members(inventory, 'hv_label_app_web') is None  # group_by without label

    message = failure(write_config(tmp_path, {
        'kubeconfig': cluster.kubeconfig, 'namespaces': [ns], 'strict': True,
        'compose': {'vlan_ip': "(harvester_interfaces | selectattr('network') | first).ips[0]"}}))
    assert 'Could not set vlan_ip for host %s/new1' % ns in message  # new1 has no VLAN IP yet


def test_compose_can_set_ansible_host(cluster, fleet, tmp_path):
    ns = fleet
    inventory = load(write_config(tmp_path, {
        'kubeconfig': cluster.kubeconfig, 'namespaces': [ns], 'address_sources': [],
        'compose': {'ansible_host': "harvester_vm_name ~ '.lab.example'"}}))
    assert host_vars(inventory, '%s/new1' % ns)['ansible_host'] == 'new1.lab.example'
    assert group_members(inventory, 'harvester_no_address') is None


def test_filters_and_host_format(cluster, fleet, tmp_path):
    ns = fleet
    inventory = load(write_config(tmp_path, {'kubeconfig': cluster.kubeconfig, 'namespaces': [ns],
                                             'label_selector': 'app=web', 'include_stopped': False,
                                             'host_format': '{name}.{namespace}'}))
    assert sorted(h.name for h in inventory.get_hosts()) == ['new1.%s' % ns, 'web1.%s' % ns]
    inventory = load(write_config(tmp_path, {'kubeconfig': cluster.kubeconfig, 'namespaces': [ns],
                                             'include_stopped': False, 'host_format': 'vm-{uid}'}))
    uids = sorted(h.name for h in inventory.get_hosts())
    assert len(uids) == 3 and all(re.match(r'^vm-[0-9a-f-]{36}$', u) for u in uids)


def test_host_format_must_tell_vms_apart(cluster, namespace, tmp_path):
    other = cluster.create_namespace(unique_name('t', 'inventory-other'))
    try:
        put_vm(cluster, namespace, 'twin', [('default', None)])
        put_vm(cluster, other, 'twin', [('default', None)])
        message = failure(write_config(tmp_path, {'kubeconfig': cluster.kubeconfig, 'namespaces': [namespace, other],
                                                  'host_format': '{name}'}))
        assert "both become host 'twin': put {namespace} (or {uid}) in host_format" in message
        inventory = load(write_config(tmp_path, {'kubeconfig': cluster.kubeconfig, 'namespaces': [namespace, other]}))
        assert sorted(h.name for h in inventory.get_hosts()) == sorted(['%s/twin' % namespace, '%s/twin' % other])
    finally:
        cluster.delete_namespace(other)


def test_one_list_per_kind_then_cache_hits_make_no_api_call(cluster, fleet, tmp_path):
    ns = fleet
    put_service(cluster, ns, 'new1-ssh', 'new1')
    cache_dir = tmp_path / 'cache'
    path = write_config(tmp_path, {'kubeconfig': cluster.kubeconfig, 'cache': True,
                                   'cache_plugin': 'ansible.builtin.jsonfile', 'cache_connection': str(cache_dir)})

    before = settled_counts(cluster)
    first = load(path)
    # every namespace: exactly one cluster-wide LIST per kind, no GET of single objects
    assert vm_requests_since(cluster, before) == {
        ('LIST', 'virtualmachines', 'cluster'): 1, ('LIST', 'virtualmachineinstances', 'cluster'): 1,
        ('LIST', 'services', 'cluster'): 1}
    assert os.listdir(cache_dir), 'the jsonfile cache wrote nothing'
    expected = dict((h.name, host_vars(first, h.name)) for h in first.get_hosts() if h.name.startswith(ns + '/'))
    assert len(expected) == 4 and expected['%s/new1' % ns]['harvester_address_source'] == 'service'

    before = settled_counts(cluster)
    second = load(path)  # a new plugin instance in a new InventoryManager: only the cache file is shared
    assert vm_requests_since(cluster, before) == {}
    assert dict((h.name, host_vars(second, h.name)) for h in second.get_hosts() if h.name in expected) == expected

    before = settled_counts(cluster)
    load(path, cache=False)  # what --flush-cache and meta: refresh_inventory do: read again, rewrite the cache
    assert sum(vm_requests_since(cluster, before).values()) == 3

    # a cache written for another query is not used
    with open(path, 'a', encoding='utf-8') as handle:
        handle.write('namespaces: [%s]\n' % ns)
    before = settled_counts(cluster)
    narrowed = load(path)
    assert vm_requests_since(cluster, before) == {
        ('LIST', 'virtualmachines', 'namespace'): 1, ('LIST', 'virtualmachineinstances', 'namespace'): 1,
        ('LIST', 'services', 'namespace'): 1}
    assert sorted(h.name for h in narrowed.get_hosts()) == sorted(expected)


def test_ansible_inventory_cli(cluster, fleet, k8s_env, tmp_path):
    """The real process: auth from K8S_AUTH_KUBECONFIG only, a jsonfile cache shared by two runs, --flush-cache."""
    ns = fleet
    cache_dir = tmp_path / 'cache'
    path = write_config(tmp_path, {
        'namespaces': [ns], 'network': ['vlan100', 'management'], 'cache': True,
        'cache_plugin': 'ansible.builtin.jsonfile', 'cache_connection': str(cache_dir),
        'keyed_groups': [{'key': 'harvester_printable_status', 'prefix': 'status'}]}, name='vlan.harvester.yaml')
    env = dict(k8s_env, ANSIBLE_INVENTORY_UNPARSED_FAILED='true', ANSIBLE_COLLECTIONS_PATH=collections_root())

    def inventory_list(*extra):
        proc = subprocess.run([ANSIBLE_INVENTORY, '-i', path, '--list'] + list(extra), env=env, capture_output=True,
                              text=True, timeout=180, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        # values read from the cluster are not trusted as templates; the JSON marks such strings __ansible_unsafe
        return json.loads(proc.stdout, object_hook=lambda d: d['__ansible_unsafe'] if set(d) == {'__ansible_unsafe'} else d)

    before = settled_counts(cluster)
    listed = inventory_list()
    assert sum(vm_requests_since(cluster, before).values()) == 3
    hostvars = listed['_meta']['hostvars']
    assert sorted(hostvars) == sorted('%s/%s' % (ns, vm) for vm in ('web1', 'db1', 'new1', 'off1'))
    assert hostvars['%s/web1' % ns]['ansible_host'] == '192.168.100.11'
    assert hostvars['%s/db1' % ns]['ansible_host'] == '192.168.100.12'
    assert hostvars['%s/new1' % ns]['harvester_phase'] == 'Scheduled'
    assert 'ansible_host' not in hostvars['%s/off1' % ns]
    assert sorted(listed['status_Running']['hosts']) == ['%s/db1' % ns, '%s/web1' % ns]
    assert sorted(listed['harvester_network_%s_vlan100' % safe(ns)]['hosts']) == sorted(
        '%s/%s' % (ns, vm) for vm in ('web1', 'db1', 'new1'))
    assert sorted(listed['harvester_no_address']['hosts']) == ['%s/new1' % ns, '%s/off1' % ns]

    before = settled_counts(cluster)
    assert inventory_list() == listed  # another process: answered from the cache file
    assert vm_requests_since(cluster, before) == {}

    before = settled_counts(cluster)
    assert inventory_list('--flush-cache') == listed
    assert sum(vm_requests_since(cluster, before).values()) == 3


def test_every_way_to_authenticate(cluster, fleet, tmp_path, monkeypatch):
    """The kubeconfig inline, certificates and host without a kubeconfig, and K8S_AUTH_* from the environment."""
    ns = fleet
    wanted = sorted('%s/%s' % (ns, vm) for vm in ('web1', 'db1', 'new1', 'off1'))
    with open(cluster.kubeconfig, encoding='utf-8') as handle:
        inline = yaml.safe_load(handle)
    inventory = load(write_config(tmp_path, {'kubeconfig': inline, 'namespaces': [ns]}))
    assert sorted(h.name for h in inventory.get_hosts()) == wanted
    pki = cluster.pki
    inventory = load(write_config(tmp_path, {'host': cluster.server, 'ca_cert': pki.ca_cert, 'cert_file': pki.admin_cert,
                                             'key_file': pki.admin_key, 'namespaces': [ns]}))  # the aliases
    assert sorted(h.name for h in inventory.get_hosts()) == wanted
    monkeypatch.delenv('K8S_AUTH_KUBECONFIG', raising=False)
    monkeypatch.setenv('K8S_AUTH_HOST', cluster.server)
    monkeypatch.setenv('K8S_AUTH_SSL_CA_CERT', pki.ca_cert)
    monkeypatch.setenv('K8S_AUTH_CERT_FILE', pki.admin_cert)
    monkeypatch.setenv('K8S_AUTH_KEY_FILE', pki.admin_key)
    inventory = load(write_config(tmp_path, {'namespaces': [ns]}))
    assert sorted(h.name for h in inventory.get_hosts()) == wanted


def says(message, *parts):
    """``message`` is the plugin's error and holds every part (the wording of the cluster layer's hints may evolve;
    the option to fix, the culprit and the status must stay)."""
    assert message.startswith('harvester.network.vms ('), message
    missing = [part for part in parts if part not in message]
    assert not missing, 'missing %s in: %s' % (missing, message)


def test_connection_errors_say_what_to_fix(cluster, k8s_env, tmp_path):
    missing = tmp_path / 'nowhere' / 'kubeconfig'
    says(failure(write_config(tmp_path, {'kubeconfig': str(missing)})), 'kubeconfig: ', str(missing), 'does not exist')

    garbage = tmp_path / 'garbage.kubeconfig'
    garbage.write_text('clusters: [this is not a kubeconfig\n')
    says(failure(write_config(tmp_path, {'kubeconfig': str(garbage)})), 'kubeconfig: ', 'valid kubeconfig')

    says(failure(write_config(tmp_path, {'kubeconfig': cluster.kubeconfig, 'context': 'no-such-context'})),
         'context: ', 'no-such-context')

    # a kubeconfig whose server is gone: the error names the option and the URL
    with open(cluster.kubeconfig, encoding='utf-8') as handle:
        config = yaml.safe_load(handle)
    config['clusters'][0]['cluster']['server'] = 'https://127.0.0.1:9'
    stale = tmp_path / 'stale.kubeconfig'
    stale.write_text(yaml.safe_dump(config))
    says(failure(write_config(tmp_path, {'kubeconfig': str(stale)})), 'host: ', 'cannot reach', 'https://127.0.0.1:9')

    # a token the server does not know
    says(failure(write_config(tmp_path, {'host': cluster.server, 'api_key': 'not-a-token', 'ca_cert': cluster.pki.ca_cert})),
         'api_key: ', '401 Unauthorized')

    # InventoryManager (what ansible-playbook uses) refuses the source as a whole
    with pytest.raises(AnsibleError, match='Completely failed to parse inventory source'):
        load(write_config(tmp_path, {'kubeconfig': str(missing)}))

    # the real process: with unparsed sources fatal, ansible-inventory fails and says why
    path = write_config(tmp_path, {}, name='bad.harvester.yml')
    env = dict(k8s_env, K8S_AUTH_KUBECONFIG=str(missing), ANSIBLE_INVENTORY_UNPARSED_FAILED='true',
               ANSIBLE_COLLECTIONS_PATH=collections_root())
    proc = subprocess.run([ANSIBLE_INVENTORY, '-i', path, '--list'], env=env, capture_output=True, text=True,
                          timeout=180, check=False)
    assert proc.returncode != 0
    assert 'kubeconfig: file %s does not exist' % missing in proc.stderr, proc.stderr


def test_plain_kubevirt_vms_and_their_services(plain_cluster, plain_namespace, tmp_path):
    """On a plain KubeVirt + Multus cluster (no Harvester API): VMs the vm module wrote with flavor auto (they carry
    no harvesterhci.io label), a Service vm_service wrote there (it selects KubeVirt's vm.kubevirt.io/name), and the
    inventory's hosts, VLAN network groups and Service address from them."""
    from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import vlan_network_handler
    from ansible_collections.harvester.network.plugins.module_utils.cluster.vms import vm_handler, vm_service_handler
    from testbeds.cluster.handlers import call
    from tests.integration.cluster.test_plain_kubevirt import NET, SVC, VM, disk, nic

    ns = plain_namespace
    call(plain_cluster, vlan_network_handler, NET, name='vlan100', namespace=ns, bridge='br-vlan', vlan_id=100)
    for name in ('web1', 'new1'):
        result, _log = call(plain_cluster, vm_handler, VM, name=name, namespace=ns, state='running',
                            interfaces=[nic('default'), nic('nic-1', 'vlan100')],
                            disks=[disk('root', container_disk='quay.io/containerdisks/ubuntu:22.04')])
        assert result['flavor'] == 'plain'
    put_vmi(plain_cluster, ns, 'web1', interfaces=[nic_status('default', '52:54:00:00:03:01', ['10.52.0.31']),
                                                   nic_status('nic-1', '52:54:00:00:03:02', ['192.168.100.31'])])
    put_vmi(plain_cluster, ns, 'new1', phase='Scheduled', interfaces=[])
    call(plain_cluster, vm_service_handler, SVC, name='new1-ssh', namespace=ns, vm='new1',
         ports=[dict(name=None, port=22, target_port=None, protocol='TCP', node_port=None)])
    cluster_ip = ok(plain_cluster.request('GET', '/api/v1/namespaces/%s/services/new1-ssh' % ns), 200)['spec']['clusterIP']

    inventory = load(write_config(tmp_path, {'kubeconfig': plain_cluster.kubeconfig, 'namespaces': [ns],
                                             'network': ['vlan100']}))
    assert sorted(h.name for h in inventory.get_hosts()) == ['%s/new1' % ns, '%s/web1' % ns]
    web = host_vars(inventory, '%s/web1' % ns)
    assert (web['ansible_host'], web['harvester_address_source']) == ('192.168.100.31', 'network')
    new = host_vars(inventory, '%s/new1' % ns)  # no IP yet: the Service that selects vm.kubevirt.io/name=new1
    assert (new['ansible_host'], new['harvester_service'], new['harvester_address_source']) == (
        cluster_ip, 'new1-ssh', 'service')
    assert group_members(inventory, 'harvester_network_%s_vlan100' % safe(ns)) == ['%s/new1' % ns, '%s/web1' % ns]
