#!/usr/bin/env python3
"""Kafka -> YSB -> Kafka on the embedded broker (`sluice kafka-dev`), beside a raw
librdkafka consumer reading the same topic (bench/kafka_raw_consume.cc).

Generates YSB events (fixed seed), produces them with kcat into a 64-partition topic
(the mock broker keeps only ~5 MB per partition, so the events are spread thin), then
times, best of --runs:
  raw      kafka_raw_consume: every message read, nothing else
  sluice   `sluice run bench/ysb_kafka.yaml` (bounded kafka_source -> json_parse -> filter
           -> lookup_join -> 10 s windows -> kafka_sink), its counts checked against the
           hand-written baseline on the same events
and prints events/s and the ratio sluice / raw.

Usage: bench/run_kafka_bench.py [--build build] [--events 1000000] [--runs 3] [-p 2]
"""
import argparse
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--events", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("-p", "--parallelism", type=int, default=2)
    ap.add_argument("--workdir", default=os.path.join(ROOT, "out", "kafka_bench"))
    args = ap.parse_args()
    build, work = os.path.abspath(args.build), os.path.abspath(args.workdir)
    os.makedirs(os.path.join(work, "data", "ysb"), exist_ok=True)
    sluice = os.path.join(build, "bin", "sluice")
    ev, ads = os.path.join(work, "data", "ysb", "events.jsonl"), os.path.join(work, "data", "ysb", "ads.csv")
    subprocess.run([sluice, "gen", "ysb", "--events-out", ev, "--ads-out", ads, "--events", str(args.events),
                    "--seed", "1"], check=True, stderr=subprocess.DEVNULL)
    base_out = os.path.join(work, "baseline.tsv")
    subprocess.run([os.path.join(build, "bench", "ysb_baseline"), "--events", ev, "--ads", ads, "--out", base_out],
                   check=True, stderr=subprocess.DEVNULL)
    bfile = os.path.join(work, "bootstrap.txt")
    if os.path.exists(bfile):
        os.remove(bfile)
    broker = subprocess.Popen([sluice, "kafka-dev", "--brokers", "3", "--topic", "ysb-events:64", "--topic",
                               "ysb-counts:1", "--bootstrap-file", bfile], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        while not os.path.exists(bfile):
            time.sleep(0.05)
        with open(bfile) as f:
            b = f.read().strip()
        t0 = time.monotonic()
        subprocess.run(["kcat", "-P", "-b", b, "-t", "ysb-events", "-l", ev, "-X", "linger.ms=50",
                        "-X", "batch.num.messages=10000", "-X", "sticky.partitioning.linger.ms=0"], check=True)
        print("produced %d events with kcat in %.1f s" % (args.events, time.monotonic() - t0))
        raw_best = None
        for _ in range(args.runs):
            p = subprocess.run([os.path.join(build, "bench", "kafka_raw_consume"), "--bootstrap", b, "--topic",
                                "ysb-events"], stderr=subprocess.PIPE, text=True, check=True)
            fields = dict(kv.split("=") for kv in p.stderr.split() if "=" in kv)
            if int(fields["messages"]) != args.events:
                sys.exit("raw consumer read %s messages, expected %d" % (fields["messages"], args.events))
            s = float(fields["seconds"])
            raw_best = s if raw_best is None else min(raw_best, s)
        print("%-34s %7.2f s %12.0f events/s" % ("raw librdkafka consumer", raw_best, args.events / raw_best))
        best = None
        for _ in range(args.runs):
            t0 = time.monotonic()
            p = subprocess.run([sluice, "run", os.path.join(ROOT, "bench", "ysb_kafka.yaml"), "-q", "-p",
                                str(args.parallelism), "--set", "events.bootstrap_servers=" + b, "--set",
                                "sink.bootstrap_servers=" + b, "--set", "join.table=" + ads], cwd=work,
                               stderr=subprocess.PIPE, text=True)
            dt = time.monotonic() - t0
            if p.returncode != 0:
                sys.exit("sluice failed: " + p.stderr[-3000:])
            best = dt if best is None else min(best, dt)
        # The counts written to Kafka must equal the baseline's.
        out = subprocess.run(["kcat", "-C", "-b", b, "-t", "ysb-counts", "-e", "-q"], stdout=subprocess.PIPE,
                             text=True).stdout.split("\n")
        import json
        got = {}
        for line in out:
            if line:
                r = json.loads(line)
                got[(r["campaign_id"], int(r["window_start"]))] = int(r["count"])
        want = {}
        with open(base_out) as f:
            next(f)
            for line in f:
                c, w, n = line.rstrip("\n").split("\t")
                want[(c, int(w))] = int(n)
        # Every run appends its counts to the topic; each run's are the same.
        ok = got == want and len(out) - 1 == args.runs * len(want)
        print("%-34s %7.2f s %12.0f events/s %5.2fx raw  counts %s" %
              ("sluice Kafka -> YSB -> Kafka, p=%d" % args.parallelism, best, args.events / best, raw_best / best,
               "identical to the baseline" if ok else "DIFFERENT"))
        if not ok:
            sys.exit(1)
    finally:
        broker.send_signal(signal.SIGTERM)
        broker.wait()


if __name__ == "__main__":
    main()
