"""harvester.network.vms without a cluster: the pure functions (objects and settings in, host records out), the
option definitions against the cluster modules' auth options, and the plugin filling a real InventoryData."""

import importlib
import json
import sys

import pytest

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, inventory_loader

from ansible_collections.harvester.network.plugins.inventory import vms
from ansible_collections.harvester.network.plugins.module_utils.cluster.auth import AUTH_ARG_SPEC
from testbeds.collection import collections_root

NAME = 'harvester.network.vms'


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


def settings(**kw):
    base = {'namespaces': [], 'label_selector': None, 'include_stopped': True, 'host_format': '{namespace}/{name}',
            'network': ['management'], 'address_sources': ['network', 'service'],
            'group_by': ['namespace', 'network', 'label'], 'group_prefix': 'harvester_'}
    base.update(kw)
    return vms.check_settings(base)


def vm(name, namespace='default', nics=(('default', None),), labels=None, uid='u-1', run_strategy='Always'):
    return {'metadata': {'name': name, 'namespace': namespace, 'uid': uid, 'labels': labels or {},
                         'managedFields': [{'manager': 'kubectl'}]},
            'spec': {'runStrategy': run_strategy, 'template': {'spec': {
                'domain': {'devices': {'interfaces': [
                    {'name': nic, ('masquerade' if net is None else 'bridge'): {}} for nic, net in nics]}},
                'networks': [{'name': nic, 'pod': {}} if net is None else {'name': nic, 'multus': {'networkName': net}}
                             for nic, net in nics]}}},
            'status': {'printableStatus': 'Running'}}


def vmi(name, namespace='default', interfaces=(), phase='Running', node='n1'):
    return {'metadata': {'name': name, 'namespace': namespace},
            'spec': {'domain': {'devices': {}}},
            'status': {'phase': phase, 'nodeName': node, 'interfaces': list(interfaces),
                       'conditions': [{'type': 'Ready', 'status': 'True'}]}}


def svc(name, vm_name, namespace='default', kind='ClusterIP', cluster_ip='10.0.0.5', ports=((22, 22),), ingress=None):
    return {'metadata': {'name': name, 'namespace': namespace},
            'spec': {'type': kind, 'clusterIP': cluster_ip, 'selector': {'harvesterhci.io/vmName': vm_name},
                     'ports': [{'port': p, 'targetPort': t} for p, t in ports]},
            'status': {'loadBalancer': {'ingress': ingress}} if ingress else {}}


# ---- settings -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('host_format, message', [
    ('{vm}', "uses the unknown field 'vm': use {name}, {namespace}, {uid}"),
    ('{0}', 'uses the unknown field'),
    ('{name', 'is not a format string'),
    ('  ', 'gives empty host names'),
])
def test_host_format_is_checked(host_format, message):
    with pytest.raises(vms.SettingsError, match='host_format: ') as info:
        settings(host_format=host_format)
    assert message in str(info.value)


@pytest.mark.parametrize('network', ['a/b/c', '/vlan', 'vlan/', ''])
def test_network_names_are_checked(network):
    with pytest.raises(vms.SettingsError, match=r'network: .* is not a network: give management, <namespace>/<name>'):
        settings(network=[network])


def test_settings_are_normalised():
    result = settings(namespaces=['b', 'a', 'b', ' '], network=[' vlan100 ', 'management'])
    assert result['namespaces'] == ['a', 'b'] and result['network'] == ['vlan100', 'management']


# ---- addresses -----------------------------------------------------------------------------------------------------
def test_usable_ips_drop_link_local_prefixes_duplicates_and_nulls():
    assert vms.usable_ips([None, 'fe80::1', 'FE80::2', '10.0.0.1/24', '10.0.0.1', '', '2001:db8::1']) == [
        '10.0.0.1', '2001:db8::1']


def test_network_ref_resolves_bare_names_in_the_vm_namespace():
    assert vms.network_ref('vlan100', 'web') == 'web/vlan100'
    assert vms.network_ref('infra/vlan100', 'web') == 'infra/vlan100'
    assert vms.network_ref(None, 'web') is None


