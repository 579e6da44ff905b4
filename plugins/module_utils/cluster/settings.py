# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Harvester's network settings: ``storage-network`` (v1.1.0+) and ``vm-migration-network`` (v1.6.0+).

Both are ``settings.harvesterhci.io`` objects whose ``value`` is a JSON string of Harvester's network config
(harvester/harvester pkg/util/network/common.go ``Config`` @3d63c2af15db: ``clusterNetwork``, ``vlan``, ``range``,
``exclude``, Go field order, empty fields left out). Harvester's controllers turn the value into a bridge NAD in
``harvester-system`` and report progress in the ``configured`` condition
(pkg/controller/master/storagenetwork/storage_network.go, pkg/controller/master/kubevirt/vm_migration_network.go).

Order: pure validation -> discovery -> reads (one request per kind) -> checks that need the cluster (the rules of
Harvester's webhook, pkg/webhook/resources/setting/validator.go @3d63c2af15db, plus this collection's own) ->
one server-side apply of ``value`` (a dry run in check mode) -> optional wait. Nothing is written unless every
check passed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import ipaddress
import json
import time

from ansible_collections.harvester.network.plugins.module_utils.cluster import validation
from ansible_collections.harvester.network.plugins.module_utils.cluster.builders import MGMT_CLUSTER_NETWORK
from ansible_collections.harvester.network.plugins.module_utils.cluster.discovery import CURRENT
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import (
    InUseError, MissingApiError, ValidationError, WaitTimeout)
from ansible_collections.harvester.network.plugins.module_utils.cluster.service import Reconciliation
from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import (
    CLUSTER_NETWORK, NAD, NODE, SETTING, VIRTUAL_MACHINE_INSTANCE, VLAN_CONFIG)

STORAGE_NETWORK = 'storage-network'
VM_MIGRATION_NETWORK = 'vm-migration-network'
SETTING_NAMES = (STORAGE_NETWORK, VM_MIGRATION_NETWORK)
# the Harvester release that brought each setting (pkg/settings/settings.go at tags v1.1.0 and v1.6.0)
INTRODUCED = {STORAGE_NETWORK: 'v1.1.0', VM_MIGRATION_NETWORK: 'v1.6.0'}
# annotations the controllers keep on the setting (pkg/util/constants.go; vm_migration_network.go)
HASH_ANNOTATION = {STORAGE_NETWORK: 'storage-network.settings.harvesterhci.io/hash',
                   VM_MIGRATION_NETWORK: 'vm-migration-network.settings.harvesterhci.io/hash'}
NAD_ANNOTATION = {STORAGE_NETWORK: 'storage-network.settings.harvesterhci.io/net-attach-def',
                  VM_MIGRATION_NETWORK: 'vm-migration-network.settings.harvesterhci.io/net-attach-def'}
CONDITION = 'configured'  # pkg/apis/harvesterhci.io/v1beta1/settings.go SettingConfigured
IN_PROGRESS = 'In Progress'  # storage_network.go ReasonInProgress
MIN_PREFIX = 16  # validator.go minSNPrefixLength
WITNESS_LABEL = 'node-role.harvesterhci.io/witness'
ROUTE_ANNOTATION = 'network.harvesterhci.io/route'
LABEL_CLUSTER_NETWORK = 'network.harvesterhci.io/clusternetwork'
MATCHED_NODES_ANNOTATION = 'network.harvesterhci.io/matched-nodes'
POLL_SECONDS = 1.0
STORAGE_DISRUPTION = ('changing the storage network stops Harvester\'s monitoring and VM import pods, waits until '
                      'every Longhorn volume is detached and restarts Longhorn\'s pods on the new network; Harvester '
                      'refuses it while any VM runs')


