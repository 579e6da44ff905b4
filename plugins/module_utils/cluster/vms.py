# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state machines of vm, vm_info and vm_service."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import time

from ansible_collections.harvester.network.plugins.module_utils.cluster import (
    builders, cloudinit, compare, validation, vm_builder)
from ansible_collections.harvester.network.plugins.module_utils.cluster.discovery import PLAIN
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import Errors, ValidationError, WaitTimeout
from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import (
    KEY_PAIR, NAD, SERVICE, VIRTUAL_MACHINE, VIRTUAL_MACHINE_INSTANCE, VM_IMAGE)
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
        sources = [s for s in ('container_disk', 'pvc', 'data_volume', 'image') if item.get(s)]
        if len(sources) != 1:
            errors.add(field, 'give exactly one of container_disk, pvc, data_volume, image')
        if item.get('image'):
            ns, name = builders.nad_reference(item['image'], params['namespace'])
            errors.check(validation.dns1123_label, field + '.image', ns)
            errors.check(validation.dns1123_subdomain, field + '.image', name)
            item['image'] = '%s/%s' % (ns, name)
            item['size'] = errors.check(validation.quantity, field + '.size', item.get('size') or '10Gi')
            if item.get('claim_name'):
                errors.check(validation.dns1123_subdomain, field + '.claim_name', item['claim_name'])
            if item.get('storage_class'):
                errors.check(validation.dns1123_subdomain, field + '.storage_class', item['storage_class'])
        else:
            for option in ('claim_name', 'storage_class'):
                if item.get(option):
                    errors.add(field + '.' + option, '%s is for a disk from an image: set image, or drop it' % option)
        if item.get('pvc'):
            errors.check(validation.dns1123_subdomain, field + '.pvc', item['pvc'])
        if item.get('data_volume'):
            errors.check(validation.dns1123_subdomain, field + '.data_volume', item['data_volume'])
        disks.append(item)
    names = [d['name'] for d in disks]
    if validation.duplicates(names):
        errors.add('disks[].name', '%s used twice' % ', '.join(validation.duplicates(names)))
    return disks


def key_pair_references(params, errors):
    """``ssh_keys`` -> [<ns>/<name>] (a bare name is in the VM's namespace), as Harvester writes them into the
    sshNames annotation."""
    refs = []
    for index, value in enumerate(params.get('ssh_keys') or []):
        ns, name = builders.nad_reference(value, params['namespace'])
        errors.check(validation.dns1123_label, 'ssh_keys[%d]' % index, ns)
        errors.check(validation.dns1123_subdomain, 'ssh_keys[%d]' % index, name)
        refs.append('%s/%s' % (ns, name))
    if validation.duplicates(refs):
        errors.add('ssh_keys', '%s listed twice' % ', '.join(validation.duplicates(refs)))
    return refs


def _claim_names(vm_name, disks, existing):
    """An image disk's claim: claim_name, else the one the existing VM's volume of that disk names (a VM made in
    Harvester's UI has a random suffix), else ``<vm>-<disk>`` (Harvester's builder adds a random suffix; a fixed
    name keeps a re-run unchanged)."""
    volumes = ((((existing or {}).get('spec') or {}).get('template') or {}).get('spec') or {}).get('volumes') or []
    have = dict((v.get('name'), (v.get('persistentVolumeClaim') or {}).get('claimName')) for v in volumes)
    for item in disks:
        if item.get('image') and not item.get('claim_name'):
            item['claim_name'] = have.get(item['name']) or '%s-%s' % (vm_name, item['name'])


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


