"""Builders of canonical node states for the pure host-engine tests (no kernel, no root)."""

from ansible_collections.harvester.network.plugins.module_utils.host import model


class Node:
    """A fabricated node: ``Node().nic('eth1').bridge('br0', ports=['eth1'])...state``."""

    def __init__(self):
        self.state = model.empty_state()
        self._index = 1

    def _link(self, name, kind, mtu=1500, up=True, master=None, max_mtu=65535):
        self._index += 1
        self.state['links'][name] = {'kind': kind, 'mtu': mtu, 'up': up, 'master': master, 'max_mtu': max_mtu,
                                     'index': self._index, 'mac': '02:00:00:00:00:%02x' % self._index,
                                     'promisc': False}
        return self

    def nic(self, name, mtu=1500, up=True, kind='veth', max_mtu=65535):
        return self._link(name, kind, mtu=mtu, up=up, max_mtu=max_mtu)

    def bond(self, name, slaves=(), mode='active-backup', mtu=1500, up=True, **options):
        self._link(name, 'bond', mtu=mtu, up=up)
        bond = dict(model.BOND_DEFAULTS, mode=mode, miimon=model.BOND_DEFAULT_MIIMON)
        bond.update(options)
        bond['_primary_name'] = options.get('primary')
        self.state['bonds'][name] = bond
        for slave in slaves:
            if slave not in self.state['links']:
                self.nic(slave)
            self.state['links'][slave].update(master=name, mtu=mtu, up=True)
        return self

    def bridge(self, name, ports=(), vlan_filtering=True, default_pvid=1, mtu=1500, up=True, stp=False,
               promisc=True):
        self._link(name, 'bridge', mtu=mtu, up=up)
        self.state['links'][name]['promisc'] = promisc
        self.state['bridges'][name] = {'vlan_filtering': vlan_filtering, 'stp': stp, 'default_pvid': default_pvid,
                                       'promisc': promisc, 'mtu_pinned': None}
        self.state['vlans'][name] = model.default_vlan_table(default_pvid)
        for port in ports:
            if port not in self.state['links']:
                self.nic(port)
            self.state['links'][port]['master'] = name
            self.state['vlans'][port] = model.default_vlan_table(default_pvid)
        return self

    def vlans(self, port, table):
        self.state['vlans'][port] = dict(table)
        return self

    def address(self, link, address, secondary=False):
        self.state['addresses'].setdefault(link, {})[model.normalize_interface_address(address)] = {
            'secondary': secondary}
        return self

    def route(self, dst, gateway=None, interface=None, metric=0):
        route = {'dst': model.normalize_network(dst), 'gateway': gateway, 'interface': interface, 'metric': metric}
        self.state['routes'][model.route_key(route)] = route
        return self


def want(state='merged', **sections):
    """A desired state with only the given sections managed (plain planner input, already validated)."""
    result = {'state': state, 'bonds': None, 'bridges': None, 'vlans': None, 'vlan_bridges': None,
              'addresses': None, 'routes': None, 'links': None, 'fields': {}}
    result.update(sections)
    return result


def bond_spec(**kwargs):
    spec = dict((key, None) for key in model.BOND_OPTIONS)
    spec.update(slaves=None, mtu=None, mac=None, up=True)
    spec.update(kwargs)
    return spec


def bridge_spec(**kwargs):
    spec = {'vlan_filtering': True, 'stp': False, 'default_pvid': 1, 'promisc': True, 'up': True, 'mtu': None,
            'mac': None, 'uplink': None, 'ports': None, 'migrate': False}
    spec.update(kwargs)
    return spec


def vlan_spec(vids=None, pvid=None, untagged=None):
    return {'vids': None if vids is None else frozenset(vids), 'pvid': pvid,
            'untagged': None if untagged is None else frozenset(untagged), 'bridge': None}
