# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state machines of vm, vm_info and vm_service."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.harvester.network.plugins.module_utils.cluster import builders, cloudinit, validation, vm_builder
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import Errors, ValidationError, WaitTimeout
from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import (
    NAD, SERVICE, VIRTUAL_MACHINE, VIRTUAL_MACHINE_INSTANCE)
from ansible_collections.harvester.network.plugins.module_utils.cluster.service import Change

RUNNING_STRATEGIES = ('Always', 'RerunOnFailure')
DEFAULT_RUN_STRATEGY = 'RerunOnFailure'
POLL_SECONDS = 2.0


# ---- vm -------------------------------------------------------------------------------------------------------
def normalise_interfaces(params, errors=None):
    """Validate ``interfaces`` and return them with binding, MAC, network reference and guest name resolved. Every
    problem goes to ``errors`` (an errors.Errors); without one, they are raised together."""
    own = errors is None
    errors = Errors() if own else errors
    namespace = params['namespace']
    nics = []
    management = []
    for index, raw in enumerate(params.get('interfaces') or []):
        field = 'interfaces[%d]' % index
        nic = dict(raw)
        errors.check(validation.dns1123_label, field + '.name', nic['name'])
        if nic.get('network'):
            ns, name = builders.nad_reference(nic['network'], namespace)
            errors.check(validation.dns1123_label, field + '.network', ns)
            errors.check(validation.dns1123_label, field + '.network', name)
            nic['network'] = '%s/%s' % (ns, name)
            nic['binding'] = nic.get('type') or 'bridge'
            if nic['binding'] != 'bridge':
                errors.add(field + '.type', 'masquerade works only on the management (pod) network: use type=bridge '
                                            'for a VLAN network, or leave network unset for management')
        else:
            nic['network'] = None
            nic['binding'] = nic.get('type') or 'masquerade'
            management.append(nic['name'])
        nic['mac'] = errors.check(validation.mac_address, field + '.mac_address', nic.get('mac_address'))
        nic['guest_name'] = nic.get('guest_name') or cloudinit.default_guest_name(index)
        errors.check(validation.nic_name, field + '.guest_name', nic['guest_name'])
        mode = nic.get('ip_mode') or 'dhcp'
        nic['ip_mode'] = mode
        if mode == 'static':
            if not nic.get('addresses'):
                errors.add(field + '.addresses', 'static mode needs addresses, e.g. [192.168.100.10/24]')
            networks = []
            for position, address in enumerate(nic.get('addresses') or []):
                net = errors.check(validation.ip_network, '%s.addresses[%d]' % (field, position), address)
                if net is None:
                    continue
                if net.ip == net.network and net.prefixlen < (31 if net.version == 4 else 127):
                    errors.add('%s.addresses[%d]' % (field, position),
                               '%s is a network address: give the NIC\'s own address with its prefix, e.g. %s/%d'
                               % (address, net.network + 10, net.prefixlen))
                networks.append(net)
            if nic.get('gateway'):
                gateway = errors.check(validation.ip_address, field + '.gateway', nic['gateway'])
                if gateway is not None and networks and not any(gateway in net for net in networks):
                    errors.add(field + '.gateway', 'gateway %s is outside every address of this NIC (%s): give a '
                                                   'router on the NIC\'s subnet'
                               % (gateway, ', '.join(str(n.cidr) for n in networks)))
        elif nic.get('addresses') or nic.get('gateway'):
            errors.add(field + '.ip_mode', 'addresses and gateway need ip_mode=static')
        for position, server in enumerate(nic.get('dns') or []):
            errors.check(validation.ip_address, '%s.dns[%d]' % (field, position), server)
        nics.append(nic)
    if len(management) > 1:
        errors.add('interfaces', '%s all use the management network: a VM has at most one management NIC'
                   % ', '.join(management))
    for what, values in (('name', [n['name'] for n in nics]), ('mac_address', [n['mac'] for n in nics if n['mac']]),
                         ('guest_name', [n['guest_name'] for n in nics])):
        if validation.duplicates(values):
            errors.add('interfaces[].%s' % what, '%s used by more than one interface'
                       % ', '.join(validation.duplicates(values)))
    if own:
        errors.raise_if_any()
    return nics


