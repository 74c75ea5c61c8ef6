#!/usr/bin/env bash
# Stops every Ray process on this machine started by `ray start` (both nodes of start.sh).
set -euo pipefail
RAY="${RAY:-$(dirname "$0")/../../.venv/bin/ray}"
"$RAY" stop --force
