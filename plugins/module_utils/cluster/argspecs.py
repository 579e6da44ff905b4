# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument specs of every cluster module, in one place: pure data.

A cluster module's ``main()`` is ``run(new_module(NAME), handler)`` (common.py); ``module_spec(NAME)`` gives the
AnsibleModule arguments: the module's own options (``MODULES`` below) plus the shared connection options (doc
fragment ``harvester.network.cluster_auth``), ``force_conflicts`` for modules that write (fragment
``cluster_auth.apply``) and ``api_generation`` for those that speak both Harvester network APIs (fragment
``cluster_auth.generation``). tests/unit/cluster/test_cluster_docs.py checks every module's DOCUMENTATION against these.
Adding a cluster module: docs/cluster.md, "How to add a cluster module".
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

from ansible.module_utils.basic import env_fallback

from ansible_collections.harvester.network.plugins.module_utils.cluster.dhcp import DEFAULT_IMAGE, DEFAULT_LEASE_TIME
from ansible_collections.harvester.network.plugins.module_utils.host.vocabulary import BOND_MODES

# ---- shared options (named as kubernetes.core names them; auth.py builds the client configuration from them) ----
AUTH_ARG_SPEC = {
    'kubeconfig': {'type': 'raw', 'fallback': (env_fallback, ['K8S_AUTH_KUBECONFIG'])},
    'context': {'type': 'str', 'fallback': (env_fallback, ['K8S_AUTH_CONTEXT'])},
    'host': {'type': 'str', 'fallback': (env_fallback, ['K8S_AUTH_HOST'])},
    'api_key': {'type': 'str', 'no_log': True, 'fallback': (env_fallback, ['K8S_AUTH_API_KEY'])},
    'validate_certs': {'type': 'bool', 'default': True, 'aliases': ['verify_ssl'],
                       'fallback': (env_fallback, ['K8S_AUTH_VERIFY_SSL'])},
    'ca_cert': {'type': 'path', 'aliases': ['ssl_ca_cert'], 'fallback': (env_fallback, ['K8S_AUTH_SSL_CA_CERT'])},
    'client_cert': {'type': 'path', 'aliases': ['cert_file'], 'fallback': (env_fallback, ['K8S_AUTH_CERT_FILE'])},
    'client_key': {'type': 'path', 'aliases': ['key_file'], 'no_log': False,
                   'fallback': (env_fallback, ['K8S_AUTH_KEY_FILE'])},
    'proxy': {'type': 'str', 'fallback': (env_fallback, ['K8S_AUTH_PROXY'])},
}

APPLY_ARG_SPEC = {
    'force_conflicts': {'type': 'bool', 'default': False},
}

GENERATION_ARG_SPEC = {
    'api_generation': {'type': 'str', 'default': 'auto', 'choices': ['auto', 'legacy', 'current']},
}

FLAVOR_ARG_SPEC = {
    'flavor': {'type': 'str', 'default': 'auto', 'choices': ['auto', 'harvester', 'plain']},
}


def _vlan_trunk_options():
    """A trunk network's VID ranges (vlan_network ``vlan_trunk`` and ``networks[].vlan_trunk``)."""
    return dict(type='list', elements='dict', options=dict(
        min_id=dict(type='int', required=True),
        max_id=dict(type='int'),
    ))


def _wait_options(timeout):
    """``wait`` for what Harvester reports (readiness.py) and its limit in seconds."""
    return dict(wait=dict(type='bool', default=False), wait_timeout=dict(type='int', default=timeout))


def _state(*choices):
    return dict(type='str', choices=list(choices), default=choices[0])


def _strings(*names):
    """Optional string options, one per name."""
    return dict((name, dict(type='str')) for name in names)


def _route_options():
    """Harvester's route annotation of a VLAN network (vlan_network ``route`` and ``networks[].route``)."""
    return dict(
        mode=dict(type='str', choices=['auto', 'manual'], default='auto'),
        cidr=dict(type='str'),
        gateway=dict(type='str'),
        dhcp_server=dict(type='str'),
    )


def _network_options(name, namespace, network_type):
    """The options of one VLAN network, at the top of vlan_network and in each ``networks`` item: the same fields,
    with the name/namespace specs and the network_type extras (its default at the top) given."""
    return dict(
        name=name,
        namespace=namespace,
        network_type=dict(type='str', choices=['vlan', 'untagged', 'trunk', 'overlay'], **network_type),
        vlan_id=dict(type='int'),
        vlan_trunk=_vlan_trunk_options(),
        mtu=dict(type='int'),
        preserve_default_vlan=dict(type='bool'),
        route=dict(type='dict', options=_route_options()),
        description=dict(type='str'),
    )


class ModuleSpec(object):
    """One cluster module's options and AnsibleModule constraints. ``writes``: adds ``force_conflicts``;
    ``generation``: adds ``api_generation``; ``flavor``: adds ``flavor`` (Harvester or plain KubeVirt + Multus)."""

    def __init__(self, options, writes=True, generation=False, flavor=False, **constraints):
        self.options = options
        self.writes = writes
        self.generation = generation
        self.flavor = flavor
        self.constraints = constraints


