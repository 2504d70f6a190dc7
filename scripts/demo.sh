#!/usr/bin/env bash
# Sets up, builds, and runs the demos: the seed's offline cleaning job (nginx_pv_uv) on a
# freshly generated day of nginx access logs with dirty lines, bots and static assets (in
# one process, then on a local cluster), the seed's offline path through a spool directory
# and Hive tables (scripts/demo_offline.sh), and the seed's real-time path (tracking events
# through an embedded Kafka broker, scripts/demo_realtime.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
LINES=${LINES:-1000000}
mkdir -p data/nginx out/nginx_pv_uv
echo "demo: generating $LINES nginx access-log lines into data/nginx/access.log"
./build/bin/sluice gen nginx --out data/nginx/access.log --lines "$LINES" --seed 1
echo "demo: running examples/nginx_pv_uv/nginx_pv_uv.yaml with parallelism 2"
./build/bin/sluice run examples/nginx_pv_uv/nginx_pv_uv.yaml --parallelism 2 --progress-interval 1
set +o pipefail  # `sort | head` below ends its writer early; that is not a failure
echo
echo "demo: busiest (minute, path) rows of out/nginx_pv_uv/pv_uv.tsv:"
(head -1 out/nginx_pv_uv/pv_uv.tsv; tail -n +2 out/nginx_pv_uv/pv_uv.tsv | sort -t$'\t' -k3,3nr | head -10) | awk -F'\t' '{printf "%-15s %-40s %8s %8s\n", $1, $2, $3, $4}'
echo
echo "demo: dead letters by reason (out/nginx_pv_uv/dead_letters.jsonl):"
grep -o '"reason":"[a-z_]*"' out/nginx_pv_uv/dead_letters.jsonl | sort | uniq -c
echo
echo "demo: the same job on a local cluster: a coordinator and 2 worker processes exchanging"
echo "      batches over gRPC (sluice local --workers 2); output goes to out/nginx_pv_uv/pv_uv.cluster.tsv"
./build/bin/sluice local --workers 2 --port 0 --log-level warn examples/nginx_pv_uv/nginx_pv_uv.yaml \
  --parallelism 2 --set sink.path=out/nginx_pv_uv/pv_uv.cluster.tsv
if diff <(sort out/nginx_pv_uv/pv_uv.tsv) <(sort out/nginx_pv_uv/pv_uv.cluster.tsv) > /dev/null; then
  echo "demo: cluster output equals the single-process output"
else
  echo "demo: cluster output DIFFERS from the single-process output" >&2
  exit 1
fi
echo
echo "demo: the offline path: spool directory -> sluice ingest -> Hive table -> sluice batch"
bash scripts/demo_offline.sh
echo
echo "demo: the real-time path: tracking events -> Kafka (embedded broker) -> sluice -> Kafka"
bash scripts/demo_realtime.sh
