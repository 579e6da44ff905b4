"""The Python interpreter Ansible uses for a lab node: run Python in that node's namespace, where the lab lives.

Ansible runs ``STATE/bin/python-<node>`` (a two-line script that execs this file) as a node's
``ansible_python_interpreter``, with the module on stdin (pipelining) or a script path as argument. This relays the
call through the lab's job channel to ``STATE/bin/guest/python-<node>`` (``ip netns exec`` + the venv's Python),
in the QEMU guest or on this machine, and hands back its output and exit code. Stdlib only; starts in milliseconds.

    python -I -S lab/noderelay.py STATE_DIR NODE [PYTHON ARGS...]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lab import channel  # noqa: E402  pylint: disable=wrong-import-position

TIMEOUT = 1200


def _cwd(state_dir):
    """The module's working folder when the other side sees it too (the state folder is shared), else /."""
    try:
        cwd = os.getcwd()
    except OSError:
        return None
    return cwd if cwd == state_dir or cwd.startswith(state_dir.rstrip('/') + '/') else None


def main(argv):
    state_dir, node = argv[0], argv[1]
    payload = b'' if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    target = os.path.join(state_dir, 'bin', 'guest', 'python-%s' % node)
    try:
        rc, out, err = channel.run(state_dir, [target] + argv[2:], stdin=payload, timeout=TIMEOUT,
                                   cwd=_cwd(state_dir), warm=True)
    except channel.ChannelError as exc:
        sys.stderr.write('lab node %s: %s\n' % (node, exc))
        return 125
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    sys.stderr.buffer.write(err)
    sys.stderr.flush()
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
