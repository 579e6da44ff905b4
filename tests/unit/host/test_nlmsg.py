"""The built-in netlink codec against pyroute2: the messages it encodes decode, with pyroute2's own parser, to
exactly what pyroute2's IPBatch builders produce for the same requests (sequence numbers aside)."""

import pytest
from host_nodes import Node, bond_spec, bridge_spec, vlan_spec, want

from ansible_collections.harvester.network.plugins.module_utils.host import nlmsg
from ansible_collections.harvester.network.plugins.module_utils.host import ops as O
from ansible_collections.harvester.network.plugins.module_utils.host.netlink import Resolved
from ansible_collections.harvester.network.plugins.module_utils.host.plan import make_plan

pyroute2 = pytest.importorskip('pyroute2')
from pyroute2 import IPBatch  # noqa: E402  pylint: disable=wrong-import-position
from pyroute2.netlink.rtnl.marshal import MarshalRtnl  # noqa: E402  pylint: disable=wrong-import-position


def requests():
    """Every kind of request the engine sends: a plan that does a bit of everything, plus a few extra ops."""
    node = (Node().nic('eth0').nic('eth1').nic('eth2').nic('eth3').address('eth0', '10.0.0.2/24')
            .address('eth0', 'fd00::2/64').route('0.0.0.0/0', '10.0.0.1', 'eth0')
            .route('fd01::/64', 'fd00::1', 'eth0', metric=1024).bond('old-bo', slaves=['eth3']).state)
    desired = want(
        bonds={'bo0': bond_spec(mode='active-backup', slaves=['eth1', 'eth2'], miimon=100, updelay=200,
                                primary='eth1', mtu=9000, mac='02:00:00:00:aa:01'),
               'old-bo': bond_spec(mode='balance-rr', miimon=0, arp_interval=200,
                                   arp_ip_target=['10.0.0.7', '10.0.0.8'])},
        bridges={'br0': bridge_spec(uplink='bo0', default_pvid=5, stp=True),
                 'mgmt': bridge_spec(uplink='eth0', migrate=True, promisc=False)},
        vlans={'bo0': vlan_spec(vids=list(range(2, 100)) + [300], untagged=[300]),
               'br0': vlan_spec(vids=[7], pvid=0)})
    ops = make_plan(node, desired).ops + [
        O.DeleteLink(link='old-bo'), O.SetLink(link='eth3', mtu=4000, promisc=True),
        O.SetVlans(link='bo0', remove={5, 6, 7, 300}), O.SetUp(link='eth3', up=False),
        O.SetBridgeOptions(link='br0', options={'vlan_filtering': False, 'default_pvid': 0}),
        O.AddOtherRoute(route={'dst': '10.9.0.0/16', 'table': 100, 'metric': 5,
                               'nexthops': [{'interface': 'eth0', 'gateway': '10.0.0.254'}]}),
        O.DelOtherRoute(route={'dst': 'fd09::/64', 'table': 1000, 'metric': 1024,
                               'nexthops': [{'interface': 'eth0', 'gateway': None}]}),
        O.AddOtherRoute(route={'dst': '10.8.0.0/16', 'table': 254, 'metric': 0, 'nexthops': [
            {'interface': 'eth0', 'gateway': '10.0.0.254'}, {'interface': 'eth1', 'gateway': '10.1.0.254'}]})]
    for op in ops:
        for request in op.requests():
            yield op, request


def normalised(message):
    def walk(value):
        if isinstance(value, dict):
            result = dict((key, walk(item)) for key, item in value.items() if key not in ('header', 'attrs'))
            if 'attrs' in value:
                result['attrs'] = sorted(((attr[0], walk(attr[1])) for attr in value['attrs']), key=repr)
            return result
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value
    return (message['header']['type'], message['header']['flags']), walk(dict(message))


def test_fast_codec_encodes_what_pyroute2_builds():
    batch = IPBatch()
    marshal = MarshalRtnl()
    checked = set()
    for op, request in requests():
        kwargs = dict(request.kwargs)
        for key in request.refs:
            if isinstance(kwargs.get(key), str):
                kwargs[key] = 7
            elif key == 'multipath':
                kwargs[key] = [dict(hop, oif=7 + number) for number, hop in enumerate(kwargs[key])]
        ours = nlmsg.encode(Resolved(request, kwargs), 1)
        batch.reset()
        getattr(batch, request.method)(request.command, **kwargs)
        theirs = bytes(batch.batch)
        assert normalised(list(marshal.parse(ours))[0]) == normalised(list(marshal.parse(theirs))[0]), op.command()
        checked.add((request.method, request.command))
    assert checked == set([('link', 'add'), ('link', 'set'), ('link', 'del'), ('vlan_filter', 'add'),
                           ('vlan_filter', 'del'), ('addr', 'add'), ('addr', 'del'), ('route', 'add'),
                           ('route', 'del')])


