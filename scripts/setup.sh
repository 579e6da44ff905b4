#!/usr/bin/env bash
# Install everything the tests and the lab need, idempotently, into ONE cache folder
# ($HARVESTER_NETWORK_CACHE, default ~/.cache/harvester-network): Debian packages, the project venv
# (byte-compiled), the test kernel (only where the running kernel lacks bonding/802.1Q/VLAN filtering),
# the Go-built kube-apiserver and bridge CNI plugin, and the pip bootstrap ansible-test needs offline.
# Usage: scripts/setup.sh            (prints progress; safe to run again: a warm run takes seconds)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export HARVESTER_NETWORK_CACHE=${HARVESTER_NETWORK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/harvester-network}
CACHE=$HARVESTER_NETWORK_CACHE
VENV=$CACHE/venv
PYTHON=${PYTHON:-python3}
APT_PACKAGES="qemu-system-x86 busybox-static kmod cpio iproute2 iputils-ping procps dnsmasq-base
containernetworking-plugins etcd-server openssl git shellcheck"

step() { printf '==> [%s] %s\n' "$(date +%T)" "$*"; }

mkdir -p "$CACHE"
cd "$REPO"

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: run as root (the tests create network namespaces and install Debian packages)" >&2
  exit 2
fi

# 1. Debian packages (only the missing ones; 'apt-get update' only when something is missing).
missing=()
for pkg in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$CACHE/apt.log" 2>&1 || { tail -20 "$CACHE/apt.log"; exit 1; }
fi

# 2. The project venv, rebuilt when the requirements change, byte-compiled (PYTHONDONTWRITEBYTECODE=1 is
#    common on CI machines, and under QEMU's software emulation imports without .pyc files cost minutes).
want=$(cat requirements.txt requirements-test.txt | sha256sum | cut -c1-16)-$($PYTHON -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$(cat "$VENV/.requirements" 2>/dev/null)" != "$want" ]; then
  step "creating the project venv in $VENV (about a minute)"
  rm -rf "$VENV"
  $PYTHON -m venv "$VENV"
  "$VENV/bin/pip" install -q -r requirements-test.txt
  "$VENV/bin/python" -m compileall -q -j 0 "$VENV/lib" >/dev/null || true
  echo "$want" >"$VENV/.requirements"
fi
# The work tree's own byte code (ignored by git), for the same reason.
"$VENV/bin/python" -m compileall -q -j 0 plugins testbeds tests lab >/dev/null 2>&1 || true

# 3. The test kernel, only where the running kernel cannot do what the host modules need.
if "$VENV/bin/python" -m testbeds.kernel check >/dev/null 2>&1; then
  step "the running kernel has bonding, 802.1Q and VLAN filtering: host tests run natively"
else
  step "the running kernel lacks bonding/802.1Q/VLAN filtering: preparing Debian's kernel for a QEMU guest"
  "$VENV/bin/python" -m testbeds.kernel prepare
fi

# 4. kube-apiserver built from Go modules (the first build takes 10-20 minutes on 2 cores; later ones seconds).
#    HN_SETUP_DEFER_APISERVER=1 (set by scripts/test.sh only when the binary is missing, on a run with the host phase)
#    leaves it to a build test.sh starts beside the host phase: only the cluster, roles and lab phases need it, and
#    they wait for it (the build holds a lock: testbeds/cluster/gobuild.py).
if [ "${HN_SETUP_DEFER_APISERVER:-0}" = 1 ]; then
  step "kube-apiserver: not built yet; deferred (scripts/test.sh builds it beside the host phase)"
else
  "$VENV/bin/python" -m testbeds.cluster build
fi

# 4b. The reference bridge CNI plugin built from Go modules (Debian's 1.1.1 lacks preserveDefaultVlan): the lab's VM
#     stand-ins and the host tests use it. Seconds; the modules are a few MB from the Go module proxy.
"$VENV/bin/python" -m testbeds.cni build >/dev/null

# 5. ansible-test bootstraps pip in each sanity venv with a script it downloads from a host these machines
#    cannot reach. Give it a stand-in in a HOME of our own (inside the cache) that uses CPython's ensurepip.
ATHOME=$CACHE/ansible-test-home
pipver=$("$VENV/bin/python" - <<'PY'
import re, ansible_test, os
src = open(os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')).read()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
mkdir -p "$ATHOME/.ansible/test/cache"
cp scripts/get_pip_standin.py "$ATHOME/.ansible/test/cache/get_pip_${pipver//./_}.py"
step "setup done (cache: $CACHE)"
