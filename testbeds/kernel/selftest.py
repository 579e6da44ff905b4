"""``python -m testbeds.kernel selftest``: prove the bed's own mechanics end to end.

One guest boot checks: the exit code comes back, stdout and stderr arrive separately, the working directory and the
environment (also values with spaces and quotes) are kept, the repository is writable in memory without touching the
host, a ``--rw`` folder is the real host folder, the kernel modules load, and loopback HTTP servers on the host are
reachable through ``--hostfwd`` (two ports, two connections each).  A second boot checks that the timeout kills QEMU
(exit 124) and that no QEMU process or temporary folder is left behind.
"""

import http.server
import io
import os
import shutil
import sys
import tempfile
import textwrap
import threading
import time
from xml.sax.saxutils import quoteattr

from testbeds.common import REPO_ROOT, progress
from testbeds.kernel import guest

BODY = b'hello from the host\n'
EXIT = 7

_GUEST_SCRIPT = textwrap.dedent('''
    import os, sys, urllib.request
    mode, ports, rw_dir, marker, expect_cwd = sys.argv[1:6]
    problems = []
    if os.getcwd() != expect_cwd:
        problems.append('cwd is %s' % os.getcwd())
    if os.environ.get('HN_SELFTEST_VALUE') != "a b 'c' $d":
        problems.append('HN_SELFTEST_VALUE is %r' % os.environ.get('HN_SELFTEST_VALUE'))
    if os.environ.get('HN_KERNEL_BED') != mode:
        problems.append('HN_KERNEL_BED is %r' % os.environ.get('HN_KERNEL_BED'))
    if mode == 'guest':
        if not os.path.isdir('/sys/module/bonding') or not os.path.isdir('/sys/module/8021q'):
            problems.append('bonding/8021q modules not loaded')
        with open(os.path.join(expect_cwd, marker), 'w') as handle:   # the repo: writable in memory only
            handle.write('guest only')
    with open(os.path.join(rw_dir, 'result.txt'), 'w') as handle:
        handle.write('written by the command')
    for attempt, port in enumerate(ports.split(',') * 2):
        url = 'http://%s:%s/%d' % (os.environ['HN_HOSTFWD_ADDR'], port, attempt)
        with urllib.request.urlopen(url, timeout=30) as response:
            if response.read() != b'hello from the host\\n':
                problems.append('wrong body from %s' % url)
    print('stdout-marker')
    print('stderr-marker', file=sys.stderr)
    for problem in problems:
        print('PROBLEM: ' + problem, file=sys.stderr)
    sys.exit(EXIT if not problems else 1)
''').replace('EXIT', str(EXIT))


