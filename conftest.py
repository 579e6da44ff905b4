"""Root conftest: make the collection importable under its Ansible name for every test session."""

import os
import sys

from testbeds.collection import collections_root

_ROOT = collections_root()
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
os.environ['ANSIBLE_COLLECTIONS_PATH'] = _ROOT
