"""The Harvester stand-in's part for the load balancer add-on: the admission rules of IPPool and LoadBalancer
(``loadbalancer.harvesterhci.io/v1beta1``, Harvester v1.2+).

Mirrors harvester/load-balancer-harvester at commit e861dc948324084793b8af7dee22451d8a0d619c (2026-08-07); each rule
names the upstream file it follows. Written for this bed from reading those files; no code is copied, and none is
shared with the collection's own checks (plugins/module_utils/cluster/load_balancers.py): this is the second,
independent judge the module tests write past.

- IPPool mutator (pkg/webhook/ippool/mutator.go): labels ``loadbalancer.harvesterhci.io/vid`` (the VLAN ID of the
  selector's network, pkg/utils/vid.go; 0 without one) and ``loadbalancer.harvesterhci.io/global-ip-pool``.
- IPPool validator (pkg/webhook/ippool/validator.go): ranges (pkg/ipam/allocator.go ``MakeRange``), overlaps inside
  the pool and with other pools (CNI host-local ``Range.Overlaps``), allocated addresses kept on update, no delete
  while allocated, the selector rules.
- LoadBalancer mutator (pkg/webhook/loadbalancer/mutator.go): a VM load balancer gets the annotation
  ``loadbalancer.harvesterhci.io/namespace``; a health check's unset thresholds become 2, 2, 1, 1.
- LoadBalancer validator (pkg/webhook/loadbalancer/validator.go): listeners, health check, IPAM and workload type
  fixed on update. (The guest-cluster-removal check of cluster load balancers is not modelled: the bed has no guest
  clusters.)

Harvester's load balancer controller (address allocation, the pool's status) is not modelled; tests write the status
as it would. Refusals are wrapped as harvester/webhook does (HTTP 500 "Internal error occurred: ...").
"""

import ipaddress
import json
import urllib.parse

from testbeds.cluster.harvester_settings import Refusal

GROUP = 'loadbalancer.harvesterhci.io'
POOLS = '/apis/%s/v1beta1/ippools' % GROUP
KEY_VID = GROUP + '/vid'
KEY_GLOBAL = GROUP + '/global-ip-pool'
KEY_NAMESPACE = GROUP + '/namespace'
KEY_NAD_VLAN = 'network.harvesterhci.io/vlan-id'
STAR = '*'


# ---- ranges: pkg/ipam/allocator.go MakeRange, CNI host-local allocator.Range --------------------------------------
class _Range:
    def __init__(self, subnet, start, end, gateway):
        self.subnet, self.start, self.end, self.gateway = subnet, start, end, gateway

    def contains(self, ip):
        """host-local ``Range.Contains``: same family, inside the subnet, between start and end."""
        return ip.version == self.subnet.version and ip in self.subnet and self.start <= ip <= self.end

    def overlaps(self, other):
        """host-local ``Range.Overlaps``."""
        if self.subnet.version != other.subnet.version:
            return False
        return (self.contains(other.start) or self.contains(other.end) or other.contains(self.start)
                or other.contains(self.end))

    def __str__(self):
        gateway = self.gateway or '<nil>'
        return '{RangeStart:%s RangeEnd:%s Subnet:%s Gateway:%s}' % (self.start, self.end, self.subnet, gateway)


def _parse_ip(text, subnet, default):
    """allocator.go ``parseIP``."""
    if not text:
        return default
    try:
        ip = ipaddress.ip_address(text)
    except ValueError as exc:
        raise Refusal('invalid IP %s' % text) from exc
    if ip.version != subnet.version or ip not in subnet:
        raise Refusal('IP %s is out of subnet %s' % (text, subnet))
    if ip == subnet.network_address:
        raise Refusal('IP %s is the network address' % text)
    if ip == subnet.broadcast_address:
        raise Refusal('IP %s is the broadcast address' % text)
    return ip