# ---- pure ---------------------------------------------------------------------------------------------------------
def _network(field, text, strict):
    try:
        network = ipaddress.ip_network(text, strict=strict)
    except ValueError as exc:
        if strict and '/' in str(text):
            try:
                loose = ipaddress.ip_network(text, strict=False)
            except ValueError:
                loose = None
            if loose is not None:
                raise ValidationError('%s is not a subnet CIDR (its host bits are set): give %s' % (text, loose),
                                      field=field)
        raise ValidationError('%r is not a CIDR (%s): write it as ADDRESS/PREFIX, e.g. 192.168.50.0/24'
                              % (text, exc), field=field)
    if '/' not in str(text):
        raise ValidationError('%r is not a CIDR: write it as ADDRESS/PREFIX, e.g. 192.168.50.0/24' % (text,),
                              field=field)
    if network.version != 4:
        raise ValidationError('%s is IPv6: Harvester supports IPv4 ranges only for network settings' % text,
                              field=field)
    if network.prefixlen < MIN_PREFIX:
        raise ValidationError('%s is a /%d: Harvester needs a prefix of /%d or longer'
                              % (text, network.prefixlen, MIN_PREFIX), field=field)
    return network


def usable_intervals(cidr, exclude):
    """The addresses Harvester may hand out, as sorted (first, last) integer pairs: the range without its network
    and broadcast addresses and without every excluded address (pkg/webhook/util/ip.go ``GetUsableIPAddresses``:
    an exclude entry counts from the address written to the end of its subnet)."""
    network = ipaddress.ip_network(cidr, strict=False)
    first, last = int(network.network_address) + 1, int(network.broadcast_address) - 1
    if last < first:
        return []
    cuts = []
    for entry in exclude or []:
        start = int(ipaddress.ip_interface(entry).ip)
        end = int(ipaddress.ip_network(entry, strict=False).broadcast_address)
        cuts.append((start, end))
    pieces = [(first, last)]
    for start, end in sorted(cuts):
        kept = []
        for low, high in pieces:
            if end < low or start > high:
                kept.append((low, high))
                continue
            if low < start:
                kept.append((low, start - 1))
            if end < high:
                kept.append((end + 1, high))
        pieces = kept
    return pieces


def count_usable(cidr, exclude):
    return sum(high - low + 1 for low, high in usable_intervals(cidr, exclude))


def intervals_overlap(a, b):
    return any(lo1 <= hi2 and lo2 <= hi1 for lo1, hi1 in a for lo2, hi2 in b)


def validate_params(params):
    """Everything that needs no cluster. Returns the config dict Harvester stores, or None for state=absent."""
    if params['state'] == 'absent':
        return None
    for option in ('cluster_network', 'range'):
        if not params.get(option):
            raise ValidationError('is required with state=present', field=option)
    validation.cluster_network_name('cluster_network', params['cluster_network'])
    vlan = params.get('vlan_id')
    vlan = 0 if vlan is None else vlan
    if isinstance(vlan, bool) or not isinstance(vlan, int) or not 0 <= vlan <= 4094:
        raise ValidationError('VLAN ID %r is out of range: give 1-4094 (0 or unset: untagged)' % (vlan,),
                              field='vlan_id')
    if vlan <= 1 and params['cluster_network'] == MGMT_CLUSTER_NETWORK:
        # validator.go checkNetworkVlanValid
        raise ValidationError('the management network (mgmt) carries %s untagged: give the VLAN the %s uses on mgmt '
                              '(2-4094), or use a cluster network of its own'
                              % (params['name'], params['name']), field='vlan_id')
    network = _network('range', params['range'], strict=True)
    excludes = []
    for index, entry in enumerate(params.get('exclude') or []):
        field = 'exclude[%d]' % index
        item = _network(field, entry, strict=False)
        # validator.go validateIncludeExcludeRanges
        if not item.overlaps(network):
            raise ValidationError('%s lies outside range %s: exclude only addresses of the range' % (entry, network),
                                  field=field)
        if item.prefixlen <= network.prefixlen:
            raise ValidationError('%s covers the whole range %s: nothing would be left to hand out' % (entry, network),
                                  field=field)
        for other_index, other in excludes:
            if item.overlaps(other):
                raise ValidationError('%s overlaps exclude[%d] (%s): list each excluded subnet once'
                                      % (entry, other_index, other), field=field)
        excludes.append((index, item))
    config = {'clusterNetwork': params['cluster_network']}
    if vlan:
        config['vlan'] = vlan
    config['range'] = str(network)
    if params.get('exclude'):
        config['exclude'] = list(params['exclude'])
    if count_usable(config['range'], config.get('exclude')) == 0:
        raise ValidationError('range %s minus exclude leaves no address to hand out' % network, field='exclude')
    return config


