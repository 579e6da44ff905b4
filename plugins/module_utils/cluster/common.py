# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every cluster module shares: its AnsibleModule (``new_module``: the argument spec from argspecs.py), import
checks, a lazily connected ``Cluster`` and one ``run`` that calls the module's handler and turns ClusterErrors into
``fail_json`` messages. A cluster module's main() is ``run(new_module(NAME), handler)``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.harvester.network.plugins.module_utils.cluster.argspecs import module_spec
from ansible_collections.harvester.network.plugins.module_utils.cluster.auth import build_configuration
from ansible_collections.harvester.network.plugins.module_utils.cluster.discovery import Discovery
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ClusterError, ValidationError
from ansible_collections.harvester.network.plugins.module_utils.cluster.service import ResourceService
from ansible_collections.harvester.network.plugins.module_utils.cluster.transport import Transport

try:
    import kubernetes  # noqa: F401  pylint: disable=unused-import
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

try:
    import netaddr  # noqa: F401  pylint: disable=unused-import
    NETADDR_IMPORT_ERROR = None
except ImportError:
    NETADDR_IMPORT_ERROR = traceback.format_exc()


class Cluster(object):
    """One module run's view of the cluster; connects on first use so pure validation can fail first."""

    def __init__(self, params, check_mode=False, transport=None):
        self.params = params
        self.check_mode = check_mode
        self._transport = transport
        self._discovery = None
        self._service = None

    @property
    def transport(self):
        if self._transport is None:
            self._transport = Transport(build_configuration(self.params))
        return self._transport

    @property
    def discovery(self):
        if self._discovery is None:
            self._discovery = Discovery(self.transport)
        return self._discovery

    @property
    def service(self):
        if self._service is None:
            self._service = ResourceService(self.transport, check_mode=self.check_mode,
                                            force_conflicts=bool(self.params.get('force_conflicts')))
        return self._service


def new_module(name):
    """The AnsibleModule of cluster module ``name``, its argument spec from argspecs.py."""
    return AnsibleModule(**module_spec(name))


def run(module, handler, needs_netaddr=False):
    """Check imports, call ``handler(params, cluster, module) -> result dict``, exit or fail with a clear message."""
    if KUBERNETES_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=KUBERNETES_IMPORT_ERROR)
    if needs_netaddr and NETADDR_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('netaddr'), exception=NETADDR_IMPORT_ERROR)
    cluster = Cluster(module.params, module.check_mode)
    try:
        result = handler(module.params, cluster, module)
    except ClusterError as exc:
        extra = {'error_type': type(exc).__name__}
        if exc.field:
            extra['field'] = exc.field
        if isinstance(exc, ValidationError):
            extra['errors'] = exc.errors  # every problem, each naming its field (as the host modules report them)
        for key, value in (getattr(exc, 'details', None) or {}).items():
            extra.setdefault(key, value)  # e.g. a wait that failed after the write: changed, the nodes' states
        module.fail_json(msg=str(exc), **extra)
    module.exit_json(**result)
