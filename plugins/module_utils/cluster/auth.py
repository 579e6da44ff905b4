# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options, named as kubernetes.core names them (their spec is in argspecs.py), and the client
configuration built from them.

Precedence, as in kubernetes.core: an explicit option, else its ``K8S_AUTH_*`` environment variable (argument_spec
fallback), else the kubeconfig (``kubeconfig`` option, ``KUBECONFIG`` or ``~/.kube/config``), else the in-cluster
service account.  Options given explicitly override what the kubeconfig says.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.harvester.network.plugins.module_utils.cluster.argspecs import AUTH_ARG_SPEC
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ConfigError

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException
except ImportError:  # reported by the module through missing_required_lib
    k8s_client = None
    k8s_config = None

    class ConfigException(Exception):
        """Stands in for kubernetes.config.ConfigException when the client is missing."""

AUTH_OPTION_NAMES = tuple(AUTH_ARG_SPEC)


def _readable_file(option, path):
    if not os.path.isfile(path):
        raise ConfigError('file %s does not exist: give the path of a readable file' % path, field=option)
    if not os.access(path, os.R_OK):
        raise ConfigError('file %s is not readable by this user' % path, field=option)


def build_configuration(params):
    """Return a ``kubernetes.client.Configuration`` for the auth options in ``params`` (module params dict)."""
    configuration = k8s_client.Configuration()
    kubeconfig = params.get('kubeconfig')
    context = params.get('context')
    explicit = params.get('host') or params.get('api_key') or params.get('client_cert')
    try:
        if isinstance(kubeconfig, dict):
            k8s_config.load_kube_config_from_dict(kubeconfig, context=context, client_configuration=configuration,
                                                  persist_config=False)
        elif kubeconfig:
            path = os.path.expanduser(str(kubeconfig))
            _readable_file('kubeconfig', path)
            k8s_config.load_kube_config(config_file=path, context=context, client_configuration=configuration,
                                        persist_config=False)
        elif not explicit:
            default = os.path.expanduser(os.environ.get('KUBECONFIG', '~/.kube/config').split(os.pathsep)[0])
            if os.path.isfile(default):
                k8s_config.load_kube_config(config_file=default, context=context,
                                            client_configuration=configuration, persist_config=False)
            elif os.environ.get('KUBERNETES_SERVICE_HOST'):
                k8s_config.load_incluster_config(client_configuration=configuration)
            else:
                raise ConfigError('no cluster connection settings found: set kubeconfig (or K8S_AUTH_KUBECONFIG), '
                                  'or host plus api_key or client_cert/client_key', field='kubeconfig')
    except ConfigError:
        raise
    except ConfigException as exc:
        raise ConfigError('cannot use this kubeconfig: %s. Check the file and the context name' % exc,
                          field='context' if context and 'context' in str(exc).lower() else 'kubeconfig')
    except Exception as exc:  # pylint: disable=broad-except  # yaml.YAMLError, ValueError, KeyError, OSError, ...
        raise ConfigError('cannot read this kubeconfig (%s: %s): give a valid kubeconfig YAML file'
                          % (type(exc).__name__, exc), field='kubeconfig')

    if params.get('host'):
        configuration.host = params['host']
    if not configuration.host or configuration.host == 'http://localhost':
        if not params.get('host') and not kubeconfig and explicit:
            raise ConfigError('host is required when no kubeconfig is used: give the API server URL, '
                              'e.g. https://harvester.example.com:6443', field='host')
    if not str(configuration.host).startswith(('https://', 'http://')):
        raise ConfigError('%r is not a URL: give the API server as https://HOST:PORT' % configuration.host,
                          field='host')
    if params.get('api_key'):
        configuration.api_key = {'authorization': 'Bearer %s' % params['api_key']}
    for option, attribute in (('ca_cert', 'ssl_ca_cert'), ('client_cert', 'cert_file'), ('client_key', 'key_file')):
        if params.get(option):
            _readable_file(option, params[option])
            setattr(configuration, attribute, params[option])
    if bool(getattr(configuration, 'cert_file', None)) != bool(getattr(configuration, 'key_file', None)):
        raise ConfigError('client_cert and client_key go together: give both or neither', field='client_key')
    if params.get('validate_certs') is False:
        configuration.verify_ssl = False
    if params.get('proxy'):
        configuration.proxy = params['proxy']
    return configuration
