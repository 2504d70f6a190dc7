#!/usr/bin/env python3
"""Faults found by hostile testing (issue #10), each reproduced with real processes:
a real sluice-coordinator, real sluice-worker processes and the real `sluice` CLI.

Suites (--only):
  paused_worker      two file_sources -> union -> throttle -> file_sink; the sink's worker is
                     SIGSTOPped until it is given up for dead, then SIGCONTed while the next
                     attempt runs: the output holds every line exactly once (the stale
                     attempt neither splices into nor overwrites it)
  bad_glob           a job whose file_source glob matches nothing on the workers fails with
                     its reason, and every worker survives
  concurrent_submit  ten `sluice submit --wait` at once: ten jobs, ten outputs, exit 0 each
  port_taken         a second coordinator, worker or kafka-dev on a taken port refuses to
                     start naming the port; a second coordinator on a data dir in use too
  sink_paths         two file_sinks on one path, or a sink path that is a directory, are
                     refused before any work
  postmortem         a lost worker is named as the cause of a failover; a failed job keeps
                     its tasks' final states and figures; worker log lines name the worker

Usage: test_faults.py --bin BUILD/bin --repo ROOT --workdir DIR --only SUITE
Prints one line per check and ends with 'N passed, N failed'; exits 1 on any failure.
"""
import argparse
import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cluster  # noqa: E402  (Cluster, check, helpers)
from test_cluster import Cluster, check, free_port, write  # noqa: E402

results = test_cluster.results


def lines_file(path, prefix, n):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for i in range(n):
            f.write("%s-%07d some payload to make the line longer than a few bytes\n" % (prefix, i))


PAUSE_YAML = """name: paused
parallelism: 1
operators:
  - id: a
    type: file_source
    paths: [%(a)s]
  - id: b
    type: file_source
    paths: [%(b)s]
  - id: both
    type: union
    inputs: [a, b]
  - id: slow
    type: throttle
    input: both
    records_per_second: %(rate)d
  - id: sink
    type: file_sink
    input: slow
    path: %(out)s
"""


def suite_paused_worker(args, work):
    n = 150000
    a, b = os.path.join(work, "in", "a.log"), os.path.join(work, "in", "b.log")
    lines_file(a, "a", n)
    lines_file(b, "b", n)
    out = os.path.join(work, "out", "paused.tsv")
    yaml = write(os.path.join(work, "paused.yaml"), PAUSE_YAML % {"a": a, "b": b, "rate": 40000, "out": out})
    cluster = Cluster(args, work, workers=2, slots=8, hb_timeout=2.0)
    try:
        p = cluster.cli(["submit", yaml, "--restart-attempts", "3", "--restart-delay", "0.2"])
        job = p.stdout.strip()
        st = cluster.wait_state(job, ["JOB_RUNNING"])
        # Wait until the sink has written something, so the paused attempt holds buffered rows.
        deadline = time.time() + 30
        while time.time() < deadline:
            st = cluster.status(job)
            sink = [t for t in st["tasks"] if "sink" in t["name"]]
            if sink and int(sink[0].get("metrics", {}).get("records_in", 0) or 0) > 20000:
                break
            time.sleep(0.1)
        victim = next(t["worker_id"] for t in st["tasks"] if "sink" in t["name"])
        proc = cluster.workers[victim]
        proc.send_signal(signal.SIGSTOP)
        print("  paused %s (pid %d), which runs the sink" % (victim, proc.pid))
        # Given up for dead (2 s), the job moves to attempt 2 on the other worker; resume the
        # paused one while attempt 2 still runs.
        deadline = time.time() + 30
        moved = False
        while time.time() < deadline and not moved:
            st = cluster.status(job)
            moved = st and st["job"]["attempt"] >= 2 and st["job"]["state"] == "JOB_RUNNING"
            time.sleep(0.1)
        check("the job moves on to a new attempt while the worker is paused", moved, st and st["job"])
        time.sleep(2.0)
        proc.send_signal(signal.SIGCONT)
        print("  resumed %s" % victim)
        st = cluster.wait_state(job, ["JOB_FINISHED", "JOB_FAILED"], timeout=180)
        check("the job finishes", st and st["job"]["state"] == "JOB_FINISHED", st and st["job"])
        with open(out) as f:
            rows = f.read().splitlines()
        header, body = rows[0], rows[1:]
        check("the output has its header", header == "line", header)
        counts = collections.Counter(body)
        expected = set()
        for path in (a, b):
            with open(path) as f:
                expected.update(f.read().splitlines())
        dup = sum(1 for v in counts.values() if v > 1)
        missing = len(expected - set(counts))
        alien = len(set(counts) - expected)
        check("every input line is in the output exactly once (%d lines)" % len(body),
              len(body) == 2 * n and dup == 0 and missing == 0 and alien == 0,
              "%d rows, %d duplicated, %d missing, %d spliced/foreign" % (len(body), dup, missing, alien))
        leftovers = [f for f in os.listdir(os.path.dirname(out)) if "inprogress" in f]
        time.sleep(1.0)
        check("the stale attempt published nothing over the output",
              open(out).read().splitlines() == rows, "output changed after the job finished")
        print("  in-progress files left: %s" % leftovers)
        log = open(os.path.join(work, victim + ".log")).read()
        check("the resumed worker's stale attempt ends (told it is stale, or its exchange is gone)",
              "is stale" in log or "attempt 1: tasks ended" in log, log[-2000:])
    finally:
        for p in cluster.workers.values():
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
        cluster.stop()
        if not all(results):
            cluster.dump_logs()


