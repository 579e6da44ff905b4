"""A stand-in for Harvester's network manager and network webhook, for the cluster bed's ``current`` profile.

What it does to our objects mirrors harvester/network-controller-harvester at commit
2e5cbea335074e6c13d7a5c550ca5087c03f3f4e (2026-08-20); every rule names the upstream file it follows.  Written for
this bed from reading those files; no code is copied.

- The controller (``Controller``): watches NADs, ClusterNetworks and VlanConfigs and writes back with plain Update
  (PUT) under the field manager ``network-controller``, as the manager does:
  finalizers (wrangler's ``OnRemove`` adds ``wrangler.cattle.io/<controller name>``), the NAD labels and the
  ``network.harvesterhci.io/ready`` label, ``connectivity`` in the route annotation, the cluster network's ``Ready``
  condition, its ``uplink-mtu`` and VID-set annotations, and the NAD MTU sync from the cluster network.
- The webhook (``Webhook``): an HTTPS admission webhook on 127.0.0.1 (the bed's serving certificate) registered with
  Mutating/ValidatingWebhookConfigurations; it answers refusals the way harvester/webhook does (HTTP 500, "Internal
  error occurred: <sentence>").

- The network agent's reports (one VlanStatus per VlanConfig and matched node, and the cluster network's readiness
  that the manager derives from them): testbeds/cluster/harvester_agent.py, with per-node faults for the tests.
- Harvester's own settings ``storage-network`` and ``vm-migration-network``: their webhook rules and controllers, in
  testbeds/cluster/harvester_settings.py (harvester/harvester@3d63c2af).
- The load balancer add-on's IPPool and LoadBalancer webhook (mutating and validating), in
  testbeds/cluster/harvester_lb.py (harvester/load-balancer-harvester@e861dc94).

Python: ``HarvesterStandIn(host, port, pki).start()`` (``settle()`` waits until the controller is idle; ``stop()``
unregisters the webhook).  Command line (e.g. for the lab): ``python -m testbeds.cluster.harvester STATE_DIR``
runs it in the foreground against the ``current`` kube-apiserver of a bed state folder until SIGTERM/SIGINT.
"""

import base64
import binascii
import collections
import http.client
import http.server
import ipaddress
import json
import os
import queue
import signal
import ssl
import sys
import threading
import time
import urllib.parse

from testbeds.cluster import harvester_lb as lb_rules
from testbeds.cluster import harvester_settings as settings_rules
# The group, its API path and the cluster-network label: one definition, in the agent stand-in this module drives.
from testbeds.cluster.harvester_agent import GROUP, HN_PATH, KEY_CN, VS_PATH, AgentStandIn
from testbeds.cluster.harvester_settings import Refusal
from testbeds.cluster.controlplane import Rest, free_port, read_state
from testbeds.cluster.pki import Pki

UPSTREAM = 'harvester/network-controller-harvester@2e5cbea3'
FIELD_MANAGER = 'network-controller'
NAD_PATH = '/apis/k8s.cni.cncf.io/v1'
KV_PATH = '/apis/kubevirt.io/v1'
# pkg/controller/manager/{nad,clusternetwork,vlanconfig}/controller.go: ControllerName; wrangler's OnRemove finalizer
NAD_FINALIZER = 'wrangler.cattle.io/harvester-network-manager-nad-controller'
CN_FINALIZER = 'wrangler.cattle.io/harvester-network-manager-cn-controller'
VC_FINALIZER = 'wrangler.cattle.io/harvester-network-manager-vlanconfig-controller'
DEPRECATED_NAD_FINALIZER = 'wrangler.cattle.io/harvester-network-nad-controller'
# pkg/utils/labels.go
KEY_TYPE = GROUP + '/type'
KEY_VLAN = GROUP + '/vlan-id'
KEY_READY = GROUP + '/ready'
KEY_ROUTE = GROUP + '/route'
KEY_UPLINK_MTU = GROUP + '/uplink-mtu'
KEY_MTU_SOURCE = GROUP + '/mtu-source-vlanconfig'
KEY_MATCHED_NODES = GROUP + '/matched-nodes'
KEY_VID_SET = GROUP + '/vlan-id-set-str'
KEY_VID_HASH = GROUP + '/vlan-id-set-str-hash'
MGMT = 'mgmt'
DEFAULT_MTU = 1500
WEBHOOK_NAME = 'harvester-network-webhook'
# Objects with this label are left alone by the webhook and the controller: the bed's own tests of the bare API
# server (CRD schema validation, pruning, defaults) use it. No module test does.
BYPASS_LABEL = 'testbed.harvester.network/bypass-harvester'


# ---- pure rules (pkg/utils/nad.go) -------------------------------------------------------------------------------
def netconf(nad):
    """The NAD's CNI config (``DecodeNadConfigToNetConf``)."""
    try:
        conf = json.loads((nad.get('spec') or {}).get('config') or '', object_pairs_hook=collections.OrderedDict)
    except ValueError as exc:
        raise Refusal('unmarshal config failed, error: %s' % exc) from exc
    if not isinstance(conf, dict):
        raise Refusal('unmarshal config failed')
    return conf


def is_bridge(conf):
    return conf.get('type') in ('bridge', '', None)


def network_type(conf):
    """``NetConf.GetNetworkType``."""
    if conf.get('type') == 'kube-ovn':
        return 'OverlayNetwork'
    if not is_bridge(conf):
        raise Refusal('unknown network type')
    if conf.get('vlan'):
        return 'L2VlanNetwork'
    return 'L2VlanTrunkNetwork' if conf.get('vlanTrunk') else 'UntaggedNetwork'


def cluster_network_of(conf):
    """``GetBridgeNamePrefix`` (pkg/utils/bridge.go): ``<cn>-br`` -> ``<cn>``; overlay NADs live on mgmt."""
    if conf.get('type') == 'kube-ovn':
        return MGMT
    bridge = conf.get('bridge') or ''
    if not bridge.endswith('-br') or len(bridge) > 15 or len(bridge) <= 3:
        raise Refusal('the suffix of the brName %s is not -br or the length of the brName is more than 15' % bridge)
    return bridge[:-3]


