# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: vms
short_description: Harvester (KubeVirt) virtual machines as inventory hosts
version_added: 0.1.0
description:
  - Makes every VirtualMachine of a Harvester cluster an inventory host, named C(<namespace>/<name>) by default.
  - Reads the cluster with one LIST per kind (VirtualMachines, VirtualMachineInstances and, when O(address_sources)
    has V(service), Services), never one GET per VM.
  - Groups the hosts by namespace, by the VLAN networks (NetworkAttachmentDefinitions) their NICs use and by their
    labels; O(compose), O(groups) and O(keyed_groups) work as in the core inventory plugins.
  - Sets C(ansible_host) to the IP address the running instance reports on the network named in O(network) (the
    guest agent reports the addresses of VLAN NICs) or, failing that, to the address of the VM's management
    Service (one that selects C(harvesterhci.io/vmName=<vm>), or on plain KubeVirt C(vm.kubevirt.io/name=<vm>)). A VM
    with neither keeps its host entry, without C(ansible_host), in the group C(<group_prefix>no_address).
  - "Host variables: C(harvester_vm_name), C(harvester_namespace), C(harvester_labels), C(harvester_run_strategy),
    C(harvester_printable_status), C(harvester_phase) (V(Stopped) when no instance exists), C(harvester_ready),
    C(harvester_node), C(harvester_interfaces) (one entry per NIC: C(name), C(network) (the VLAN network as
    C(<namespace>/<name>), V(null) for the management network), C(management), C(mac), C(ips),
    C(guest_interface)), C(harvester_networks) (the VLAN networks of the NICs), C(harvester_service) (name of
    the management Service, when Services are read) and C(harvester_address_source) (V(network), V(service) or
    V(null): where C(ansible_host) came from)."
  - The configuration file's name must end in C(.harvester.yml) or C(.harvester.yaml) (C(harvester.yml) alone is
    fine too).
author:
  - harvester.network contributors (!UNKNOWN)
requirements:
  - kubernetes >= 24.2.0 (the Python client)
extends_documentation_fragment:
  - harvester.network.inventory_auth
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: Marks this file as a source for this plugin.
    type: str
    required: true
    choices: [harvester.network.vms]
  namespaces:
    description:
      - Only VMs of these namespaces; one LIST per kind and namespace. Use it when the credentials may read only
        some namespaces.
      - Empty (the default) reads every namespace with one LIST per kind.
    type: list
    elements: str
    default: []
  label_selector:
    description:
      - Only VMs whose labels match this Kubernetes label selector, for example C(app=web,tier!=db).
    type: str
  include_stopped:
    description:
      - Whether VMs without a running instance (stopped, or not started yet) become hosts too. They never get an
        C(ansible_host).
    type: bool
    default: true
  host_format:
    description:
      - The inventory host name of a VM, a Python format string with the fields C({name}), C({namespace}) and
        C({uid}).
      - It must tell the VMs apart; C({name}) alone fails when two namespaces hold VMs of the same name.
    type: str
    default: '{namespace}/{name}'
  network:
    description:
      - The networks whose IP address becomes C(ansible_host), in order of preference; the first one on which
        the VM has a NIC that reports an address wins.
      - V(management) is the management (pod) network; anything else names a VLAN network (a
        NetworkAttachmentDefinition) as C(<namespace>/<name>), or as C(<name>) in the VM's own namespace.
      - Harvester reports the address of a VLAN NIC only when the guest agent runs in the VM.
    type: list
    elements: str
    default: [management]
  address_sources:
    description:
      - Where C(ansible_host) comes from, in order of preference.
      - V(network) is the address the instance reports on a network of O(network).
      - V(service) is the address of the VM's management Service (a LoadBalancer's ingress IP or host name, else
        the cluster IP); a Service port whose target is port 22 (or is named C(ssh)) sets C(ansible_port) when it
        is not 22. Only VMs with a running instance get an address from a Service.
      - Put V(service) first for a stable address on the management network, whose IPs change when a VM
        restarts. An empty list never sets C(ansible_host) (set it with O(compose)).
    type: list
    elements: str
    choices: [network, service]
    default: [network, service]
  group_by:
    description:
      - The groups this plugin makes on its own, on top of O(groups) and O(keyed_groups).
      - V(namespace) makes C(<group_prefix>namespace_<namespace>).
      - V(network) makes C(<group_prefix>network_<namespace>_<name>) for every VLAN network a NIC uses.
      - V(label) makes C(<group_prefix>label_<key>_<value>) for every label of the VM.
      - Characters not allowed in group names become C(_).
    type: list
    elements: str
    choices: [namespace, network, label]
    default: [namespace, network, label]
  group_prefix:
    description:
      - Prefix of the names of the groups this plugin makes (O(group_by) and C(no_address)).
    type: str
    default: harvester_
