# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure input checks. Each raises ValidationError naming the field and saying what to fix; all of them run before
anything is sent to the cluster."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import Errors, ValidationError
from ansible_collections.harvester.network.plugins.module_utils.host.vocabulary import (
    MAX_CLUSTER_NETWORK_NAME, VID_MAX, VID_MIN, is_nic_name)

try:
    import netaddr
    HAS_NETADDR = True
except ImportError:  # reported by the module through missing_required_lib
    netaddr = None
    HAS_NETADDR = False

DNS1123_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
DNS1123_SUBDOMAIN = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
MAC = re.compile(r'^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$')
QUANTITY = re.compile(r'^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$')
LABEL_NAME = re.compile(r'^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$')
LABEL_VALUE = re.compile(r'^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$')

MTU_MIN, MTU_MAX = 576, 9000


def dns1123_label(field, value, max_length=63):
    if not isinstance(value, str) or not value:
        raise ValidationError('must be a non-empty string', field=field)
    if len(value) > max_length:
        raise ValidationError('%r is %d characters long; the limit is %d' % (value, len(value), max_length),
                              field=field)
    if not DNS1123_LABEL.match(value):
        raise ValidationError('%r is not a DNS-1123 label: use lower-case letters, digits and "-", starting and '
                              'ending with a letter or digit' % value, field=field)
    return value


def dns1123_subdomain(field, value, max_length=253):
    if not isinstance(value, str) or not value:
        raise ValidationError('must be a non-empty string', field=field)
    if len(value) > max_length or not DNS1123_SUBDOMAIN.match(value):
        raise ValidationError('%r is not a DNS-1123 name: use lower-case letters, digits, "-" and ".", starting and '
                              'ending with a letter or digit, at most %d characters' % (value, max_length), field=field)
    return value


def cluster_network_name(field, value):
    dns1123_label(field, value, MAX_CLUSTER_NETWORK_NAME)
    return value


def vlan_id(field, value):
    if isinstance(value, bool) or not isinstance(value, int) or not VID_MIN <= value <= VID_MAX:
        raise ValidationError('VLAN ID %r is out of range: give %d-%d (for an untagged network set '
                              'network_type=untagged instead)' % (value, VID_MIN, VID_MAX), field=field)
    return value


def vlan_trunk(field, ranges):
    """A trunk network's VID ranges (``[{min_id, max_id}]``, max_id None for one VID), checked as Harvester's webhook
    checks ``vlanTrunk`` (harvester/network-controller-harvester pkg/utils/nad.go @2e5cbea3, ``VlanTrunk.IsValid``:
    every ID 1-4094 (``MinTrunkVlanID`` 1, ``MaxVlanID`` 4094), minID <= maxID; ``IsVlanConfigValid``: at least one
    entry makes it a trunk). The collection adds one rule of its own: ranges may not overlap or repeat a VID (Harvester
    and the bridge CNI plugin merge them into one set; an overlap is a typo here, and refusing it keeps the ranges read
    back by vlan_network_info the ones written). Collects every problem; returns ``ranges``."""
    errors = Errors()
    if not ranges:
        errors.add(field, 'a trunk network needs at least one VLAN range, e.g. [{min_id: 100, max_id: 199}]')
    spans = []
    for index, item in enumerate(ranges or []):
        here = '%s[%d]' % (field, index)
        low, high = item.get('min_id'), item.get('max_id')
        high = low if high is None else high
        bad = False
        for name, value in (('min_id', low), ('max_id', high)):
            if isinstance(value, bool) or not isinstance(value, int) or not VID_MIN <= value <= VID_MAX:
                errors.add('%s.%s' % (here, name), 'VLAN ID %r is out of range: give %d-%d' % (value, VID_MIN, VID_MAX))
                bad = True
        if not bad and high < low:
            errors.add(here, 'min_id %d is greater than max_id %d: give the lower VLAN ID as min_id' % (low, high))
            bad = True
        if not bad:
            spans.append((low, high, here))
    spans.sort()
    for (low_a, high_a, where_a), (low_b, high_b, where_b) in zip(spans, spans[1:]):
        if low_b <= high_a:
            errors.add(field, '%s (%d-%d) and %s (%d-%d) overlap: list each VLAN ID once'
                       % (where_a, low_a, high_a, where_b, low_b, high_b))
    errors.raise_if_any()
    return ranges


