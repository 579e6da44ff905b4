"""lab/warm.py, the lab's warm Python, on this machine's kernel (network namespaces and veth work everywhere; root).

A fork of the warm Python must be what ``ip netns exec NETNS python`` would have been. The witness is a cold run:
the same AnsiballZ payload, built by a real ``ansible`` run of ``harvester.network.host_network_info``, run by a
fresh interpreter in the same namespace, must print the same result; the namespace's links as iproute2 lists them
must be what the module saw."""

import base64
import json
import marshal
import os
import re
import shutil
import subprocess
import sys
import threading
import zipfile

import pytest

from lab import channel
from testbeds.collection import collections_root
from testbeds.common import REPO_ROOT, kill_group

NETNS = 'hn-warm-test-%d' % os.getpid()


def _ip(*args):
    return subprocess.run(['ip'] + list(args), check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope='module')
def netns():
    if os.geteuid() != 0:
        pytest.fail('needs root (network namespaces)', pytrace=False)
    _ip('netns', 'add', NETNS)
    try:
        _ip('-n', NETNS, 'link', 'add', 'nic1', 'type', 'veth', 'peer', 'name', 'nic2')
        _ip('-n', NETNS, 'link', 'set', 'nic1', 'up')
        _ip('-n', NETNS, 'addr', 'add', '192.0.2.10/24', 'dev', 'nic1')
        yield NETNS
    finally:
        subprocess.run(['ip', 'netns', 'delete', NETNS], check=False)


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('warm') / 'warm.sock')
    proc = subprocess.Popen([sys.executable, '-m', 'lab.warm', path], stdin=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                            stdout=subprocess.PIPE, cwd=REPO_ROOT)
    line = proc.stdout.readline().decode()
    assert line.startswith('ready ('), line
    yield path
    proc.terminate()
    assert proc.wait(timeout=30) == -15


