#!/usr/bin/env python3
"""What checkpoints cost and how fast a job recovers (issue #12).

1. Throughput: YSB at parallelism 2 on a local cluster of 2 sluice-worker processes (key-by
   edges cross processes over gRPC), checkpoints off against checkpoints every 1 s and
   every 100 ms, run alternately, --pairs rounds. Prints the median ratio (with checkpoints / without) of
   the job's wall time and of the workers' CPU seconds (user + sys), with the spread, and
   checks that both outputs are equal.
2. The checkpoints of those runs: duration, size, the longest task pause (capturing state on
   the task thread) and the longest alignment, from `sluice status --json`.
3. Recovery: a throttled streaming job with checkpoints every second; one worker is killed
   with SIGKILL and a fresh one started. Prints how long the coordinator took to notice
   (the attempt changes) and how long until the new attempt's sources emit again, and
   which checkpoint it restored.

Usage: bench/run_checkpoint_bench.py [--build build] [--events 5000000] [--repeat 8] [--pairs 5]
                                     [--intervals 1s,100ms]
                                     [--only throughput|recovery]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from run_bench import LocalCluster, same  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def status(sluice, cluster, job):
    p = subprocess.run([sluice, "status", job, "--json", "--coordinator", cluster.address], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    return json.loads(p.stdout) if p.returncode == 0 else None


def submit_wait(sluice, cluster, argv, work):
    pids = [w.pid for w in cluster.workers]
    cpu0 = cpu_seconds(pids)
    t0 = time.monotonic()
    p = subprocess.run([sluice, "submit", "--coordinator", cluster.address, "--wait", "-q"] + argv, cwd=work,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("submit failed: %s" % p.stderr[-3000:])
    return wall, cpu_seconds(pids) - cpu0


def spread(xs):
    return "median %.3f (min %.3f, max %.3f, n=%d)" % (statistics.median(xs), min(xs), max(xs), len(xs))


def throughput(args, sluice, work):
    ysb = os.path.join(ROOT, "examples", "ysb", "ysb.yaml")
    events = os.path.join(work, "data", "ysb", "events.jsonl")
    if not os.path.exists(events):
        subprocess.run([sluice, "gen", "ysb", "--events-out", events, "--ads-out",
                        os.path.join(work, "data", "ysb", "ads.csv"), "--events", str(args.events), "--seed", "3"],
                       cwd=work, check=True, stderr=subprocess.DEVNULL)
    # One slot per worker: each job spans both workers, so key-by edges cross processes.
    cluster = LocalCluster(os.path.dirname(sluice), work, workers=2, slots=1)
    intervals = args.intervals.split(",")
    wall_ratio = {i: [] for i in intervals}
    cpu_ratio = {i: [] for i in intervals}
    stats = {i: [] for i in intervals}
    # The same file read --repeat times: runs long enough for several checkpoints.
    base = [ysb, "-p", "2", "--set", "events.paths=[%s]" % ", ".join([events] * args.repeat)]
    try:
        for r in range(args.pairs):
            off_out = os.path.join(work, "out", "off-%d.tsv" % r)
            off = submit_wait(sluice, cluster, base + ["--set", "sink.path=" + off_out], work)
            line = "round %d: off %.2f s wall / %.2f s CPU" % (r + 1, off[0], off[1])
            for interval in intervals:
                ckpt = os.path.join(work, "ckpt-%s-%d" % (interval, r))
                shutil.rmtree(ckpt, ignore_errors=True)
                on_out = os.path.join(work, "out", "on-%s-%d.tsv" % (interval, r))
                on = submit_wait(sluice, cluster, base + ["--set", "sink.path=" + on_out, "--set",
                                                          "checkpoint={dir: %s, interval: %s}" % (ckpt, interval)],
                                 work)
                # With checkpoints the sink publishes part files: compare their concatenation.
                merged = on_out + ".merged"
                with open(merged, "w") as out:
                    for part in sorted(os.listdir(os.path.dirname(on_out))):
                        if part.startswith(os.path.basename(on_out) + ".part-"):
                            with open(os.path.join(os.path.dirname(on_out), part)) as f:
                                out.write(f.read())
                ok, diff = same(off_out, merged)
                if not ok:
                    sys.exit("outputs differ with checkpoints every %s: %s" % (interval, diff))
                wall_ratio[interval].append(on[0] / off[0])
                cpu_ratio[interval].append(on[1] / off[1])
                line += ", every %s %.2f s wall / %.2f s CPU" % (interval, on[0], on[1])
                jobs = subprocess.run([sluice, "list", "--json", "--coordinator", cluster.address],
                                      stdout=subprocess.PIPE, text=True, check=True)
                last = max((j for j in json.loads(jobs.stdout)["jobs"]), key=lambda j: int(j["submitted_ms"]))
                st = status(sluice, cluster, last["job_id"])
                stats[interval] += [c for c in st.get("checkpoints", []) if c.get("state") == "completed"]
            print(line)
    finally:
        cluster.stop()
    print("YSB %d events (a %d-event file read %d times), p=2 on 2 workers (1 slot each), checkpoints vs off, "
          "%d rounds:" % (args.events * args.repeat, args.events, args.repeat, args.pairs))
    for interval in intervals:
        print(" every %s:" % interval)
        print("  wall time ratio (on/off): %s" % spread(wall_ratio[interval]))
        print("  worker CPU ratio (on/off): %s" % spread(cpu_ratio[interval]))
        print("  throughput with checkpoints: %.1f%% of without (median)" % (100 / statistics.median(
            wall_ratio[interval])))
        cs = stats[interval]
        if cs:
            def col(key):
                return [int(c.get(key, 0)) for c in cs]
            print("  %d completed checkpoints (the last of each run is the final one): duration ms %s" % (
                len(cs), spread(col("duration_ms"))))
            print("  size bytes %s" % spread(col("size_bytes")))
            print("  task pause (ms) %s; alignment (ms) %s" % (
                spread([x / 1000 for x in col("max_sync_us")]), spread([x / 1000 for x in col("max_align_us")])))


RECOVERY_JOB = """name: recovery
parallelism: 2
mode: streaming
checkpoint: {dir: %(ckpt)s, interval: 1s}
operators:
  - id: gen
    type: generator
    count: 100000000
    keys: 1000
  - id: slow
    type: throttle
    input: gen
    records_per_second: 20000
  - id: counts
    type: window
    input: slow
    key_by: [key]
    window: {type: tumbling, size: 10s}
    aggregates:
      - {fn: count, as: count}
    emit: [key, window_start, count]
  - id: sink
    type: file_sink
    input: counts
    path: %(out)s
