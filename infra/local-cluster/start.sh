#!/usr/bin/env bash
# A two-node Ray cluster on this machine: a head node and a worker node with
# their own ports and resources (node_a / node_b), for trying multi-node jobs
# without a second machine. Stop it with stop.sh.
#
#   infra/local-cluster/start.sh            # head :6390, dashboard :8270
#   RAY_ADDRESS=http://127.0.0.1:8270 .venv/bin/ray job submit --working-dir . -- \
#       .venv/bin/recplat train --model embedding_mlp --num-workers 2 --placement spread
set -euo pipefail
RAY="${RAY:-$(dirname "$0")/../../.venv/bin/ray}"
PORT="${RECPLAT_CLUSTER_PORT:-6390}"
DASHBOARD="${RECPLAT_CLUSTER_DASHBOARD:-8270}"
CPUS="${RECPLAT_CLUSTER_CPUS:-1}"
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}"

"$RAY" start --head --node-ip-address 127.0.0.1 --port "$PORT" \
  --num-cpus "$CPUS" --resources '{"node_a": 1}' \
  --include-dashboard true --dashboard-host 127.0.0.1 --dashboard-port "$DASHBOARD" \
  --node-manager-port 6391 --object-manager-port 6392 --ray-client-server-port 6393 \
  --dashboard-agent-listen-port 6394 --dashboard-agent-grpc-port 6395 \
  --metrics-export-port 6396 --runtime-env-agent-port 6397 \
  --min-worker-port 21000 --max-worker-port 21999 --disable-usage-stats

# The second node: same machine, its own raylet, ports and resources.
"$RAY" start --address "127.0.0.1:$PORT" --node-ip-address 127.0.0.1 \
  --num-cpus "$CPUS" --resources '{"node_b": 1}' \
  --node-manager-port 6401 --object-manager-port 6402 \
  --dashboard-agent-listen-port 6404 --dashboard-agent-grpc-port 6405 \
  --metrics-export-port 6406 --runtime-env-agent-port 6407 \
  --min-worker-port 22000 --max-worker-port 22999 --disable-usage-stats

echo "cluster up: RAY_ADDRESS=127.0.0.1:$PORT (jobs: http://127.0.0.1:$DASHBOARD)"
