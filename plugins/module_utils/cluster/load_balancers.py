# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Harvester's IP pools and load balancers (``loadbalancer.harvesterhci.io/v1beta1`` IPPool and LoadBalancer,
Harvester v1.2.0 and later): the handlers of ``ip_pool`` and ``load_balancer``.

The rules mirror harvester/load-balancer-harvester at commit e861dc948324084793b8af7dee22451d8a0d619c
(2026-08-07); each names the upstream file it follows. Written from reading those files; no code is copied.

- An IPPool's ranges (pkg/ipam/allocator.go ``MakeRange``): ``subnet`` is a CIDR; ``rangeStart`` defaults to the
  subnet's first host, ``rangeEnd`` to its last (IPv4: the address before the broadcast), ``gateway`` to the first
  host (the allocator skips it); each given address lies inside the subnet and is neither its network nor its
  broadcast address; a /32 (/128) subnet is one address. Its webhook (pkg/webhook/ippool/validator.go): at least
  one range; no two ranges of the pool, and no range of two pools, share an address; on update every allocated
  address stays inside the ranges; a pool with allocated addresses cannot be deleted; selectors: one global pool
  (scope ``*``/``*``/``*``) at most, a pool's scope entries do not overlap each other, two pools have different
  non-zero priorities, two pools of priority 0 do not serve the same network and scope. Its mutator
  (pkg/webhook/ippool/mutator.go, pkg/utils/vid.go): ``selector.network`` names an existing VM network
  (``namespace/name``).
- A LoadBalancer's webhook (pkg/webhook/loadbalancer/validator.go): a VM load balancer has listeners, with unique
  names, unique protocol/port and protocol/backend port pairs, ports 1-65535; the health check port is the backend
  port of a TCP listener and its thresholds are above 0 (the mutator, mutator.go, fills 2, 2, 1, 1 for unset ones,
  so this collection sends them itself and stays idempotent); ``ipam`` (DHCP or not) and ``workloadType`` (cluster
  or not) cannot change on update. The controller (pkg/controller/loadbalancer/controller.go ``selectIPPool``,
  pkg/ipam/selector.go) picks a pool when ``ipPool`` is empty: the matching pool of the highest priority, else the
  global pool; this collection warns when none would match.

Order: pure validation (every error, each naming its field) -> discovery -> one LIST of IPPools (and one GET per
other object) -> checks that need the cluster -> one server-side apply or delete (a dry run in check mode).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

from ansible_collections.harvester.network.plugins.module_utils.cluster import validation
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import (
    Errors, InUseError, ValidationError)
from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import (
    IP_POOL, LOAD_BALANCER, NAD)

ALL = '*'  # pkg/ipam/selector.go All
KEY_GLOBAL_POOL = 'loadbalancer.harvesterhci.io/global-ip-pool'  # pkg/utils/const.go KeyGlobalIPPool
MAX_PORT = 65535
MAX_PRIORITY = 4294967295  # Selector.Priority is a Go uint32
# mutator.go getHealthyCheckPatch: what Harvester stores for a health check threshold left unset
HEALTH_CHECK_FIELDS = (('success_threshold', 'successThreshold', 2), ('failure_threshold', 'failureThreshold', 2),
                       ('period_seconds', 'periodSeconds', 1), ('timeout_seconds', 'timeoutSeconds', 1))
SCOPE_FIELDS = (('project', 'project'), ('namespace', 'namespace'), ('guest_cluster', 'guestCluster'))


# ---- IP pool: pure ------------------------------------------------------------------------------------------------
class PoolRange(object):
    """One range as Harvester's allocator reads it: the first and last address it hands out (inclusive), the
    subnet and the gateway."""

    def __init__(self, network, first, last, gateway):
        self.network = network
        self.first = first
        self.last = last
        self.gateway = gateway

    @property
    def version(self):
        return self.network.version

    def overlaps(self, other):
        """CNI host-local ``Range.Overlaps``: same family and a shared address."""
        return self.version == other.version and int(self.first) <= int(other.last) and \
            int(other.first) <= int(self.last)

    def contains(self, address):
        return address.version == self.version and address in self.network and \
            int(self.first) <= int(address) <= int(self.last)

    def size(self):
        """Addresses the allocator can hand out (allocator.go ``countIP``: the gateway inside the range excluded)."""
        count = int(self.last) - int(self.first) + 1
        return count - 1 if self.gateway is not None and self.contains(self.gateway) else count

    def __str__(self):
        return '%s-%s' % (self.first, self.last)


