"""Run a command against a kernel with bonding/802.1Q/VLAN filtering: natively, or inside one QEMU (TCG) guest.

The guest's root is the host's root, shared read-only over 9p under a tmpfs-upper overlay: every host path (the
repository, the cache folder, the venv...) is there and writable in memory; ``rw`` folders are the real host folders,
read-write.  The command keeps its working directory and the relevant environment; its stdout/stderr stream live through
two virtio-serial ports; its exit code is the guest's.  QEMU always dies: on the timeout, on an exception, and (through
PR_SET_PDEATHSIG) when this process dies.
"""

import ctypes
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from testbeds.common import kill_group, progress
from testbeds.kernel import image
from testbeds.kernel.probe import check

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST_INIT = os.path.join(HERE, 'guest-init.sh')
RELAY = os.path.join(HERE, 'relay.py')

GUEST_ADDR = '10.0.2.15'   # the guest's eth0 when hostfwd is used
HOST_ADDR = '10.0.2.100'   # where the guest reaches the forwarded host ports
DEFAULT_TIMEOUT = 1800
DEFAULT_MEM = 512
DEFAULT_CPUS = 2
TIMEOUT_EXIT = 124         # like timeout(1)
FAILURE_EXIT = 125         # the bed itself failed (QEMU or the guest could not run the command)

MODES = ('auto', 'guest', 'native')
PRELOAD = ('virtio_console', 'bonding', '8021q', 'bridge', 'br_netfilter', 'veth', 'dummy')
ENV_NAMES = frozenset((
    'PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'TZ', 'TERM', 'CI', 'VIRTUAL_ENV', 'HARVESTER_NETWORK_CACHE',
    'XDG_CACHE_HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'NO_COLOR', 'FORCE_COLOR', 'PY_COLORS', 'COLUMNS',
))
ENV_PREFIXES = ('ANSIBLE_', 'PYTHON', 'HN_', 'LC_', 'PYTEST_')
_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
_STARTED = re.compile(rb'hn-guest: command starting at ([0-9.]+)s')


def run(cmd, mode='auto', timeout=DEFAULT_TIMEOUT, mem=DEFAULT_MEM, cpus=DEFAULT_CPUS, rw=(), hostfwd=(), env=None,
        cwd=None, stdout=None, stderr=None, verbose=False):
    """Run ``cmd`` (a list) where the kernel has the features; return its exit code.

    mode     'auto' (natively if ``check()`` passes, else in a guest), 'guest' or 'native'
    timeout  hard limit in seconds for the whole run (boot included); on expiry everything is killed, exit 124
    mem      guest memory in MB; cpus: guest vCPUs
    rw       host folders the guest mounts read-write at the same path (created if missing)
    hostfwd  TCP ports of services on the host's 127.0.0.1; the command reaches them at ``$HN_HOSTFWD_ADDR:PORT``
             (10.0.2.100 in the guest, 127.0.0.1 natively)
    env      extra environment variables for the command (a dict)
    cwd      the command's working directory (default: the current one)
    stdout, stderr  binary file objects to receive the output (default: this process's stdout/stderr)
    verbose  stream the guest's console (kernel and init messages) to stderr too
    Exit codes of the bed itself: 124 timeout, 125 the guest failed to run the command.
    """
    if mode not in MODES:
        raise ValueError('mode must be one of %s' % ', '.join(MODES))
    cmd = [os.fspath(arg) for arg in cmd]
    if not cmd:
        raise ValueError('no command given')
    cwd = os.path.realpath(cwd or os.getcwd())
    rw = [_rw_folder(folder) for folder in rw]
    if mode == 'auto':
        ok, reason = check()
        if ok:
            mode = 'native'
        else:
            progress('kernel: %s -> running the command in a QEMU guest' % reason)
            mode = 'guest'
    if mode == 'native':
        return _run_native(cmd, timeout, env, cwd, stdout, stderr)
    return _run_guest(cmd, timeout, mem, cpus, rw, hostfwd, env, cwd, stdout, stderr, verbose)