def build_vm_spec(params, existing=None, lookups=None):
    """Validated, normalised params -> the VirtualMachine manifest (pure, apart from ``existing`` runStrategy and
    claim names). ``lookups`` (read from the cluster by ``resolve_references``): ``storage_classes`` {image: class}
    and ``public_keys`` {key pair: public key}; without them (validation before any read) image disks get their
    ``storage_class`` option and no keys are injected. Every input error is collected and raised together, each
    naming its field."""
    lookups = lookups or {}
    errors = Errors()
    errors.check(validation.dns1123_label, 'name', params['name'])
    errors.check(validation.dns1123_label, 'namespace', params['namespace'])
    errors.check(validation.labels, 'labels', params.get('labels'))
    if params.get('cpu') is not None and params['cpu'] < 1:
        errors.add('cpu', 'give at least 1 core')
    memory = errors.check(validation.quantity, 'memory', params.get('memory') or '1Gi')
    nics = normalise_interfaces(params, errors)
    disks = normalise_disks(params, errors)
    ssh_names = key_pair_references(params, errors)
    if params.get('hostname'):
        errors.check(validation.dns1123_label, 'hostname', params['hostname'])
    errors.check(validation.labels, 'node_selector', params.get('node_selector'))
    public_keys = [lookups['public_keys'][ref] for ref in ssh_names if ref in lookups.get('public_keys', {})]
    user_data = errors.check(cloudinit.user_data_text, 'user_data', params.get('user_data'),
                             bool(params.get('guest_agent')), public_keys if lookups else ssh_names)
    strategy = errors.check(run_strategy, params, existing)
    errors.raise_if_any()
    _claim_names(params['name'], disks, existing)
    for item in disks:
        if item.get('image'):
            item['storage_class'] = lookups.get('storage_classes', {}).get(item['image']) or item.get('storage_class')
    network_data = params.get('network_data')
    if isinstance(network_data, dict):
        network_data = cloudinit.dump_yaml(network_data)
    elif network_data is None and (len(nics) > 1 or any(n['ip_mode'] != 'dhcp' for n in nics)):
        network_data = cloudinit.network_data_text(nics, params.get('network_data_version') or 1)
    vm = {
        'name': params['name'], 'namespace': params['namespace'], 'labels': params.get('labels'),
        'description': params.get('description'), 'run_strategy': strategy,
        'cpu': params.get('cpu') or 1, 'memory': memory, 'interfaces': nics, 'disks': disks,
        'user_data': user_data, 'network_data': network_data or None, 'ssh_names': ssh_names,
        'hostname': params.get('hostname'), 'node_selector': params.get('node_selector'),
        'plain': params.get('flavor') == PLAIN,
    }
    return vm_builder.virtual_machine(vm), nics


# A VM names a few networks: one GET each costs the same however many networks the cluster has, where a LIST of
# every NAD grows with them (make bench-scale: 11 requests a VM task beside 5000 networks). Many names: one LIST.
NETWORK_GETS_MAX = 8


def _check_networks_exist(service, nics, module):
    refs = sorted(set(n['network'] for n in nics if n.get('network')))
    if not refs:
        return
    if len(refs) > NETWORK_GETS_MAX:
        existing = service.list(NAD)
    else:
        existing = {}
        for ref in refs:
            namespace, name = ref.split('/', 1)
            existing.update(service.read_one(NAD, name, namespace)[1])
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


