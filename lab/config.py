"""Where the lab keeps things, and what it is made of (lab/inventory/lab.yml and the site's vars file)."""

import ipaddress
import os

import yaml

from testbeds.common import REPO_ROOT, cache_dir

HERE = os.path.dirname(os.path.abspath(__file__))
INVENTORY_DIR = os.path.join(HERE, 'inventory')
INVENTORY = os.path.join(INVENTORY_DIR, 'hosts.yml')
SITE_VARS = os.path.join(INVENTORY_DIR, 'harvester-network.yml')
PROFILE_VARS = {'current': (), 'legacy': (os.path.join(INVENTORY_DIR, 'legacy.yml'),),
                'plain': (os.path.join(INVENTORY_DIR, 'plain.yml'),)}
# Profiles whose API server runs no Harvester: KubeVirt + Multus only (the cluster bed's CRD profile of that name).
PLAIN_PROFILES = ('plain',)
WORLD = os.path.join(INVENTORY_DIR, 'lab.yml')
SITE_PLAYBOOK = os.path.join(REPO_ROOT, 'playbooks', 'site.yml')
NS_PREFIX = 'hnlab-'
PROFILE = 'current'
DEFAULT_TTL = 8 * 3600
NODES_ENV = 'HN_LAB_NODES'
MAX_NODES = 64
BASE_NODES = ('node1', 'node2')  # the nodes lab/inventory/hosts.yml names


class ConfigError(ValueError):
    """lab.yml or the vars file does not describe a lab that can be built."""


def lab_home():
    """The lab's folder: ``$HN_LAB_HOME``, default ``<cache>/lab``. The running lab lives in ``run/`` below it (removed
    by ``make lab-down``); the last report (``report.txt``, ``report.json``) stays next to it."""
    home = os.environ.get('HN_LAB_HOME') or cache_dir('lab')
    os.makedirs(home, exist_ok=True)
    return os.path.realpath(home)


class Paths:
    """The files of one lab (``home``): the run state and the report."""

    def __init__(self, home=None):
        self.home = os.path.realpath(home or lab_home())
        self.run = os.path.join(self.home, 'run')

    def state(self, *parts):
        return os.path.join(self.run, *parts)

    @property
    def keeper_json(self):
        return self.state('keeper.json')

    @property
    def keeper_log(self):
        return self.state('keeper.log')

    @property
    def cluster_json(self):
        return self.state('cluster.json')

    @property
    def report_json(self):
        return os.path.join(self.home, 'report.json')

    @property
    def report_txt(self):
        return os.path.join(self.home, 'report.txt')


def _load(path):
    with open(path, encoding='utf-8') as handle:
        data = yaml.safe_load(handle) or {}
    if not isinstance(data, dict):
        raise ConfigError('%s: expected a mapping at the top' % path)
    return data


def _interface(value, where):
    try:
        return ipaddress.ip_interface(value)
    except ValueError as exc:
        raise ConfigError('%s: %s is not an address with a prefix length (%s)' % (where, value, exc)) from exc


class World:
    """lab.yml: nodes and their cabling, the switch, the router, the untagged hosts; plus the site's vars."""

    def __init__(self, profile=PROFILE, world_path=WORLD, site_vars_path=SITE_VARS):
        if profile not in PROFILE_VARS:
            raise ConfigError('unknown profile %s (known: %s)' % (profile, ', '.join(sorted(PROFILE_VARS))))
        self.profile = profile
        self.path = world_path
        # The site's vars files, in the order ansible-playbook gets them (later ones win, key by key).
        self.vars_files = [site_vars_path] + list(PROFILE_VARS[profile])
        data = _load(world_path)
        self.site = {}
        for path in self.vars_files:
            self.site.update(_load(path))
        try:
            self.nodes = dict((name, _interface(item['management_address'], 'nodes.%s' % name))
                              for name, item in data['nodes'].items())
            self.gateway = _interface(data['management']['gateway'], 'management.gateway')
            self.uplink_nics = list(data['uplink_nics'])
            # NICs cabled to the switch but left off its bridges (a PXE-style bond of node_prep can take them)
            self.spare_nics = list(data.get('spare_nics') or [])
            self.trunk_vlans = sorted(int(vid) for vid in data['switch']['trunk_vlans'])
            self.native_vlan = int(data['switch'].get('native_vlan', 1))
            router = data.get('router') or {}
            self.untagged_hosts = dict((name, _interface(value, 'untagged_hosts.%s' % name))
                                       for name, value in (data.get('untagged_hosts') or {}).items())
            self.vm_node_label = data['vm_node_label']
        except (KeyError, TypeError) as exc:
            raise ConfigError('%s: missing or malformed %s' % (world_path, exc)) from exc
        self.router = None
        if router:
            self.router = {
                'vlan': int(router['vlan']),
                'address': _interface(router['address'], 'router.address'),
                'pool': [ipaddress.ip_address(router['dhcp_pool'][0]), ipaddress.ip_address(router['dhcp_pool'][1])],
                'lease_time': str(router.get('lease_time', '1h')),
            }
            if not all(addr in self.router['address'].network for addr in self.router['pool']):
                raise ConfigError('%s: router.dhcp_pool lies outside %s' % (world_path, self.router['address'].network))
        if len(self.nodes) < 1 or len(self.uplink_nics) < 1:
            raise ConfigError('%s: give at least one node and one uplink NIC' % world_path)
        if world_path == WORLD:
            self._grow(os.environ.get(NODES_ENV))

    def _grow(self, wanted):
        """``HN_LAB_NODES=N``: the lab's site with N nodes, node3... cabled like node1 and node2 (the same NICs),
        management addresses counted up from node1's; the site's vars (VMs, DHCP server) stay on node1 and node2."""
        if wanted in (None, ''):
            return
        try:
            count = int(wanted)
        except ValueError:
            count = 0
        base = len(self.nodes)
        first = self.nodes[sorted(self.nodes)[0]]
        if not base <= count <= MAX_NODES:
            raise ConfigError('%s=%s: give a number of nodes from %d (the nodes of %s) to %d'
                              % (NODES_ENV, wanted, base, self.path, MAX_NODES))
        for number in range(base + 1, count + 1):
            address = ipaddress.ip_interface('%s/%d' % (first.ip + number - 1, first.network.prefixlen))
            if address not in first.network or address.ip in (self.gateway.ip, first.network.broadcast_address):
                raise ConfigError('%s=%d: node%d\'s management address %s leaves %s'
                                  % (NODES_ENV, count, number, address.ip, first.network))
            self.nodes['node%d' % number] = address

    @property
    def extra_nodes(self):
        """The nodes HN_LAB_NODES added (not in lab/inventory/hosts.yml): lifecycle writes an inventory for them."""
        return [name for name in self.node_names if name not in BASE_NODES]

    @property
    def node_names(self):
        return sorted(self.nodes)

    def netns(self, kind, name=None):
        """The namespace of a lab part: ``netns('node', 'node1')`` -> ``hnlab-node1``, ``netns('sw')``, ``netns('vm', 'a')``."""
        if kind == 'node':
            return NS_PREFIX + name
        if kind == 'vm':
            return NS_PREFIX + 'vm-' + name
        return NS_PREFIX + (name or kind)

    def permitted(self, vid):
        """Does the switch carry ``vid`` between nodes?  ``None`` (untagged) rides the native VLAN."""
        return vid is None or vid == self.native_vlan or vid in self.trunk_vlans
