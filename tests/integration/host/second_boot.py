"""persist: true across a real second boot, stage 2 of 2 (stage 1: test_host_reboot.py, which says what it leaves).

Not collected with the other host tests (the name does not start with ``test_``): the host phase of scripts/test.sh
runs it alone, in a fresh guest booted after stage 1's guest powered off, on the same ``tests/output`` folder:

    python -m testbeds.kernel run --rw tests/output -- <venv>/bin/python -m pytest tests/integration/host/second_boot.py

On the fresh kernel (another boot id) the node's hardware is made again (the same NIC names and MAC addresses,
cabled to a switch: what a node has at boot), the installed unit is checked with ``systemd-analyze verify`` and
its own ExecStart command runs as systemd would start it (the command line from the unit file, an empty
environment but PATH, working directory /; inside the node's namespace, which stands for the node).  The witness
snapshot then equals the one stage 1 took before power-off, except what a reboot changes by itself: ifindexes
(the order links are made in) and the kernel's own IPv6 link-local addressing (``witness.same_configuration``).
Run again, the unit changes nothing.  Where the kernel bed runs natively (a kernel with the features, no guest)
there is no reboot between the stages: the node's namespace was deleted with all its links, which is all this
test can then show; the boot id check says so.
"""

import json
import os
import shlex
import subprocess

import witness
from test_host_reboot import REBOOT_DIR, boot_id, build_hardware

# What systemd gives a system service: no environment of ours, PATH, and / as the working directory.
SYSTEMD_ENV = {'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG': 'C.UTF-8'}


def _stage1():
    path = os.path.join(REBOOT_DIR, 'stage1.json')
    if not os.path.exists(path):
        raise AssertionError('%s is missing: stage 1 (tests/integration/host/test_host_reboot.py) must run first, in'
                             ' a guest session sharing that folder read-write (scripts/test.sh, host phase)' % path)
    with open(path, encoding='utf-8') as stream:
        stage1 = json.load(stream)
    with open(os.path.join(REBOOT_DIR, 'before.json'), encoding='utf-8') as stream:
        return stage1, json.load(stream)


def exec_start(unit_file):
    """The unit's ExecStart command line, as systemd splits it."""
    with open(unit_file, encoding='utf-8') as stream:
        lines = [line[len('ExecStart='):] for line in stream.read().splitlines() if line.startswith('ExecStart=')]
    assert len(lines) == 1, lines
    return shlex.split(lines[0])


def start_unit(netns, argv):
    return subprocess.run(['ip', 'netns', 'exec', netns.name] + argv, env=SYSTEMD_ENV, cwd='/', text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600, check=False)


def json_round_trip(snap):
    """A snapshot as stage 1 saved it (JSON: the VLAN tables' VIDs become text keys)."""
    return json.loads(json.dumps(snap, sort_keys=True))


def test_second_boot_restores_the_node(make_netns):
    stage1, before = _stage1()
    if os.environ.get('HN_KERNEL_BED') == 'guest':
        assert boot_id() != stage1['boot_id'], 'the same kernel as stage 1: this is no second boot'
    unit_file = stage1['unit_file']
    assert os.readlink(stage1['wants_link']) == '../harvester-network.service', 'the unit is not enabled'
    verify = subprocess.run(['systemd-analyze', 'verify', unit_file], text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=120, check=False)
    assert verify.returncode == 0 and not verify.stdout + verify.stderr, verify

    node = build_hardware(make_netns)
    fresh = witness.snapshot(node.name)
    assert 'data-bo' not in fresh['links'] and 'data-br' not in fresh['links']
    boot = start_unit(node, exec_start(unit_file))
    assert boot.returncode == 0, boot.stdout + boot.stderr
    assert boot.stdout.startswith('harvester-network: changed'), boot.stdout
    after = json_round_trip(witness.settled(node.name))
    found = witness.same_configuration(before, after)
    assert found == [], '\n'.join(found)

    again = start_unit(node, exec_start(unit_file))
    assert again.returncode == 0 and again.stdout.startswith('harvester-network: unchanged (0 operations)'), again
    assert witness.differences(after, json_round_trip(witness.snapshot(node.name))) == []
    with open(stage1['log_file'], encoding='utf-8') as stream:
        records = [json.loads(line) for line in stream]
    assert [record['result'] for record in records][-2:] == ['changed', 'unchanged'], records
