"""The roles and playbooks on the lab's bed (conftest.py, lab/bed.py): real kernel, real API server, real
ansible-playbook runs, the controller native and the node modules where the nodes' namespaces live.

The module is one scenario, in order (each test needs the ones before it):

1. ``pxe_post_install.yml`` on the fresh nodes, with no kubeconfig anywhere: bonds, files, saved state.
2. The molecule scenario's converge step: ``site.yml`` with the example inventory and vars file, a node at a time.
3. ``site.yml`` again through ansible-runner (what AWX runs jobs with): the event stream reports success for every
   host and the stats no change anywhere (idempotence).
4. The result, checked by other means: the molecule scenario's verify step (iproute2 on the nodes, the dnsmasq
   process), iproute2's view of the nodes from here, the saved state, the objects on the API server, and a VM
   stand-in on node2 that gets a DHCP lease from the server on node1 across the switch (VLAN 100), while one on
   VLAN 200 gets none.
5. Bad role variables stop before any change, each with a message naming the variable.
6. Removing the DHCP servers and a network: the servers are gone, the unused VID leaves the uplinks.

Under QEMU software emulation a node module task still costs seconds (the controller's part no longer does), so
there are few runs and each one carries many checks.
"""

import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from ansible_collections.harvester.network.plugins.module_utils.cluster.builders import cni_config_json
from tests.integration.roles.conftest import (EXAMPLE_INVENTORY, EXAMPLE_VARS, PLAYBOOKS, VIDS, ansible_env,
                                              ansible_playbook, node_paths, saved_state, write_inventory)
from testbeds.common import REPO_ROOT

TIMINGS = {}
SERVER_NODE = 'node1'


def read_text(path):
    with open(path, encoding='utf-8') as handle:
        return handle.read()


def example_vars():
    with open(EXAMPLE_VARS, encoding='utf-8') as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope='module')