def _rw_folder(folder):
    """A ``rw`` folder, absolute and real, created when missing (in both modes, so commands behave the same)."""
    folder = os.path.realpath(os.path.abspath(folder))
    if folder == '/':
        raise ValueError('the root cannot be shared read-write')
    os.makedirs(folder, exist_ok=True)
    return folder


# ---------------------------------------------------------------------------------------------------------------------
# native


def _run_native(cmd, timeout, env, cwd, stdout, stderr):
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.update({'HN_KERNEL_BED': 'native', 'HN_HOSTFWD_ADDR': '127.0.0.1'})
    started = time.monotonic()
    pumps = []
    try:
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            cmd, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, start_new_session=True,
            stdout=None if stdout is None else subprocess.PIPE, stderr=None if stderr is None else subprocess.PIPE)
    except OSError as exc:
        progress('kernel: cannot run %s: %s' % (cmd[0], exc))
        return 127
    if stdout is not None:
        pumps.append(_pump(proc.stdout.fileno(), [stdout]))
    if stderr is not None:
        pumps.append(_pump(proc.stderr.fileno(), [stderr]))
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        progress('kernel: TIMEOUT: the command ran longer than %ss; killing it' % timeout)
        kill_group(proc)
        rc = TIMEOUT_EXIT
    except KeyboardInterrupt:
        kill_group(proc, first=signal.SIGINT)
        raise
    except BaseException:
        kill_group(proc)
        raise
    finally:
        for pump in pumps:
            pump.join(10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    progress('kernel: native command exited with %d after %.1fs' % (rc, time.monotonic() - started))
    return rc


# ---------------------------------------------------------------------------------------------------------------------
# guest


def guest_environment(extra=None):
    """The environment the command gets in the guest: the relevant part of ours plus ``extra``."""
    env = {name: value for name, value in os.environ.items()
           if name in ENV_NAMES or name.startswith(ENV_PREFIXES)}
    if sys.stdout.isatty():
        env.setdefault('PY_COLORS', '1')
        env.setdefault('COLUMNS', str(shutil.get_terminal_size().columns))
    env.update(extra or {})
    env.update({'HN_KERNEL_BED': 'guest', 'HN_HOSTFWD_ADDR': HOST_ADDR})
    bad = [name for name in env if not _NAME.match(name)]
    if bad:
        raise ValueError('environment variable names not usable in the guest: %s' % ', '.join(bad))
    return env


def _check_path(path):
    if any(char in path for char in ',:\n\\') or ' ' in path:
        raise ValueError('paths given to the guest may not contain commas, colons, spaces or backslashes: %r' % path)
    return path


def _write_job(job, manifest, cmd, env, cwd, rw, net):
    setup = {
        'HN_KVER': manifest['kver'],
        'HN_MODULES': _check_path(manifest['modules']),
        'HN_PRELOAD': ' '.join(PRELOAD + (('virtio_net',) if net else ())),
        'HN_RW': '\n'.join('%s %s' % (tag, path) for tag, path in rw),
        'HN_NET': '1' if net else '0',
        'HN_HOSTNAME': re.sub(r'[^A-Za-z0-9.-]', '', os.uname().nodename)[:63] or 'hn-guest',
    }
    with open(os.path.join(job, 'setup'), 'w', encoding='utf-8') as handle:
        for name, value in setup.items():
            handle.write('%s=%s\n' % (name, shlex.quote(value)))
    with open(os.path.join(job, 'job.sh'), 'w', encoding='utf-8') as handle:
        handle.write('#!/bin/sh\n')
        for name, value in sorted(env.items()):
            handle.write('export %s=%s\n' % (name, shlex.quote(value)))
        handle.write('cd -- %s || exit %d\n' % (shlex.quote(cwd), FAILURE_EXIT))
        handle.write('exec %s\n' % ' '.join(shlex.quote(arg) for arg in cmd))


def _qemu_argv(manifest, job, mem, cpus, rw, hostfwd, fds):
    qemu = shutil.which('qemu-system-x86_64')
    if not qemu:
        raise image.PrepareError('qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86)')
    accel = os.environ.get('HN_QEMU_ACCEL', 'tcg')
    cmdline = ' '.join([
        'console=ttyS0', 'loglevel=4', 'panic=-1', 'oops=panic', 'rdinit=/init', 'mitigations=off', 'nokaslr',
        'tsc=reliable', 'no_timer_check', 'hnbb=%s' % _check_path(manifest['busybox']),
        'hninit=%s' % _check_path(GUEST_INIT),
    ])
    argv = [
        qemu, '-machine', 'q35,accel=%s' % accel, '-cpu', 'max', '-smp', str(cpus), '-m', '%dM' % mem,
        '-nodefaults', '-no-user-config', '-no-reboot', '-display', 'none', '-monitor', 'none',
        '-kernel', manifest['vmlinux'], '-initrd', manifest['initramfs'], '-append', cmdline,
        '-chardev', 'file,id=con,path=/proc/self/fd/%d' % fds['console'], '-serial', 'chardev:con',
        '-fsdev', 'local,id=hnroot,path=/,security_model=none,readonly=on,multidevs=remap',
        '-device', 'virtio-9p-pci,fsdev=hnroot,mount_tag=hnroot',
        '-fsdev', 'local,id=hnjob,path=%s,security_model=none' % _check_path(job),
        '-device', 'virtio-9p-pci,fsdev=hnjob,mount_tag=hnjob',
        '-device', 'virtio-serial-pci,id=vser',
        '-chardev', 'file,id=out,path=/proc/self/fd/%d' % fds['stdout'],
        '-device', 'virtserialport,bus=vser.0,chardev=out,name=hn.stdout',
        '-chardev', 'file,id=err,path=/proc/self/fd/%d' % fds['stderr'],
        '-device', 'virtserialport,bus=vser.0,chardev=err,name=hn.stderr',
    ]
    if os.path.exists('/usr/share/qemu/qboot.rom'):
        argv += ['-bios', '/usr/share/qemu/qboot.rom']
    for tag, path in rw:
        argv += ['-fsdev', 'local,id=%s,path=%s,security_model=none' % (tag, path),
                 '-device', 'virtio-9p-pci,fsdev=%s,mount_tag=%s' % (tag, tag)]
    if hostfwd:
        netdev = 'user,id=n0,restrict=on,net=10.0.2.0/24'
        for port in hostfwd:
            relay = ' '.join(shlex.quote(arg) for arg in (sys.executable, '-I', RELAY, '127.0.0.1', str(port)))
            netdev += ',guestfwd=tcp:%s:%d-cmd:%s' % (HOST_ADDR, port, relay.replace(',', ',,'))
        argv += ['-netdev', netdev, '-device', 'virtio-net-pci,netdev=n0']
    return argv


_LIBC = None


def _die_with_parent():
    """preexec_fn: QEMU gets SIGKILL when the process that started it dies (PR_SET_PDEATHSIG)."""
    _LIBC.prctl(1, signal.SIGKILL)


def _pump(fd, sinks, watch=None):
    """Copy everything from ``fd`` to ``sinks`` (binary files) in a thread, flushing at once: live output."""
    def loop():
        pending = b''
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            for sink in sinks:
                try:
                    sink.write(chunk)
                    sink.flush()
                except (OSError, ValueError):
                    pass
            if watch is not None:
                pending = (pending + chunk)[-4096:]
                if b'\n' in pending:
                    lines = pending.split(b'\n')
                    pending = lines.pop()
                    for line in lines:
                        watch(line)
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def _binary(stream):
    return getattr(stream, 'buffer', stream)


def _run_guest(cmd, timeout, mem, cpus, rw, hostfwd, env, cwd, stdout, stderr, verbose):  # pylint: disable=too-many-locals
    global _LIBC  # pylint: disable=global-statement
    started = time.monotonic()
    manifest = image.prepare()
    job = tempfile.mkdtemp(prefix='hn-kernel-')
    pipes = {}
    pumps = []
    proc = None
    console_log = os.path.join(job, 'console.log')
    rw_tags = [('hnrw%d' % index, _check_path(folder)) for index, folder in enumerate(rw)]
    hostfwd = [int(port) for port in hostfwd]
    try:
        _write_job(job, manifest, cmd, guest_environment(env), cwd, rw_tags, bool(hostfwd))
        for name in ('stdout', 'stderr', 'console'):
            pipes[name] = os.pipe()
        argv = _qemu_argv(manifest, job, mem, cpus, rw_tags, hostfwd,
                          {name: ends[1] for name, ends in pipes.items()})
        if _LIBC is None:
            _LIBC = ctypes.CDLL(None, use_errno=True)
        progress('kernel: booting a QEMU guest (%s, %d MB, %d vCPUs, %s)%s' % (
            manifest['kver'], mem, cpus, os.environ.get('HN_QEMU_ACCEL', 'tcg'),
            ' with host ports %s' % ', '.join(map(str, hostfwd)) if hostfwd else ''))
        with open(os.path.join(job, 'qemu.log'), 'wb') as qemu_log, open(console_log, 'wb') as console:
            launched = time.monotonic()

            def on_console(line):
                match = _STARTED.search(line)
                if match:
                    progress('kernel: guest command started %.1fs after launch (guest uptime %ss)' % (
                        time.monotonic() - launched, match.group(1).decode()))

            proc = subprocess.Popen(  # pylint: disable=consider-using-with
                argv, stdin=subprocess.DEVNULL, stdout=qemu_log, stderr=subprocess.STDOUT, close_fds=True,
                pass_fds=[ends[1] for ends in pipes.values()], preexec_fn=_die_with_parent, start_new_session=True)
            for ends in pipes.values():
                os.close(ends[1])
            pumps.append(_pump(pipes['stdout'][0], [stdout if stdout is not None else _binary(sys.stdout)]))
            pumps.append(_pump(pipes['stderr'][0], [stderr if stderr is not None else _binary(sys.stderr)]))
            pumps.append(_pump(pipes['console'][0], [console] + ([_binary(sys.stderr)] if verbose else []),
                               watch=on_console))
            remaining = max(1.0, timeout - (launched - started))
            try:
                proc.wait(timeout=remaining)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
                proc.kill()
                proc.wait()
            for pump in pumps:
                pump.join(10)
        return _outcome(job, proc.returncode, timed_out, timeout, time.monotonic() - started)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        for ends in pipes.values():
            for end in ends:
                try:
                    os.close(end)
                except OSError:
                    pass
        shutil.rmtree(job, ignore_errors=True)


def _tail(path, lines=40):
    try:
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8', 'replace')
    except OSError:
        return ''
    return '\n'.join(text.replace('\r', '').splitlines()[-lines:])


def _outcome(job, qemu_rc, timed_out, timeout, elapsed):
    if timed_out:
        progress('kernel: TIMEOUT: the guest ran longer than %ss; QEMU was killed' % timeout)
        progress('kernel: last console lines:\n%s' % _tail(os.path.join(job, 'console.log'), 15))
        return TIMEOUT_EXIT
    try:
        with open(os.path.join(job, 'rc'), encoding='utf-8') as handle:
            rc = int(handle.read().strip())
    except (OSError, ValueError):
        rc = None
    if rc is not None:
        progress('kernel: guest command exited with %d after %.1fs' % (rc, elapsed))
        return rc
    reason = ''
    try:
        with open(os.path.join(job, 'error'), encoding='utf-8') as handle:
            reason = handle.read().strip()
    except OSError:
        pass
    progress('kernel: the guest did not run the command to the end%s (QEMU exit %s after %.1fs)' % (
        ': ' + reason if reason else '', qemu_rc, elapsed))
    progress('kernel: QEMU said:\n%s' % _tail(os.path.join(job, 'qemu.log'), 20))
    progress('kernel: last console lines:\n%s' % _tail(os.path.join(job, 'console.log')))
    return FAILURE_EXIT