def normalise_disks(params, errors):
    disks = []
    for index, raw in enumerate(params.get('disks') or []):
        field = 'disks[%d]' % index
        item = dict(raw)
        errors.check(validation.dns1123_label, field + '.name', item['name'])
        if item['name'] == vm_builder.CLOUD_INIT_DISK:
            errors.add(field + '.name', 'cloudinitdisk is reserved for the cloud-init disk this module adds')
        sources = [s for s in ('container_disk', 'pvc', 'data_volume') if item.get(s)]
        if len(sources) != 1:
            errors.add(field, 'give exactly one of container_disk, pvc, data_volume')
        if item.get('pvc'):
            errors.check(validation.dns1123_subdomain, field + '.pvc', item['pvc'])
        if item.get('data_volume'):
            errors.check(validation.dns1123_subdomain, field + '.data_volume', item['data_volume'])
        disks.append(item)
    names = [d['name'] for d in disks]
    if validation.duplicates(names):
        errors.add('disks[].name', '%s used twice' % ', '.join(validation.duplicates(names)))
    return disks


def run_strategy(params, existing):
    state, wanted = params['state'], params.get('run_strategy')
    current = ((existing or {}).get('spec') or {}).get('runStrategy')
    if state == 'stopped':
        if wanted not in (None, 'Halted'):
            raise ValidationError('state=stopped means run_strategy Halted: drop run_strategy', field='run_strategy')
        return 'Halted'
    if state in ('running', 'restarted'):
        if wanted is not None and wanted not in RUNNING_STRATEGIES:
            raise ValidationError('state=%s needs a strategy that keeps the VM running (%s), not %s'
                                  % (state, ' or '.join(RUNNING_STRATEGIES), wanted), field='run_strategy')
        return wanted or (current if current in RUNNING_STRATEGIES else DEFAULT_RUN_STRATEGY)
    return wanted or current or DEFAULT_RUN_STRATEGY


def build_vm_spec(params, existing=None):
    """Validated, normalised params -> the VirtualMachine manifest (pure, apart from ``existing`` runStrategy).
    Every input error is collected and raised together, each naming its field."""
    errors = Errors()
    errors.check(validation.dns1123_label, 'name', params['name'])
    errors.check(validation.dns1123_label, 'namespace', params['namespace'])
    errors.check(validation.labels, 'labels', params.get('labels'))
    if params.get('cpu') is not None and params['cpu'] < 1:
        errors.add('cpu', 'give at least 1 core')
    memory = errors.check(validation.quantity, 'memory', params.get('memory') or '1Gi')
    nics = normalise_interfaces(params, errors)
    disks = normalise_disks(params, errors)
    user_data = errors.check(cloudinit.user_data_text, 'user_data', params.get('user_data'),
                             bool(params.get('guest_agent')))
    strategy = errors.check(run_strategy, params, existing)
    errors.raise_if_any()
    network_data = params.get('network_data')
    if isinstance(network_data, dict):
        network_data = cloudinit.dump_yaml(network_data)
    elif network_data is None and (len(nics) > 1 or any(n['ip_mode'] != 'dhcp' for n in nics)):
        network_data = cloudinit.network_data_text(nics, params.get('network_data_version') or 1)
    vm = {
        'name': params['name'], 'namespace': params['namespace'], 'labels': params.get('labels'),
        'description': params.get('description'), 'run_strategy': strategy,
        'cpu': params.get('cpu') or 1, 'memory': memory, 'interfaces': nics, 'disks': disks,
        'user_data': user_data, 'network_data': network_data or None,
    }
    return vm_builder.virtual_machine(vm), nics


def _check_networks_exist(service, nics, module):
    refs = sorted(set(n['network'] for n in nics if n.get('network')))
    if not refs:
        return
    existing = service.list(NAD)
    for index, nic in enumerate(nics):
        if nic.get('network') and tuple(nic['network'].split('/', 1)) not in existing:
            if module.check_mode:
                # an earlier task of this check-mode run may create it; say so instead of failing
                module.warn('interfaces[%d].network: NetworkAttachmentDefinition %s does not exist (yet)'
                            % (index, nic['network']))
                continue
            raise ValidationError('NetworkAttachmentDefinition %s does not exist: create it with '
                                  'harvester.network.vlan_network first' % nic['network'],
                                  field='interfaces[%d].network' % index)


