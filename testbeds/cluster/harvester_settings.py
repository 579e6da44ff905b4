"""The Harvester stand-in's part for the ``storage-network`` and ``vm-migration-network`` settings.

Mirrors harvester/harvester at commit 3d63c2af15db747e4a803b18b7832049b88cb00e (2026-08-21); each rule names the
upstream file it follows. Written for this bed from reading those files; no code is copied.

- Webhook (``validate``): pkg/webhook/resources/setting/validator.go for these two settings: no delete (405); a
  storage-network change refused while the last one is in progress (409) or while a VM runs (422); the value's
  network config checked (VLAN, range, excludes, cluster network ready and spanning the nodes, enough addresses,
  no address shared with the other setting) (422).
- Controller (``SettingsController``): pkg/controller/master/storagenetwork/storage_network.go and
  pkg/controller/master/kubevirt/vm_migration_network.go: the bridge NAD in harvester-system, the hash and
  net-attach-def annotations and the ``configured`` condition, step by step as upstream writes them.

What the bed lacks is modelled, and said so where it is: Longhorn (its storage-network setting is a value in
memory; its nodes are the bed's Nodes with one disk each; ``attached_volumes`` holds the volumes the controller
waits for), KubeVirt's CR (the migration network is a value in memory), and the network agent's VlanStatus (the
cluster network's ``ready`` condition stands for "every VlanStatus is Ready", as the manager derives it).
"""

import hashlib
import ipaddress
import json
import time
import urllib.parse

SETTING_PATH = '/apis/harvesterhci.io/v1beta1/settings'
STORAGE = 'storage-network'
MIGRATION = 'vm-migration-network'
MANAGED = (STORAGE, MIGRATION)
FIELD_MANAGER = 'harvester'  # Harvester's own controllers (the binary name is client-go's default manager)
SYSTEM_NAMESPACE = 'harvester-system'
MGMT = 'mgmt'
WITNESS = 'node-role.harvesterhci.io/witness'
KEY_CN = 'network.harvesterhci.io/clusternetwork'
KEY_MATCHED_NODES = 'network.harvesterhci.io/matched-nodes'
MIN_PREFIX = 16  # validator.go minSNPrefixLength
IN_PROGRESS, COMPLETED = 'In Progress', 'Completed'  # storage_network.go
# pkg/util/constants.go (storage network) and vm_migration_network.go (migration network)
KEYS = {
    STORAGE: {'prefix': 'storagenetwork-', 'nad_annotation': 'storage-network.settings.harvesterhci.io',
              'hash': 'storage-network.settings.harvesterhci.io/hash',
              'nad': 'storage-network.settings.harvesterhci.io/net-attach-def',
              'old_nad': 'storage-network.settings.harvesterhci.io/old-net-attach-def'},
    MIGRATION: {'prefix': 'vm-migration-network-', 'nad_annotation': 'vm-migration-network.settings.harvesterhci.io',
                'hash': 'vm-migration-network.settings.harvesterhci.io/hash',
                'nad': 'vm-migration-network.settings.harvesterhci.io/net-attach-def'},
}


class Refusal(Exception):
    """A webhook refusal: ``str()`` is the sentence the upstream webhook returns.

    ``code``/``reason`` unset: the network webhook's answer (harvester/webhook wraps every error as HTTP 500
    InternalError). Set: harvester/harvester's own webhook, which answers its AdmitError's code
    (pkg/webhook/error/error.go, pkg/webhook/types/admission.go @3d63c2af15db: 400, 405, 409, 422)."""

    def __init__(self, message, code=None, reason=None):
        super().__init__(message)
        self.code = code
        self.reason = reason


def invalid(message):
    return Refusal(message, 422, 'Invalid')


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


def condition(setting):
    for item in ((setting or {}).get('status') or {}).get('conditions') or []:
        if item.get('type') == 'configured':
            return item
    return {}


def _non_witness_nodes(api):
    return sorted(n['metadata']['name'] for n in api.items('/api/v1/nodes')
                  if WITNESS not in (n['metadata'].get('labels') or {}))


def usable(cidr, exclude):
    """pkg/webhook/util/ip.go GetUsableIPAddresses: the range without network and broadcast, minus each exclude
    entry from the address written to the end of its subnet."""
    network = ipaddress.ip_network(cidr, strict=False)
    found = set(range(int(network.network_address) + 1, int(network.broadcast_address)))
    for entry in exclude or []:
        start = int(ipaddress.ip_interface(entry).ip)
        end = int(ipaddress.ip_network(entry, strict=False).broadcast_address)
        found.difference_update(range(start, end + 1))
    return found


