#!/usr/bin/env python3
"""End-to-end tests of barrier checkpoints with real processes (docs/checkpoints.md).

Suites (--only):
  chaos_rocksdb  the same with `state: {backend: rocksdb}` and windows that keep at most 8
           keys in memory, so most keys live in RocksDB (docs/state.md).
  chaos    events in `sluice kafka-dev` through a 3-worker cluster with checkpoints every
           second: 1-minute windows whose records span several minutes of event time,
           a key-by exchange across workers, a file sink with two-phase commit. A random
           worker is killed (-9) at random moments 5 times (a fresh worker starts each
           time), one worker is paused (SIGSTOP) past the heartbeat timeout and resumed
           after the job failed over without it, and the coordinator is killed (-9) and
           restarted once. The committed output equals the exact counts computed here from
           the input: nothing lost, nothing counted twice. Prints how many records the
           sources read in all.
  run_kill `sluice run` of a job with a key-by exchange, killed (-9) twice and started
           again: it resumes from its last checkpoint; the output equals an undisturbed
           run's. Its windows keep their spilled keys in RocksDB.
  savepoint the same job on a 3-worker cluster stopped with a savepoint at parallelism 2
           (RocksDB state), resumed from it at 3 (in-memory state), stopped with a savepoint
           again, and finished at 1 (RocksDB): the committed output equals the exact counts
           (an uninterrupted run's). Savepoints of another job, damaged or truncated ones, a
           changed max_parallelism, a node that is gone and a directory that is not empty are
           refused, each naming the reason; --allow-non-restored-state drops the node's state.

Usage: test_checkpoints.py --bin BUILD/bin --repo ROOT --workdir DIR --only SUITE [--seed N]
"""
import argparse
import collections
import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_cluster import Cluster  # noqa: E402
from test_kafka import DevKafka  # noqa: E402

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + str(detail)[-3000:]) if detail and not ok else ""))
    sys.stdout.flush()


BASE_MS = 1_700_000_040_000  # a minute boundary
KEYS = 40


