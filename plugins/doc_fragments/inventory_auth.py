# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options of the inventory plugin: the cluster modules' options (cluster_auth), with the same
K8S_AUTH_* environment variables declared the way plugin options declare them (modules use argspec fallbacks)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig content as a dictionary.
      - When neither this, O(host), O(api_key) nor O(client_cert) is given, E(KUBECONFIG) or C(~/.kube/config) is
        used, then the in-cluster service account.
    type: raw
    env:
      - name: K8S_AUTH_KUBECONFIG
  context:
    description:
      - The kubeconfig context to use instead of the current one.
    type: str
    env:
      - name: K8S_AUTH_CONTEXT
  host:
    description:
      - The API server URL, for example C(https://harvester.example.com:6443). Overrides the kubeconfig.
    type: str
    env:
      - name: K8S_AUTH_HOST
  api_key:
    description:
      - A bearer token to authenticate with. Overrides the kubeconfig user.
    type: str
    env:
      - name: K8S_AUTH_API_KEY
  validate_certs:
    description:
      - Whether to verify the API server's certificate. V(false) turns verification off; V(true) keeps what the
        kubeconfig says.
    type: bool
    default: true
    aliases: [verify_ssl]
    env:
      - name: K8S_AUTH_VERIFY_SSL
  ca_cert:
    description:
      - Path to the CA certificate that signed the API server's certificate. Overrides the kubeconfig.
    type: path
    aliases: [ssl_ca_cert]
    env:
      - name: K8S_AUTH_SSL_CA_CERT
  client_cert:
    description:
      - Path to a client certificate to authenticate with; needs O(client_key).
    type: path
    aliases: [cert_file]
    env:
      - name: K8S_AUTH_CERT_FILE
  client_key:
    description:
      - Path to the private key of O(client_cert).
    type: path
    aliases: [key_file]
    env:
      - name: K8S_AUTH_KEY_FILE
  proxy:
    description:
      - URL of an HTTP(S) proxy to reach the API server through.
    type: str
    env:
      - name: K8S_AUTH_PROXY
requirements:
  - kubernetes >= 24.2.0 (the Python client)
'''
