# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one cluster layer of harvester.network: auth, transport, discovery, apply service, pure builders, validation."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type