def resolve_references(cluster, params):
    """Read what image disks and ssh_keys name: each VirtualMachineImage's storage class (status.storageClassName,
    as the Terraform provider takes it) and each KeyPair's spec.publicKey. One GET per object; every missing or
    unusable one is reported together, each naming its field."""
    service = cluster.service
    errors = Errors()
    lookups = {'storage_classes': {}, 'public_keys': {}}
    images = [(index, d) for index, d in enumerate(params.get('disks') or []) if d.get('image')]
    if images:
        cluster.discovery.require(VM_IMAGE)
    for index, item in images:
        field = 'disks[%d].image' % index
        ns, name = builders.nad_reference(item['image'], params['namespace'])
        ref = '%s/%s' % (ns, name)
        image = service.get(VM_IMAGE, name, ns)
        if image is None:
            errors.add(field, 'VirtualMachineImage %s does not exist: upload or import it in Harvester (Images) '
                              'first' % ref)
            continue
        storage_class = (image.get('status') or {}).get('storageClassName')
        if not storage_class:
            errors.add(field, 'VirtualMachineImage %s has no storage class yet (status.storageClassName): wait '
                              'until Harvester has imported it' % ref)
        elif item.get('storage_class') and item['storage_class'] != storage_class:
            errors.add('disks[%d].storage_class' % index, 'image %s uses storage class %s; an image\'s storage class '
                       'is set when the image is created: drop storage_class or give %s'
                       % (ref, storage_class, storage_class))
        lookups['storage_classes'][ref] = storage_class
    keys = params.get('ssh_keys') or []
    if keys:
        cluster.discovery.require(KEY_PAIR)
    for index, value in enumerate(keys):
        ns, name = builders.nad_reference(value, params['namespace'])
        pair = service.get(KEY_PAIR, name, ns)
        public_key = ((pair or {}).get('spec') or {}).get('publicKey')
        if pair is None:
            errors.add('ssh_keys[%d]' % index, 'KeyPair %s/%s does not exist: create it in Harvester (SSH Keys) first'
                       % (ns, name))
        elif not public_key:
            errors.add('ssh_keys[%d]' % index, 'KeyPair %s/%s has no spec.publicKey' % (ns, name))
        else:
            lookups['public_keys']['%s/%s' % (ns, name)] = public_key.strip()
    errors.raise_if_any()
    return lookups


def _named(items, name):
    for item in items or []:
        if item.get('name') == name:
            return item
    return None


def _interfaces_of(spec):
    return ((((spec.get('template') or {}).get('spec') or {}).get('domain') or {}).get('devices') or {}) \
        .get('interfaces') or []


def _template_list(spec, what):
    return ((spec.get('template') or {}).get('spec') or {}).get(what) or []


