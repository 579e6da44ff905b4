# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure builders for KubeVirt VirtualMachines as Harvester lays them out, and the Service for a VM."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections import OrderedDict

from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import SERVICE, VIRTUAL_MACHINE

VM_NAME_LABEL = 'harvesterhci.io/vmName'
CLOUD_INIT_DISK = 'cloudinitdisk'
DESCRIPTION_ANNOTATION = 'field.cattle.io/description'


def interface(nic):
    """``nic``: normalised item of ``interfaces`` (name, network, binding, model, mac, boot_order)."""
    entry = OrderedDict([('name', nic['name']), ('model', nic.get('model') or 'virtio')])
    if nic.get('mac'):
        entry['macAddress'] = nic['mac']
    if nic.get('boot_order'):
        entry['bootOrder'] = nic['boot_order']
    entry[nic['binding']] = {}
    return entry


def network(nic):
    if nic.get('network'):
        return OrderedDict([('name', nic['name']), ('multus', {'networkName': nic['network']})])
    return OrderedDict([('name', nic['name']), ('pod', {})])


def disk(item):
    entry = OrderedDict([('name', item['name'])])
    device = item.get('device') or 'disk'
    entry[device] = {'bus': item.get('bus') or ('sata' if device == 'cdrom' else 'virtio')}
    if item.get('boot_order'):
        entry['bootOrder'] = item['boot_order']
    return entry


def volume(item):
    entry = OrderedDict([('name', item['name'])])
    if item.get('container_disk'):
        entry['containerDisk'] = {'image': item['container_disk']}
    elif item.get('pvc'):
        entry['persistentVolumeClaim'] = {'claimName': item['pvc']}
    elif item.get('data_volume'):
        entry['dataVolume'] = {'name': item['data_volume']}
    return entry


def cloud_init_volume(user_data, network_data):
    source = OrderedDict()
    # KubeVirt requires userData on a NoCloud source; an empty document is a valid no-op
    source['userData'] = user_data if user_data is not None else '#cloud-config\n{}\n'
    if network_data:
        source['networkData'] = network_data
    return OrderedDict([('name', CLOUD_INIT_DISK), ('cloudInitNoCloud', source)])


def virtual_machine(vm):
    """``vm``: name, namespace, labels, description, run_strategy, cpu, memory, interfaces, disks, user_data,
    network_data (strings), all validated and normalised by the module."""
    disks = [disk(item) for item in vm.get('disks') or []]
    volumes = [volume(item) for item in vm.get('disks') or []]
    if vm.get('user_data') is not None or vm.get('network_data'):
        disks.append(OrderedDict([('name', CLOUD_INIT_DISK), ('disk', {'bus': 'virtio'})]))
        volumes.append(cloud_init_volume(vm.get('user_data'), vm.get('network_data')))
    devices = OrderedDict()
    devices['disks'] = disks
    devices['interfaces'] = [interface(nic) for nic in vm.get('interfaces') or []]
    domain = OrderedDict()
    domain['cpu'] = OrderedDict([('cores', vm.get('cpu') or 1), ('sockets', 1), ('threads', 1)])
    domain['devices'] = devices
    domain['resources'] = {'limits': {'cpu': str(vm.get('cpu') or 1), 'memory': vm.get('memory') or '1Gi'}}
    template_spec = OrderedDict()
    template_spec['domain'] = domain
    template_spec['networks'] = [network(nic) for nic in vm.get('interfaces') or []]
    template_spec['volumes'] = volumes
    template_labels = dict(vm.get('labels') or {})
    template_labels[VM_NAME_LABEL] = vm['name']
    metadata = OrderedDict([('name', vm['name']), ('namespace', vm.get('namespace') or 'default')])
    labels = dict(vm.get('labels') or {})
    if labels:
        metadata['labels'] = labels
    if vm.get('description'):
        metadata['annotations'] = {DESCRIPTION_ANNOTATION: vm['description']}
    spec = OrderedDict()
    spec['runStrategy'] = vm['run_strategy']
    spec['template'] = OrderedDict([('metadata', {'labels': template_labels}), ('spec', template_spec)])
    return OrderedDict([('apiVersion', VIRTUAL_MACHINE.api_version), ('kind', VIRTUAL_MACHINE.kind),
                        ('metadata', metadata), ('spec', spec)])


def service(svc):
    """``svc``: name, namespace, vm, type, ports (name, port, target_port, protocol, node_port), cluster_ip."""
    ports = []
    for item in svc.get('ports') or []:
        port = OrderedDict()
        if item.get('name'):
            port['name'] = item['name']
        port['port'] = item['port']
        port['protocol'] = item.get('protocol') or 'TCP'
        port['targetPort'] = item.get('target_port') or item['port']
        if item.get('node_port'):
            port['nodePort'] = item['node_port']
        ports.append(port)
    spec = OrderedDict([('type', svc.get('type') or 'ClusterIP'), ('selector', {VM_NAME_LABEL: svc['vm']}),
                        ('ports', ports)])
    if svc.get('cluster_ip'):
        spec['clusterIP'] = svc['cluster_ip']
    metadata = OrderedDict([('name', svc['name']), ('namespace', svc.get('namespace') or 'default'),
                            ('labels', {VM_NAME_LABEL: svc['vm']})])
    return OrderedDict([('apiVersion', SERVICE.api_version), ('kind', SERVICE.kind), ('metadata', metadata),
                        ('spec', spec)])


def vm_facts(vm, vmi=None):
    """What vm_info returns for one VM (and its VMI, when running): phase, and per NIC network, MAC, IPs."""
    metadata = vm.get('metadata') or {}
    spec = vm.get('spec') or {}
    template = ((spec.get('template') or {}).get('spec') or {})
    networks = dict((n.get('name'), n) for n in template.get('networks') or [])
    vmi_status = (vmi or {}).get('status') or {}
    status_by_name = dict((i.get('name'), i) for i in vmi_status.get('interfaces') or [] if i.get('name'))
    nics = []
    for item in ((template.get('domain') or {}).get('devices') or {}).get('interfaces') or []:
        net = networks.get(item.get('name')) or {}
        seen = status_by_name.get(item.get('name')) or {}
        ips = list(seen.get('ipAddresses') or ([seen['ipAddress']] if seen.get('ipAddress') else []))
        nics.append({
            'name': item.get('name'),
            'network': (net.get('multus') or {}).get('networkName') if 'multus' in net else None,
            'management': 'pod' in net,
            'binding': 'masquerade' if 'masquerade' in item else 'bridge' if 'bridge' in item else None,
            'model': item.get('model'),
            'mac': (seen.get('mac') or item.get('macAddress') or '').lower() or None,
            'ip_address': seen.get('ipAddress'),
            'ip_addresses': ips,
            'guest_interface': seen.get('interfaceName'),
        })
    conditions = dict((c.get('type'), c.get('status')) for c in vmi_status.get('conditions') or [])
    vm_status = vm.get('status') or {}
    return {
        'name': metadata.get('name'),
        'namespace': metadata.get('namespace'),
        'run_strategy': spec.get('runStrategy') or ('Always' if spec.get('running') else 'Halted'),
        'printable_status': vm_status.get('printableStatus'),
        'phase': vmi_status.get('phase') if vmi else 'Stopped',
        'ready': conditions.get('Ready') == 'True' or bool(vm_status.get('ready')),
        'node': vmi_status.get('nodeName'),
        'interfaces': nics,
    }