def make_range(item):
    text = item.get('subnet') or ''
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError as exc:
        raise Refusal('invalid CIDR address: %s, a valid example is 192.168.1.0/24' % text) from exc
    if '/' not in text:
        raise Refusal('invalid CIDR address: %s, a valid example is 192.168.1.0/24' % text)
    subnet = iface.network
    if subnet.prefixlen == subnet.max_prefixlen:
        start = end = iface.ip
        gateway = None
    else:
        start = gateway = subnet.network_address + 1
        end = subnet.broadcast_address - (1 if subnet.version == 4 else 0)
    checks = []
    for key, what, default in (('rangeStart', 'range start', start), ('rangeEnd', 'range end', end),
                               ('gateway', 'gateway', gateway)):
        try:
            checks.append(_parse_ip(item.get(key), subnet, default))
        except Refusal as exc:
            raise Refusal('invalid %s %s: %s' % (what, item.get(key), exc)) from exc
    start, end, gateway = checks
    if start > end:  # MakeRange swaps them
        start, end = end, start
    return _Range(subnet, start, end, gateway)


def _range_set(pool):
    return [make_range(item) for item in ((pool.get('spec') or {}).get('ranges') or [])]


# ---- selectors: pkg/ipam/selector.go -----------------------------------------------------------------------------
def _tuple(entry):
    return (entry.get('project') or '', entry.get('namespace') or '', entry.get('guestCluster') or '')


def _match(selector, network, requirement):
    """``Matcher.Matches`` in strict mode."""
    if (selector.get('network') or '') != network:
        return False
    for entry in selector.get('scope') or []:
        if all(a == STAR or b == STAR or a == b for a, b in zip(_tuple(entry), requirement)):
            return True
    return False


def _is_global(pool):
    scope = ((pool.get('spec') or {}).get('selector') or {}).get('scope') or []
    return len(scope) == 1 and _tuple(scope[0]) == (STAR, STAR, STAR)


def _labelled_global(pool):
    return ((pool.get('metadata') or {}).get('labels') or {}).get(KEY_GLOBAL) == 'true'


def _check_selector(api, pool):
    name = pool['metadata']['name']
    others = [p for p in api.items(POOLS) if p['metadata']['name'] != name]
    selector = (pool.get('spec') or {}).get('selector') or {}
    if _is_global(pool):
        for other in others:
            if _labelled_global(other):
                raise Refusal('there is already a global IP pool: %s' % other['metadata']['name'])
        return
    network = selector.get('network') or ''
    scope = selector.get('scope') or []
    for index, entry in enumerate(scope):
        rest = dict(selector, scope=scope[index + 1:])
        if _match(rest, network, _tuple(entry)):
            raise Refusal('selector %s is invalid: scope overlaps' % json.dumps(selector, sort_keys=True))
    priority = selector.get('priority') or 0
    for other in others:
        if _labelled_global(other):
            continue
        theirs = (other.get('spec') or {}).get('selector') or {}
        their_priority = theirs.get('priority') or 0
        if their_priority and their_priority == priority:
            raise Refusal("the priority can't be the same as the pool %s" % other['metadata']['name'])
        if not their_priority and not priority:
            for entry in scope:
                project, namespace, cluster = _tuple(entry)
                if _match(theirs, network, (project, namespace, cluster)):
                    raise Refusal('scope selector is same as the pool %s with priority 0 Project %s Namespace %s '
                                  'GuestCluster %s, set a different priority or scope'
                                  % (other['metadata']['name'], project, namespace, cluster))


def _validate_pool(api, op, pool, old):
    if op == 'DELETE':
        if ((old.get('status') or {}).get('allocated')):
            raise Refusal("can't delete pool before releasing all the allocated IP")
        return
    if (pool.get('metadata') or {}).get('deletionTimestamp'):
        return
    template = "can't %s IP pool %s because %%s" % ('create' if op == 'CREATE' else 'update', pool['metadata']['name'])
    try:
        if not (pool.get('spec') or {}).get('ranges'):
            raise Refusal("range can't be empty")
        mine = _range_set(pool)
        for i, first in enumerate(mine):
            for second in mine[i + 1:]:
                if first.overlaps(second):
                    raise Refusal('there are overlaps between range %s and %s' % (first, second))
        for other in api.items(POOLS):
            if other['metadata']['name'] == pool['metadata']['name']:
                continue
            theirs = _range_set(other)
            if any(a.overlaps(b) for a in mine for b in theirs):
                raise Refusal('the ranges [%s] overlap with other pools' % ' '.join(str(r) for r in mine))
        if op == 'UPDATE':
            for text in ((pool.get('status') or {}).get('allocated') or {}):
                ip = ipaddress.ip_address(text)
                if not any(r.contains(ip) for r in mine):
                    raise Refusal('allocated IP %s is excluded' % text)
        _check_selector(api, pool)
    except Refusal as exc:
        raise Refusal(template % exc) from exc


