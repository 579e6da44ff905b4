"""A warm Python for the lab's nodes: one process with the heavy imports done, forked for every node Python call.

Under QEMU's software emulation a node module task costs about 11 s, most of it Python starting and importing
Ansible's module support and pyroute2 again for every task. The lab agent (lab/channel.py) starts this server once,
where the lab's namespaces live, and hands it the node Python calls (``python-<node>`` with the module on stdin, or
a script path): the server forks, and the child becomes what ``ip netns exec <netns> python [SCRIPT]`` would have
been, then runs the script as ``__main__``:

- its network namespace is the node's (setns), with a mount namespace of its own whose /sys is the node's sysfs and
  whose /etc carries /etc/netns/<netns>/* (what ``ip netns exec`` does);
- its stdin, stdout and stderr are the job's (passed as file descriptors), its environment, working folder and
  ``sys.argv`` are the job's, it leads a session of its own (the agent's timeout kills the process group);
- ``sys.path`` is a fresh interpreter's (the script's folder, or '' for stdin, then the standard ones);
- it exits through the normal interpreter shutdown (atexit handlers, SystemExit codes, tracebacks as Python prints
  them).

What differs from a fresh interpreter: the modules listed in ``PRELOAD`` are already imported (the Python standard
library, ansible-core's module support from this venv, which is the controller's own ansible-core, and pyroute2).
The collection's own code is NOT preloaded: a module still imports it from the AnsiballZ payload the controller
sent, so a module_util missing from the payload fails here as it would on a real node. What is saved there is
compiling it: Python's zipimport compiles every source it imports from the payload, twice (get_filename compiles
too), and under TCG that is most of a module's run. The server compiles the collection's plugins once; a child
importing from the payload a source that is byte for byte one of those gets its compiled code (the module object, its
``__file__`` and the module body's execution are the payload's as before; only the code objects' file names, seen in
tracebacks, are the working tree's). A source that differs, or any other, is compiled as usual. Environment variables
read only at interpreter start-up (PYTHONPATH, PYTHONHASHSEED, ...) keep the server's values. The server compiles
nothing itself that the controller already did: ``lab.lifecycle.start`` writes the plugins compiled natively
(``write_compiled``, the same compile() call by the same Python: the guest runs this machine's root) to
``STATE/warm-code.marshal``; the server takes a code object from it for a source whose path and text are unchanged,
and compiles the rest (all of them when the file is missing or another interpreter wrote it).

Protocol (a Unix socket; one connection a call): the client sends one JSON line ``{"argv": [SCRIPT ARGS...],
"env": {...}, "cwd": ..., "netns": ...}`` with its stdin, stdout and stderr descriptors attached (SCM_RIGHTS); the
server answers ``{"pid": N}`` and, when the child has ended, ``{"rc": N}`` (a signal's death as minus the signal, like
a Popen's returncode).

    python -m lab.warm SOCKET_PATH [COMPILED_PATH]   (prints "ready" on stdout once it listens; stops when its
                                                      parent does)
"""

import array
import ctypes
import errno
import hashlib
import importlib.machinery
import importlib.util
import json
import marshal
import os
import select
import signal
import socket
import sys
import types
import zipimport

# What a node module task imports; everything here is identical on the controller (same venv) and the node.
PRELOAD = (
    'base64', 'datetime', 'ipaddress', 'json', 'runpy', 'shutil', 'tempfile', 'zipfile', 'zipimport', 'shlex',
    'subprocess', 'selectors', 'syslog', 'hashlib', 'locale', 'platform', 'pwd', 'grp', 'traceback', 'typing',
    'ansible.module_utils.basic',
    'ansible.module_utils._internal._ansiballz._loader',
    'ansible.module_utils.common.text.converters',
    'pyroute2',
    'pyroute2.iproute',
    'pyroute2.netlink.rtnl.ifinfmsg',
)
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_BIND = 4096
MS_REC = 16384
MS_SLAVE = 1 << 19
MNT_DETACH = 2
MAX_FDS = 3