def setup(lab, kubeconfig, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('roles'))
    inventory, lab_vars = write_inventory(lab, kubeconfig, folder)
    # One vars file per run, the documented example with the lab's overrides laid over it.
    merged = example_vars()
    with open(lab_vars, encoding='utf-8') as handle:
        merged.update(yaml.safe_load(handle))
    vars_file = os.path.join(folder, 'harvester-network.yml')
    with open(vars_file, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(merged, handle)
    yield {'inventories': [EXAMPLE_INVENTORY, inventory], 'vars_file': vars_file, 'vars': merged,
           'lab_inventory': inventory, 'folder': folder}
    # how long each run took (docs and the report quote these)
    sys.stderr.write('\n[roles] timings (s): %s\n' % json.dumps(TIMINGS, indent=1))
    output = os.path.join(REPO_ROOT, 'tests', 'output')
    if os.path.isdir(output):
        with open(os.path.join(output, 'roles-timings.json'), 'w', encoding='utf-8') as handle:
            json.dump(TIMINGS, handle, indent=1)


def molecule(step, setup, lab):
    """``molecule STEP -s default`` from the repository root, on the lab."""
    env = ansible_env({'HN_LAB_INVENTORY': setup['lab_inventory'], 'HN_LAB_VARS': setup['vars_file'],
                       'MOLECULE_NO_LOG': 'false', 'NO_COLOR': '1', 'PY_COLORS': '0'})
    binary = os.path.join(os.path.dirname(sys.executable), 'molecule')
    if not os.path.exists(binary):
        pytest.fail('molecule is not installed in %s (requirements-test.txt: molecule==26.10.0)' % sys.prefix,
                    pytrace=False)
    started = time.monotonic()
    log = os.path.join(REPO_ROOT, 'tests', 'output', 'roles-molecule-%s.log' % step)
    with open(log, 'w', encoding='utf-8') as handle:  # written as it runs: follow it with tail -f
        proc = subprocess.run([binary, step, '-s', 'default'],
                              cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, text=True, timeout=1500,
                              check=False)
    TIMINGS['molecule ' + step] = round(time.monotonic() - started, 1)
    with open(log, encoding='utf-8') as handle:
        proc.stdout, proc.stderr = handle.read(), ''
    return proc


def report(name, run):
    TIMINGS[name] = round(run.seconds, 1)
    sys.stderr.write('\n[roles] %s: %r\n' % (name, run))


# ---- 1. pxe_post_install.yml ---------------------------------------------------------------------------------------
def test_pxe_post_install_needs_no_kubeconfig(lab, setup, tmp_path):
    home = tmp_path / 'home'
    home.mkdir()
    env = ansible_env({'HOME': str(home)})
    assert not any(name == 'KUBECONFIG' or name.startswith('K8S_AUTH_') for name in env)
    before = dict((name, node.snapshot()) for name, node in lab.nodes.items())
    run = ansible_playbook(os.path.join(PLAYBOOKS, 'pxe_post_install.yml'), [EXAMPLE_INVENTORY, setup['lab_inventory']],
                           ['harvester_pxe_hosts=harvester_nodes'], env=env)
    report('pxe_post_install', run)
    assert run.rc == 0, run.tail()
    assert set(run.recap) == set(lab.nodes)
    for name, node in lab.nodes.items():
        after = node.snapshot()
        bond = after['links'].get('bond-storage')
        assert bond and bond['kind'] == 'bond' and bond['up'], after['links']
        assert after['links']['eth3']['master'] == after['links']['eth4']['master'] == 'bond-storage'
        assert before[name]['links'].get('bond-storage') is None
        mode = node.exec(['cat', '/sys/class/net/bond-storage/bonding/mode']).stdout.split()[0]
        assert mode == 'active-backup'
        # the management NIC, its address and default route are untouched
        assert [a for a in after['addresses'] if a.startswith('eth0 ')] == \
            [a for a in before[name]['addresses'] if a.startswith('eth0 ')]
        saved = saved_state(lab, name)
        assert set(saved['bonds']) == {'bond-storage'}
        files = node_paths(lab, name)
        for path, lines in ((files['node_prep_modules_load_file'], ['bridge', '8021q', 'bonding']),
                            (files['node_prep_sysctl_file'], ['-net.bridge.bridge-nf-call-iptables = 0'])):
            with open(path, encoding='utf-8') as handle:
                content = handle.read().splitlines()
            assert all(line in content for line in lines), (path, content)
    node = lab.nodes['node1']
    assert node.exec(['sysctl', '-n', 'net.bridge.bridge-nf-call-iptables']).stdout.strip() == '0'


# ---- 2. molecule converge ------------------------------------------------------------------------------------------
def test_molecule_converge(lab, setup):
    proc = molecule('converge', setup, lab)
    sys.stderr.write('\n[roles] molecule converge: rc %d, %.0fs\n' % (proc.returncode, TIMINGS['molecule converge']))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]


# ---- 3. site.yml again through ansible-runner: success everywhere, nothing changes ---------------------------------
def test_site_through_ansible_runner_changes_nothing(lab, setup, tmp_path):
    import ansible_runner  # pylint: disable=import-outside-toplevel
    private = tmp_path / 'runner'
    private.mkdir()
    started = time.monotonic()
    runner = ansible_runner.run(
        private_data_dir=str(private), playbook=os.path.join(PLAYBOOKS, 'site.yml'),
        inventory=setup['inventories'], cmdline='-e @%s' % setup['vars_file'],
        envvars=dict((k, v) for k, v in ansible_env().items() if k.startswith(('ANSIBLE_', 'HN_')) or k == 'PATH'),
        quiet=True, timeout=1500)
    TIMINGS['site (ansible-runner)'] = round(time.monotonic() - started, 1)
    events = list(runner.events)
    output = '\n'.join(e.get('stdout', '') for e in events if e.get('stdout'))
    assert runner.status == 'successful' and runner.rc == 0, output[-6000:]
    failures = [e for e in events if e.get('event') in ('runner_on_failed', 'runner_on_unreachable')]
    assert not failures, output[-6000:]
    stats = [e for e in events if e.get('event') == 'playbook_on_stats'][-1]['event_data']
    hosts = set(lab.nodes) | {'localhost'}
    assert hosts <= set(stats['ok']), stats
    assert not stats.get('failures') and not stats.get('dark'), stats
    changed = [(e['event_data']['host'], e['event_data']['task']) for e in events
               if e.get('event') == 'runner_on_ok' and e['event_data']['res'].get('changed')]
    assert not changed and not stats.get('changed'), changed
    ok_hosts = set(e['event_data']['host'] for e in events if e.get('event') == 'runner_on_ok')
    assert hosts <= ok_hosts


