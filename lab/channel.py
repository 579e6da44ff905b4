"""The lab's job channel: run a command where the lab's namespaces live (a QEMU guest, or this machine).

The keeper starts ``python -m lab.channel STATE_DIR`` (the agent) through the kernel test bed, which shares
``STATE_DIR`` read-write with the guest at the same path. The host side drops a job folder into
``STATE_DIR/channel/jobs/`` (written under ``new/`` and renamed, so the agent never sees half a job); the agent runs
it and writes ``stdout``, ``stderr`` and, last, ``rc`` next to it. No network is involved: a shared folder is the
only link, so nothing leaves the guest.

Job folder: ``spec.json`` ({argv, cwd, env, timeout}), ``stdin`` (optional); results ``stdout``, ``stderr``, ``rc``.
The agent stops, after tearing the lab down (``teardown.json``: commands to run first), when ``shutdown`` appears.

Stdlib only: the node interpreter relay (``lab/noderelay.py``) imports this module on every Ansible task.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
import time

from testbeds.common import kill_group

CHANNEL = 'channel'
READY = 'agent.json'
SHUTDOWN = 'shutdown'
TEARDOWN = 'teardown.json'
DEFAULT_TIMEOUT = 900
KILLED_EXIT = 124


class ChannelError(RuntimeError):
    """The agent is not there, or a job could not be handed over."""


def channel_dir(state_dir, *parts):
    return os.path.join(state_dir, CHANNEL, *parts)


def _write_atomic(path, data):
    tmp = path + '.tmp'
    with open(tmp, 'wb') as handle:
        handle.write(data)
    os.replace(tmp, path)


def write_json(path, data):
    """Write ``data`` as JSON to ``path`` atomically (readers never see half a file)."""
    _write_atomic(path, json.dumps(data, indent=1, sort_keys=True).encode('utf-8'))


def read_json(path, strict=False):
    """The JSON document in ``path``; None when it is missing or unreadable, unless ``strict`` (then it raises)."""
    try:
        with open(path, encoding='utf-8') as handle:
            return json.load(handle)
    except (OSError, ValueError):
        if strict:
            raise
        return None


# ---------------------------------------------------------------------------------------------------------------------
# host side


def agent_info(state_dir):
    """The agent's ready file ({pid, bed, started}) or None when no agent ever came up."""
    try:
        with open(channel_dir(state_dir, READY), encoding='utf-8') as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


class Job:
    """One submitted job; ``wait()`` returns its exit code."""

    def __init__(self, state_dir, argv, stdin=b'', timeout=DEFAULT_TIMEOUT, env=None, cwd=None):
        self.state_dir = state_dir
        self.timeout = timeout
        self.id = '%d-%d-%s' % (os.getpid(), threading.get_ident() % 100000, time.monotonic_ns())
        new = channel_dir(state_dir, 'new', self.id)
        self.folder = channel_dir(state_dir, 'jobs', self.id)
        os.makedirs(new)
        spec = {'argv': [os.fspath(arg) for arg in argv], 'cwd': cwd, 'env': env or {}, 'timeout': timeout}
        with open(os.path.join(new, 'spec.json'), 'w', encoding='utf-8') as handle:
            json.dump(spec, handle)
        if stdin:
            with open(os.path.join(new, 'stdin'), 'wb') as handle:
                handle.write(stdin)
        os.rename(new, self.folder)

    def read(self, name):
        try:
            with open(os.path.join(self.folder, name), 'rb') as handle:
                return handle.read()
        except OSError:
            return b''

    def wait(self, on_output=None, grace=60):
        """Wait for the job (its timeout plus ``grace`` for the agent); ``on_output(bytes)`` gets stdout as it grows."""
        deadline = time.monotonic() + self.timeout + grace
        offset = 0
        delay = 0.005
        rc_path = os.path.join(self.folder, 'rc')
        while True:
            done = os.path.exists(rc_path)
            if on_output is not None:
                offset = self._pump(on_output, offset)
            if done:
                try:
                    with open(rc_path, encoding='ascii') as handle:
                        return int(handle.read().strip())
                except (OSError, ValueError):
                    pass  # being written; read it again
            if time.monotonic() > deadline:
                raise ChannelError('the lab agent did not finish job %s in %ss (is the lab up? see `python -m lab '
                                   'status`)' % (self.id, self.timeout + grace))
            time.sleep(delay)
            delay = min(delay * 1.5, 0.1)

    def _pump(self, on_output, offset):
        try:
            with open(os.path.join(self.folder, 'stdout'), 'rb') as handle:
                handle.seek(offset)
                data = handle.read()
        except OSError:
            return offset
        if data:
            on_output(data)
        return offset + len(data)

    def remove(self):
        shutil.rmtree(self.folder, ignore_errors=True)


def run(state_dir, argv, stdin=b'', timeout=DEFAULT_TIMEOUT, env=None, cwd=None, on_output=None):
    """Run ``argv`` through the agent; return ``(rc, stdout bytes, stderr bytes)``."""
    if agent_info(state_dir) is None:
        raise ChannelError('no lab agent in %s: start the lab first (make lab)' % state_dir)
    job = Job(state_dir, argv, stdin, timeout, env, cwd)
    try:
        rc = job.wait(on_output)
        return rc, job.read('stdout'), job.read('stderr')
    finally:
        job.remove()


