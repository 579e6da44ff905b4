# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A DHCP server for one VLAN network, as pure functions: the address plan check, the dnsmasq configuration, and the
objects of the containerized server (ConfigMap, Deployment attached to the network through Multus, lease claim).

No I/O. ``vlan_dhcp`` writes the objects with the cluster layer's apply service; the ``dhcp_server`` role reuses the
address plan check and the dnsmasq configuration (``vlan_dhcp`` with ``state=rendered``) for a server on a node.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
from collections import OrderedDict

from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ValidationError
from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import Kind

try:
    import netaddr
except ImportError:  # reported by the module through missing_required_lib
    netaddr = None

CONFIG_MAP = Kind('', 'v1', 'configmaps', 'ConfigMap', True, 'the core API is not served')
LEASE_CLAIM = Kind('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', True, 'the core API is not served')
DEPLOYMENT = Kind('apps', 'v1', 'deployments', 'Deployment', True, 'the apps API is not served')

NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks'
CONFIG_HASH_ANNOTATION = 'harvester.network/config-hash'
LABEL_NAME = 'app.kubernetes.io/name'
LABEL_INSTANCE = 'app.kubernetes.io/instance'
LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by'
LABEL_NETWORK = 'harvester.network/vlan-network'
APP_NAME = 'vlan-dhcp'
MANAGED_BY = 'harvester.network'

POD_INTERFACE = 'eth1'
CONFIG_DIR = '/etc/harvester-network'
CONFIG_KEY = 'dnsmasq.conf'
LEASE_DIR = '/var/lib/harvester-network'
DEFAULT_IMAGE = 'docker.io/4km3/dnsmasq:2.90-r3'
DEFAULT_LEASE_TIME = '12h'
LEASE_TIME_UNITS = 'smhdw'


def _address(field, value):
    try:
        address = netaddr.IPAddress(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ValidationError('%r is not an IP address' % (value,), field=field)
    if address.version != 4:
        raise ValidationError('%s is an IPv6 address: this DHCP server hands out IPv4 leases; give an IPv4 address'
                              % address, field=field)
    return address


def _inside(field, address, network, what):
    if address not in network:
        raise ValidationError('%s %s is outside %s: give an address inside the network\'s CIDR'
                              % (what, address, network.cidr), field=field)
    if network.prefixlen < 31 and address in (network.network, network.broadcast):
        raise ValidationError('%s %s is the %s address of %s: give a host address'
                              % (what, address, 'network' if address == network.network else 'broadcast',
                                 network.cidr), field=field)


def lease_time(field, value):
    """dnsmasq lease times: ``infinite``, seconds, or a number with one of s/m/h/d/w (at least two minutes)."""
    text = str(value if value is not None else DEFAULT_LEASE_TIME).strip().lower()
    if text == 'infinite':
        return text
    number, unit = (text[:-1], text[-1]) if text and text[-1] in LEASE_TIME_UNITS else (text, 's')
    if not number.isdigit():
        raise ValidationError('%r is not a lease time: write e.g. 12h, 30m, 3600 or infinite' % (value,), field=field)
    seconds = int(number) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}[unit]
    if seconds < 120:
        raise ValidationError('%s is shorter than dnsmasq\'s minimum of two minutes' % text, field=field)
    return text