# ---- webhook: validator.go --------------------------------------------------------------------------------------
def _check_range(config):
    """checkNetworkRangeValid + validateIncludeExcludeRanges."""
    text = config.get('range') or ''
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError as exc:
        raise invalid('invalid CIDR address: %s' % text) from exc
    network = iface.network
    if iface.ip != network.network_address:
        raise invalid('range should be subnet CIDR %s' % network)
    if network.version != 4:
        raise invalid('IPv6 ranges are not supported for network settings')
    if network.prefixlen < MIN_PREFIX:
        raise invalid('min supported prefix length for network is %d, include Range PrefixLen received %d'
                      % (MIN_PREFIX, network.prefixlen))
    previous = None
    for entry in config.get('exclude') or []:
        try:
            item = ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise invalid('invalid CIDR address: %s' % entry) from exc
        if item.prefixlen < MIN_PREFIX:
            raise invalid('min supported prefix length for network is %d, exclude Range PrefixLen received %d'
                          % (MIN_PREFIX, item.prefixlen))
        if not item.overlaps(network):
            raise invalid('exclude range %s do not overlap include range %s' % (entry, text))
        if item.prefixlen <= network.prefixlen:
            raise invalid('exclude Range %s includes include Range %s, no allocatable ip addresses' % (entry, text))
        if previous is not None and item.overlaps(previous[1]):  # upstream compares each with the one before
            raise invalid('exclude ranges have overlapping subnets %s %s' % (entry, previous[0]))
        previous = (entry, item)


def _check_cluster_network(api, cn):
    """checkVlanStatusReady + checkVCSpansAllNodes (the cluster network's ready condition stands for VlanStatus)."""
    if cn == MGMT:
        return
    obj = api.get('/apis/network.harvesterhci.io/v1beta1/clusternetworks/%s' % urllib.parse.quote(cn))
    if obj is None:
        raise invalid('cluster network %s not found because clusternetworks.network.harvesterhci.io "%s" not found'
                      % (cn, cn))
    ready = any(c.get('type') == 'ready' and c.get('status') == 'True'
                for c in (obj.get('status') or {}).get('conditions') or [])
    if not ready:
        raise invalid('vlan status not present for cluster network %s' % cn)
    configs = [vc for vc in api.items('/apis/network.harvesterhci.io/v1beta1/vlanconfigs')
               if (vc['metadata'].get('labels') or {}).get(KEY_CN) == cn]
    if not configs:
        raise invalid('vlan config not present for cluster network %s' % cn)
    matched = set()
    for vc in configs:
        matched.update(json.loads((vc['metadata'].get('annotations') or {}).get(KEY_MATCHED_NODES) or '[]'))
    for node in _non_witness_nodes(api):
        if node not in matched:
            raise invalid('vlanconfig does not span %s' % node)


def _network_config(api, name, value):
    """validateNetworkHelper: None for an empty value, else the checked config."""
    if not value:
        return None
    try:
        config = json.loads(value)
    except ValueError as exc:
        raise invalid('failed to unmarshal the setting value %s, %s' % (value, exc)) from exc
    vlan = config.get('vlan') or 0
    if vlan > 4094:
        raise invalid('the valid value range for VLAN IDs is 0 to 4094')
    if vlan <= 1 and config.get('clusterNetwork') == MGMT:
        raise invalid('network with vlan id %d not allowed on %s cluster' % (vlan, MGMT))
    _check_range(config)
    _check_cluster_network(api, config.get('clusterNetwork'))
    nodes = _non_witness_nodes(api)
    # storage: 2 + 2 per disk for each Longhorn node (the bed's Longhorn: each Node, one disk); migration: 1 a node
    need = len(nodes) * 4 if name == STORAGE else len(nodes)
    if len(usable(config['range'], config.get('exclude'))) < need:
        raise invalid('allocatable IP address range is < %d, allocate sufficient range' % need)
    return config


def _check_overlap(api, name, config):
    """checkNetworkOverlap against the other network setting."""
    if config is None:
        return
    mine = usable(config['range'], config.get('exclude'))
    for other in MANAGED:
        if other == name:
            continue
        obj = api.get('%s/%s' % (SETTING_PATH, other)) or {}
        text = obj.get('value') or obj.get('default') or ''
        if not text:
            continue
        theirs = json.loads(text)
        if mine & usable(theirs['range'], theirs.get('exclude')):
            raise invalid('%s: the network configuration is overlapped with %s' % (name, other))