def suite_bad_glob(args, work):
    cluster = Cluster(args, work, workers=2)
    try:
        yaml = write(os.path.join(work, "typo.yaml"), """name: typo
operators:
  - id: src
    type: file_source
    paths: [%s/data/nginx/acess-*.log]
  - id: sink
    type: file_sink
    input: src
    path: %s/out/typo.tsv
""" % (work, work))
        # The coordinator only plans; the glob is resolved where the files are, on the workers.
        os.makedirs(os.path.join(work, "data", "nginx"), exist_ok=True)
        p = cluster.cli(["submit", yaml, "--restart-attempts", "1", "--restart-delay", "0.2", "--wait"],
                        check_rc=False)
        check("submit --wait exits non-zero for the failed job", p.returncode != 0, p.stdout + p.stderr)
        job = (p.stdout.strip().splitlines() or [""])[0].split()[0] if p.stdout.strip() else "typo-1"
        st = cluster.wait_state("typo-1", ["JOB_FAILED"], timeout=60)
        check("the job fails with its reason", st and st["job"]["state"] == "JOB_FAILED" and
              "acess-*.log" in st["job"]["error"], st and st["job"])
        time.sleep(1.0)
        alive = {w: pr.poll() is None for w, pr in cluster.workers.items()}
        check("every worker survives", all(alive.values()), alive)
        p = cluster.cli(["workers"])
        check("both workers still registered and alive", p.stdout.count(" yes ") == 2, p.stdout)
        del job
    finally:
        cluster.stop()
        if not all(results):
            cluster.dump_logs()


