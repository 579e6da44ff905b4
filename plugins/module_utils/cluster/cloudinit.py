# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure cloud-init builders: user data (with the guest agent) and network data that brings up every NIC.

Only the first NIC of a Harvester VM comes up by itself; extra NICs need network data (harvester/harvester#2068).
Network config version 1 (``type: physical`` + ``subnets``) and version 2 (netplan-style ``ethernets``) are both
produced from one list of NICs.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
from collections import OrderedDict

from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ValidationError

try:
    import yaml
    HAS_YAML = True
except ImportError:  # PyYAML comes with the kubernetes client; the module reports it through missing_required_lib
    yaml = None
    HAS_YAML = False

CLOUD_CONFIG_HEADER = '#cloud-config'
GUEST_AGENT_PACKAGE = 'qemu-guest-agent'
GUEST_AGENT_RUNCMD = ['systemctl', 'enable', '--now', 'qemu-guest-agent.service']


def _plain(value):
    """OrderedDicts -> dicts (recursively) so safe_dump can write them."""
    if isinstance(value, dict):
        return dict((k, _plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def dump_yaml(data):
    if yaml is None:  # JSON is YAML; keeps the output deterministic without PyYAML
        return json.dumps(_plain(data), indent=2, sort_keys=False) + '\n'
    return yaml.safe_dump(_plain(data), default_flow_style=False, sort_keys=False)


def parse_user_data(field, user_data):
    """``user_data`` as the module takes it (dict, ``#cloud-config`` text, other text) -> (dict or None, text)."""
    if user_data is None:
        return {}, None
    if isinstance(user_data, dict):
        return dict(user_data), None
    if not isinstance(user_data, str):
        raise ValidationError('give a dict (cloud-config) or a string', field=field)
    if user_data.lstrip().startswith(CLOUD_CONFIG_HEADER):
        if yaml is None:
            return None, user_data
        try:
            parsed = yaml.safe_load(user_data)
        except yaml.YAMLError as exc:
            raise ValidationError('the #cloud-config text is not valid YAML: %s' % exc, field=field)
        if parsed is None:
            parsed = {}
        if not isinstance(parsed, dict):
            raise ValidationError('#cloud-config must be a YAML mapping', field=field)
        return parsed, None
    return None, user_data


def user_data_text(field, user_data, guest_agent=False, authorized_keys=None):
    """The ``userData`` string: cloud-config with ``qemu-guest-agent`` installed and started when asked, and the
    public keys of the VM's key pairs in ``ssh_authorized_keys`` (what Harvester's UI and the Terraform provider
    inject for the VM's SSH keys, harvester/terraform-provider-harvester
    internal/provider/virtualmachine/resource_virtualmachine_constructor.go @adbcedb40c6a)."""
    config, text = parse_user_data(field, user_data)
    if config is None:
        if guest_agent:
            raise ValidationError('guest_agent=true needs cloud-config user data (a dict, or text starting with '
                                  '#cloud-config) so the qemu-guest-agent package can be added', field=field)
        if authorized_keys:
            raise ValidationError('ssh_keys need cloud-config user data (a dict, or text starting with '
                                  '#cloud-config) so their public keys can be added', field='ssh_keys')
        return text
    if authorized_keys:
        keys = list(config.get('ssh_authorized_keys') or [])
        keys.extend(key for key in authorized_keys if key not in keys)
        config['ssh_authorized_keys'] = keys
    if guest_agent:
        packages = list(config.get('packages') or [])
        if GUEST_AGENT_PACKAGE not in packages:
            packages.append(GUEST_AGENT_PACKAGE)
        config['packages'] = packages
        runcmd = list(config.get('runcmd') or [])
        if GUEST_AGENT_RUNCMD not in runcmd:
            runcmd.append(list(GUEST_AGENT_RUNCMD))
        config['runcmd'] = runcmd
    if not config:
        return None
    return CLOUD_CONFIG_HEADER + '\n' + dump_yaml(config)


def default_guest_name(index):
    """KubeVirt puts each virtio NIC on its own PCIe root port: the guest sees enp1s0, enp2s0, ..."""
    return 'enp%ds0' % (index + 1)


def _v1_subnets(nic):
    mode = nic.get('ip_mode') or 'dhcp'
    if mode == 'dhcp':
        return [{'type': 'dhcp'}]
    if mode == 'dhcp6':
        return [{'type': 'dhcp6'}]
    subnets = []
    for position, address in enumerate(nic.get('addresses') or []):
        subnet = OrderedDict([('type', 'static6' if ':' in address else 'static'), ('address', address)])
        if position == 0 and nic.get('gateway'):
            subnet['gateway'] = nic['gateway']
        if position == 0 and nic.get('dns'):
            subnet['dns_nameservers'] = list(nic['dns'])
        subnets.append(subnet)
    return subnets


def network_data_v1(nics):
    """cloud-init network config version 1. ``nics``: dicts with guest_name, mac, ip_mode, addresses, gateway, dns."""
    config = []
    for nic in nics:
        if (nic.get('ip_mode') or 'dhcp') == 'none':
            continue
        entry = OrderedDict([('type', 'physical'), ('name', nic['guest_name'])])
        if nic.get('mac'):
            entry['mac_address'] = nic['mac']
        entry['subnets'] = _v1_subnets(nic)
        config.append(entry)
    return OrderedDict([('version', 1), ('config', config)])


def network_data_v2(nics):
    """cloud-init network config version 2 (netplan subset)."""
    ethernets = OrderedDict()
    for nic in nics:
        mode = nic.get('ip_mode') or 'dhcp'
        if mode == 'none':
            continue
        entry = OrderedDict()
        if nic.get('mac'):
            entry['match'] = {'macaddress': nic['mac']}
            entry['set-name'] = nic['guest_name']
        else:
            entry['match'] = {'name': nic['guest_name']}
        if mode == 'dhcp':
            entry['dhcp4'] = True
        elif mode == 'dhcp6':
            entry['dhcp6'] = True
        else:
            entry['addresses'] = list(nic.get('addresses') or [])
            if nic.get('gateway'):
                entry['routes'] = [{'to': '::/0' if ':' in nic['gateway'] else '0.0.0.0/0', 'via': nic['gateway']}]
            if nic.get('dns'):
                entry['nameservers'] = {'addresses': list(nic['dns'])}
        ethernets[nic['name']] = entry
    return OrderedDict([('version', 2), ('ethernets', ethernets)])


def network_data(nics, version=1):
    return network_data_v1(nics) if version == 1 else network_data_v2(nics)


def network_data_text(nics, version=1):
    return dump_yaml(network_data(nics, version))