def address_plan(cidr, server_address, pool_start, pool_end, gateway=None, dns_servers=None, prefix=''):
    """Check the addresses of one DHCP server and return them normalised.

    The pool lies inside the CIDR, starts no later than it ends, and contains neither the server's own address nor
    the gateway; both of those are host addresses inside the CIDR. ``prefix`` is put in front of every field name
    in errors (``dhcp_server_networks[0].`` for the role). Raises ValidationError naming the field.
    """
    def field(name):
        return prefix + name

    if not isinstance(cidr, str) or '/' not in cidr:
        raise ValidationError('%r is not a CIDR: write it as ADDRESS/PREFIX, e.g. 192.168.100.0/24' % (cidr,),
                              field=field('cidr'))
    try:
        network = netaddr.IPNetwork(cidr)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ValidationError('%r is not a CIDR: write it as ADDRESS/PREFIX, e.g. 192.168.100.0/24' % (cidr,),
                              field=field('cidr'))
    if network.version != 4:
        raise ValidationError('%s is an IPv6 network: this DHCP server hands out IPv4 leases' % cidr,
                              field=field('cidr'))
    if network.prefixlen > 30 or network.prefixlen < 8:
        raise ValidationError('/%d does not fit a DHCP pool: give a prefix between /8 and /30' % network.prefixlen,
                              field=field('cidr'))
    if network.ip != network.network:
        raise ValidationError('%s has host bits set: the network is %s' % (cidr, network.cidr), field=field('cidr'))
    server = _address(field('server_address'), server_address)
    _inside(field('server_address'), server, network, 'the server address')
    gateway_address = None
    if gateway:
        gateway_address = _address(field('gateway'), gateway)
        _inside(field('gateway'), gateway_address, network, 'the gateway')
        if gateway_address == server:
            raise ValidationError('the gateway %s is also the server address: give the DHCP server its own address'
                                  % gateway_address, field=field('server_address'))
    start = _address(field('pool_start'), pool_start)
    end = _address(field('pool_end'), pool_end)
    _inside(field('pool_start'), start, network, 'the pool start')
    _inside(field('pool_end'), end, network, 'the pool end')
    if start > end:
        raise ValidationError('the pool starts at %s, after its end %s: swap pool_start and pool_end' % (start, end),
                              field=field('pool_start'))
    if start <= server <= end:
        raise ValidationError('the pool %s-%s contains the server address %s: leave the server outside the pool'
                              % (start, end, server), field=field('pool_start'))
    if gateway_address is not None and start <= gateway_address <= end:
        raise ValidationError('the pool %s-%s contains the gateway %s: leave the gateway outside the pool'
                              % (start, end, gateway_address), field=field('pool_start'))
    dns = []
    for index, item in enumerate(dns_servers or []):
        dns.append(str(_address(field('dns_servers[%d]' % index), item)))
    return OrderedDict([
        ('cidr', str(network.cidr)),
        ('netmask', str(network.netmask)),
        ('prefix_length', network.prefixlen),
        ('server_address', str(server)),
        ('server_interface_address', '%s/%d' % (server, network.prefixlen)),
        ('gateway', str(gateway_address) if gateway_address is not None else None),
        ('pool_start', str(start)),
        ('pool_end', str(end)),
        ('pool_size', int(end) - int(start) + 1),
        ('dns_servers', dns),
    ])


def dnsmasq_config(plan, interface, lease_file, lease_time_text, network_ref, tag='vlan'):
    """The dnsmasq configuration: DHCP only (no DNS), bound to ``interface`` alone, leases kept in ``lease_file``."""
    lines = [
        '# Managed by harvester.network: DHCP for VLAN network %s. Changes here are overwritten.' % network_ref,
        'port=0',
        'interface=%s' % interface,
        'bind-interfaces',
        'except-interface=lo',
        'dhcp-authoritative',
        'dhcp-leasefile=%s' % lease_file,
        'dhcp-range=set:%s,%s,%s,%s,%s' % (tag, plan['pool_start'], plan['pool_end'], plan['netmask'],
                                           lease_time_text),
    ]
    if plan.get('gateway'):
        lines.append('dhcp-option=tag:%s,option:router,%s' % (tag, plan['gateway']))
    else:
        lines.append('dhcp-option=tag:%s,option:router' % tag)  # an empty option: no default route for clients
    if plan.get('dns_servers'):
        lines.append('dhcp-option=tag:%s,option:dns-server,%s' % (tag, ','.join(plan['dns_servers'])))
    return '\n'.join(lines) + '\n'


def config_hash(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]


def labels(name, network_name):
    return OrderedDict([(LABEL_NAME, APP_NAME), (LABEL_INSTANCE, name), (LABEL_MANAGED_BY, MANAGED_BY),
                        (LABEL_NETWORK, network_name)])


def selector(name):
    return OrderedDict([(LABEL_NAME, APP_NAME), (LABEL_INSTANCE, name)])


def lease_claim_name(name):
    return '%s-leases' % name


def networks_annotation(network_namespace, network_name, interface=POD_INTERFACE):
    """Multus: attach the pod to the VLAN network as ``interface`` (Harvester's VM NICs use the same mechanism)."""
    return json.dumps([OrderedDict([('name', network_name), ('namespace', network_namespace),
                                    ('interface', interface)])], separators=(',', ':'))


def config_map(name, namespace, network_name, config_text):
    return OrderedDict([
        ('apiVersion', 'v1'), ('kind', 'ConfigMap'),
        ('metadata', OrderedDict([('name', name), ('namespace', namespace), ('labels', labels(name, network_name))])),
        ('data', {CONFIG_KEY: config_text}),
    ])


