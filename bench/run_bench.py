#!/usr/bin/env python3
"""End-to-end throughput: each example's hand-written single-thread baseline against
`sluice run` at parallelism 1 and 2, on the same generated input (fixed seed).

Checks that every output equals the baseline's, and prints events/s, the ratio to the
baseline, and the peak anonymous memory of each sluice run (heap, stacks, buffers: not
the memory-mapped input file).

Usage: bench/run_bench.py [--build build] [--events 5000000] [--only ysb|nginx] [--runs 1]
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd, cwd):
    """Runs cmd; returns its wall-clock seconds."""
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("failed (rc=%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr[-3000:]))
    return dt


def same(a, b):
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "e2e", "compare_tsv.py"), a, b],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode == 0, p.stdout


def heap_of(cmd, cwd):
    """Peak anonymous resident memory (MiB) of one run: heap, stacks and arenas, not the
    memory-mapped input file (file-backed pages are excluded from RssAnon). Sampled from
    /proc/PID/status every 10 ms."""
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while p.poll() is None:
        try:
            with open("/proc/%d/status" % p.pid) as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        peak = max(peak, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
        time.sleep(0.01)
    if p.returncode != 0:
        sys.exit("failed (rc=%d): %s" % (p.returncode, " ".join(cmd)))
    return peak / 1024.0


def bench(name, events, gen_cmd, baseline_cmd, sluice_cmd, work, runs):
    print("== %s: %d events ==" % (name, events))
    if not all(os.path.exists(p) for p in gen_cmd[1]):
        t0 = time.monotonic()
        subprocess.run(gen_cmd[0], cwd=work, check=True, stderr=subprocess.DEVNULL)
        print("generated input in %.1f s" % (time.monotonic() - t0))
    base_out = os.path.join(work, "%s_baseline.tsv" % name)
    best = None
    for _ in range(runs):
        dt = timed(baseline_cmd + ["--out", base_out], work)
        best = dt if best is None else min(best, dt)
    base_rate = events / best
    print("%-28s %8.2f s %12.0f events/s %6s" % ("baseline (1 thread)", best, base_rate, "1.00x"))
    for p in (1, 2):
        out = os.path.join(work, "%s_sluice_p%d.tsv" % (name, p))
        cmd = sluice_cmd + ["-p", str(p), "-q", "--set", "sink.path=" + out]
        best = None
        for _ in range(runs):
            dt = timed(cmd, work)
            best = dt if best is None else min(best, dt)
        heap = heap_of(cmd, work)
        ok, diff = same(base_out, out)
        print("%-28s %8.2f s %12.0f events/s %5.2fx  peak heap %6.1f MiB  output %s" %
              ("sluice run --parallelism %d" % p, best, events / best, (events / best) / base_rate, heap,
               "identical" if ok else "DIFFERENT"))
        if not ok:
            print(diff)
            sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--events", type=int, default=5000000)
    ap.add_argument("--only", choices=["ysb", "nginx"])
    ap.add_argument("--runs", type=int, default=1, help="best of N runs")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "out", "bench"))
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    work = os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)
    sluice = os.path.join(build, "bin", "sluice")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True).stdout.strip()
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    print("machine: %s, %d cores; commit %s" % (cpu, os.cpu_count(), commit))
    n = args.events
    if args.only in (None, "ysb"):
        ev, ads = os.path.join(work, "ysb_%d.jsonl" % n), os.path.join(work, "ysb_ads.csv")
        bench("ysb", n,
              ([sluice, "gen", "ysb", "--events-out", ev, "--ads-out", ads, "--events", str(n), "--seed", "1"], [ev, ads]),
              [os.path.join(build, "bench", "ysb_baseline"), "--events", ev, "--ads", ads],
              [sluice, "run", os.path.join(ROOT, "examples", "ysb", "ysb.yaml"), "--set", "events.paths=" + ev,
               "--set", "join.table=" + ads],
              work, args.runs)
    if args.only in (None, "nginx"):
        log = os.path.join(work, "nginx_%d.log" % n)
        bench("nginx_pv_uv", n,
              ([sluice, "gen", "nginx", "--out", log, "--lines", str(n), "--seed", "1"], [log]),
              [os.path.join(build, "bench", "nginx_baseline"), "--input", log],
              [sluice, "run", os.path.join(ROOT, "examples", "nginx_pv_uv", "nginx_pv_uv.yaml"),
               "--set", "logs.paths=" + log],
              work, args.runs)


if __name__ == "__main__":
    main()