def encode(config):
    """The value string as Harvester's Go json.Marshal writes ``network.Config`` (field order, no spaces)."""
    if config is None:
        return ''
    ordered = [(key, config[key]) for key in ('clusterNetwork', 'vlan', 'exclusiveVlan', 'range', 'exclude')
               if config.get(key)]
    return '{%s}' % ','.join('%s:%s' % (json.dumps(k), json.dumps(v, separators=(',', ':'))) for k, v in ordered)


def decode(value):
    """The config of a setting's value; None when empty; {'_invalid': text} when it is not Harvester's JSON."""
    if not value:
        return None
    try:
        config = json.loads(value)
    except ValueError:
        return {'_invalid': value}
    return config if isinstance(config, dict) else {'_invalid': value}


def same_config(a, b):
    """Equal as Harvester reads them: exclude order does not matter (as the Terraform provider compares them)."""
    if a is None or b is None:
        return a is None and b is None

    def norm(config):
        out = dict((k, v) for k, v in config.items() if v not in (None, '', 0, False, []))
        if 'exclude' in out:
            out['exclude'] = sorted(out['exclude'])
        return out
    return norm(a) == norm(b)


def value_hash(value):
    """sha1 of the value: what the controllers store in their hash annotation once they have taken a value up."""
    return hashlib.sha1(value.encode('utf-8')).hexdigest()


def condition(setting):
    for item in ((setting or {}).get('status') or {}).get('conditions') or []:
        if item.get('type') == CONDITION:
            return item
    return None


def summary(name, setting):
    """What the module returns about the setting."""
    value = (setting or {}).get('value') or ''
    config = decode(value)
    annotations = ((setting or {}).get('metadata') or {}).get('annotations') or {}
    cond = condition(setting) or {}
    applied = bool(annotations.get(HASH_ANNOTATION[name]) == value_hash(value))
    out = {'name': name, 'enabled': bool(value), 'value': value, 'cluster_network': None, 'vlan_id': None,
           'range': None, 'exclude': [],
           # never set and still empty: Harvester's controller has nothing to configure
           'configured': (not value and not annotations) or (cond.get('status') == 'True' and applied),
           'reason': cond.get('reason') or '', 'message': cond.get('message') or '',
           'nad': annotations.get(NAD_ANNOTATION[name]) or None}
    if config and '_invalid' not in config:
        out.update(cluster_network=config.get('clusterNetwork'), vlan_id=config.get('vlan') or 0,
                   range=config.get('range'), exclude=list(config.get('exclude') or []))
    return out


# ---- checks that need the cluster ---------------------------------------------------------------------------------
def _ready(obj):
    return any(c.get('type') == 'ready' and c.get('status') == 'True'
               for c in ((obj or {}).get('status') or {}).get('conditions') or [])


def _node_names(nodes):
    return sorted(key[1] for key, node in nodes.items()
                  if WITNESS_LABEL not in (((node.get('metadata') or {}).get('labels')) or {}))


def check_cluster_network(service, cn, nodes):
    """validator.go checkVlanStatusReady and checkVCSpansAllNodes: the cluster network exists, Harvester reports it
    ready, and its VlanConfigs reach every node but witness nodes (mgmt reaches every node by definition)."""
    if cn == MGMT_CLUSTER_NETWORK:
        return
    obj = service.get(CLUSTER_NETWORK, cn)
    if obj is None:
        raise ValidationError('cluster network %s does not exist: create it and its uplink first '
                              '(harvester.network.cluster_network, harvester.network.vlan_config)' % cn,
                              field='cluster_network')
    configs = [vc for vc in service.list(VLAN_CONFIG).values() if (vc.get('spec') or {}).get('clusterNetwork') == cn]
    if not configs:
        raise ValidationError('cluster network %s has no VlanConfig, so no node has its uplink: add one with '
                              'harvester.network.vlan_config' % cn, field='cluster_network')
    if not _ready(obj):
        raise ValidationError('cluster network %s is not ready (Harvester has not reported its uplinks up on the '
                              'nodes): fix the VlanConfig, or wait until the cluster network is ready' % cn,
                              field='cluster_network')
    matched = set()
    for vc in configs:
        text = ((vc.get('metadata') or {}).get('annotations') or {}).get(MATCHED_NODES_ANNOTATION) or '[]'
        try:
            matched.update(json.loads(text))
        except ValueError:
            pass
    missing = [node for node in _node_names(nodes) if node not in matched]
    if missing:
        raise ValidationError('the VlanConfigs of cluster network %s do not reach node(s) %s: every node needs '
                              'this network; widen their node_selector' % (cn, ', '.join(missing)),
                              field='cluster_network')


