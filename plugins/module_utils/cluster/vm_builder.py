# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure builders for KubeVirt VirtualMachines as Harvester lays them out, and the Service for a VM."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
from collections import OrderedDict

from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import SERVICE, VIRTUAL_MACHINE

VM_NAME_LABEL = 'harvesterhci.io/vmName'
# KubeVirt's own label on a VM's launcher pod (v1.VirtualMachineNameLabel, set by virt-controller: kubevirt/kubevirt
# pkg/virt-controller/services/template_test.go @ed99ca83, the launcher pod's labels); a Service on a plain KubeVirt
# cluster selects the VM by it, with nothing written into the VM for it
KUBEVIRT_VM_NAME_LABEL = 'vm.kubevirt.io/name'
VM_NAME_LABELS = (VM_NAME_LABEL, KUBEVIRT_VM_NAME_LABEL)
CLOUD_INIT_DISK = 'cloudinitdisk'
DESCRIPTION_ANNOTATION = 'field.cattle.io/description'
# Harvester's names, read from harvester/harvester at 3d63c2af15db747e4a803b18b7832049b88cb00e (2026-08-21):
# pkg/util/constants.go AnnotationVolumeClaimTemplates (on the VM: a JSON list of PVC templates Harvester's VM
# controller creates the claims from), pkg/builder/vm.go AnnotationKeyImageID (on a PVC template: <ns>/<image>),
# AnnotationKeyVirtualMachineSSHNames and ...WaitForLeaseInterfaceNames (on the VM template: JSON lists).
VOLUME_CLAIM_TEMPLATES_ANNOTATION = 'harvesterhci.io/volumeClaimTemplates'
IMAGE_ID_ANNOTATION = 'harvesterhci.io/imageId'
SSH_NAMES_ANNOTATION = 'harvesterhci.io/sshNames'
WAIT_FOR_LEASE_ANNOTATION = 'harvesterhci.io/waitForLeaseInterfaceNames'


def interface(nic):
    """``nic``: normalised item of ``interfaces`` (name, network, binding, model, mac, boot_order)."""
    entry = OrderedDict([('name', nic['name']), ('model', nic.get('model') or 'virtio')])
    if nic.get('mac'):
        entry['macAddress'] = nic['mac']
    if nic.get('boot_order'):
        entry['bootOrder'] = nic['boot_order']
    entry[nic['binding']] = {}
    if nic.get('state'):
        # KubeVirt's Interface.state: 'absent' asks for a hot-unplug (harvester/harvester pkg/api/vm/handler.go
        # removeNic @3d63c2af15db)
        entry['state'] = nic['state']
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
    elif item.get('image'):
        entry['persistentVolumeClaim'] = {'claimName': item['claim_name']}
    elif item.get('data_volume'):
        entry['dataVolume'] = {'name': item['data_volume']}
    return entry


def claim_template(item):
    """A disk from a VirtualMachineImage -> one entry of the volumeClaimTemplates annotation, laid out as Harvester's
    builder (pkg/builder/disk.go PVCVolume @3d63c2af15db) and the Terraform provider (harvester_virtualmachine disk
    with ``image``) write it: the claim name, the imageId annotation, the access mode, the size, the image's storage
    class and the volume mode. ``item``: name, claim_name, image (<ns>/<name>), size, storage_class, volume_mode,
    access_mode."""
    spec = OrderedDict()
    spec['accessModes'] = [item.get('access_mode') or 'ReadWriteMany']
    spec['resources'] = {'requests': {'storage': item.get('size') or '10Gi'}}
    spec['storageClassName'] = item['storage_class']
    spec['volumeMode'] = item.get('volume_mode') or 'Block'
    metadata = OrderedDict([('name', item['claim_name']), ('annotations', {IMAGE_ID_ANNOTATION: item['image']})])
    return OrderedDict([('metadata', metadata), ('spec', spec)])


def volume_claim_templates(disks):
    """The annotation's value for the image-backed ``disks`` (compact JSON, as Go's json.Marshal writes it), or None."""
    entries = [claim_template(item) for item in disks if item.get('image')]
    return json.dumps(entries, separators=(',', ':')) if entries else None


def _json_list(names):
    return json.dumps(list(names), separators=(',', ':'))


def cloud_init_volume(user_data, network_data):
    source = OrderedDict()
    # KubeVirt requires userData on a NoCloud source; an empty document is a valid no-op
    source['userData'] = user_data if user_data is not None else '#cloud-config\n{}\n'
    if network_data:
        source['networkData'] = network_data
    return OrderedDict([('name', CLOUD_INIT_DISK), ('cloudInitNoCloud', source)])