def wait_for_vm(service, params, nics, timeout, sleep=time.sleep, clock=time.monotonic):
    """Poll the VMI until it is Ready (and every NIC with an IP mode has an IP, when asked); or until it is gone."""
    deadline = clock() + timeout
    want_ips = params.get('wait_for_ips')
    missing = 'the VM never got a VirtualMachineInstance'
    while True:
        vmi = service.get(VIRTUAL_MACHINE_INSTANCE, params['name'], params['namespace'])
        if params['state'] == 'stopped':
            if vmi is None:
                return None
            missing = 'the VirtualMachineInstance still exists (phase %s)' % ((vmi.get('status') or {}).get('phase'))
        elif vmi is not None:
            status = vmi.get('status') or {}
            ready = any(c.get('type') == 'Ready' and c.get('status') == 'True' for c in status.get('conditions') or [])
            seen = dict((i.get('name'), i) for i in status.get('interfaces') or [])
            no_ip = [n['name'] for n in nics if n['ip_mode'] != 'none' and not (seen.get(n['name']) or {}).get('ipAddress')]
            if ready and (not want_ips or not no_ip):
                return vmi
            if not ready:
                missing = 'the VM is not Ready (phase %s)' % status.get('phase')
            else:
                missing = 'NIC %s has no IP address yet (the guest agent reports VLAN IPs: set guest_agent=true)' \
                    % ', '.join(no_ip)
        if clock() >= deadline:
            raise WaitTimeout('timed out after %ss waiting for VM %s/%s: %s'
                              % (timeout, params['namespace'], params['name'], missing), field='wait_timeout')
        sleep(POLL_SECONDS)


def vm_handler(params, cluster, module):
    if params['state'] != 'absent':
        # validate everything we can before talking to the cluster
        build_vm_spec(params)
    else:
        errors = Errors()
        errors.check(validation.dns1123_label, 'name', params['name'])
        errors.check(validation.dns1123_label, 'namespace', params['namespace'])
        errors.raise_if_any()
    cluster.discovery.require(VIRTUAL_MACHINE)
    service = cluster.service
    key, existing_map = service.read_one(VIRTUAL_MACHINE, params['name'], params['namespace'])
    reconcile = service.reconcile(module)
    if params['state'] == 'absent':
        return reconcile.delete(VIRTUAL_MACHINE, [key], existing_map).run()
    manifest, nics = build_vm_spec(params, existing_map.get(key))
    _check_networks_exist(service, nics, module)
    reconcile.converge(VIRTUAL_MACHINE, [manifest], existing_map)
    if params['state'] == 'restarted':
        vmi = service.get(VIRTUAL_MACHINE_INSTANCE, params['name'], params['namespace'])
        if vmi is not None:
            # what virtctl restart does: the VM controller starts a fresh instance for a running strategy
            reconcile.add(Change(VIRTUAL_MACHINE_INSTANCE, key, 'delete', existing=vmi))
    result = reconcile.run()
    final = reconcile.final(VIRTUAL_MACHINE, key)
    vmi = None
    if params.get('wait') and not module.check_mode and params['state'] in ('running', 'restarted', 'stopped'):
        vmi = wait_for_vm(service, params, nics, params.get('wait_timeout') or 300)
    elif params['state'] != 'stopped':
        vmi = service.get(VIRTUAL_MACHINE_INSTANCE, params['name'], params['namespace'])
    result['vm'] = vm_builder.vm_facts(final, vmi)
    return result


# ---- vm_info --------------------------------------------------------------------------------------------------
def vm_info_handler(params, cluster, module):
    if params.get('namespace'):
        validation.dns1123_label('namespace', params['namespace'])
    cluster.discovery.require(VIRTUAL_MACHINE)
    service = cluster.service
    vms = service.list(VIRTUAL_MACHINE, namespace=params.get('namespace'), label_selector=params.get('label_selector'))
    if params.get('name'):
        vms = dict((k, v) for k, v in vms.items() if k[1] == params['name'])
    vmis = service.list(VIRTUAL_MACHINE_INSTANCE, namespace=params.get('namespace')) if vms else {}
    return {'changed': False, 'vms': [vm_builder.vm_facts(vm, vmis.get(key)) for key, vm in sorted(vms.items())]}