def check_vlan(conf):
    """``NetConf.IsVlanConfigValid`` and ``VlanTrunk.IsValid``."""
    vlan = conf.get('vlan') or 0
    if not isinstance(vlan, int) or vlan < 0 or vlan > 4094:
        raise Refusal('vlan %s is out of range [0 .. 4094]' % vlan)
    trunk = conf.get('vlanTrunk') or []
    if vlan and trunk:
        raise Refusal('vlan can only be 0 when vlanTrunk is set')
    for item in trunk:
        low, high, single = item.get('minID'), item.get('maxID'), item.get('id')
        if (low is None) != (high is None):
            raise Refusal('minID and maxID should be configured simultaneously')
        for name, value in (('minID', low), ('maxID', high), ('id', single)):
            # MinTrunkVlanID 1, MaxVlanID 4094 (pkg/utils/vlan.go)
            if value is not None and not 1 <= value <= 4094:
                raise Refusal('incorrect trunk %s parameter %s' % (name, value))
        if low is not None and high < low:
            raise Refusal('minID %s is greater than maxID %s in trunk parameter' % (low, high))
        if low is None and single is None:
            raise Refusal('all fields in this VlanTrunk are empty')


def vids(conf):
    """``NetConf.dumpVlanIDSet``: the VIDs a bridge NAD puts on the uplink."""
    if not conf.get('vlanTrunk'):
        return {conf.get('vlan') or 0}
    found = set()
    for item in conf['vlanTrunk']:
        if item.get('id') is not None:
            found.add(item['id'])
        if item.get('minID') is not None:
            found.update(range(item['minID'], item['maxID'] + 1))
    return found


def route(text):
    """``NewLayer3NetworkConf``: the route annotation, validated."""
    if not text:
        return {}
    try:
        conf = json.loads(text, object_pairs_hook=collections.OrderedDict)
    except ValueError as exc:
        raise Refusal('unmarshal %s faield, error: %s' % (text, exc)) from exc
    mode = conf.get('mode') or ''
    if mode not in ('', 'auto', 'manual'):
        raise Refusal('unknown mode %s' % mode)
    if mode == 'manual':
        try:
            network = ipaddress.ip_network(conf.get('cidr') or '', strict=False)
            if network.prefixlen == 0:
                raise ValueError
        except ValueError as exc:
            raise Refusal('the CIDR %s is invalid' % conf.get('cidr', '')) from exc
        try:
            ipaddress.ip_address(conf.get('gateway') or '')
        except ValueError as exc:
            raise Refusal('the gateway %s is invalid' % conf.get('gateway', '')) from exc
    return conf


def dump_route(conf):
    """Go's json.Marshal of Layer3NetworkConf: field order, omitempty."""
    out = collections.OrderedDict()
    for key in ('mode', 'cidr', 'gateway', 'serverIPAddr', 'connectivity', 'outdated'):
        if conf.get(key):
            out[key] = conf[key]
    return json.dumps(out, separators=(',', ':'))


def network_labels(labels, conf, cn_ready):
    """``NetConf.SetNetworkInfoToLabels`` plus the ready label (manager nad controller ``ensureLabels``)."""
    labels = dict(labels or {})
    labels.pop(KEY_VLAN, None)
    kind = network_type(conf)
    labels[KEY_CN] = cluster_network_of(conf)
    labels[KEY_TYPE] = kind
    if kind == 'L2VlanNetwork':
        labels[KEY_VLAN] = str(conf['vlan'])
    labels[KEY_READY] = 'true' if cn_ready else 'false'
    return labels


def cn_ready(cn):
    return any(c.get('type') == 'ready' and c.get('status') == 'True'
               for c in ((cn or {}).get('status') or {}).get('conditions') or [])


def uses_nad(obj, nad_ns, nad_name, template=False):
    """``VMByNetworkIndex``: a VM(I) refers to ``<ns>/<name>`` or ``<name>`` in its own namespace."""
    spec = obj.get('spec') or {}
    if template:
        spec = ((spec.get('template') or {}).get('spec')) or {}
    namespace = (obj.get('metadata') or {}).get('namespace')
    for net in spec.get('networks') or []:
        ref = (net.get('multus') or {}).get('networkName') or ''
        if ref == '%s/%s' % (nad_ns, nad_name) or (ref == nad_name and namespace == nad_ns):
            return True
    return False


def invalid_base64_at(text):
    """Go's base64 CorruptInputError offset, or None when ``text`` decodes."""
    try:
        base64.b64decode(text, validate=True)
        return None
    except (binascii.Error, ValueError):
        alphabet = set('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=')
        for index, char in enumerate(text):
            if char not in alphabet:
                return index
        return len(text)


# ---- API access -------------------------------------------------------------------------------------------------
class Api:
    """Reads and plain Updates as the manager (``network-controller``) over one ``Rest`` connection."""

    def __init__(self, host, port, pki):
        self.rest = Rest(host, port, pki)

    def get(self, path):
        status, body = self.rest.request('GET', path)
        return body if status == 200 else None

    def items(self, path):
        body = self.get(path)
        return (body or {}).get('items') or []

    def update(self, path, obj):
        """PUT ``obj`` (carrying its resourceVersion); returns (status, body)."""
        return self.rest.request('PUT', path + '?fieldManager=' + FIELD_MANAGER, obj)

    def cluster_network(self, name):
        return self.get('%s/clusternetworks/%s' % (HN_PATH, urllib.parse.quote(name)))


def _nad_path(namespace, name):
    return '%s/namespaces/%s/network-attachment-definitions/%s' % (NAD_PATH, namespace, name)