def _check_vms_stopped(api):
    """checkStorageNetworkUsage: every VM stopped (a VirtualMachineInstance that has not finished means running)."""
    for vmi in api.items('/apis/kubevirt.io/v1/virtualmachineinstances'):
        if (vmi.get('status') or {}).get('phase') not in ('Succeeded', 'Failed'):
            raise invalid('Please stop all VMs before configuring the storage-network setting')


def validate(api, op, obj, old):
    target = old if op == 'DELETE' else obj
    name = (target.get('metadata') or {}).get('name')
    if name not in MANAGED:
        return
    if op == 'DELETE':
        raise Refusal('Disallow delete setting name %s' % name, 405, 'MethodNotAllowed')
    value, default = obj.get('value') or '', obj.get('default') or ''
    if op == 'UPDATE':
        if (old.get('value') or '') == value and (old.get('default') or '') == default:
            return  # a status or annotation update
        cond = condition(old)
        if name == STORAGE and cond.get('status') == 'False' and cond.get('reason') == IN_PROGRESS \
                and not (value == '' and default == ''):
            raise Refusal('cannot update the setting "%s" because it is still being configured (reason: "%s", '
                          'message: "%s")' % (name, cond.get('reason'), cond.get('message', '')), 409, 'Conflict')
    config = _network_config(api, name, default)
    config = _network_config(api, name, value) or config
    _check_overlap(api, name, config)
    if name == STORAGE and (op == 'UPDATE' or value or default):
        _check_vms_stopped(api)


