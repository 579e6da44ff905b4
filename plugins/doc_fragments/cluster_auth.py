# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the cluster modules: connection (named as kubernetes.core names them), apply, API generation."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig content as a dictionary.
      - When neither this, O(host), O(api_key) nor O(client_cert) is given, C(KUBECONFIG) or C(~/.kube/config) is
        used, then the in-cluster service account.
      - Can also be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
    type: raw
  context:
    description:
      - The kubeconfig context to use instead of the current one.
      - Can also be set with the E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - The API server URL, for example C(https://harvester.example.com:6443). Overrides the kubeconfig.
      - Can also be set with the E(K8S_AUTH_HOST) environment variable.
    type: str
  api_key:
    description:
      - A bearer token to authenticate with. Overrides the kubeconfig user.
      - Can also be set with the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's certificate. V(false) turns verification off; V(true) keeps what the
        kubeconfig says.
      - Can also be set with the E(K8S_AUTH_VERIFY_SSL) environment variable.
    type: bool
    default: true
    aliases: [verify_ssl]
  ca_cert:
    description:
      - Path to the CA certificate that signed the API server's certificate. Overrides the kubeconfig.
      - Can also be set with the E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate to authenticate with; needs O(client_key).
      - Can also be set with the E(K8S_AUTH_CERT_FILE) environment variable.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the private key of O(client_cert).
      - Can also be set with the E(K8S_AUTH_KEY_FILE) environment variable.
    type: path
    aliases: [key_file]
  proxy:
    description:
      - URL of an HTTP(S) proxy to reach the API server through.
      - Can also be set with the E(K8S_AUTH_PROXY) environment variable.
    type: str
requirements:
  - kubernetes >= 24.2.0 (the Python client; it brings PyYAML and urllib3)
notes:
  - Set the connection options once for every cluster module with
    C(module_defaults) and the action group C(group/harvester.network.cluster).
'''

    APPLY = r'''
options:
  force_conflicts:
    description:
      - Objects are written with server-side apply under the field manager C(harvester.network).
      - When another client (the Harvester UI, C(kubectl)) owns a field this task changes, the task fails and names
        the field; V(true) takes the field over instead.
      - Fields that Harvester's own network controller (field manager C(network-controller)) rewrote, such as the
        route annotation it adds C(connectivity) to or the MTU it syncs, are taken over without this option. The
        task sends only the fields its options set, so only those change hands; the controller keeps its
        finalizers, labels and status.
    type: bool
    default: false
'''

    GENERATION = r'''
options:
  api_generation:
    description:
      - Which Harvester network API the cluster serves.
      - V(legacy) is Harvester v0.3/v1.0 (ClusterNetwork C(vlan) with C(enable) and C(defaultPhysicalNIC), one
        NodeNetwork per node, bridge C(harvester-br0)).
      - V(current) is Harvester v1.1 and later (ClusterNetwork, VlanConfig, bridge C(<cluster network>-br)).
      - V(auto) detects it by API discovery (VlanConfig served means current, NodeNetwork served means legacy).
    type: str
    default: auto
    choices: [auto, legacy, current]
'''

    FLAVOR = r'''
options:
  flavor:
    description:
      - Which kind of cluster this is.
      - V(harvester) is a Harvester cluster (its network controller serves C(network.harvesterhci.io)).
      - V(plain) is KubeVirt with Multus and no Harvester (only the C(kubevirt.io) and C(k8s.cni.cncf.io) APIs).
        Networks are then bridge CNI NetworkAttachmentDefinitions on a node bridge you built (for example with
        M(harvester.network.host_bridge)), without Harvester's labels and annotations, and Harvester-only options
        are refused with a message naming them (see C(docs/plain-kubevirt.md)).
      - V(auto) detects it with the same API discovery request the module makes anyway (ClusterNetwork served
        means V(harvester)).
    type: str
    default: auto
    choices: [auto, harvester, plain]
'''
