"""Does the RUNNING kernel have what the host-networking tests need?  Probed for real in a throwaway namespace."""

import functools
import os
import platform
import subprocess

FEATURES = ('bonding', '8021q', 'vlan_filtering')

# Runs inside ``unshare --net``: everything it creates disappears with the namespace when the shell exits.
_PROBE = r'''
fail() { echo "$1: $2" | tr '\n' ' '; exit 1; }
out=$(ip link add hnprobe0 type veth peer name hnprobe1 2>&1) || fail veth "$out"
out=$(ip link add hnprobebo type bond mode active-backup 2>&1) || fail bonding "$out"
out=$(ip link set hnprobe0 master hnprobebo 2>&1) || fail bonding "$out"
out=$(ip link add link hnprobebo name hnprobebo.100 type vlan id 100 2>&1) || fail 8021q "$out"
out=$(ip link add hnprobebr type bridge vlan_filtering 1 2>&1) || fail vlan_filtering "$out"
out=$(ip link set hnprobebo master hnprobebr 2>&1) || fail bridge "$out"
out=$(bridge vlan add dev hnprobebo vid 100 2>&1) || fail vlan_filtering "$out"
out=$(bridge vlan show dev hnprobebo 2>&1)
case "$out" in *100*) ;; *) fail vlan_filtering "VID 100 is not on the bridge port: $out" ;; esac
out=$(ip -d link show hnprobebr 2>&1)
case "$out" in *"vlan_filtering 1"*) ;; *) fail vlan_filtering "the bridge does not report vlan_filtering 1" ;; esac
echo ok
'''


@functools.lru_cache(maxsize=None)
def check():
    """Return ``(True, 'ok')`` when the running kernel can do bonding, 802.1Q and VLAN-filtering bridges,
    else ``(False, '<one-line reason>')``.  Needs root (or an unprivileged user namespace)."""
    argv = ['unshare', '--net', '--', 'sh', '-c', _PROBE]
    if os.geteuid() != 0:
        argv[1:1] = ['--map-root-user']
    try:
        result = subprocess.run(argv, check=False, timeout=300, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except FileNotFoundError:
        return False, 'unshare (util-linux) is not installed, cannot probe the kernel'
    except subprocess.TimeoutExpired:
        return False, 'the kernel feature probe timed out'
    output = ' '.join(result.stdout.split())
    if result.returncode == 0 and output.endswith('ok'):
        return True, 'ok'
    if 'not found' in output and ('ip:' in output or 'bridge:' in output):
        return False, 'iproute2 (ip, bridge) is not installed, cannot probe the kernel: %s' % output
    if result.returncode != 0 and output.split(':', maxsplit=1)[0] not in FEATURES + ('veth', 'bridge'):
        return False, 'cannot create a network namespace to probe the kernel (root needed?): %s' % output
    return False, 'the running kernel %s lacks %s' % (platform.release(), output)
