#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: host_dhcp_server
short_description: The node side of a DHCP server on a VLAN network - its port, files and dnsmasq daemon
version_added: 0.1.0
description:
  - What the host modules do not make for a DHCP server on a node, read first and changed only where it differs.
  - V(prepared) - each server's bridge must exist (else nothing changes); the veth pair (O(servers[].interface) and
    its peer O(servers[].port)) is created when missing, the O(folders), and the dnsmasq configuration when it
    differs (replaced atomically). M(harvester.network.host_bridge) and M(harvester.network.host_network) then attach
    the port and put it on its VLAN.
  - V(running) - without systemd, each server's dnsmasq runs as a daemon with a PID file - started when it does not
    run, restarted when O(servers[].restart) (its configuration changed). A server runs when its PID file names a
    live process of the O(dnsmasq) program, so a stale PID file is never taken for a server.
  - V(absent) - the daemon (with O(servers[].pidfile)) stopped, the O(servers[].files) removed, the veth pair deleted.
  - The C(harvester.network.dhcp_server) role runs it.
author:
  - harvester.network developers (@harvester-network)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports what a real run would change; V(prepared) lists the interfaces it would create.
  diff_mode:
    support: full
    details: The dnsmasq configurations before and after, and the servers' interfaces and daemons.
  platform:
    platforms: linux
options:
  state:
    description: What to make true of the O(servers).
    type: str
    choices: [prepared, running, absent]
    required: true
  servers:
    description: The servers.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The server's name.
        type: str
        required: true
      field:
        description:
          - Where the server comes from in the caller's input, for messages (for example C(dhcp_server_networks[0])).
        type: str
      network:
        description: The VLAN network, C(namespace/name), for messages.
        type: str
      bridge:
        description: The bridge the port goes on; it must exist (V(prepared)).
        type: str
      interface:
        description: The server's end of the veth pair (V(prepared), V(absent)).
        type: str
      port:
        description: The bridge's end of the veth pair (V(prepared)).
        type: str
      config:
        description: The dnsmasq configuration (V(prepared)).
        type: str
      config_path:
        description: Where the configuration lives (V(prepared), V(running)).
        type: path
      pidfile:
        description: The daemon's PID file (V(running); V(absent) stops the daemon it names).
        type: path
      restart:
        description: Restart the daemon when it runs (V(running)).
        type: bool
        default: false
      files:
        description: Files to remove (V(absent)).
        type: list
        elements: path
        default: []
  folders:
    description: Folders to create (V(prepared)).
    type: list
    elements: path
    default: []
  ip:
    description: The C(ip) program.
    type: path
    default: /usr/sbin/ip
  dnsmasq:
    description: The C(dnsmasq) program.
    type: path
    default: /usr/sbin/dnsmasq
'''

EXAMPLES = r'''
- name: The port, folder and configuration of a DHCP server for VLAN 100
  harvester.network.host_dhcp_server:
    state: prepared
    folders: [/etc/harvester-network/dhcp]
    servers:
      - name: vlan100-dhcp
        bridge: data-br
        interface: dhcp100
        port: dhcp100p
        config_path: /etc/harvester-network/dhcp/vlan100-dhcp.conf
        config: |
          interface=dhcp100
          bind-interfaces
          dhcp-range=192.168.100.100,192.168.100.199,255.255.255.0,1h
  register: prepared

- name: Run it without systemd
  harvester.network.host_dhcp_server:
    state: running
    servers:
      - name: vlan100-dhcp
        config_path: /etc/harvester-network/dhcp/vlan100-dhcp.conf
        pidfile: /run/harvester-network/dhcp-vlan100-dhcp.pid
        restart: "{{ 'vlan100-dhcp' in prepared.config_changed }}"
'''

RETURN = r'''
changes:
  description: What changed (or, in check mode, would), one line each.
  returned: always
  type: list
  elements: str
  sample: ["ip link add dhcp100 up type veth peer name dhcp100p", "write /etc/harvester-network/dhcp/vlan100-dhcp.conf"]
new_interfaces:
  description: Interfaces this run made (in check mode - would make, so other modules cannot see them yet).
  returned: when O(state=prepared)
  type: list
  elements: str
config_changed:
  description: Servers whose configuration this run wrote (or would).
  returned: when O(state=prepared)
  type: list
  elements: str