# ---- 4. the result, by other means ------------------------------------------------------------------------------
def test_molecule_verify(lab, setup):
    proc = molecule('verify', setup, lab)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]


def uplink_vids(node, uplink='data-bo'):
    table = node.vlans()[uplink]
    return sorted(vid for vid, flags in table.items() if not flags)


def test_nodes_carry_exactly_the_networks(lab):
    for name, node in lab.nodes.items():
        links = node.links()
        bridge = links['data-br']
        assert bridge['linkinfo']['info_data']['vlan_filtering'] == 1
        assert links['data-bo']['master'] == 'data-br'
        slaves = sorted(n for n, link in links.items() if link.get('master') == 'data-bo')
        assert slaves == (['eth1', 'eth2'] if name == 'node1' else ['eth2']), slaves
        assert uplink_vids(node) == list(VIDS)
        assert node.vlans()['data-bo'][1] == {'PVID', 'Egress Untagged'}
        assert links['bond-storage']['linkinfo']['info_kind'] == 'bond'
        # the saved state is the whole node: the PXE bond, the uplink bond, the bridge and its trunk
        saved = saved_state(lab, name)
        assert set(saved['bonds']) == {'bond-storage', 'data-bo'}
        assert set(saved['bridges']) == {'data-br'}
        assert sorted(saved['vlans']['data-bo']['vids']) == list(VIDS)
        # management untouched
        assert '10.10.0.1%s/24' % name[-1] in ' '.join(a for a in node.snapshot()['addresses'] if a.startswith('eth0 '))


def test_cluster_objects(api, setup):
    client, api_client = api
    custom = client.CustomObjectsApi(api_client)
    nads = custom.list_namespaced_custom_object('k8s.cni.cncf.io', 'v1', 'default', 'network-attachment-definitions')
    by_name = dict((item['metadata']['name'], json.loads(item['spec']['config'])) for item in nads['items'])
    assert by_name['vlan100']['vlan'] == 100 and by_name['vlan100']['bridge'] == 'data-br'
    assert by_name['vlan200']['vlan'] == 200
    custom.get_cluster_custom_object('network.harvesterhci.io', 'v1beta1', 'clusternetworks', 'data')
    configs = custom.list_cluster_custom_object('network.harvesterhci.io', 'v1beta1', 'vlanconfigs')['items']
    nics = dict((c['spec']['nodeSelector']['kubernetes.io/hostname'], c['spec']['uplink']['nics']) for c in configs)
    assert nics == {'node1': ['eth1', 'eth2'], 'node2': ['eth2']}
    apps = client.AppsV1Api(api_client)
    deployment = apps.read_namespaced_deployment('vlan200-dhcp', 'default')
    annotations = deployment.spec.template.metadata.annotations
    assert json.loads(annotations['k8s.v1.cni.cncf.io/networks']) == [
        {'name': 'vlan200', 'namespace': 'default', 'interface': 'eth1'}]
    config_map = client.CoreV1Api(api_client).read_namespaced_config_map('vlan200-dhcp', 'default')
    text = config_map.data['dnsmasq.conf']
    assert 'interface=eth1' in text and 'dhcp-range=set:vlan,10.200.0.100,10.200.0.199,255.255.255.0,1h' in text
    assert 'dhcp-option=tag:vlan,option:router,10.200.0.1' in text
    init = deployment.spec.template.spec.init_containers[0]
    assert '10.200.0.2/24' in init.command[-1]
    client.CoreV1Api(api_client).read_namespaced_persistent_volume_claim('vlan200-dhcp-leases', 'default')
    vm = custom.get_namespaced_custom_object('kubevirt.io', 'v1', 'default', 'virtualmachines', 'web1')
    networks = vm['spec']['template']['spec']['networks']
    assert {'name': 'nic-1', 'multus': {'networkName': 'default/vlan100'}} in networks