# ---------------------------------------------------------------------------------------------------------------------
# agent side


class Agent:
    """Runs the jobs that appear in the channel, each in its own thread and process group."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.jobs = channel_dir(state_dir, 'jobs')
        self.seen = set()
        self.running = {}
        self.lock = threading.Lock()
        self.parent = os.getppid()
        self.verbose = bool(os.environ.get('HN_LAB_VERBOSE'))

    def log(self, message):
        sys.stderr.write('lab-agent: %s\n' % message)
        sys.stderr.flush()

    def serve(self):
        os.makedirs(self.jobs, exist_ok=True)
        os.makedirs(channel_dir(self.state_dir, 'new'), exist_ok=True)
        _write_atomic(channel_dir(self.state_dir, READY), json.dumps({
            'pid': os.getpid(), 'bed': os.environ.get('HN_KERNEL_BED', 'native'),
            'hostfwd_addr': os.environ.get('HN_HOSTFWD_ADDR'), 'kernel': os.uname().release,
            'started': time.time()}).encode())
        self.log('ready (%s)' % os.environ.get('HN_KERNEL_BED', 'native'))
        idle_since = time.monotonic()
        while True:
            if os.path.exists(channel_dir(self.state_dir, SHUTDOWN)):
                break
            if os.getppid() != self.parent:
                self.log('the keeper is gone')
                break
            found = self._scan()
            now = time.monotonic()
            if found or self.running:
                idle_since = now
            # quick while busy, slower when idle (every poll is a 9p round trip, and costs CPU, in a guest)
            idle = now - idle_since
            time.sleep(0.02 if idle < 20 else 0.25 if idle < 120 else 1.0)
        self.shutdown()

    def _scan(self):
        try:
            names = set(os.listdir(self.jobs))
        except OSError:
            return False
        self.seen &= names
        fresh = sorted(names - self.seen)
        for name in fresh:
            self.seen.add(name)
            thread = threading.Thread(target=self._run_job, args=(name,), daemon=True)
            thread.start()
        return bool(fresh)

    def _run_job(self, name):
        folder = os.path.join(self.jobs, name)
        rc = 125
        started = time.monotonic()
        try:
            with open(os.path.join(folder, 'spec.json'), encoding='utf-8') as handle:
                spec = json.load(handle)
            # The child gets its stdin through a pipe: Python reading a program from a file on 9p (no page cache)
            # does thousands of tiny reads, which under TCG turns a 4 s module run into three minutes.
            payload = b''
            if os.path.exists(os.path.join(folder, 'stdin')):
                with open(os.path.join(folder, 'stdin'), 'rb') as handle:
                    payload = handle.read()
            env = dict(os.environ)
            env.update(spec.get('env') or {})
            with open(os.path.join(folder, 'stdout'), 'wb') as out, open(os.path.join(folder, 'stderr'), 'wb') as err:
                try:
                    proc = subprocess.Popen(spec['argv'], stdin=subprocess.PIPE, stdout=out, stderr=err, env=env,  # pylint: disable=consider-using-with
                                            cwd=spec.get('cwd') or '/', start_new_session=True)
                except OSError as exc:
                    err.write(('lab-agent: cannot run %s: %s\n' % (spec['argv'][0], exc)).encode())
                    rc = 127
                else:
                    with self.lock:
                        self.running[name] = proc
                    feeder = threading.Thread(target=_feed, args=(proc.stdin, payload), daemon=True)
                    feeder.start()
                    try:
                        rc = proc.wait(timeout=spec.get('timeout') or DEFAULT_TIMEOUT)
                    except subprocess.TimeoutExpired:
                        kill_group(proc, grace=5, kill_grace=10)
                        err.write(('lab-agent: killed after %ss\n' % spec.get('timeout')).encode())
                        rc = KILLED_EXIT
                    finally:
                        with self.lock:
                            self.running.pop(name, None)
        except (OSError, ValueError, KeyError) as exc:
            self.log('job %s: %s' % (name, exc))
        if self.verbose:
            self.log('job %s: exit %d after %.2fs' % (name, rc, time.monotonic() - started))
        try:
            _write_atomic(os.path.join(folder, 'rc'), b'%d\n' % rc)
        except OSError as exc:
            self.log('job %s: cannot write its exit code: %s' % (name, exc))

    def shutdown(self):
        with self.lock:
            running = list(self.running.values())
        for proc in running:
            kill_group(proc, grace=5, kill_grace=10)
        try:
            with open(channel_dir(self.state_dir, TEARDOWN), encoding='utf-8') as handle:
                commands = json.load(handle)
        except (OSError, ValueError):
            commands = []
        for argv in commands:
            try:
                result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=120, check=False)
                if result.returncode:
                    self.log('teardown: %s exited %d: %s' % (
                        ' '.join(argv), result.returncode, result.stderr.decode(errors='replace').strip()))
            except (OSError, subprocess.TimeoutExpired) as exc:
                self.log('teardown: %s: %s' % (' '.join(argv), exc))
        self.log('stopped')


def _feed(pipe, payload):
    try:
        pipe.write(payload)
    except OSError:
        pass  # the child did not read it all
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def main(argv):
    if len(argv) != 1:
        sys.stderr.write('usage: python -m lab.channel STATE_DIR\n')
        return 2
    Agent(os.path.abspath(argv[0])).serve()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