def _vid(api, network):
    """pkg/utils/vid.go ``GetVid``."""
    if not network:
        return 0
    parts = network.split('/')
    if len(parts) != 2:
        raise Refusal('invalid network %s' % network)
    nad = api.get('/apis/k8s.cni.cncf.io/v1/namespaces/%s/network-attachment-definitions/%s'
                  % (urllib.parse.quote(parts[0]), urllib.parse.quote(parts[1])))
    if nad is None:
        raise Refusal('network-attachment-definitions.k8s.cni.cncf.io "%s" not found' % parts[1])
    label = ((nad.get('metadata') or {}).get('labels') or {}).get(KEY_NAD_VLAN)
    if label is not None:
        try:
            return int(label)
        except ValueError as exc:
            raise Refusal('invalid vlan %s' % label) from exc
    return int(json.loads((nad.get('spec') or {}).get('config') or '{}').get('vlan') or 0)


def _mutate_pool(api, op, pool):
    if op == 'UPDATE' and (pool.get('metadata') or {}).get('deletionTimestamp'):
        return []
    template = "can't %s IP pool %s because %%s" % ('create' if op == 'CREATE' else 'update', pool['metadata']['name'])
    try:
        vid = _vid(api, ((pool.get('spec') or {}).get('selector') or {}).get('network'))
    except Refusal as exc:
        raise Refusal(template % exc) from exc
    labels = dict((pool.get('metadata') or {}).get('labels') or {})
    want = {KEY_VID: str(vid), KEY_GLOBAL: 'true' if _is_global(pool) else 'false'}
    if all(labels.get(k) == v for k, v in want.items()):
        return []
    labels.update(want)
    # upstream sends "replace /metadata/labels"; "add" does the same and also works where there were no labels
    return [{'op': 'add', 'path': '/metadata/labels', 'value': labels}]


# ---- load balancers: pkg/webhook/loadbalancer ---------------------------------------------------------------------
def _check_listeners(spec):
    if spec.get('workloadType') == 'cluster':
        return
    listeners = spec.get('listeners') or []
    if not listeners:
        raise Refusal('the loadbalancer needs to have at least one listener')
    names, ports, backends = set(), {}, {}
    for listener in listeners:
        name = listener.get('name') or ''
        if name in names:
            raise Refusal('listener has duplicate name %s' % name)
        names.add(name)
        key = '%s:%s' % (listener.get('protocol'), listener.get('port'))
        if key in ports:
            raise Refusal('listener %s has duplicate port %s with listener %s' % (name, key, ports[key]))
        ports[key] = name
        key = '%s:%s' % (listener.get('protocol'), listener.get('backendPort'))
        if key in backends:
            raise Refusal('listener %s has duplicate backend port %s with listener %s' % (name, key, backends[key]))
        backends[key] = name
    for listener in listeners:
        for field, what in (('port', 'listener port'), ('backendPort', 'listener backend port')):
            value = listener.get(field) or 0
            if value > 65535:
                raise Refusal('%s %s must <= 65535' % (what, value))
            if value < 1:
                raise Refusal('%s %s must >= 1' % (what, value))


def _check_health(spec):
    health = spec.get('healthCheck')
    if spec.get('workloadType') == 'cluster' or not health or not health.get('port'):
        return
    udp_only = False
    for listener in spec.get('listeners') or []:
        if listener.get('backendPort') == health['port']:
            if listener.get('protocol') == 'TCP':
                for key, name in (('successThreshold', 'SuccessThreshold'), ('failureThreshold', 'FailureThreshold'),
                                  ('periodSeconds', 'PeriodSeconds'), ('timeoutSeconds', 'TimeoutSeconds')):
                    if not health.get(key):
                        raise Refusal('healthcheck %s should > 0' % name)
                return
            udp_only = True
    if udp_only:
        raise Refusal('healthcheck port %s can only be a TCP backend port' % health['port'])
    raise Refusal('healthcheck port %s is not in listener backend port list' % health['port'])


