# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Files on the node, written atomically: a reader never sees half a file, and a failed write leaves the old one.

Standard library only, and nothing else of this package: any module of the collection may import it (persist.py
writes the saved state, the boot runner and the unit with it)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile


def write_atomic(path, data, mode=0o644):
    """Replace ``path`` with ``data`` (bytes, or text written as UTF-8) in one rename: a temporary file in the same
    folder (created with its parents when missing) gets the data and ``mode`` first.  A failure removes it."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(path))
    try:
        with os.fdopen(handle, 'wb') as stream:
            stream.write(data if isinstance(data, bytes) else data.encode('utf-8'))
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_bytes(path):
    """The content of ``path``, or None when it cannot be read (missing, a folder, no permission)."""
    try:
        with open(path, 'rb') as stream:
            return stream.read()
    except (IOError, OSError):
        return None