def _cn_mtu(api, cn_name, cn=None):
    """The MTU a NAD on ``cn_name`` must carry (pkg/webhook/nad/validator.go ``checkNadConfig``, mutator.go
    ``patchMTU``): the cluster network's uplink-mtu annotation, else its first VlanConfig's MTU, else 1500."""
    cn = cn or api.cluster_network(cn_name) or {}
    text = ((cn.get('metadata') or {}).get('annotations') or {}).get(KEY_UPLINK_MTU)
    if text:
        try:
            return int(text) or DEFAULT_MTU
        except ValueError as exc:
            raise Refusal("nad's host cluster network %s has invalid MTU annotation %s/%s"
                          % (cn_name, KEY_UPLINK_MTU, text)) from exc
    for vc in sorted(api.items(HN_PATH + '/vlanconfigs'), key=lambda o: o['metadata']['name']):
        if (vc.get('spec') or {}).get('clusterNetwork') == cn_name:
            mtu = (((vc['spec'].get('uplink') or {}).get('linkAttributes')) or {}).get('mtu')
            return mtu or DEFAULT_MTU
    return DEFAULT_MTU


# ---- the admission webhook (pkg/webhook) ------------------------------------------------------------------------
class Webhook:
    """Mutating and validating rules for NADs, VlanConfigs and ClusterNetworks."""

    def __init__(self, api):
        self.api = api

    # -- mutating --------------------------------------------------------------------------------------------------
    def mutate(self, request):
        kind, op = request['kind']['kind'], request['operation']
        obj, old = request.get('object') or {}, request.get('oldObject') or {}
        if kind == 'NetworkAttachmentDefinition':
            return self._mutate_nad(op, obj, old)
        if kind == 'VlanConfig':
            return self._mutate_vlanconfig(op, obj, old)
        return lb_rules.mutate(self.api, kind, op, obj, old)

    def _mutate_nad(self, op, nad, old):
        """pkg/webhook/nad/mutator.go: Create patches the MTU; Update ensures labels and outdates the route."""
        meta = nad.get('metadata') or {}
        if op == 'CREATE':
            return self._nad_create_errors('create', meta, lambda: self._patch_mtu(nad))
        if meta.get('deletionTimestamp'):
            return []

        def update():
            conf, old_conf = netconf(nad), netconf(old)
            if conf.get('type') == 'kube-ovn':
                return []
            cn = self.api.cluster_network(cluster_network_of(conf))
            if cn is None:
                raise Refusal('clusternetwork.%s "%s" not found' % (GROUP, cluster_network_of(conf)))
            patch = [{'op': 'replace' if meta.get('labels') is not None else 'add', 'path': '/metadata/labels',
                      'value': network_labels(meta.get('labels'), conf, cn_ready(cn))}]
            annotations = dict(meta.get('annotations') or {})
            if not annotations:
                return patch
            if (old_conf.get('vlan') or 0) != (conf.get('vlan') or 0):
                # OutdateNadLayer3NetworkConf: untagged and trunk (VLAN 0) drop the route, auto mode is outdated
                if KEY_ROUTE in annotations:
                    if not conf.get('vlan'):
                        del annotations[KEY_ROUTE]
                    else:
                        current = route(annotations[KEY_ROUTE])
                        current['outdated'] = current.get('mode') == 'auto'
                        annotations[KEY_ROUTE] = dump_route(current)
                    patch.append({'op': 'replace', 'path': '/metadata/annotations', 'value': annotations})
            return patch
        return self._nad_create_errors('update', meta, update)

    @staticmethod
    def _nad_create_errors(verb, meta, action):
        try:
            return action()
        except Refusal as exc:
            raise Refusal("can't %s nad %s/%s because %s" % (verb, meta.get('namespace'), meta.get('name'), exc)) \
                from exc

    def _patch_mtu(self, nad):
        conf = netconf(nad)
        if conf.get('type') == 'kube-ovn':
            return []
        name = cluster_network_of(conf)
        if self.api.cluster_network(name) is None:
            raise Refusal('clusternetwork.%s "%s" not found' % (GROUP, name))
        mtu = _cn_mtu(self.api, name)
        if conf.get('mtu') == mtu:
            return []
        conf['mtu'] = mtu  # sjson.Set: keeps every other key and its order
        return [{'op': 'replace', 'path': '/spec/config', 'value': json.dumps(conf, separators=(',', ':'))}]

    def _mutate_vlanconfig(self, op, vc, old):
        """pkg/webhook/vlanconfig/mutator.go: the cluster network label and the matched-nodes annotation.

        The request body is decoded into Harvester's Go types first: ``hardwareAddr`` is a ``net.HardwareAddr``
        ([]byte), so JSON carries it as base64 (pkg/apis/network.harvesterhci.io/v1beta1/vlanconfig.go)."""
        spec = vc.get('spec') or {}
        link = ((spec.get('uplink') or {}).get('linkAttributes')) or {}
        if isinstance(link.get('hardwareAddr'), str):
            offset = invalid_base64_at(link['hardwareAddr'])
            if offset is not None:
                raise Refusal('illegal base64 data at input byte %d' % offset)
        meta = vc.get('metadata') or {}
        if meta.get('deletionTimestamp') or spec.get('clusterNetwork') == MGMT:
            return []
        patch = []
        labels = dict(meta.get('labels') or {})
        if labels.get(KEY_CN) != spec.get('clusterNetwork') and (
                op == 'CREATE' or spec.get('clusterNetwork') != ((old.get('spec') or {}).get('clusterNetwork'))):
            labels[KEY_CN] = spec.get('clusterNetwork')
            patch.append({'op': 'replace' if meta.get('labels') is not None else 'add', 'path': '/metadata/labels',
                          'value': labels})
        selector = spec.get('nodeSelector') or {}
        nodes = sorted(n['metadata']['name'] for n in self.api.items('/api/v1/nodes')
                       if all(((n['metadata'].get('labels') or {}).get(k)) == v for k, v in selector.items())
                       and 'node-role.harvesterhci.io/witness' not in (n['metadata'].get('labels') or {}))
        if nodes:
            annotations = dict(meta.get('annotations') or {})
            annotations[KEY_MATCHED_NODES] = json.dumps(nodes, separators=(',', ':'))
            patch.append({'op': 'replace' if meta.get('annotations') is not None else 'add',
                          'path': '/metadata/annotations', 'value': annotations})
        return patch

    # -- validating ------------------------------------------------------------------------------------------------
    def validate(self, request):
        kind, op = request['kind']['kind'], request['operation']
        obj, old = request.get('object') or {}, request.get('oldObject') or {}
        if kind == 'NetworkAttachmentDefinition':
            self._validate_nad(op, obj, old)
        elif kind == 'VlanConfig':
            self._validate_vlanconfig(op, obj, old)
        elif kind == 'ClusterNetwork' and op == 'DELETE':
            self._validate_cn_delete(old)
        elif kind == 'Setting':
            settings_rules.validate(self.api, op, obj, old)
        else:
            lb_rules.validate(self.api, kind, op, obj, old)

    def _validate_nad(self, op, nad, old):
        """pkg/webhook/nad/validator.go."""
        target = old if op == 'DELETE' else nad
        meta = target.get('metadata') or {}
        verb = {'CREATE': 'create', 'UPDATE': 'update', 'DELETE': 'delete'}[op]
        ns, name = meta.get('namespace'), meta.get('name')
        try:
            if op == 'DELETE':
                conf = netconf(old)
                if conf.get('type') == 'kube-ovn':
                    return
                self._check_vmi(ns, name)
                users = sorted('%s/%s' % (v['metadata']['namespace'], v['metadata']['name'])
                               for v in self.api.items(KV_PATH + '/virtualmachines')
                               if uses_nad(v, ns, name, template=True))
                if users:
                    raise Refusal("it's still used by VM(s) %s which must remove the related networks and interfaces"
                                  % ', '.join(users))
                return
            if meta.get('deletionTimestamp'):
                return
            conf = netconf(nad)
            route((meta.get('annotations') or {}).get(KEY_ROUTE))
            if op == 'UPDATE':
                old_conf = netconf(old)
                if conf == old_conf:
                    return
                if conf.get('type') != old_conf.get('type'):
                    raise Refusal('nad cannot be updated from network type %s to network type %s'
                                  % (old_conf.get('type'), conf.get('type')))
                if conf.get('bridge') != old_conf.get('bridge'):
                    raise Refusal("nad bridge name can't be changed from %s to %s"
                                  % (old_conf.get('bridge'), conf.get('bridge')))
            self._check_nad_config(conf, meta)
            if op == 'UPDATE':
                self._check_vmi(ns, name)
        except Refusal as exc:
            raise Refusal("can't %s nad %s/%s because %s" % (verb, ns, name, exc)) from exc

    def _check_nad_config(self, conf, meta):
        if conf.get('type') == 'kube-ovn':
            return
        check_vlan(conf)
        name = cluster_network_of(conf)
        label = (meta.get('labels') or {}).get(KEY_CN)
        if label and label != name:
            raise Refusal('the nad label %s does not match bridge name %s' % (label, name))
        cn = self.api.cluster_network(name)
        if cn is None:
            raise Refusal('nad refers to a none-existing cluster network %s or error clusternetwork.%s "%s" not found'
                          % (name, GROUP, name))
        mtu = _cn_mtu(self.api, name, cn)
        if (conf.get('mtu') or DEFAULT_MTU) != mtu:
            raise Refusal('nad MTU %s does not match cluster network MTU %s' % (conf.get('mtu') or 0, mtu))

    def _check_vmi(self, ns, name, nodes=None):
        users = sorted('%s/%s' % (v['metadata']['namespace'], v['metadata']['name'])
                       for v in self.api.items(KV_PATH + '/virtualmachineinstances')
                       if uses_nad(v, ns, name) and (nodes is None or (v.get('status') or {}).get('nodeName') in nodes))
        if users:
            if nodes is None:
                raise Refusal("it's still used by VM(s) %s which must be stopped at first" % ', '.join(users))
            raise Refusal('it is blocked by VM(s) %s which must be stopped at first' % ', '.join(users))

    def _validate_vlanconfig(self, op, vc, old):
        """pkg/webhook/vlanconfig/validator.go (create/update/delete)."""
        target = old if op == 'DELETE' else vc
        name = target['metadata']['name']
        verb = {'CREATE': 'create', 'UPDATE': 'update', 'DELETE': 'delete'}[op]
        try:
            cn_name = (target.get('spec') or {}).get('clusterNetwork')
            if op != 'DELETE':
                if (vc.get('metadata') or {}).get('deletionTimestamp'):
                    return
                if cn_name == MGMT:
                    raise Refusal("users can't %s vlanConfig for %s cluster network" % (verb, MGMT))
                if self.api.cluster_network(cn_name) is None:
                    raise Refusal('it refers to a none-existing cluster network %s or error clusternetwork.%s "%s" '
                                  'not found' % (cn_name, GROUP, cn_name))
                self._check_vlanconfig_mtu(vc)
            old_nodes = _matched_nodes(old)
            if op == 'CREATE':
                return
            if op == 'UPDATE':
                if (old.get('spec') or {}).get('clusterNetwork') != cn_name or \
                        (old.get('spec') or {}).get('uplink') != (vc.get('spec') or {}).get('uplink'):
                    affected = old_nodes
                else:
                    affected = old_nodes - _matched_nodes(vc)
                cn_name = (old.get('spec') or {}).get('clusterNetwork')
            else:
                affected = old_nodes
            if affected:
                for nad in self.api.items(NAD_PATH + '/network-attachment-definitions'):
                    if ((nad['metadata'].get('labels') or {}).get(KEY_CN)) == cn_name:
                        self._check_vmi(nad['metadata']['namespace'], nad['metadata']['name'], affected)
        except Refusal as exc:
            raise Refusal("can't %s vlanConfig %s because %s" % (verb, name, exc)) from exc

    def _check_vlanconfig_mtu(self, vc):
        mine = (((vc['spec'].get('uplink') or {}).get('linkAttributes')) or {}).get('mtu') or 0
        if mine and not 576 <= mine <= 9000:
            raise Refusal('the MTU %s is out of range [0, 576..9000]' % mine)
        for other in self.api.items(HN_PATH + '/vlanconfigs'):
            if other['metadata']['name'] == vc['metadata']['name'] or other['metadata'].get('deletionTimestamp'):
                continue
            if (other.get('spec') or {}).get('clusterNetwork') != vc['spec'].get('clusterNetwork'):
                continue
            theirs = (((other['spec'].get('uplink') or {}).get('linkAttributes')) or {}).get('mtu') or 0
            if (theirs or DEFAULT_MTU) != (mine or DEFAULT_MTU):
                raise Refusal('the MTU %s is different with vlanconfig %s MTU %s' % (mine, other['metadata']['name'],
                                                                                     theirs))

    def _validate_cn_delete(self, cn):
        """pkg/webhook/clusternetwork/validator.go Delete."""
        name = cn['metadata']['name']
        try:
            if name == MGMT:
                raise Refusal('it is not allowed')
            vcs = sorted(v['metadata']['name'] for v in self.api.items(HN_PATH + '/vlanconfigs')
                         if (v.get('spec') or {}).get('clusterNetwork') == name)
            if vcs:
                raise Refusal('vlanconfig(s) [%s] under this clusternetwork are still existing' % ' '.join(vcs))
            nads = sorted('%s/%s' % (n['metadata']['namespace'], n['metadata']['name'])
                          for n in self.api.items(NAD_PATH + '/network-attachment-definitions')
                          if ((n['metadata'].get('labels') or {}).get(KEY_CN)) == name)
            if nads:
                raise Refusal('nads(s) %s under this clusternetwork are still existing' % ', '.join(nads))
        except Refusal as exc:
            raise Refusal("can't delete cluster network %s because %s" % (name, exc)) from exc


