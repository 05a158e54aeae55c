#!/bin/sh
# The label-efficiency table of docs/benchmarks.md: every budget of issue #4, 5 seeds, all strategies.
# It is the demo with more budgets; the report lands in runs/label_efficiency/.
set -eu
cd "$(dirname "$0")/.."
exec .venv/bin/python -m tlkeras demo --labels-per-class 1 3 10 30 100 1000 --num-seeds 5 \
  --output runs/label_efficiency "$@"