def _address(field, text, network, default):
    """allocator.go ``parseIP``: empty means the default; otherwise inside the subnet, not its network or
    broadcast address."""
    if text in (None, ''):
        return default
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ValidationError('%r is not an IP address' % (text,), field=field)
    if address.version != network.version or address not in network:
        raise ValidationError('%s is outside subnet %s: give an address inside it' % (address, network), field=field)
    if address == network.network_address:
        raise ValidationError('%s is the network address of %s: give a host address' % (address, network),
                              field=field)
    if address == network.broadcast_address:
        raise ValidationError('%s is the broadcast (last) address of %s: give a host address' % (address, network),
                              field=field)
    return address


def parse_range(field, item):
    """One ``ranges[]`` option -> PoolRange (allocator.go ``MakeRange``). Harvester swaps a start after the end;
    this collection refuses it instead (a typo more often than intent)."""
    subnet = item.get('subnet')
    if not isinstance(subnet, str) or '/' not in subnet:
        raise ValidationError('%r is not a CIDR: write it as ADDRESS/PREFIX, e.g. 192.168.10.0/24' % (subnet,),
                              field=field + '.subnet')
    try:
        network = ipaddress.ip_interface(subnet).network
    except ValueError:
        raise ValidationError('%r is not a CIDR: write it as ADDRESS/PREFIX, e.g. 192.168.10.0/24' % (subnet,),
                              field=field + '.subnet')
    if network.prefixlen == network.max_prefixlen:  # a point-to-point subnet: that one address, no gateway
        host = ipaddress.ip_interface(subnet).ip
        start_default, end_default, gateway_default = host, host, None
    else:
        start_default = network.network_address + 1
        end_default = network.broadcast_address - 1 if network.version == 4 else network.broadcast_address
        gateway_default = start_default
    first = _address(field + '.start', item.get('start'), network, start_default)
    last = _address(field + '.end', item.get('end'), network, end_default)
    gateway = _address(field + '.gateway', item.get('gateway'), network, gateway_default)
    if int(first) > int(last):
        raise ValidationError('start %s comes after end %s: give the lower address as start' % (first, last),
                              field=field + '.start')
    return PoolRange(network, first, last, gateway)


def ranges_of(spec):
    """The PoolRanges of a stored IPPool spec; a range Harvester could not parse is left out."""
    found = []
    for item in (spec or {}).get('ranges') or []:
        try:
            found.append(parse_range('ranges', {'subnet': item.get('subnet'), 'start': item.get('rangeStart'),
                                                'end': item.get('rangeEnd'), 'gateway': item.get('gateway')}))
        except ValidationError:
            continue
    return found


def scope_tuple(entry):
    """(project, namespace, guest cluster) of a stored scope entry."""
    return tuple((entry or {}).get(key) or '' for _option, key in SCOPE_FIELDS)


def scope_matches(pool_tuple, wanted):
    """pkg/ipam/selector.go ``isMatch``, strict mode: each part equal, or ``*`` on either side."""
    return all(have == ALL or want == ALL or have == want for have, want in zip(pool_tuple, wanted))


def selector_matches(selector, network, wanted):
    """``Matcher.Matches``: the same network and one scope entry matching."""
    selector = selector or {}
    return (selector.get('network') or '') == (network or '') and \
        any(scope_matches(scope_tuple(entry), wanted) for entry in selector.get('scope') or [])


def is_global(spec):
    """mutator.go ``isGlobalIPPool``: exactly one scope entry, ``*`` in all three parts."""
    scope = ((spec or {}).get('selector') or {}).get('scope') or []
    return len(scope) == 1 and scope_tuple(scope[0]) == (ALL, ALL, ALL)


def pool_is_global(pool):
    """A stored pool is global by its mutator's label, or by its spec where no mutator ran."""
    labels = (pool.get('metadata') or {}).get('labels') or {}
    return labels.get(KEY_GLOBAL_POOL) == 'true' or is_global(pool.get('spec'))


