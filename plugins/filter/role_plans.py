# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the collection's roles, as filters: what their vars files used to compute in Jinja. Pure functions of
their arguments (the role's variables, what a module read from the cluster or the node), unit-tested in
tests/unit/roles. Each filter is documented in the YAML file of its name beside this one."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence
from ansible.module_utils.six import string_types

from ansible_collections.harvester.network.plugins.module_utils.host.vocabulary import (
    CLUSTER_NETWORK_NAME, CURRENT, LEGACY, MAX_DEVICE_NAME, MGMT_CLUSTER_NETWORK, VID_MAX, VID_MIN, is_nic_name,
    node_devices)

# VLAN IDs an uplink trunks: the VLAN range without 1, the ports' default PVID (untagged).
TRUNK_MIN_VID = VID_MIN + 1
TRUNK_MAX_VID = VID_MAX

MODULE_NAME = re.compile(r'^[A-Za-z0-9_-]+$')
SYSCTL_KEY = re.compile(r'^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$')


def _require_mapping(value, what):
    if not isinstance(value, dict):
        raise AnsibleFilterError('%s must be a dictionary, got %s' % (what, type(value).__name__))
    return value


def _unique(items):
    """Items in their first order, each once (items may be dicts, which do not hash)."""
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _vid(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- shared ---------------------------------------------------------------------------------------------------------

def trunk_vids(networks):
    """The VLAN IDs an uplink must trunk for ``networks`` (items of harvester.network.vlan_network_info ``networks``):
    a ``vlan`` network's ``vlan_id``, every ID of a ``trunk`` network's ``vlan_trunk`` ranges; never 0 or 1 (1 is the
    untagged PVID); ``untagged`` and ``overlay`` networks carry no tagged VLAN on the uplink. Sorted, each once."""
    vids = set()
    for network in networks or []:
        kind = network.get('network_type')
        if kind == 'vlan':
            vid = _vid(network.get('vlan_id'))
            if vid is not None and TRUNK_MIN_VID <= vid <= TRUNK_MAX_VID:
                vids.add(vid)
        elif kind == 'trunk':
            for item in network.get('vlan_trunk') or []:
                low = _vid(item.get('min_id'))
                high = _vid(item.get('max_id', low))
                if low is None or high is None:
                    continue
                vids.update(range(max(low, TRUNK_MIN_VID), min(high, TRUNK_MAX_VID) + 1))
    return sorted(vids)


def harvester_devices(cluster_network, generation, nics):
    """``{cluster_network, bridge, uplink}`` of a cluster network on a node, by Harvester's naming rule."""
    if generation not in (LEGACY, CURRENT):
        raise AnsibleFilterError('harvester_devices: generation must be %s or %s, got %r'
                                 % (LEGACY, CURRENT, generation))
    return node_devices(generation, cluster_network, list(nics or []))


def _slave_names(bond):
    return [nic.get('name', '') if isinstance(nic, dict) else nic for nic in bond.get('interfaces') or []]


def pxe_bonds(bonds):
    """Bonds in the shape of Harvester's PXE configuration (``name``, ``interfaces`` as names or ``{name, hwAddr}``,
    ``bond_options``, ``mtu``) as harvester.network.host_network ``bonds`` takes them."""
    out = []
    for bond in bonds or []:
        item = dict(bond.get('bond_options') or {})
        item.update(name=bond.get('name'), slaves=_slave_names(bond))
        if bond.get('mtu') is not None:
            item['mtu'] = bond['mtu']
        out.append(item)
    return out


# --- default_vlan ---------------------------------------------------------------------------------------------------

def _node_nics(inputs):
    if inputs.get('host_nics'):
        return 'default_vlan_host_nics', list(inputs['host_nics'])
    return 'default_vlan_nics', list(inputs.get('nics') or [])


def default_vlan_input_errors(inputs):
    """Everything wrong with the default_vlan role's inputs alone, each message naming its variable. ``inputs``:
    ``nics``, ``host_nics``, ``cluster_network``, ``play_nics`` (each play host's ``default_vlan_nics``)."""
    _require_mapping(inputs, 'default_vlan_input_errors input')
    errors = []
    variable, nics = _node_nics(inputs)
    if not nics or not all(is_nic_name(nic) for nic in nics) or len(set(map(str, nics))) != len(nics):
        errors.append('%s = %s: give the uplink NIC names (each at most 15 characters, each once), the cluster-wide '
                      "default in default_vlan_nics (group_vars), a node's own in default_vlan_host_nics (host_vars)"
                      % (variable, nics))
    cluster_network = inputs.get('cluster_network')
    if (not isinstance(cluster_network, string_types) or not CLUSTER_NETWORK_NAME.match(cluster_network)
            or cluster_network == MGMT_CLUSTER_NETWORK):
        errors.append('default_vlan_cluster_network = %s: give a DNS label of at most 12 characters (the node gets '
                      '<name>-br and <name>-bo), not mgmt (the built-in management network cannot take a VLAN uplink)'
                      % cluster_network)
    play_nics = inputs.get('play_nics') or {}
    seen = _unique([list(value) if is_sequence(value) else value for value in play_nics.values()])
    if len(seen) > 1:
        errors.append('default_vlan_nics differs between the hosts of this play (%s): it is the cluster-wide default, '
                      "set it once in group_vars and give a node its own NICs with default_vlan_host_nics in host_vars"
                      % '; '.join('%s: %s' % (host, value) for host, value in play_nics.items()))
    return errors


def _expand_vids(texts):
    vids = []
    for text in texts or []:
        bounds = str(text).split('-')
        vids.extend(range(int(bounds[0]), int(bounds[-1]) + 1))
    return vids


def default_vlan_node_plan(node, inputs):
    """What the default_vlan role does on one node, from what harvester.network.host_network_info read there
    (``node``) and the role's inputs: ``errors`` (each naming its variable), the ``bonds``, the ``bridge`` and the
    ``vids`` for harvester.network.host_network, the ``addresses`` and ``routes`` to move onto the bridge on v1.1+
    (None: leave the option out), and the ``stale_vids`` to remove from the uplink."""
    _require_mapping(node, 'default_vlan_node_plan input')
    _require_mapping(inputs, 'default_vlan_node_plan argument')
    variable, nics = _node_nics(inputs)
    generation = inputs['generation']
    devices = node_devices(generation, inputs['cluster_network'], nics)
    bridge, uplink = devices['bridge'], devices['uplink']
    allow = bool(inputs.get('allow_management_migration'))
    status_links = (node.get('status') or {}).get('links') or []
    gathered = node.get('gathered') or {}
    links = dict((link['name'], link.get('kind')) for link in status_links)
    masters = dict((link['name'], link.get('master')) for link in status_links)
    pxe = inputs.get('bonds') or []

    unknown = [nic for nic in nics if nic not in list(links) + [bond.get('name') for bond in pxe]]
    claimed = []
    for nic in nics:
        claimed.append(nic)
        master = masters.get(nic)
        if master and master not in (uplink, bridge):
            claimed.append(master)
    claimed = _unique(claimed)
    addresses = gathered.get('addresses') or []
    routes = gathered.get('routes') or []
    management_addresses = [item for item in addresses if item.get('interface') in claimed]
    management_routes = [item for item in routes if item.get('interface') in claimed]
    host = inputs.get('hostname')

    errors = []
    if unknown:
        errors.append('%s: %s does not exist on %s (its interfaces: %s); check the NIC names'
                      % (variable, ', '.join(unknown), host, ', '.join(sorted(links))))
    if generation == LEGACY and len(nics) != 1:
        errors.append('%s = %s: Harvester v0.3/v1.0 bridges one NIC (or one bond, made with node_prep_bonds); give '
                      'one name' % (variable, nics))
    if management_addresses and not allow:
        errors.append("%s: %s carries %s on %s, the node's management address. Harvester recommends a separate NIC for "
                      'VLAN traffic (better performance and isolation), and moving the address onto %s is where nodes '
                      'most often lose their connection. Choose another NIC, or set '
                      'default_vlan_allow_management_migration to true to move the addresses and routes onto the '
                      'bridge (probed, and rolled back if the gateway stops answering).'
                      % (variable, ', '.join(_unique(item['interface'] for item in management_addresses)),
                         ', '.join(item['address'] for item in management_addresses), host, bridge))

    # What an earlier run moved is on the bridge now: it stays part of the desired state (and of the saved state),
    # so a second run asks for the same thing and changes nothing.
    kept_addresses = [item for item in addresses if item.get('interface') == bridge] if allow else []
    kept_routes = [item for item in routes if item.get('interface') == bridge] if allow else []
    migrate = allow and bool(management_addresses + kept_addresses)

    bonds = pxe_bonds(pxe)
    if generation == CURRENT:
        bond = {'name': uplink, 'slaves': nics, 'mode': inputs.get('bond_mode')}
        if inputs.get('bond_miimon') is not None:
            bond['miimon'] = inputs['bond_miimon']
        if inputs.get('mtu') is not None:
            bond['mtu'] = inputs['mtu']
        bonds.append(bond)
    bridge_spec = {'name': bridge, 'uplink': uplink}
    if inputs.get('mtu') is not None:
        bridge_spec['mtu'] = inputs['mtu']
    if migrate and generation == LEGACY:
        bridge_spec['migrate'] = True

    vids = list(inputs.get('vids') or [])
    trunked = []
    for item in gathered.get('vlans') or []:
        if item.get('port') == uplink:
            trunked.extend(_expand_vids(item.get('vids')))
    moved = migrate and generation == CURRENT
    return {
        'errors': errors,
        'bridge': bridge,
        'uplink': uplink,
        'bonds': bonds,
        'bridge_spec': bridge_spec,
        'vids': vids,
        'addresses': _unique({'interface': bridge, 'address': item['address']}
                             for item in management_addresses + kept_addresses) if moved else None,
        'routes': _unique(dict(item, interface=bridge) for item in management_routes + kept_routes) if moved else None,
        'stale_vids': sorted(set(trunked) - set(vids)),
    }


# --- node_prep ------------------------------------------------------------------------------------------------------

def node_prep_input_errors(inputs):
    """Everything wrong with the node_prep role's inputs, each message naming its variable. ``inputs``: ``bonds``,
    ``kernel_modules``, ``sysctls``."""
    _require_mapping(inputs, 'node_prep_input_errors input')
    errors = []
    bonds = inputs.get('bonds') or []
    everything = []
    for index, bond in enumerate(bonds):
        field = 'node_prep_bonds[%d]' % index
        if len(bond.get('name') or '') > MAX_DEVICE_NAME:
            errors.append('%s.name: %s is longer than 15 characters' % (field, bond.get('name')))
        interfaces = bond.get('interfaces') or []
        if not interfaces:
            errors.append('%s.interfaces: give at least one NIC' % field)
        for position, name in enumerate(_slave_names(bond)):
            everything.append(name)
            if not is_nic_name(name):
                errors.append('%s.interfaces: %s is not a NIC name or an item like {name: eth1}'
                              % (field, interfaces[position]))
    twice = _unique(name for name in everything if everything.count(name) > 1)
    if twice:
        errors.append('node_prep_bonds: %s is in more than one bond; a NIC has one' % ', '.join(map(str, twice)))
    for name in inputs.get('kernel_modules') or []:
        if not MODULE_NAME.match(str(name)):
            errors.append('node_prep_kernel_modules: %s is not a kernel module name' % name)
    for key in inputs.get('sysctls') or {}:
        if not SYSCTL_KEY.match(str(key)):
            errors.append('node_prep_sysctls: %s is not a sysctl key like net.ipv4.ip_forward' % key)
    return errors


def bond_nics(bonds):
    """The NIC names of PXE-style bonds, each once, in order."""
    return _unique(name for bond in bonds or [] for name in _slave_names(bond))


# --- dhcp_server ----------------------------------------------------------------------------------------------------

def _get(item, key, default=None):
    """``item.key | default(default)``: the default only when the key is missing."""
    return item[key] if key in item else default


def dhcp_server_items(servers, networks, settings):
    """Each item of ``dhcp_server_networks`` (``servers``) resolved against the cluster's VLAN networks (the
    ``networks`` of harvester.network.vlan_network_info): its network (namespace, name, VLAN ID, bridge, route), mode,
    node and names, and ``error`` (empty, or every problem, each naming the variable). ``settings``: ``mode``,
    ``namespace``, ``cluster_network`` (the role's defaults), ``hosts`` (the play's hosts), ``manage_nodes`` (false:
    this play serves no node, its node items are not checked against its hosts), ``inventory`` (every host of the
    run's inventory) and ``partial_inventory`` (true in an AWX workflow, where a sliced job's inventory holds only its
    slice: a node not in it is another slice's, and each node item must name its node)."""
    _require_mapping(settings, 'dhcp_server_items argument')
    hosts = list(settings.get('hosts') or [])
    manage_nodes = settings.get('manage_nodes', True)
    inventory = settings.get('inventory')
    partial = bool(settings.get('partial_inventory'))
    out = []
    for index, item in enumerate(servers or []):
        field = 'dhcp_server_networks[%d]' % index
        state = _get(item, 'state', 'present')
        mode = _get(item, 'mode', settings.get('mode'))
        ref = str(item.get('network') or '')
        namespace = ref.split('/', 1)[0] if '/' in ref else _get(item, 'namespace', settings.get('namespace'))
        name = ref.rsplit('/', 1)[-1]
        has_vid = 'vlan_id' in item
        found = []
        for network in networks or []:
            if ref and network.get('namespace') == namespace and network.get('name') == name:
                found.append(network)
            elif (not ref and has_vid and network.get('vlan_id') == item['vlan_id']
                  and network.get('cluster_network') == settings.get('cluster_network')):
                found.append(network)
        errors = []
        if not ref and not has_vid:
            errors.append('%s.network: name the VLAN network (name or namespace/name), or give vlan_id' % field)
        elif not found and state == 'present':
            if ref:
                errors.append('%s.network: there is no VLAN network %s/%s; create it first '
                              '(harvester.network.vlan_network)' % (field, namespace, name))
            else:
                errors.append('%s.vlan_id: VLAN %s is used by no VLAN network on cluster network %s; create the '
                              'network first or fix the VLAN ID'
                              % (field, item['vlan_id'], settings.get('cluster_network')))
        elif len(found) > 1:
            errors.append('%s.vlan_id: VLAN %s is used by several networks (%s); name one with network'
                          % (field, item['vlan_id'], ', '.join(str(network.get('name')) for network in found)))
        elif ref and has_vid and found and found[0].get('vlan_id') != item['vlan_id']:
            errors.append('%s.vlan_id: network %s/%s carries VLAN %s, not %s'
                          % (field, namespace, name, found[0].get('vlan_id'), item['vlan_id']))
        if mode not in ('node', 'container'):
            errors.append('%s.mode: %s is not a mode; use node or container' % (field, mode))
        network = found[0] if found else {}
        vid = network['vlan_id'] if 'vlan_id' in network else item.get('vlan_id')
        node = _get(item, 'node', hosts[0] if hosts and manage_nodes else None)
        if mode == 'node' and manage_nodes:
            if partial and item.get('node') is None:
                errors.append('%s.node: name the node that runs the server (a sliced job sees only its part of the '
                              'inventory, so the default, the first host of the play, differs between slices)' % field)
            elif node not in hosts and not (partial and inventory is not None and node not in inventory):
                errors.append('%s.node: %s is not a host of this play (%s); name the node that runs the server'
                              % (field, node, ', '.join(hosts)))
        interface = item.get('interface') or 'dhcp%s' % (vid if vid is not None else '')
        if mode == 'node' and (len(interface) > 14 or interface == 'dhcp'):
            errors.append('%s.interface: %s does not fit (14 characters at most, the port gets a "p" more); give '
                          'interface, or vlan_id when the network is gone' % (field, interface))
        route = network.get('route') or {}
        out.append({
            'index': index, 'field': field, 'state': state, 'mode': mode, 'node': node,
            'name': item.get('name') or '%s-dhcp' % (name or 'vlan%s' % vid),
            'namespace': _get(item, 'server_namespace', namespace if ref else settings.get('namespace')),
            'network': '%s/%s' % (namespace, network.get('name', name)), 'vlan_id': vid,
            'bridge': network.get('bridge'), 'interface': interface, 'port': interface + 'p',
            'cidr': _get(item, 'cidr', route.get('cidr')), 'gateway': _get(item, 'gateway', route.get('gateway')),
            'server_address': _get(item, 'server_address', route.get('dhcp_server')),
            'pool_start': _get(item, 'pool_start'), 'pool_end': _get(item, 'pool_end'),
            'lease_time': _get(item, 'lease_time', '12h'), 'dns_servers': _get(item, 'dns_servers', []),
            'image': _get(item, 'image'), 'leases': _get(item, 'leases'), 'node_selector': _get(item, 'node_selector'),
            'error': '; '.join(errors),
        })
    return out


def dhcp_server_renders(results):
    """The offline renders of harvester.network.vlan_dhcp (``state: rendered``, registered over a loop of
    dhcp_server_items, run with ``failed_when: false``): ``errors`` (each naming the item and its option) and
    ``renders`` (per server name: its dnsmasq ``config`` and address ``plan``). A render without a config failed."""
    errors = []
    renders = {}
    for result in results or []:
        if result.get('skipped'):
            continue
        if 'config' in result:
            renders[result['item']['name']] = {'config': result['config'], 'plan': result.get('address_plan')}
            continue
        field = result.get('field') or ''
        message = result.get('msg', 'failed')
        if field and message.startswith(field + ': '):
            message = message[len(field) + 2:]
        errors.append('%s%s: %s' % (result['item']['field'], '.' + field if field else '', message))
    return {'errors': errors, 'renders': renders}


def dhcp_server_node_servers(items, state, settings):
    """The ``servers`` of harvester.network.host_dhcp_server for this node's items, for ``state`` V(prepared),
    V(running) or V(absent). ``settings``: ``config_dir``, ``lease_dir``, ``run_dir``, ``service_manager``,
    ``renders`` (of dhcp_server_renders), ``config_changed`` (what the V(prepared) run wrote)."""
    _require_mapping(settings, 'dhcp_server_node_servers argument')
    servers = []
    for item in items or []:
        config_path = '%s/%s.conf' % (settings['config_dir'], item['name'])
        pidfile = '%s/dhcp-%s.pid' % (settings['run_dir'], item['name'])
        if state == 'prepared':
            servers.append({'name': item['name'], 'field': item['field'], 'network': item['network'],
                            'bridge': item['bridge'], 'interface': item['interface'], 'port': item['port'],
                            'config_path': config_path, 'config': settings['renders'][item['name']]['config']})
        elif state == 'running':
            servers.append({'name': item['name'], 'restart': item['name'] in (settings.get('config_changed') or []),
                            'config_path': config_path, 'pidfile': pidfile})
        elif state == 'absent':
            servers.append({'name': item['name'], 'interface': item['interface'],
                            'pidfile': pidfile if settings.get('service_manager') == 'none' else None,
                            'files': ['/etc/systemd/system/harvester-dhcp-%s.service' % item['name'], config_path,
                                      '%s/%s.leases' % (settings['lease_dir'], item['name']), pidfile]})
        else:
            raise AnsibleFilterError('dhcp_server_node_servers: state must be prepared, running or absent, got %r'
                                     % state)
    return servers


class FilterModule(object):

    def filters(self):
        return {
            'trunk_vids': trunk_vids,
            'harvester_devices': harvester_devices,
            'pxe_bonds': pxe_bonds,
            'bond_nics': bond_nics,
            'default_vlan_input_errors': default_vlan_input_errors,
            'default_vlan_node_plan': default_vlan_node_plan,
            'node_prep_input_errors': node_prep_input_errors,
            'dhcp_server_items': dhcp_server_items,
            'dhcp_server_renders': dhcp_server_renders,
            'dhcp_server_node_servers': dhcp_server_node_servers,
        }
