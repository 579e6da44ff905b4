#!/usr/bin/env bash
# The README's test command (`make test`): install what is missing (scripts/setup.sh), then run the phases
#   sanity     ansible-test sanity on the collection
#   unit       unit tests (pure logic)
#   ecosystem  execution environment, built artifact, docs, ansible-lint
#   cluster    cluster integration tests against a real kube-apiserver + etcd on 127.0.0.1
#   host       host integration tests against a real kernel with bonding/802.1Q/VLAN filtering (natively when the
#              running kernel has them, otherwise in ONE QEMU guest with Debian's kernel), then one more guest boot
#              for persistence across a real reboot (tests/integration/host/second_boot.py); the bed's selftest
#              (`python -m testbeds.kernel selftest`: exit codes come back, timeouts fire) as phase "host-selftest",
#              in the native stream when there is one (below), else first; the files in TEST_HOST_B (default: none)
#              run in a second guest session, "host-b", in the bed stream
#   roles      the roles and playbooks on the lab's bed (molecule converge/verify, ansible-runner, pxe_post_install,
#              DHCP across the trunk, bad variables, teardown, legacy migration): controller natively, nodes where
#              the kernel is (tests/integration/roles/conftest.py, lab/bed.py)
#   lab        the lab end to end (tests/integration/lab: `make lab`'s run, every report row must pass, then down)
# Every phase runs even when an earlier one failed; the exit code is non-zero if any failed.
# Select phases with TEST_PHASES="sanity unit ecosystem cluster host roles lab" (default: all).
#
# Streams at once (TEST_PARALLEL=1, the default): the host phase (its own QEMU guest) in the foreground; the lab's
# bed phases (roles, then lab: each a keeper with its kube-apiservers and a guest of its own) in the background, their
# output in tests/output/bed-phases.log; the native phases (sanity, unit, ecosystem, cluster, then the kernel bed's
# selftest) in the background, their output in tests/output/native-phases.log. Both logs are printed at the end. QEMU's TCG mostly keeps one host
# core busy per guest, so two kernel streams and the native one share the machine's cores instead of leaving one
# idle. TEST_KERNEL_STREAMS=1 runs host, roles and lab one after the other in the foreground (the native phases
# still in the background); TEST_PARALLEL=0 runs everything one after the other, in the order above.
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export HARVESTER_NETWORK_CACHE=${HARVESTER_NETWORK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/harvester-network}
VENV=$HARVESTER_NETWORK_CACHE/venv
PHASES=${TEST_PHASES:-sanity unit ecosystem cluster host roles lab}
PARALLEL=${TEST_PARALLEL:-1}
KERNEL_STREAMS=${TEST_KERNEL_STREAMS:-2}
HOST_TIMEOUT=${HOST_TEST_TIMEOUT:-3000}  # the guard of one guest session (2314 s seen at load 13-19)
# Host test files to run in a second guest session of their own ("host-b", part of the host phase) in the bed stream,
# to balance the two kernel streams. Default none: with the lab's hitless stage the bed stream (roles, lab) is the
# longer one, so every host file runs in the host phase's one guest boot (docs/test-time.md, session 7).
HOST_B=${TEST_HOST_B:-}
OUT=tests/output
RESULTS=$OUT/phases.txt
cd "$REPO" || exit 2

step() { printf '\n==> [%s] %s\n' "$(date +%T)" "$*"; }
started=$(date +%s)

# Cold (no kube-apiserver binary yet), with the host phase and streams at once: setup installs the rest and the
# kube-apiserver build (minutes) runs beside the host phase, which does not need it. The phases that do (cluster,
# roles, lab) wait for it: gobuild.build() holds a lock, and they call it first (testbeds/cluster/fixtures.py, lab/).
defer=0
case " $PHASES " in
  *" host "*) case " $PHASES " in
                *" cluster "*|*" roles "*|*" lab "*)
                  # a missing venv fails the check too: a fresh cache has no kube-apiserver either
                  if [ "$PARALLEL" = 1 ] && ! "$VENV/bin/python" -c 'import os, sys
