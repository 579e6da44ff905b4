"""Helpers shared by the test beds: the cache folder and progress messages."""

import os
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