notes:
  - Authentication works as in the cluster modules of this collection (the same options and E(K8S_AUTH_*)
    environment variables), so one AWX credential that injects E(K8S_AUTH_KUBECONFIG) serves both.
  - With O(cache) on, the plugin stores what it read from the cluster and answers from the cache (no API call at
    all) until O(cache_timeout) passes, C(ansible-inventory --flush-cache) runs, or a play runs the task
    C(ansible.builtin.meta) with C(refresh_inventory). Changing O(namespaces), O(label_selector),
    O(address_sources) or the connection options invalidates it.
'''

EXAMPLES = r'''
# lab.harvester.yml: every VM of the cluster in ~/.kube/config, reached over its management network
plugin: harvester.network.vms

---
# vlan.harvester.yml: reach the VMs over VLAN network default/vlan100 (the guest agent reports that IP),
# fall back to the management Service, cache the answer for 5 minutes
plugin: harvester.network.vms
kubeconfig: /etc/harvester/kubeconfig
namespaces: [default, web]
network:
  - default/vlan100
  - management
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: /var/cache/ansible-inventory
cache_timeout: 300
keyed_groups:
  - key: harvester_node
    prefix: node
  - key: harvester_labels
    prefix: label
  - key: harvester_printable_status
    prefix: status
  - key: harvester_networks
    prefix: vlan
    parent_group: vlans
groups:
  running: harvester_phase == 'Running'
compose:
  ansible_user: harvester_labels['os'] | default('ubuntu')

