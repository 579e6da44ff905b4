# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The host engine of harvester.network: bonds, VLAN-filtering bridges and VLAN trunks over netlink."""
