"""Keeping the lab up between commands, and taking it down.

The lab has to outlive ``make lab``, but on a kernel without bonding/802.1Q/VLAN filtering its namespaces live in a
QEMU guest, and a guest cannot outlive the process that started it. So ``make lab`` starts one background process,
the *keeper* (``python -m lab keeper``), which owns everything that runs:

- the control plane (etcd + kube-apiserver of the cluster test bed, CRDs registered, on 127.0.0.1), and
- the kernel bed's guest (or, on a capable kernel, a process on this machine) running the lab's agent
  (``lab.channel``), through which every command reaches the lab's namespaces.

Both die with the keeper (PR_SET_PDEATHSIG), so a killed keeper leaves no server or QEMU behind. The keeper itself
stops after its time to live (``HN_LAB_TTL``, default 8 h). ``make lab-down`` asks it to stop (the agent deletes
the namespaces, the guest powers off, the servers stop) and removes the lab's folder.
"""

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import traceback

import yaml

from lab import channel, warm
from lab.channel import read_json, write_json
from lab.config import DEFAULT_TTL, NS_PREFIX, PROFILE, Paths
from lab.topology import teardown_argv
from testbeds.common import REPO_ROOT, progress

GUEST_API_ADDR = '10.0.2.100'   # where the guest reaches the host's forwarded ports (testbeds.kernel.HOST_ADDR)
KEEPER_MARKER = 'lab-keeper'
STOP_GRACE = 90


class LabError(RuntimeError):
    """The lab could not be started, reached or stopped; the message says why."""


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return handle.read().decode('utf-8', 'replace').split('\0')
    except OSError:
        return []


def keeper_pid(paths):
    """The pid of this lab's keeper when it runs (checked by its command line, never a stranger), else None."""
    info = read_json(paths.keeper_json) or {}
    pid = info.get('pid')
    if not pid:
        return None
    args = _cmdline(pid)
    if KEEPER_MARKER in args and paths.run in args:
        try:
            with open('/proc/%d/stat' % pid, encoding='ascii') as handle:
                if handle.read().split(')')[-1].split()[0] == 'Z':
                    return None
        except OSError:
            return None
        return pid
    return None


# ---------------------------------------------------------------------------------------------------------------------
# the nodes' Pythons


def node_root(paths, node):
    return paths.state('nodes', node)


def write_node_interpreters(paths, world):
    """``bin/python-<node>`` (what Ansible runs, here) and ``bin/guest/python-<node>`` (what runs where the lab is)."""
    guest_dir = paths.state('bin', 'guest')
    os.makedirs(guest_dir, exist_ok=True)
    relay = os.path.join(REPO_ROOT, 'lab', 'noderelay.py')
    for node in world.node_names:
        root = node_root(paths, node)
        os.makedirs(root, exist_ok=True)
        os.makedirs(paths.state('tmp', node), exist_ok=True)
        inner = os.path.join(guest_dir, 'python-%s' % node)
        with open(inner, 'w', encoding='utf-8') as handle:
            handle.write('#!/bin/sh\n# %s: Python inside the namespace of lab node %s, its files under its own root\n'
                         'export HARVESTER_NETWORK_ROOT=%s\nexec ip netns exec %s %s "$@"\n'
                         % (node, node, shlex.quote(root), shlex.quote(world.netns('node', node)),
                            shlex.quote(sys.executable)))
        # The same, for the agent's warm Python (lab/warm.py), which forks instead of running the script above.
        write_json(inner + '.json', {'netns': world.netns('node', node), 'env': {'HARVESTER_NETWORK_ROOT': root}})
        outer = paths.state('bin', 'python-%s' % node)
        with open(outer, 'w', encoding='utf-8') as handle:
            handle.write('#!/bin/sh\n# Ansible runs this as lab node %s\'s Python: it relays to %s\nexec %s -I -S %s %s %s "$@"\n'
                         % (node, inner, shlex.quote(sys.executable), shlex.quote(relay), shlex.quote(paths.run),
                            shlex.quote(node)))
        for path in (inner, outer):
            os.chmod(path, 0o755)


def extra_inventory(paths):
    """Where the inventory of the nodes HN_LAB_NODES added lives (lab.playbook adds it when it exists)."""
    return paths.state('inventory', 'nodes.yml')


def write_extra_inventory(paths, world):
    """The nodes beyond lab/inventory/hosts.yml's, in group harvester_nodes (its group_vars apply to them too)."""
    if not world.extra_nodes:
        return None
    path = extra_inventory(paths)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('# the nodes HN_LAB_NODES added to the lab (lab/config.py)\n')
        yaml.safe_dump({'harvester_nodes': {'hosts': dict((name, None) for name in world.extra_nodes)}}, handle)
    return path


# ---------------------------------------------------------------------------------------------------------------------
# the keeper


