#!/usr/bin/env python3
"""Independent reference for the Yahoo Streaming Benchmark job: expected output TSV.

Usage: expected_ysb.py EVENTS ADS OUT

Written from the YSB rules alone (it shares no code with the C++): keeps events whose
event_type is "view", joins ad_id to campaign_id through the ads CSV (header
"ad_id,campaign_id"; events whose ad is not in the CSV are dropped) and counts events
per (campaign_id, window_start), window_start = event_time - (event_time mod 10000).

EVENTS holds one JSON object per line (blank lines are skipped); a line that is not an
object with string ad_id and event_type and an integer event_time is an error.
Output: TSV "campaign_id<TAB>window_start<TAB>count", rows sorted.
Python 3 standard library only.
"""

import csv
import json
import sys

WINDOW_MS = 10_000


def tsv_escape(value):
    return (value.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\n", "\\n").replace("\r", "\\r"))


def load_ads(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ["ad_id", "campaign_id"]:
            raise SystemExit("%s: header must be ad_id,campaign_id, got %r" % (path, header))
        ads = {}
        for row in reader:
            if not row:
                continue
            if len(row) != 2:
                raise SystemExit("%s: bad row %r" % (path, row))
            ads[row[0]] = row[1]
    return ads


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: expected_ysb.py EVENTS ADS OUT\n")
        return 2
    ads = load_ads(argv[2])
    counts = {}
    events = views = joined = 0
    with open(argv[1], "r", encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            events += 1
            event = json.loads(line)
            ad_id = event.get("ad_id") if isinstance(event, dict) else None
            event_type = event.get("event_type") if isinstance(event, dict) else None
            event_time = event.get("event_time") if isinstance(event, dict) else None
            if (not isinstance(ad_id, str) or not isinstance(event_type, str)
                    or not isinstance(event_time, int) or isinstance(event_time, bool)):
                raise SystemExit("%s:%d: bad event %r" % (argv[1], line_no, line))
            if event_type != "view":
                continue
            views += 1
            campaign = ads.get(ad_id)
            if campaign is None:
                continue
            joined += 1
            key = (campaign, event_time - event_time % WINDOW_MS)
            counts[key] = counts.get(key, 0) + 1

    with open(argv[3], "w", encoding="utf-8", newline="") as f:
        f.write("campaign_id\twindow_start\tcount\n")
        for (campaign, window_start) in sorted(counts):
            f.write("%s\t%d\t%d\n" % (tsv_escape(campaign), window_start,
                                      counts[(campaign, window_start)]))
    sys.stderr.write("events=%d views=%d joined=%d rows=%d\n"
                     % (events, views, joined, len(counts)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