def _validate_lb(op, lb, old):
    meta = lb.get('metadata') or {}
    if op == 'UPDATE' and meta.get('deletionTimestamp'):
        return
    verb = 'create' if op == 'CREATE' else 'update'
    where = '%s loadbalancer %s/%s failed' % (verb, meta.get('namespace'), meta.get('name'))
    spec = lb.get('spec') or {}
    try:
        _check_listeners(spec)
    except Refusal as exc:
        raise Refusal('%s: %s' % (where, exc)) from exc
    try:
        _check_health(spec)
    except Refusal as exc:
        raise Refusal('%s with healthyCheck: %s' % (where, exc)) from exc
    if op == 'UPDATE':
        before = old.get('spec') or {}
        if (before.get('ipam') == 'dhcp') != (spec.get('ipam') == 'dhcp'):
            raise Refusal("%s: can't change the IPAM from %s to %s" % (where, before.get('ipam') or '',
                                                                       spec.get('ipam') or ''))
        if (before.get('workloadType') == 'cluster') != (spec.get('workloadType') == 'cluster'):
            raise Refusal("%s: can't change the WorkloadType from %s to %s"
                          % (where, before.get('workloadType') or '', spec.get('workloadType') or ''))


def _mutate_lb(op, lb):
    meta = lb.get('metadata') or {}
    if op == 'UPDATE' and meta.get('deletionTimestamp'):
        return []
    patch = []
    spec = lb.get('spec') or {}
    if spec.get('workloadType') in (None, '', 'vm'):
        annotations = dict(meta.get('annotations') or {})
        if annotations.get(KEY_NAMESPACE) != meta.get('namespace'):
            annotations[KEY_NAMESPACE] = meta.get('namespace')
            patch.append({'op': 'add', 'path': '/metadata/annotations', 'value': annotations})
    # (cluster load balancers: the project and network annotations need Rancher's namespaces; not modelled)
    health = spec.get('healthCheck')
    if health and health.get('port'):
        filled = dict(health)
        for key, default in (('successThreshold', 2), ('failureThreshold', 2), ('periodSeconds', 1),
                             ('timeoutSeconds', 1)):
            if not filled.get(key):
                filled[key] = default
        if filled != health:
            patch.append({'op': 'replace', 'path': '/spec/healthCheck', 'value': filled})
    return patch


# ---- the stand-in's entry points ------------------------------------------------------------------------------------
def mutate(api, kind, op, obj, _old):
    if kind == 'IPPool':
        return _mutate_pool(api, op, obj)
    if kind == 'LoadBalancer':
        return _mutate_lb(op, obj)
    return []


def validate(api, kind, op, obj, old):
    if kind == 'IPPool':
        _validate_pool(api, op, obj, old)
    elif kind == 'LoadBalancer' and op != 'DELETE':
        _validate_lb(op, obj, old)


def hooks(hook):
    """(mutating, validating) webhook entries, built by the stand-in's ``hook(name, path, group, version, resources,
    operations, scope)`` (pkg/webhook/*/ Resource(): the operations upstream registers)."""
    mutating = [hook('ippool', '/mutate', GROUP, 'v1beta1', 'ippools', ['CREATE', 'UPDATE'], 'Cluster'),
                hook('loadbalancer', '/mutate', GROUP, 'v1beta1', 'loadbalancers', ['CREATE', 'UPDATE'], 'Namespaced')]
    validating = [hook('ippool', '/validate', GROUP, 'v1beta1', 'ippools', ['CREATE', 'UPDATE', 'DELETE'], 'Cluster'),
                  hook('loadbalancer', '/validate', GROUP, 'v1beta1', 'loadbalancers', ['CREATE', 'UPDATE'],
                       'Namespaced')]
    return mutating, validating
