"""Helpers shared by the test beds (and the lab): the cache folder, progress messages, stopping a process group.
Stdlib only: the lab's agent imports this inside the QEMU guest."""

import os
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