def validate_pool(params):
    """Everything about an ``ip_pool`` task that needs no cluster. Returns (manifest, [PoolRange]); (None, [])
    for state=absent. Every error is collected, each naming its field."""
    errors = Errors()
    errors.check(validation.dns1123_subdomain, 'name', params['name'])
    if params['state'] == 'absent':
        errors.raise_if_any()
        return None, []
    ranges = []
    if not params.get('ranges'):
        errors.add('ranges', 'give at least one range (Harvester refuses a pool without one)')
    for index, item in enumerate(params.get('ranges') or []):
        parsed = errors.check(parse_range, 'ranges[%d]' % index, item)
        if parsed is not None:
            for earlier_index, earlier in ranges:
                if parsed.overlaps(earlier):
                    errors.add('ranges[%d]' % index, 'range %s shares addresses with ranges[%d] (%s): Harvester '
                                                     'refuses overlapping ranges' % (parsed, earlier_index, earlier))
                    break
            ranges.append((index, parsed))
    selector = params.get('selector') or {}
    spec_selector = {}
    priority = selector.get('priority') or 0
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
        errors.add('selector.priority', '%r is out of range: give 0-%d (0: no priority)' % (priority, MAX_PRIORITY))
    elif priority:
        spec_selector['priority'] = priority
    if selector.get('network'):
        parts = selector['network'].split('/')
        if len(parts) != 2:
            errors.add('selector.network', '%r is not NAMESPACE/NAME of a VM network, e.g. default/vlan100'
                       % selector['network'])
        else:
            errors.check(validation.dns1123_label, 'selector.network', parts[0])
            errors.check(validation.dns1123_subdomain, 'selector.network', parts[1])
        spec_selector['network'] = selector['network']
    scope = []
    for index, entry in enumerate(selector.get('scope') or []):
        field = 'selector.scope[%d]' % index
        stored = {}
        for option, key in SCOPE_FIELDS:
            value = entry.get(option)
            if value:
                stored[key] = value
        if not stored:
            errors.add(field, 'give project, namespace or guest_cluster (or "*" in all three for a global pool)')
        if entry.get('namespace') not in (None, '', ALL):
            errors.check(validation.dns1123_label, field + '.namespace', entry['namespace'])
        scope.append(stored)
    if scope:
        spec_selector['scope'] = scope
    spec = {'ranges': [range_manifest(item) for item in params.get('ranges') or []]}
    if spec_selector:  # an empty selector is left out (Harvester reads it as the zero Selector)
        spec['selector'] = spec_selector
    if params.get('description') is not None:
        spec['description'] = params['description']
    if not is_global(spec):
        # validator.go checkSelectorItself: a later entry of the scope may not match an earlier one
        tuples = [scope_tuple(entry) for entry in scope]
        for index, wanted in enumerate(tuples):
            for later in range(index + 1, len(tuples)):
                if scope_matches(tuples[later], wanted):
                    errors.add('selector.scope[%d]' % later, 'overlaps selector.scope[%d] (%s): Harvester refuses '
                                                             'a scope whose entries overlap; merge them or use "*"'
                               % (index, '/'.join(part or '""' for part in wanted)))
    errors.raise_if_any()
    manifest = {'apiVersion': IP_POOL.api_version, 'kind': IP_POOL.kind, 'metadata': {'name': params['name']},
                'spec': spec}
    return manifest, [parsed for _index, parsed in ranges]


def range_manifest(item):
    """A ``ranges[]`` option as stored (types.go ``Range``: empty fields left out)."""
    out = {'subnet': item.get('subnet')}
    for option, key in (('start', 'rangeStart'), ('end', 'rangeEnd'), ('gateway', 'gateway')):
        if item.get(option):
            out[key] = item[option]
    return out


def allocated_to(pool):
    """{address: 'namespace/name' of the load balancer} from a pool's status (the allocation records)."""
    found = {}
    for address, owner in sorted((((pool or {}).get('status') or {}).get('allocated') or {}).items()):
        found[address] = owner
    return found


