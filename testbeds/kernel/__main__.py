"""``python -m testbeds.kernel prepare|check|run|selftest`` (run from the repository root)."""

import argparse
import os
import sys

from testbeds.common import progress
from testbeds.kernel import guest, image, probe


def _parser():
    parser = argparse.ArgumentParser(prog='python -m testbeds.kernel', description=__doc__)
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('prepare', help='download and cache the guest kernel and initramfs (idempotent)')
    commands.add_parser('check', help='exit 0 if the running kernel can do bonding, 8021q and vlan_filtering')
    run = commands.add_parser('run', help='run a command where the kernel has the features: natively or in a guest',
                              usage='%(prog)s [options] -- CMD [ARGS...]')
    where = run.add_mutually_exclusive_group()
    where.add_argument('--auto', dest='mode', action='store_const', const='auto',
                       help='natively when the running kernel has the features, else in a guest (default)')
    where.add_argument('--guest', dest='mode', action='store_const', const='guest', help='always in a QEMU guest')
    where.add_argument('--native', dest='mode', action='store_const', const='native', help='always natively')
    run.set_defaults(mode='auto')
    run.add_argument('--timeout', type=float, default=guest.DEFAULT_TIMEOUT,
                     help='hard limit in seconds, boot included (default %(default)s); exit 124 when it fires')
    run.add_argument('--mem', type=int, default=guest.DEFAULT_MEM, help='guest memory in MB (default %(default)s)')
    run.add_argument('--cpus', type=int, default=guest.DEFAULT_CPUS, help='guest vCPUs (default %(default)s)')
    run.add_argument('--rw', action='append', default=[], metavar='DIR',
                     help='host folder the guest mounts read-write at the same path (repeatable)')
    run.add_argument('--hostfwd', action='append', default=[], type=int, metavar='PORT',
                     help='make the host service on 127.0.0.1:PORT reachable in the guest at 10.0.2.100:PORT')
    run.add_argument('--env', action='append', default=[], metavar='NAME[=VALUE]',
                     help='pass this environment variable to the command as well (repeatable)')
    run.add_argument('--verbose', action='store_true', help="stream the guest's console to stderr")
    run.add_argument('cmd', nargs=argparse.REMAINDER, help='the command, after --')
    selftest = commands.add_parser('selftest', help="prove the bed's own mechanics (exit code, env, cwd, --rw, "
                                                    '--hostfwd, output streams, timeout) in a guest')
    how = selftest.add_mutually_exclusive_group()
    how.add_argument('--native', dest='mode', action='store_const', const='native',
                     help='test the native path instead of the guest')
    how.add_argument('--auto', dest='mode', action='store_const', const='auto',
                     help='test the path `run` takes by default: native when the kernel has the features, else guest')
    selftest.set_defaults(mode='guest')
    selftest.add_argument('--junitxml', metavar='PATH', help='also write the checks as JUnit test cases to PATH')
    return parser


def _env(items):
    env = {}
    for item in items:
        name, sep, value = item.partition('=')
        if not sep:
            if name not in os.environ:
                continue
            value = os.environ[name]
        env[name] = value
    return env


def main(argv=None):
    """Entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == 'prepare':
        try:
            manifest = image.prepare()
        except image.PrepareError as exc:
            progress('kernel: prepare failed: %s' % exc)
            return 1
        print('%s %s: %s' % (manifest['package'], manifest['version'], manifest['folder']))
        return 0
    if args.command == 'check':
        ok, reason = probe.check()
        print(reason)
        return 0 if ok else 1
    if args.command == 'selftest':
        from testbeds.kernel import selftest  # pylint: disable=import-outside-toplevel
        return selftest.main(args.mode, junitxml=args.junitxml)
    cmd = args.cmd[1:] if args.cmd[:1] == ['--'] else args.cmd
    if not cmd:
        _parser().error('run needs a command after --')
    try:
        return guest.run(cmd, mode=args.mode, timeout=args.timeout, mem=args.mem, cpus=args.cpus, rw=args.rw,
                         hostfwd=args.hostfwd, env=_env(args.env), verbose=args.verbose)
    except (image.PrepareError, ValueError) as exc:
        progress('kernel: %s' % exc)
        return guest.FAILURE_EXIT
    except KeyboardInterrupt:
        progress('kernel: interrupted')
        return 130


if __name__ == '__main__':
    sys.exit(main())
