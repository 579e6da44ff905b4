#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: host_prep
short_description: Kernel modules and sysctls of the Harvester VLAN network on a node, now and at boot
version_added: 0.1.0
description:
  - Prepares a node for the host modules in one run, reading first and changing only what differs - loads the kernel
    modules (C(modprobe)), lists them in a C(modules-load.d) file, sets the sysctls in C(/proc/sys) and writes them to
    a C(sysctl.d) file.
  - A sysctl whose key does not exist yet (C(net.bridge.*) needs the C(br_netfilter) module) is skipped now; the
    C(sysctl.d) file marks every key with a leading C(-), so systemd sets it when its module loads.
  - Checks that the NICs of O(interfaces) exist before it changes anything; when one is missing it fails and changes
    nothing.
  - Reports whether the Python running it finds pyroute2 (which the other host modules need), without importing it.
  - The C(harvester.network.node_prep) role runs it.
author:
  - harvester.network developers (@harvester-network)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports exactly what a real run would change.
  diff_mode:
    support: full
    details: The two files, the sysctls and the kernel modules before and after.
  platform:
    platforms: linux
options:
  kernel_modules:
    description: Kernel modules to load now and at boot.
    type: list
    elements: str
    default: []
  modules_load_file:
    description:
      - The C(modules-load.d) file listing O(kernel_modules), replaced atomically (mode C(0644)) when it differs.
        Unset writes no file.
    type: path
  sysctls:
    description: Sysctls to set now and at boot, key to value.
    type: dict
    default: {}
  sysctl_file:
    description:
      - The C(sysctl.d) file holding O(sysctls), replaced atomically (mode C(0644)) when it differs. Unset writes no
        file.
    type: path
  interfaces:
    description: NICs that must exist on the node (for example the slaves of bonds made next).
    type: list
    elements: str
    default: []
notes:
  - Needs root for C(modprobe), C(/proc/sys) and files under C(/etc).
'''

EXAMPLES = r'''
- name: Load bridge, 8021q and bonding, turn off netfilter for bridged traffic, now and at boot
  harvester.network.host_prep:
    kernel_modules: [bridge, 8021q, bonding]
    modules_load_file: /etc/modules-load.d/harvester-network.conf
    sysctls:
      net.bridge.bridge-nf-call-iptables: 0
      net.bridge.bridge-nf-call-ip6tables: 0
    sysctl_file: /etc/sysctl.d/90-harvester-network.conf
    interfaces: [eth1, eth2]
  register: prep

- name: Install pyroute2 when the node's Python lacks it
  ansible.builtin.pip:
    name: pyroute2>=0.9
  when: not prep.pyroute2
'''

RETURN = r'''
changes:
  description: What changed (or, in check mode, would), one line each.
  returned: always
  type: list
  elements: str
  sample: ["write /etc/modules-load.d/harvester-network.conf", "modprobe -a 8021q bonding"]
pyroute2:
  description: Whether the Python running the module finds pyroute2.
  returned: always
  type: bool
python:
  description: That Python.
  returned: always
  type: str
links:
  description: The node's network interfaces.
  returned: always
  type: list
  elements: str
sysctls:
  description: Each key of O(sysctls) with its value after the run, or null when the key does not exist.
  returned: always
  type: dict
field:
  description: The option a failure is about.
  returned: failure
  type: str
  sample: interfaces