def required_addresses(name, nodes):
    """Addresses the range must hold. vm-migration-network: one per non-witness node (validator.go
    checkVMMigrationNetworkRangeValid). storage-network: Harvester counts 2 + 2 per disk for each Longhorn node
    (checkStorageNetworkRangeValid); this collection does not read Longhorn's nodes and assumes one disk per
    node, so 4 per non-witness node."""
    count = len(_node_names(nodes))
    return count * 4 if name == STORAGE_NETWORK else count


def check_range_size(name, config, nodes):
    need = required_addresses(name, nodes)
    have = count_usable(config['range'], config.get('exclude'))
    if have < need:
        how = ('4 per node: 2 + 2 per Longhorn disk, counting one disk a node' if name == STORAGE_NETWORK
               else 'one per node')
        raise ValidationError('range %s minus exclude leaves %d address(es); %s needs at least %d for %d node(s) '
                              '(%s): give a larger range or exclude less'
                              % (config['range'], have, name, need, len(_node_names(nodes)), how), field='range')


def check_overlaps(name, config, settings, nads):
    """Harvester's rule (validator.go checkNetworkOverlap): no usable address shared with the other network
    setting. This collection's rule: the range must not overlap the subnet (route CIDR) of a VLAN network."""
    mine = usable_intervals(config['range'], config.get('exclude'))
    for other in SETTING_NAMES:
        if other == name:
            continue
        obj = settings.get(('', other)) or {}
        theirs = decode(obj.get('value') or obj.get('default') or '')
        if theirs and '_invalid' not in theirs and theirs.get('range'):
            if intervals_overlap(mine, usable_intervals(theirs['range'], theirs.get('exclude'))):
                raise ValidationError('range %s shares addresses with the %s setting (%s): the two networks need '
                                      'addresses of their own' % (config['range'], other, theirs['range']),
                                      field='range')
    network = ipaddress.ip_network(config['range'])
    for key, nad in sorted(nads.items()):
        text = (((nad.get('metadata') or {}).get('annotations')) or {}).get(ROUTE_ANNOTATION)
        try:
            cidr = (json.loads(text) or {}).get('cidr') if text else None
            theirs = ipaddress.ip_network(cidr, strict=False) if cidr else None
        except (ValueError, TypeError, AttributeError):
            theirs = None
        if theirs is not None and theirs.version == 4 and theirs.overlaps(network):
            raise ValidationError('range %s overlaps the subnet %s of VLAN network %s/%s: give the %s a subnet of '
                                  'its own' % (network, theirs, key[0], key[1], name), field='range')


def running_vms(service):
    """VMs with a VirtualMachineInstance that has not finished (kubevirt's IsVMStopped, as the webhook asks it)."""
    return sorted('%s/%s' % key for key, vmi in service.list(VIRTUAL_MACHINE_INSTANCE).items()
                  if (vmi.get('status') or {}).get('phase') not in ('Succeeded', 'Failed'))


def check_disruption(service, name, params, module):
    """storage-network: Harvester refuses the change while a VM runs (validator.go checkStorageNetworkUsage), and
    the change itself stops pods; so it needs force=true, in check mode too. vm-migration-network: Harvester
    changes it with VMs running (KubeVirt restarts its handlers), nothing to confirm."""
    if name == STORAGE_NETWORK:
        if not params.get('force'):
            raise ValidationError('refusing to change the storage network without force=true: %s. Stop every VM '
                                  'first (harvester.network.vm state=stopped), then run again with force=true'
                                  % STORAGE_DISRUPTION, field='force')
        running = running_vms(service)
        if running:
            names = ', '.join(running[:10]) + (' and %d more' % (len(running) - 10) if len(running) > 10 else '')
            raise InUseError('Harvester requires every VM to be stopped before the storage network changes; '
                             'running: %s. Stop them (harvester.network.vm state=stopped) and run again' % names,
                             field='force')
        module.warn('%s: %s' % (STORAGE_NETWORK, STORAGE_DISRUPTION))


