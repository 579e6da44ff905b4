"""Root conftest: make the collection importable under its Ansible name for every test session, and keep
everything Ansible writes (``~/.ansible``: local temp files, galaxy caches) inside the project's cache folder."""

import os
import sys

from testbeds.collection import collections_root
from testbeds.common import cache_dir

_ROOT = collections_root()
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
os.environ['ANSIBLE_COLLECTIONS_PATH'] = _ROOT
os.environ.setdefault('ANSIBLE_HOME', cache_dir('ansible-home'))