def hotplug_manifest(manifest, existing, nics, keep_network_data=True):
    """A running VM's NIC changes as Harvester's Add/Remove NIC actions write them (harvester/harvester
    pkg/api/vm/handler.go addNic/removeNic, pkg/util/virtualmachine/virtualmachine.go SupportHotplugNic,
    SupportHotUnplugNic, IsInterfaceHotUnpluggable @3d63c2af15db): the VM's NICs stay in their order, a new NIC (a
    virtio bridge NIC on a VLAN network) is appended, a removed one stays in place with ``state: absent`` (KubeVirt
    unplugs it); every NIC needs a MAC in the spec. With ``keep_network_data`` the generated cloud-init network data
    stays as the running VM has it: it is read at boot only, and changing it would make the VM RestartRequired.

    Returns (manifest, probe, kept): ``probe`` is the manifest without the hot-plug (the VM's own NIC entries for the
    added and removed ones), whose differences from the VM are what needs a restart; ``kept``: network data kept."""
    manifest = copy.deepcopy(manifest)
    have_spec = existing.get('spec') or {}
    spec = manifest['spec']['template']['spec']
    wanted = dict((n['name'], index) for index, n in enumerate(nics))
    want_ifaces = dict((i['name'], i) for i in spec['domain']['devices']['interfaces'])
    want_nets = dict((n['name'], n) for n in spec['networks'])
    have_ifaces = _interfaces_of(have_spec)
    have_nets = dict((n.get('name'), n) for n in _template_list(have_spec, 'networks'))
    errors = Errors()
    added = [nic['name'] for nic in nics if _named(have_ifaces, nic['name']) is None]
    removed = [i.get('name') for i in have_ifaces if i.get('name') not in wanted and i.get('state') != 'absent']
    for name in added:
        nic = nics[wanted[name]]
        if not nic.get('network') or nic.get('model') not in (None, 'virtio'):
            errors.add('interfaces[%d]' % wanted[name], 'only a virtio bridge NIC on a VLAN network can be '
                       'hot-plugged into a running VM: stop the VM, or set restart_on_change=true')
    interfaces, networks, probe_ifaces, probe_nets = [], [], [], []
    for have in have_ifaces:
        name = have.get('name')
        if name in wanted:
            entry = want_ifaces[name]
        else:
            entry = dict(have)
            if name in removed and ('bridge' not in entry or entry.get('model') not in (None, 'virtio')):
                errors.add('interfaces', 'NIC %s of the running VM cannot be hot-unplugged (only virtio bridge NICs '
                                         'can): keep it, stop the VM, or set restart_on_change=true' % name)
            entry['state'] = 'absent'
        interfaces.append(entry)
        probe_ifaces.append(entry if name in wanted else have)
        network = want_nets.get(name) if name in wanted else have_nets.get(name)
        if network is not None:
            networks.append(network)
            probe_nets.append(network if name in wanted else have_nets[name])
    interfaces.extend(want_ifaces[name] for name in added)
    networks.extend(want_nets[name] for name in added if name in want_nets)
    if added or removed:
        for entry in interfaces:
            have = _named(have_ifaces, entry['name']) or {}
            if not entry.get('macAddress') and not have.get('macAddress'):
                errors.add('interfaces[%d].mac_address' % wanted[entry['name']] if entry['name'] in wanted
                           else 'interfaces', 'NIC hot-plug needs a MAC address in the spec of every NIC of the VM '
                           '(Harvester refuses it otherwise): set mac_address of %s' % entry['name'])
    errors.raise_if_any()
    spec['domain']['devices']['interfaces'] = interfaces
    spec['networks'] = networks
    kept = False
    cloud_have = _named(_template_list(have_spec, 'volumes'), vm_builder.CLOUD_INIT_DISK)
    cloud_want = _named(spec.get('volumes'), vm_builder.CLOUD_INIT_DISK)
    if keep_network_data and cloud_have is not None and cloud_want is not None:
        source_have = cloud_have.get('cloudInitNoCloud') or {}
        source_want = cloud_want.get('cloudInitNoCloud') or {}
        if source_have.get('networkData') != source_want.get('networkData'):
            if source_have.get('networkData') is None:
                source_want.pop('networkData', None)
            else:
                source_want['networkData'] = source_have['networkData']
            kept = True
    probe = copy.deepcopy(manifest)
    probe['spec']['template']['spec']['domain']['devices']['interfaces'] = probe_ifaces
    probe['spec']['template']['spec']['networks'] = probe_nets
    return manifest, probe, kept


def wait_for_vm(service, params, nics, timeout, sleep=time.sleep, clock=time.monotonic):
    """Poll the VMI until it is Ready (and every NIC with an IP mode has an IP, when asked; and every NIC with
    ``wait_for_lease`` has one in status.interfaces[].ipAddress(es)); or, for state=stopped, until it is gone."""
    deadline = clock() + timeout
    want_ips = params.get('wait_for_ips')
    leases = [n['name'] for n in nics if n.get('wait_for_lease')]
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
            have_ip = set(name for name, item in seen.items() if item.get('ipAddress') or item.get('ipAddresses'))
            no_ip = [n['name'] for n in nics if n['name'] not in have_ip
                     and ((want_ips and n['ip_mode'] != 'none') or n['name'] in leases)]
            if ready and not no_ip:
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


def refuse_harvester_only(params):
    """On plain KubeVirt (flavor plain): image disks (Harvester's VirtualMachineImages) and ssh_keys (Harvester's
    KeyPairs) have no objects to name; each is refused with its plain equivalent."""
    errors = Errors()
    for index, item in enumerate(params.get('disks') or []):
        if item.get('image'):
            errors.add('disks[%d].image' % index, 'names a Harvester VirtualMachineImage, and this cluster is plain '
                                                  'KubeVirt (flavor plain): use container_disk, pvc or data_volume')
    if params.get('ssh_keys'):
        errors.add('ssh_keys', 'names Harvester KeyPairs, and this cluster is plain KubeVirt (flavor plain): put the '
                               'public keys into user_data (ssh_authorized_keys)')
    errors.raise_if_any()


