#!/usr/bin/env bash
# A quick pep8 check before a commit, with the settings ansible-test's sanity pep8 test uses (a subset of the sanity
# phase; the phase itself stays the judge). Usage: bash scripts/pep8.sh [FILES...] (default: the files git sees changed).
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${HARVESTER_NETWORK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/harvester-network}
TOOL=$(find -L "$CACHE/ansible-test-home" -path '*sanity.pep8*' -name pycodestyle -type f 2>/dev/null | head -1)
IGNORE=$(find -L "$CACHE/venv" -path '*sanity/pep8/current-ignore.txt' 2>/dev/null | head -1)
if [ -z "$TOOL" ] || [ -z "$IGNORE" ]; then
  echo "pep8.sh: run the sanity phase once first (it installs ansible-test's pycodestyle)" >&2; exit 2
fi
cd "$REPO" || exit 2
if [ $# -eq 0 ]; then
  mapfile -t files < <( { git diff --name-only HEAD; git ls-files --others --exclude-standard; } | grep '\.py$' | sort -u)
  set -- "${files[@]}"
fi
[ $# -eq 0 ] && exit 0
existing=()
for f in "$@"; do [ -f "$f" ] && existing+=("$f"); done
[ ${#existing[@]} -eq 0 ] && exit 0
exec "$TOOL" --max-line-length 160 --ignore "$(paste -sd, "$IGNORE")" "${existing[@]}"