@pytest.fixture(scope='module')
def payload(tmp_path_factory):
    """The AnsiballZ payload of host_network_info as ansible-core sends it with pipelining (an interpreter that
    keeps its stdin)."""
    folder = tmp_path_factory.mktemp('payload')
    keep = folder / 'keep.sh'
    keep.write_text('#!/bin/sh\ncat > %s/payload.py\necho \'{"changed": false}\'\n' % folder)
    keep.chmod(0o755)
    env = dict(os.environ, ANSIBLE_PIPELINING='1', ANSIBLE_COLLECTIONS_PATH=collections_root())
    ansible = os.path.join(os.path.dirname(sys.executable), 'ansible')
    result = subprocess.run([ansible, 'localhost', '-c', 'local', '-m', 'harvester.network.host_network_info',
                             '-e', 'ansible_python_interpreter=%s' % keep], env=env, capture_output=True, text=True,
                            check=False, cwd=str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    return (folder / 'payload.py').read_bytes()


def warm_run(server, tmp_path, source, netns=None, argv=(), env=None, cwd='/', timeout=120):
    """(rc, stdout, stderr) of one call of the warm Python."""
    out_path, err_path = tmp_path / 'out', tmp_path / 'err'
    with open(out_path, 'wb') as out, open(err_path, 'wb') as err:
        call = channel.WarmCall(server, {'argv': list(argv), 'env': env or {}, 'cwd': cwd, 'netns': netns}, out, err)
        threading.Thread(target=channel._feed, args=(call.stdin, source), daemon=True).start()  # pylint: disable=protected-access
        try:
            rc = call.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(call, grace=2, kill_grace=10)
            rc = 'timeout %s' % call.returncode
    return rc, out_path.read_text(), err_path.read_text()


def test_a_module_run_is_the_cold_run(server, netns, payload, tmp_path):
    """The module's result through the warm Python equals a fresh interpreter's in the same namespace, and both
    saw the namespace's links (iproute2's list), not this machine's."""
    cold = subprocess.run(['ip', 'netns', 'exec', netns, sys.executable], input=payload, capture_output=True,
                          check=False)
    assert cold.returncode == 0, cold.stderr
    rc, out, err = warm_run(server, tmp_path, payload, netns=netns, env={'PATH': os.environ['PATH']})
    assert rc == 0, err
    assert json.loads(out) == json.loads(cold.stdout)
    links = sorted(link['ifname'] for link in json.loads(_ip('-n', netns, '-j', 'link', 'show')))
    seen = json.loads(out)['gathered']
    assert sorted(item['interface'] for item in seen['addresses']) == ['nic1'], seen['addresses']
    assert links == ['lo', 'nic1', 'nic2']


def test_the_child_is_what_ip_netns_exec_python_would_be(server, netns, tmp_path):
    """Namespace (sysfs too), argv, environment, working folder, stdin, its own session, a fresh __main__ and path,
    atexit handlers, and the exit code of sys.exit."""
    script = tmp_path / 'probe.py'
    script.write_text(
        'import atexit, json, os, sys\n'
        'atexit.register(lambda: print("atexit"))\n'
        'print(json.dumps({"argv": sys.argv, "env": os.environ.get("HN_PROBE"), "cwd": os.getcwd(),\n'
        '  "sysfs": sorted(os.listdir("/sys/class/net")), "session": os.getsid(0) == os.getpid(),\n'
        '  "main": __name__, "file": __file__, "path0": sys.path[0], "lab": "lab" in sys.modules,\n'
        '  "stdin": sys.stdin.read()}))\n'
        'sys.exit(3)\n')
    rc, out, err = warm_run(server, tmp_path, b'hello', netns=netns, argv=[str(script), 'a1'],
                            env={'HN_PROBE': 'x'}, cwd=str(tmp_path))
    assert rc == 3, err
    first, last = out.splitlines()
    assert last == 'atexit'
    assert json.loads(first) == {'argv': [str(script), 'a1'], 'env': 'x', 'cwd': str(tmp_path),
                                 'sysfs': ['lo', 'nic1', 'nic2'], 'session': True, 'main': '__main__',
                                 'file': str(script), 'path0': str(tmp_path), 'lab': False, 'stdin': 'hello'}


def test_failures_come_back_as_from_python(server, netns, tmp_path):
    """An uncaught exception: Python's traceback and exit 1; a script that outlives its timeout is killed with its
    process group; the server goes on serving."""
    rc, _out, err = warm_run(server, tmp_path, b'raise ValueError("boom")\n', netns=netns)
    assert rc == 1 and err.rstrip().endswith('ValueError: boom'), err
    rc, _out, err = warm_run(server, tmp_path, b'import time\ntime.sleep(60)\n', netns=netns, timeout=2)
    assert rc == 'timeout -15', err
    rc, out, err = warm_run(server, tmp_path, b'print(6 * 7)\n', netns=netns)
    assert (rc, out) == (0, '42\n'), err


def test_compiled_code_only_for_identical_sources(server, netns, payload, tmp_path):
    """The payload's collection modules get the server's compiled code (their code objects carry the working
    tree's file names); a payload whose module_util differs by one byte is compiled from the payload instead."""
    probe = (b'import sys\nsys.argv = [""]\n'
             b'from ansible_collections.harvester.network.plugins.module_utils.host import engine\n'
             b'print(engine.run.__code__.co_filename, engine.__file__)\n')
    archive = tmp_path / 'payload.zip'
    archive.write_bytes(base64.b64decode(re.search(rb"^zip_data='([A-Za-z0-9+/=]+)'", payload, re.M).group(1)))
    same = b'import sys\nsys.path.insert(0, %r)\n' % str(archive) + probe
    rc, out, err = warm_run(server, tmp_path, same, netns=netns)
    assert rc == 0, err
    code_file, module_file = out.split()
    assert code_file == os.path.join(REPO_ROOT, 'plugins', 'module_utils', 'host', 'engine.py')
    assert module_file == os.path.join(str(archive), 'ansible_collections/harvester/network/plugins/module_utils/'
                                                     'host/engine.py')
    changed = tmp_path / 'changed.zip'
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(changed, 'w') as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, data + b'\n# changed\n' if item.filename.endswith('host/engine.py') else data)
    rc, out, err = warm_run(server, tmp_path, same.replace(str(archive).encode(), str(changed).encode()), netns=netns)
    assert rc == 0, err
    assert out.split()[0] == os.path.join(str(changed), 'ansible_collections/harvester/network/plugins/'
                                                        'module_utils/host/engine.py')


def test_code_compiled_by_the_controller_only_for_unchanged_sources(tmp_path):
    """The plugins compiled here (lab/lifecycle.py writes them for the guest's warm Python) are taken for the
    sources they were compiled from, and equal what the warm Python compiles itself; a source changed since is
    compiled again; a file from another interpreter is not read."""
    from lab import warm  # pylint: disable=import-outside-toplevel
    root = tmp_path / 'plugins'
    for folder in ('module_utils', 'modules'):
        shutil.copytree(os.path.join(warm.PLUGINS, folder), root / folder)
    path = str(tmp_path / 'code.marshal')
    written = warm.write_compiled(path, root=str(root))
    given = warm.read_compiled(path)
    assert written == len(given) > 20
    own = warm.compile_plugins(root=str(root))
    taken = warm.compile_plugins(root=str(root), compiled=given)
    assert sorted(taken) == sorted(own)
    for key, code in own.items():
        assert taken[key] == code and taken[key].co_filename == code.co_filename
        assert taken[key] is given[code.co_filename][1]
    changed = root / 'module_utils' / 'host' / 'engine.py'
    changed.write_text(changed.read_text() + '\n# changed\n')
    after = warm.compile_plugins(root=str(root), compiled=given)
    fresh = [code for code in after.values() if code.co_filename == str(changed)]
    assert len(fresh) == 1 and fresh[0] is not given[str(changed)][1]
    assert len(after) == len(own)  # the others are still taken from the file
    assert sum(code is given[code.co_filename][1] for code in after.values()) == len(after) - 1
    with open(path, 'wb') as handle:
        handle.write(marshal.dumps({'interpreter': 'another Python', 'code': {}}))
    assert warm.read_compiled(path) == {}
    assert warm.read_compiled(str(tmp_path / 'missing')) == {}
