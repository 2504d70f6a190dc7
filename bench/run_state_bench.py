#!/usr/bin/env python3
"""What the RocksDB state backend costs, and what it makes possible (issue #13).

1. keys: a window with --keys distinct keys (default 20,000,000: the generator's `seq`,
   all in one 1-hour window) on one task, with `state: {backend: rocksdb}` and
   --state-memory (default 256MiB), against the in-memory backend holding every key in
   memory. Prints each run's wall time, CPU seconds (user + sys) and peak RSS (the
   process's VmHWM, from wait4), checks that the RocksDB run's peak RSS stays within
   --state-memory + 256 MiB, and that both outputs are the same rows (an order-independent
   digest of the output lines).
2. jobs: YSB and nginx PV/UV (`sluice run -p 1`), the memory backend against the RocksDB
   backend, --pairs times alternately: with the window's default bound (200,000 keys in
   memory: these jobs never reach it, so RocksDB holds nothing), and YSB also with
   `max_keys_in_memory: 10` (of its 100 campaigns), which makes the window move keys to
   state and back all the time. Prints the median ratio (RocksDB / memory) of wall time
   and CPU seconds with their spread, and checks the outputs are equal.

3. restore: a window filling up with --restore-keys distinct keys (generator -> throttle at
   parallelism 1 -> window -> file sink) checkpointing every 2 s, killed (-9) after most keys
   are in; then restored from a copy of that checkpoint at parallelism 1 and, rescaled, at 2,
   each run to the end. Prints every checkpoint's duration and size (a checkpoint is a full
   copy today: its size follows the state, not the change), the restore's read and per-task
   times from the logs, and checks each output has every key exactly once.

Usage: bench/run_state_bench.py [--build build] [--only keys|jobs|restore] [--keys N] [--events N]
                                [--pairs 5] [--state-memory 256MiB] [--max-keys 200000]
                                [--restore-keys 10000000] [--restore-backends memory,rocksdb]
"""
import argparse
import glob
import hashlib
import os
import re
import signal
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from run_bench import same  # noqa: E402

KEYS_JOB = """name: state_keys
parallelism: 1
state: {backend: %(backend)s}
operators:
  - id: gen
    type: generator
    count: %(keys)d
    keys: 1
    events_per_second: 1000000000
  - id: counts
    type: window
    input: gen
    key_by: [seq]
    window: {type: tumbling, size: 1h}
    max_keys_in_memory: %(bound)d
    aggregates:
      - {fn: count, as: n}
      - {fn: sum, field: value, as: total}
    emit: [seq, window_start, n, total]
  - id: sink
    type: file_sink
    input: counts
    path: %(out)s
"""


def run(cmd, cwd):
    """Runs `cmd`; returns (wall s, CPU s, peak RSS MiB, stderr)."""
    t0 = time.monotonic()
    with open(os.path.join(cwd, "stderr.log"), "w") as err:
        p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    with open(os.path.join(cwd, "stderr.log")) as f:
        log = f.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), log[-3000:]))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0, log


def digest(path):
    """(lines, an order-independent digest of the lines) of a file (or its part files)."""
    files = [path] if os.path.exists(path) else sorted(
        os.path.join(os.path.dirname(path), f) for f in os.listdir(os.path.dirname(path))
        if f.startswith(os.path.basename(path)))
    n, acc = 0, 0
    for name in files:
        with open(name, "rb") as f:
            for line in f:
                if line.startswith(b"seq\t"):
                    continue  # the header
                n += 1
                acc = (acc + int.from_bytes(hashlib.blake2b(line, digest_size=8).digest(), "little")) % (1 << 64)
    return n, acc


def bench_keys(args, sluice, work):
    print("== %d distinct window keys on one task, state memory %s, %d keys in memory" % (
        args.keys, args.state_memory, args.max_keys))
    results = {}
    for backend, bound in (("rocksdb", args.max_keys), ("memory", 0)):
        d = os.path.join(work, "keys_" + backend)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        out = os.path.join(d, "out.tsv")
        path = os.path.join(d, "job.yaml")
        with open(path, "w") as f:
            f.write(KEYS_JOB % {"backend": backend, "keys": args.keys, "bound": bound, "out": out})
        cmd = [sluice, "run", path, "-q", "--state-memory", args.state_memory, "--state-dir", os.path.join(d, "state")]
        wall, cpu, rss, log = run(cmd, d)
        rows, dig = digest(out)
        results[backend] = (rows, dig)
        print("%-8s wall %7.1f s  cpu %7.1f s  peak RSS %7.0f MiB  rows %d" % (backend, wall, cpu, rss, rows))
        if backend == "rocksdb":
            bound_mib = int(args.state_memory.lower().replace("mib", "")) if args.state_memory.lower().endswith("mib") else None
            if bound_mib is not None:
                ok = rss <= bound_mib + 256
                print("  peak RSS within state memory + 256 MiB (%d MiB): %s" % (bound_mib + 256, "yes" if ok else "NO"))
        shutil.rmtree(os.path.join(d, "state"), ignore_errors=True)
    equal = results["rocksdb"] == results["memory"] and results["memory"][0] == args.keys
    print("outputs equal (%d rows each): %s" % (results["memory"][0], "yes" if equal else "NO"))
    return equal