class _Handler(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):  # pylint: disable=invalid-name
        """Answer every GET with BODY."""
        self.hits.append((self.server.server_address[1], self.path))
        self.send_response(200)
        self.send_header('Content-Length', str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Quiet."""


def _qemu_children():
    """QEMU processes started by this process and still alive."""
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % pid, encoding='utf-8') as handle:
                stat = handle.read()
            with open('/proc/%s/cmdline' % pid, 'rb') as handle:
                cmdline = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(')', 1)[1].split()[1])
        if ppid == os.getpid() and b'qemu-system' in cmdline:
            found.append(int(pid))
    return found


CHECKS = ('exit code', 'stdout', 'stderr', '--rw folder', 'repository stays read-only', '--hostfwd', 'timeout',
          'no QEMU left', 'no temporary folder left')


def write_junit(path, mode, failures, seconds):
    """One JUnit test case per check (``failures``: [(check, text)]), for scripts/test.sh's closing total."""
    failed = dict(failures)
    cases = []
    for check in CHECKS:
        body = '<failure message=%s/>' % quoteattr(failed[check]) if check in failed else ''
        cases.append('  <testcase classname="testbeds.kernel.selftest.%s" name=%s>%s</testcase>' % (
            mode, quoteattr(check), body))
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('<?xml version="1.0" encoding="utf-8"?>\n<testsuites><testsuite name="kernel-selftest" '
                     'tests="%d" failures="%d" time="%.1f">\n%s\n</testsuite></testsuites>\n'
                     % (len(CHECKS), len(failed), seconds, '\n'.join(cases)))


def main(mode='guest', junitxml=None):
    """Run the checks (``mode``: guest, native or auto); return 0 when all pass."""
    if mode == 'auto':
        from testbeds.kernel import probe  # pylint: disable=import-outside-toplevel
        mode = 'native' if probe.check()[0] else 'guest'
    failures = []
    begun = time.monotonic()
    scratch = tempfile.mkdtemp(prefix='hn-selftest-')
    saved_tempdir = tempfile.tempdir
    servers = [http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler) for _index in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        jobs = os.path.join(scratch, 'jobs')
        os.mkdir(jobs)
        tempfile.tempdir = jobs  # the bed's job folders land here, so leftovers are visible
        rw_dir = os.path.join(scratch, 'rw')
        marker = '.hn-selftest-%d' % os.getpid()
        ports = [server.server_address[1] for server in servers]
        out, err = io.BytesIO(), io.BytesIO()
        started = time.monotonic()
        rc = guest.run([sys.executable, '-c', _GUEST_SCRIPT, mode, ','.join(map(str, ports)), rw_dir, marker, REPO_ROOT],
                       mode=mode, timeout=300, rw=[rw_dir], hostfwd=ports, cwd=REPO_ROOT,
                       env={'HN_SELFTEST_VALUE': "a b 'c' $d"}, stdout=out, stderr=err)
        progress('selftest: command run took %.1fs' % (time.monotonic() - started))
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
        if rc != EXIT:
            failures.append(('exit code', 'exit code %s, expected %d; stderr:\n%s' % (rc, EXIT, stderr)))
        if stdout.strip() != 'stdout-marker':
            failures.append(('stdout', 'stdout was %r' % stdout))
        if 'stderr-marker' not in stderr or 'stdout-marker' in stderr:
            failures.append(('stderr', 'stderr was %r' % stderr))
        try:
            with open(os.path.join(rw_dir, 'result.txt'), encoding='utf-8') as handle:
                if handle.read() != 'written by the command':
                    failures.append(('--rw folder', 'wrong content'))
        except OSError as exc:
            failures.append(('--rw folder', str(exc)))
        if mode == 'guest' and os.path.exists(os.path.join(REPO_ROOT, marker)):
            os.unlink(os.path.join(REPO_ROOT, marker))
            failures.append(('repository stays read-only', 'a write to the repository in the guest reached the host'))
        if sorted(_Handler.hits) != sorted([(ports[0], '/0'), (ports[1], '/1'), (ports[0], '/2'), (ports[1], '/3')]):
            failures.append(('--hostfwd', 'the host server saw %r' % _Handler.hits))

        started = time.monotonic()
        rc = guest.run(['sleep', '600'], mode=mode, timeout=20, stdout=out, stderr=err)
        took = time.monotonic() - started
        progress('selftest: timeout run took %.1fs' % took)
        if rc != guest.TIMEOUT_EXIT or took > 60:
            failures.append(('timeout', 'exit %s after %.1fs, expected %d after ~20s' % (rc, took, guest.TIMEOUT_EXIT)))
        if _qemu_children():
            failures.append(('no QEMU left', 'QEMU processes left behind: %r' % _qemu_children()))
        if os.listdir(jobs):
            failures.append(('no temporary folder left', 'temporary folders left behind: %r' % os.listdir(jobs)))
    finally:
        tempfile.tempdir = saved_tempdir
        for server in servers:
            server.shutdown()
            server.server_close()
        shutil.rmtree(scratch, ignore_errors=True)
    if junitxml:
        write_junit(junitxml, mode, failures, time.monotonic() - begun)
    for check, text in failures:
        progress('selftest: FAIL: %s: %s' % (check, text))
    progress('selftest: %s' % ('all checks passed' if not failures else '%d check(s) failed' % len(failures)))
    return 1 if failures else 0