def start(paths, world, profile=PROFILE, ttl=None, timeout=900, extra_profiles=(),  # pylint: disable=too-many-arguments
          harvester=False):
    """Start the keeper in the background and wait until the API server answers and the agent is ready.

    ``extra_profiles``: more API servers (other Harvester generations) on the same etcd, for the controller only
    (their ports are not forwarded into the guest); cluster.json lists every one under ``profiles``.
    ``harvester``: the keeper also runs Harvester's stand-in (lab/standin.py) against the ``current`` API server,
    with a Node object for each of ``world``'s nodes.
    Returns the cluster info ({kubeconfig, server, port, bed, profiles}). Raises LabError (and cleans up) on failure.
    """
    if keeper_pid(paths):
        raise LabError('a lab is already up in %s: `make lab-down` first (or `python -m lab verify` to check it)'
                       % paths.run)
    if os.path.exists(paths.run):
        shutil.rmtree(paths.run)  # a lab that ended on its own (time to live, crash): nothing of it runs any more
    os.makedirs(paths.run)
    write_node_interpreters(paths, world)
    write_extra_inventory(paths, world)
    # the plugins compiled here for the agent's warm Python (lab/warm.py): natively in a fraction of a second, where
    # the guest's software emulation takes tens of seconds; without the file the warm Python compiles them itself
    try:
        warm.write_compiled(os.path.join(paths.run, channel.WARM_CODE))
    except OSError as exc:
        progress('lab: the plugins not compiled for the warm Python (%s): it compiles them itself' % exc)
    ttl = int(ttl or os.environ.get('HN_LAB_TTL') or DEFAULT_TTL)
    argv = [sys.executable, '-m', 'lab', KEEPER_MARKER, paths.run, '--profile', profile, '--ttl', str(ttl)]
    for extra in extra_profiles:
        argv += ['--extra-profile', extra]
    if harvester:
        argv += ['--harvester'] + ['--node=%s' % node for node in world.node_names]
    with open(paths.keeper_log, 'ab') as log:
        proc = subprocess.Popen(argv, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log,  # pylint: disable=consider-using-with
                                start_new_session=True, close_fds=True)
    write_json(paths.keeper_json, {'pid': proc.pid, 'started': time.time(), 'ttl': ttl, 'profile': profile,
                                   'argv': argv})
    started = time.monotonic()
    deadline = started + timeout
    cluster = None
    while True:
        if proc.poll() is not None:
            raise LabError('the keeper exited with %s before the lab was up; its log (%s) ends with:\n%s'
                           % (proc.returncode, paths.keeper_log, log_tail(paths.keeper_log)))
        if cluster is None:
            cluster = read_json(paths.cluster_json)
            if cluster:
                cluster['api_seconds'] = time.monotonic() - started
                progress('lab: kube-apiserver ready at %s' % cluster['server'])
        agent = channel.agent_info(paths.run)
        if cluster and agent:
            cluster['bed'] = agent['bed']
            cluster['agent_seconds'] = time.monotonic() - started
            return cluster
        if time.monotonic() > deadline:
            stop(paths)
            raise LabError('the lab did not come up in %ss (API server %s, agent %s); the keeper log ended with:\n%s'
                           % (timeout, 'ready' if cluster else 'not ready', 'ready' if agent else 'not ready',
                              log_tail(paths.keeper_log)))
        time.sleep(0.5)


def log_tail(path, lines=25):
    try:
        with open(path, encoding='utf-8', errors='replace') as handle:
            return ''.join(handle.readlines()[-lines:])
    except OSError:
        return '(no log)'


class _Stop(Exception):
    pass


