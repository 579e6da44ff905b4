#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node side of the dhcp_server role's "node" servers. Prints one JSON document
({changed, changes, error, ...}); with --check it only reports what it would do.

    dhcp_node.py prepare SPEC [--check]   per server: its bridge must exist (else nothing changes); create the veth
                                          pair when missing (ip link add <interface> up type veth peer name <port>),
                                          the folders, and the dnsmasq configuration when it differs
    dhcp_node.py start SPEC [--check]     without systemd: restart the servers whose configuration changed, start
                                          the ones that do not run (dnsmasq daemonizes and writes its PID file)
    dhcp_node.py absent SPEC [--check]    stop the server (without systemd), remove its files, delete its veth pair

SPEC is base64 of a JSON object, see the role's tasks. A server "runs" when its PID file names a live process whose
program is dnsmasq, so a stale PID file is never taken for a server.
"""

import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time


def exists(link):
    return os.path.exists('/sys/class/net/%s' % link)


def read_file(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def write_file(path, content):
    folder = os.path.dirname(path)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix='.%s.' % os.path.basename(path))
    try:
        with os.fdopen(handle, 'w') as stream:
            stream.write(content)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError('%s failed: %s' % (' '.join(argv), (proc.stderr or proc.stdout).strip()))


def start_daemon(argv):
    # The daemon may keep inherited descriptors open: give it files, not pipes, so waiting ends with the parent.
    with tempfile.TemporaryFile(mode='w+') as errors:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors, check=False)
        if proc.returncode != 0:
            errors.seek(0)
            raise RuntimeError('%s failed: %s' % (' '.join(argv), errors.read().strip()))


def running_pid(pidfile, program):
    text = read_file(pidfile)
    if not text or not text.strip().isdigit():
        return None
    pid = int(text.strip())
    try:
        exe = os.readlink('/proc/%d/exe' % pid)
    except OSError:
        return None
    return pid if os.path.realpath(exe) == os.path.realpath(program) else None


def stop(pid):
    os.kill(pid, signal.SIGTERM)
    for _attempt in range(100):
        if not os.path.exists('/proc/%d' % pid):
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def prepare(spec, check, result):
    missing = [server for server in spec['servers'] if not os.path.isdir('/sys/class/net/%s/bridge' % server['bridge'])]
    if missing:
        result['error'] = '; '.join('%s: the bridge %s of network %s is not on this node; converge it with the '
                                    'default_vlan role first' % (s['field'], s['bridge'], s['network']) for s in missing)
        return
    result['config_changed'] = []
    result['new_interfaces'] = []  # made by this run (with --check: would be, so the host modules cannot see them yet)
    for folder in spec['folders']:
        if not os.path.isdir(folder):
            result['changes'].append('mkdir %s' % folder)
            if not check:
                os.makedirs(folder, 0o755)
    for server in spec['servers']:
        if not exists(server['interface']):
            result['new_interfaces'].append(server['interface'])
            result['changes'].append('ip link add %s up type veth peer name %s' % (server['interface'], server['port']))
            if not check:
                run([spec['ip'], 'link', 'add', server['interface'], 'up', 'type', 'veth', 'peer', 'name',
                     server['port']])
        if read_file(server['config_path']) != server['config']:
            result['changes'].append('write %s' % server['config_path'])
            result['config_changed'].append(server['name'])
            if not check:
                write_file(server['config_path'], server['config'])


def start(spec, check, result):
    for server in spec['servers']:
        pid = running_pid(server['pidfile'], spec['dnsmasq'])
        if pid and server['restart']:
            result['changes'].append('stop %s (pid %d, its configuration changed)' % (server['name'], pid))
            if not check:
                stop(pid)
            pid = None
        if not pid:
            result['changes'].append('start %s' % server['name'])
            if not check:
                folder = os.path.dirname(server['pidfile'])
                if not os.path.isdir(folder):
                    os.makedirs(folder, 0o755)
                start_daemon([spec['dnsmasq'], '--conf-file=%s' % server['config_path'],
                              '--pid-file=%s' % server['pidfile']])


def absent(spec, check, result):
    for server in spec['servers']:
        pid = running_pid(server['pidfile'], spec['dnsmasq']) if server.get('pidfile') else None
        if pid:
            result['changes'].append('stop %s (pid %d)' % (server['name'], pid))
            if not check:
                stop(pid)
        for path in server['files']:
            if os.path.lexists(path):
                result['changes'].append('remove %s' % path)
                if not check:
                    os.unlink(path)
        if exists(server['interface']):
            result['changes'].append('ip link del %s' % server['interface'])
            if not check:
                run([spec['ip'], 'link', 'del', server['interface']])


def main(argv):
    check = '--check' in argv
    action, encoded = [arg for arg in argv if arg != '--check'][:2]
    spec = json.loads(base64.b64decode(encoded).decode('utf-8'))
    result = {'changed': False, 'changes': [], 'error': None}
    try:
        {'prepare': prepare, 'start': start, 'absent': absent}[action](spec, check, result)
    except (OSError, RuntimeError) as exc:
        result['error'] = str(exc)
    result['changed'] = bool(result['changes'])
    json.dump(result, sys.stdout, sort_keys=True)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