def mtu(field, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not MTU_MIN <= value <= MTU_MAX:
        raise ValidationError('MTU %r is out of range: give %d-%d' % (value, MTU_MIN, MTU_MAX), field=field)
    return value


def nic_name(field, value):
    if not is_nic_name(value):
        raise ValidationError('%r is not a Linux interface name: 1-15 characters, no spaces, "/" or ":"' % (value,),
                              field=field)
    return value


def mac_address(field, value):
    if value is None:
        return None
    if not isinstance(value, str) or not MAC.match(value):
        raise ValidationError('%r is not a MAC address: write six hex pairs like 52:54:00:12:34:56' % (value,),
                              field=field)
    normal = value.replace('-', ':').lower()
    if int(normal[:2], 16) & 1:
        raise ValidationError('%s is a multicast MAC address: the first octet must be even' % normal, field=field)
    return normal


def quantity(field, value):
    text = str(value)
    if not QUANTITY.match(text):
        raise ValidationError('%r is not a Kubernetes quantity: write e.g. 2Gi, 512Mi or 1' % (value,), field=field)
    return text


def labels(field, value):
    for key, label in (value or {}).items():
        name = key.rsplit('/', 1)[-1]
        prefix = key[:-len(name) - 1] if '/' in key else None
        if not LABEL_NAME.match(name) or len(name) > 63 or (prefix is not None and not DNS1123_SUBDOMAIN.match(prefix)):
            raise ValidationError('%r is not a valid label key' % key, field=field)
        if not isinstance(label, str) or len(label) > 63 or not LABEL_VALUE.match(label):
            raise ValidationError('label %s=%r: values are strings of at most 63 letters, digits, "-", "_" and "."'
                                  % (key, label), field=field)
    return value


def ip_address(field, value):
    try:
        return netaddr.IPAddress(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ValidationError('%r is not an IP address' % (value,), field=field)


def ip_network(field, value, allow_zero=False):
    if not isinstance(value, str) or '/' not in value:
        raise ValidationError('%r is not a CIDR: write it as ADDRESS/PREFIX, e.g. 192.168.100.0/24' % (value,),
                              field=field)
    try:
        network = netaddr.IPNetwork(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ValidationError('%r is not a CIDR: write it as ADDRESS/PREFIX, e.g. 192.168.100.0/24' % (value,),
                              field=field)
    if network.prefixlen == 0 and not allow_zero:
        raise ValidationError('%s covers every address: give the subnet of this network' % value, field=field)
    return network


def host_in_network(field, address, network):
    if address not in network:
        raise ValidationError('%s is outside %s: give an address inside the CIDR' % (address, network.cidr), field=field)
    if network.version == 4 and network.prefixlen < 31 and address in (network.network, network.broadcast):
        raise ValidationError('%s is the %s address of %s: give a host address'
                              % (address, 'network' if address == network.network else 'broadcast', network.cidr),
                              field=field)
    return address


def route(field, value):
    """Harvester's route annotation: manual needs a CIDR (not /0) and a gateway inside it."""
    if not value:
        return None
    mode = value.get('mode') or 'auto'
    network = None
    if value.get('cidr'):
        network = ip_network(field + '.cidr', value['cidr'])
    elif mode == 'manual':
        raise ValidationError('manual mode needs cidr: give the subnet, e.g. 192.168.100.0/24', field=field + '.cidr')
    if value.get('gateway'):
        gateway = ip_address(field + '.gateway', value['gateway'])
        if network is None:
            raise ValidationError('a gateway needs cidr: give the subnet the gateway sits in', field=field + '.cidr')
        host_in_network(field + '.gateway', gateway, network)
    elif mode == 'manual':
        raise ValidationError('manual mode needs gateway: give the router address inside cidr',
                              field=field + '.gateway')
    if value.get('dhcp_server'):
        server = ip_address(field + '.dhcp_server', value['dhcp_server'])
        if network is not None:
            host_in_network(field + '.dhcp_server', server, network)
        if value.get('gateway') and str(server) == str(netaddr.IPAddress(value['gateway'])):
            raise ValidationError('the DHCP server %s is also the gateway: give the DHCP server its own address'
                                  % server, field=field + '.dhcp_server')
    return value


def duplicates(items):
    seen, dup = set(), []
    for item in items:
        if item in seen and item not in dup:
            dup.append(item)
        seen.add(item)
    return dup


def node_selectors_overlap(selector_a, selector_b, nodes):
    """Whether two VlanConfig node selectors can select the same node.

    Empty selectors select every node (now and later); two selectors with one key set to different values never
    meet; otherwise the nodes that exist now decide.
    """
    selector_a = selector_a or {}
    selector_b = selector_b or {}
    if not selector_a or not selector_b:
        return True
    for key in set(selector_a) & set(selector_b):
        if selector_a[key] != selector_b[key]:
            return False
    if selector_a == selector_b:
        return True

    def selects(selector, node_labels):
        return all(node_labels.get(key) == value for key, value in selector.items())
    return any(selects(selector_a, node) and selects(selector_b, node) for node in nodes)
