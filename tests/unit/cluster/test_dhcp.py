"""The DHCP server builders: the address plan check, the dnsmasq configuration, the containerized server's objects."""

import json

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster import dhcp
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ValidationError

GOOD = dict(cidr='192.168.100.0/24', server_address='192.168.100.2', pool_start='192.168.100.100',
            pool_end='192.168.100.199', gateway='192.168.100.1')


def plan(**changes):
    values = dict(GOOD)
    values.update(changes)
    return dhcp.address_plan(**values)


def test_good_plan_is_normalised():
    result = plan(dns_servers=['192.168.100.1', '9.9.9.9'])
    assert result['netmask'] == '255.255.255.0'
    assert result['server_interface_address'] == '192.168.100.2/24'
    assert result['pool_size'] == 100
    assert result['dns_servers'] == ['192.168.100.1', '9.9.9.9']


@pytest.mark.parametrize('changes, field, words', [
    ({'cidr': '192.168.100.0'}, 'cidr', 'not a CIDR'),
    ({'cidr': '192.168.100.7/24'}, 'cidr', 'host bits'),
    ({'cidr': 'fd00::/64'}, 'cidr', 'IPv6'),
    ({'cidr': '192.168.100.0/31'}, 'cidr', '/31'),
    ({'pool_start': '192.168.101.10'}, 'pool_start', 'outside 192.168.100.0/24'),
    ({'pool_end': '192.168.100.255'}, 'pool_end', 'broadcast'),
    ({'pool_start': '192.168.100.0'}, 'pool_start', 'network address'),
    ({'pool_start': '192.168.100.200', 'pool_end': '192.168.100.150'}, 'pool_start', 'after its end'),
    ({'server_address': '192.168.100.150'}, 'pool_start', 'contains the server address'),
    ({'gateway': '192.168.100.120'}, 'pool_start', 'contains the gateway'),
    ({'gateway': '192.168.100.2'}, 'server_address', 'also the server address'),
    ({'gateway': '10.0.0.1'}, 'gateway', 'outside'),
    ({'server_address': 'not-an-ip'}, 'server_address', 'not an IP address'),
    ({'dns_servers': ['1.1.1.1', 'x']}, 'dns_servers[1]', 'not an IP address'),
])
def test_bad_plans_name_the_field(changes, field, words):
    with pytest.raises(ValidationError) as info:
        plan(**changes)
    assert info.value.field == field
    assert words in str(info.value)
    assert str(info.value).startswith(field + ':')


def test_prefix_goes_in_front_of_field_names():
    values = dict(GOOD)
    values.update(pool_end='10.1.1.1', prefix='dhcp_server_networks[2].')
    with pytest.raises(ValidationError) as info:
        dhcp.address_plan(**values)
    assert info.value.field == 'dhcp_server_networks[2].pool_end'


def test_pool_may_touch_but_not_contain_server_and_gateway():
    result = plan(gateway='192.168.100.1', server_address='192.168.100.2', pool_start='192.168.100.3',
                  pool_end='192.168.100.254')
    assert result['pool_size'] == 252


@pytest.mark.parametrize('value, expected', [('12h', '12h'), ('3600', '3600'), ('infinite', 'infinite'),
                                             ('2M', '2m'), (None, '12h')])
def test_lease_time(value, expected):
    assert dhcp.lease_time('lease_time', value) == expected


@pytest.mark.parametrize('value', ['60', '1m', 'soon', '12x', ''])
def test_bad_lease_time(value):
    with pytest.raises(ValidationError):
        dhcp.lease_time('lease_time', value)


def test_dnsmasq_config_binds_one_interface_and_serves_dhcp_only():
    text = dhcp.dnsmasq_config(plan(dns_servers=['192.168.100.1']), 'eth1', '/var/lib/x/leases', '12h', 'default/v100')
    lines = text.splitlines()
    assert 'port=0' in lines  # no DNS
    assert 'interface=eth1' in lines and 'bind-interfaces' in lines
    assert [line for line in lines if line.startswith('interface=')] == ['interface=eth1']
    assert 'dhcp-leasefile=/var/lib/x/leases' in lines
    assert 'dhcp-range=set:vlan,192.168.100.100,192.168.100.199,255.255.255.0,12h' in lines
    assert 'dhcp-option=tag:vlan,option:router,192.168.100.1' in lines
    assert 'dhcp-option=tag:vlan,option:dns-server,192.168.100.1' in lines


def test_dnsmasq_config_without_gateway_sends_no_router():
    text = dhcp.dnsmasq_config(plan(gateway=None), 'eth1', '/l', '1h', 'default/v100')
    assert 'dhcp-option=tag:vlan,option:router\n' in text


PARAMS = dict(name='v100-dhcp', namespace='lab', image=None, image_pull_policy=None, leases=None, node_selector=None)


def test_objects_of_the_containerized_server():
    config = dhcp.dnsmasq_config(plan(), 'eth1', dhcp.container_lease_file('v100-dhcp'), '12h', 'nets/v100')
    objects = dhcp.server_objects(PARAMS, 'nets', 'v100', plan(), config)
    kinds = [kind.kind for kind, _obj in objects]
    assert kinds == ['PersistentVolumeClaim', 'ConfigMap', 'Deployment']
    claim, config_map, deployment = [obj for _kind, obj in objects]
    assert claim['metadata']['name'] == 'v100-dhcp-leases'
    assert config_map['data'] == {'dnsmasq.conf': config}
    template = deployment['spec']['template']
    networks = json.loads(template['metadata']['annotations']['k8s.v1.cni.cncf.io/networks'])
    assert networks == [{'name': 'v100', 'namespace': 'nets', 'interface': 'eth1'}]
    assert deployment['spec']['strategy'] == {'type': 'Recreate'}
    assert deployment['spec']['replicas'] == 1
    assert deployment['spec']['selector']['matchLabels'].items() <= template['metadata']['labels'].items()
    init = template['spec']['initContainers'][0]
    assert '192.168.100.2/24' in init['command'][-1] and 'dev eth1' in init['command'][-1]
    main = template['spec']['containers'][0]
    assert '--conf-file=/etc/harvester-network/dnsmasq.conf' in main['args']
    volumes = dict((v['name'], v) for v in template['spec']['volumes'])
    assert volumes['config']['configMap'] == {'name': 'v100-dhcp'}
    assert volumes['leases']['persistentVolumeClaim'] == {'claimName': 'v100-dhcp-leases'}
    assert 'dhcp-leasefile=/var/lib/harvester-network/v100-dhcp.leases' in config


def config_hash_of(deployment):
    return deployment['spec']['template']['metadata']['annotations']['harvester.network/config-hash']


def test_config_change_rolls_the_pod_and_ephemeral_leases_drop_the_claim():
    first = dhcp.server_objects(PARAMS, 'nets', 'v100', plan(), 'a\n')[-1][1]
    second = dhcp.server_objects(dict(PARAMS, leases={'persistent': False}), 'nets', 'v100', plan(), 'b\n')
    assert [kind.kind for kind, _obj in second] == ['ConfigMap', 'Deployment']
    assert config_hash_of(first) != config_hash_of(second[-1][1])
    volumes = dict((v['name'], v) for v in second[-1][1]['spec']['template']['spec']['volumes'])
    assert volumes['leases'] == {'name': 'leases', 'emptyDir': {}}
