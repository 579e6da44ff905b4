"""Helpers shared by the test beds (and the lab): the cache folder, progress messages, stopping a process group.
Stdlib only: the lab's agent imports this inside the QEMU guest."""

import os
import resource
import signal
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cache_dir(*parts):
    """The project's one cache folder (HARVESTER_NETWORK_CACHE, default ~/.cache/harvester-network)."""
    base = os.environ.get('HARVESTER_NETWORK_CACHE') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'harvester-network')
    path = os.path.join(base, *parts)
    os.makedirs(path, exist_ok=True)
    return path


_START = time.monotonic()


def progress(message):
    """Print a progress line with the elapsed time, to stderr so it never mixes with command output."""
    sys.stderr.write('[%6.1fs] %s\n' % (time.monotonic() - _START, message))
    sys.stderr.flush()


def children_cpu():
    """CPU seconds (user + sys) of this process's finished and reaped children (an ansible-playbook run and all it
    started): the benchmarks read it before and after a run."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def processes_cpu(marker, program=None):
    """CPU seconds so far (user + sys, from /proc) of the running processes whose command line names ``marker``
    (a bed's state folder, say), and whose program names ``program`` if given; None when there is none. The
    benchmarks read it before and after a run to tell the bed's share (API server, QEMU guest) from their own."""
    total, found, tick = 0.0, False, float(os.sysconf('SC_CLK_TCK'))
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as handle:
                argv = handle.read().split(b'\0')
            if program and program.encode() not in argv[0]:
                continue
            if not any(marker.encode() in arg for arg in argv):
                continue
            with open('/proc/%s/stat' % pid, encoding='utf-8') as handle:
                fields = handle.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
        found = True
    return total if found else None


def kill_group(proc, first=signal.SIGTERM, grace=10, kill_grace=30):
    """Stop ``proc``'s process group (it was started with ``start_new_session``): ``first``, then SIGKILL when it does
    not end within ``grace`` seconds; waits up to ``kill_grace`` more for it."""
    for sig, wait in ((first, grace), (signal.SIGKILL, kill_grace)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