'''

import os
import signal
import subprocess
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.harvester.network.plugins.module_utils.node_files import read_text, write_text


def link_exists(name):
    return os.path.exists('/sys/class/net/%s' % name)


def running_pid(pidfile, program):
    text = read_text(pidfile)
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


class Run(object):

    def __init__(self, module):
        self.module = module
        self.check = module.check_mode
        self.changes = []
        self.diff = []

    def command(self, argv):
        rc, out, err = self.module.run_command(argv)
        if rc != 0:
            self.fail('%s failed: %s' % (' '.join(argv), (err or out).strip()))

    def fail(self, msg, **extra):
        self.module.fail_json(msg=msg, changed=bool(self.changes), changes=self.changes, **extra)

    def start_daemon(self, argv):
        # dnsmasq daemonizes and its child may keep inherited descriptors open: give it files, not pipes (which
        # run_command reads to the end), so waiting ends with the parent.
        with tempfile.TemporaryFile(mode='w+') as errors:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
                                  check=False)
            if proc.returncode != 0:
                errors.seek(0)
                self.fail('%s failed: %s' % (' '.join(argv), errors.read().strip()))


def prepared(run, params):
    missing = [server for server in params['servers']
               if not os.path.isdir('/sys/class/net/%s/bridge' % server['bridge'])]
    if missing:
        run.fail('; '.join('%s: the bridge %s of network %s is not on this node; converge it with the default_vlan '
                           'role first' % (server['field'] or server['name'], server['bridge'], server['network'])
                           for server in missing))
    result = {'config_changed': [], 'new_interfaces': []}
    for folder in params['folders']:
        if not os.path.isdir(folder):
            run.changes.append('mkdir %s' % folder)
            if not run.check:
                os.makedirs(folder, 0o755)
    for server in params['servers']:
        if not link_exists(server['interface']):
            result['new_interfaces'].append(server['interface'])
            run.changes.append('ip link add %s up type veth peer name %s' % (server['interface'], server['port']))
            run.diff.append({'before_header': server['interface'], 'after_header': server['interface'],
                             'before': '', 'after': 'veth %s, peer %s\n' % (server['interface'], server['port'])})
            if not run.check:
                run.command([params['ip'], 'link', 'add', server['interface'], 'up', 'type', 'veth', 'peer', 'name',
                             server['port']])
        old = read_text(server['config_path'])
        if old != server['config']:
            run.changes.append('write %s' % server['config_path'])
            run.diff.append({'before_header': server['config_path'], 'after_header': server['config_path'],
                             'before': old or '', 'after': server['config']})
            result['config_changed'].append(server['name'])
            if not run.check:
                write_text(run.module, server['config_path'], server['config'])
    return result


def running(run, params):
    for server in params['servers']:
        pid = running_pid(server['pidfile'], params['dnsmasq'])
        if pid and server['restart']:
            run.changes.append('stop %s (pid %d, its configuration changed)' % (server['name'], pid))
            if not run.check:
                stop(pid)
            pid = None
        if not pid:
            run.changes.append('start %s' % server['name'])
            run.diff.append({'before_header': server['name'], 'after_header': server['name'],
                             'before': 'not running\n', 'after': 'running\n'})
            if not run.check:
                folder = os.path.dirname(server['pidfile'])
                if not os.path.isdir(folder):
                    os.makedirs(folder, 0o755)
                run.start_daemon([params['dnsmasq'], '--conf-file=%s' % server['config_path'],
                                  '--pid-file=%s' % server['pidfile']])
    return {}


def absent(run, params):
    for server in params['servers']:
        pid = running_pid(server['pidfile'], params['dnsmasq']) if server['pidfile'] else None
        if pid:
            run.changes.append('stop %s (pid %d)' % (server['name'], pid))
            if not run.check:
                stop(pid)
        for path in server['files']:
            if os.path.lexists(path):
                run.changes.append('remove %s' % path)
                run.diff.append({'before_header': path, 'after_header': path, 'before': read_text(path) or '',
                                 'after': ''})
                if not run.check:
                    os.unlink(path)
        if server['interface'] and link_exists(server['interface']):
            run.changes.append('ip link del %s' % server['interface'])
            if not run.check:
                run.command([params['ip'], 'link', 'del', server['interface']])
    return {}


NEEDS = {'prepared': ('bridge', 'interface', 'port', 'config', 'config_path'),
         'running': ('config_path', 'pidfile'),
         'absent': ()}


def main():
    server = dict(
        name=dict(type='str', required=True),
        field=dict(type='str'),
        network=dict(type='str'),
        bridge=dict(type='str'),
        interface=dict(type='str'),
        port=dict(type='str'),
        config=dict(type='str'),
        config_path=dict(type='path'),
        pidfile=dict(type='path'),
        restart=dict(type='bool', default=False),
        files=dict(type='list', elements='path', default=[]),
    )
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', required=True, choices=['prepared', 'running', 'absent']),
            servers=dict(type='list', elements='dict', required=True, options=server),
            folders=dict(type='list', elements='path', default=[]),
            ip=dict(type='path', default='/usr/sbin/ip'),
            dnsmasq=dict(type='path', default='/usr/sbin/dnsmasq'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    state = params['state']
    errors = ['servers[%d].%s: required with state=%s' % (index, key, state)
              for index, item in enumerate(params['servers']) for key in NEEDS[state] if item.get(key) is None]
    if errors:
        module.fail_json(msg='; '.join(errors), changed=False)
    run = Run(module)
    try:
        extra = {'prepared': prepared, 'running': running, 'absent': absent}[state](run, params)
    except (IOError, OSError) as exc:
        run.fail(str(exc))
    module.exit_json(changed=bool(run.changes), changes=run.changes, diff=run.diff, **extra)


if __name__ == '__main__':
    main()
