#!/usr/bin/env python3
"""The offline pipeline's benchmark: one day of nginx logs (5M lines by default)

  ingest: spool -> parse -> clean -> Hive sink   (`sluice ingest examples/offline_logs/ingest.yaml --once`)
  batch:  the daily PV/UV/top-referers job over the table written (`sluice batch page_daily.yaml`)

each beside the hand-written single-threaded baseline (bench/nginx_baseline --mode hive_ingest /
hive_daily). Checks that sluice's table holds exactly the baseline's rows and that the daily
figures agree, then prints lines/s. Wall-clock time of the whole process, best of --runs.

Usage: python3 bench/run_offline_bench.py [--lines 5000000] [--runs 3] [--build build] [--workdir out/bench/offline]
"""
import argparse
import collections
import glob
import gzip
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd, cwd):
    t = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.monotonic() - t
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr[-3000:]))
    return elapsed


def table_rows(table_dir):
    """{dt: sorted rows (bytes)} of every visible file (plain or .gz)."""
    out = {}
    for part in sorted(glob.glob(os.path.join(table_dir, "dt=*"))):
        rows = []
        for f in sorted(os.listdir(part)):
            if f.startswith((".", "_")):
                continue
            data = open(os.path.join(part, f), "rb").read()
            if f.endswith(".gz"):
                data = gzip.decompress(data)
            rows.extend(data.split(b"\n")[:-1])
        out[os.path.basename(part)] = sorted(rows)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=5_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--workdir", default=os.path.join(ROOT, "out/bench/offline"))
    args = ap.parse_args()
    sluice = os.path.join(args.build, "bin/sluice")
    baseline = os.path.join(args.build, "bench/nginx_baseline")
    work = os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True).stdout.strip()
    cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
    print("commit %s, %d x %s" % (commit, len(cpu), cpu[0] if cpu else "?"))

    log = os.path.join(work, "access.2026-11-20.%d.log" % args.lines)
    if not os.path.exists(log):
        subprocess.run([sluice, "gen", "nginx", "--out", log, "--lines", str(args.lines), "--seed", "1", "--date",
                        "2026-11-20"], check=True, stderr=subprocess.DEVNULL)
    size_mb = os.path.getsize(log) / 1e6
    print("input: %d lines, %.0f MB, one day (+08:00)" % (args.lines, size_mb))

    base_table = os.path.join(work, "base/ods.db/access_log")
    ingest_yaml = os.path.join(ROOT, "examples/offline_logs/ingest.yaml")
    daily_yaml = os.path.join(ROOT, "examples/offline_logs/page_daily.yaml")
    results = collections.defaultdict(list)
    for run in range(args.runs):
        shutil.rmtree(os.path.join(work, "base"), ignore_errors=True)
        results["baseline ingest"].append(timed([baseline, "--mode", "hive_ingest", "--input", log, "--out",
                                                 base_table], work))
        results["baseline daily"].append(timed([baseline, "--mode", "hive_daily", "--input", base_table, "--out",
                                                os.path.join(work, "base_daily.tsv")], work))
        for compression in ("none", "gzip"):
            d = os.path.join(work, "sluice-" + compression)
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(os.path.join(d, "spool"))
            os.link(log, os.path.join(d, "spool", "access.2026-11-20.log"))  # the spool renames its link only
            results["sluice ingest (%s)" % compression].append(timed(
                [sluice, "ingest", ingest_yaml, "--once", "-q", "--spool-dir", os.path.join(d, "spool"),
                 "--set", "table.warehouse=" + os.path.join(d, "warehouse"), "--set",
                 "table.compression=" + compression, "--checkpoint-interval", "10"], d))
            if compression == "none":
                results["sluice batch"].append(timed(
                    [sluice, "batch", daily_yaml, "-q", "--partitions", "dt=2026-11-19..2026-11-21",
                     "--warehouse", os.path.join(d, "warehouse"), "--set",
                     "out.warehouse=" + os.path.join(d, "warehouse")], d))

    # Correctness: identical tables, identical daily figures.
    base = table_rows(base_table)
    for compression in ("none", "gzip"):
        mine = table_rows(os.path.join(work, "sluice-%s/warehouse/ods.db/access_log" % compression))
        if mine != base:
            sys.exit("sluice's table (%s) differs from the baseline's: %s vs %s" %
                     (compression, {k: len(v) for k, v in mine.items()}, {k: len(v) for k, v in base.items()}))
    table_lines = sum(len(v) for v in base.values())
    want = sorted(l for l in open(os.path.join(work, "base_daily.tsv")).read().splitlines()[1:])
    got = []
    for part in sorted(glob.glob(os.path.join(work, "sluice-none/warehouse/dws.db/page_daily/dt=*"))):
        dt = os.path.basename(part)[3:]
        for f in os.listdir(part):
            if not f.startswith((".", "_")):
                for row in open(os.path.join(part, f)).read().splitlines():
                    fields = row.split("\x01")
                    got.append("\t".join([dt] + fields))
    if sorted(got) != want:
        sys.exit("sluice's daily figures differ from the baseline's (%d vs %d rows)" % (len(got), len(want)))
    print("outputs identical: ods.access_log %d rows in %d partitions; dws.page_daily %d rows" %
          (table_lines, len(base), len(want)))
    print()
    print("%-26s %9s %14s %8s" % ("", "best s", "lines/s", "vs base"))
    for name, times in results.items():
        best = min(times)
        lines = args.lines if "ingest" in name else table_lines
        ref = min(results["baseline ingest" if "ingest" in name else "baseline daily"])
        print("%-26s %9.2f %14.0f %7.2fx" % (name, best, lines / best, ref / best))
    print("(ingest: input lines per second; batch: table rows per second; %d runs each)" % args.runs)


if __name__ == "__main__":
    main()
