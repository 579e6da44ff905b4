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
# ansible-test --venv runs in a venv it creates in the copy (tests/output/.tmp/delegation) and bootstraps pip into it
# (a download of pip and two installs: about 100 s at load 16, 15 CPU s). Keep that venv across runs of this checkout
# (same path, so its absolute paths stay valid) while ansible-test and the Python are the same; ansible-test reuses a
# venv with its marker.txt and creates it again without.
KEPT=$(dirname "$DEST")/.delegation
STAMP=$("$VENV/bin/python" -c 'import sys, ansible_test; print(sys.version, ansible_test.__file__)' 2>/dev/null)
DELEGATION=$DEST/tests/output/.tmp/delegation
cd "$REPO" || exit 2
rm -rf "$KEPT"
if [ -d "$DELEGATION" ] && [ "$(cat "$DELEGATION/stamp.txt" 2>/dev/null)" = "$STAMP" ]; then mv "$DELEGATION" "$KEPT"; fi
rm -rf "$DEST" && mkdir -p "$DEST"
if [ -d .git ]; then
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$DEST"
else
  tar --exclude=./tests/output --exclude=__pycache__ -cf - . | tar -xf - -C "$DEST"
fi
# ansible-test reads git metadata when present; a copy without .git makes it walk the files instead.
rm -rf "$DEST/.git"
if [ -d "$KEPT" ]; then mkdir -p "$(dirname "$DELEGATION")" && mv "$KEPT" "$DELEGATION"; fi
mkdir -p "$DELEGATION" && printf '%s' "$STAMP" > "$DELEGATION/stamp.txt"
cd "$DEST" || exit 2
HOME=$CACHE/ansible-test-home PATH=$VENV/bin:$PATH \
  ansible-test sanity --venv --python "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  --color no --junit "$@"
status=$?
mkdir -p "$REPO/tests/output/junit"
cp tests/output/junit/*.xml "$REPO/tests/output/junit/" 2>/dev/null || true
exit $status
