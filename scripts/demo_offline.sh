#!/usr/bin/env bash
# The seed's offline path on this machine (examples/offline_logs): three days of nginx
# access logs dropped into a spool directory the way a transfer job does (copy as .tmp,
# rename when complete) -> `sluice ingest` (parse, clean) -> Hive table ods.access_log,
# one partition per day -> `sluice batch` -> dws.page_daily (PV, UV, top referers per
# path per day) -> a re-run of one day, which replaces just that partition.
# Expects a built tree (scripts/demo.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${OFFLINE_LINES:-300000}
SLUICE=./build/bin/sluice
rm -rf data/offline out/offline
mkdir -p data/offline/incoming data/offline/spool
for d in 20 21 22; do
  ext=$([ "$d" = 22 ] && echo .gz || true)
  $SLUICE gen nginx --date 2026-11-$d --lines "$LINES" --seed $d --out data/offline/incoming/access.2026-11-$d.log$ext
done
echo "offline demo: dropping the three days into data/offline/spool (copy as .tmp, then rename)"
for f in data/offline/incoming/*; do
  cp "$f" "data/offline/spool/$(basename "$f").tmp"
  mv "data/offline/spool/$(basename "$f").tmp" "data/offline/spool/$(basename "$f")"
done
echo "offline demo: sluice ingest examples/offline_logs/ingest.yaml --once"
$SLUICE ingest examples/offline_logs/ingest.yaml --once --progress-interval 1
echo
echo "offline demo: the spool directory afterwards:"
ls data/offline/spool
echo "offline demo: the table ods.access_log:"
find data/offline/warehouse/ods.db -type f ! -name '.*' | sort | sed 's/^/  /'
echo
echo "offline demo: sluice batch examples/offline_logs/page_daily.yaml --partitions dt=2026-11-20..2026-11-22"
$SLUICE batch examples/offline_logs/page_daily.yaml --partitions dt=2026-11-20..2026-11-22 --progress-interval 1
set +o pipefail
echo
echo "offline demo: busiest paths of dt=2026-11-20 in dws.page_daily (path, pv, uv, top referers):"
cat data/offline/warehouse/dws.db/page_daily/dt=2026-11-20/part-* | tr '\001' '\t' | sort -t$'\t' -k2,2nr | head -5
echo
echo "offline demo: re-running dt=2026-11-21 replaces only that partition:"
before=$(ls data/offline/warehouse/dws.db/page_daily/dt=2026-11-21 | tr "\n" " ")
$SLUICE batch examples/offline_logs/page_daily.yaml --partitions dt=2026-11-21 --quiet
after=$(ls data/offline/warehouse/dws.db/page_daily/dt=2026-11-21 | tr "\n" " ")
echo "  dt=2026-11-21 before: $before"
echo "  dt=2026-11-21 after:  $after"