MODULES = {
    'cluster_network': ModuleSpec(dict(
        name=dict(type='str', required=True),
        description=dict(type='str'),
        enable=dict(type='bool'),
        default_physical_nic=dict(type='str'),
        node_nics=dict(type='list', elements='dict', options=dict(
            node=dict(type='str', required=True),
            nic=dict(type='str', required=True),
            description=dict(type='str'),
        )),
        state=_state('present', 'absent'),
    ), generation=True),

    'vlan_config': ModuleSpec(dict(
        name=dict(type='str', required=True),
        cluster_network=dict(type='str', required=True),
        description=dict(type='str'),
        nics=dict(type='list', elements='str'),
        bond_mode=dict(type='str', choices=list(BOND_MODES), default='active-backup'),
        miimon=dict(type='int'),
        mtu=dict(type='int'),
        tx_queue_len=dict(type='int'),
        hardware_addr=dict(type='str'),
        node_selector=dict(type='dict'),
        state=_state('present', 'absent'),
        **_wait_options(300)
    ), generation=True, required_if=[('state', 'present', ['nics'])]),

    'vlan_network': ModuleSpec(dict(
        _network_options(name=dict(type='str'), namespace=dict(type='str', default='default'),
                         network_type=dict(default='vlan')),
        cluster_network=dict(type='str'),
        bridge=dict(type='str'),
        networks=dict(type='list', elements='dict', options=_network_options(
            name=dict(type='str', required=True), namespace=dict(type='str'), network_type={})),
        prune=dict(type='bool', default=False),
        allow_duplicate_vids=dict(type='bool', default=False),
        state=_state('present', 'absent'),
        **_wait_options(300)
    ), generation=True, flavor=True, mutually_exclusive=[('name', 'networks')],
        required_one_of=[('name', 'networks')]),

    'vlan_network_info': ModuleSpec(_strings('name', 'namespace', 'cluster_network'), writes=False),

    'vlan_dhcp': ModuleSpec(dict(
        _strings('network', 'cidr', 'gateway', 'server_address', 'pool_start', 'pool_end'),
        name=dict(type='str', required=True),
        namespace=dict(type='str', default='default'),
        lease_time=dict(type='str', default=DEFAULT_LEASE_TIME),
        dns_servers=dict(type='list', elements='str'),
        image=dict(type='str', default=DEFAULT_IMAGE),
        image_pull_policy=dict(type='str', choices=['Always', 'IfNotPresent', 'Never'], default='IfNotPresent'),
        leases=dict(type='dict', options=dict(
            persistent=dict(type='bool', default=True),
            size=dict(type='str', default='64Mi'),
            storage_class=dict(type='str'),
        )),
        node_selector=dict(type='dict'),
        interface=dict(type='str'),
        lease_file=dict(type='str'),
        state=_state('present', 'absent', 'rendered'),
    ), required_if=[('state', 'present', ('network', 'pool_start', 'pool_end')),
                    ('state', 'rendered', ('network', 'pool_start', 'pool_end'))]),

    'vm': ModuleSpec(dict(
        name=dict(type='str', required=True),
        namespace=dict(type='str', default='default'),
        state=_state('present', 'absent', 'running', 'stopped', 'restarted'),
        run_strategy=dict(type='str', choices=['Always', 'RerunOnFailure', 'Manual', 'Halted', 'Once']),
        description=dict(type='str'),
        labels=dict(type='dict'),
        cpu=dict(type='int', default=1),
        memory=dict(type='str', default='1Gi'),
        interfaces=dict(type='list', elements='dict', options=dict(
            name=dict(type='str', required=True),
            network=dict(type='str'),
            type=dict(type='str', choices=['masquerade', 'bridge']),
            model=dict(type='str', choices=['virtio', 'e1000', 'e1000e', 'ne2k_pci', 'pcnet', 'rtl8139'],
                       default='virtio'),
            mac_address=dict(type='str'),
            boot_order=dict(type='int'),
            guest_name=dict(type='str'),
            ip_mode=dict(type='str', choices=['dhcp', 'dhcp6', 'static', 'none'], default='dhcp'),
            addresses=dict(type='list', elements='str'),
            gateway=dict(type='str'),
            dns=dict(type='list', elements='str'),
            wait_for_lease=dict(type='bool', default=False),
        )),
        disks=dict(type='list', elements='dict', options=dict(
            name=dict(type='str', required=True),
            container_disk=dict(type='str'),
            pvc=dict(type='str'),
            data_volume=dict(type='str'),
            image=dict(type='str'),
            size=dict(type='str', default='10Gi'),
            storage_class=dict(type='str'),
            volume_mode=dict(type='str', choices=['Block', 'Filesystem'], default='Block'),
            access_mode=dict(type='str', choices=['ReadWriteMany', 'ReadWriteOnce', 'ReadOnlyMany'],
                             default='ReadWriteMany'),
            claim_name=dict(type='str'),
            device=dict(type='str', choices=['disk', 'cdrom'], default='disk'),
            bus=dict(type='str', choices=['virtio', 'sata', 'scsi', 'usb']),
            boot_order=dict(type='int'),
        ), mutually_exclusive=[('container_disk', 'pvc', 'data_volume', 'image')],
            required_one_of=[('container_disk', 'pvc', 'data_volume', 'image')]),
        ssh_keys=dict(type='list', elements='str', no_log=False),
        hostname=dict(type='str'),
        node_selector=dict(type='dict'),
        nic_hotplug=dict(type='bool', default=False),
        restart_on_change=dict(type='bool', default=False),
        user_data=dict(type='raw'),
        guest_agent=dict(type='bool', default=False),
        network_data=dict(type='raw'),
        network_data_version=dict(type='int', choices=[1, 2], default=1),
        wait=dict(type='bool', default=False),
        wait_for_ips=dict(type='bool', default=False),
        wait_timeout=dict(type='int', default=300),
    ), flavor=True),

    'vm_info': ModuleSpec(_strings('name', 'namespace', 'label_selector'), writes=False),

    'vm_service': ModuleSpec(dict(
        name=dict(type='str', required=True),
        namespace=dict(type='str', default='default'),
        vm=dict(type='str'),
        type=dict(type='str', choices=['ClusterIP', 'NodePort', 'LoadBalancer'], default='ClusterIP'),
        cluster_ip=dict(type='str'),
        ports=dict(type='list', elements='dict', options=dict(
            name=dict(type='str'),
            port=dict(type='int', required=True),
            target_port=dict(type='raw'),
            protocol=dict(type='str', choices=['TCP', 'UDP', 'SCTP'], default='TCP'),
            node_port=dict(type='int'),
        )),
        state=_state('present', 'absent'),
    ), flavor=True, required_if=[('state', 'present', ['vm', 'ports'])]),

    # Harvester's storage-network / vm-migration-network settings (settings.py). No force_conflicts: the module
    # states the whole value and always takes the field over.
    'network_setting': ModuleSpec(dict(
        name=dict(type='str', required=True, choices=['storage-network', 'vm-migration-network']),
        cluster_network=dict(type='str'),
        vlan_id=dict(type='int'),
        range=dict(type='str'),
        exclude=dict(type='list', elements='str', default=[]),
        force=dict(type='bool', default=False),
        wait=dict(type='bool', default=False),
        wait_timeout=dict(type='int', default=600),
        state=_state('present', 'absent'),
    ), writes=False, generation=True, required_if=[('state', 'present', ('cluster_network', 'range'))]),

    # Harvester's load balancer add-on, v1.2+ (load_balancers.py): IP pools and load balancers
    'ip_pool': ModuleSpec(dict(
        name=dict(type='str', required=True),
        description=dict(type='str'),
        ranges=dict(type='list', elements='dict', options=dict(
            _strings('start', 'end', 'gateway'),
            subnet=dict(type='str', required=True),
        )),
        selector=dict(type='dict', options=dict(
            network=dict(type='str'),
            priority=dict(type='int', default=0),
            scope=dict(type='list', elements='dict', options=_strings('project', 'namespace', 'guest_cluster')),
        )),
        state=_state('present', 'absent'),
    ), required_if=[('state', 'present', ['ranges'])]),

    'load_balancer': ModuleSpec(dict(
        name=dict(type='str', required=True),
        namespace=dict(type='str', default='default'),
        description=dict(type='str'),
        workload_type=dict(type='str', choices=['vm', 'cluster'], default='vm'),
        ipam=dict(type='str', choices=['pool', 'dhcp'], default='pool'),
        ip_pool=dict(type='str'),
        listeners=dict(type='list', elements='dict', options=dict(
            name=dict(type='str', required=True),
            port=dict(type='int', required=True),
            protocol=dict(type='str', choices=['TCP', 'UDP'], default='TCP'),
            backend_port=dict(type='int', required=True),
        )),
        backend_selector=dict(type='dict'),
        health_check=dict(type='dict', options=dict(
            port=dict(type='int', required=True),
            success_threshold=dict(type='int', default=2),
            failure_threshold=dict(type='int', default=2),
            period_seconds=dict(type='int', default=1),
            timeout_seconds=dict(type='int', default=1),
        )),
        state=_state('present', 'absent'),
    )),

    'load_balancer_info': ModuleSpec(_strings('name', 'namespace', 'ip_pool'), writes=False),
}


def argument_spec(name):
    """The whole argument spec of cluster module ``name``: the shared options, then its own."""
    module = MODULES[name]
    merged = copy.deepcopy(AUTH_ARG_SPEC)
    if module.writes:
        merged.update(copy.deepcopy(APPLY_ARG_SPEC))
    if module.generation:
        merged.update(copy.deepcopy(GENERATION_ARG_SPEC))
    if module.flavor:
        merged.update(copy.deepcopy(FLAVOR_ARG_SPEC))
    merged.update(copy.deepcopy(module.options))
    return merged


def module_spec(name):
    """The AnsibleModule arguments of cluster module ``name`` (what its main() passes to AnsibleModule)."""
    spec = dict(argument_spec=argument_spec(name), supports_check_mode=True)
    spec.update(copy.deepcopy(MODULES[name].constraints))
    return spec