def virtual_machine(vm):
    """``vm``: name, namespace, labels, description, run_strategy, cpu, memory, interfaces, disks, user_data,
    network_data (strings), all validated and normalised by the module; ``plain``: a VM for plain KubeVirt (no
    Harvester), without Harvester's vmName label and waitForLease annotation (image disks and key pairs, Harvester's
    too, are refused before this is called)."""
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
    if vm.get('hostname'):
        template_spec['hostname'] = vm['hostname']
    if vm.get('node_selector'):
        template_spec['nodeSelector'] = dict(vm['node_selector'])
    template_spec['networks'] = [network(nic) for nic in vm.get('interfaces') or []]
    template_spec['volumes'] = volumes
    template_labels = dict(vm.get('labels') or {})
    if not vm.get('plain'):
        template_labels[VM_NAME_LABEL] = vm['name']
    template_metadata = OrderedDict([('labels', template_labels)] if template_labels else [])
    # written only when used, so that VMs made before these options do not change (a template change makes a
    # running VM RestartRequired); Harvester's builder writes "[]" for none
    template_annotations = OrderedDict()
    if vm.get('ssh_names'):
        template_annotations[SSH_NAMES_ANNOTATION] = _json_list(vm['ssh_names'])
    leases = [nic['name'] for nic in vm.get('interfaces') or [] if nic.get('wait_for_lease')]
    if leases and not vm.get('plain'):
        template_annotations[WAIT_FOR_LEASE_ANNOTATION] = _json_list(leases)
    if template_annotations:
        template_metadata['annotations'] = template_annotations
    metadata = OrderedDict([('name', vm['name']), ('namespace', vm.get('namespace') or 'default')])
    labels = dict(vm.get('labels') or {})
    if labels:
        metadata['labels'] = labels
    annotations = OrderedDict()
    if vm.get('description'):
        annotations[DESCRIPTION_ANNOTATION] = vm['description']
    claims = vm.get('volume_claim_templates') or volume_claim_templates(vm.get('disks') or [])
    if claims:
        annotations[VOLUME_CLAIM_TEMPLATES_ANNOTATION] = claims
    if annotations:
        metadata['annotations'] = annotations
    spec = OrderedDict()
    spec['runStrategy'] = vm['run_strategy']
    spec['template'] = OrderedDict([('metadata', template_metadata), ('spec', template_spec)])
    return OrderedDict([('apiVersion', VIRTUAL_MACHINE.api_version), ('kind', VIRTUAL_MACHINE.kind),
                        ('metadata', metadata), ('spec', spec)])


def service(svc):
    """``svc``: name, namespace, vm, type, ports (name, port, target_port, protocol, node_port), cluster_ip;
    ``plain``: select the VM by KubeVirt's label (plain KubeVirt) instead of Harvester's."""
    label = KUBEVIRT_VM_NAME_LABEL if svc.get('plain') else VM_NAME_LABEL
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
    spec = OrderedDict([('type', svc.get('type') or 'ClusterIP'), ('selector', {label: svc['vm']}),
                        ('ports', ports)])
    if svc.get('cluster_ip'):
        spec['clusterIP'] = svc['cluster_ip']
    metadata = OrderedDict([('name', svc['name']), ('namespace', svc.get('namespace') or 'default'),
                            ('labels', {label: svc['vm']})])
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
            'state': item.get('state'),
        })
    conditions = dict((c.get('type'), c.get('status')) for c in vmi_status.get('conditions') or [])
    vm_status = vm.get('status') or {}
    vm_conditions = dict((c.get('type'), c.get('status')) for c in vm_status.get('conditions') or [])
    template_annotations = (((spec.get('template') or {}).get('metadata') or {}).get('annotations') or {})
    return {
        'name': metadata.get('name'),
        'namespace': metadata.get('namespace'),
        'run_strategy': spec.get('runStrategy') or ('Always' if spec.get('running') else 'Halted'),
        'printable_status': vm_status.get('printableStatus'),
        'phase': vmi_status.get('phase') if vmi else 'Stopped',
        'ready': conditions.get('Ready') == 'True' or bool(vm_status.get('ready')),
        'node': vmi_status.get('nodeName'),
        'restart_required': vm_conditions.get('RestartRequired') == 'True',
        'hostname': template.get('hostname'),
        'node_selector': template.get('nodeSelector') or {},
        'ssh_keys': _json_names(template_annotations.get(SSH_NAMES_ANNOTATION)),
        'interfaces': nics,
    }


def _json_names(value):
    try:
        names = json.loads(value) if value else []
    except ValueError:
        return []
    return names if isinstance(names, list) else []