# ---- IP pool: checks that need the cluster -----------------------------------------------------------------------
def check_pools(errors, manifest, ranges, pools):
    """validator.go checkRange (no address shared with another pool) and checkSelector (one global pool; different
    non-zero priorities; no two priority-0 pools serving the same network and scope)."""
    name = manifest['metadata']['name']
    spec = manifest['spec']
    mine = spec.get('selector') or {}
    others = sorted((key[1], pool) for key, pool in pools.items() if key[1] != name)
    for other_name, pool in others:
        for index, parsed in enumerate(ranges):
            clash = next((theirs for theirs in ranges_of(pool.get('spec')) if parsed.overlaps(theirs)), None)
            if clash is not None:
                errors.add('ranges[%d]' % index, 'range %s shares addresses with IP pool %s (range %s): pools may '
                                                 'not overlap' % (parsed, other_name, clash))
    if is_global(spec):
        for other_name, pool in others:
            if pool_is_global(pool):
                errors.add('selector.scope', 'IP pool %s is already the global pool (scope "*"/"*"/"*"): Harvester '
                                             'allows one; narrow this scope' % other_name)
        return
    for other_name, pool in others:
        if pool_is_global(pool):
            continue
        theirs = (pool.get('spec') or {}).get('selector') or {}
        priority, their_priority = mine.get('priority') or 0, theirs.get('priority') or 0
        if priority and priority == their_priority:
            errors.add('selector.priority', 'IP pool %s has priority %d too: give each pool its own priority'
                       % (other_name, priority))
        elif not priority and not their_priority:
            for index, entry in enumerate(mine.get('scope') or []):
                if selector_matches(theirs, mine.get('network'), scope_tuple(entry)):
                    errors.add('selector.scope[%d]' % index, 'IP pool %s (priority 0) already serves this network '
                                                             'and scope: give one of them a priority or another '
                                                             'scope' % other_name)
                    break


def check_allocated(errors, ranges, existing):
    """validator.go checkAllocated: an update keeps every allocated address inside the ranges."""
    for address, owner in allocated_to(existing).items():
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            continue
        if not any(item.contains(parsed) for item in ranges):
            errors.add('ranges', '%s is allocated to load balancer %s and would fall outside the new ranges: keep '
                                 'it inside, or delete that load balancer first' % (address, owner))


def check_pool_unused(existing):
    """validator.go Delete: no deletion while the pool has allocated addresses."""
    allocated = allocated_to(existing)
    if allocated:
        owners = ', '.join('%s (%s)' % (owner, address) for address, owner in allocated.items())
        raise InUseError('IP pool %s has addresses allocated to load balancer(s) %s; Harvester refuses deleting it '
                         'until they are released: delete those load balancers first (harvester.network.'
                         'load_balancer state=absent)' % (existing['metadata']['name'], owners), field='state')


def check_network(service, manifest):
    """mutator.go getLabelPatch (utils.GetVid): the selector's network must be an existing NAD."""
    network = ((manifest['spec'].get('selector')) or {}).get('network')
    if not network:
        return
    namespace, name = network.split('/')
    if service.get(NAD, name, namespace) is None:
        raise ValidationError('there is no VM network %s: create it first (harvester.network.vlan_network) or '
                              'name an existing one' % network, field='selector.network')


def condition(obj, kind='Ready'):
    for item in ((obj or {}).get('status') or {}).get('conditions') or []:
        if item.get('type') == kind:
            return item
    return {}


def pool_summary(pool):
    """What ``ip_pool`` returns: the options' view of the stored pool plus Harvester's status."""
    if not pool:
        return None
    spec = pool.get('spec') or {}
    selector = spec.get('selector') or {}
    status = pool.get('status') or {}
    return {
        'name': pool['metadata']['name'],
        'description': spec.get('description'),
        'ranges': [{'subnet': item.get('subnet'), 'start': item.get('rangeStart'), 'end': item.get('rangeEnd'),
                    'gateway': item.get('gateway')} for item in spec.get('ranges') or []],
        'selector': {'network': selector.get('network'), 'priority': selector.get('priority') or 0,
                     'scope': [dict((option, entry.get(key)) for option, key in SCOPE_FIELDS)
                               for entry in selector.get('scope') or []]},
        'global': pool_is_global(pool),
        'size': sum(item.size() for item in ranges_of(spec)),
        'total': status.get('total'),
        'available': status.get('available'),
        'allocated': allocated_to(pool),
        'ready': condition(pool).get('status') == 'True',
    }