def suite_concurrent_submit(args, work):
    cluster = Cluster(args, work, workers=2, slots=8)
    try:
        yaml = write(os.path.join(work, "tiny.yaml"), """name: tiny
operators:
  - id: gen
    type: generator
    count: 2000
  - id: sink
    type: file_sink
    input: gen
    path: out/unset.tsv
""")
        procs = []
        for i in range(10):
            cmd = [os.path.join(args.bin, "sluice"), "submit", "--coordinator", cluster.address, yaml,
                   "--set", "sink.path=%s/out/out%d.tsv" % (work, i), "--wait"]
            procs.append(subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outs = [p.communicate(timeout=300) for p in procs]
        rcs = [p.returncode for p in procs]
        check("every client exits 0", rcs == [0] * 10, list(zip(rcs, [o[1][-300:] for o in outs])))
        p = cluster.cli(["list"])
        ids = [line.split()[0] for line in p.stdout.splitlines()[1:] if line.startswith("tiny-")]
        check("ten distinct jobs", len(set(ids)) == 10, p.stdout)
        written = [os.path.exists(os.path.join(work, "out", "out%d.tsv" % i)) for i in range(10)]
        check("ten outputs written", all(written), written)
    finally:
        cluster.stop()
        if not all(results):
            cluster.dump_logs()


def run_briefly(cmd, cwd, timeout=20):
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out + err
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return None, out + err


def suite_port_taken(args, work):
    cluster = Cluster(args, work, workers=1)
    try:
        rc, out = run_briefly([os.path.join(args.bin, "sluice-coordinator"), "--listen", cluster.address,
                               "--data-dir", os.path.join(work, "second-data")], work)
        check("a second coordinator on the port refuses to start, naming it",
              rc not in (None, 0) and cluster.address in out, (rc, out[-1500:]))
        rc, out = run_briefly([os.path.join(args.bin, "sluice-coordinator"), "--listen", "127.0.0.1:0",
                               "--data-dir", cluster.data], work)
        check("a second coordinator on the data directory refuses to start",
              rc not in (None, 0) and "coordinator" in out.lower(), (rc, out[-1500:]))
        # A worker on a taken port.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        taken = "127.0.0.1:%d" % s.getsockname()[1]
        rc, out = run_briefly([os.path.join(args.bin, "sluice-worker"), "--coordinator", cluster.address,
                               "--listen", taken, "--id", "intruder", "--work-dir", os.path.join(work, "intruder")],
                              work)
        check("a worker on a taken port refuses to start, naming it", rc not in (None, 0) and taken in out,
              (rc, out[-1500:]))
        # kafka-dev on a taken port.
        rc, out = run_briefly([os.path.join(args.bin, "sluice"), "kafka-dev", "--port", taken.split(":")[1]], work)
        check("kafka-dev on a taken port refuses to start, naming it",
              rc not in (None, 0) and taken.split(":")[1] in out, (rc, out[-1500:]))
        s.close()
        p = cluster.cli(["workers"])
        check("the cluster still has only its own worker", "intruder" not in p.stdout and " yes " in p.stdout,
              p.stdout)
    finally:
        cluster.stop()
        if not all(results):
            cluster.dump_logs()


def suite_sink_paths(args, work):
    sluice = os.path.join(args.bin, "sluice")
    two = write(os.path.join(work, "two.yaml"), """name: two
operators:
  - id: gen
    type: generator
    count: 1000
  - id: first
    type: file_sink
    input: gen
    path: out/same.tsv
  - id: second
    type: file_sink
    input: gen
    path: ./out/../out/same.tsv
""")
    for cmd in (["explain", two], ["run", two]):
        p = subprocess.run([sluice] + cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        check("%s refuses two file_sinks on one path, naming the line" % cmd[0],
              p.returncode == 2 and "two.yaml:13" in p.stderr and "first" in p.stderr, (p.returncode, p.stderr))
    check("nothing was written", not os.path.exists(os.path.join(work, "out", "same.tsv")))
    os.makedirs(os.path.join(work, "adir"), exist_ok=True)
    d = write(os.path.join(work, "dir.yaml"), """name: dir
operators:
  - id: gen
    type: generator
    count: 50000000
  - id: sink
    type: file_sink
    input: gen
    path: adir
""")
    t0 = time.time()
    p = subprocess.run([sluice, "run", d], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    took = time.time() - t0
    check("a sink path that is a directory fails at open, before the work (%.1f s)" % took,
          p.returncode != 0 and "is a directory" in p.stderr and took < 5, (p.returncode, p.stderr[-800:]))


def suite_postmortem(args, work):
    yaml = write(os.path.join(work, "slow.yaml"), test_cluster.SLOW_YAML % {
        "count": 100000000, "rate": 20000, "out": os.path.join(work, "out", "slow.tsv")})
    cluster = Cluster(args, work, workers=3, slots=1, hb_timeout=2.0)
    try:
        p = cluster.cli(["submit", yaml, "--restart-attempts", "0"])
        job = p.stdout.strip()
        st = cluster.wait_state(job, ["JOB_RUNNING"])
        time.sleep(1.5)
        victim = next(t["worker_id"] for t in st["tasks"] if t["name"].startswith("slow"))
        cluster.workers[victim].send_signal(signal.SIGSTOP)
        st = cluster.wait_state(job, ["JOB_FAILED"], timeout=60)
        cluster.workers[victim].send_signal(signal.SIGCONT)
        err = st and st["job"]["error"] or ""
        check("the failure names the lost worker as its cause",
              ("worker %s lost: no heartbeat" % victim) in err, err)
        states = [t["state"] for t in st["tasks"]] if st else []
        check("the failed job keeps its tasks' final states", states and "TASK_SCHEDULED" not in states, states)
        out = sum(int(n["metrics"].get("records_out", 0) or 0) for n in st["nodes"]) if st else 0
        check("and its figures", out > 0, st and st["nodes"])
        p = cluster.cli(["status", job])
        check("sluice status shows them", "TASK_SCHEDULED" not in p.stdout and "scheduled" not in p.stdout, p.stdout)
        # A cancel says who cancelled, and keeps the tasks' final states.
        p = cluster.cli(["submit", yaml])
        job2 = p.stdout.strip()
        cluster.wait_state(job2, ["JOB_RUNNING"])
        time.sleep(1.0)
        cluster.cli(["cancel", job2])
        st = cluster.wait_state(job2, ["JOB_CANCELLED"], timeout=30)
        err = st and st["job"]["error"] or ""
        check("a cancel records who cancelled, from where", "cancelled by `sluice cancel` by " in err and
              "pid " in err and "127.0.0.1" in err, err)
        states = [t["state"] for t in st["tasks"]] if st else []
        check("a cancelled job's tasks show as cancelled", states and all(x == "TASK_CANCELLED" for x in states),
              states)
        log = open(os.path.join(work, "worker-1.log")).read()
        lines = [line for line in log.splitlines() if " [" in line]
        check("worker log lines name the worker", lines and all("[worker-1 " in line for line in lines),
              lines[:3])
    finally:
        for p in cluster.workers.values():
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
        cluster.stop()
        if not all(results):
            cluster.dump_logs()


SUITES = ["paused_worker", "bad_glob", "concurrent_submit", "port_taken", "sink_paths", "postmortem"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only", required=True, choices=SUITES)
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    args.repo = os.path.abspath(args.repo)
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    globals()["suite_" + args.only](args, args.workdir)
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    sys.exit(0 if results and all(results) else 1)


if __name__ == "__main__":
    main()
