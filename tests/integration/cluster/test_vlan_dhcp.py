"""vlan_dhcp against a real kube-apiserver: the containerized DHCP server's claim, ConfigMap and Deployment.

The handler runs in this pytest process (fast); one playbook runs the real module through ansible-playbook.  The
bed has no kubelet, so the pod never runs: what is checked is what the server stores and validates.
"""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import Cluster
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ValidationError
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import (
    cluster_network_handler, vlan_network_handler)
from ansible_collections.harvester.network.plugins.modules.vlan_dhcp import vlan_dhcp_handler

AUTH = dict(context=None, host=None, api_key=None, validate_certs=True, ca_cert=None, client_cert=None,
            client_key=None, proxy=None, force_conflicts=False)
DHCP = dict(name='v100-dhcp', namespace='default', network=None, cidr=None, gateway=None, server_address=None,
            pool_start=None, pool_end=None, lease_time='12h', dns_servers=None, image='docker.io/4km3/dnsmasq:2.90-r3',
            image_pull_policy='IfNotPresent', leases=None, node_selector=None, interface=None, lease_file=None,
            state='present')
ROUTE = {'mode': 'manual', 'cidr': '192.168.100.0/24', 'gateway': '192.168.100.1', 'dhcp_server': '192.168.100.2'}


class ModuleStandIn(object):
    def __init__(self, check_mode=False):
        self.check_mode = check_mode
        self._diff = True


def call(server, handler, defaults, check=False, **params):
    full = dict(AUTH, kubeconfig=server.kubeconfig)
    full.update(defaults)
    full.update(params)
    cluster = Cluster(full, check_mode=check)
    result = handler(full, cluster, ModuleStandIn(check))
    return result, (cluster._transport.log if cluster._transport is not None else [])


def read(server, path):
    status, body = server.request('GET', path)
    return body if status == 200 else None


def gone(server, path):
    """Deleted, or being deleted (a claim keeps its pvc-protection finalizer: the bed runs no controller)."""
    body = read(server, path)
    return body is None or bool(body['metadata'].get('deletionTimestamp'))


def paths(namespace, name='v100-dhcp'):
    return {'deployment': '/apis/apps/v1/namespaces/%s/deployments/%s' % (namespace, name),
            'configmap': '/api/v1/namespaces/%s/configmaps/%s' % (namespace, name),
            'claim': '/api/v1/namespaces/%s/persistentvolumeclaims/%s-leases' % (namespace, name)}


def network(server, namespace, route='default', name='vlan100', vid=100):
    route = ROUTE if route == 'default' else route
    call(server, cluster_network_handler, dict(name='data', description=None, enable=None, default_physical_nic=None,
                                               node_nics=None, state='present', api_generation='auto'))
    call(server, vlan_network_handler, dict(name=name, namespace=namespace, cluster_network='data', network_type='vlan',
                                            vlan_id=vid, mtu=None, route=route, description=None, networks=None,
                                            prune=False, allow_duplicate_vids=False, state='present',
                                            api_generation='auto'))


def test_lifecycle(cluster, namespace, api_rvs):
    network(cluster, namespace)
    where = paths(namespace)
    result, _log = call(cluster, vlan_dhcp_handler, DHCP, namespace=namespace, network='vlan100',
                        pool_start='192.168.100.100', pool_end='192.168.100.199')
    assert result['changed']
    assert [c['kind'] for c in result['changes']] == ['PersistentVolumeClaim', 'ConfigMap', 'Deployment']
    assert result['network']['vlan_id'] == 100 and result['network']['bridge'] == 'data-br'
    # defaults from the route annotation
    assert result['address_plan']['gateway'] == '192.168.100.1'
    assert result['address_plan']['server_address'] == '192.168.100.2'
    deployment = read(cluster, where['deployment'])
    template = deployment['spec']['template']
    assert json.loads(template['metadata']['annotations']['k8s.v1.cni.cncf.io/networks']) == [
        {'name': 'vlan100', 'namespace': namespace, 'interface': 'eth1'}]
    assert template['spec']['initContainers'][0]['securityContext']['capabilities']['add'] == ['NET_ADMIN']
    assert deployment['spec']['strategy']['type'] == 'Recreate'
    config = read(cluster, where['configmap'])['data']['dnsmasq.conf']
    assert 'interface=eth1' in config and 'dhcp-option=tag:vlan,option:router,192.168.100.1' in config
    claim = read(cluster, where['claim'])
    assert claim['spec']['resources']['requests']['storage'] == '64Mi'

    # re-run: no write
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_dhcp_handler, DHCP, namespace=namespace, network='vlan100',
                       pool_start='192.168.100.100', pool_end='192.168.100.199')
    assert not result['changed'] and api_rvs(cluster) == rvs

    # check mode: a new pool changes the ConfigMap and rolls the pod, nothing is stored
    version = deployment['metadata']['resourceVersion']
    result, log = call(cluster, vlan_dhcp_handler, DHCP, check=True, namespace=namespace, network='vlan100',
                       pool_start='192.168.100.100', pool_end='192.168.100.150')
    assert result['changed']
    assert sorted(c['kind'] for c in result['changes']) == ['ConfigMap', 'Deployment']
    assert read(cluster, where['deployment'])['metadata']['resourceVersion'] == version
    assert '192.168.100.199' in read(cluster, where['configmap'])['data']['dnsmasq.conf']

    # leases not persistent: the claim goes, the pod gets an emptyDir
    result, _log = call(cluster, vlan_dhcp_handler, DHCP, namespace=namespace, network='vlan100',
                        pool_start='192.168.100.100', pool_end='192.168.100.199', leases={'persistent': False})
    assert ('PersistentVolumeClaim', 'delete') in [(c['kind'], c['action']) for c in result['changes']]
    assert gone(cluster, where['claim'])
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_dhcp_handler, DHCP, namespace=namespace, network='vlan100',
                       pool_start='192.168.100.100', pool_end='192.168.100.199', leases={'persistent': False})
    assert not result['changed'] and api_rvs(cluster) == rvs
    volumes = read(cluster, where['deployment'])['spec']['template']['spec']['volumes']
    assert {'name': 'leases', 'emptyDir': {}} in volumes

    # absent removes everything; again: nothing to do
    result, _log = call(cluster, vlan_dhcp_handler, DHCP, namespace=namespace, state='absent')
    assert result['changed'] and all(gone(cluster, path) for path in where.values())
    rvs = api_rvs(cluster)
    result, log = call(cluster, vlan_dhcp_handler, DHCP, namespace=namespace, state='absent')
    assert not result['changed'] and api_rvs(cluster) == rvs