def test_network_address_follows_the_preference_order():
    nics = [{'name': 'default', 'management': True, 'network': None, 'ips': ['10.52.0.5']},
            {'name': 'nic-1', 'management': False, 'network': 'web/vlan100', 'ips': []},
            {'name': 'nic-2', 'management': False, 'network': 'infra/vlan200', 'ips': ['192.168.200.5']}]
    assert vms.network_address(nics, ['management'], 'web') == ('10.52.0.5', 'default')
    assert vms.network_address(nics, ['vlan100', 'infra/vlan200'], 'web') == ('192.168.200.5', 'nic-2')
    assert vms.network_address(nics, ['vlan100'], 'web') == (None, None)  # on the network, but no IP yet
    assert vms.network_address(nics, [], 'web') == (None, None)


@pytest.mark.parametrize('service, expected', [
    (svc('s', 'vm'), ('10.0.0.5', 22)),
    (svc('s', 'vm', kind='LoadBalancer', ingress=[{'ip': '172.16.0.9'}]), ('172.16.0.9', 22)),
    (svc('s', 'vm', kind='LoadBalancer', ingress=[{'hostname': 'vm.lb.example'}]), ('vm.lb.example', 22)),
    (svc('s', 'vm', kind='LoadBalancer'), ('10.0.0.5', 22)),  # no ingress yet: the cluster IP
    (svc('s', 'vm', cluster_ip='None'), (None, 22)),  # headless
    (svc('s', 'vm', ports=((80, 8080), (2222, '22'))), ('10.0.0.5', 2222)),
    (svc('s', 'vm', ports=((80, 8080),)), ('10.0.0.5', None)),
])
def test_service_address(service, expected):
    assert vms.service_address(service) == expected


def test_management_service_prefers_ssh_then_name_and_needs_an_address():
    services = [svc('b-web', 'vm1', ports=((80, 80),)), svc('z-ssh', 'vm1'), svc('a-ssh', 'vm1'),
                svc('headless', 'vm1', cluster_ip='None'), svc('other-ns', 'vm1', namespace='x'), svc('vm2', 'vm2')]
    assert vms.management_service(services, 'default', 'vm1')['metadata']['name'] == 'a-ssh'
    assert vms.management_service(services[:1], 'default', 'vm1')['metadata']['name'] == 'b-web'
    assert vms.management_service(services[3:5], 'default', 'vm1') is None


# ---- host records ---------------------------------------------------------------------------------------------------
def test_describe_a_vm_with_several_nics():
    record = vms.describe(
        vm('db1', nics=(('default', None), ('nic-1', 'vlan100'), ('nic-2', 'infra/vlan200')),
           labels={'app': 'db', 'app.kubernetes.io/part-of': 'shop'}),
        vmi('db1', interfaces=[{'name': 'default', 'ipAddress': '10.52.0.7', 'mac': '52:54:00:AA:00:01'},
                               {'name': 'nic-2', 'ipAddresses': ['fe80::1', '192.168.200.7']},
                               {'interfaceName': 'lo', 'ipAddress': '127.0.0.1'}]),
        [], settings(network=['infra/vlan200']))
    assert record['name'] == 'default/db1'
    host_vars = record['vars']
    assert host_vars['ansible_host'] == '192.168.200.7' and host_vars['harvester_address_source'] == 'network'
    assert host_vars['harvester_interfaces'] == [
        {'name': 'default', 'network': None, 'management': True, 'mac': '52:54:00:aa:00:01', 'ips': ['10.52.0.7'],
         'guest_interface': None},
        {'name': 'nic-1', 'network': 'default/vlan100', 'management': False, 'mac': None, 'ips': [],
         'guest_interface': None},
        {'name': 'nic-2', 'network': 'infra/vlan200', 'management': False, 'mac': None, 'ips': ['192.168.200.7'],
         'guest_interface': None}]
    assert host_vars['harvester_networks'] == ['default/vlan100', 'infra/vlan200']
    assert record['groups'] == ['namespace_default', 'network_default_vlan100', 'network_infra_vlan200',
                                'label_app_db', 'label_app.kubernetes.io/part-of_shop']


