"""The rows of Harvester v1.1+ features beyond the VLAN networks: a storage network, a trunk VM network, an IP pool.

Each row exists when the site's vars ask for it (``harvester_network_settings`` with ``storage-network``, a
``network_type: trunk`` item of ``harvester_vlan_networks``, ``harvester_ip_pools``), so the legacy profile, whose
API has none of them, has none of these rows. The API is read with the lab's own client (lab.vms.Api, the official
``kubernetes`` package: a separate GET, not the collection's reads); what lands on the nodes is read from their own
bridge VLAN tables (iproute2), and traffic is packets between the stand-ins:

- storage network: the setting's ``value`` is the vars' network config; Harvester (the stand-in of
  testbeds/cluster/harvester_settings.py, mirroring harvester/harvester@3d63c2af storage_network.go) reports
  ``configured`` True and the hash of that value, and names the bridge NAD it made in harvester-system, whose config
  carries the cluster network's bridge, the VLAN and the range; every node's uplink trunks that VLAN and the switch
  carries it.
- trunk VM network: for each VLAN interface the VM's network data puts on a trunk NIC, a VLAN of the trunk reaches a
  VM of that VLAN on another node (across the bonds, trunks and switch), a VLAN outside the trunk gets no reply from a
  VM of that VLAN on the same node (so the switch is not the reason), and no frame it floods arrives there, nor does a
  frame flooded by that VM arrive at the trunk NIC; the node's bridge VLAN table shows the port carrying exactly the
  trunk's VLANs tagged.
- IP pool: the pool read back holds the vars' ranges and selector, and Harvester's IPPool webhook (the stand-in of
  testbeds/cluster/harvester_lb.py, mirroring harvester/load-balancer-harvester@e861dc94 mutator.go) labelled it with
  the VLAN ID of the selector's network, which it reads from the network's NAD.
"""

import hashlib
import ipaddress
import json

from lab import checks
from lab.config import PLAIN_PROFILES
from lab.vms import NAD, Api

ROW_IDS = ('storage_network', 'trunk', 'ip_pool')
SETTING = ('harvesterhci.io', 'v1beta1', 'settings')
IPPOOL = ('loadbalancer.harvesterhci.io', 'v1beta1', 'ippools')
STORAGE = 'storage-network'
KEY_HASH = 'storage-network.settings.harvesterhci.io/hash'
KEY_NAD = 'storage-network.settings.harvesterhci.io/net-attach-def'
KEY_POOL_VID = 'loadbalancer.harvesterhci.io/vid'
# lab.checks' helpers for the rows it proves, used the same way here
_shared, _label, _port_vlans = checks._shared, checks._label, checks._port_vlans  # pylint: disable=protected-access


def _present(items):
    return [item for item in items or [] if isinstance(item, dict) and item.get('state', 'present') == 'present']


def storage_setting(world):
    return next((item for item in _present(world.site.get('harvester_network_settings'))
                 if item.get('name') == STORAGE), None)


def applicable(world):
    """The rows of this file that the site's vars ask for."""
    found = set()
    if storage_setting(world):
        found.add('storage_network')
    if any(item.get('network_type') == 'trunk' for item in _present(world.site.get('harvester_vlan_networks'))):
        found.add('trunk')
    if _present(world.site.get('harvester_ip_pools')):
        found.add('ip_pool')
    return found


def row_ids(world):
    """The report's rows for ``world``, in order: every row of lab.checks.ROWS, those of this file only when they
    apply."""
    wanted = applicable(world)
    return [row_id for row_id, _title in checks.ROWS if row_id not in ROW_IDS or row_id in wanted]


def trunk_vids(trunk):
    """The VLAN IDs of a bridge CNI ``vlanTrunk`` ([{id} or {minID, maxID}])."""
    vids = set()
    for item in trunk or []:
        if 'id' in item:
            vids.add(int(item['id']))
        else:
            vids.update(range(int(item['minID']), int(item['maxID']) + 1))
    return vids


def trunk_text(trunk):
    return 'trunk of VLANs %s' % ', '.join(str(vid) for vid in sorted(trunk_vids(trunk)))


