# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs of the cluster modules (pure data; the modules' DOCUMENTATION describes the same options)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

NETWORK_SETTING = dict(
    name=dict(type='str', required=True, choices=['storage-network', 'vm-migration-network']),
    cluster_network=dict(type='str'),
    vlan_id=dict(type='int'),
    range=dict(type='str'),
    exclude=dict(type='list', elements='str', default=[]),
    force=dict(type='bool', default=False),
    wait=dict(type='bool', default=False),
    wait_timeout=dict(type='int', default=600),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
)
NETWORK_SETTING_REQUIRED_IF = [('state', 'present', ('cluster_network', 'range'))]
