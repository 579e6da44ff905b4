"""Add up the JUnit XML files of the test phases and print one closing line for the whole run.

Usage::

    python -m testbeds.summary DIR [--phases "sanity unit host"] [--failed "host"]

prints per-file counts and then ``total: N passed, N failed, N skipped``.  With ``--phases`` (the phases the run
asked for) every phase must have left its JUnit files (``PHASE_FILES``) holding at least one test case; a phase that
left none, or only empty ones, crashed before its tests ran: it is named and counted as one failed test.  With
``--failed`` (the phases that exited non-zero), a phase whose files record no failure still counts as one failed
test, so the closing line never reads "0 failed" for a run that failed.  Exits 1 when anything failed.
"""

import argparse
import fnmatch
import glob
import os
import sys
import xml.etree.ElementTree as ET

# The JUnit files each phase of scripts/test.sh writes into DIR (shell patterns); a phase not listed writes
# ``<phase>.xml``.  ansible-test writes one file per sanity test.  The host phase's second guest session writes
# host-b.xml when scripts/test.sh runs one (TEST_HOST_B): it then asks for the phase ``host-b`` too.
PHASE_FILES = {
    'sanity': ['ansible-test-sanity-*.xml'],
    'host': ['host-selftest.xml', 'host.xml', 'host-reboot.xml'],
}


def count(path):
    """Return (passed, failed, skipped) for one JUnit XML file (unreadable XML: one failed)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return 0, 1, 0
    suites = [root] if root.tag == 'testsuite' else root.findall('testsuite')
    passed = failed = skipped = 0
    for suite in suites:
        for case in suite.iter('testcase'):
            if case.find('failure') is not None or case.find('error') is not None:
                failed += 1
            elif case.find('skipped') is not None:
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped


def phase_of(filename, phases):
    """The requested phase a JUnit file belongs to, or None."""
    for phase in phases:
        if any(fnmatch.fnmatch(filename, pattern) for pattern in PHASE_FILES.get(phase, ['%s.xml' % phase])):
            return phase
    return None


def problems_of(phases, failed, files):
    """Lines naming each requested phase that left no usable JUnit file or failed without a recorded failure.

    ``files`` maps a file name to its (passed, failed, skipped)."""
    problems = []
    for phase in phases:
        for pattern in PHASE_FILES.get(phase, ['%s.xml' % phase]):
            matched = [name for name in files if fnmatch.fnmatch(name, pattern)]
            if not matched:
                problems.append('phase %s: no JUnit file %s (the phase crashed before writing it)' % (phase, pattern))
            elif not any(sum(files[name]) for name in matched):
                problems.append('phase %s: %s holds no test case (nothing ran)' % (phase, pattern))
    for phase in failed:
        owner = phase if phase in phases else next((p for p in phases if phase.startswith(p + '-')), phase)
        recorded = sum(counts[1] for name, counts in files.items() if phase_of(name, [owner]))
        if not recorded and not any(line.startswith('phase %s:' % owner) for line in problems):
            problems.append('phase %s: exited non-zero, but its JUnit files record no failure' % phase)
    return problems


def main(argv):
    parser = argparse.ArgumentParser(prog='python -m testbeds.summary', description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('folder', nargs='?', default='tests/output/junit')
    parser.add_argument('--phases', default='', help='the phases the run asked for (space separated)')
    parser.add_argument('--failed', default='', help='the phases that exited non-zero (space separated)')
    args = parser.parse_args(argv[1:])
    phases, failed = args.phases.split(), args.failed.split()
    files = {}
    totals = [0, 0, 0]
    for path in sorted(glob.glob(os.path.join(args.folder, '*.xml'))):
        counts = count(path)
        files[os.path.basename(path)] = counts
        totals = [a + b for a, b in zip(totals, counts)]
        sys.stdout.write('%-40s %d passed, %d failed, %d skipped\n' % ((os.path.basename(path),) + counts))
    problems = problems_of(phases, failed, files)
    for line in problems:
        sys.stdout.write('%s: counted as 1 failed\n' % line)
    totals[1] += len(problems)
    sys.stdout.write('total: %d passed, %d failed, %d skipped\n' % tuple(totals))
    return 1 if totals[1] else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