def _ok(flag):
    return 'ok  ' if flag else 'BAD '


# ---------------------------------------------------------------------------------------------------------------------
# the trunk: probes


def trunk_nics(vm_plan, attach):
    """The attached trunk NICs: vm, node, netns, ifname, mac, vids (the trunk's), vlans (the guest's VLAN interfaces)."""
    return [{'vm': vm['vm'], 'node': vm['node'], 'netns': vm['netns'], 'ifname': nic['ifname'], 'mac': got.get('mac'),
             'vids': trunk_vids(nic['trunk']), 'vlans': nic.get('vlans') or []}
            for vm, nic, got in checks.attached(vm_plan, attach) if nic.get('trunk')]


def plan_probes(plan, world, vm_plan, attach):
    """Add the trunk row's probes to ``plan`` (a lab.checks.Plan); returns the notes for the row (what it lacks)."""
    flat = checks.nics(vm_plan, attach)
    notes = []
    for trunk in trunk_nics(vm_plan, attach):
        listener = {'vm': trunk['vm'], 'node': trunk['node'], 'netns': trunk['netns'], 'ifname': trunk['ifname'],
                    'vid': '/'.join(str(v) for v in sorted(trunk['vids'])) + ' (trunk)'}
        for vlan in trunk['vlans']:
            source = {'vm': trunk['vm'], 'netns': trunk['netns'], 'mac': trunk['mac'],
                      'addrs': [ipaddress.ip_interface(a) for a in vlan['addresses']]}
            label = '%s %s (%s, VLAN %d tagged by the guest)' % (trunk['vm'], vlan['ifname'], trunk['node'], vlan['vid'])
            peers = [nic for nic in flat if nic['vid'] == vlan['vid'] and _shared(source, nic)]
            if not source['addrs'] or not peers:
                notes.append('%s: no VM of VLAN %d shares its subnet, nothing to ping' % (label, vlan['vid']))
                continue
            if vlan['vid'] in trunk['vids']:
                across = [nic for nic in peers if nic['node'] != trunk['node']]
                if not across or not world.permitted(vlan['vid']):
                    notes.append('%s: no VM of VLAN %d on another node behind the switch' % (label, vlan['vid']))
                    continue
                for nic in across:
                    target = _shared(source, nic)
                    plan.ping('trunk', source, target, True,
                              '%s -> %s %s (%s) across the switch' % (label, nic['vm'], target, nic['node']))
                continue
            # a VLAN outside the trunk: a VM of it on the same node (the switch plays no part) must not hear it
            local = [nic for nic in peers if nic['node'] == trunk['node']] or peers
            target = local[0]
            plan.ping('trunk', source, _shared(source, target), False,
                      '%s -> %s %s (%s, VLAN %d): VLAN %d is not in the trunk' % (
                          label, target['vm'], _shared(source, target), target['node'], vlan['vid'], vlan['vid']))
            plan.leak('trunk', source, local[:1] + [nic for nic in peers if nic['node'] != trunk['node']][:1],
                      '%s floods VLAN %d (ping -b %s), a VLAN not in the trunk' % (
                          label, vlan['vid'], source['addrs'][0].network.broadcast_address))
            plan.leak('trunk', target, [listener], '%s floods VLAN %d (ping -b %s), towards %s' % (
                _label(target), vlan['vid'], target['addrs'][0].network.broadcast_address, trunk['vm']))
    if not trunk_nics(vm_plan, attach):
        notes.append('no VM NIC is attached to a trunk network')
    return notes


def _trunk_ports(row, world, vm_plan, attach, results):
    """The trunk NICs' bridge ports, from the nodes' own VLAN tables: exactly the trunk's VLANs tagged."""
    ok_all = True
    ports = _port_vlans(world, attach, results)
    for trunk in trunk_nics(vm_plan, attach):
        node, port, vlans = ports.get(trunk['vm'], (trunk['node'], None, []))
        tagged = set(vid for vid, flags in vlans if 'PVID' not in flags)
        ok = port is not None and tagged == trunk['vids']
        ok_all = ok_all and ok
        row.evidence.append('%s %s bridge port %s of %s is a member of VLANs %s (tagged: %s; the trunk: %s)' % (
            _ok(ok), node, port or '(not found)', trunk['vm'],
            ', '.join('%d%s' % (vid, ' (%s)' % ', '.join(flags) if flags else '') for vid, flags in vlans) or 'none',
            ', '.join(str(v) for v in sorted(tagged)) or 'none', ', '.join(str(v) for v in sorted(trunk['vids']))))
    return ok_all


