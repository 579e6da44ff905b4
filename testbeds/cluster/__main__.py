"""Command line of the cluster test bed.

    python -m testbeds.cluster build [--parallel N] [--force]
    python -m testbeds.cluster up --state-dir DIR [--profile current|legacy|plain] [--tls-san NAME_OR_IP ...]
    python -m testbeds.cluster status --state-dir DIR
    python -m testbeds.cluster down --state-dir DIR
    python -m testbeds.cluster kubeconfig --state-dir DIR --server URL --output FILE
    python -m testbeds.cluster crds [--profile current|legacy|plain]

``up`` prints the kubeconfig path on stdout (progress goes to stderr) and leaves the servers running
in the background; ``down`` stops them and removes DIR.
"""

import argparse
import json
import os
import shutil
import signal
import sys
import time

import yaml

from testbeds.cluster import gobuild as _build
from testbeds.cluster import controlplane
from testbeds.common import progress


def _cmd_build(args):
    started = time.monotonic()
    path = _build.build(parallel=args.parallel, force=args.force)
    progress('kube-apiserver ready at %s (%.1f s)' % (path, time.monotonic() - started))
    print(path)
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt('signal %d' % signum)


def _cmd_up(args):
    state_dir = os.path.abspath(args.state_dir)
    current = controlplane.status(state_dir)
    if current is not None:
        servers = current['servers']
        key = 'kube-apiserver/%s' % args.profile
        if key in servers and servers[key]['alive'] and servers[key]['ready']:
            progress('already up in %s' % state_dir)
            print(os.path.join(state_dir, 'kubeconfig'))
            return 0
        sys.stderr.write('%s holds another or a broken test bed; run "down --state-dir %s" first\n'
                         % (state_dir, args.state_dir))
        return 1
    if os.path.exists(state_dir) and os.listdir(state_dir):
        sys.stderr.write('%s exists and is not empty; give a new or empty folder\n' % state_dir)
        return 1
    _build.build()  # says up front when this takes minutes
    plane = controlplane.ControlPlane(state_dir, tls_sans=args.tls_san, detached=True)
    signal.signal(signal.SIGTERM, _interrupt)  # a killed "up" cleans up like Ctrl-C does
    started = time.monotonic()
    try:
        progress('starting etcd and kube-apiserver (profile %s) in %s' % (args.profile, state_dir))
        server = plane.apiserver(args.profile, timeout=args.timeout)
    except BaseException as exc:  # also KeyboardInterrupt: never leave half a bed behind
        plane.stop(remove=True)
        if isinstance(exc, controlplane.ControlPlaneError):
            sys.stderr.write('%s\n' % exc)
            return 1
        raise
    path = server.write_kubeconfig(os.path.join(state_dir, 'kubeconfig'))
    progress('kube-apiserver %s ready in %.1f s, CRDs of profile %s established after %.1f s'
             % (server.server, server.ready_seconds, args.profile, time.monotonic() - started))
    print(path)
    return 0


def _cmd_status(args):
    state = controlplane.status(args.state_dir)
    if state is None:
        print(json.dumps({'state_dir': os.path.abspath(args.state_dir), 'servers': {}}, indent=2))
        return 3
    print(json.dumps(state, indent=2))
    servers = state['servers'].values()
    healthy = bool(state['servers']) and all(s['alive'] and s.get('ready', True) for s in servers)
    return 0 if healthy else 1


def _cmd_down(args):
    try:
        removed = controlplane.down(args.state_dir)
    except controlplane.ControlPlaneError as exc:
        sys.stderr.write('%s\n' % exc)
        return 1
    progress('stopped and removed %s' % args.state_dir if removed else 'nothing at %s' % args.state_dir)
    return 0


def _cmd_kubeconfig(args):
    """Copy DIR/kubeconfig with another server URL (e.g. https://10.0.2.100:6443 for a QEMU guest)."""
    source = os.path.join(args.state_dir, 'kubeconfig')
    if not os.path.exists(source):
        sys.stderr.write('no kubeconfig in %s; run up first\n' % args.state_dir)
        return 1
    with open(source, encoding='utf-8') as handle:
        config = yaml.safe_load(handle)
    for cluster in config['clusters']:
        cluster['cluster']['server'] = args.server
    tmp = args.output + '.tmp'
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w', encoding='utf-8') as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    shutil.move(tmp, args.output)
    print(args.output)
    return 0


def _cmd_crds(args):
    sys.stdout.write(yaml.safe_dump_all(controlplane.load_crds(args.profile), sort_keys=False, explicit_start=True))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m testbeds.cluster',
                                     description='A real kube-apiserver + etcd on 127.0.0.1 for the integration tests.')
    sub = parser.add_subparsers(dest='command', required=True)

    cmd = sub.add_parser('build', help='build kube-apiserver into the cache (the first build takes minutes)')
    cmd.add_argument('--parallel', type=int, default=2, help='concurrent compile jobs (default 2)')
    cmd.add_argument('--force', action='store_true', help='rebuild even if the binary exists')
    cmd.set_defaults(func=_cmd_build)

    cmd = sub.add_parser('up', help='start etcd + kube-apiserver in the background and print the kubeconfig path')
    cmd.add_argument('--state-dir', required=True)
    cmd.add_argument('--profile', choices=sorted(controlplane.PROFILES), default='current',
                     help='CRD profile: current (Harvester v1.1+), legacy (v0.3/v1.0) or plain '
                          '(KubeVirt + Multus only)')
    cmd.add_argument('--tls-san', action='append', default=[], metavar='NAME_OR_IP',
                     help='extra name or IP for the serving certificate (repeatable), e.g. 10.0.2.100')
    cmd.add_argument('--timeout', type=float, default=120.0, help='seconds to wait for readiness (default 120)')
    cmd.set_defaults(func=_cmd_up)

    cmd = sub.add_parser('status', help='print what runs (exit 0 all ready, 1 not all ready, 3 nothing)')
    cmd.add_argument('--state-dir', required=True)
    cmd.set_defaults(func=_cmd_status)

    cmd = sub.add_parser('down', help='stop the servers and remove the state folder')
    cmd.add_argument('--state-dir', required=True)
    cmd.set_defaults(func=_cmd_down)

    cmd = sub.add_parser('kubeconfig', help='write a copy of the kubeconfig with another server URL')
    cmd.add_argument('--state-dir', required=True)
    cmd.add_argument('--server', required=True, help='e.g. https://10.0.2.100:6443')
    cmd.add_argument('--output', required=True)
    cmd.set_defaults(func=_cmd_kubeconfig)

    cmd = sub.add_parser('crds', help='print the CRDs of a profile as YAML')
    cmd.add_argument('--profile', choices=sorted(controlplane.PROFILES), default='current')
    cmd.set_defaults(func=_cmd_crds)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (_build.BuildError, controlplane.ControlPlaneError) as exc:
        sys.stderr.write('error: %s\n' % exc)
        return 1


if __name__ == '__main__':
    sys.exit(main())