def vm_handler(params, cluster, module):
    if params['state'] != 'absent':
        # validate everything we can before talking to the cluster
        build_vm_spec(params)
    else:
        errors = Errors()
        errors.check(validation.dns1123_label, 'name', params['name'])
        errors.check(validation.dns1123_label, 'namespace', params['namespace'])
        errors.raise_if_any()
    params = dict(params, flavor=cluster.discovery.flavor(params.get('flavor') or 'auto'))
    if params['flavor'] == PLAIN and params['state'] != 'absent':
        refuse_harvester_only(params)
    cluster.discovery.require(VIRTUAL_MACHINE)
    service = cluster.service
    key, existing_map = service.read_one(VIRTUAL_MACHINE, params['name'], params['namespace'])
    reconcile = service.reconcile(module)
    if params['state'] == 'absent':
        return reconcile.delete(VIRTUAL_MACHINE, [key], existing_map).run()
    existing = existing_map.get(key)
    lookups = resolve_references(cluster, params)
    manifest, nics = build_vm_spec(params, existing, lookups)
    _check_networks_exist(service, nics, module)
    vmi = service.get(VIRTUAL_MACHINE_INSTANCE, params['name'], params['namespace']) if existing else None
    running = vmi is not None and params['state'] != 'stopped'
    built, probe, kept = manifest, manifest, False
    if running and params.get('nic_hotplug'):
        manifest, probe, kept = hotplug_manifest(built, existing, nics,
                                                 keep_network_data=not params.get('network_data'))
    paths = compare.needs_apply(probe, existing, service.field_manager) if existing else []
    restart_fields = sorted(set(compare.format_path(path) for path in paths if path[:2] == ('spec', 'template')))
    restart = running and (params['state'] == 'restarted' or (restart_fields and params.get('restart_on_change')))
    if restart and params.get('nic_hotplug'):
        # the VM boots again anyway: with the NICs as asked and their network data
        manifest, kept = built, False
    if kept:
        module.warn('the running VM keeps its generated cloud-init network data (read at boot only; a change would '
                    'make the VM RestartRequired): configure new NICs in the guest, or restart the VM '
                    '(state=restarted or restart_on_change=true) to boot with the new data')
    reconcile.converge(VIRTUAL_MACHINE, [manifest], existing_map)
    if restart:
        # what virtctl restart does: the VM controller starts a fresh instance for a running strategy
        reconcile.add(Change(VIRTUAL_MACHINE_INSTANCE, key, 'delete', existing=vmi))
    elif running and restart_fields:
        module.warn('VM %s/%s is running: the change of %s takes effect at its next restart (KubeVirt marks it '
                    'RestartRequired); set restart_on_change=true to restart it now%s'
                    % (key[0], key[1], ', '.join(restart_fields),
                       '' if params.get('nic_hotplug') else ', or nic_hotplug=true to hot-plug NIC changes'))
    result = reconcile.run()
    result['restart_required'] = bool(running and restart_fields and not restart)
    final = reconcile.final(VIRTUAL_MACHINE, key)
    waits = params.get('wait') or any(n.get('wait_for_lease') for n in nics)
    if waits and not module.check_mode and params['state'] in ('running', 'restarted') \
            or params.get('wait') and not module.check_mode and params['state'] == 'stopped':
        vmi = wait_for_vm(service, params, nics, params.get('wait_timeout') or 300)
    elif params['state'] != 'stopped':
        vmi = service.get(VIRTUAL_MACHINE_INSTANCE, params['name'], params['namespace'])
    else:
        vmi = None
    result['vm'] = vm_builder.vm_facts(final, vmi)
    result['flavor'] = params['flavor']
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
    manifest = vm_builder.service(dict(params, plain=cluster.discovery.flavor(params.get('flavor') or 'auto') == PLAIN))
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