def bench_jobs(args, sluice, work):
    n = args.events
    ev, ads = os.path.join(work, "ysb_%d.jsonl" % n), os.path.join(work, "ysb_ads.csv")
    log = os.path.join(work, "nginx_%d.log" % n)
    if not os.path.exists(ev):
        subprocess.run([sluice, "gen", "ysb", "--events-out", ev, "--ads-out", ads, "--events", str(n), "--seed", "1"],
                       check=True, stdout=subprocess.DEVNULL)
    if not os.path.exists(log):
        subprocess.run([sluice, "gen", "nginx", "--out", log, "--lines", str(n), "--seed", "1"], check=True,
                       stdout=subprocess.DEVNULL)
    jobs = {
        "ysb": ([os.path.join(ROOT, "examples", "ysb", "ysb.yaml"), "--set", "events.paths=" + ev,
                 "--set", "join.table=" + ads], "counts", "sink.path"),
        "nginx_pv_uv": ([os.path.join(ROOT, "examples", "nginx_pv_uv", "nginx_pv_uv.yaml"),
                         "--set", "logs.paths=" + log], "pv_uv", "sink.path"),
    }
    ok = True
    for name, (argv, window, out_key) in jobs.items():
        for bound in ((None, 10) if name == "ysb" else (None,)):
            label = "%s, %s" % (name, "default bound" if bound is None else "max_keys_in_memory %d" % bound)
            walls, cpus = [], []
            outs = {}
            for i in range(args.pairs):
                runs = {}
                for backend in ("memory", "rocksdb"):
                    d = os.path.join(work, "%s_%s" % (name, backend))
                    shutil.rmtree(d, ignore_errors=True)
                    os.makedirs(d)
                    out = os.path.join(d, "out.tsv")
                    cmd = [sluice, "run", "-q", "-p", "1"] + argv + ["--set", out_key + "=" + out,
                                                                     "--set", "state.backend=" + backend,
                                                                     "--state-dir", os.path.join(d, "state")]
                    if bound is not None:
                        cmd += ["--set", "%s.max_keys_in_memory=%d" % (window, bound)]
                    wall, cpu, _, _ = run(cmd, d)
                    runs[backend] = (wall, cpu)
                    outs[backend] = out
                equal, detail = same(outs["memory"], outs["rocksdb"])
                if not equal:
                    print("%s: OUTPUTS DIFFER: %s" % (label, detail[-2000:]))
                    ok = False
                walls.append(runs["rocksdb"][0] / runs["memory"][0])
                cpus.append(runs["rocksdb"][1] / runs["memory"][1])
                print("  %s pair %d: memory %.2f s (%.2f cpu), rocksdb %.2f s (%.2f cpu)" % (
                    label, i + 1, runs["memory"][0], runs["memory"][1], runs["rocksdb"][0], runs["rocksdb"][1]))
            print("%s: RocksDB / memory, median of %d pairs: wall %.2f (%.2f-%.2f), CPU %.2f (%.2f-%.2f); "
                  "throughput ratio %.2f" % (label, args.pairs, statistics.median(walls), min(walls), max(walls),
                                             statistics.median(cpus), min(cpus), max(cpus),
                                             1 / statistics.median(walls)))
    return ok


RESTORE_JOB = """name: state_restore
parallelism: %(p)d
state: {backend: %(backend)s}
checkpoint: {dir: %(ckpt)s, interval: 2s, retain: 1}
operators:
  - id: gen
    type: generator
    count: %(keys)d
    keys: 1
    events_per_second: 1000000000
    parallelism: 1
  - id: slow
    type: throttle
    input: gen
    records_per_second: %(rate)d
    parallelism: 1
  - id: counts
    type: window
    input: slow
    key_by: [seq]
    window: {type: tumbling, size: 1h}
    max_keys_in_memory: %(bound)d
    aggregates:
      - {fn: count, as: n}
    emit: [seq, window_start, n]
  - id: sink
    type: file_sink
    input: counts
    path: %(out)s
"""