def lease(vm, tries=15):
    """Run busybox udhcpc in ``vm`` (a discover every 3 s, ``tries`` times); returns the lease or None.

    Patient on purpose: under software emulation on a loaded machine dnsmasq's offer (after its ping check of the
    address) can take several seconds.
    """
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'udhcpc-report.sh')
    result = vm.exec(['busybox', 'udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', str(tries), '-T', '3', '-s', script],
                     check=False, timeout=tries * 3 + 60)
    for line in result.stdout.splitlines():
        if line.startswith('LEASE '):
            return dict(part.split('=', 1) for part in line.split()[1:])
    return None


def counters(namespace):
    return dict((link['ifname'], (link['stats64']['rx']['packets'], link['stats64']['tx']['packets']))
                for link in namespace.json('-s', 'link', 'show'))


def diagnosis(lab, before):
    """Where the DHCP exchange stopped: packet counters before/after per link, VLAN tables, the server's process."""
    lines = []
    for namespace in [lab.switch] + list(lab.nodes.values()) + list(lab.vms.values()):
        after = counters(namespace)
        moved = dict((name, (before.get(namespace.name, {}).get(name), value)) for name, value in after.items()
                     if before.get(namespace.name, {}).get(name) != value)
        lines.append('%s counters (rx, tx) before -> after: %s' % (namespace.name, moved))
        lines.append('%s vlans: %s' % (namespace.name, namespace.bridge('vlan', 'show', check=False).stdout))
        lines.append('%s links: %s' % (namespace.name, namespace.ip('-br', 'link', check=False).stdout))
        lines.append('%s addresses: %s' % (namespace.name, namespace.ip('-br', 'addr', check=False).stdout))
    lines.append('processes in node1: %s' % lab.nodes[SERVER_NODE].processes())
    return '\n'.join(lines)


def test_vm_on_node2_gets_a_lease_from_node1_across_the_trunk(lab):
    vm100 = lab.attach_vm('vm100', 'node2', cni_config_json('current', 'vlan100', 'data', 100, 1500))
    before = dict((ns.name, counters(ns)) for ns in [lab.switch] + list(lab.nodes.values()) + [vm100])
    got = lease(vm100)
    assert got, 'no DHCP lease on VLAN 100\n' + diagnosis(lab, before)
    address = int(got['ip'].split('.')[-1])
    assert got['ip'].startswith('192.168.100.') and 100 <= address <= 199, got
    assert got['router'] == '192.168.100.1' and got['subnet'] == '255.255.255.0', got
    assert got['serverid'] == '192.168.100.2', got
    with open(os.path.join(node_paths(lab, SERVER_NODE)['dhcp_server_lease_dir'], 'vlan100-dhcp.leases'),
              encoding='utf-8') as handle:
        leases = handle.read()
    assert got['ip'] in leases
    # a VM stand-in on VLAN 200 (same bridge, other VLAN) hears nothing from the VLAN 100 server
    vm200 = lab.attach_vm('vm200', 'node2', cni_config_json('current', 'vlan200', 'data', 200, 1500))
    assert lease(vm200, tries=6) is None


