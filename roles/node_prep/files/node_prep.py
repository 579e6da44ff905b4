#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node side of the node_prep role, in one run: read the node, check the inputs against it, then (unless
--check) change only what differs. Prints one JSON document; changes nothing when a check fails.

    node_prep.py [--check] SPEC

SPEC is base64 of a JSON object: ``modules`` (names), ``sysctls`` ({key: value}), ``files`` ({path: content}),
``nics`` (NICs that must exist). The result:

    changed   whether anything changed (or, with --check, would)
    changes   what, one line each
    error     why nothing was changed (an input does not fit this node), or null
    pyroute2  whether the Python running this script finds pyroute2 (found, not imported: importing it is slow)
    python    that Python
    links     the node's network interfaces
    sysctls   {key: value after the run, or null when the key does not exist (its module is not loaded)}

Modules are loaded with modprobe; sysctls are written to /proc/sys (a key that does not exist is skipped: systemd
applies it from the sysctl.d file when its module loads); files are replaced atomically (mode 0644) when they differ.
"""

import base64
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile


def module_present(name):
    normal = name.replace('-', '_')
    if os.path.isdir('/sys/module/%s' % normal):
        return True
    try:
        with open('/lib/modules/%s/modules.builtin' % platform.release()) as handle:
            return any(os.path.basename(line.strip()).split('.ko')[0].replace('-', '_') == normal for line in handle)
    except OSError:
        return False


def sysctl_path(key):
    return '/proc/sys/%s' % key.replace('.', '/')


def sysctl_value(key):
    try:
        with open(sysctl_path(key)) as handle:
            return ' '.join(handle.read().split())
    except OSError:
        return None


def read_file(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def write_file(path, content):
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, 0o755)
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


def main(argv):
    check = '--check' in argv
    spec = json.loads(base64.b64decode([arg for arg in argv if arg != '--check'][0]).decode('utf-8'))
    try:
        links = sorted(name for name in os.listdir('/sys/class/net') if os.path.isdir('/sys/class/net/%s' % name))
    except OSError:
        links = []
    result = {'changed': False, 'changes': [], 'error': None, 'links': links, 'python': sys.executable,
              'pyroute2': importlib.util.find_spec('pyroute2') is not None}
    missing_nics = [nic for nic in spec.get('nics', []) if nic not in links]
    if missing_nics:
        result['error'] = '%s not on this node (its interfaces: %s)' % (', '.join(missing_nics), ', '.join(links))
    missing_modules = [name for name in spec.get('modules', []) if not module_present(name)]
    files = dict((path, content) for path, content in spec.get('files', {}).items() if read_file(path) != content)
    sysctls = {}
    for key, value in spec.get('sysctls', {}).items():
        current = sysctl_value(key)
        if current is not None and current != ' '.join(str(value).split()):
            sysctls[key] = str(value)
    result['changes'] = (['write %s' % path for path in sorted(files)] +
                         (['modprobe -a %s' % ' '.join(missing_modules)] if missing_modules else []) +
                         ['sysctl %s=%s' % item for item in sorted(sysctls.items())])
    if result['error'] is None and not check:
        for path, content in sorted(files.items()):
            write_file(path, content)
        if missing_modules:
            proc = subprocess.run(['modprobe', '-a'] + missing_modules, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                result['error'] = 'modprobe -a %s failed: %s' % (' '.join(missing_modules), proc.stderr.strip())
        for key, value in sorted(sysctls.items()):
            with open(sysctl_path(key), 'w') as handle:
                handle.write(value + '\n')
    if missing_nics:
        result['changes'] = []  # nothing was done
    result['changed'] = bool(result['changes'])
    result['sysctls'] = dict((key, sysctl_value(key)) for key in spec.get('sysctls', {}))
    json.dump(result, sys.stdout, sort_keys=True)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