def preload():
    """Import PRELOAD; returns the names that could not be imported (the children import those themselves)."""
    missing = []
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:  # pylint: disable=broad-except
            missing.append(name)
    return missing


# ---------------------------------------------------------------------------------------------------------------------
# compiled code of the collection's plugins, by source


PLUGINS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'plugins')
PREFIX = 'ansible_collections.'


def _key(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def compile_plugins(root=PLUGINS, compiled=None):
    """{sha256 of a source: its code} for every module and module_util of the collection, compiled as zipimport
    compiles a source (its text as zipimport's get_source() returns it, the same compile() call).

    ``compiled``: what ``read_compiled`` returned ({path: (sha256 of the source, code)}, the same compile() call made
    by the same interpreter on the controller): a source whose path and text match takes that code instead of being
    compiled again here."""
    cache = {}
    compiled = compiled or {}
    for folder in ('module_utils', 'modules'):
        for parent, _dirs, files in os.walk(os.path.join(root, folder)):
            for name in sorted(files):
                if not name.endswith('.py'):
                    continue
                path = os.path.join(parent, name)
                with open(path, 'rb') as handle:
                    data = handle.read()
                try:
                    text = data.decode()
                    key = _key(text)
                    known = compiled.get(path)
                    code = known[1] if known and known[0] == key else compile(
                        data.replace(b'\r\n', b'\n').replace(b'\r', b'\n'), path, 'exec', dont_inherit=True)
                except (SyntaxError, ValueError):
                    continue  # the import reports it, from the payload
                cache[key] = code
    return cache


def _interpreter():
    """What must match for another process's compiled code to be this one's: the bytecode's magic number and the
    interpreter's build."""
    return '%s %s %s' % (importlib.util.MAGIC_NUMBER.hex(), sys.version, sys.executable)


def write_compiled(path, root=PLUGINS):
    """Compile the plugins here (the controller: native, fast) for ``read_compiled`` where the lab is; the same
    interpreter must read it (the guest runs this machine's Python from the shared root)."""
    cache = {}
    for source_sha, code in compile_plugins(root).items():
        cache[code.co_filename] = (source_sha, code)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as handle:
        handle.write(marshal.dumps({'interpreter': _interpreter(), 'code': cache}))
    os.replace(tmp, path)
    return len(cache)


def read_compiled(path):
    """What ``write_compiled`` wrote, when this interpreter wrote it; {} otherwise (then everything compiles here)."""
    try:
        with open(path, 'rb') as handle:
            document = marshal.loads(handle.read())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(document, dict) or document.get('interpreter') != _interpreter():
        return {}
    return document.get('code') or {}


class CodeLoader:
    """A payload module's loader (a zipimporter) whose compiled code is the one compiled from the same source."""

    def __init__(self, inner, code, origin):
        self.inner = inner
        self.code = code
        self.origin = origin

    def create_module(self, _spec):
        return None

    def exec_module(self, module):
        exec(self.code, module.__dict__)  # pylint: disable=exec-used

    def get_code(self, _fullname):
        return self.code

    def get_source(self, fullname):
        return self.inner.get_source(fullname)

    def get_filename(self, _fullname):
        return self.origin

    def is_package(self, fullname):
        return self.inner.is_package(fullname)

    def get_data(self, path):
        return self.inner.get_data(path)

    def get_resource_reader(self, fullname):
        return self.inner.get_resource_reader(fullname)


class CompiledFinder:
    """First on sys.meta_path in a child. A collection module found first on its search path in a zip archive (the
    payload), with a source the server compiled, gets a spec as zipimport would give it (same origin, ``__file__``,
    ``__path__``) and a CodeLoader. Anything else is left to the usual finders (which compile as usual)."""

    def __init__(self, cache):
        self.cache = cache

    def find_spec(self, fullname, path=None, target=None):  # pylint: disable=unused-argument
        if not fullname.startswith(PREFIX):
            return None
        entries = sys.path if path is None else list(path)
        if not entries:
            return None
        try:
            importer = zipimport.zipimporter(entries[0])
            text = importer.get_source(fullname)
            package = importer.is_package(fullname)
        except (zipimport.ZipImportError, OSError, TypeError, UnicodeDecodeError):
            return None
        code = self.cache.get(_key(text)) if text is not None else None
        if code is None:
            return None
        where = os.path.join(importer.archive, importer.prefix + fullname.rpartition('.')[2])
        origin = os.path.join(where, '__init__.py') if package else where + '.py'
        return importlib.util.spec_from_file_location(fullname, origin, loader=CodeLoader(importer, code, origin),
                                                      submodule_search_locations=[where] if package else None)

    def invalidate_caches(self):
        pass


# ---------------------------------------------------------------------------------------------------------------------
# the server


class Server:
    """Accepts calls and forks for each; single-threaded, so that forking is safe."""

    def __init__(self, path):
        self.path = path
        self.parent = os.getppid()
        self.calls = {}  # pid -> connection
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(path):
            os.unlink(path)
        self.listener.bind(path)
        os.chmod(path, 0o600)
        self.listener.listen(64)
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)

    def serve(self):
        """Serve until the parent is gone; returns a request in a forked child (the caller runs it)."""
        while os.getppid() == self.parent:
            try:
                ready = select.select([self.listener, self.wake_r], [], [], 1.0)[0]
            except InterruptedError:
                ready = []
            if self.wake_r in ready:
                try:
                    os.read(self.wake_r, 512)
                except BlockingIOError:
                    pass
            self._reap()
            if self.listener in ready:
                request = self._accept()
                if request is not None:
                    return request
        self.close()
        return None

    def _accept(self):
        try:
            conn = self.listener.accept()[0]
        except OSError:
            return None
        try:
            conn.settimeout(30)
            header, fds = _receive(conn)
            spec = json.loads(header)
        except (OSError, ValueError) as exc:
            _send(conn, {'error': 'bad call: %s' % exc})
            conn.close()
            return None
        if len(fds) != MAX_FDS:
            _send(conn, {'error': 'expected %d file descriptors, got %d' % (MAX_FDS, len(fds))})
            for fd in fds:
                os.close(fd)
            conn.close()
            return None
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            conn.close()
            self.close()
            return spec, fds
        for fd in fds:
            os.close(fd)
        self.calls[pid] = conn
        _send(conn, {'pid': pid})
        return None

    def _reap(self):
        while self.calls:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.calls.pop(pid, None)
            if conn is None:
                continue
            _send(conn, {'rc': os.waitstatus_to_exitcode(status)})
            conn.close()

    def close(self):
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        self.listener.close()
        for fd in (self.wake_r, self.wake_w):
            os.close(fd)
        for conn in self.calls.values():
            conn.close()
        self.calls = {}


