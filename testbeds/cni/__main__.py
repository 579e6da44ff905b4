"""``python -m testbeds.cni build [--force]``: build the reference CNI plugins (prints their folder, a CNI_PATH)."""

import argparse
import sys

from testbeds.cluster.gobuild import BuildError
from testbeds.cni import build


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m testbeds.cni', description=__doc__)
    sub = parser.add_subparsers(dest='command', required=True)
    cmd = sub.add_parser('build', help='build the plugins when missing; print their folder')
    cmd.add_argument('--force', action='store_true', help='build again even when they exist')
    args = parser.parse_args(argv)
    try:
        print(build(force=args.force))
    except BuildError as exc:
        sys.stderr.write('testbeds.cni: %s\n' % exc)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
