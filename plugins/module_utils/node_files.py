# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Text files on a node, for the modules that write them (host_prep, host_dhcp_server): read one (None when it is
not there) and replace one atomically with Ansible's own atomic_move."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import tempfile


def read_text(path):
    """The file's text, or None when it cannot be read."""
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def write_text(module, path, content, mode=0o644):
    """Replace ``path`` with ``content`` atomically (a temporary file in the same folder, then atomic_move); the
    folder is made when missing."""
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, 0o755)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix='.%s.' % os.path.basename(path))
    with os.fdopen(handle, 'w') as stream:
        stream.write(content)
    os.chmod(tmp, mode)
    module.atomic_move(tmp, path)