def trunk_row(world, vm_plan, attach, plan, results, notes):
    row = checks.Row('trunk')
    ok_all = bool(plan.expect['trunk'])
    for probe_id, expect, what in plan.expect['trunk']:
        ok, text = checks.evaluate_probe('trunk', expect, results.get(probe_id))
        ok_all = ok_all and ok
        row.evidence.append('%s %s: %s' % (_ok(ok), what, text))
    ok_all = _trunk_ports(row, world, vm_plan, attach, results) and ok_all
    for trunk in trunk_nics(vm_plan, attach):
        for vid in sorted(trunk['vids']):
            if not any(vlan['vid'] == vid for vlan in trunk['vlans']):
                row.evidence.append('BAD  %s: the guest has no VLAN interface for VLAN %d of the trunk'
                                    % (trunk['vm'], vid))
                ok_all = False
    row.evidence.extend('note: %s' % note for note in notes)
    if not plan.expect['trunk']:
        row.reason = 'no VM in the vars has a VLAN interface on a trunk NIC (see lab/inventory/harvester-network.yml)'
    row.status = 'PASS' if ok_all else 'FAIL'
    return row


# ---------------------------------------------------------------------------------------------------------------------
# the API rows


def _get(api, kind, name, namespace=None):
    group, version, plural = kind
    try:
        if namespace:
            return api.custom.get_namespaced_custom_object(group, version, namespace, plural, name)
        return api.custom.get_cluster_custom_object(group, version, plural, name)
    except api.client.exceptions.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def expected_storage_value(item):
    """The value Harvester's UI and the module write: clusterNetwork, vlan (unless untagged), range, exclude."""
    value = {'clusterNetwork': item.get('cluster_network'), 'range': item.get('range')}
    if item.get('vlan_id'):
        value['vlan'] = int(item['vlan_id'])
    if item.get('exclude'):
        value['exclude'] = sorted(item['exclude'])
    return value


def _uplink_trunks(world, results, uplink, vid):
    """{node: True/False/None}: does ``uplink`` trunk ``vid`` in the node's own bridge VLAN table (None: unread)?"""
    found = {}
    for node in world.node_names:
        try:
            table = json.loads((results.get('vlans-%s' % node) or {}).get('stdout') or '')
        except ValueError:
            found[node] = None
            continue
        entry = next((e for e in table if e.get('ifname') == uplink), None)
        found[node] = entry is not None and any(v.get('vlan') == vid or (v.get('vlan', 0) <= vid <= v.get('vlanEnd', -1))
                                                for v in entry.get('vlans') or [])
    return found