# ---- controller ---------------------------------------------------------------------------------------------------
class SettingsController:
    """Reconciles the two settings; ``write(path, obj, what)`` is the stand-in controller's recorded PUT."""

    def __init__(self, api, writes, errors):
        self.api = api
        self.writes, self.errors = writes, errors  # the stand-in controller's records
        self.longhorn_storage_network = ''  # Longhorn's storage-network setting (the NAD name it uses)
        self.kubevirt_migration_network = None  # KubeVirt CR's spec.configuration.migrations.network
        self.attached_volumes = []  # Longhorn volumes still attached: the storage network change waits for them

    def ensure_settings(self):
        """Harvester creates its settings at start-up (pkg/settings, value and default empty for these two)."""
        rest = self.api.rest
        rest.request('POST', '/api/v1/namespaces', {'apiVersion': 'v1', 'kind': 'Namespace',
                                                    'metadata': {'name': SYSTEM_NAMESPACE}})
        for name in MANAGED:
            if self.api.get('%s/%s' % (SETTING_PATH, name)) is None:
                rest.request('POST', '%s?fieldManager=%s' % (SETTING_PATH, FIELD_MANAGER), {
                    'apiVersion': 'harvesterhci.io/v1beta1', 'kind': 'Setting', 'metadata': {'name': name}})

    def _update(self, setting, what):
        """Plain Update (PUT with the resourceVersion read); a 409 means a newer version whose event follows."""
        path = '%s/%s' % (SETTING_PATH, setting['metadata']['name'])
        status, body = self.api.rest.request('PUT', '%s?fieldManager=%s' % (path, FIELD_MANAGER), setting)
        self.writes.append((path, what, status))
        if status not in (200, 201, 409):
            self.errors.append('%s %s: HTTP %s %s' % (path, what, status, (body or {}).get('message')))

    @staticmethod
    def _set_condition(setting, done, reason, message):
        """wrangler condition.Cond True/False + Reason + Message on ``configured``."""
        conditions = setting.setdefault('status', {}).setdefault('conditions', [])
        current = next((c for c in conditions if c.get('type') == 'configured'), None)
        if current is None:
            current = {'type': 'configured'}
            conditions.append(current)
        before = dict(current)
        current.update(status='True' if done else 'False', reason=reason, message=message)
        if not reason:
            current.pop('reason')
        if not message:
            current.pop('message')
        if current != before:
            current['lastUpdateTime'] = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
            return True
        return False

    def _nads_path(self):
        return '/apis/k8s.cni.cncf.io/v1/namespaces/%s/network-attachment-definitions' % SYSTEM_NAMESPACE

    def _find_or_create_nad(self, name, value):
        """findOrCreateNad: the NAD labelled with the value's hash, else a new one (network.CreateBridgeConfig)."""
        keys = KEYS[name]
        digest = sha1(value)
        found = self.api.items('%s?labelSelector=%s' % (self._nads_path(),
                                                        urllib.parse.quote('%s=%s' % (keys['hash'], digest))))
        if found:
            return '%s/%s' % (SYSTEM_NAMESPACE, found[0]['metadata']['name'])
        config = json.loads(value)
        ipam = {'type': 'whereabouts', 'range': config.get('range', '')}
        if config.get('exclude'):
            ipam['exclude'] = config['exclude']
        bridge = {'cniVersion': '0.3.1', 'type': 'bridge', 'bridge': config.get('clusterNetwork', '') + '-br',
                  'promiscMode': True, 'vlan': config.get('vlan') or 1, 'ipam': ipam}
        status, body = self.api.rest.request('POST', '%s?fieldManager=%s' % (self._nads_path(), FIELD_MANAGER), {
            'apiVersion': 'k8s.cni.cncf.io/v1', 'kind': 'NetworkAttachmentDefinition',
            'metadata': {'generateName': keys['prefix'], 'namespace': SYSTEM_NAMESPACE,
                         'annotations': {keys['nad_annotation']: 'true'}, 'labels': {keys['hash']: digest}},
            'spec': {'config': json.dumps(bridge, separators=(',', ':'))}})
        if status != 201:
            raise RuntimeError('create net-attach-def failed HTTP %s %s' % (status, (body or {}).get('message')))
        return '%s/%s' % (SYSTEM_NAMESPACE, body['metadata']['name'])

    def _remove_nad(self, text):
        parts = (text or '').split('/')
        if len(parts) == 2:
            path = '/apis/k8s.cni.cncf.io/v1/namespaces/%s/network-attachment-definitions/%s' % (parts[0], parts[1])
            self.api.rest.request('DELETE', path)

    def reconcile(self, name):
        if name not in MANAGED:
            return
        setting = self.api.get('%s/%s' % (SETTING_PATH, name))
        if setting is None or setting['metadata'].get('deletionTimestamp'):
            return
        annotations = setting['metadata'].get('annotations')
        value = setting.get('value') or ''
        if not annotations and not value:
            return  # initialization: nothing to do, no status
        setting['metadata']['annotations'] = annotations = dict(annotations or {})
        if name == STORAGE:
            self._storage(setting, annotations, value)
        else:
            self._migration(setting, annotations, value)

    def _storage(self, setting, annotations, value):
        """OnStorageNetworkChange, one step per call (each write brings the next event)."""
        keys = KEYS[STORAGE]
        if annotations.get(keys['hash']) != sha1(value):  # checkValueIsChanged
            nad = self._find_or_create_nad(STORAGE, value) if value else ''
            annotations[keys['old_nad']] = annotations.get(keys['nad'], '')
            annotations[keys['nad']] = nad
            annotations[keys['hash']] = sha1(value)
            self._set_condition(setting, False, IN_PROGRESS, 'create NAD')
            self._update(setting, 'storage-network: create NAD')
            return
        if annotations.get(keys['nad'], '') == self.longhorn_storage_network:
            # handleLonghornSettingPostConfig: monitoring pods back (none here), old NAD removed, done
            changed = False
            if annotations.get(keys['old_nad']):
                self._remove_nad(annotations[keys['old_nad']])
                annotations[keys['old_nad']] = ''
                changed = True
            if self._set_condition(setting, True, COMPLETED, '') or changed:
                self._update(setting, 'storage-network: completed')
            return
        if self.attached_volumes:  # checkLonghornVolumeDetached
            if self._set_condition(setting, False, IN_PROGRESS,
                                   'waiting for all volumes detached: %s' % ','.join(self.attached_volumes)):
                self._update(setting, 'storage-network: waiting for volumes')
            return
        self.longhorn_storage_network = annotations.get(keys['nad'], '')  # updateLonghornStorageNetwork
        self._set_condition(setting, False, IN_PROGRESS, 'Update Longhorn setting')
        self._update(setting, 'storage-network: Longhorn setting')

    def _migration(self, setting, annotations, value):
        """OnVMMigrationNetworkChange: one pass, one write."""
        keys = KEYS[MIGRATION]
        if annotations.get(keys['hash']) == sha1(value):
            return
        old = annotations.get(keys['nad'], '')
        nad = self._find_or_create_nad(MIGRATION, value) if value else ''
        self.kubevirt_migration_network = nad.split('/')[1] if nad else None
        if old and old != nad:
            self._remove_nad(old)
        annotations[keys['nad']] = nad
        annotations[keys['hash']] = sha1(value)
        self._set_condition(setting, True, '', '')
        self._update(setting, 'vm-migration-network: configured')