def test_decoders_read_what_pyroute2_encodes():
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg  # pylint: disable=import-outside-toplevel
    msg = ifinfmsg()
    msg['family'] = 7
    msg['index'] = 9
    msg['flags'] = 0x1103
    msg['attrs'] = [('IFLA_IFNAME', 'bo0'), ('IFLA_MTU', 9000), ('IFLA_MASTER', 4),
                    ('IFLA_ADDRESS', '02:00:00:00:aa:01'),
                    ('IFLA_LINKINFO', {'attrs': [('IFLA_INFO_KIND', 'bond'), ('IFLA_INFO_DATA', {'attrs': [
                        ('IFLA_BOND_MODE', 4), ('IFLA_BOND_MIIMON', 100), ('IFLA_BOND_AD_LACP_RATE', 1),
                        ('IFLA_BOND_ARP_IP_TARGET', ['10.0.0.7', '10.0.0.8'])]})]}),
                    ('IFLA_AF_SPEC', {'attrs': [('IFLA_BRIDGE_VLAN_INFO', {'flags': 6, 'vid': 1}),
                                                ('IFLA_BRIDGE_VLAN_INFO', {'flags': 8, 'vid': 2}),
                                                ('IFLA_BRIDGE_VLAN_INFO', {'flags': 16, 'vid': 4094})]})]
    msg['header']['type'] = nlmsg.RTM_NEWLINK
    msg.encode()
    data = msg.data
    (_kind, _flags, _seq, start, end), = list(nlmsg.messages(data))
    link = nlmsg.decode_link(data, start, end)
    assert link['ifname'] == 'bo0' and link['IFLA_MTU'] == 9000 and link['IFLA_MASTER'] == 4
    assert link['IFLA_ADDRESS'] == '02:00:00:00:aa:01' and link['flags'] == 0x1103
    assert link['IFLA_LINKINFO'] == {'IFLA_INFO_KIND': 'bond', 'IFLA_INFO_DATA': {
        'IFLA_BOND_MODE': 4, 'IFLA_BOND_MIIMON': 100, 'IFLA_BOND_AD_LACP_RATE': 1,
        'IFLA_BOND_ARP_IP_TARGET': ['10.0.0.7', '10.0.0.8']}}
    assert link['IFLA_AF_SPEC'] == [(6, 1), (8, 2), (16, 4094)]
    # The AF_BRIDGE dump's reader takes the index and the VLAN infos alone, read the same way.
    assert nlmsg.decode_port_vlans(data, start, end) == {'index': 9, 'IFLA_AF_SPEC': [(6, 1), (8, 2), (16, 4094)]}


def test_multipath_nexthops_read_as_pyroute2_reads_them():
    from pyroute2.netlink.rtnl.rtmsg import rtmsg  # pylint: disable=import-outside-toplevel
    msg = rtmsg()
    msg['family'] = 2
    msg['dst_len'] = 16
    msg['table'] = 254
    msg['type'] = 1
    msg['attrs'] = [('RTA_DST', '10.8.0.0'), ('RTA_TABLE', 254), ('RTA_MULTIPATH', [
        {'oif': 3, 'attrs': [('RTA_GATEWAY', '192.168.7.254')]}, {'oif': 4, 'attrs': [('RTA_GATEWAY', '10.1.0.254')]}])]
    msg['header']['type'] = nlmsg.RTM_NEWROUTE
    msg.encode()
    data = msg.data
    (_kind, _flags, _seq, start, end), = list(nlmsg.messages(data))
    route = nlmsg.decode_route(data, start, end)
    assert route['RTA_DST'] == '10.8.0.0' and route['RTA_TABLE'] == 254
    parsed = rtmsg(data)
    parsed.decode()
    assert route['RTA_MULTIPATH'] == [{'oif': hop['oif'], 'RTA_GATEWAY': hop.get('RTA_GATEWAY')}
                                      for hop in parsed.get('RTA_MULTIPATH')]
    assert [hop['oif'] for hop in route['RTA_MULTIPATH']] == [3, 4]
