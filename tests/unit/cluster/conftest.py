"""cloud-init's own code, as Debian ships it, to check the network and user data we generate.

cloud-init is not on PyPI; Debian's ``cloud-init`` package (all-architecture, pure Python) is fetched with
``apt-get download`` into the project cache and unpacked, never installed (installing it would enable boot-time
services on this machine).  Its network-state parser and its ENI/netplan renderers are the validator for network
data; its published JSON schema for cloud-config validates user data.
"""

import glob
import json
import os
import subprocess
import sys

import pytest

from testbeds.common import cache_dir

PACKAGE = 'cloud-init'


def _unpacked():
    root = cache_dir('cloud-init')
    found = glob.glob(os.path.join(root, '*', 'usr', 'lib', 'python3', 'dist-packages', 'cloudinit'))
    return os.path.dirname(found[0]) if found else None


def _download(root):
    for attempt in range(2):
        result = subprocess.run(['apt-get', 'download', PACKAGE], cwd=root, capture_output=True, text=True, check=False)
        if result.returncode == 0:
            break
        if attempt == 0:
            subprocess.run(['apt-get', 'update', '-qq'], capture_output=True, check=False)
    debs = sorted(glob.glob(os.path.join(root, 'cloud-init_*.deb')))
    if not debs:
        raise RuntimeError('apt-get download cloud-init failed: %s' % result.stderr.strip())
    target = os.path.join(root, os.path.basename(debs[-1])[:-4])
    subprocess.run(['dpkg-deb', '-x', debs[-1], target], check=True)
    return os.path.join(target, 'usr', 'lib', 'python3', 'dist-packages')


def site_dir():
    """The folder holding the ``cloudinit`` package (downloaded and unpacked on first use)."""
    return _unpacked() or _download(cache_dir('cloud-init'))


def load():
    """Import cloud-init's network_state, eni and netplan modules and return them with the cloud-config schema."""
    path = site_dir()
    if path not in sys.path:
        sys.path.append(path)
    from cloudinit.net import eni, netplan, network_state  # pylint: disable=import-outside-toplevel,import-error
    with open(os.path.join(path, 'cloudinit', 'config', 'schemas', 'schema-cloud-config-v1.json'), encoding='utf-8') as f:
        schema = json.load(f)
    version = os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(path)))))
    return network_state, eni, netplan, schema, version


@pytest.fixture(scope='session')
def real_cloudinit():
    """(network_state, eni, netplan, cloud-config schema, package version) of Debian's cloud-init."""
    try:
        return load()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        # The validator is part of the proof: without it the test fails, it is never skipped.
        pytest.fail('cloud-init (the validator for generated cloud-init data) could not be fetched from Debian: %s' % exc)
