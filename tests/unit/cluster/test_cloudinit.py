"""Generated cloud-init data, checked by cloud-init's own parser, renderers and schema (not by our code)."""

import jsonschema
import pytest
import yaml

from ansible_collections.harvester.network.plugins.module_utils.cluster import cloudinit
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ValidationError

NICS = [
    {'name': 'default', 'guest_name': 'enp1s0', 'ip_mode': 'dhcp'},
    {'name': 'nic-1', 'guest_name': 'enp2s0', 'mac': '52:54:00:aa:bb:01', 'ip_mode': 'static',
     'addresses': ['192.168.100.10/24'], 'gateway': '192.168.100.1', 'dns': ['192.168.100.2']},
    {'name': 'nic-2', 'guest_name': 'enp3s0', 'ip_mode': 'dhcp'},
    {'name': 'nic-3', 'guest_name': 'enp4s0', 'ip_mode': 'static', 'addresses': ['fd00:100::10/64', '10.3.0.5/16']},
    {'name': 'nic-4', 'guest_name': 'enp5s0', 'ip_mode': 'none'},
]


@pytest.mark.parametrize('version', [1, 2])
def test_network_data_parsed_and_rendered_by_cloud_init(real_cloudinit, version):
    network_state, eni, netplan, _schema, _version = real_cloudinit
    text = cloudinit.network_data_text(NICS, version)
    data = yaml.safe_load(text)
    state = network_state.parse_net_config_data(data)
    interfaces = list(state.iter_interfaces())
    assert len(interfaces) == 4  # nic-4 is left alone
    by_mac = dict((i['mac_address'], i) for i in interfaces if i.get('mac_address'))
    assert by_mac['52:54:00:aa:bb:01']['subnets'][0]['address'] == '192.168.100.10'
    rendered = eni.Renderer({})._render_interfaces(state)
    # every extra NIC comes up: the ENI renderer writes an "auto" stanza per NIC
    for nic in NICS[:4]:
        name = nic['guest_name'] if version == 1 or nic.get('mac') else nic['name']
        assert 'auto %s' % name in rendered
    assert 'iface enp2s0 inet static' in rendered
    assert 'address 192.168.100.10/24' in rendered
    assert 'iface %s inet dhcp' % ('enp3s0' if version == 1 else 'nic-2') in rendered
    netplan_yaml = netplan.Renderer({})._render_content(state)
    assert 'enp2s0' in netplan_yaml


def test_network_data_v1_shape():
    data = cloudinit.network_data(NICS[:2], 1)
    assert data == {'version': 1, 'config': [
        {'type': 'physical', 'name': 'enp1s0', 'subnets': [{'type': 'dhcp'}]},
        {'type': 'physical', 'name': 'enp2s0', 'mac_address': '52:54:00:aa:bb:01',
         'subnets': [{'type': 'static', 'address': '192.168.100.10/24', 'gateway': '192.168.100.1',
                      'dns_nameservers': ['192.168.100.2']}]}]}


def test_network_data_v2_shape():
    data = cloudinit.network_data(NICS[:2], 2)
    assert data['ethernets']['nic-1'] == {
        'match': {'macaddress': '52:54:00:aa:bb:01'}, 'set-name': 'enp2s0', 'addresses': ['192.168.100.10/24'],
        'routes': [{'to': '0.0.0.0/0', 'via': '192.168.100.1'}], 'nameservers': {'addresses': ['192.168.100.2']}}
    assert data['ethernets']['default'] == {'match': {'name': 'enp1s0'}, 'dhcp4': True}


@pytest.mark.parametrize('user_data', [
    {'password': 'x', 'chpasswd': {'expire': False}},
    '#cloud-config\npackages: [htop]\nruncmd:\n  - [echo, hi]\n',
    None,
])
def test_user_data_with_guest_agent_valid_cloud_config(real_cloudinit, user_data):
    schema = real_cloudinit[3]
    text = cloudinit.user_data_text('user_data', user_data, guest_agent=True)
    assert text.startswith('#cloud-config\n')
    config = yaml.safe_load(text)
    jsonschema.validate(config, schema)
    assert 'qemu-guest-agent' in config['packages']
    assert ['systemctl', 'enable', '--now', 'qemu-guest-agent.service'] in config['runcmd']
    # idempotent: adding the agent twice changes nothing
    assert cloudinit.user_data_text('user_data', text, guest_agent=True) == text


def test_cloud_config_schema_catches_mistakes(real_cloudinit):
    """The schema is a real validator: a wrongly typed key fails."""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({'packages': 'qemu-guest-agent', 'runcmd': 5}, real_cloudinit[3])


def test_user_data_text_passthrough_and_refusals():
    assert cloudinit.user_data_text('user_data', '#!/bin/sh\necho hi\n') == '#!/bin/sh\necho hi\n'
    with pytest.raises(ValidationError, match='guest_agent=true needs cloud-config'):
        cloudinit.user_data_text('user_data', '#!/bin/sh\necho hi\n', guest_agent=True)
    with pytest.raises(ValidationError, match='not valid YAML'):
        cloudinit.user_data_text('user_data', '#cloud-config\n[unclosed')
    assert cloudinit.user_data_text('user_data', None) is None


def test_default_guest_names():
    assert [cloudinit.default_guest_name(i) for i in range(3)] == ['enp1s0', 'enp2s0', 'enp3s0']