CKPT_RE = re.compile(r"checkpoint (\d+) complete in (\d+) ms: (\d+) bytes \((\d+) written\), task pause max ([\d.]+) ms")


def bench_restore(args, sluice, work):
    n = args.restore_keys
    print("== restore and rescale: a window of %d keys, checkpoints every 2 s" % n)
    ok = True
    for backend, bound in (("memory", 0), ("rocksdb", 10000)):
        if backend not in args.restore_backends.split(","):
            continue
        d = os.path.join(work, "restore_" + backend)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)

        def job(tag, p, rate):
            path = os.path.join(d, tag + ".yaml")
            with open(path, "w") as f:
                f.write(RESTORE_JOB % {"p": p, "backend": backend, "ckpt": os.path.join(d, tag, "ckpt"), "keys": n,
                                       "rate": rate, "bound": bound, "out": os.path.join(d, tag, "out", "counts.tsv")})
            return path

        os.makedirs(os.path.join(d, "fill"))
        fill_s = 24.0
        cmd = [sluice, "run", job("fill", 1, int(n / fill_s)), "--progress-interval", "0",
               "--state-dir", os.path.join(d, "state")]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        last = None
        for line in proc.stderr:
            m = CKPT_RE.search(line)
            if not m:
                continue
            last = tuple(float(x) for x in m.groups())
            print("  %-8s checkpoint %3d at %5.1f s: %6.0f ms, %8.1f MiB (%7.1f MiB written), task pause %7.1f ms" % (
                backend, last[0], time.monotonic() - t0, last[1], last[2] / 2**20, last[3] / 2**20, last[4]))
            if time.monotonic() - t0 > fill_s * 0.75:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait()
        if last is None:
            print("  %s: no checkpoint completed" % backend)
            ok = False
            continue
        print("  killed after checkpoint %d (%.1f MiB)" % (last[0], last[2] / 2**20))
        shutil.rmtree(os.path.join(d, "state"), ignore_errors=True)
        # Each restore starts from the files as they were at the kill: the checkpoint and the
        # sink's output (whose path the checkpoint names).
        saved = os.path.join(d, "saved")
        shutil.copytree(os.path.join(d, "fill"), saved)
        for p in (1, 2):
            shutil.rmtree(os.path.join(d, "fill"))
            shutil.copytree(saved, os.path.join(d, "fill"))
            path = job("fill", p, 1000000000)
            wall, cpu, rss, log = run([sluice, "run", path, "--progress-interval", "0",
                                       "--state-dir", os.path.join(d, "state-p%d" % p)], d)
            read = re.search(r"read and checked in (\d+) ms", log)
            tasks = [float(x) for x in re.findall(r"restored checkpoint \d+ in ([\d.]+) ms", log)]
            rows, _ = digest(os.path.join(d, "fill", "out", "counts.tsv"))
            good = rows == n
            ok = ok and good
            print("  %-8s restore at parallelism %d%s: read %s ms, slowest task %.0f ms (%d tasks); run to the end "
                  "%.1f s, peak RSS %.0f MiB; %d rows for %d keys: %s" % (
                      backend, p, " (rescaled)" if p != 1 else "", read.group(1) if read else "?",
                      max(tasks) if tasks else -1, len(tasks), wall, rss, rows, n, "ok" if good else "WRONG"))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--workdir", default=os.path.join(ROOT, "out", "bench_state"))
    ap.add_argument("--only", choices=["keys", "jobs", "restore"])
    ap.add_argument("--restore-keys", type=int, default=10_000_000)
    ap.add_argument("--restore-backends", default="memory,rocksdb",
                    help="with RocksDB the window's end (every key loaded back) is slow: 1M keys take minutes")
    ap.add_argument("--keys", type=int, default=20_000_000)
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--state-memory", default="256MiB")
    ap.add_argument("--max-keys", type=int, default=200000, help="the RocksDB run's max_keys_in_memory")
    args = ap.parse_args()
    sluice = os.path.join(args.build, "bin", "sluice")
    os.makedirs(args.workdir, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True).stdout.strip()
    print("commit %s, %d cores" % (commit, os.cpu_count()))
    ok = True
    if args.only in (None, "keys"):
        ok = bench_keys(args, sluice, args.workdir) and ok
    if args.only in (None, "jobs"):
        ok = bench_jobs(args, sluice, args.workdir) and ok
    if args.only in (None, "restore"):
        ok = bench_restore(args, sluice, args.workdir) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