def ip_pool_handler(params, cluster, module):
    manifest, ranges = validate_pool(params)
    cluster.discovery.require(IP_POOL)
    service = cluster.service
    pools = service.list(IP_POOL)
    key = ('', params['name'])
    existing = pools.get(key)
    reconciliation = service.reconcile(module)
    if manifest is None:
        if existing is not None:
            check_pool_unused(existing)
        result = reconciliation.delete(IP_POOL, [key], pools).run()
        result['ip_pool'] = None
        return result
    reconciliation.converge(IP_POOL, [manifest], pools)
    if reconciliation.changes[0].action != 'none':
        errors = Errors()
        check_pools(errors, manifest, ranges, pools)
        check_allocated(errors, ranges, existing)
        errors.raise_if_any()
        check_network(service, manifest)
    result = reconciliation.run()
    result['ip_pool'] = pool_summary(reconciliation.final(IP_POOL, key))
    return result


# ---- load balancer: pure ------------------------------------------------------------------------------------------
def service_name(field, value):
    """Harvester names the load balancer's Service (and EndpointSlice) after it (pkg/lb/servicelb/manager.go), so
    the name is a DNS-1035 label: a DNS-1123 label that starts with a letter."""
    validation.dns1123_label(field, value)
    if not value[0].isalpha():
        raise ValidationError('%r starts with a digit: Harvester names the Service after the load balancer, and a '
                              'Service name starts with a letter' % value, field=field)
    return value


