#!/usr/bin/env bash
# The seed's real-time path on one machine: an embedded Kafka-protocol broker
# (sluice kafka-dev), a generator producing shop tracking events into it, and the
# examples/realtime topology reading them live: parse -> clean -> per-minute active
# users and top items per category -> Kafka topics and the console. Assumes a build
# (scripts/demo.sh sets up and builds, then calls this).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${KAFKA_PORT:-9092}
EVENTS=${EVENTS:-200000}
RATE=${RATE:-20000}
B=127.0.0.1:$PORT
mkdir -p out/realtime
rm -f out/realtime/bootstrap.txt
./build/bin/sluice kafka-dev --brokers 3 --port "$PORT" --bootstrap-file out/realtime/bootstrap.txt \
  --topic tracking-events:4 --topic active-users:1 --topic top-items:4 --topic tracking-dead-letters:1 \
  > /dev/null 2> out/realtime/kafka-dev.log &
KAFKA_PID=$!
trap 'kill $KAFKA_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s out/realtime/bootstrap.txt ] && break; sleep 0.1; done
[ -s out/realtime/bootstrap.txt ] || { cat out/realtime/kafka-dev.log; exit 1; }
cat out/realtime/kafka-dev.log
echo "demo: producing $EVENTS tracking events at $RATE/s into tracking-events while the job runs"
./build/bin/sluice gen tracking --bootstrap-servers "$B" --topic tracking-events --events "$EVENTS" --rate "$RATE" \
  2> out/realtime/generator.log &
GEN_PID=$!
./build/bin/sluice run examples/realtime/realtime.yaml --progress-interval 2 \
  --set events.bootstrap_servers="$B" --set active_users_out.bootstrap_servers="$B" \
  --set top_items_out.bootstrap_servers="$B" 2>&1 | grep -v " info " || true
wait $GEN_PID
tail -1 out/realtime/generator.log
set +o pipefail
echo
echo "demo: the last top-items results, read back from Kafka with kcat:"
kcat -C -b "$B" -t top-items -e -q | tail -4
echo "demo: dead letters on topic tracking-dead-letters, by reason:"
kcat -C -b "$B" -t tracking-dead-letters -e -q | grep -o '"reason":"[a-z_]*"' | sort | uniq -c
