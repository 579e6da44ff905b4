"""Make the working tree importable as ``ansible_collections.harvester.network``.

Ansible (and ansible-test) find a collection by its path, ``<root>/ansible_collections/<ns>/<name>``.
The repository is the collection root, so the beds link it into the cache folder under that path;
``ANSIBLE_COLLECTIONS_PATH`` and ``sys.path`` then point at the link's root.
"""

import os

from testbeds.common import REPO_ROOT, cache_dir


def collections_root():
    """Return a folder that holds ``ansible_collections/harvester/network`` -> this working tree."""
    root = cache_dir('collections')
    parent = os.path.join(root, 'ansible_collections', 'harvester')
    os.makedirs(parent, exist_ok=True)
    link = os.path.join(parent, 'network')
    if os.path.islink(link) and os.readlink(link) == REPO_ROOT:
        return root
    tmp = '%s.%d' % (link, os.getpid())
    os.symlink(REPO_ROOT, tmp)
    os.replace(tmp, link)  # atomic, so concurrent test sessions never see a missing link
    return root