def lease_claim(name, namespace, network_name, size, storage_class=None):
    spec = OrderedDict([('accessModes', ['ReadWriteOnce']),
                        ('resources', {'requests': {'storage': size}})])
    if storage_class:
        spec['storageClassName'] = storage_class
    return OrderedDict([
        ('apiVersion', 'v1'), ('kind', 'PersistentVolumeClaim'),
        ('metadata', OrderedDict([('name', lease_claim_name(name)), ('namespace', namespace),
                                  ('labels', labels(name, network_name))])),
        ('spec', spec),
    ])


def deployment(name, namespace, network_namespace, network_name, plan, config_text, image=DEFAULT_IMAGE,
               image_pull_policy='IfNotPresent', persistent_leases=True, node_selector=None):
    """One replica (``Recreate``: never two servers answering at once), attached to the network as eth1.

    An init container gives eth1 the server address (the VLAN network's NAD has no IPAM, as Harvester writes it);
    dnsmasq then runs bound to eth1 only, its configuration mounted from the ConfigMap, its leases on the claim.
    The configuration's hash in the pod template rolls the pod when the configuration changes.
    """
    address_script = 'ip -4 addr flush dev {dev} && ip addr add {addr} dev {dev} && ip link set {dev} up'.format(
        dev=POD_INTERFACE, addr=plan['server_interface_address'])
    leases_volume = OrderedDict([('name', 'leases')])
    if persistent_leases:
        leases_volume['persistentVolumeClaim'] = {'claimName': lease_claim_name(name)}
    else:
        leases_volume['emptyDir'] = {}
    pod_spec = OrderedDict([
        ('initContainers', [OrderedDict([
            ('name', 'address'),
            ('image', image),
            ('imagePullPolicy', image_pull_policy),
            ('command', ['/bin/sh', '-c', address_script]),
            ('securityContext', {'capabilities': {'add': ['NET_ADMIN']}}),
        ])]),
        ('containers', [OrderedDict([
            ('name', 'dnsmasq'),
            ('image', image),
            ('imagePullPolicy', image_pull_policy),
            ('command', ['dnsmasq']),
            ('args', ['--keep-in-foreground', '--log-facility=-', '--conf-file=%s/%s' % (CONFIG_DIR, CONFIG_KEY)]),
            ('securityContext', {'capabilities': {'add': ['NET_ADMIN', 'NET_BIND_SERVICE', 'NET_RAW']}}),
            ('volumeMounts', [OrderedDict([('name', 'config'), ('mountPath', CONFIG_DIR), ('readOnly', True)]),
                              OrderedDict([('name', 'leases'), ('mountPath', LEASE_DIR)])]),
        ])]),
        ('volumes', [OrderedDict([('name', 'config'), ('configMap', {'name': name})]), leases_volume]),
    ])
    if node_selector:
        pod_spec['nodeSelector'] = dict(node_selector)
    template_metadata = OrderedDict([
        ('labels', labels(name, network_name)),
        ('annotations', OrderedDict([(NETWORKS_ANNOTATION, networks_annotation(network_namespace, network_name)),
                                     (CONFIG_HASH_ANNOTATION, config_hash(config_text))])),
    ])
    return OrderedDict([
        ('apiVersion', 'apps/v1'), ('kind', 'Deployment'),
        ('metadata', OrderedDict([('name', name), ('namespace', namespace), ('labels', labels(name, network_name))])),
        ('spec', OrderedDict([
            ('replicas', 1),
            ('strategy', {'type': 'Recreate'}),
            ('selector', {'matchLabels': selector(name)}),
            ('template', OrderedDict([('metadata', template_metadata), ('spec', pod_spec)])),
        ])),
    ])


def container_lease_file(name):
    return '%s/%s.leases' % (LEASE_DIR, name)


def server_objects(params, network_namespace, network_name, plan, config_text):
    """The objects of the containerized server, in apply order (claim and ConfigMap before the Deployment)."""
    leases = params.get('leases') or {}
    persistent = leases.get('persistent', True)
    objects = []
    if persistent:
        objects.append((LEASE_CLAIM, lease_claim(params['name'], params['namespace'], network_name,
                                                 leases.get('size') or '64Mi', leases.get('storage_class'))))
    objects.append((CONFIG_MAP, config_map(params['name'], params['namespace'], network_name, config_text)))
    objects.append((DEPLOYMENT, deployment(params['name'], params['namespace'], network_namespace, network_name, plan,
                                           config_text, params.get('image') or DEFAULT_IMAGE,
                                           params.get('image_pull_policy') or 'IfNotPresent', persistent,
                                           params.get('node_selector'))))
    return objects