"""


def recovery(args, sluice, work):
    # One slot per worker: the job spans both, so the loss also breaks exchange streams.
    cluster = LocalCluster(os.path.dirname(sluice), work, workers=2, slots=1)
    try:
        path = os.path.join(work, "recovery.yaml")
        with open(path, "w") as f:
            f.write(RECOVERY_JOB % {"ckpt": os.path.join(work, "ckpt-recovery"),
                                    "out": os.path.join(work, "out", "recovery.tsv")})
        p = subprocess.run([sluice, "submit", path, "--coordinator", cluster.address, "--restart-delay", "0"],
                           cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
        job = p.stdout.strip()
        # Run until a few checkpoints completed.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st = status(sluice, cluster, job)
            if st and int(st.get("checkpoints_completed", 0)) >= 3:
                break
            time.sleep(0.1)
        attempt = st["job"]["attempt"]
        victim_id = st["tasks"][0]["worker_id"]
        index = int(victim_id.rsplit("-", 1)[1]) - 1
        victim = cluster.workers[index]
        killed = time.monotonic()
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        log = open(os.path.join(work, "cluster", "cluster.log"), "a")
        fresh = subprocess.Popen([os.path.join(os.path.dirname(sluice), "sluice-worker"), "--coordinator",
                                  cluster.address, "--slots", "2", "--id", "worker-fresh", "--log-level", "warn"],
                                 stderr=log, cwd=work)
        cluster.workers[index] = fresh
        cluster.procs.append(fresh)
        noticed = flowing = None
        while time.monotonic() - killed < 60 and flowing is None:
            st = status(sluice, cluster, job)
            now = time.monotonic()
            if st and noticed is None and st["job"]["attempt"] != attempt:
                noticed = now
            if st and noticed is not None and st["job"]["state"] == "JOB_RUNNING":
                gen = next(n for n in st["nodes"] if n["id"] == "gen")
                if int(gen["metrics"].get("records_out", 0)) > 0:
                    flowing = now
            time.sleep(0.02)
        restored = st.get("restored_checkpoint") if st else None
        print("recovery (killed %s of 2 workers; checkpoints every 1 s):" % victim_id)
        if noticed is None or flowing is None:
            print("  did not recover within 60 s: %s" % json.dumps(st)[-2000:])
            return
        print("  kill -9 -> failover noticed (attempt %s -> %s): %.2f s" % (attempt, st["job"]["attempt"],
                                                                          noticed - killed))
        print("  failover noticed -> sources emitting again: %.2f s (restored checkpoint %s)" % (
            flowing - noticed, restored))
        print("  kill -9 -> records flowing again: %.2f s" % (flowing - killed))
        subprocess.run([sluice, "cancel", job, "--coordinator", cluster.address], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    finally:
        cluster.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--events", type=int, default=5000000)
    ap.add_argument("--repeat", type=int, default=8, help="read the events file this many times per run")
    ap.add_argument("--intervals", default="1s,100ms", help="checkpoint intervals to compare with none")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--workdir", default=os.path.join(ROOT, "out", "checkpoint_bench"))
    ap.add_argument("--only", choices=["throughput", "recovery"])
    args = ap.parse_args()
    sluice = os.path.join(os.path.abspath(args.build), "bin", "sluice")
    work = os.path.abspath(args.workdir)
    os.makedirs(os.path.join(work, "out"), exist_ok=True)
    if args.only in (None, "throughput"):
        throughput(args, sluice, work)
    if args.only in (None, "recovery"):
        recovery(args, sluice, work)


if __name__ == "__main__":
    main()