@pytest.mark.parametrize('params, field', [
    ({'network': 'nosuch'}, 'network'),
    ({'pool_end': '192.168.101.10'}, 'pool_end'),
    ({'pool_start': '192.168.100.1'}, 'pool_start'),  # contains the gateway
    ({'server_address': '192.168.100.150'}, 'pool_start'),  # contains the server
    ({'lease_time': '30'}, 'lease_time'),
    ({'interface': 'eth0'}, 'interface'),  # rendered only
])
def test_bad_inputs_write_nothing(cluster, namespace, api_rvs, params, field):
    network(cluster, namespace)
    rvs = api_rvs(cluster)
    values = dict(network='vlan100', pool_start='192.168.100.100', pool_end='192.168.100.199')
    values.update(params)
    full = dict(AUTH, kubeconfig=cluster.kubeconfig)
    full.update(DHCP)
    full.update(values, namespace=namespace)
    cluster_view = Cluster(full)
    with pytest.raises(ValidationError) as info:
        vlan_dhcp_handler(full, cluster_view, ModuleStandIn())
    assert info.value.field == field
    assert api_rvs(cluster) == rvs
    assert read(cluster, paths(namespace)['deployment']) is None


def test_network_without_route_needs_cidr(cluster, namespace):
    network(cluster, namespace, route=None, name='bare', vid=7)
    with pytest.raises(ValidationError) as info:
        call(cluster, vlan_dhcp_handler, DHCP, namespace=namespace, network='bare', pool_start='10.7.0.10',
             pool_end='10.7.0.20')
    assert info.value.field == 'cidr'
    result, _log = call(cluster, vlan_dhcp_handler, DHCP, namespace=namespace, network='bare', cidr='10.7.0.0/24',
                        server_address='10.7.0.2', pool_start='10.7.0.10', pool_end='10.7.0.20')
    assert result['changed'] and result['address_plan']['gateway'] is None


def test_rendered_needs_no_cluster():
    params = dict(AUTH, kubeconfig='/nonexistent/kubeconfig')
    params.update(DHCP, network='vlan100', cidr='192.168.100.0/24', server_address='192.168.100.2',
                  pool_start='192.168.100.100', pool_end='192.168.100.199', interface='dhcp100',
                  lease_file='/var/lib/harvester-network/dhcp/v100-dhcp.leases', state='rendered')
    cluster_view = Cluster(params)
    result = vlan_dhcp_handler(params, cluster_view, ModuleStandIn())
    assert cluster_view._transport is None  # never connected
    assert 'interface=dhcp100' in result['config'].splitlines()
    assert 'dhcp-leasefile=/var/lib/harvester-network/dhcp/v100-dhcp.leases' in result['config'].splitlines()
    assert [o['kind'] for o in result['objects']] == ['PersistentVolumeClaim', 'ConfigMap', 'Deployment']
    assert not result['changed']


def test_module_through_ansible_playbook(cluster, namespace, tmp_path):
    network(cluster, namespace)
    play = tmp_path / 'play.yml'
    play.write_text('''
- hosts: localhost
  gather_facts: false
  tasks:
    - harvester.network.vlan_dhcp:
        name: v100-dhcp
        namespace: %(ns)s
        network: vlan100
        pool_start: 192.168.100.100
        pool_end: 192.168.100.199
      register: first
    - harvester.network.vlan_dhcp:
        name: v100-dhcp
        namespace: %(ns)s
        network: vlan100
        pool_start: 192.168.100.100
        pool_end: 192.168.100.199
      register: second
    - ansible.builtin.assert:
        that: [first is changed, second is not changed, "first.address_plan.pool_size == 100"]
''' % {'ns': namespace})
    env = dict(cluster.env)
    env.update({'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_LOCALHOST_WARNING': '0', 'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
                'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0', 'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'tmp'),
                'ANSIBLE_COLLECTIONS_PATH': os.environ['ANSIBLE_COLLECTIONS_PATH']})
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,',
                           '-c', 'local', str(play)], env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert read(cluster, paths(namespace)['deployment']) is not None