def check_not_in_progress(name, existing, desired_value):
    """validator.go validateUpdateStorageNetwork: no new value while the last change is still being configured;
    going back to the default (empty) is allowed."""
    cond = condition(existing) or {}
    if name == STORAGE_NETWORK and cond.get('status') == 'False' and cond.get('reason') == IN_PROGRESS \
            and desired_value != '':
        raise InUseError('Harvester is still applying the last storage-network change (%s: %s): wait until it is '
                         'configured (wait=true), or set state=absent to go back to no storage network'
                         % (cond.get('reason'), cond.get('message')), field='name')


# ---- wait ---------------------------------------------------------------------------------------------------------
def wait_configured(service, name, value, timeout, sleep=time.sleep, clock=time.monotonic):
    """Poll the setting until Harvester's controller took ``value`` up (its hash annotation) and reports the
    ``configured`` condition True. A False condition with a reason other than In Progress is a failure the
    controller does not retry (vm_migration_network.go), so it ends the wait at once."""
    deadline = clock() + timeout
    while True:
        setting = service.get(SETTING, name)
        annotations = ((setting or {}).get('metadata') or {}).get('annotations') or {}
        cond = condition(setting) or {}
        taken_up = annotations.get(HASH_ANNOTATION[name]) == value_hash(value)
        if not value and not annotations:
            return setting  # never configured and still empty: Harvester's controller has nothing to do
        if taken_up and cond.get('status') == 'True':
            return setting
        if taken_up and cond.get('status') == 'False' and cond.get('reason') not in (None, '', IN_PROGRESS):
            raise WaitTimeout('Harvester could not apply the %s setting: %s: %s'
                              % (name, cond.get('reason'), cond.get('message')), field='wait')
        if clock() >= deadline:
            state = ('the controller has not taken the new value up yet' if not taken_up else
                     'condition configured=%s, reason %r, message %r' % (cond.get('status'), cond.get('reason'),
                                                                         cond.get('message')))
            raise WaitTimeout('timed out after %ss waiting for Harvester to apply the %s setting: %s'
                              % (timeout, name, state), field='wait_timeout')
        sleep(POLL_SECONDS)


# ---- the handler --------------------------------------------------------------------------------------------------
def network_setting_handler(params, cluster, module):
    name = params['name']
    config = validate_params(params)
    generation = cluster.discovery.generation(params['api_generation'])
    if generation != CURRENT:
        raise ValidationError('%s needs Harvester %s or later; this cluster is v0.3/v1.0' % (name, INTRODUCED[name]),
                              field='api_generation')
    cluster.discovery.require(SETTING)
    service = cluster.service
    settings = service.list(SETTING)
    existing = settings.get(('', name))
    if existing is None:
        raise MissingApiError('this Harvester has no %s setting: it came with Harvester %s'
                              % (name, INTRODUCED[name]), field='name')
    have = decode(existing.get('value') or '')
    if have is not None and '_invalid' not in have and same_config(have, config):
        value = existing.get('value') or ''  # keep Harvester's own spelling (e.g. another exclude order)
    else:
        value = encode(config)
    desired = {'apiVersion': SETTING.api_version, 'kind': SETTING.kind, 'metadata': {'name': name}, 'value': value}
    reconciliation = Reconciliation(service, module).converge(SETTING, [desired], settings)
    changes = reconciliation.changes
    if not value and not existing.get('value'):
        changes[0].action = 'none'  # Harvester leaves an empty value out of the object: already empty
    if changes[0].action != 'none':
        check_not_in_progress(name, existing, value)
        if config is not None:
            nodes = service.list(NODE)
            check_cluster_network(service, config['clusterNetwork'], nodes)
            check_range_size(name, config, nodes)
            check_overlaps(name, config, settings, service.list(NAD))
        check_disruption(service, name, params, module)
        # the module states the whole value: it takes the field over from whoever wrote it last (the UI, ...)
        service.force_conflicts = True
    result = reconciliation.run()
    final = changes[0].result if changes[0].result is not None else existing
    if params.get('wait') and not module.check_mode:
        final = wait_configured(service, name, value, params.get('wait_timeout') or 300) or final
    result['setting'] = summary(name, final)
    return result