def _matched_nodes(vc):
    text = (((vc or {}).get('metadata') or {}).get('annotations') or {}).get(KEY_MATCHED_NODES)
    try:
        return set(json.loads(text)) if text else set()
    except ValueError:
        return set()


def _review_response(uid, patch=None, error=None):
    response = {'uid': uid, 'allowed': error is None}
    if error is not None and getattr(error, 'code', None):
        response['status'] = {'code': error.code, 'reason': error.reason, 'status': 'Failure', 'message': str(error)}
    elif error is not None:
        # harvester/webhook wraps every handler error in apierrors.NewInternalError
        response['status'] = {'code': 500, 'reason': 'InternalError', 'status': 'Failure',
                              'message': 'Internal error occurred: %s' % error}
    elif patch:
        response['patchType'] = 'JSONPatch'
        response['patch'] = base64.b64encode(json.dumps(patch).encode()).decode()
    return {'apiVersion': 'admission.k8s.io/v1', 'kind': 'AdmissionReview', 'response': response}


class _Handler(http.server.BaseHTTPRequestHandler):
    webhook = None
    calls = None

    def do_POST(self):  # pylint: disable=invalid-name
        review = json.loads(self.rfile.read(int(self.headers.get('Content-Length') or 0)) or b'{}')
        request = review.get('request') or {}
        patch, error = None, None
        try:
            if self.path.startswith('/mutate'):
                patch = self.webhook.mutate(request)
            else:
                self.webhook.validate(request)
        except Refusal as exc:
            error = exc
        except Exception as exc:  # pylint: disable=broad-except
            error = 'stand-in webhook failed: %r' % exc
        self.calls.append((self.path, request.get('kind', {}).get('kind'), request.get('operation'),
                           request.get('dryRun'), error if error is None else str(error)))
        body = json.dumps(_review_response(request.get('uid'), patch, error)).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        return