def make_events(n, span_ms):
    """n events over span_ms of event time, in time order; key k<i % KEYS>."""
    lines, keys = [], []
    for i in range(n):
        k = "k%d" % (i % KEYS)
        lines.append(json.dumps({"k": k, "v": i % 7, "t": BASE_MS + i * span_ms // n}))
        keys.append(k)
    return lines, keys


def expected_counts(lines):
    """(k, window_start) -> (count, sum of v) for 1-minute tumbling windows."""
    out = collections.defaultdict(lambda: [0, 0])
    for line in lines:
        e = json.loads(line)
        w = e["t"] - e["t"] % 60000
        out[(e["k"], w)][0] += 1
        out[(e["k"], w)][1] += e["v"]
    return {key: tuple(v) for key, v in out.items()}


def read_committed(pattern):
    """Rows of the published part files (TSV with a header in part 0): (k, window_start) -> (count, sum)."""
    rows = collections.Counter()
    got = {}
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            for line in f.read().splitlines():
                if not line or line.startswith("k\t"):
                    continue
                k, start, count, total = line.split("\t")
                rows[(k, int(start))] += 1
                got[(k, int(start))] = (int(count), int(total))
    dupes = [key for key, c in rows.items() if c > 1]
    return got, dupes


def check_committed_once(name, out, want):
    """The published part files of `out` hold exactly the windows of `want`, each once."""
    got, dupes = read_committed(out + "*.part-*")
    missing = [k for k in want if k not in got]
    wrong = [(k, got[k], want[k]) for k in want if k in got and got[k] != want[k]]
    extra = [k for k in got if k not in want]
    check("%s (%d windows)" % (name, len(want)), not missing and not wrong and not extra and not dupes,
          "missing %d, wrong %d (%s), extra %d, duplicated %d" % (len(missing), len(wrong), wrong[:3], len(extra),
                                                                 len(dupes)))


# Events -> throttle -> parse with event time -> 1-minute windows keyed by k -> file sink
# (part files committed with the checkpoint). %(source)s is the source node `events`.
JOB = """name: %(name)s
parallelism: %(p)d
checkpoint: {dir: %(ckpt)s, interval: %(interval)s}
%(state)s
operators:
%(source)s  - id: slow
    type: throttle
    input: events
    records_per_second: %(rate)d
  - id: parse
    type: json_parse
    input: slow
%(parse_field)s    fields: {k: string, v: int64, t: timestamp}
    event_time: {field: t, max_out_of_orderness: 2s}
  - id: %(counts_id)s
    type: window
    input: parse
    key_by: [k]
    window: {type: tumbling, size: 1m}
%(window_extra)s    aggregates:
      - {fn: count, as: count}
      - {fn: sum, field: v, as: total}
    emit: [k, window_start, count, total]
  - id: sink
    type: file_sink
    input: %(counts_id)s
    path: %(out)s
"""

KAFKA_SOURCE = """  - id: events
    type: kafka_source
    bootstrap_servers: "%(b)s"
    topics: [events]
    start: earliest
    bounded: true
    group_id: chaos
    batch_size: 500
"""

FILE_SOURCE = """  - id: events
    type: file_source
    paths: [%(input)s]
"""


def check_shared_files(name, storage):
    """Incremental checkpoints: every shared file a retained checkpoint references exists, and
    none a retained checkpoint uploaded is left unreferenced. Files of checkpoints that failed
    while a worker was paused or killed may stay (counted)."""
    referenced, retained = set(), set()
    for meta in glob.glob(os.path.join(storage, "chk-*", "_metadata")):
        retained.add(int(os.path.basename(os.path.dirname(meta))[4:]))
        with open(meta) as f:
            for line in f:
                if line.startswith("shared "):
                    referenced.add(line.split()[3])
    present = {os.path.relpath(p, storage) for p in glob.glob(os.path.join(storage, "shared", "*"))}
    missing = sorted(referenced - present)
    orphans = sorted(present - referenced)
    of_retained = [o for o in orphans if int(os.path.basename(o).split("-")[0]) in retained]
    print("  %s: %d retained checkpoints reference %d shared files; %d unreferenced (of failed checkpoints)" % (
        name, len(retained), len(referenced), len(orphans)))
    check("%s: the retained checkpoints reference shared files, and every one exists" % name,
          referenced and not missing, missing)
    check("%s: no shared file of a retained checkpoint is unreferenced" % name, not of_retained, of_retained)


def check_canonical(sp):
    """A savepoint of a job with RocksDB state holds its entries in its state files ("SKS1"
    blobs), not references to RocksDB files ("SKR1"), and no shared file."""
    states = glob.glob(os.path.join(sp, "chk-*", "*.state"))
    blobs = b"".join(open(f, "rb").read() for f in states)
    check("savepoint %s is canonical and self-contained: entries in its state files, no shared file"
          % os.path.basename(sp), states and b"SKS1" in blobs and b"SKR1" not in blobs and
          not os.path.exists(os.path.join(sp, "shared")), states)


def suite_chaos_rocksdb(args, work):
    suite_chaos(args, work, state="state: {backend: rocksdb}\n", window_extra="    max_keys_in_memory: 8\n")


def suite_chaos(args, work, state="", window_extra=""):
    rocksdb = "rocksdb" in state
    rng = random.Random(args.seed)
    print("seed %d" % args.seed)
    n = 150_000
    lines, keys = make_events(n, span_ms=6 * 60_000)  # six minutes of event time
    want = expected_counts(lines)
    kafka = DevKafka(args, work, ["events:4"])
    cluster = None
    try:
        ok, err = kafka.produce("events", lines, keys)
        check("kcat produces %d events over 6 minutes of event time" % n, ok, err)
        cluster = Cluster(args, work, workers=3, slots=2, hb_timeout=2.0)
        out = os.path.join(work, "out", "counts.tsv")
        path = os.path.join(work, "chaos.yaml")
        with open(path, "w") as f:
            f.write(JOB % {"name": "chaos", "ckpt": os.path.join(work, "ckpt"), "interval": "1s",
                           "source": KAFKA_SOURCE % {"b": kafka.bootstrap}, "parse_field": "    field: value\n",
                           "rate": 2500, "out": out, "state": state, "window_extra": window_extra, "p": 2,
                           "counts_id": "counts"})
        p = cluster.cli(["submit", path, "--restart-attempts", "50", "--restart-delay", "0.2"])
        job = p.stdout.strip()
        check("the job is submitted", p.returncode == 0 and job, p.stderr)
        started = time.time()
        next_worker = 4
        done = []
        events = []
        # Kill -9 five workers, the coordinator once, and pause one worker (SIGSTOP) past the
        # heartbeat timeout, resuming it after the job failed over without it.
        for action in ["kill", "kill", "coordinator", "kill", "pause", "kill", "kill"]:
            time.sleep(rng.uniform(1.5, 3.0))
            st = cluster.status(job)
            if st and st["job"]["state"] in ("JOB_FINISHED", "JOB_FAILED", "JOB_CANCELLED"):
                break
            at = time.time() - started
            if action == "coordinator":
                cluster.coordinator.send_signal(signal.SIGKILL)
                cluster.coordinator.wait()
                time.sleep(rng.uniform(0.2, 1.0))
                cluster.start_coordinator()
                events.append("%.1fs: coordinator killed and restarted" % at)
                done.append(action)
                continue
            alive = [w for w, proc in cluster.workers.items() if proc.poll() is None]
            # A worker that runs the job's tasks, when the status says which.
            busy = sorted({t.get("worker_id") for t in (st or {}).get("tasks", [])} & set(alive))
            victim = rng.choice(busy or alive)
            wid = "worker-%d" % next_worker
            next_worker += 1
            if action == "pause":
                cluster.workers[victim].send_signal(signal.SIGSTOP)
                time.sleep(cluster.hb_timeout + 1.5)
                cluster.start_worker(wid, 2)
                time.sleep(1.0)
                cluster.workers[victim].send_signal(signal.SIGCONT)
                events.append("%.1fs: paused %s for %.1f s, started %s, resumed it" % (
                    at, victim, cluster.hb_timeout + 2.5, wid))
            else:
                cluster.workers[victim].send_signal(signal.SIGKILL)
                cluster.workers[victim].wait()
                cluster.start_worker(wid, 2)
                events.append("%.1fs: killed %s, started %s" % (at, victim, wid))
            done.append(action)
        for e in events:
            print("  " + e)
        check("5 workers killed, one paused past its timeout, the coordinator restarted, while the job ran",
              done.count("kill") == 5 and "coordinator" in done and "pause" in done, events)
        st = cluster.wait_state(job, ["JOB_FINISHED", "JOB_FAILED", "JOB_CANCELLED"], timeout=180)
        state = st["job"]["state"] if st else None
        check("the job finishes after the failures", state == "JOB_FINISHED",
              json.dumps(st)[-3000:] if st else "no status")
        if st:
            print("  attempts %s, restarts %s, checkpoints completed %s, failed %s, restored %s" % (
                st["job"].get("attempt"), st["job"].get("restarts"), st.get("checkpoints_completed"),
                st.get("checkpoints_failed"), st.get("restored_checkpoint")))
            read = int(st.get("source_records_all_attempts", 0))
            print("  the sources read %d records in all attempts for an input of %d (%.2fx)" % (read, n, read / n))
            check("restarts resumed from checkpoints: the sources read well under input x failures",
                  0 < read < n * 3, read)
            check("the restarted attempts restored a checkpoint", int(st.get("restored_checkpoint", 0)) > 0,
                  st.get("restored_checkpoint"))
        check_committed_once("every window's count and sum committed exactly once", out, want)
        if rocksdb:
            check_shared_files("incremental checkpoints", os.path.join(work, "ckpt", job))
        hidden = glob.glob(os.path.join(work, "out", ".*inprogress*"))
        check("no in-progress file is left", not hidden, hidden)
        p = cluster.cli(["status", job])
        check("status lists the checkpoints and what the attempt restored",
              "checkpoints in" in p.stdout and "restored checkpoint" in p.stdout, p.stdout[-2000:])
    finally:
        if cluster:
            if not all(results):
                cluster.dump_logs()
            cluster.stop()
        kafka.stop()


def suite_run_kill(args, work):
    n = 60_000
    lines, _ = make_events(n, span_ms=5 * 60_000)
    want = expected_counts(lines)
    data = os.path.join(work, "events.jsonl")
    with open(data, "w") as f:
        f.write("\n".join(lines) + "\n")
    out = os.path.join(work, "out", "counts.tsv")
    path = os.path.join(work, "runkill.yaml")
    with open(path, "w") as f:
        f.write(JOB % {"name": "runkill", "ckpt": os.path.join(work, "ckpt"), "interval": "200ms",
                       "source": FILE_SOURCE % {"input": data}, "parse_field": "", "rate": 10000, "out": out,
                       "state": "state: {backend: rocksdb}\n", "window_extra": "    max_keys_in_memory: 8\n",
                       "p": 2, "counts_id": "counts"})
    sluice = os.path.join(args.bin, "sluice")
    for i in range(2):
        log = open(os.path.join(work, "run%d.stderr" % i), "w")
        proc = subprocess.Popen([sluice, "run", path, "--progress-interval", "0",
                                 "--state-dir", os.path.join(work, "state")], cwd=work,
                                stdout=subprocess.DEVNULL, stderr=log)
        time.sleep(1.5)
        alive = proc.poll() is None
        if i == 0:
            second = subprocess.run([sluice, "run", path, "--progress-interval", "0"], cwd=work,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
            check("a second run on the same checkpoint dir is refused while the first runs, naming the holder",
                  second.returncode != 0 and "ingest.lock" in second.stderr and "sluice run" in second.stderr,
                  second.stderr[-2000:])
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        check("run %d was killed mid-job" % (i + 1), alive)
    r = subprocess.run([sluice, "run", path, "--progress-interval", "0", "--state-dir", os.path.join(work, "state")],
                       cwd=work, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    check("the third run finishes", r.returncode == 0, r.stderr[-3000:])
    check("it restored a checkpoint", "restores checkpoint" in r.stderr, r.stderr[-2000:])
    spilled = re.search(r"counter counts\.keys_spilled = (\d+)", r.stderr)
    check("its windows moved keys to RocksDB", spilled and int(spilled.group(1)) > 0, r.stderr[-2000:])
    left = os.listdir(os.path.join(work, "state")) if os.path.isdir(os.path.join(work, "state")) else []
    check("the killed runs' RocksDB instances are all that is left in the state dir (%d)" % len(left),
          0 < len(left) <= 2 * 4 and all(d.startswith("runkill-") for d in left), left)
    got, dupes = read_committed(out + "*.part-*")
    check("every window committed exactly once (%d windows)" % len(want), got == want and not dupes,
          "got %d windows, want %d, %d duplicated" % (len(got), len(want), len(dupes)))


def suite_savepoint(args, work):
    n = 60_000
    lines, keys = make_events(n, span_ms=6 * 60_000)
    want = expected_counts(lines)
    kafka = DevKafka(args, work, ["events:4"])
    cluster = None
    out = os.path.join(work, "out", "counts.tsv")

    def job_yaml(name, p, backend, counts_id="counts", extra="", job_name="savepointed", path=out, sink_id="sink"):
        window_extra = "    max_keys_in_memory: 8\n" if backend == "rocksdb" else ""
        yaml = JOB % {"name": job_name, "ckpt": os.path.join(work, "ckpt"), "interval": "1s",
                      "source": KAFKA_SOURCE % {"b": kafka.bootstrap}, "parse_field": "    field: value\n",
                      "rate": 2000 // p, "out": path, "state": "state: {backend: %s}\n%s" % (backend, extra),
                      "window_extra": window_extra, "p": p, "counts_id": counts_id}
        yaml = yaml.replace("  - id: sink\n", "  - id: %s\n" % sink_id)
        f = os.path.join(work, name + ".yaml")
        with open(f, "w") as fh:
            fh.write(yaml)
        return f

    def stop_with_savepoint(job, where):
        time.sleep(3.0)
        p = cluster.cli(["cancel", job, "--savepoint", where])
        st = cluster.status(job)
        return p, st

    try:
        ok, err = kafka.produce("events", lines, keys)
        check("kcat produces %d events" % n, ok, err)
        cluster = Cluster(args, work, workers=3, slots=2, hb_timeout=5.0)
        sp1 = os.path.join(work, "sp1")
        sp2 = os.path.join(work, "sp2")
        # 1. parallelism 2, RocksDB: stop with a savepoint.
        p = cluster.cli(["submit", job_yaml("p2", 2, "rocksdb")])
        job1 = p.stdout.strip()
        check("the job is submitted at parallelism 2 (RocksDB state)", p.returncode == 0 and job1, p.stderr)
        cluster.wait_state(job1, ["JOB_RUNNING"], timeout=30)
        p = cluster.cli(["savepoint", job1, "--dir", os.path.join(work, "sp0")])
        st = cluster.status(job1)
        check("`sluice savepoint` writes a savepoint and the job keeps running",
              p.returncode == 0 and p.stdout.strip() == os.path.join(work, "sp0") and
              os.path.exists(os.path.join(work, "sp0", "_savepoint")) and st and
              st["job"]["state"] == "JOB_RUNNING", p.stderr + json.dumps(st)[-500:])
        check_canonical(os.path.join(work, "sp0"))
        p = cluster.cli(["savepoint", job1, "--dir", os.path.join(work, "sp0")], check_rc=False)
        check("a savepoint into a directory that is not empty is refused",
              p.returncode != 0 and "is not empty" in p.stderr, p.stderr)
        p = cluster.cli(["savepoint", job1, "--dir", "s3://bucket/sp"], check_rc=False)
        st = cluster.status(job1)
        check("a savepoint to storage sluice cannot write is refused naming the scheme; the job runs on",
              p.returncode != 0 and "unknown scheme 's3'" in p.stderr and st and st["job"]["state"] == "JOB_RUNNING",
              p.stderr)
        p = cluster.cli(["savepoint", "no-such-job"], check_rc=False)
        check("a savepoint of a job that does not exist is refused", p.returncode != 0 and "no job" in p.stderr,
              p.stderr)
        # Two clients at once: each gets a whole savepoint, or is told one is underway.
        procs = [subprocess.Popen([os.path.join(args.bin, "sluice"), "savepoint", "--coordinator", cluster.address,
                                   job1, "--dir", os.path.join(work, "spc%d" % i)], cwd=work,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
        outs = [(proc.wait(timeout=120), proc.stderr.read()) for proc in procs]
        whole = [rc == 0 and os.path.exists(os.path.join(work, "spc%d" % i, "_savepoint"))
                 for i, (rc, _) in enumerate(outs)]
        check("two savepoints asked at once: each is written whole or refused as underway",
              any(whole) and all(w or "is underway" in err for w, (_, err) in zip(whole, outs)), outs)
        # A worker paused (SIGSTOP) during a savepoint: it fails with the reason once the worker
        # is given up for dead, and the job restarts from its checkpoints.
        st = cluster.status(job1)
        busy = sorted({t.get("worker_id") for t in (st or {}).get("tasks", [])})
        victim = busy[0] if busy else "worker-1"
        cluster.workers[victim].send_signal(signal.SIGSTOP)
        p = cluster.cli(["savepoint", job1, "--dir", os.path.join(work, "sp-paused")], check_rc=False)
        cluster.workers[victim].send_signal(signal.SIGCONT)
        check("a savepoint while a worker is paused fails naming why, and writes nothing",
              p.returncode != 0 and "did not complete" in p.stderr and
              not os.path.exists(os.path.join(work, "sp-paused", "_savepoint")), p.stderr)
        st = cluster.wait_state(job1, ["JOB_RUNNING"], timeout=60)
        check("the job runs again after the paused worker was given up",
              st and st["job"]["state"] == "JOB_RUNNING" and int(st["job"].get("restarts", 0)) >= 1,
              json.dumps(st["job"]) if st else "no status")
        time.sleep(1.0)
        p, st = stop_with_savepoint(job1, sp1)
        check("`sluice cancel --savepoint` writes the savepoint and cancels the job",
              p.returncode == 0 and os.path.exists(os.path.join(sp1, "_savepoint")) and st and
              st["job"]["state"] == "JOB_CANCELLED", p.stderr + json.dumps(st)[-500:])
        check("the job's own checkpoints were incremental (SST files under shared/)",
              glob.glob(os.path.join(work, "ckpt", job1, "shared", "*.sst")),
              os.listdir(os.path.join(work, "ckpt", job1)))
        check_canonical(sp1)
        got, _ = read_committed(out + "*.part-*")
        print("  after the first run: %d of %d windows committed" % (len(got), len(want)))
        check("the first run stopped before the end of the input", len(got) < len(want), len(got))

        # Refusals, each naming its reason.
        p = cluster.cli(["submit", job_yaml("other", 2, "memory", job_name="other"), "--from-savepoint", sp1],
                        check_rc=False)
        check("a savepoint of another job is refused", p.returncode != 0 and "is of job 'savepointed'" in p.stderr,
              p.stderr)
        bad = os.path.join(work, "sp1-damaged")
        shutil.copytree(sp1, bad)
        state_files = sorted(glob.glob(os.path.join(bad, "chk-*", "*.state")))
        with open(state_files[-1], "r+b") as f:
            f.truncate(max(0, os.path.getsize(state_files[-1]) - 7))
        p = cluster.cli(["submit", job_yaml("bad", 2, "memory"), "--from-savepoint", bad], check_rc=False)
        check("a truncated savepoint is refused naming the file",
              p.returncode != 0 and "is damaged" in p.stderr and os.path.basename(state_files[-1]) in p.stderr,
              p.stderr)
        p = cluster.cli(["submit", job_yaml("nosp", 2, "memory"), "--from-savepoint", os.path.join(work, "ckpt")],
                        check_rc=False)
        check("a directory that is no savepoint is refused", p.returncode != 0 and "is not a savepoint" in p.stderr,
              p.stderr)
        p = cluster.cli(["submit", job_yaml("maxp", 2, "memory"), "--set", "max_parallelism=256",
                         "--from-savepoint", sp1], check_rc=False)
        check("a changed max_parallelism is refused naming both values",
              p.returncode != 0 and "max_parallelism 128" in p.stderr and "has 256" in p.stderr, p.stderr)
        p = cluster.cli(["submit", job_yaml("gone", 2, "memory", counts_id="counts2"), "--from-savepoint", sp1],
                        check_rc=False)
        check("state of a node the topology lacks is refused naming it",
              p.returncode != 0 and "node 'counts' (window)" in p.stderr and
              "--allow-non-restored-state" in p.stderr, p.stderr)
        other_out = os.path.join(work, "out-allowed", "counts.tsv")
        # A new window and a new sink (writing elsewhere): the old ones' state is dropped.
        p = cluster.cli(["submit", job_yaml("allowed", 2, "memory", counts_id="counts2", path=other_out,
                                            sink_id="sink2"),
                         "--from-savepoint", sp1, "--allow-non-restored-state"], check_rc=False)
        allowed = p.stdout.strip()
        check("--allow-non-restored-state starts it without that state", p.returncode == 0 and allowed, p.stderr)
        if allowed:
            st = cluster.wait_state(allowed, ["JOB_RUNNING", "JOB_FAILED"], timeout=30)
            check("the job that dropped state runs", st and st["job"]["state"] == "JOB_RUNNING",
                  json.dumps(st["job"]) + json.dumps(st.get("tasks"))[:1500] if st else "no status")
            cluster.cli(["cancel", allowed], check_rc=False)
            cluster.wait_state(allowed, ["JOB_CANCELLED", "JOB_FAILED"], timeout=30)

        # 2. parallelism 3, in-memory state, from the RocksDB savepoint: stop with a savepoint.
        p = cluster.cli(["submit", job_yaml("p3", 3, "memory"), "--from-savepoint", sp1])
        job2 = p.stdout.strip()
        check("the job resumes from the savepoint at parallelism 3 (in-memory state)", p.returncode == 0 and job2,
              p.stderr)
        st = cluster.wait_state(job2, ["JOB_RUNNING", "JOB_FAILED"], timeout=30)
        check("the rescaled job runs", st and st["job"]["state"] == "JOB_RUNNING",
              json.dumps(st)[-2000:] if st else "no status")
        p, st = stop_with_savepoint(job2, sp2)
        check("it is stopped with a second savepoint", p.returncode == 0 and st and
              st["job"]["state"] == "JOB_CANCELLED", p.stderr + (json.dumps(st)[-2000:] if st else ""))

        # 3. parallelism 1, RocksDB, to the end.
        p = cluster.cli(["submit", job_yaml("p1", 1, "rocksdb"), "--from-savepoint", sp2])
        job3 = p.stdout.strip()
        check("the job resumes from the second savepoint at parallelism 1 (RocksDB)", p.returncode == 0 and job3,
              p.stderr)
        st = cluster.wait_state(job3, ["JOB_FINISHED", "JOB_FAILED", "JOB_CANCELLED"], timeout=120)
        check("it finishes", st and st["job"]["state"] == "JOB_FINISHED", json.dumps(st)[-3000:] if st else "none")
        p = cluster.cli(["status", job3])
        check("status says which savepoint the job started from",
              "submitted from the savepoint in " + sp2 in p.stdout, p.stdout[-1500:])
        check_committed_once("every window committed exactly once with the counts of an uninterrupted run", out,
                             want)
    finally:
        if cluster:
            if not all(results):
                cluster.dump_logs()
            cluster.stop()
        kafka.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only", required=True, choices=["chaos", "chaos_rocksdb", "run_kill", "savepoint"])
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    args = ap.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    {"chaos": suite_chaos, "chaos_rocksdb": suite_chaos_rocksdb,
     "run_kill": suite_run_kill, "savepoint": suite_savepoint}[args.only](args, args.workdir)
    print("%d passed, %d failed" % (sum(results), len(results) - sum(results)))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