from testbeds.cluster import gobuild
sys.exit(0 if os.access(gobuild.binary_path(), os.X_OK) else 1)' 2>/dev/null; then defer=1; fi ;;
              esac ;;
esac
HN_SETUP_DEFER_APISERVER=$defer bash scripts/setup.sh || { echo "test.sh: setup failed" >&2; exit 1; }
printf '==> setup done after %ss (load average %s)\n' "$(( $(date +%s) - started ))" "$(cut -d' ' -f1-3 /proc/loadavg)"

rm -rf "$OUT/junit" && mkdir -p "$OUT/junit"
build_pid=
if [ "$defer" = 1 ]; then
  mkdir -p "$OUT"
  step "building kube-apiserver in the background: tail -f $OUT/apiserver-build.log"
  "$VENV/bin/python" -m testbeds.cluster build > "$OUT/apiserver-build.log" 2>&1 &
  build_pid=$!
fi
# the phases that need kube-apiserver first wait for the build (instant when it is built; else waits on its lock)
need_apiserver() {
  [ "$defer" = 1 ] || return 0
  local t0; t0=$(date +%s)
  "$VENV/bin/python" -m testbeds.cluster build >> "$OUT/apiserver-build.log" 2>&1 \
    || { echo "test.sh: the kube-apiserver build failed: $OUT/apiserver-build.log" >&2; tail -20 "$OUT/apiserver-build.log" >&2; }
  printf '==> kube-apiserver ready for phase %s (waited %ss)\n' "$1" "$(( $(date +%s) - t0 ))"
}
: > "$RESULTS"
run_phase() {
  local name=$1; shift
  local t0; t0=$(date +%s)
  step "phase $name"
  "$@"
  local rc=$?
  local seconds=$(( $(date +%s) - t0 ))
  printf '==> phase %s: exit %s after %ss (load average %s)\n' "$name" "$rc" "$seconds" "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%s %s %s\n' "$name" "$rc" "$seconds" >> "$RESULTS"
}
PYTEST=("$VENV/bin/python" -m pytest -p no:cacheprovider)

phase() {
  case $1 in
    sanity) run_phase sanity bash scripts/sanity.sh ;;
    unit) run_phase unit "${PYTEST[@]}" tests/unit --junitxml=$OUT/junit/unit.xml ;;
    ecosystem) run_phase ecosystem "${PYTEST[@]}" tests/integration/ecosystem --junitxml=$OUT/junit/ecosystem.xml ;;
    cluster) need_apiserver cluster
             run_phase cluster "${PYTEST[@]}" tests/integration/cluster --junitxml=$OUT/junit/cluster.xml ;;
    host-selftest) run_phase host-selftest "$VENV/bin/python" -m testbeds.kernel selftest --auto \
                     --junitxml $OUT/junit/host-selftest.xml ;;
    host) local ignore=() file
          for file in $HOST_B; do ignore+=("--ignore=$file"); done  # the second session's files
          run_phase host "$VENV/bin/python" -m testbeds.kernel run --timeout "$HOST_TIMEOUT" --rw $OUT -- \
            "${PYTEST[@]}" tests/integration/host "${ignore[@]}" --junitxml=$OUT/junit/host.xml
          # persist across a real second boot: a fresh guest on the folder the session above saved a node into
          run_phase host-reboot "$VENV/bin/python" -m testbeds.kernel run --timeout 900 --rw $OUT -- \
            "${PYTEST[@]}" tests/integration/host/second_boot.py --junitxml=$OUT/junit/host-reboot.xml ;;
    # the host tests' second guest session (HOST_B): in the bed stream when there is one, else after the host phase
    host-b) # shellcheck disable=SC2086
            run_phase host-b "$VENV/bin/python" -m testbeds.kernel run --timeout "$HOST_TIMEOUT" --rw $OUT -- \
              "${PYTEST[@]}" $HOST_B --junitxml=$OUT/junit/host-b.xml ;;
    roles) need_apiserver roles
           run_phase roles "${PYTEST[@]}" tests/integration/roles --junitxml=$OUT/junit/roles.xml ;;
    # the hitless stage's changes 1-3 only (4-6 add minutes under emulation; `make lab` runs all: docs/lab.md), our
    # way only (the recreate way's windows are the anchor, shown and never judged; `make lab` measures both ways)
    lab) need_apiserver lab
         export HN_LAB_HITLESS_CHANGES=${HN_LAB_HITLESS_CHANGES-1-3} HN_LAB_HITLESS_RECREATE=${HN_LAB_HITLESS_RECREATE-0}
         run_phase lab "${PYTEST[@]}" tests/integration/lab --junitxml=$OUT/junit/lab.xml ;;
    *) echo "test.sh: unknown phase '$1' (known: sanity unit ecosystem cluster host roles lab)" >&2
       printf '%s 2 0\n' "$1" >> "$RESULTS" ;;
  esac
}

