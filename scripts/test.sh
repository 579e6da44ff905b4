#!/usr/bin/env bash
# The README's test command (`make test`): install what is missing (scripts/setup.sh), then run
#   1. ansible-test sanity on the collection,
#   2. unit tests (pure logic),
#   2b. ecosystem tests (execution environment, built artifact, docs),
#   3. cluster integration tests against a real kube-apiserver + etcd on 127.0.0.1,
#   4. host integration tests against a real kernel with bonding/802.1Q/VLAN filtering (natively when the
#      running kernel has them, otherwise in ONE QEMU guest with Debian's kernel), after the bed's selftest
#      (`python -m testbeds.kernel selftest`: exit codes come back, timeouts fire),
#   5. role tests: the roles and playbooks (molecule converge/verify, ansible-runner, pxe_post_install, bad
#      variables, teardown) on nodes in that kernel with a real kube-apiserver reached through a forwarded port.
#   6. the lab end to end (tests/integration/lab: `make lab`'s run, every report row must pass, then down).
# Every phase runs even when an earlier one failed; the exit code is non-zero if any failed.
# Select phases with TEST_PHASES="sanity unit ecosystem cluster host roles lab" (default: all).
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export HARVESTER_NETWORK_CACHE=${HARVESTER_NETWORK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/harvester-network}
VENV=$HARVESTER_NETWORK_CACHE/venv
PHASES=${TEST_PHASES:-sanity unit ecosystem cluster host roles lab}
HOST_TIMEOUT=${HOST_TEST_TIMEOUT:-2400}
cd "$REPO" || exit 2

step() { printf '\n==> [%s] %s\n' "$(date +%T)" "$*"; }
started=$(date +%s)

bash scripts/setup.sh || { echo "test.sh: setup failed" >&2; exit 1; }

rm -rf tests/output/junit && mkdir -p tests/output/junit
failed=()
run_phase() {
  local name=$1; shift
  local t0; t0=$(date +%s)
  step "phase $name"
  "$@"
  local rc=$?
  printf '==> phase %s: exit %s after %ss\n' "$name" "$rc" "$(( $(date +%s) - t0 ))"
  [ "$rc" = 0 ] || failed+=("$name")
}
PYTEST=("$VENV/bin/python" -m pytest -p no:cacheprovider)

for phase in $PHASES; do
  case $phase in
    sanity) run_phase sanity bash scripts/sanity.sh ;;
    unit) run_phase unit "${PYTEST[@]}" tests/unit --junitxml=tests/output/junit/unit.xml ;;
    ecosystem) run_phase ecosystem "${PYTEST[@]}" tests/integration/ecosystem --junitxml=tests/output/junit/ecosystem.xml ;;
    cluster) run_phase cluster "${PYTEST[@]}" tests/integration/cluster --junitxml=tests/output/junit/cluster.xml ;;
    host) run_phase host-selftest "$VENV/bin/python" -m testbeds.kernel selftest --auto \
            --junitxml tests/output/junit/host-selftest.xml
          run_phase host "$VENV/bin/python" -m testbeds.kernel run --timeout "$HOST_TIMEOUT" --rw tests/output -- \
            "${PYTEST[@]}" tests/integration/host --junitxml=tests/output/junit/host.xml ;;
    roles) run_phase roles "$VENV/bin/python" tests/integration/roles/launch.py --junitxml=tests/output/junit/roles.xml ;;
    lab) run_phase lab "${PYTEST[@]}" tests/integration/lab --junitxml=tests/output/junit/lab.xml ;;
    *) echo "test.sh: unknown phase '$phase' (known: sanity unit ecosystem cluster host roles lab)" >&2; failed+=("$phase") ;;
  esac
done

step "summary after $(( $(date +%s) - started ))s"
"$VENV/bin/python" -m testbeds.summary tests/output/junit --phases "$PHASES" --failed "${failed[*]:-}" \
  || failed+=(summary)
[ ${#failed[@]} = 0 ] || { echo "failed phases: ${failed[*]}"; exit 1; }