def keeper_main(state_dir, profile, ttl, extra_profiles=(), harvester_nodes=None):
    """The keeper: control plane (with Harvester's stand-in and a Node per name of ``harvester_nodes`` unless None),
    then the agent where the lab's kernel is, until asked to stop or the TTL ends."""
    # Imported here: the keeper is the only part of the lab that needs the beds' servers.
    from testbeds.cluster.controlplane import ControlPlane  # pylint: disable=import-outside-toplevel
    from testbeds.kernel import guest  # pylint: disable=import-outside-toplevel

    paths = Paths(os.path.dirname(state_dir))
    requested = []

    def on_stop(signum, _frame):
        if not requested:
            requested.append(signum)
            progress('keeper: signal %d: asking the agent to tear the lab down' % signum)
            with open(channel.channel_dir(state_dir, channel.SHUTDOWN), 'w', encoding='utf-8'):
                pass
            signal.alarm(STOP_GRACE)

    def on_alarm(_signum, _frame):
        raise _Stop('the agent did not stop within %ss' % STOP_GRACE)

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGALRM, on_alarm)
    os.makedirs(channel.channel_dir(state_dir, 'jobs'), exist_ok=True)
    write_json(channel.channel_dir(state_dir, channel.TEARDOWN), [teardown_argv()])
    plane = ControlPlane(os.path.join(state_dir, 'cluster'), tls_sans=[GUEST_API_ADDR])
    rc = 1
    standin = None
    try:
        server = plane.apiserver(profile)
        if harvester_nodes is not None:
            from lab import standin as harvester  # pylint: disable=import-outside-toplevel
            standin = harvester.start(plane.apiserver('current'), harvester_nodes)
        guest_kubeconfig = os.path.join(state_dir, 'kubeconfig-guest')
        server.write_kubeconfig(guest_kubeconfig)
        _point_kubeconfig(guest_kubeconfig, 'https://%s:%d' % (GUEST_API_ADDR, server.port))
        profiles = {}
        for name in (profile,) + tuple(extra_profiles):
            other = plane.apiserver(name)
            profiles[name] = {'kubeconfig': other.kubeconfig, 'server': other.server, 'port': other.port}
        write_json(paths.cluster_json, {'kubeconfig': server.kubeconfig, 'server': server.server, 'port': server.port,
                                        'guest_kubeconfig': guest_kubeconfig, 'profile': profile,
                                        'profiles': profiles, 'harvester': standin is not None})
        progress('keeper: kube-apiserver %s ready; starting the lab agent' % server.server)
        rc = guest.run([sys.executable, '-m', 'lab.channel', state_dir], cwd=REPO_ROOT, timeout=ttl,
                       mem=1024, rw=[state_dir], hostfwd=[server.port],
                       env={'HN_LAB_KUBECONFIG': guest_kubeconfig})
        progress('keeper: the agent exited with %d%s' % (rc, '' if requested else ' (time to live over, or a crash)'))
    except _Stop as exc:
        progress('keeper: %s; stopping it' % exc)
    except Exception as exc:  # pylint: disable=broad-except
        progress('keeper: %s: %s\n%s' % (type(exc).__name__, exc, traceback.format_exc()))
    finally:
        signal.alarm(0)
        if standin is not None:
            standin.stop()
        plane.stop(remove=False)
        if channel.agent_info(state_dir) and (channel.agent_info(state_dir) or {}).get('bed') == 'native':
            subprocess.run(teardown_argv(), cwd=REPO_ROOT, check=False, timeout=120)
        write_json(os.path.join(state_dir, 'keeper-exit.json'), {'rc': rc, 'ended': time.time(),
                                                                 'requested': bool(requested)})
    return 0 if requested or rc == 0 else 1


def _point_kubeconfig(path, server):
    import yaml  # pylint: disable=import-outside-toplevel
    with open(path, encoding='utf-8') as handle:
        config = yaml.safe_load(handle)
    for cluster in config['clusters']:
        cluster['cluster']['server'] = server
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(config, handle, sort_keys=False)


# ---------------------------------------------------------------------------------------------------------------------
# down and status


def stop(paths, timeout=STOP_GRACE + 60):
    """Stop the keeper (and so everything) and remove the lab's folder. Returns a list of what was done."""
    done = []
    pid = keeper_pid(paths)
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while keeper_pid(paths) and time.monotonic() < deadline:
            time.sleep(0.5)
        if keeper_pid(paths):
            os.kill(pid, signal.SIGKILL)  # its servers and QEMU die with it (PR_SET_PDEATHSIG)
            done.append('killed the keeper (pid %d) after %ss' % (pid, timeout))
        else:
            done.append('stopped the keeper (pid %d): agent, kernel and control plane' % pid)
        try:
            os.waitpid(pid, 0)  # when this process started it (tests do): no zombie left behind
        except ChildProcessError:
            pass
    cluster_state = paths.state('cluster')
    if os.path.exists(os.path.join(cluster_state, 'state.json')):
        # Servers still running after all (only when the keeper was killed hard: they die with it otherwise).
        try:
            from testbeds.cluster.controlplane import down, stale  # pylint: disable=import-outside-toplevel
            if not stale(cluster_state):
                down(cluster_state)
                done.append('stopped the control plane left running in %s' % cluster_state)
        except Exception as exc:  # pylint: disable=broad-except
            done.append('could not check the control plane in %s: %s' % (cluster_state, exc))
    if _native_namespaces():
        subprocess.run(teardown_argv(), cwd=REPO_ROOT, check=False, timeout=180, capture_output=True)
        done.append('deleted the lab namespaces on this machine')
    if os.path.exists(paths.run):
        shutil.rmtree(paths.run)
        done.append('removed %s' % paths.run)
    return done


def _native_namespaces():
    """The lab's namespaces on this machine (only a lab on a capable kernel makes them here)."""
    try:
        return [name for name in os.listdir('/run/netns') if name.startswith(NS_PREFIX)]
    except OSError:
        return []


def status(paths):
    """What runs: keeper, control plane, agent; and the last report."""
    info = read_json(paths.keeper_json) or {}
    pid = keeper_pid(paths)
    result = {'home': paths.home, 'up': bool(pid), 'keeper_pid': pid, 'started': info.get('started'),
              'ttl': info.get('ttl'), 'profile': info.get('profile'), 'cluster': read_json(paths.cluster_json),
              'agent': channel.agent_info(paths.run) if os.path.isdir(paths.run) else None,
              'ended': read_json(paths.state('keeper-exit.json')),
              'report': paths.report_txt if os.path.exists(paths.report_txt) else None}
    return result
