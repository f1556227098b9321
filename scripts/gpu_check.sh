#!/usr/bin/env bash
# GPU check: run each lesson under nbval with the CUDA settings and print a table
# (lesson, wall time, key figure, pass/fail). Meant for the lent GPU machine, started with the
# wheel install line printed by ../shared/device/fetch_wheels.sh; works on any CUDA machine.
#   usage: bash scripts/gpu_check.sh [NOTEBOOK ...]     (default: every lesson)
set -uo pipefail
cd "$(dirname "$0")/.."
export DLCV_DEVICE=${DLCV_DEVICE:-cuda} TQDM_DISABLE=1
report=$(mktemp)
notebooks=("$@")
[ ${#notebooks[@]} -gt 0 ] || notebooks=(notebooks/[0-9][0-9]_*.ipynb)
rows=()
for nb in "${notebooks[@]}"; do
  : > "$report"
  start=$(date +%s)
  if DLCV_REPORT="$report" python3 -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
      --nbval-sanitize-with tests/nbval_sanitize.cfg -o addopts="" "$nb" > "build-gpu-$(basename "$nb" .ipynb).log" 2>&1; then
    status=pass
  else
    status=FAIL
  fi
  secs=$(( $(date +%s) - start ))
  figure=$(python3 -c "import json,sys; print('; '.join(f\"{d['name']} = {d['text']}\" for d in map(json.loads, open(sys.argv[1]))) or '-')" "$report")
  rows+=("$(basename "$nb" .ipynb)|${secs} s|${figure}|${status}")
done
printf '\n| lesson | wall | key figure | nbval |\n|---|---|---|---|\n'
for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