# ---- vm_service -----------------------------------------------------------------------------------------------
def validate_service(params):
    errors = Errors()
    errors.check(validation.dns1123_label, 'name', params['name'])
    errors.check(validation.dns1123_label, 'namespace', params['namespace'])
    if params['state'] == 'absent':
        errors.raise_if_any()
        return
    if not params.get('vm'):
        errors.add('vm', 'name the VM the Service selects')
    else:
        errors.check(validation.dns1123_label, 'vm', params['vm'])
    ports = params.get('ports') or []
    if not ports:
        errors.add('ports', 'give at least one port, e.g. [{port: 22}]')
    for index, port in enumerate(ports):
        field = 'ports[%d]' % index
        if not 1 <= port['port'] <= 65535:
            errors.add(field + '.port', '%r is not a port: give 1-65535' % port['port'])
        target = port.get('target_port')
        if target is not None and not (isinstance(target, int) and 1 <= target <= 65535):
            if not (isinstance(target, str) and validation.DNS1123_LABEL.match(target) and len(target) <= 15):
                errors.add(field + '.target_port', '%r is neither a port number (1-65535) nor a port name' % (target,))
        if port.get('node_port') is not None:
            if params['type'] == 'ClusterIP':
                errors.add(field + '.node_port', 'node_port needs type NodePort or LoadBalancer')
            elif not 30000 <= port['node_port'] <= 32767:
                errors.add(field + '.node_port', '%r is outside the node port range 30000-32767' % port['node_port'])
        if port.get('name'):
            errors.check(validation.dns1123_label, field + '.name', port['name'])
        elif len(ports) > 1:
            errors.add(field + '.name', 'name every port when there is more than one')
    pairs = [(p['port'], p.get('protocol') or 'TCP') for p in ports]
    if validation.duplicates(pairs):
        errors.add('ports', 'port %s/%s listed twice' % validation.duplicates(pairs)[0])
    if params.get('cluster_ip') and params['cluster_ip'] != 'None':
        errors.check(validation.ip_address, 'cluster_ip', params['cluster_ip'])
    errors.raise_if_any()


def _target_port(value):
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def _leave_out_dry_run_allocations(answer, manifest, existing, module):
    """A dry run allocates a cluster IP and node ports only for show (the real run gets others): the check-mode
    answer keeps those the Service already has or the task sets, and leaves the new ones out, with a warning."""
    spec = answer.get('spec') or {}
    have = (existing or {}).get('spec') or {}
    unknown = []
    if spec.get('clusterIP') and spec['clusterIP'] not in (have.get('clusterIP'), manifest['spec'].get('clusterIP')):
        spec.pop('clusterIP')
        spec.pop('clusterIPs', None)
        unknown.append('spec.clusterIP')
    known = dict((p.get('port'), p.get('nodePort')) for p in have.get('ports') or [])
    known.update((p['port'], p['nodePort']) for p in manifest['spec']['ports'] if p.get('nodePort'))
    for index, port in enumerate(spec.get('ports') or []):
        if port.get('nodePort') and port['nodePort'] != known.get(port.get('port')):
            port.pop('nodePort')
            unknown.append('spec.ports[%d].nodePort' % index)
    if unknown:
        module.warn('check mode: the API server allocates %s on the real run; a dry run cannot tell which, so the '
                    'diff leaves it out' % ', '.join(unknown))


def vm_service_handler(params, cluster, module):
    params = dict(params)
    for port in params.get('ports') or []:
        port['target_port'] = _target_port(port.get('target_port'))
    validate_service(params)
    service = cluster.service
    key, existing_map = service.read_one(SERVICE, params['name'], params['namespace'])
    reconcile = service.reconcile(module)
    if params['state'] == 'absent':
        return reconcile.delete(SERVICE, [key], existing_map).run()
    if cluster.discovery.serves(VIRTUAL_MACHINE):
        vm = service.get(VIRTUAL_MACHINE, params['vm'], params['namespace'])
        if vm is None:
            module.warn('VM %s/%s does not exist (yet): the Service has no endpoints until it runs'
                        % (params['namespace'], params['vm']))
        elif not any('pod' in n for n in ((((vm.get('spec') or {}).get('template') or {}).get('spec') or {})
                                          .get('networks') or [])):
            module.warn('VM %s/%s has no management-network NIC: a Service reaches only the management network'
                        % (params['namespace'], params['vm']))
    manifest = vm_builder.service(params)
    reconcile.converge(SERVICE, [manifest], existing_map).execute()
    if module.check_mode and reconcile.changes[0].result is not None:
        _leave_out_dry_run_allocations(reconcile.changes[0].result, manifest, existing_map.get(key), module)
    result = reconcile.result()
    final = reconcile.final(SERVICE, key)
    spec = final.get('spec') or {}
    result['service'] = {'name': params['name'], 'namespace': params['namespace'], 'type': spec.get('type'),
                         'cluster_ip': spec.get('clusterIP'), 'ports': spec.get('ports'),
                         'selector': spec.get('selector')}
    return result
