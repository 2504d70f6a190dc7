#!/usr/bin/env python3
"""End-to-end throughput: each example's hand-written single-thread baseline against
`sluice run` at parallelism 1 and 2, on the same generated input (fixed seed).

Checks that every output equals the baseline's, and prints events/s, the ratio to the
baseline, and the peak anonymous memory of each sluice run (heap, stacks, buffers: not
the memory-mapped input file).

With the cluster runs (default; --no-cluster skips them) each job also runs at
parallelism 2 on a local cluster: a sluice-coordinator and 2 sluice-worker processes
(what `sluice local --workers 2` starts), so key-by edges cross processes over gRPC.
The time is `sluice submit --wait` from submission to the job's end, as a user sees it
(plan, deploy, run, report); "on workers" is the tasks' own run time.

Usage: bench/run_bench.py [--build build] [--events 5000000] [--only ysb|nginx] [--runs 1]
                          [--no-cluster]
"""
import argparse
import json
import os
import signal
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


class LocalCluster:
    """sluice-coordinator and N sluice-worker processes on loopback."""

    def __init__(self, bindir, work, workers=2, slots=4):
        self.bindir, self.procs = bindir, []
        data = os.path.join(work, "cluster")
        subprocess.run(["rm", "-rf", data])
        os.makedirs(data)
        addr_file = os.path.join(data, "address")
        log = open(os.path.join(data, "cluster.log"), "w")
        self.procs.append(subprocess.Popen(
            [os.path.join(bindir, "sluice-coordinator"), "--listen", "127.0.0.1:0", "--data-dir", data,
             "--address-file", addr_file, "--log-level", "warn"], stderr=log))
        while not os.path.exists(addr_file):
            time.sleep(0.01)
        with open(addr_file) as f:
            self.address = f.read().strip()
        self.workers = []
        for i in range(workers):
            w = subprocess.Popen([os.path.join(bindir, "sluice-worker"), "--coordinator", self.address, "--slots",
                                  str(slots), "--id", "worker-%d" % (i + 1), "--log-level", "warn"],
                                 stderr=log, cwd=work)
            self.procs.append(w)
            self.workers.append(w)
        while True:
            p = subprocess.run([os.path.join(bindir, "sluice"), "workers", "--coordinator", self.address],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            if p.stdout.count(" yes ") >= workers:
                break
            time.sleep(0.05)

    def job_elapsed(self, job):
        p = subprocess.run([os.path.join(self.bindir, "sluice"), "status", job, "--json", "--coordinator",
                            self.address], stdout=subprocess.PIPE, text=True, check=True)
        return json.loads(p.stdout)["elapsed_s"]

    def stop(self):
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            p.wait()


def worker_heap(cluster, cmd, cwd):
    """Runs cmd (a submit --wait); returns the peak RssAnon (MiB) summed over the workers."""
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peaks = [0] * len(cluster.workers)
    while p.poll() is None:
        for i, w in enumerate(cluster.workers):
            try:
                with open("/proc/%d/status" % w.pid) as f:
                    for line in f:
                        if line.startswith("RssAnon:"):
                            peaks[i] = max(peaks[i], int(line.split()[1]))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
        time.sleep(0.01)
    return sum(peaks) / 1024.0


def bench(name, events, gen_cmd, baseline_cmd, sluice_cmd, work, runs, cluster=None):
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
    if cluster is None:
        return
    out = os.path.join(work, "%s_cluster_p2.tsv" % name)
    cmd = [sluice_cmd[0], "submit"] + sluice_cmd[2:] + ["-p", "2", "--wait", "-q", "--coordinator", cluster.address,
                                                        "--set", "sink.path=" + out]
    best, on_workers = None, None
    for _ in range(runs):
        t0 = time.monotonic()
        p = subprocess.run(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        dt = time.monotonic() - t0
        if p.returncode != 0:
            sys.exit("failed (rc=%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr[-3000:]))
        if best is None or dt < best:
            best, on_workers = dt, cluster.job_elapsed(p.stdout.strip())
    heap = worker_heap(cluster, cmd, work)
    ok, diff = same(base_out, out)
    print("%-28s %8.2f s %12.0f events/s %5.2fx  peak heap %6.1f MiB  output %s  (on workers %.2f s)" %
          ("local cluster, 2 workers p=2", best, events / best, (events / best) / base_rate, heap,
           "identical" if ok else "DIFFERENT", on_workers))
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
    ap.add_argument("--no-cluster", action="store_true", help="skip the runs on a local cluster")
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
    cluster = None if args.no_cluster else LocalCluster(os.path.join(build, "bin"), work)
    try:
        run_all(args, build, work, sluice, n, cluster)
    finally:
        if cluster:
            cluster.stop()


def run_all(args, build, work, sluice, n, cluster):
    if args.only in (None, "ysb"):
        ev, ads = os.path.join(work, "ysb_%d.jsonl" % n), os.path.join(work, "ysb_ads.csv")
        bench("ysb", n,
              ([sluice, "gen", "ysb", "--events-out", ev, "--ads-out", ads, "--events", str(n), "--seed", "1"], [ev, ads]),
              [os.path.join(build, "bench", "ysb_baseline"), "--events", ev, "--ads", ads],
              [sluice, "run", os.path.join(ROOT, "examples", "ysb", "ysb.yaml"), "--set", "events.paths=" + ev,
               "--set", "join.table=" + ads],
              work, args.runs, cluster)
    if args.only in (None, "nginx"):
        log = os.path.join(work, "nginx_%d.log" % n)
        bench("nginx_pv_uv", n,
              ([sluice, "gen", "nginx", "--out", log, "--lines", str(n), "--seed", "1"], [log]),
              [os.path.join(build, "bench", "nginx_baseline"), "--input", log],
              [sluice, "run", os.path.join(ROOT, "examples", "nginx_pv_uv", "nginx_pv_uv.yaml"),
               "--set", "logs.paths=" + log],
              work, args.runs, cluster)


if __name__ == "__main__":
    main()