# ---- 5. bad variables --------------------------------------------------------------------------------------------
EXPECTED = {
    'node_prep_unknown_nic': ['node_prep_bonds', 'eth9'],
    'default_vlan_bad_choice': ['default_vlan_bond_mode', 'fast'],
    'default_vlan_unknown_nic': ['default_vlan_host_nics', 'eth9', 'does not exist on node1'],
    'default_vlan_management_nic': ['default_vlan_host_nics', 'eth0', '10.10.0.11/24',
                                    'default_vlan_allow_management_migration'],
    'dhcp_pool_outside_cidr': ['dhcp_server_networks[0].pool_end', '192.168.101.10', 'outside 192.168.100.0/24'],
    'dhcp_vid_on_no_network': ['dhcp_server_networks[0].vlan_id', 'VLAN 300', 'no VLAN network'],
}


def cluster_versions(api):
    client, api_client = api
    custom = client.CustomObjectsApi(api_client)
    versions = {}
    for group, version, plural in (('network.harvesterhci.io', 'v1beta1', 'clusternetworks'),
                                   ('network.harvesterhci.io', 'v1beta1', 'vlanconfigs')):
        for item in custom.list_cluster_custom_object(group, version, plural)['items']:
            versions['%s/%s' % (plural, item['metadata']['name'])] = item['metadata']['resourceVersion']
    for item in custom.list_namespaced_custom_object('k8s.cni.cncf.io', 'v1', 'default',
                                                     'network-attachment-definitions')['items']:
        versions['nad/%s' % item['metadata']['name']] = item['metadata']['resourceVersion']
    for item in client.AppsV1Api(api_client).list_namespaced_deployment('default').items:
        versions['deployment/%s' % item.metadata.name] = item.metadata.resource_version
    return versions


def test_bad_variables_stop_before_any_change(lab, setup, api, tmp_path):
    import ansible_runner  # pylint: disable=import-outside-toplevel
    nodes_before = dict((name, node.snapshot()) for name, node in lab.nodes.items())
    cluster_before = cluster_versions(api)
    files = [os.path.join(lab.node_root(name), 'etc', 'harvester-network', 'state.json') for name in lab.nodes]
    files_before = [read_text(path) for path in files]
    private = tmp_path / 'runner'
    private.mkdir()
    started = time.monotonic()
    runner = ansible_runner.run(
        private_data_dir=str(private), playbook=os.path.join(os.path.dirname(__file__), 'playbooks', 'bad_vars.yml'),
        inventory=setup['inventories'], cmdline='-e harvester_kubeconfig=%s' % setup['vars']['harvester_kubeconfig'],
        envvars=dict((k, v) for k, v in ansible_env().items() if k.startswith(('ANSIBLE_', 'HN_')) or k == 'PATH'),
        quiet=True, timeout=1500)
    TIMINGS['bad variables'] = round(time.monotonic() - started, 1)
    events = list(runner.events)
    output = '\n'.join(e.get('stdout', '') for e in events if e.get('stdout'))
    assert runner.rc == 0, output[-6000:]
    reports = [e['event_data']['res'] for e in events
               if e.get('event') == 'runner_on_ok' and e['event_data'].get('task') == 'Report the messages']
    messages = reports[-1]['bad_messages']
    for case, words in EXPECTED.items():
        assert case in messages, (case, messages)
        for word in words:
            assert word in messages[case], (case, word, messages[case])
    assert dict((name, node.snapshot()) for name, node in lab.nodes.items()) == nodes_before
    assert cluster_versions(api) == cluster_before
    assert [read_text(path) for path in files] == files_before
    sys.stderr.write('\n[roles] bad variables: %s\n' % json.dumps(messages, indent=1))


