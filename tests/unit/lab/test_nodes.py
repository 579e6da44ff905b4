"""HN_LAB_NODES (lab/config.py): the lab's site grown to N nodes, and the inventory of the added nodes
(lab/lifecycle.py). The grown lab itself is measured by `make bench-nodes` (docs/benchmarks.md)."""

import ipaddress
import os

import pytest
import yaml

from lab import lifecycle, topology
from lab.config import ConfigError, Paths, World
from testbeds.common import REPO_ROOT


def test_default_is_the_two_nodes_of_lab_yml(monkeypatch):
    monkeypatch.delenv('HN_LAB_NODES', raising=False)
    world = World()
    assert world.node_names == ['node1', 'node2'] and world.extra_nodes == []


def test_grown_nodes_count_up_from_node1s_address(monkeypatch, tmp_path):
    monkeypatch.setenv('HN_LAB_NODES', '16')
    world = World()
    assert len(world.nodes) == 16
    assert world.nodes['node16'] == ipaddress.ip_interface('10.10.0.26/24')
    assert len(set(world.nodes.values())) == 16 and world.gateway.ip not in [a.ip for a in world.nodes.values()]
    assert world.extra_nodes == ['node%d' % n for n in sorted(range(3, 17), key=str)]
    plan = topology.build_plan(world, str(tmp_path))
    cabled = [step['desc'] for step in plan['steps'] if step['desc'].endswith(': cables')]
    assert len(cabled) == 16
    paths = Paths(str(tmp_path))
    written = lifecycle.write_extra_inventory(paths, world)
    with open(written, encoding='utf-8') as handle:
        assert sorted(yaml.safe_load(handle)['harvester_nodes']['hosts']) == sorted(world.extra_nodes)


@pytest.mark.parametrize('value', ['1', '65', 'many', '-3'])
def test_a_bad_count_names_the_variable(monkeypatch, value):
    monkeypatch.setenv('HN_LAB_NODES', value)
    with pytest.raises(ConfigError, match='HN_LAB_NODES=%s' % value):
        World()


def test_other_worlds_do_not_grow(monkeypatch):
    monkeypatch.setenv('HN_LAB_NODES', '8')
    world = World(world_path=os.path.join(REPO_ROOT, 'tests', 'integration', 'roles', 'world.yml'))
    assert len(world.nodes) < 8