def _receive(conn):
    """One JSON line and the descriptors sent with it."""
    fds = array.array('i')
    data = b''
    while not data.endswith(b'\n'):
        chunk, ancdata, _flags, _addr = conn.recvmsg(65536, socket.CMSG_SPACE(MAX_FDS * fds.itemsize))
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[:len(payload) - (len(payload) % fds.itemsize)])
        if not chunk:
            raise OSError(errno.ECONNRESET, 'the caller hung up')
        data += chunk
    return data.decode('utf-8'), list(fds)


def _send(conn, message):
    try:
        conn.sendall(json.dumps(message).encode('utf-8') + b'\n')
    except OSError:
        pass  # the caller is gone; its job already timed out


# ---------------------------------------------------------------------------------------------------------------------
# the child: what ``ip netns exec NETNS python [SCRIPT ARGS...]`` would have been


_LIBC = ctypes.CDLL(None, use_errno=True)


def _check(rc, what):
    if rc != 0:
        code = ctypes.get_errno()
        raise OSError(code, '%s: %s' % (what, os.strerror(code)))


def enter_netns(name):
    """setns into /run/netns/NAME, then a private mount namespace with that namespace's sysfs and /etc/netns/NAME
    files, as iproute2's ``ip netns exec`` does."""
    fd = os.open(os.path.join('/run/netns', name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_LIBC.setns(fd, CLONE_NEWNET), 'setns %s' % name)
    finally:
        os.close(fd)
    _check(_LIBC.unshare(CLONE_NEWNS), 'unshare mount namespace')
    _check(_LIBC.mount(b'', b'/', b'none', MS_SLAVE | MS_REC, None), 'mount --make-rslave /')
    _check(_LIBC.umount2(b'/sys', MNT_DETACH), 'umount /sys')
    flags = 0
    if _LIBC.mount(name.encode(), b'/sys', b'sysfs', flags, None) != 0:
        _check(_LIBC.mount(name.encode(), b'/sys', b'sysfs', MS_RDONLY, None), 'mount sysfs')
    etc = os.path.join('/etc/netns', name)
    if os.path.isdir(etc):
        for entry in sorted(os.listdir(etc)):
            source, target = os.path.join(etc, entry), os.path.join('/etc', entry)
            _check(_LIBC.mount(source.encode(), target.encode(), b'none', MS_BIND, None), 'bind %s' % source)


def become(spec, fds, base_path, compiled):
    """Turn this forked child into the call's Python; returns (code object, __main__ module)."""
    os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        if fd > 2:
            os.close(fd)
    if spec.get('netns'):
        enter_netns(spec['netns'])
    os.environ.clear()
    os.environ.update(spec.get('env') or {})
    os.chdir(spec.get('cwd') or '/')
    args = list(spec.get('argv') or [])
    main = types.ModuleType('__main__')
    main.__dict__['__builtins__'] = __builtins__
    if not args or args[0] == '-':
        sys.argv = [''] + args[1:] if not args else ['-'] + args[1:]
        source, filename = sys.stdin.buffer.read(), '<stdin>'
        sys.path[:] = [''] + base_path
    else:
        sys.argv = args
        filename = args[0]
        with open(filename, 'rb') as handle:
            source = handle.read()
        main.__file__ = filename
        sys.path[:] = [os.path.dirname(os.path.realpath(filename))] + base_path
    for name in [name for name in sys.modules if name == 'lab' or name.startswith('lab.')]:
        del sys.modules[name]
    sys.modules['__main__'] = main
    sys.meta_path.insert(0, CompiledFinder(compiled))
    return compile(source, filename, 'exec'), main


def main(argv):
    if len(argv) not in (1, 2):
        sys.stderr.write('usage: python -m lab.warm SOCKET_PATH [COMPILED_PATH]\n')
        return 2
    # A fresh interpreter's path: what `python -m` put first (the working folder) is not a node's.
    base_path = [entry for entry in sys.path[1:] if entry]
    missing = preload()
    given = read_compiled(argv[1]) if len(argv) > 1 else {}
    compiled = compile_plugins(compiled=given)
    server = Server(argv[0])
    taken = sum(1 for code in compiled.values() if code is (given.get(code.co_filename) or (None, None))[1])
    sys.stdout.write('ready (%d sources: %d compiled here, %d compiled by the controller%s)\n' % (
        len(compiled), len(compiled) - taken, taken, '; not preloaded: %s' % ', '.join(missing) if missing else ''))
    sys.stdout.flush()
    request = server.serve()
    if request is None:
        return 0
    code, module = become(request[0], request[1], base_path, compiled)
    del request, server, compiled, given
    exec(code, module.__dict__)  # pylint: disable=exec-used
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
