"""The slowest tests of a run, from the JUnit XML files its phases wrote (pytest's and ansible-test's).

Usage: python scripts/slowest_tests.py DIR [N] -- prints the N (default 10) longest test cases of all files in DIR,
with their phase (the file's name), so a run shows where its time went. Stdlib only; always exits 0.
"""

import glob
import os
import sys
import xml.etree.ElementTree as ET


def cases(folder):
    """[(seconds, phase, test id)] of every test case in ``folder``/*.xml."""
    found = []
    for path in sorted(glob.glob(os.path.join(folder, '*.xml'))):
        phase = os.path.splitext(os.path.basename(path))[0]
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError) as exc:
            sys.stderr.write('slowest_tests: %s: %s\n' % (path, exc))
            continue
        for case in root.iter('testcase'):
            try:
                seconds = float(case.get('time') or 0)
            except ValueError:
                continue
            name = '%s::%s' % (case.get('classname') or '', case.get('name') or '')
            found.append((seconds, phase, name.strip(':')))
    return found


def slowest(folder, count=10):
    return sorted(cases(folder), key=lambda item: -item[0])[:count]


def main(argv):
    folder = argv[1] if len(argv) > 1 else 'tests/output/junit'
    count = int(argv[2]) if len(argv) > 2 else 10
    rows = slowest(folder, count)
    sys.stdout.write('the %d slowest tests (JUnit files in %s):\n' % (len(rows), folder))
    width = max([len(phase) for _seconds, phase, _name in rows] + [5])
    for seconds, phase, name in rows:
        sys.stdout.write('  %8.1fs  %-*s  %s\n' % (seconds, width, phase, name))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
