"""Add up the JUnit XML files of the test phases and print one closing line for the whole run.

Usage: python -m testbeds.summary DIR -- prints per-file counts and then ``total: N passed, N failed, N skipped``.
"""

import glob
import os
import sys
import xml.etree.ElementTree as ET


def count(path):
    """Return (passed, failed, skipped) for one JUnit XML file."""
    root = ET.parse(path).getroot()
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


def main(argv):
    folder = argv[1] if len(argv) > 1 else 'tests/output/junit'
    totals = [0, 0, 0]
    for path in sorted(glob.glob(os.path.join(folder, '*.xml'))):
        counts = count(path)
        totals = [a + b for a, b in zip(totals, counts)]
        sys.stdout.write('%-40s %d passed, %d failed, %d skipped\n' % ((os.path.basename(path),) + counts))
    sys.stdout.write('total: %d passed, %d failed, %d skipped\n' % tuple(totals))
    return 1 if totals[1] else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
