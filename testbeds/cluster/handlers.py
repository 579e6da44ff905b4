"""Call a cluster module's handler in-process against a bed's kube-apiserver, or run a playbook against it.

Shared by the cluster integration tests: most behaviour is tested through the handlers in one pytest process
(cheap), a few cases through real ``ansible-playbook`` (``run_playbook``).
"""

import os
import subprocess
import sys

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import Cluster

AUTH_DEFAULTS = dict(context=None, host=None, api_key=None, validate_certs=True, ca_cert=None, client_cert=None,
                     client_key=None, proxy=None, force_conflicts=False, api_generation='auto')


class ModuleStandIn(object):
    """What a handler uses of AnsibleModule: check_mode, _diff and warn()."""

    def __init__(self, check_mode=False):
        self.check_mode = check_mode
        self._diff = True
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


def call(server, handler, defaults, check=False, **params):
    """Run ``handler`` like the module would; returns (result, transport log)."""
    full = dict(AUTH_DEFAULTS, kubeconfig=server.kubeconfig)
    full.update(defaults)
    full.update(params)
    cluster = Cluster(full, check_mode=check)
    result = handler(full, cluster, ModuleStandIn(check))
    return result, cluster.transport.log


def read(server, path):
    status, body = server.request('GET', path)
    return body if status == 200 else None


def writes(log):
    return [entry for entry in log if entry[0] in ('PATCH', 'POST', 'PUT', 'DELETE')]


def run_playbook(server, tmp_path, text, *args):
    """Run a playbook with ansible-playbook against ``server`` (auth through K8S_AUTH_KUBECONFIG only)."""
    path = tmp_path / 'play.yml'
    path.write_text(text)
    env = dict(server.env)
    env.update({'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0', 'ANSIBLE_HOST_KEY_CHECKING': '0',
                'ANSIBLE_RETRY_FILES_ENABLED': '0', 'ANSIBLE_LOCALHOST_WARNING': '0',
                'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0', 'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
                'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'tmp'), 'ANSIBLE_COLLECTIONS_PATH': os.environ['ANSIBLE_COLLECTIONS_PATH']})
    binary = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    proc = subprocess.run([binary, '-i', 'localhost,', '-c', 'local', str(path)] + list(args), env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    return proc