def _port(errors, field, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PORT:
        errors.add(field, '%r is out of range: give a port of 1-%d' % (value, MAX_PORT))


def validate_load_balancer(params):
    """Everything about a ``load_balancer`` task that needs no cluster (validator.go checkListeners and
    checkHealthyCheck). Returns the manifest, or None for state=absent."""
    errors = Errors()
    errors.check(validation.dns1123_label, 'namespace', params['namespace'])
    errors.check(service_name, 'name', params['name'])
    if params['state'] == 'absent':
        errors.raise_if_any()
        return None
    vm_type = params['workload_type'] != 'cluster'
    listeners = params.get('listeners') or []
    if vm_type and not listeners:
        errors.add('listeners', 'a VM load balancer needs at least one listener (name, port, backend_port)')
    names, ports, backends = {}, {}, {}
    for index, listener in enumerate(listeners):
        field = 'listeners[%d]' % index
        # the Service port is named after the listener (pkg/lb/servicelb/manager.go): a DNS-1123 label
        errors.check(validation.dns1123_label, field + '.name', listener.get('name'))
        _port(errors, field + '.port', listener.get('port'))
        _port(errors, field + '.backend_port', listener.get('backend_port'))
        protocol = listener.get('protocol') or 'TCP'
        for seen, value, option, what in ((names, listener.get('name'), 'name', 'name'),
                                          (ports, (protocol, listener.get('port')), 'port', 'port'),
                                          (backends, (protocol, listener.get('backend_port')), 'backend_port',
                                           'backend port')):
            if value in seen:
                shown = value if isinstance(value, str) else '%s %s' % value
                errors.add('%s.%s' % (field, option), 'listeners[%d] has the same %s (%s): Harvester refuses '
                                                      'duplicates' % (seen[value], what, shown))
            else:
                seen[value] = index
    if params['ipam'] == 'dhcp' and params.get('ip_pool'):
        errors.add('ip_pool', 'ip_pool applies to ipam=pool only: leave it out with ipam=dhcp')
    if params.get('ip_pool'):
        errors.check(validation.dns1123_subdomain, 'ip_pool', params['ip_pool'])
    selector = params.get('backend_selector') or {}
    stored_selector = {}
    for key in sorted(selector):
        values = selector[key]
        values = [values] if isinstance(values, str) else values
        field = 'backend_selector.%s' % key
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            errors.add(field, 'give a label value or a non-empty list of label values')
            continue
        checked = errors.check(validation.labels, field, dict((key, value) for value in values))
        if checked is not None:
            stored_selector[key] = list(values)
    health = params.get('health_check')
    stored_health = None
    if health and vm_type:
        stored_health = {'port': health.get('port')}
        _port(errors, 'health_check.port', health.get('port'))
        for option, key, default in HEALTH_CHECK_FIELDS:
            value = health.get(option)
            value = default if value is None else value
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                errors.add('health_check.' + option, '%r: give 1 or more' % (value,))
            stored_health[key] = value
        tcp = [item for item in listeners if item.get('backend_port') == health.get('port')]
        if not tcp:
            errors.add('health_check.port', 'port %s is not the backend_port of a listener: Harvester probes a '
                                            "listener's backend port" % health.get('port'))
        elif not any((item.get('protocol') or 'TCP') == 'TCP' for item in tcp):
            errors.add('health_check.port', 'port %s is the backend_port of a UDP listener only: Harvester probes '
                                            'TCP backend ports' % health.get('port'))
    elif health:
        errors.add('health_check', 'a cluster load balancer has no health check (its guest cluster balances): '
                                   'leave it out')
    errors.raise_if_any()
    spec = {'workloadType': params['workload_type'], 'ipam': params['ipam'],
            'listeners': [{'name': item['name'], 'port': item['port'], 'protocol': item.get('protocol') or 'TCP',
                           'backendPort': item['backend_port']} for item in listeners]}
    if params.get('description') is not None:
        spec['description'] = params['description']
    if params.get('ip_pool'):
        spec['ipPool'] = params['ip_pool']
    if stored_selector:
        spec['backendServerSelector'] = stored_selector
    if stored_health:
        spec['healthCheck'] = stored_health
    return {'apiVersion': LOAD_BALANCER.api_version, 'kind': LOAD_BALANCER.kind,
            'metadata': {'name': params['name'], 'namespace': params['namespace']}, 'spec': spec}


def check_immutable(manifest, existing):
    """validator.go checkIPAM and checkWorkloadType: DHCP or not, cluster or not, is fixed at creation."""
    if existing is None:
        return
    have, want = existing.get('spec') or {}, manifest['spec']
    if (have.get('ipam') == 'dhcp') != (want['ipam'] == 'dhcp'):
        raise ValidationError('load balancer %s/%s has ipam %s; Harvester does not let it change to %s (the '
                              'address would leak): delete it (state=absent) and create it again'
                              % (existing['metadata']['namespace'], existing['metadata']['name'],
                                 have.get('ipam') or 'pool', want['ipam']), field='ipam')
    if (have.get('workloadType') == 'cluster') != (want['workloadType'] == 'cluster'):
        raise ValidationError('load balancer %s/%s has workload type %s; Harvester does not let it change to %s: '
                              'delete it (state=absent) and create it again'
                              % (existing['metadata']['namespace'], existing['metadata']['name'],
                                 have.get('workloadType') or 'vm', want['workloadType']), field='workload_type')


def select_pool(pools, namespace):
    """controller.go selectIPPool for a VM load balancer without ipPool (selector.go ``Select``, strict mode): the
    requirement is its namespace (no network, project or guest cluster); the matching non-global pool of the
    highest priority, else the global pool; None when nothing matches."""
    chosen, chosen_priority, fallback = None, 0, None
    for key in sorted(pools):
        pool = pools[key]
        if pool_is_global(pool):
            fallback = key[1]
            continue
        selector = (pool.get('spec') or {}).get('selector') or {}
        priority = selector.get('priority') or 0
        if selector_matches(selector, '', ('', namespace, '')) and priority >= chosen_priority:
            chosen, chosen_priority = key[1], priority
    return chosen or fallback


def check_pool_choice(manifest, existing, pools, module):
    """The pool named exists; warn where Harvester will release an address or find no pool."""
    spec = manifest['spec']
    if spec['ipam'] != 'pool':
        return
    allocated = ((existing or {}).get('status') or {}).get('allocatedAddress') or {}
    if spec.get('ipPool'):
        if ('', spec['ipPool']) not in pools:
            raise ValidationError('there is no IP pool %s: create it first (harvester.network.ip_pool) or leave '
                                  'ip_pool out to let Harvester pick one' % spec['ipPool'], field='ip_pool')
        if allocated.get('ipPool') and allocated['ipPool'] != spec['ipPool'] and module is not None:
            module.warn('load balancer %s/%s: Harvester releases its address %s back to IP pool %s and allocates a '
                        'new one from %s' % (manifest['metadata']['namespace'], manifest['metadata']['name'],
                                             allocated.get('ip'), allocated['ipPool'], spec['ipPool']))
    elif spec['workloadType'] == 'vm' and select_pool(pools, manifest['metadata']['namespace']) is None \
            and module is not None:
        module.warn('load balancer %s/%s: no IP pool serves namespace %s and there is no global pool, so Harvester '
                    'gives it no address until one does: set ip_pool, or create a pool whose selector scope names '
                    'this namespace (harvester.network.ip_pool)'
                    % (manifest['metadata']['namespace'], manifest['metadata']['name'],
                       manifest['metadata']['namespace']))


def load_balancer_summary(lb):
    """What ``load_balancer`` returns: the options' view of the stored object plus Harvester's status."""
    if not lb:
        return None
    spec = lb.get('spec') or {}
    status = lb.get('status') or {}
    health = spec.get('healthCheck')
    return {
        'name': lb['metadata']['name'],
        'namespace': lb['metadata'].get('namespace'),
        'description': spec.get('description'),
        'workload_type': spec.get('workloadType') or 'vm',
        'ipam': spec.get('ipam') or 'pool',
        'ip_pool': spec.get('ipPool'),
        'listeners': [{'name': item.get('name'), 'port': item.get('port'), 'protocol': item.get('protocol'),
                       'backend_port': item.get('backendPort')} for item in spec.get('listeners') or []],
        'backend_selector': spec.get('backendServerSelector') or {},
        'health_check': None if not health else dict(
            [('port', health.get('port'))] + [(option, health.get(key)) for option, key, _d in HEALTH_CHECK_FIELDS]),
        'address': status.get('address'),
        'allocated_address': status.get('allocatedAddress') or {},
        'backend_servers': status.get('backendServers') or [],
        'ready': condition(lb).get('status') == 'True',
    }


def load_balancer_handler(params, cluster, module):
    manifest = validate_load_balancer(params)
    cluster.discovery.require(LOAD_BALANCER)
    service = cluster.service
    key, existing = service.read_one(LOAD_BALANCER, params['name'], params['namespace'])
    reconciliation = service.reconcile(module)
    if manifest is None:
        result = reconciliation.delete(LOAD_BALANCER, [key], existing).run()
        result['load_balancer'] = None
        return result
    reconciliation.converge(LOAD_BALANCER, [manifest], existing)
    if reconciliation.changes[0].action != 'none':
        check_immutable(manifest, existing.get(key))
        check_pool_choice(manifest, existing.get(key), service.list(IP_POOL), module)
    result = reconciliation.run()
    result['load_balancer'] = load_balancer_summary(reconciliation.final(LOAD_BALANCER, key))
    return result


# ---- reading both -------------------------------------------------------------------------------------------------
def load_balancer_info_handler(params, cluster, module):  # pylint: disable=unused-argument
    """IP pools and load balancers as ``ip_pool`` and ``load_balancer`` return them: one LIST of each kind."""
    errors = Errors()
    if params.get('namespace'):
        errors.check(validation.dns1123_label, 'namespace', params['namespace'])
    errors.raise_if_any()
    cluster.discovery.require(IP_POOL)
    service = cluster.service
    pools = [pool_summary(pool) for _key, pool in sorted(service.list(IP_POOL).items())]
    balancers = [load_balancer_summary(item) for _key, item in
                 sorted(service.list(LOAD_BALANCER, namespace=params.get('namespace')).items())]
    if params.get('ip_pool'):
        pools = [pool for pool in pools if pool['name'] == params['ip_pool']]
    if params.get('name'):
        balancers = [item for item in balancers if item['name'] == params['name']]
    return {'changed': False, 'ip_pools': pools, 'load_balancers': balancers}