'''

import importlib.util
import os
import platform
import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.harvester.network.plugins.module_utils.node_files import read_text, write_text

MODULES_HEADER = ('# Managed by Ansible (harvester.network node_prep): kernel modules of the Harvester VLAN network, '
                  'loaded at boot.\n')
SYSCTL_HEADER = ('# Managed by Ansible (harvester.network node_prep): sysctls of the Harvester VLAN network. The '
                 'leading "-" lets\n# systemd-sysctl skip a key whose module is not loaded yet; systemd applies '
                 'net.bridge.* again when br_netfilter loads.\n')


def modules_file_text(modules):
    return MODULES_HEADER + ''.join('%s\n' % name for name in modules)


def sysctl_file_text(sysctls):
    return SYSCTL_HEADER + ''.join('-%s = %s\n' % (key, value) for key, value in sysctls.items())


def module_present(name):
    normal = name.replace('-', '_')
    if os.path.isdir('/sys/module/%s' % normal):
        return True
    try:
        with open('/lib/modules/%s/modules.builtin' % platform.release()) as handle:
            return any(os.path.basename(line.strip()).split('.ko')[0].replace('-', '_') == normal for line in handle)
    except (IOError, OSError):
        return False


def sysctl_path(key):
    return '/proc/sys/%s' % key.replace('.', '/')


def sysctl_value(key):
    try:
        with open(sysctl_path(key)) as handle:
            return ' '.join(handle.read().split())
    except (IOError, OSError):
        return None


def node_links():
    try:
        return sorted(name for name in os.listdir('/sys/class/net') if os.path.isdir('/sys/class/net/%s' % name))
    except OSError:
        return []


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kernel_modules=dict(type='list', elements='str', default=[]),
            modules_load_file=dict(type='path'),
            sysctls=dict(type='dict', default={}),
            sysctl_file=dict(type='path'),
            interfaces=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    links = node_links()
    facts = {'links': links, 'python': sys.executable, 'pyroute2': importlib.util.find_spec('pyroute2') is not None}
    sysctls = dict((key, ' '.join(str(value).split())) for key, value in params['sysctls'].items())

    missing = [nic for nic in params['interfaces'] if nic not in links]
    if missing:
        module.fail_json(msg='interfaces: %s not on this node (its interfaces: %s)' % (', '.join(missing),
                                                                                       ', '.join(links)),
                         field='interfaces', changed=False, changes=[], sysctls={}, **facts)

    files = {}
    if params['modules_load_file']:
        files[params['modules_load_file']] = modules_file_text(params['kernel_modules'])
    if params['sysctl_file']:
        files[params['sysctl_file']] = sysctl_file_text(params['sysctls'])
    old_files = dict((path, read_text(path)) for path in files)
    to_write = sorted(path for path, content in files.items() if old_files[path] != content)
    to_load = [name for name in params['kernel_modules'] if not module_present(name)]
    old_sysctls = dict((key, sysctl_value(key)) for key in sysctls)
    to_set = sorted((key, value) for key, value in sysctls.items()
                    if old_sysctls[key] is not None and old_sysctls[key] != value)

    changes = (['write %s' % path for path in to_write] + (['modprobe -a %s' % ' '.join(to_load)] if to_load else []) +
               ['sysctl %s=%s' % item for item in to_set])
    diff = [{'before_header': path, 'after_header': path, 'before': old_files[path] or '', 'after': files[path]}
            for path in to_write]
    if to_load or to_set:
        diff.append({'before_header': 'kernel modules and sysctls', 'after_header': 'kernel modules and sysctls',
                     'before': ''.join(['module %s: not loaded\n' % name for name in to_load] +
                                       ['%s = %s\n' % (key, old_sysctls[key]) for key, _value in to_set]),
                     'after': ''.join(['module %s: loaded\n' % name for name in to_load] +
                                      ['%s = %s\n' % item for item in to_set])})
    result = dict(changed=bool(changes), changes=changes, diff=diff, **facts)
    if module.check_mode:
        after = dict(old_sysctls)
        after.update(to_set)
        module.exit_json(sysctls=after, **result)

    for path in to_write:
        write_text(module, path, files[path])
    if to_load:
        rc, _out, err = module.run_command(['modprobe', '-a'] + to_load)
        if rc != 0:
            # the files are written already (they are right whatever the kernel says); nothing else was changed
            result.update(changed=bool(to_write), changes=['write %s' % path for path in to_write],
                          diff=diff[:len(to_write)])
            module.fail_json(msg='kernel_modules: modprobe -a %s failed: %s' % (' '.join(to_load), err.strip()),
                             field='kernel_modules', sysctls=old_sysctls, **result)
    for key, value in to_set:
        with open(sysctl_path(key), 'w') as handle:
            handle.write(value + '\n')
    result['sysctls'] = dict((key, sysctl_value(key)) for key in sysctls)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