# ---- the manager (pkg/controller/manager) -----------------------------------------------------------------------
class Controller:
    """Watches and reconciles; every write is a PUT with ``fieldManager=network-controller``."""

    WATCHES = (('nad', NAD_PATH + '/network-attachment-definitions'),
               ('cn', HN_PATH + '/clusternetworks'),
               ('vc', HN_PATH + '/vlanconfigs'),
               ('vs', VS_PATH),
               ('setting', settings_rules.SETTING_PATH))

    def __init__(self, host, port, pki):
        self.host, self.port, self.pki = host, port, pki
        self.api = Api(host, port, pki)
        self.queue = queue.Queue()
        self.stopping = threading.Event()
        self.busy = 0
        self.last_event = time.monotonic()
        self.writes = []
        self.errors = []
        self._threads = []
        self._lock = threading.Lock()
        self.settings = settings_rules.SettingsController(self.api, self.writes, self.errors)
        # the network agent's VlanStatus reports (testbeds/cluster/harvester_agent.py); ``agent.faults`` per node
        self.agent = AgentStandIn(self.api, self.writes, self.errors, self._enqueue,
                                  lambda vc: sorted(_matched_nodes(vc)))

    def start(self):
        self._ensure_mgmt()
        self.settings.ensure_settings()
        for kind, path in self.WATCHES:
            ready = threading.Event()
            thread = threading.Thread(target=self._watch, args=(kind, path, ready), daemon=True,
                                      name='standin-watch-' + kind)
            thread.start()
            ready.wait(10)
            self._threads.append(thread)
        worker = threading.Thread(target=self._work, daemon=True, name='standin-worker')
        worker.start()
        self._threads.append(worker)

    def stop(self):
        self.stopping.set()
        self.queue.put(None)

    def settle(self, quiet=0.4, timeout=20.0):
        """Wait until nothing is queued or running and no event arrived for ``quiet`` seconds since this call
        (a write just before the call reaches the watches a few milliseconds later)."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            with self._lock:
                idle = self.queue.empty() and self.busy == 0 and \
                    time.monotonic() - max(self.last_event, started) >= quiet
            if idle:
                return
            time.sleep(0.05)
        raise TimeoutError('the Harvester controller stand-in did not settle in %.0f s (errors: %s)'
                           % (timeout, self.errors[-3:]))

    def _ensure_mgmt(self):
        """pkg/controller/manager/clusternetwork/controller.go ``initialize``: the built-in mgmt network, ready."""
        if self.api.cluster_network(MGMT) is None:
            self.api.rest.request('POST', HN_PATH + '/clusternetworks?fieldManager=' + FIELD_MANAGER, {
                'apiVersion': GROUP + '/v1beta1', 'kind': 'ClusterNetwork', 'metadata': {'name': MGMT},
                'status': {'conditions': [{'type': 'ready', 'status': 'True'}]}})

    def _watch(self, kind, path, ready):
        context = ssl.create_default_context(cafile=self.pki.ca_cert)
        context.load_cert_chain(self.pki.admin_cert, self.pki.admin_key)
        version = None
        while not self.stopping.is_set():
            try:
                if version is None:
                    body = self.api.get(path) or {}
                    version = (body.get('metadata') or {}).get('resourceVersion')
                    for item in body.get('items') or []:
                        self._enqueue(kind, item)
                    ready.set()
                conn = http.client.HTTPSConnection(self.host, self.port, context=context, timeout=3600)
                conn.request('GET', '%s?watch=1&resourceVersion=%s&timeoutSeconds=600' % (path, version))
                resp = conn.getresponse()
                if resp.status != 200:
                    version = None
                    conn.close()
                    time.sleep(0.2)
                    continue
                while not self.stopping.is_set():
                    line = resp.readline()
                    if not line:
                        break
                    event = json.loads(line)
                    if event.get('type') == 'ERROR':
                        version = None
                        break
                    obj = event.get('object') or {}
                    version = (obj.get('metadata') or {}).get('resourceVersion') or version
                    self._enqueue(kind, obj, event.get('type'))
                conn.close()
            except Exception as exc:  # pylint: disable=broad-except
                if self.stopping.is_set():
                    return
                self.errors.append('watch %s: %r' % (kind, exc))
                time.sleep(0.2)
                version = None

    def _enqueue(self, kind, obj, event=None):
        meta = obj.get('metadata') or {}
        if BYPASS_LABEL in (meta.get('labels') or {}):
            return
        with self._lock:
            self.last_event = time.monotonic()
        self.queue.put((kind, meta.get('namespace') or '', meta.get('name'), event, obj))

    def _work(self):
        while True:
            item = self.queue.get()
            if item is None or self.stopping.is_set():
                return
            with self._lock:
                self.busy += 1
            try:
                kind, namespace, name, event, obj = item
                getattr(self, '_reconcile_' + kind)(namespace, name, event, obj)
            except Exception as exc:  # pylint: disable=broad-except
                self.errors.append(repr(exc))
            finally:
                with self._lock:
                    self.busy -= 1
                    self.last_event = time.monotonic()

    def _write(self, path, obj, what):
        status, body = self.api.update(path, obj)
        self.writes.append((path, what, status))
        if status == 409:  # a newer version exists: its watch event brings us back
            return None
        if status not in (200, 201):
            self.errors.append('%s %s: HTTP %s %s' % (path, what, status, (body or {}).get('message')))
            return None
        return body

    def _drop_finalizers(self, path, obj, names):
        """wrangler after an OnRemove handler ran: its finalizers leave an object being deleted."""
        finalizers = list(obj['metadata'].get('finalizers') or [])
        kept = [f for f in finalizers if f not in names]
        if kept != finalizers:
            obj['metadata']['finalizers'] = kept
            self._write(path, obj, 'remove finalizer')

    # -- NADs: pkg/controller/manager/nad/controller.go --------------------------------------------------------
    def _reconcile_nad(self, namespace, name, event, last):
        path = _nad_path(namespace, name)
        nad = self.api.get(path)
        if nad is None:
            if event == 'DELETED':
                self._update_vid_set((last.get('metadata') or {}).get('labels', {}).get(KEY_CN))
            return
        meta = nad['metadata']
        finalizers = list(meta.get('finalizers') or [])
        if meta.get('deletionTimestamp'):
            # OnRemove: recompute the VID set, then wrangler removes its finalizer
            self._drop_finalizers(path, nad, (NAD_FINALIZER, DEPRECATED_NAD_FINALIZER))
            self._update_vid_set((meta.get('labels') or {}).get(KEY_CN))
            return
        changed = []
        if NAD_FINALIZER not in finalizers:
            meta['finalizers'] = finalizers + [NAD_FINALIZER]
            changed.append('finalizer')
        try:
            conf = netconf(nad)
            cn_name = cluster_network_of(conf)
        except Refusal:
            return
        cn = self.api.cluster_network(cn_name)
        if cn is not None and conf.get('type') != 'kube-ovn':
            labels = network_labels(meta.get('labels'), conf, cn_ready(cn))
            if labels != (meta.get('labels') or {}):
                meta['labels'] = labels
                changed.append('labels')
        annotations = meta.get('annotations') or {}
        if annotations.get(KEY_ROUTE) and conf.get('type') != 'kube-ovn':
            try:
                current = route(annotations[KEY_ROUTE])
            except Refusal:
                current = {}
            if current.get('cidr') and current.get('gateway') and not current.get('outdated') \
                    and not current.get('connectivity'):
                # initializeConnectivity pings the gateway from the manager pod; nothing answers in the bed
                current['connectivity'] = 'false'
                annotations[KEY_ROUTE] = dump_route(current)
                changed.append('route connectivity')
        if changed:
            self._write(path, nad, ', '.join(changed))
        self._update_vid_set(cn_name)

    def _update_vid_set(self, cn_name):
        """``UpdateClusterNetworkVlanSet``: the VIDs of the bridge NADs on the cluster network, as annotations."""
        if not cn_name:
            return
        cn = self.api.cluster_network(cn_name)
        if cn is None or cn['metadata'].get('deletionTimestamp'):
            return
        found = set()
        for nad in self.api.items(NAD_PATH + '/network-attachment-definitions?labelSelector=%s%%3D%s'
                                  % (urllib.parse.quote(KEY_CN), cn_name)):
            if nad['metadata'].get('deletionTimestamp'):
                continue
            try:
                conf = netconf(nad)
            except Refusal:
                continue
            if is_bridge(conf):
                found |= vids(conf)
        text = ','.join(str(v) for v in sorted(found))
        digest = '%08x' % (binascii.crc32(text.encode()) & 0xffffffff)
        annotations = cn['metadata'].setdefault('annotations', {})
        if annotations.get(KEY_VID_SET) == text and annotations.get(KEY_VID_HASH) == digest:
            return
        annotations[KEY_VID_SET], annotations[KEY_VID_HASH] = text, digest
        self._write('%s/clusternetworks/%s' % (HN_PATH, cn_name), cn, 'vlan id set')

    def _reconcile_setting(self, _namespace, name, _event, _last):
        self.settings.reconcile(name)

    def requeue_vlan_config(self, name):
        """What an agent's retry after an error does: the VlanConfig ``name`` handled again (after ``agent.faults``
        changed)."""
        self._enqueue('vc', {'metadata': {'name': name}})

    def requeue_setting(self, name):
        """What upstream's requeue on error does (e.g. after volumes were detached): reconcile ``name`` again."""
        self._enqueue('setting', {'metadata': {'name': name}})

    # -- ClusterNetworks: manager clusternetwork + vlanconfig controllers ----------------------------------------
    def _reconcile_cn(self, _namespace, name, _event, _last):
        path = '%s/clusternetworks/%s' % (HN_PATH, name)
        cn = self.api.get(path)
        if cn is None:
            return
        meta = cn['metadata']
        finalizers = list(meta.get('finalizers') or [])
        if meta.get('deletionTimestamp'):
            self._drop_finalizers(path, cn, (CN_FINALIZER,))
            return
        changed = []
        if CN_FINALIZER not in finalizers:
            meta['finalizers'] = finalizers + [CN_FINALIZER]
            changed.append('finalizer')
        configs = sorted((vc for vc in self.api.items(HN_PATH + '/vlanconfigs')
                          if (vc.get('spec') or {}).get('clusterNetwork') == name
                          and not vc['metadata'].get('deletionTimestamp')), key=lambda o: o['metadata']['name'])
        # any VlanStatus of the cluster network makes it ready, whatever its own condition says; the last one
        # removed makes it unready (manager/vlanconfig/controller.go SetClusterNetworkReady/SetClusterNetworkUnready).
        # The bed's shortcut for tests that create no Node: a VlanConfig that matches no node stands for "an agent
        # reported" (no agent would ever report for it on a real cluster).
        selector = urllib.parse.quote('%s=%s' % (KEY_CN, name), safe='=')
        reported = self.api.items('%s?labelSelector=%s' % (VS_PATH, selector))
        ready = name == MGMT or bool(reported) or any(not _matched_nodes(vc) for vc in configs)
        if cn_ready(cn) != ready:
            cn['status'] = {'conditions': [{'type': 'ready', 'status': 'True' if ready else 'False'}]}
            changed.append('ready')
        if configs and name != MGMT:
            # ensureClusterNetwork: the uplink MTU as an annotation, for the NAD webhook and the MTU sync
            mtu = str((((configs[0]['spec'].get('uplink') or {}).get('linkAttributes')) or {}).get('mtu')
                      or DEFAULT_MTU)
            annotations = meta.setdefault('annotations', {})
            if annotations.get(KEY_UPLINK_MTU) != mtu:
                annotations[KEY_UPLINK_MTU] = mtu
                annotations[KEY_MTU_SOURCE] = configs[0]['metadata']['name']
                changed.append('uplink-mtu')
        if changed:
            cn = self._write(path, cn, ', '.join(changed)) or cn
        self._sync_nads(cn)

    def _sync_nads(self, cn):
        """setNadReadyLabel (clusternetwork controller) and OnCNChange's MTU sync (nad controller)."""
        name = cn['metadata']['name']
        ready = 'true' if cn_ready(cn) else 'false'
        text = (cn['metadata'].get('annotations') or {}).get(KEY_UPLINK_MTU)
        for nad in self.api.items(NAD_PATH + '/network-attachment-definitions?labelSelector=%s%%3D%s'
                                  % (urllib.parse.quote(KEY_CN), name)):
            meta = nad['metadata']
            if meta.get('deletionTimestamp'):
                continue
            changed = []
            if (meta.get('labels') or {}).get(KEY_READY) != ready:
                meta.setdefault('labels', {})[KEY_READY] = ready
                changed.append('ready label')
            try:
                conf = netconf(nad)
            except Refusal:
                conf = None
            if text and conf is not None and conf.get('type') != 'kube-ovn' and (conf.get('mtu') or 0) != int(text):
                conf['mtu'] = int(text)
                nad['spec']['config'] = json.dumps(conf, separators=(',', ':'))
                changed.append('mtu')
            if changed:
                self._write(_nad_path(meta['namespace'], meta['name']), nad, ', '.join(changed))

    # -- VlanConfigs: pkg/controller/manager/vlanconfig/controller.go ------------------------------------------
    def _reconcile_vc(self, _namespace, name, _event, last):
        path = '%s/vlanconfigs/%s' % (HN_PATH, name)
        vc = self.api.get(path)
        cn_name = ((vc or last).get('spec') or {}).get('clusterNetwork')
        if vc is not None:
            meta = vc['metadata']
            finalizers = list(meta.get('finalizers') or [])
            if meta.get('deletionTimestamp'):
                self._drop_finalizers(path, vc, (VC_FINALIZER,))
            elif VC_FINALIZER not in finalizers:
                meta['finalizers'] = finalizers + [VC_FINALIZER]
                self._write(path, vc, 'finalizer')
        self.agent.reconcile(name, vc)
        if cn_name:
            self._reconcile_cn('', cn_name, None, {})

    def _reconcile_vs(self, _namespace, _name, _event, last):
        """A VlanStatus came, changed or went: the manager re-judges its cluster network's readiness."""
        cn_name = (last.get('status') or {}).get('clusterNetwork')
        if cn_name and cn_name != MGMT:
            self._reconcile_cn('', cn_name, None, {})