# ---- 6. removing the DHCP servers and a network -------------------------------------------------------------------
def test_absent_servers_and_unused_vlan_are_removed(lab, setup, api):
    teardown = dict(setup['vars'])
    teardown['harvester_vlan_networks'] = [net for net in teardown['harvester_vlan_networks'] if net['vlan_id'] == 100]
    teardown['harvester_vlan_networks_prune'] = True
    teardown['dhcp_server_networks'] = [dict(item, state='absent') for item in teardown['dhcp_server_networks']]
    teardown['harvester_serial'] = 1  # the documented default: one node per batch, here for the trunk refresh
    path = os.path.join(setup['folder'], 'teardown.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(teardown, handle)
    server = lab.nodes[SERVER_NODE]
    files = node_paths(lab, SERVER_NODE)
    pidfile = os.path.join(files['dhcp_server_run_dir'], 'dhcp-vlan100-dhcp.pid')
    pid = int(read_text(pidfile))
    # check mode first: it reports the removals and changes nothing
    nodes_before = dict((name, node.snapshot()) for name, node in lab.nodes.items())
    cluster_before = cluster_versions(api)
    check = ansible_playbook(os.path.join(PLAYBOOKS, 'vlan_networks.yml'), setup['inventories'], ['@' + path],
                             args=['--check', os.path.join(PLAYBOOKS, 'dhcp.yml')])
    report('teardown in check mode', check)
    assert check.rc == 0, check.tail()
    assert check.recap[SERVER_NODE]['changed'] > 0 and check.recap['localhost']['changed'] > 0, check.recap
    assert dict((name, node.snapshot()) for name, node in lab.nodes.items()) == nodes_before
    assert cluster_versions(api) == cluster_before
    assert os.path.exists(pidfile) and lab.exists('/proc/%d' % pid)

    # one ansible-playbook run, two playbooks: the servers go first, then the network (and VID 200 with it)
    run = ansible_playbook(os.path.join(PLAYBOOKS, 'vlan_networks.yml'), setup['inventories'], ['@' + path],
                           args=[os.path.join(PLAYBOOKS, 'dhcp.yml')])
    report('teardown (dhcp.yml + vlan_networks.yml)', run)
    assert run.rc == 0, run.tail()
    for name, node in lab.nodes.items():
        assert uplink_vids(node) == [100], (name, node.vlans()['data-bo'])
    links = server.links()
    assert 'dhcp100' not in links and 'dhcp100p' not in links
    assert not os.path.exists(os.path.join(files['dhcp_server_config_dir'], 'vlan100-dhcp.conf'))
    assert not os.path.exists(os.path.join(files['dhcp_server_lease_dir'], 'vlan100-dhcp.leases'))
    assert not os.path.exists(pidfile)
    assert not lab.exists('/proc/%d' % pid)
    client, api_client = api
    from kubernetes.client.exceptions import ApiException  # pylint: disable=import-outside-toplevel
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    reads = {'deployment': lambda: apps.read_namespaced_deployment('vlan200-dhcp', 'default'),
             'configmap': lambda: core.read_namespaced_config_map('vlan200-dhcp', 'default'),
             'claim': lambda: core.read_namespaced_persistent_volume_claim('vlan200-dhcp-leases', 'default'),
             'nad': lambda: client.CustomObjectsApi(api_client).get_namespaced_custom_object(
                 'k8s.cni.cncf.io', 'v1', 'default', 'network-attachment-definitions', 'vlan200')}
    for what, reader in reads.items():
        try:
            found = reader()
        except ApiException as exc:
            assert exc.status == 404, (what, exc)
            continue
        # a claim waits for its pvc-protection finalizer, which no controller of the bed removes
        metadata = found.metadata if hasattr(found, 'metadata') else found['metadata']
        deleting = metadata.deletion_timestamp if hasattr(metadata, 'deletion_timestamp') else \
            metadata.get('deletionTimestamp')
        assert what == 'claim' and deleting, (what, 'still there')
    # the saved state follows: VID 200 is gone from it too
    saved = saved_state(lab, SERVER_NODE)
    assert sorted(saved['vlans']['data-bo']['vids']) == [100]
