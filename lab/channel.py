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

import array
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from testbeds.common import kill_group

CHANNEL = 'channel'
READY = 'agent.json'
SHUTDOWN = 'shutdown'
TEARDOWN = 'teardown.json'
WARM_CODE = 'warm-code.marshal'  # the plugins compiled by the controller for the warm Python (lab/warm.py)
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

    def __init__(self, state_dir, argv, stdin=b'', timeout=DEFAULT_TIMEOUT, env=None, cwd=None, warm=False):
        self.state_dir = state_dir
        self.timeout = timeout
        self.id = '%d-%d-%s' % (os.getpid(), threading.get_ident() % 100000, time.monotonic_ns())
        new = channel_dir(state_dir, 'new', self.id)
        self.folder = channel_dir(state_dir, 'jobs', self.id)
        os.makedirs(new)
        spec = {'argv': [os.fspath(arg) for arg in argv], 'cwd': cwd, 'env': env or {}, 'timeout': timeout,
                'warm': warm}
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


def run(state_dir, argv, stdin=b'', timeout=DEFAULT_TIMEOUT, env=None, cwd=None, on_output=None, warm=False):
    """Run ``argv`` through the agent; return ``(rc, stdout bytes, stderr bytes)``. ``warm``: ``argv[0]`` is a
    node's Python (``bin/guest/python-<node>``, described by ``python-<node>.json`` beside it), which the agent may
    run as a fork of its warm Python (lab/warm.py)."""
    if agent_info(state_dir) is None:
        raise ChannelError('no lab agent in %s: start the lab first (make lab)' % state_dir)
    job = Job(state_dir, argv, stdin, timeout, env, cwd, warm)
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
        self.warm = None  # the warm Python's socket (lab/warm.py) once it is ready
        self.warm_jobs = {}  # job name -> True when it ran in the warm Python
        self.warm_proc = None

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
        self._start_warm()
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
                    proc = self._start(spec, env, out, err, payload)
                    self.warm_jobs[name] = isinstance(proc, WarmCall)
                except OSError as exc:
                    err.write(('lab-agent: cannot run %s: %s\n' % (spec['argv'][0], exc)).encode())
                    rc = 127
                else:
                    rc = self._wait(name, proc, spec, err)
        except (OSError, ValueError, KeyError) as exc:
            self.log('job %s: %s' % (name, exc))
        warm = self.warm_jobs.pop(name, False)
        if self.verbose:
            self.log('job %s: exit %d after %.2fs%s' % (name, rc, time.monotonic() - started, ' (warm)' if warm else ''))
        try:
            _write_atomic(os.path.join(folder, 'rc'), b'%d\n' % rc)
        except OSError as exc:
            self.log('job %s: cannot write its exit code: %s' % (name, exc))

    def _start(self, spec, env, out, err, payload):
        """Start a job's process, fed ``payload`` on its stdin: a fork of the warm Python for a node Python job when
        it can take it, else a fresh process in a session of its own."""
        proc = self._warm_call(spec, env, out, err) if spec.get('warm') else None
        if proc is None:
            proc = subprocess.Popen(spec['argv'], stdin=subprocess.PIPE, stdout=out, stderr=err, env=env,  # pylint: disable=consider-using-with
                                    cwd=spec.get('cwd') or '/', start_new_session=True)
        threading.Thread(target=_feed, args=(proc.stdin, payload), daemon=True).start()
        return proc

    def _wait(self, name, proc, spec, err):
        """Wait for a job's process (a Popen or a WarmCall) within its timeout; its exit code."""
        with self.lock:
            self.running[name] = proc
        try:
            return proc.wait(timeout=spec.get('timeout') or DEFAULT_TIMEOUT)
        except subprocess.TimeoutExpired:
            kill_group(proc, grace=5, kill_grace=10)
            err.write(('lab-agent: killed after %ss\n' % spec.get('timeout')).encode())
            return KILLED_EXIT
        finally:
            with self.lock:
                self.running.pop(name, None)

    # -- the warm Python (lab/warm.py) -------------------------------------------------------------------------------

    def _start_warm(self):
        """Start the warm Python in the background; node Python jobs use it once it is ready (before that, and
        when HN_LAB_WARM=0, they start a fresh interpreter)."""
        if os.environ.get('HN_LAB_WARM', '1') == '0':
            self.log('warm Python off (HN_LAB_WARM=0)')
            return
        path = os.path.join(tempfile.mkdtemp(prefix='hn-lab-warm-'), 'warm.sock')
        started = time.monotonic()
        code = os.path.join(self.state_dir, WARM_CODE)
        try:
            self.warm_proc = subprocess.Popen(  # pylint: disable=consider-using-with
                [sys.executable, '-m', 'lab.warm', path] + ([code] if os.path.exists(code) else []),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        except OSError as exc:
            self.log('warm Python not started: %s' % exc)
            return

        def ready():
            line = self.warm_proc.stdout.readline().decode('utf-8', 'replace').strip()
            if line.startswith('ready'):
                self.warm = path
                self.log('warm Python %s after %.1fs' % (line, time.monotonic() - started))
            else:
                self.log('warm Python did not start (%r); node Pythons start cold' % line)
        threading.Thread(target=ready, daemon=True).start()

    def _warm_call(self, spec, env, out, err):
        """Hand a node Python job to the warm Python; None when it cannot take it (then the job runs cold)."""
        args = spec['argv'][1:]
        if self.warm is None or (args and args[0].startswith('-') and args[0] != '-'):
            return None
        node = read_json(spec['argv'][0] + '.json')
        if not node:
            return None
        env = dict(env)
        env.update(node.get('env') or {})
        request = {'argv': args, 'env': env, 'cwd': spec.get('cwd') or '/', 'netns': node['netns']}
        try:
            return WarmCall(self.warm, request, out, err)
        except OSError as exc:
            self.log('warm Python refused a job (%s); running it cold' % exc)
            return None

    def shutdown(self):
        with self.lock:
            running = list(self.running.values())
        for proc in running:
            kill_group(proc, grace=5, kill_grace=10)
        if self.warm_proc is not None:
            self.warm_proc.terminate()
            try:
                self.warm_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.warm_proc.kill()
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


class _Done(Exception):
    """The job already ran (in the warm Python)."""


class WarmCall:
    """One call of the warm Python (lab/warm.py): a forked child with the job's stdin pipe, stdout and stderr; has
    ``pid`` (it leads its process group) and ``wait(timeout)`` like a Popen, so kill_group() stops it."""

    def __init__(self, path, request, out, err):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.buffer = b''
        self.returncode = None
        read_end, write_end = os.pipe()
        self.stdin = os.fdopen(write_end, 'wb')
        try:
            self.sock.settimeout(30)
            self.sock.connect(path)
            fds = array.array('i', [read_end, out.fileno(), err.fileno()])
            self.sock.sendmsg([json.dumps(request).encode('utf-8') + b'\n'],
                              [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes())])
            answer = self._message(30)
        except (OSError, ValueError) as exc:
            self.close()
            raise OSError('warm Python: %s' % exc) from exc
        finally:
            os.close(read_end)
        if 'pid' not in answer:
            self.close()
            raise OSError('warm Python: %s' % answer.get('error', answer))
        self.pid = answer['pid']

    def _message(self, timeout):
        deadline = time.monotonic() + timeout
        while b'\n' not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired('warm call', timeout)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout as exc:
                raise subprocess.TimeoutExpired('warm call', timeout) from exc
            if not chunk:
                raise OSError('the warm Python hung up')
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b'\n', 1)
        return json.loads(line)

    def wait(self, timeout=None):
        if self.returncode is None:
            try:
                answer = self._message(DEFAULT_TIMEOUT if timeout is None else timeout)
            except OSError:
                answer = {'rc': -signal.SIGKILL}  # the warm Python died before it could answer
            self.returncode = answer['rc']
            self.close()
        return self.returncode

    def close(self):
        self.sock.close()
        if self.returncode is None:
            self.stdin.close()


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