---
# stable.harvester.yml: one namespace, hosts named after their VM, the stable address of the VM's
# management Service first (it survives restarts), running VMs only
plugin: harvester.network.vms
namespaces: [shop]
label_selector: app=shop,tier!=test
host_format: '{name}'
address_sources: [service, network]
include_stopped: false
group_by: [label]
strict: true
'''

import difflib
import hashlib
import json
import os

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.harvester.network.plugins.module_utils.cluster.auth import AUTH_ARG_SPEC, build_configuration
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import AuthError, ClusterError, NotFoundError
from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import (
    SERVICE, VIRTUAL_MACHINE, VIRTUAL_MACHINE_INSTANCE)
from ansible_collections.harvester.network.plugins.module_utils.cluster.service import ResourceService
from ansible_collections.harvester.network.plugins.module_utils.cluster.transport import Transport
from ansible_collections.harvester.network.plugins.module_utils.cluster.vm_builder import VM_NAME_LABELS, vm_facts

try:
    import kubernetes  # noqa: F401  pylint: disable=unused-import
    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False

CONFIG_SUFFIXES = ('.harvester.yml', '.harvester.yaml')
CONFIG_NAMES = ('harvester.yml', 'harvester.yaml')
MANAGEMENT = 'management'
HOST_FORMAT_FIELDS = ('name', 'namespace', 'uid')
SSH_PORT = 22
CACHE_FORMAT = 1


class SettingsError(ValueError):
    """An option value this plugin cannot work with; the message names the option and the fix."""


# ---- pure functions: objects and settings in, host records out (unit-tested without a cluster) ----------------
def check_settings(settings):
    """Validate the options the config manager cannot check; return them normalised."""
    result = dict(settings)
    host_format = result.get('host_format') or ''
    try:
        sample = host_format.format(**dict((field, 'x') for field in HOST_FORMAT_FIELDS))
    except (KeyError, IndexError) as exc:
        raise SettingsError('host_format: %r uses the unknown field %s: use %s' % (
            host_format, exc, ', '.join('{%s}' % field for field in HOST_FORMAT_FIELDS)))
    except ValueError as exc:
        raise SettingsError('host_format: %r is not a format string (%s): write fields as {name}' % (host_format, exc))
    if not sample.strip():
        raise SettingsError('host_format: %r gives empty host names: use e.g. {namespace}/{name}' % host_format)
    networks = []
    for item in result.get('network') or []:
        item = str(item).strip()
        if not item or item.count('/') > 1 or item.startswith('/') or item.endswith('/'):
            raise SettingsError('network: %r is not a network: give %s, <namespace>/<name> or <name> of a VLAN '
                                'network' % (item, MANAGEMENT))
        networks.append(item)
    result['network'] = networks
    result['namespaces'] = sorted(set(str(ns).strip() for ns in result.get('namespaces') or [] if str(ns).strip()))
    return result


def network_ref(name, namespace):
    """A NetworkAttachmentDefinition reference as ``<namespace>/<name>`` (Multus resolves a bare name in the VM's)."""
    if not name:
        return None
    return name if '/' in name else '%s/%s' % (namespace, name)


def usable_ips(addresses):
    """The addresses a controller can connect to, in the order reported: no IPv6 link-local, no prefix length."""
    result = []
    for address in addresses or []:
        if not address:
            continue
        address = str(address).split('/', 1)[0].strip()
        if address and not address.lower().startswith('fe80:') and address not in result:
            result.append(address)
    return result


def interfaces(vm, vmi):
    """Per NIC of the VM: name, network (``<ns>/<nad>``, None for management), management, mac, ips, guest_interface."""
    facts = vm_facts(vm, vmi)
    namespace = facts['namespace']
    return facts, [{
        'name': nic['name'],
        'network': network_ref(nic['network'], namespace),
        'management': nic['management'],
        'mac': nic['mac'],
        'ips': usable_ips([nic['ip_address']] + list(nic['ip_addresses'] or [])),
        'guest_interface': nic['guest_interface'],
    } for nic in facts['interfaces']]


def network_address(nics, wanted, namespace):
    """The first IP of the first NIC on the first network of ``wanted`` that reports one: ``(ip, nic name)``."""
    for network in wanted:
        ref = None if network == MANAGEMENT else network_ref(network, namespace)
        for nic in nics:
            on_network = nic['management'] if ref is None else nic['network'] == ref
            if on_network and nic['ips']:
                return nic['ips'][0], nic['name']
    return None, None


def _selects(service, namespace, vm_name):
    metadata = service.get('metadata') or {}
    selector = (service.get('spec') or {}).get('selector') or {}
    # Harvester's label, or KubeVirt's own (the Services of harvester.network.vm_service on plain KubeVirt)
    return metadata.get('namespace') == namespace and any(selector.get(label) == vm_name for label in VM_NAME_LABELS)


def ssh_port(service):
    """The Service port that leads to the VM's SSH server (target port 22 or a port named ssh), or None."""
    for port in (service.get('spec') or {}).get('ports') or []:
        target = port.get('targetPort', port.get('port'))
        if target in (SSH_PORT, str(SSH_PORT), 'ssh') or port.get('name') == 'ssh':
            return port.get('port')
    return None


def service_address(service):
    """``(address, port)``: a LoadBalancer's ingress IP or host name, else the cluster IP; port from ``ssh_port``."""
    spec = service.get('spec') or {}
    address = None
    if spec.get('type') == 'LoadBalancer':
        for ingress in ((service.get('status') or {}).get('loadBalancer') or {}).get('ingress') or []:
            address = ingress.get('ip') or ingress.get('hostname')
            if address:
                break
    if not address and spec.get('clusterIP') not in (None, '', 'None'):
        address = spec['clusterIP']
    return address, ssh_port(service)


def management_service(services, namespace, vm_name):
    """The Service that gives the VM a stable management address: one with an address, SSH first, then by name."""
    candidates = [s for s in services if _selects(s, namespace, vm_name) and service_address(s)[0]]
    candidates.sort(key=lambda s: (ssh_port(s) is None, s['metadata']['name']))
    return candidates[0] if candidates else None


def host_name(host_format, vm):
    metadata = vm.get('metadata') or {}
    return host_format.format(name=metadata.get('name'), namespace=metadata.get('namespace'), uid=metadata.get('uid'))


def describe(vm, vmi, services, settings):
    """One host: ``{'name', 'vars', 'groups'}``; ``groups`` are group names without O(group_prefix), unsanitised."""
    facts, nics = interfaces(vm, vmi)
    namespace, name = facts['namespace'], facts['name']
    labels = dict((vm.get('metadata') or {}).get('labels') or {})
    networks = []
    for nic in nics:
        if nic['network'] and nic['network'] not in networks:
            networks.append(nic['network'])
    service = management_service(services, namespace, name) if services is not None else None
    host_vars = {
        'harvester_vm_name': name,
        'harvester_namespace': namespace,
        'harvester_labels': labels,
        'harvester_run_strategy': facts['run_strategy'],
        'harvester_printable_status': facts['printable_status'],
        'harvester_phase': facts['phase'],
        'harvester_ready': facts['ready'],
        'harvester_node': facts['node'],
        'harvester_interfaces': nics,
        'harvester_networks': networks,
        'harvester_service': service['metadata']['name'] if service else None,
        'harvester_address_source': None,
    }
    for source in settings['address_sources']:
        if source == 'network':
            address, _nic = network_address(nics, settings['network'], namespace)
            port = None
        elif service is not None and vmi is not None:
            address, port = service_address(service)
        else:
            continue
        if address:
            host_vars['ansible_host'] = address
            if port and port != SSH_PORT:
                host_vars['ansible_port'] = port
            host_vars['harvester_address_source'] = source
            break
    groups = []
    if 'namespace' in settings['group_by']:
        groups.append('namespace_%s' % namespace)
    if 'network' in settings['group_by']:
        groups.extend('network_%s' % ref.replace('/', '_') for ref in networks)
    if 'label' in settings['group_by']:
        groups.extend('label_%s_%s' % (key, value) for key, value in sorted(labels.items()))
    return {'name': host_name(settings['host_format'], vm), 'vars': host_vars, 'groups': groups}


def slim(obj, keep_spec=True):
    """What the plugin needs of an object, small enough to cache: no managedFields (and no VMI spec)."""
    result = dict(obj)
    metadata = dict(result.get('metadata') or {})
    metadata.pop('managedFields', None)
    result['metadata'] = metadata
    if not keep_spec:
        result.pop('spec', None)
    return result


def host_records(objects, settings):
    """Host records of every VM in ``objects`` (``{'vms', 'vmis', 'services'}`` lists), sorted by namespace and name."""
    vmis = dict(((o['metadata'].get('namespace'), o['metadata']['name']), o) for o in objects.get('vmis') or [])
    services = objects.get('services')
    records = []
    seen = {}
    for vm in sorted(objects.get('vms') or [], key=lambda o: (o['metadata'].get('namespace'), o['metadata']['name'])):
        key = (vm['metadata'].get('namespace'), vm['metadata']['name'])
        vmi = vmis.get(key)
        if vmi is None and not settings['include_stopped']:
            continue
        record = describe(vm, vmi, services, settings)
        if record['name'] in seen:
            raise SettingsError('host_format: VMs %s and %s both become host %r: put {namespace} (or {uid}) in '
                                'host_format' % ('/'.join(seen[record['name']]), '/'.join(key), record['name']))
        seen[record['name']] = key
        records.append(record)
    return records


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = 'harvester.network.vms'

    def verify_file(self, path):
        if not super(InventoryModule, self).verify_file(path):
            return False
        if os.path.basename(path) in CONFIG_NAMES or path.endswith(CONFIG_SUFFIXES):
            return True
        self.display.vvv('harvester.network.vms: skipping %s: its name does not end in .harvester.yml or '
                         '.harvester.yaml' % path)
        return False

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        config = self._read_config_data(path)
        self._check_option_names(path, config)
        if not HAS_KUBERNETES:
            raise AnsibleError('harvester.network.vms needs the kubernetes Python library on the controller: '
                               'pip install kubernetes (or use the execution environment of harvester.network)')
        try:
            settings = check_settings(dict((name, self.get_option(name)) for name in (
                'namespaces', 'label_selector', 'include_stopped', 'host_format', 'network', 'address_sources',
                'group_by', 'group_prefix')))
            objects = self._objects(path, settings, cache)
            records = host_records(objects, settings)
        except (SettingsError, ClusterError) as exc:
            raise AnsibleParserError('harvester.network.vms (%s): %s' % (path, exc))
        for record in records:
            self._add_host(record, settings)

    def _check_option_names(self, path, config):
        """The config manager ignores unknown keys; a misspelt option would silently do nothing."""
        known = set(self._options)
        for spec in AUTH_ARG_SPEC.values():
            known.update(spec.get('aliases') or [])
        for name in sorted(set(config) - known):
            close = difflib.get_close_matches(name, sorted(known), n=1)
            raise AnsibleParserError('harvester.network.vms (%s): unknown option %r%s' % (
                path, name, ': did you mean %s?' % close[0] if close else ''))

    # ---- reading the cluster (or the cache) ----------------------------------------------------------------------
    def _auth_params(self):
        return dict((name, self.get_option(name)) for name in AUTH_ARG_SPEC)

    def _query(self, settings):
        """What decides the cached data: a cache entry written for another query is not used.  The connection
        enters only as a digest (an inline kubeconfig or a token must never land in a cache file)."""
        auth = self._auth_params()
        connection = json.dumps([auth[name] for name in ('kubeconfig', 'context', 'host', 'api_key')],
                                sort_keys=True, default=str)
        return {
            'format': CACHE_FORMAT,
            'namespaces': list(settings['namespaces']),
            'label_selector': str(settings['label_selector']) if settings['label_selector'] else None,
            'services': 'service' in settings['address_sources'],
            'connection': hashlib.sha256(connection.encode('utf-8')).hexdigest(),
        }

    def _objects(self, path, settings, cache):
        query = self._query(settings)
        caching = bool(self.get_option('cache'))
        key = self.get_cache_key(path)
        if caching and cache:
            try:
                cached = self._cache[key]
            except KeyError:
                cached = None
            if isinstance(cached, dict) and cached.get('query') == query:
                self.display.vvv('harvester.network.vms: %s answered from the cache' % path)
                return cached['objects']
        objects = self._fetch(settings)
        if caching:
            self._cache[key] = {'query': query, 'objects': objects}
        return objects

    def _fetch(self, settings):
        service = ResourceService(Transport(build_configuration(self._auth_params())))
        scopes = settings['namespaces'] or [None]
        vms = []
        for namespace in scopes:
            vms.extend(slim(vm) for vm in self._list(service, VIRTUAL_MACHINE, namespace, settings['label_selector']))
        objects = {'vms': vms, 'vmis': [], 'services': [] if 'service' in settings['address_sources'] else None}
        if not vms:
            return objects
        if settings['namespaces']:  # only the namespaces that hold a selected VM
            scopes = sorted(set(vm['metadata']['namespace'] for vm in vms))
        for namespace in scopes:
            objects['vmis'].extend(slim(vmi, keep_spec=False)
                                   for vmi in self._list(service, VIRTUAL_MACHINE_INSTANCE, namespace))
        if objects['services'] is not None:
            try:
                for namespace in scopes:
                    objects['services'].extend(slim(svc) for svc in self._list(service, SERVICE, namespace))
            except AuthError as exc:
                self.display.warning('harvester.network.vms: cannot list Services, so no VM gets its address from '
                                     'its management Service (%s). Grant "list services", or drop service from '
                                     'address_sources' % exc)
                objects['services'] = None
        return objects

    @staticmethod
    def _list(service, kind, namespace, label_selector=None):
        try:
            return list(service.list(kind, namespace=namespace, label_selector=label_selector).values())
        except NotFoundError:
            raise ClusterError('this cluster serves no %s (%s): %s' % (kind.kind, kind.api_version, kind.missing_hint))

    # ---- filling the inventory -----------------------------------------------------------------------------------
    def _group(self, settings, name):
        return self.inventory.add_group(self._sanitize_group_name(settings['group_prefix'] + name))

    def _add_host(self, record, settings):
        host = record['name']
        self.inventory.add_host(host)
        for name in record['groups']:
            self.inventory.add_child(self._group(settings, name), host)
        for name, value in record['vars'].items():
            self.inventory.set_variable(host, name, value)
        strict = self.get_option('strict')
        host_vars = self.inventory.get_host(host).get_vars()
        self._set_composite_vars(self.get_option('compose'), host_vars, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option('groups'), host_vars, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option('keyed_groups'), host_vars, host, strict=strict)
        if not self.inventory.get_host(host).get_vars().get('ansible_host'):
            self.inventory.add_child(self._group(settings, 'no_address'), host)
