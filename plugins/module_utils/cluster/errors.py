# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the cluster layer. Every message names what is wrong and what to do about it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.harvester.network.plugins.module_utils.host.field_errors import (
    FieldError, FieldErrors, field_message)


class ClusterError(Exception):
    """Base class: a failure the module reports with ``fail_json(msg=str(error))``."""

    def __init__(self, message, field=None, details=None):
        super(ClusterError, self).__init__(message)
        self.field = field
        self.details = details or {}

    def __str__(self):
        return field_message(self.field, self.args[0])


class ValidationError(FieldError, ClusterError):
    """Input refused before anything was sent to the cluster: one problem (``ValidationError(message, field)``), or
    every problem a check collected (``Errors().raise_if_any()``), each naming its field (field_errors.py, the model
    the host modules share)."""

    def __init__(self, message, field=None, details=None):
        FieldError.__init__(self, message, field=field)
        self.details = details or {}


class Errors(FieldErrors):
    """Collects every input error of a cluster module before one ValidationError is raised."""

    def raise_if_any(self, cls=ValidationError):
        FieldErrors.raise_if_any(self, cls)


class ConfigError(ClusterError):
    """The connection settings (kubeconfig, certificates, host) cannot be used."""


class UnreachableError(ClusterError):
    """The API server could not be reached (connection refused, DNS, TLS, timeout)."""


class AuthError(ClusterError):
    """The API server answered 401 or 403."""


class MissingApiError(ClusterError):
    """The cluster does not serve an API group/kind the task needs (CRD not installed)."""


class ApiError(ClusterError):
    """Any other non-2xx answer from the API server."""

    def __init__(self, message, status=None, reason=None, body=None, field=None):
        super(ApiError, self).__init__(message, field=field)
        self.status = status
        self.reason = reason
        self.body = body or {}


class ConflictError(ApiError):
    """409: a resourceVersion conflict or a server-side apply field-manager conflict."""


class NotFoundError(ApiError):
    """404."""


class InUseError(ClusterError):
    """The object is used by a running VM and must not be changed or deleted."""


class WaitTimeout(ClusterError):
    """A wait condition was not met in time."""


class WebhookRefusal(ApiError):
    """An admission webhook (Harvester's network webhook) denied the request."""


_WEBHOOK = re.compile(r'admission webhook "([^"]+)" denied the request: (?:Internal error occurred: )?(.*)', re.S)
# (pattern in the webhook's sentence, the module option it concerns, what to do). The sentences are those of
# harvester/network-controller-harvester pkg/webhook/{nad,vlanconfig,clusternetwork}/validator.go and mutator.go.
_WEBHOOK_HINTS = (
    (r'MTU .* does not match cluster network MTU|is different with vlanconfig', 'mtu',
     "every network and VlanConfig of one cluster network has the cluster network's MTU: set mtu to that value or "
     'leave it out'),
    (r'none-existing cluster network|clusternetwork\.network\.harvesterhci\.io "[^"]*" not found', 'cluster_network',
     'create the cluster network first (harvester.network.cluster_network), or name an existing one'),
    (r'illegal base64', 'hardware_addr',
     'give the MAC address as six hex pairs (52:54:00:12:34:56); this collection encodes it as Harvester expects'),
    (r'blocked by VM\(s\)|used by VM\(s\) .* stopped', 'state',
     'stop those VMs first (harvester.network.vm state=stopped), then run again'),
    (r'used by VM\(s\) .* remove the related networks', 'state',
     'remove those VMs\' NICs on this network (harvester.network.vm) or delete the VMs, then run again'),
    (r'overlaps with other vlanconfigs', 'node_selector',
     'a node may have one uplink per cluster network: narrow node_selector'),
    (r'still existing', 'state', 'delete those objects first, then run again'),
    (r'CIDR .* is invalid|gateway .* is invalid|unknown mode', 'route', 'fix route (cidr, gateway, mode)'),
    # harvester/harvester pkg/webhook/resources/setting/validator.go @3d63c2af (storage and migration networks)
    (r'Please stop all VMs', 'force', 'stop every VM (harvester.network.vm state=stopped), then run again'),
    (r'still being configured', 'wait', 'wait until Harvester has applied the last change (wait=true), then run again'),
    (r'overlapped with|allocatable IP address|range should be subnet|prefix length|exclude [Rr]ange', 'range',
     'fix range and exclude'),
    (r'vlan status not present|vlan config not present|vlanconfig does not span|cluster network .* not found',
     'cluster_network', 'give a ready cluster network whose VlanConfigs reach every node'),
    # harvester/load-balancer-harvester pkg/webhook/{ippool,loadbalancer} @e861dc94 (IP pools and load balancers)
    (r"releasing all the allocated IP", 'state',
     'delete the load balancers holding addresses from this pool first (harvester.network.load_balancer)'),
    (r"IP pool .* because .*(overlap|range|allocated IP|CIDR|IP .* is (out of|the))", 'ranges',
     'give ranges no other pool uses, keeping every allocated address inside'),
    (r"IP pool .* because .*(network-attachment-definitions|invalid network)", 'selector.network',
     'name an existing VM network as namespace/name'),
    (r"IP pool .* because .*(global IP pool|scope|priority)", 'selector',
     'give the pool its own priority or scope (one global pool at most)'),
    (r"loadbalancer .* failed with healthyCheck", 'health_check', 'probe the backend port of a TCP listener'),
    (r"loadbalancer .* failed: .*(listener|at least one)", 'listeners',
     'give unique listener names, ports and backend ports (1-65535)'),
    (r"can't change the IPAM", 'ipam', 'delete the load balancer (state=absent) and create it again'),
    (r"can't change the WorkloadType", 'workload_type', 'delete the load balancer (state=absent) and create it again'),
)


def webhook_refusal(what, exc):
    """A ``WebhookRefusal`` naming ``what`` (e.g. "NetworkAttachmentDefinition ns/x"), the option concerned and
    the fix, from an ApiError whose message is an admission webhook's denial; None for any other error."""
    message = (getattr(exc, 'body', None) or {}).get('message') or str(exc)
    match = _WEBHOOK.search(message)
    if not match:
        return None
    hook, sentence = match.group(1), match.group(2).strip()
    field, hint = None, 'change what the sentence names and run again'
    for pattern, option, advice in _WEBHOOK_HINTS:
        if re.search(pattern, sentence):
            field, hint = option, advice
            break
    text = '%s was refused by the admission webhook %s: %s. %s' % (what, hook, sentence, hint[0].upper() + hint[1:])
    return WebhookRefusal(text, status=getattr(exc, 'status', None), body=getattr(exc, 'body', None), field=field)
