#!/usr/bin/env bash
# Run `ansible-test sanity` on the collection. ansible-test needs the tree at
# .../ansible_collections/harvester/network (it resolves symlinks), so make a fresh copy of the tracked and
# untracked-but-not-ignored files there, and give it its own HOME inside the cache (see setup.sh).
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${HARVESTER_NETWORK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/harvester-network}
VENV=$CACHE/venv
# One copy per checkout: engineers (and CI jobs) sharing the cache folder must not delete each other's copy mid-run.
DEST=$CACHE/sanity/$(printf '%s' "$REPO" | md5sum | cut -c1-12)/ansible_collections/harvester/network
cd "$REPO" || exit 2
rm -rf "$DEST" && mkdir -p "$DEST"
if [ -d .git ]; then
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$DEST"
else
  tar --exclude=./tests/output --exclude=__pycache__ -cf - . | tar -xf - -C "$DEST"
fi
# ansible-test reads git metadata when present; a copy without .git makes it walk the files instead.
rm -rf "$DEST/.git"
cd "$DEST" || exit 2
HOME=$CACHE/ansible-test-home PATH=$VENV/bin:$PATH \
  ansible-test sanity --venv --python "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  --color no --junit "$@"
status=$?
mkdir -p "$REPO/tests/output/junit"
cp tests/output/junit/*.xml "$REPO/tests/output/junit/" 2>/dev/null || true
exit $status
