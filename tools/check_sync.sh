#!/usr/bin/env bash
# Fails if `nbdev_export` would change neuro_decode/ or `nbdev_clean` would change nbs/.
# Compares the tree before and after running both, so it works on a clean clone and on a work tree.
set -euo pipefail
cd "$(dirname "$0")/.."
state() { { git diff HEAD -- neuro_decode nbs 2>/dev/null; git ls-files --others --exclude-standard -- neuro_decode nbs; \
            find neuro_decode nbs -type f -name '*.py' -o -type f -name '*.ipynb' | sort | xargs sha1sum; } | sha1sum; }
before=$(state)
.venv/bin/nbdev_export
.venv/bin/nbdev_clean
after=$(state)
if [ "$before" != "$after" ]; then
  echo "FAIL: nbdev_export/nbdev_clean changed files: the library or notebooks were out of step." >&2
  git status --short -- neuro_decode nbs >&2 || true
  exit 1
fi
echo "library and notebooks in sync; notebooks clean"
