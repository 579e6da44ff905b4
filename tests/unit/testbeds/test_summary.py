"""testbeds.summary: the closing total of scripts/test.sh counts crashed and silent phases as failed.

The JUnit files are written by a real pytest run (a throw-away test file in a subprocess), so the summary is checked
against what pytest really writes, not against XML this test made up."""

import os
import subprocess
import sys

import pytest

from testbeds import summary

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


@pytest.fixture(scope='module')
def junit(tmp_path_factory):
    """JUnit files from real pytest runs: passing.xml (2 passed, 1 skipped), failing.xml (1 passed, 1 failed),
    empty.xml (a run that collected nothing)."""
    folder = tmp_path_factory.mktemp('junit-src')
    (folder / 'test_two.py').write_text('import pytest\n\ndef test_a():\n    pass\n\ndef test_b():\n    pass\n\n'
                                        '@pytest.mark.skip(reason="x")\ndef test_c():\n    pass\n')
    (folder / 'test_one_fails.py').write_text('def test_ok():\n    pass\n\ndef test_bad():\n    assert 1 == 2\n')
    out = tmp_path_factory.mktemp('junit-out')
    for name, target in (('passing', 'test_two.py'), ('failing', 'test_one_fails.py'), ('empty', 'test_none.py')):
        if name == 'empty':
            (folder / target).write_text('')
        subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '--rootdir', str(folder),
                        '-c', os.devnull, str(folder / target), '--junitxml', str(out / ('%s.xml' % name))],
                       cwd=str(folder), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    return out


def run_summary(folder, *args):
    result = subprocess.run([sys.executable, '-m', 'testbeds.summary', str(folder)] + list(args), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    return result.returncode, result.stdout


def test_counts_of_real_pytest_junit(junit):
    assert summary.count(str(junit / 'passing.xml')) == (2, 0, 1)
    assert summary.count(str(junit / 'failing.xml')) == (1, 1, 0)
    assert summary.count(str(junit / 'empty.xml')) == (0, 0, 0)


def test_all_phases_present_and_green(junit, tmp_path):
    (tmp_path / 'unit.xml').write_bytes((junit / 'passing.xml').read_bytes())
    code, out = run_summary(tmp_path, '--phases', 'unit', '--failed', '')
    assert code == 0, out
    assert out.splitlines()[-1] == 'total: 2 passed, 0 failed, 1 skipped'


def test_a_phase_without_junit_is_named_and_counted(junit, tmp_path):
    (tmp_path / 'unit.xml').write_bytes((junit / 'passing.xml').read_bytes())
    code, out = run_summary(tmp_path, '--phases', 'unit host', '--failed', 'host')
    assert code == 1
    assert 'phase host: no JUnit file host-selftest.xml' in out and 'phase host: no JUnit file host.xml' in out
    assert 'phase host: no JUnit file host-reboot.xml' in out and 'host-b.xml' not in out  # no second session asked
    assert out.splitlines()[-1] == 'total: 2 passed, 3 failed, 1 skipped'
    code, out = run_summary(tmp_path, '--phases', 'unit host host-b', '--failed', 'host')
    assert code == 1 and 'phase host-b: no JUnit file host-b.xml' in out
    assert out.splitlines()[-1] == 'total: 2 passed, 4 failed, 1 skipped'


def test_a_phase_with_zero_test_cases_fails(junit, tmp_path):
    (tmp_path / 'unit.xml').write_bytes((junit / 'passing.xml').read_bytes())
    (tmp_path / 'cluster.xml').write_bytes((junit / 'empty.xml').read_bytes())
    code, out = run_summary(tmp_path, '--phases', 'unit cluster')  # even when the phase exited 0
    assert code == 1
    assert 'phase cluster: cluster.xml holds no test case' in out
    assert out.splitlines()[-1] == 'total: 2 passed, 1 failed, 1 skipped'


def test_a_failed_phase_whose_junit_says_passed_counts_as_failed(junit, tmp_path):
    """pytest wrote its file, then the bed (or the guest) failed: the run failed, the total must say so."""
    (tmp_path / 'host.xml').write_bytes((junit / 'passing.xml').read_bytes())
    (tmp_path / 'host-selftest.xml').write_bytes((junit / 'passing.xml').read_bytes())
    (tmp_path / 'host-reboot.xml').write_bytes((junit / 'passing.xml').read_bytes())
    (tmp_path / 'host-b.xml').write_bytes((junit / 'passing.xml').read_bytes())
    code, out = run_summary(tmp_path, '--phases', 'host host-b', '--failed', 'host-selftest host-b')
    assert code == 1
    assert 'phase host-selftest: exited non-zero, but its JUnit files record no failure' in out
    assert 'phase host-b: exited non-zero, but its JUnit files record no failure' in out
    assert out.splitlines()[-1] == 'total: 8 passed, 2 failed, 4 skipped'


def test_recorded_failures_are_not_counted_twice(junit, tmp_path):
    (tmp_path / 'unit.xml').write_bytes((junit / 'failing.xml').read_bytes())
    code, out = run_summary(tmp_path, '--phases', 'unit', '--failed', 'unit')
    assert code == 1
    assert out.splitlines()[-1] == 'total: 1 passed, 1 failed, 0 skipped'


def test_sanity_files_by_pattern_and_unknown_phase(junit, tmp_path):
    (tmp_path / 'ansible-test-sanity-pep8.xml').write_bytes((junit / 'passing.xml').read_bytes())
    code, out = run_summary(tmp_path, '--phases', 'sanity nosuch', '--failed', 'nosuch')
    assert code == 1
    assert 'phase nosuch: no JUnit file nosuch.xml' in out and 'phase sanity' not in out
    assert out.splitlines()[-1] == 'total: 2 passed, 1 failed, 1 skipped'


def test_selftest_junit_counts_each_check(tmp_path):
    """The bed's selftest writes one test case per check; a failed check is a failed test in the total."""
    from testbeds.kernel import selftest  # pylint: disable=import-outside-toplevel
    path = tmp_path / 'host-selftest.xml'
    selftest.write_junit(str(path), 'guest', [('exit code', 'exit code 0, expected 7 <&>')], 1.0)
    assert summary.count(str(path)) == (len(selftest.CHECKS) - 1, 1, 0)
    selftest.write_junit(str(path), 'guest', [], 1.0)
    assert summary.count(str(path)) == (len(selftest.CHECKS), 0, 0)
