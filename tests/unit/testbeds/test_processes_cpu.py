"""testbeds.common.processes_cpu: the CPU seconds of running processes picked by their command line, read from /proc
(what the benchmarks count as the bed's share). The witness is a child process that burns CPU and the kernel's own
accounting of it as seen by the parent once the child has been reaped (RUSAGE_CHILDREN)."""

import resource
import subprocess
import sys
import time
import uuid

from testbeds.common import processes_cpu

BURN = 'import sys, time\nend = time.process_time() + float(sys.argv[1])\nwhile time.process_time() < end:\n    pass\n' \
       'sys.stdin.read()\n'


def test_counts_the_marked_process_and_nothing_else():
    marker = 'hn-marker-%s' % uuid.uuid4().hex
    assert processes_cpu(marker) is None  # no such process yet
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = subprocess.Popen([sys.executable, '-c', BURN, '0.3', marker], stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        seen = 0.0
        while time.monotonic() < deadline:
            seen = processes_cpu(marker) or 0.0
            if seen >= 0.3:
                break
            time.sleep(0.05)
        assert processes_cpu(marker, program='no-such-program') is None  # the program filter applies
    finally:
        child.communicate(b'')
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    reaped = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert 0.3 <= seen <= reaped + 0.02  # what /proc showed while it ran, against what the kernel accounted at its end
    assert processes_cpu(marker) is None  # gone with the process