def test_service_is_a_fallback_only_for_running_vms_and_sets_a_non_default_port():
    services = [svc('web1-ssh', 'web1', ports=((2222, 22),)), svc('off1-ssh', 'off1')]
    running = vms.describe(vm('web1'), vmi('web1'), services, settings())['vars']
    assert (running['ansible_host'], running['ansible_port'], running['harvester_address_source']) == (
        '10.0.0.5', 2222, 'service')
    stopped = vms.describe(vm('off1', run_strategy='Halted'), None, services, settings())['vars']
    assert 'ansible_host' not in stopped and stopped['harvester_service'] == 'off1-ssh'
    assert stopped['harvester_phase'] == 'Stopped'
    plain = vms.describe(vm('off1'), vmi('off1'), services, settings())['vars']
    assert plain['ansible_host'] == '10.0.0.5' and 'ansible_port' not in plain  # port 22 is the default anyway
    unread = vms.describe(vm('web1'), vmi('web1'), None, settings())['vars']  # Services not read
    assert 'ansible_host' not in unread and unread['harvester_service'] is None


def test_group_by_selects_the_builtin_groups():
    one = vm('w', nics=(('default', None), ('nic-1', 'vlan100')), labels={'app': 'web'})
    assert vms.describe(one, None, None, settings(group_by=[]))['groups'] == []
    assert vms.describe(one, None, None, settings(group_by=['network']))['groups'] == ['network_default_vlan100']


def test_host_records_sort_filter_and_refuse_name_clashes():
    objects = {'vms': [vm('b'), vm('a', namespace='z'), vm('a')], 'vmis': [vmi('b')], 'services': None}
    assert [r['name'] for r in vms.host_records(objects, settings())] == ['default/a', 'default/b', 'z/a']
    assert [r['name'] for r in vms.host_records(objects, settings(include_stopped=False))] == ['default/b']
    with pytest.raises(vms.SettingsError, match=r"VMs default/a and z/a both become host 'a'"):
        vms.host_records(objects, settings(host_format='{name}'))


def test_slim_drops_what_the_cache_does_not_need():
    original = vmi('x')
    original['metadata']['managedFields'] = [{'manager': 'virt-handler'}]
    slimmed = vms.slim(original, keep_spec=False)
    assert 'spec' not in slimmed and 'managedFields' not in slimmed['metadata']
    assert 'managedFields' in original['metadata'] and 'spec' in original  # the input is untouched


# ---- the plugin as Ansible loads it -------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def new_plugin():
    """A fresh plugin instance as Ansible makes it (the loader gives it its name and option definitions)."""
    install_collection_loader()
    return lambda: inventory_loader.get(NAME)


def test_auth_options_are_the_cluster_modules_options(new_plugin):
    """Same names, types, defaults, aliases and K8S_AUTH_* variables as AUTH_ARG_SPEC (the modules' argspec)."""
    definitions = C.config.get_configuration_definitions('inventory', new_plugin()._load_name)
    for name, spec in AUTH_ARG_SPEC.items():
        assert name in definitions, 'auth option %s is not documented for the inventory plugin' % name
        doc = definitions[name]
        assert doc.get('type', 'str') == spec['type'], name
        assert doc.get('default') == spec.get('default'), name
        assert sorted(doc.get('aliases') or []) == sorted(spec.get('aliases') or []), name
        assert [e['name'] for e in doc.get('env') or []] == spec['fallback'][1], name


def test_verify_file_wants_harvester_yml_names(new_plugin, tmp_path):
    plugin = new_plugin()
    for name, wanted in (('lab.harvester.yml', True), ('lab.harvester.yaml', True), ('harvester.yml', True),
                         ('lab.yml', False), ('lab.harvester.json', False), ('myharvester.yml', False)):
        path = tmp_path / name
        path.write_text('plugin: %s\n' % NAME)
        assert plugin.verify_file(str(path)) is wanted, name
    assert plugin.verify_file(str(tmp_path / 'missing.harvester.yml')) is False