host=() bed=() native=()
for name in $PHASES; do
  case $name in
    host) host+=("$name") ;;
    roles|lab) if [ "$KERNEL_STREAMS" = 1 ]; then host+=("$name"); else bed+=("$name"); fi ;;
    *) native+=("$name") ;;
  esac
done
case " $PHASES " in
  *" host "*) # the bed's selftest: at the end of the native stream when it runs in parallel, else before the host phase
              if [ "$PARALLEL" = 1 ] && [ ${#native[@]} -gt 0 ]; then native+=(host-selftest); else host=(host-selftest "${host[@]}"); fi
              if [ -n "$HOST_B" ]; then
                if [ "$PARALLEL" = 1 ] && [ ${#bed[@]} -gt 0 ]; then bed+=(host-b); else host+=(host-b); fi
              fi ;;
esac
stream() { local name; for name in "$@"; do phase "$name"; done; }
if [ "$PARALLEL" = 1 ]; then
  # the first stream with phases runs in the foreground, the others in the background with a log each
  labels=(host bed native) groups=("${host[*]}" "${bed[*]}" "${native[*]}")
  background=() logs=() foreground=
  for i in 0 1 2; do
    [ -n "${groups[$i]}" ] || continue
    if [ -z "$foreground" ]; then foreground=${groups[$i]}; continue; fi
    log=$OUT/${labels[$i]}-phases.log
    step "phases ${groups[$i]} in the background: tail -f $log"
    # shellcheck disable=SC2086  # a group is a list of phase names
    stream ${groups[$i]} > "$log" 2>&1 &
    background+=($!) logs+=("$log")
  done
  # shellcheck disable=SC2086
  stream $foreground
  for i in "${!background[@]}"; do
    wait "${background[$i]}"
    step "the output of the background phases (${logs[$i]})"
    cat "${logs[$i]}"
  done
else
  for name in $PHASES; do
    [ "$name" != host ] || phase host-selftest
    phase "$name"
    [ "$name" != host ] || [ -z "$HOST_B" ] || phase host-b
  done
fi

[ -z "$build_pid" ] || wait "$build_pid"  # done by now: the phases that need it waited for it
step "summary after $(( $(date +%s) - started ))s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
while read -r name rc seconds; do
  printf '  phase %-10s exit %-3s %5ss\n' "$name" "$rc" "$seconds"
done < "$RESULTS"
"$VENV/bin/python" scripts/slowest_tests.py "$OUT/junit" 10
failed=$(awk '$2 != 0 {printf "%s ", $1}' "$RESULTS")
asked=$PHASES
case " $PHASES " in *" host "*) [ -z "$HOST_B" ] || asked="$PHASES host-b" ;; esac
"$VENV/bin/python" -m testbeds.summary "$OUT/junit" --phases "$asked" --failed "$failed"
summary_rc=$?
[ -z "$failed" ] || { echo "failed phases: $failed"; exit 1; }
exit $summary_rc
