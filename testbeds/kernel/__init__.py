"""The kernel test bed: run host-networking tests against a Linux kernel with bonding, 802.1Q and VLAN filtering.

On a kernel that has the features (a normal Linux box) commands run natively; elsewhere (this project's CI machines)
they run inside one QEMU TCG guest booting Debian's stock kernel, which sees the host's filesystem.

API (the CLI ``python -m testbeds.kernel prepare|check|run|selftest`` is a thin layer over it)::

    prepare() -> dict                       # download/unpack/cache the guest kernel and initramfs; idempotent
    check() -> (bool, str)                  # can the RUNNING kernel do bonding, 8021q and vlan_filtering?
    run(cmd, mode='auto', timeout=1800, mem=512, cpus=2, rw=(), hostfwd=(), env=None, cwd=None) -> int

Inside the command, ``HN_KERNEL_BED`` is ``guest`` or ``native`` and ``HN_HOSTFWD_ADDR`` is the address at which
the ``hostfwd`` ports are reachable (10.0.2.100 in the guest, 127.0.0.1 natively).
"""

from testbeds.kernel.guest import (
    DEFAULT_MEM, DEFAULT_TIMEOUT, FAILURE_EXIT, GUEST_ADDR, HOST_ADDR, TIMEOUT_EXIT, run,
)
from testbeds.kernel.image import PrepareError, prepare
from testbeds.kernel.probe import FEATURES, check

__all__ = [
    'DEFAULT_MEM', 'DEFAULT_TIMEOUT', 'FAILURE_EXIT', 'FEATURES', 'GUEST_ADDR', 'HOST_ADDR', 'TIMEOUT_EXIT',
    'PrepareError', 'check', 'prepare', 'run',
]
