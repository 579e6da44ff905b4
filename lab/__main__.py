"""``python -m lab up|down|status|report|exec|playbook`` (run from the repository root with the project's venv).

    up        bring the lab up, converge it with playbooks/site.yml, prove it, print the report (make lab);
              exit 0 when every row passes; the lab stays up either way
    down      stop everything the lab runs and remove its folder (make lab-down)
    status    what runs (JSON)
    report    print the last report
    exec      run a command in the lab: `python -m lab exec --vm vm-a1 -- ping -c1 192.168.100.12`
    playbook  run a playbook (default playbooks/site.yml) against the running lab with its inventory and vars
"""

import argparse
import json
import os
import sys

from lab import channel, lifecycle, playbook
from lab.config import NS_PREFIX, PROFILE, PROFILE_VARS, ConfigError, Paths, World
from testbeds.common import REPO_ROOT, progress


def _up(args, paths):
    from lab.run import Lab  # pylint: disable=import-outside-toplevel
    lab = Lab(paths, World(args.profile))
    try:
        document = lab.up()
    except KeyboardInterrupt:
        progress('lab: interrupted; the lab stays up as far as it got: `make lab-down` removes it')
        return 130
    with open(paths.report_txt, encoding='utf-8') as handle:
        sys.stdout.write('\n' + handle.read())
    sys.stdout.write('\nReport: %s (JSON: %s)\n' % (paths.report_txt, paths.report_json))
    if lifecycle.keeper_pid(paths):
        sys.stdout.write('The lab stays up: `python -m lab exec --vm vm-a1 -- ip addr`, `python -m lab playbook`; '
                         '`make lab-down` removes it.\n')
    return 0 if document['summary']['result'] == 'PASS' else 1


def _down(_args, paths):
    done = lifecycle.stop(paths)
    progress('lab: %s' % ('; '.join(done) if done else 'nothing was up'))
    return 0


def _status(_args, paths):
    sys.stdout.write(json.dumps(lifecycle.status(paths), indent=1, sort_keys=True) + '\n')
    return 0 if lifecycle.keeper_pid(paths) else 3


def _report(args, paths):
    path = paths.report_json if args.json else paths.report_txt
    if not os.path.exists(path):
        sys.stderr.write('no report yet: run `make lab`\n')
        return 1
    with open(path, encoding='utf-8') as handle:
        sys.stdout.write(handle.read())
    return 0


def _exec(args, paths):
    cmd = args.cmd[1:] if args.cmd[:1] == ['--'] else args.cmd
    if not cmd:
        sys.stderr.write('give a command after --\n')
        return 2
    world = World()
    if args.vm:
        cmd = ['ip', 'netns', 'exec', world.netns('vm', args.vm)] + cmd
    elif args.ns:
        name = args.ns if args.ns.startswith(NS_PREFIX) else world.netns('node', args.ns) \
            if args.ns in world.nodes else world.netns(args.ns)
        cmd = ['ip', 'netns', 'exec', name] + cmd
    try:
        rc, out, err = channel.run(paths.run, cmd, timeout=args.timeout, cwd=REPO_ROOT)
    except channel.ChannelError as exc:
        sys.stderr.write('%s\n' % exc)
        return 125
    sys.stdout.buffer.write(out)
    sys.stderr.buffer.write(err)
    return rc


def _playbook(args, paths):
    cluster = lifecycle.read_json(paths.cluster_json)
    if not cluster or not lifecycle.keeper_pid(paths):
        sys.stderr.write('the lab is not up: run `make lab` first\n')
        return 1
    extra = args.args[1:] if args.args[:1] == ['--'] else args.args
    world = World(cluster.get('profile', PROFILE))
    run = playbook.run(paths.run, cluster['kubeconfig'], world.vars_files, os.path.basename(args.playbook),
                       paths.state('logs', 'playbook.log'), playbook=os.path.abspath(args.playbook), extra=extra)
    sys.stdout.write('%s\nlog: %s\n' % (run.summary(), run.log_path))
    if run.rc:
        sys.stdout.write(run.tail(30))
    return run.rc


def _keeper(args, _paths):
    return lifecycle.keeper_main(os.path.abspath(args.state_dir), args.profile, args.ttl, args.extra_profile,
                                 args.node if args.harvester else None)


def parser():
    top = argparse.ArgumentParser(prog='python -m lab', description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument('--home', help='the lab folder (default $HN_LAB_HOME or <cache>/lab)')
    sub = top.add_subparsers(dest='command', required=True)
    cmd = sub.add_parser('up', help='bring the lab up, converge, prove, report (make lab)')
    cmd.add_argument('--profile', choices=sorted(PROFILE_VARS), default=os.environ.get('HN_LAB_PROFILE') or PROFILE,
                     help='Harvester API generation: current (v1.1+) or legacy (v0.3/v1.0, the seed\'s); or plain '
                          '(KubeVirt + Multus, no Harvester); default $HN_LAB_PROFILE or %(default)s')
    cmd.set_defaults(func=_up)
    sub.add_parser('down', help='stop and remove the lab (make lab-down)').set_defaults(func=_down)
    sub.add_parser('status', help='what runs, as JSON (exit 3 when the lab is down)').set_defaults(func=_status)
    cmd = sub.add_parser('report', help='print the last report')
    cmd.add_argument('--json', action='store_true')
    cmd.set_defaults(func=_report)
    cmd = sub.add_parser('exec', help='run a command where the lab lives (optionally in one of its namespaces)')
    where = cmd.add_mutually_exclusive_group()
    where.add_argument('--ns', help='a namespace of the lab: node1, node2, sw, router, ext1, or a full hnlab-* name')
    where.add_argument('--vm', help="a VM stand-in's namespace, by the VM's name")
    cmd.add_argument('--timeout', type=float, default=300)
    cmd.add_argument('cmd', nargs=argparse.REMAINDER)
    cmd.set_defaults(func=_exec)
    cmd = sub.add_parser('playbook', help='run a playbook against the running lab (inventory and vars of the lab)')
    cmd.add_argument('playbook', nargs='?', default=os.path.join(REPO_ROOT, 'playbooks', 'site.yml'))
    cmd.add_argument('args', nargs=argparse.REMAINDER, help='more ansible-playbook arguments, after --')
    cmd.set_defaults(func=_playbook)
    cmd = sub.add_parser(lifecycle.KEEPER_MARKER, help=argparse.SUPPRESS)
    cmd.add_argument('state_dir')
    cmd.add_argument('--profile', default=PROFILE)
    cmd.add_argument('--ttl', type=float, required=True)
    cmd.add_argument('--extra-profile', action='append', default=[], choices=sorted(PROFILE_VARS))
    cmd.add_argument('--harvester', action='store_true', help="run Harvester's stand-in (lab/standin.py)")
    cmd.add_argument('--node', action='append', default=[], help='a Node object for the stand-in')
    cmd.set_defaults(func=_keeper)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    if os.geteuid() != 0 and args.command != 'report':
        sys.stderr.write('the lab creates network namespaces: run it as root\n')
        return 2
    paths = Paths(args.home)
    try:
        return args.func(args, paths)
    except (ConfigError, lifecycle.LabError) as exc:
        sys.stderr.write('lab: %s\n' % exc)
        return 1


if __name__ == '__main__':
    sys.exit(main())
