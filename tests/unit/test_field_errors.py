"""One validation-error model for the host and the cluster modules (plugins/module_utils/host/field_errors.py):
every error of a run collected, each naming its field, the messages as users read them."""

import os
import subprocess
import sys

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster import networks, vms
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ClusterError, ValidationError
from ansible_collections.harvester.network.plugins.module_utils.host import persist, validate
from ansible_collections.harvester.network.plugins.module_utils.host.field_errors import FieldError, field_message


def test_field_message():
    assert field_message('mtu', 'MTU 100 is out of range') == 'mtu: MTU 100 is out of range'
    assert field_message('mtu', 'mtu: already named') == 'mtu: already named'
    assert field_message(None, 'no field') == 'no field'
    # a message that merely begins with the field's text still gets the field
    assert field_message('interfaces', 'interfaces0 is taken') == 'interfaces: interfaces0 is taken'


def test_one_error_reads_as_before():
    error = ValidationError('must be a non-empty string', field='name')
    assert isinstance(error, FieldError) and isinstance(error, ClusterError)
    assert str(error) == 'name: must be a non-empty string'
    assert (error.field, error.fields, error.errors) == ('name', ['name'], ['name: must be a non-empty string'])


def test_cluster_collects_every_error():
    params = {'name': 'Bad_Name', 'cluster_network': 'data', 'state': 'present', 'nics': ['eth1', 'eth 2', 'eth1'],
              'mtu': 100, 'miimon': -1, 'tx_queue_len': None, 'hardware_addr': None, 'node_selector': None}
    with pytest.raises(ValidationError) as info:
        networks.validate_vlan_config(params)
    error = info.value
    assert error.fields == ['name', 'nics[1]', 'nics', 'mtu', 'miimon']
    assert error.field == 'name' and str(error).startswith('name: ')
    assert str(error) == '; '.join(error.errors)
    assert "nics[1]: 'eth 2' is not a Linux interface name" in str(error)
    assert 'nics: eth1 listed twice' in error.errors


def test_vm_collects_across_sections():
    params = {'name': 'vm1', 'namespace': 'default', 'state': 'present', 'cpu': 0, 'memory': '1Gi',
              'interfaces': [{'name': 'nic-1', 'network': 'default/vlan100', 'type': 'masquerade',
                              'ip_mode': 'static', 'addresses': None}],
              'disks': [{'name': 'cloudinitdisk', 'container_disk': 'img'}]}
    with pytest.raises(ValidationError) as info:
        vms.build_vm_spec(params)
    assert info.value.fields == ['cpu', 'interfaces[0].type', 'interfaces[0].addresses', 'disks[0].name']


def test_host_collects_every_error_in_the_same_model():
    with pytest.raises(validate.ValidationError) as info:
        validate.bond_want({'name': 'bond-with-a-long-name', 'slaves': ['eth1', 'eth1'], 'mtu': 10})
    error = info.value
    assert isinstance(error, FieldError)
    assert error.fields == ['bond.name', 'bond.slaves', 'bond.mtu']
    assert error.errors[1] == 'bond.slaves: lists a slave more than once; list each NIC once'
    assert str(error) == '; '.join(error.errors)


def test_boot_copy_of_the_host_package_imports_alone(tmp_path):
    """The node's boot-time unit runs a copy of the host package alone: what validate imports is in it."""
    paths = persist.Paths(str(tmp_path))
    persist.install('{}', paths, python=sys.executable)
    code = ('import sys; sys.path.insert(0, %r); '
            'from ansible_collections.harvester.network.plugins.module_utils.host import engine, validate, field_errors; '
            'print(field_errors.__file__)' % paths.lib_dir)
    env = dict((k, v) for k, v in os.environ.items() if k not in ('PYTHONPATH', 'ANSIBLE_COLLECTIONS_PATH'))
    proc = subprocess.run([sys.executable, '-c', code], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith(paths.lib_dir)