def storage_row(world, api, results):
    row = checks.Row('storage_network')
    item = storage_setting(world)
    wanted = expected_storage_value(item)
    setting = _get(api, SETTING, STORAGE)
    if setting is None:
        row.status, row.reason = 'FAIL', 'the API server has no setting %s' % STORAGE
        return row
    meta = setting['metadata']
    try:
        value = json.loads(setting.get('value') or '{}')
    except ValueError:
        value = {'unparsable': setting.get('value')}
    if value.get('exclude'):
        value['exclude'] = sorted(value['exclude'])
    ok_value = value == wanted
    row.evidence.append('%s GET settings/%s (resourceVersion %s): value %s%s' % (
        _ok(ok_value), STORAGE, meta.get('resourceVersion'), setting.get('value'),
        '' if ok_value else ' (the vars ask for %s)' % json.dumps(wanted, sort_keys=True)))
    condition = next((c for c in (setting.get('status') or {}).get('conditions') or [] if c.get('type') == 'configured'),
                     {})
    annotations = meta.get('annotations') or {}
    digest = hashlib.sha1((setting.get('value') or '').encode()).hexdigest()
    ok_status = condition.get('status') == 'True' and annotations.get(KEY_HASH) == digest
    row.evidence.append('%s Harvester applied it: condition configured=%s (reason %s), hash annotation %s the value\'s '
                        'sha1' % (_ok(ok_status), condition.get('status'), condition.get('reason') or '-',
                                  'is' if annotations.get(KEY_HASH) == digest else 'is NOT'))
    ref = annotations.get(KEY_NAD) or ''
    namespace, _slash, name = ref.rpartition('/')
    nad = _get(api, NAD, name, namespace or 'harvester-system') if name else None
    ok_nad = False
    if nad is None:
        row.evidence.append('BAD  the NAD the setting names (%r) is not on the API server' % ref)
    else:
        config = json.loads(nad['spec']['config'])
        ipam = config.get('ipam') or {}
        ok_nad = config.get('type') == 'bridge' and config.get('bridge') == '%s-br' % wanted['clusterNetwork'] and \
            config.get('vlan') == wanted.get('vlan', 1) and ipam.get('range') == wanted['range'] and \
            sorted(ipam.get('exclude') or []) == wanted.get('exclude', [])
        row.evidence.append('%s its NAD %s: bridge %s, VLAN %s, %s IPAM over %s excluding %s' % (
            _ok(ok_nad), ref, config.get('bridge'), config.get('vlan'), ipam.get('type'), ipam.get('range'),
            ', '.join(ipam.get('exclude') or []) or 'nothing'))
    uplink = '%s-bo' % wanted['clusterNetwork']
    vid = wanted.get('vlan')
    ok_nodes = True
    if vid:
        trunked = _uplink_trunks(world, results, uplink, vid)
        ok_nodes = all(trunked.values())
        row.evidence.append('%s the nodes\' uplinks trunk VLAN %d (bridge VLAN tables): %s' % (
            _ok(ok_nodes), vid, ', '.join('%s %s %s' % (node, uplink, {True: 'yes', False: 'NO', None: 'unread'}[flag])
                                          for node, flag in sorted(trunked.items()))))
        carried = world.permitted(vid)
        ok_nodes = ok_nodes and carried
        row.evidence.append('%s the switch %s VLAN %d between the nodes (lab.yml trunk_vlans; the switch\'s own table: '
                            'row "A VLAN the switch does not permit")' % (_ok(carried), 'carries' if carried else
                                                                          'does NOT carry', vid))
    row.evidence.append('not proven here: Longhorn moving its replica traffic (the stand-in models Longhorn\'s '
                        'setting as a value; no volumes run in the lab)')
    row.status = 'PASS' if ok_value and ok_status and ok_nad and ok_nodes else 'FAIL'
    return row


def expected_ranges(item):
    return [dict((key, value) for key, value in (('subnet', r.get('subnet')), ('rangeStart', r.get('start')),
                                                 ('rangeEnd', r.get('end')), ('gateway', r.get('gateway'))) if value)
            for r in item.get('ranges') or []]