def parse(new_plugin, tmp_path, text):
    path = tmp_path / 'x.harvester.yml'
    path.write_text('plugin: %s\n%s' % (NAME, text))
    plugin = new_plugin()
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), str(path), cache=False)
    return inventory


def test_misspelt_options_are_refused_with_a_suggestion(new_plugin, tmp_path):
    with pytest.raises(AnsibleError, match=r"unknown option 'namespace': did you mean namespaces\?"):
        parse(new_plugin, tmp_path, 'namespace: [web]\n')
    with pytest.raises(AnsibleError, match=r"unknown option 'zzz'$"):
        parse(new_plugin, tmp_path, 'zzz: 1\n')


def test_bad_settings_fail_before_any_connection(new_plugin, tmp_path):
    with pytest.raises(AnsibleError, match=r'host_format: .* uses the unknown field'):
        parse(new_plugin, tmp_path, "host_format: '{vm}'\nhost: https://127.0.0.1:9\napi_key: t\n")
    with pytest.raises(AnsibleError, match=r'Invalid value .* for config'):
        parse(new_plugin, tmp_path, 'address_sources: [dns]\n')


def test_cache_query_keeps_no_secret(new_plugin, tmp_path):
    """The cache entry records which query it answers; an inline kubeconfig or a token enters only as a digest."""
    path = tmp_path / 'x.harvester.yml'
    path.write_text('plugin: %s\napi_key: TOKEN-123\nkubeconfig: {users: [{user: {client-key-data: KEY-456}}]}\n' % NAME)
    plugin = new_plugin()
    plugin.loader, plugin._vars = DataLoader(), {}
    plugin._read_config_data(str(path))  # pylint: disable=protected-access
    query = plugin._query(settings(namespaces=['b', 'a'], label_selector='app=web'))  # pylint: disable=protected-access
    text = json.dumps(query)
    assert 'TOKEN-123' not in text and 'KEY-456' not in text
    assert (query['namespaces'], query['label_selector'], query['services']) == (['a', 'b'], 'app=web', True)
    assert len(query['connection']) == 64
    assert plugin._query(settings(namespaces=['a']))['connection'] == query['connection']  # pylint: disable=protected-access


def test_records_fill_an_inventory_with_constructed_features(new_plugin, tmp_path):
    path = tmp_path / 'x.harvester.yml'
    path.write_text('plugin: %s\ncompose: {ansible_user: "\'ubuntu\'"}\nkeyed_groups: [{key: harvester_node, prefix: node}]\n'
                    'groups: {web: "\'web\' in harvester_vm_name"}\n' % NAME)
    plugin = new_plugin()
    plugin.inventory, plugin.loader, plugin._vars = InventoryData(), DataLoader(), {}  # what parse() sets first
    plugin._read_config_data(str(path))  # pylint: disable=protected-access
    conf = settings(group_prefix='hv_')
    for record in vms.host_records({'vms': [vm('web1'), vm('db1')], 'vmis': [
            vmi('web1', interfaces=[{'name': 'default', 'ipAddress': '10.52.0.3'}], node='n2')],
            'services': []}, conf):
        plugin._add_host(record, conf)  # pylint: disable=protected-access
    groups = plugin.inventory.groups
    assert sorted(h.name for h in groups['hv_namespace_default'].get_hosts()) == ['default/db1', 'default/web1']
    assert [h.name for h in groups['hv_no_address'].get_hosts()] == ['default/db1']
    assert [h.name for h in groups['node_n2'].get_hosts()] == ['default/web1']
    assert [h.name for h in groups['web'].get_hosts()] == ['default/web1']
    web = plugin.inventory.get_host('default/web1').get_vars()
    assert (web['ansible_host'], web['ansible_user']) == ('10.52.0.3', 'ubuntu')