# ---- the whole stand-in -----------------------------------------------------------------------------------------
class HarvesterStandIn:
    """The controller and the webhook against one kube-apiserver (``current`` profile)."""

    def __init__(self, host, port, pki):
        self.host, self.port, self.pki = host, port, pki
        self.controller = Controller(host, port, pki)
        self.webhook_api = Api(host, port, pki)
        self.calls = []
        self._server = None
        self._thread = None

    def start(self):
        handler = type('Handler', (_Handler,), {'webhook': Webhook(self.webhook_api), 'calls': self.calls})
        self._server = http.server.ThreadingHTTPServer(('127.0.0.1', free_port()), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.server_cert, self.pki.server_key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name='standin-webhook')
        self._thread.start()
        self._register()
        self.controller.start()
        return self

    def _register(self):
        url = 'https://127.0.0.1:%d' % self._server.server_address[1]
        ca = base64.b64encode(self.pki.read('ca_cert')).decode()

        def hook(name, path, group, version, resources, operations, scope):
            return {'name': '%s.%s.harvesterhci.io' % (name, path.strip('/')),
                    'clientConfig': {'url': url + path + '/' + name, 'caBundle': ca},
                    'rules': [{'apiGroups': [group], 'apiVersions': [version], 'resources': [resources],
                               'operations': operations, 'scope': scope}],
                    'objectSelector': {'matchExpressions': [{'key': BYPASS_LABEL, 'operator': 'DoesNotExist'}]},
                    'admissionReviewVersions': ['v1'], 'sideEffects': 'None', 'failurePolicy': 'Fail',
                    'timeoutSeconds': 10}
        mutating = [hook('nad', '/mutate', 'k8s.cni.cncf.io', 'v1', 'network-attachment-definitions',
                         ['CREATE', 'UPDATE'], 'Namespaced'),
                    hook('vlanconfig', '/mutate', GROUP, 'v1beta1', 'vlanconfigs', ['CREATE', 'UPDATE'], 'Cluster')]
        validating = [hook('nad', '/validate', 'k8s.cni.cncf.io', 'v1', 'network-attachment-definitions',
                           ['CREATE', 'UPDATE', 'DELETE'], 'Namespaced'),
                      hook('vlanconfig', '/validate', GROUP, 'v1beta1', 'vlanconfigs', ['CREATE', 'UPDATE', 'DELETE'],
                           'Cluster'),
                      hook('clusternetwork', '/validate', GROUP, 'v1beta1', 'clusternetworks', ['DELETE'], 'Cluster'),
                      hook('setting', '/validate', 'harvesterhci.io', 'v1beta1', 'settings',
                           ['CREATE', 'UPDATE', 'DELETE'], 'Cluster')]
        lb_mutating, lb_validating = lb_rules.hooks(hook)
        mutating += lb_mutating
        validating += lb_validating
        base = '/apis/admissionregistration.k8s.io/v1/'
        rest = self.webhook_api.rest
        for plural, kind, hooks in (('mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', mutating),
                                    ('validatingwebhookconfigurations', 'ValidatingWebhookConfiguration', validating)):
            rest.request('DELETE', base + plural + '/' + WEBHOOK_NAME)
            status, body = rest.request('POST', base + plural, {
                'apiVersion': 'admissionregistration.k8s.io/v1', 'kind': kind,
                'metadata': {'name': WEBHOOK_NAME}, 'webhooks': hooks})
            if status != 201:
                raise RuntimeError('registering the %s failed: HTTP %s %s' % (kind, status, body))
        # the API server picks configurations up asynchronously: wait until a refusal proves the webhook is live
        probe = {'apiVersion': GROUP + '/v1beta1', 'kind': 'VlanConfig', 'metadata': {'name': 'standin-probe'},
                 'spec': {'clusterNetwork': MGMT, 'uplink': {'nics': ['probe0']}}}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, body = rest.request('POST', HN_PATH + '/vlanconfigs?dryRun=All', probe)
            if status >= 400 and 'admission webhook' in str((body or {}).get('message')):
                return
            time.sleep(0.1)
        raise RuntimeError('the stand-in webhook was not called by the API server within 30 s')

    def settle(self, quiet=0.4, timeout=20.0):
        self.controller.settle(quiet, timeout)

    def stop(self):
        rest = self.webhook_api.rest
        base = '/apis/admissionregistration.k8s.io/v1/'
        for plural in ('mutatingwebhookconfigurations', 'validatingwebhookconfigurations'):
            try:
                rest.request('DELETE', base + plural + '/' + WEBHOOK_NAME)
            except OSError:
                pass
        self.controller.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def main(argv=None):
    """``python -m testbeds.cluster.harvester STATE_DIR``: run the stand-in until SIGTERM/SIGINT."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write('usage: python -m testbeds.cluster.harvester STATE_DIR (a cluster bed state folder)\n')
        return 2
    state = read_state(argv[0])
    info = (state or {}).get('apiservers', {}).get('current')
    if not info:
        sys.stderr.write('%s has no running current-profile kube-apiserver\n' % argv[0])
        return 1
    url = urllib.parse.urlparse(info['server'])
    standin = HarvesterStandIn(url.hostname, url.port, Pki(os.path.join(state['state_dir'], 'pki'))).start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    sys.stdout.write('Harvester stand-in (controller + webhook) running against %s\n' % info['server'])
    sys.stdout.flush()
    done.wait()
    standin.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