def pool_rows_evidence(row, api, item):
    pool = _get(api, IPPOOL, item['name'])
    if pool is None:
        row.evidence.append('BAD  GET ippools/%s: not on the API server' % item['name'])
        return False
    spec = pool.get('spec') or {}
    ranges = [dict((k, v) for k, v in r.items() if v) for r in spec.get('ranges') or []]
    ok_ranges = ranges == expected_ranges(item)
    row.evidence.append('%s GET ippools/%s (resourceVersion %s): ranges %s' % (
        _ok(ok_ranges), item['name'], pool['metadata'].get('resourceVersion'),
        '; '.join('%s %s-%s gateway %s' % (r.get('subnet'), r.get('rangeStart'), r.get('rangeEnd'), r.get('gateway'))
                  for r in ranges)))
    selector = spec.get('selector') or {}
    wanted = item.get('selector') or {}
    scope = [dict((key, entry.get(key)) for key in ('project', 'namespace', 'guestCluster') if entry.get(key))
             for entry in selector.get('scope') or []]
    wanted_scope = [dict((key, entry.get(option)) for key, option in (('project', 'project'), ('namespace', 'namespace'),
                                                                      ('guestCluster', 'guest_cluster'))
                         if entry.get(option)) for entry in wanted.get('scope') or []]
    ok_selector = (selector.get('network') or None) == (wanted.get('network') or None) and scope == wanted_scope
    row.evidence.append('%s selector: network %s, scope %s' % (_ok(ok_selector), selector.get('network') or '-',
                                                               json.dumps(scope, sort_keys=True)))
    ok_vid = True
    if wanted.get('network'):
        namespace, _slash, name = wanted['network'].rpartition('/')
        nad = _get(api, NAD, name, namespace or 'default')
        vid = json.loads(nad['spec']['config']).get('vlan') if nad else None
        label = (pool['metadata'].get('labels') or {}).get(KEY_POOL_VID)
        ok_vid = nad is not None and label == str(vid)
        row.evidence.append('%s Harvester\'s IPPool webhook labelled it %s=%s; the network %s is VLAN %s' % (
            _ok(ok_vid), KEY_POOL_VID, label, wanted['network'], vid))
    status = pool.get('status') or {}
    row.evidence.append('status: %s (Harvester\'s load balancer controller, which allocates addresses and keeps it, '
                        'has no stand-in: no load balancer takes an address in the lab)'
                        % (json.dumps(status, sort_keys=True) if status else 'none'))
    return ok_ranges and ok_selector and ok_vid


def pool_row(world, api):
    row = checks.Row('ip_pool')
    ok_all = True
    for item in _present(world.site.get('harvester_ip_pools')):
        ok_all = pool_rows_evidence(row, api, item) and ok_all
    row.status = 'PASS' if ok_all else 'FAIL'
    return row


# What a row needs of Harvester: on a plain KubeVirt + Multus cluster (the plain profile) such a row is n/a, not failed.
NEEDS_HARVESTER = {
    'storage_network': ("the storage-network setting (harvesterhci.io Setting) is applied by Harvester's controller, "
                        'which makes its NAD and reports its status', SETTING),
    'ip_pool': ("IPPool is the API of Harvester's load balancer add-on (loadbalancer.harvesterhci.io), judged by its "
                'webhook', IPPOOL),
}


def not_applicable_row(row_id, api):
    """``row_id`` on a plain cluster: N/A with why, and the evidence that the API server does not serve the kind
    (a GET of the API group's discovery, the lab's own client) and so holds none, whatever site.yml was asked."""
    why, (group, version, plural) = NEEDS_HARVESTER[row_id]
    row = checks.Row(row_id, 'N/A', reason='n/a on plain (needs Harvester: %s)' % why)
    served = api.served(group, version)
    plain = served is None or plural not in served
    answer = 'not served (404)' if served is None else 'serves %s' % (', '.join(sorted(served)) or 'nothing')
    row.evidence.append('%s GET /apis/%s/%s: %s' % (_ok(plain), group, version, answer))
    if not plain:
        row.status = 'FAIL'
        row.evidence.append('BAD  the plain API server serves %s/%s %s: it is not plain' % (group, version, plural))
    return row


def rows(world, kubeconfig, vm_plan, attach, plan, results, notes):
    """The rows of this file that apply to ``world``."""
    wanted = applicable(world)
    found = []
    if 'trunk' in wanted:
        found.append(trunk_row(world, vm_plan, attach, plan, results, notes))
    if world.profile in PLAIN_PROFILES:
        api = Api(kubeconfig)
        try:
            found.extend(not_applicable_row(row_id, api) for row_id in sorted(wanted & set(NEEDS_HARVESTER)))
        finally:
            api.close()
        return found
    if wanted & {'storage_network', 'ip_pool'}:
        api = Api(kubeconfig)
        try:
            if 'storage_network' in wanted:
                found.append(storage_row(world, api, results))
            if 'ip_pool' in wanted:
                found.append(pool_row(world, api))
        finally:
            api.close()
    return found
