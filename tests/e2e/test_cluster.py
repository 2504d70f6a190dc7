#!/usr/bin/env python3
"""End-to-end tests of the distributed runtime: a real sluice-coordinator and real
sluice-worker processes on loopback, jobs submitted with the real `sluice` CLI.

Suites (--only):
  jobs          YSB and nginx on 2 workers; outputs equal local mode's; list/status/workers
  backpressure  a slow sink on one worker throttles the source on the other; RSS bounded
  failover      kill -9 a worker mid-job: the job is redeployed and completes correctly
  restart       kill -9 the coordinator mid-job and restart it: the job is still listed,
                its tasks are re-adopted, and it completes without a restart
  wait_restart  `submit --wait` outlives a coordinator restart (8 s down) and exits 0 when
                the job finishes
  bad           invalid topology, unknown operator, wrong plugin API version, plugin
                without entry points, worker of another protocol version: refused clearly;
                a plugin that aborts when loaded kills the submitting client, not the cluster
  plugin        a job using the example plugin operator, shipped with --plugin
  local         `sluice local`: with a topology it runs it and stops; without, it serves
                until Ctrl-C, which stops the coordinator and every worker

Usage: test_cluster.py --bin BUILD/bin --repo ROOT --workdir DIR --only SUITE
       [--example-plugin SO] [--wrong-version-plugin SO] [--no-symbols-plugin SO] [--crash-plugin SO]
Prints one line per check and ends with 'N passed, N failed'; exits 1 on any failure.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + str(detail)[-3000:]) if detail and not ok else ""))
    sys.stdout.flush()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Cluster:
    """A coordinator and workers, each a real process, logging to files under work/."""

    def __init__(self, args, work, workers=2, slots=4, hb_timeout=10.0, port=None):
        self.args, self.work = args, work
        self.port = port or free_port()
        self.address = "127.0.0.1:%d" % self.port
        self.hb_timeout = hb_timeout
        self.data = os.path.join(work, "coordinator-data")
        self.coordinator = None
        self.workers = {}
        self.start_coordinator()
        for i in range(workers):
            self.start_worker("worker-%d" % (i + 1), slots)
        self.wait_workers(workers)

    def log(self, name):
        return open(os.path.join(self.work, name + ".log"), "a")

    def start_coordinator(self):
        self.coordinator = subprocess.Popen(
            [os.path.join(self.args.bin, "sluice-coordinator"), "--listen", self.address, "--data-dir", self.data,
             "--heartbeat-timeout", str(self.hb_timeout), "--heartbeat-interval", "0.25"],
            stdout=subprocess.DEVNULL, stderr=self.log("coordinator"))

    def start_worker(self, wid, slots=4, extra=()):
        p = subprocess.Popen(
            [os.path.join(self.args.bin, "sluice-worker"), "--coordinator", self.address, "--slots", str(slots),
             "--id", wid, "--work-dir", os.path.join(self.work, wid)] + list(extra),
            stdout=subprocess.DEVNULL, stderr=self.log(wid), cwd=self.work)
        self.workers[wid] = p
        return p

    def wait_workers(self, n, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            p = self.cli(["workers"], check_rc=False)
            if p.returncode == 0 and p.stdout.count(" yes ") >= n:
                return True
            time.sleep(0.1)
        raise RuntimeError("workers did not register: " + p.stdout + p.stderr)

    def cli(self, argv, check_rc=True, timeout=300):
        cmd = [os.path.join(self.args.bin, "sluice")] + argv[:1] + ["--coordinator", self.address] + argv[1:]
        p = subprocess.run(cmd, cwd=self.work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
        if check_rc and p.returncode != 0:
            print("command failed (rc=%d): %s\n--- stderr ---\n%s" % (p.returncode, " ".join(cmd), p.stderr[-4000:]))
        return p

    def status(self, job):
        p = self.cli(["status", job, "--json"], check_rc=False)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def wait_state(self, job, states, timeout=120):
        deadline = time.time() + timeout
        st = None
        while time.time() < deadline:
            st = self.status(job)
            if st and st["job"]["state"] in states:
                return st
            time.sleep(0.1)
        return st

    def stop(self):
        procs = list(self.workers.values()) + ([self.coordinator] if self.coordinator else [])
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def dump_logs(self):
        for name in ["coordinator"] + sorted(self.workers):
            path = os.path.join(self.work, name + ".log")
            if os.path.exists(path):
                with open(path) as f:
                    print("--- %s.log (tail) ---\n%s" % (name, f.read()[-3000:]))


def run_local(args, work, argv):
    p = subprocess.run([os.path.join(args.bin, "sluice"), "run", "-q"] + argv, cwd=work, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        print("local run failed: %s" % p.stderr[-3000:])
    return p


def same_rows(a, b):
    def rows(path):
        with open(path) as f:
            return sorted(f.read().splitlines())
    if not (os.path.exists(a) and os.path.exists(b)):
        return False, "missing %s or %s" % (a, b)
    ra, rb = rows(a), rows(b)
    if ra == rb:
        return True, ""
    return False, "%d vs %d rows; first difference: %s" % (
        len(ra), len(rb), next(((x, y) for x, y in zip(ra, rb) if x != y), None))


def node(status, node_id):
    return next(n for n in status["nodes"] if n["id"] == node_id)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------------------------------

def suite_jobs(args, work):
    sluice = os.path.join(args.bin, "sluice")
    subprocess.run([sluice, "gen", "ysb", "--events-out", "data/ysb/events.jsonl", "--ads-out", "data/ysb/ads.csv",
                    "--events", "300000", "--seed", "3"], cwd=work, check=True, stderr=subprocess.DEVNULL)
    subprocess.run([sluice, "gen", "nginx", "--out", "data/nginx/access.log", "--lines", "200000", "--seed", "5"],
                   cwd=work, check=True, stderr=subprocess.DEVNULL)
    cluster = Cluster(args, work)
    try:
        p = cluster.cli(["workers"])
        check("workers lists both workers alive", p.stdout.count(" yes ") == 2, p.stdout)
        for name, yaml, out_key, extra in [
            ("ysb", "examples/ysb/ysb.yaml", "sink.path", []),
            ("nginx", "examples/nginx_pv_uv/nginx_pv_uv.yaml", "sink.path", ["--set", "sink.parallelism=1"]),
            # Streaming mode: windows fire on watermarks, which cross workers in band.
            ("ysb streaming", "examples/ysb/ysb.yaml", "sink.path", ["--mode", "streaming"]),
        ]:
            yaml = os.path.join(args.repo, yaml)
            local_out = os.path.join(work, "out", name.replace(" ", "_") + "_local.tsv")
            cluster_out = os.path.join(work, "out", name.replace(" ", "_") + "_cluster.tsv")
            lp = run_local(args, work, [yaml, "-p", "2", "--set", out_key + "=" + local_out] + extra)
            p = cluster.cli(["submit", yaml, "-p", "2", "--wait", "--set", out_key + "=" + cluster_out] + extra)
            check("%s: submit --wait finishes" % name, p.returncode == 0 and lp.returncode == 0, p.stderr)
            ok, why = same_rows(local_out, cluster_out)
            check("%s: output on 2 workers equals local mode" % name, ok, why)
            job = p.stdout.strip().splitlines()[-1]
            st = cluster.status(job)
            workers = {t["worker_id"] for t in st["tasks"]}
            check("%s: tasks spread over both workers" % name, len(workers) == 2, st["tasks"])
            check("%s: data crossed processes" % name, int(st["exchange_bytes"]) > 0, st)
            check("%s: every task finished" % name, all(t["state"] == "TASK_FINISHED" for t in st["tasks"]), st)
            # Per-task figures add up to the per-operator ones; bytes sent equal bytes received.
            sinks = [t for t in st["tasks"] if t["name"].startswith("sink")]
            sink_in = sum(int(t["metrics"]["records_in"]) for t in sinks)
            check("%s: per-task records add up to the operator's" % name,
                  sink_in == int(node(st, "sink")["metrics"]["records_in"]) and sink_in > 0, (sinks, node(st, "sink")))
            sent = sum(int(t["metrics"]["bytes_out"]) for t in st["tasks"])
            got = sum(int(t["metrics"]["bytes_in"]) for t in st["tasks"])
            check("%s: bytes sent between workers equal bytes received" % name, sent == got and sent > 0, (sent, got))
            if name == "nginx":
                # Dead letters: one file per worker, counts equal to the summary's.
                dead = {}
                for n in st["nodes"]:
                    for reason, c in n["metrics"]["dead_letters"].items():
                        dead[(n["id"], reason)] = int(c)
                files = 0
                seen = {}
                d = os.path.join(work, "out", "nginx_pv_uv")
                for fn in os.listdir(d):
                    if fn.startswith("dead_letters.worker-"):
                        files += 1
                        with open(os.path.join(d, fn)) as f:
                            for line in f:
                                rec = json.loads(line)
                                seen[(rec["node"], rec["reason"])] = seen.get((rec["node"], rec["reason"]), 0) + 1
                check("nginx: dead letters written per worker and counted exactly",
                      files == 2 and seen == dead and sum(dead.values()) > 0, (files, seen, dead))
        p = cluster.cli(["list"])
        check("list shows the three jobs finished", p.stdout.count("finished") == 3, p.stdout)
        p = cluster.cli(["status", "ysb-1"])
        check("status prints tasks, workers and operators",
              "worker-1" in p.stdout and "worker-2" in p.stdout and "counts" in p.stdout and "bp(s)" in p.stdout,
              p.stdout)
        p = cluster.cli(["status", "nope-9"], check_rc=False)
        check("status of an unknown job: exit 2, clear error", p.returncode == 2 and "no job nope-9" in p.stderr,
              p.stderr)
    finally:
        cluster.stop()
        if not all(results):
            cluster.dump_logs()


SLOW_YAML = """name: slow
parallelism: 1
operators:
  - id: gen
    type: generator
    count: %(count)d
    keys: 100
  - id: slow
    type: throttle
    input: gen
    partition: shuffle
    records_per_second: %(rate)d
  - id: sink
    type: file_sink
    input: slow
    path: %(out)s
"""


def suite_backpressure(args, work):
    yaml = write(os.path.join(work, "slow.yaml"),
                 SLOW_YAML % {"count": 100000000, "rate": 20000, "out": os.path.join(work, "out", "slow.tsv")})
    cluster = Cluster(args, work)
    try:
        # Slot sharing puts a job of parallelism 1 in one slot; with two slow subtasks the job
        # takes a slot on each worker, and half the source's output crosses to the other one.
        p = cluster.cli(["submit", yaml, "-p", "2", "--set", "gen.parallelism=1"])
        job = p.stdout.strip()
        st = cluster.wait_state(job, ["JOB_RUNNING"])
        gen_worker = next(t["worker_id"] for t in st["tasks"] if t["name"].startswith("gen"))
        remote = [t["name"] for t in st["tasks"] if "slow" in t["name"] and t["worker_id"] != gen_worker]
        check("source and a slow subtask run on different workers", remote, st["tasks"])
        time.sleep(2.0)
        s1 = cluster.status(job)
        t1 = time.time()
        rss1 = {w: rss_kib(p.pid) for w, p in cluster.workers.items()}
        time.sleep(4.0)
        s2 = cluster.status(job)
        t2 = time.time()
        rss2 = {w: rss_kib(p.pid) for w, p in cluster.workers.items()}
        gen1, gen2 = int(node(s1, "gen")["metrics"]["records_out"]), int(node(s2, "gen")["metrics"]["records_out"])
        rate = (gen2 - gen1) / (t2 - t1)
        print("  source emitted %d records after ~2 s, %.0f records/s after; worker RSS KiB %s -> %s" %
              (gen1, rate, rss1, rss2))
        check("the source runs at the slow subtasks' pace (2 x 20k/s), not its own", 16000 < rate < 64000, rate)
        check("records in flight stay bounded (< 400k emitted after 6 s)", gen2 < 400000, gen2)
        check("the source reports backpressure", int(node(s2, "gen")["metrics"]["backpressure_ns"]) > 1e9, s2)
        grow = max(rss2[w] - rss1[w] for w in rss1)
        check("worker memory does not grow (< 20 MiB over 4 s) and stays < 300 MiB",
              grow < 20 * 1024 and max(rss2.values()) < 300 * 1024, (rss1, rss2))
        p = cluster.cli(["cancel", job])
        st = cluster.wait_state(job, ["JOB_CANCELLED"], timeout=20)
        check("cancel stops the job", p.returncode == 0 and st["job"]["state"] == "JOB_CANCELLED", st)
        time.sleep(0.5)
        p = cluster.cli(["workers"])
        used = [int(line.split()[4]) for line in p.stdout.splitlines()[1:]]
        check("after cancel every slot is free", used == [0, 0], p.stdout)
    finally:
        cluster.stop()
        if not all(results):
            cluster.dump_logs()


def suite_failover(args, work):
    out_local = os.path.join(work, "out", "local.tsv")
    out_cluster = os.path.join(work, "out", "cluster.tsv")
    yaml_local = write(os.path.join(work, "local.yaml"), SLOW_YAML % {"count": 60000, "rate": 1000000000,
                                                                       "out": out_local})
    yaml = write(os.path.join(work, "failover.yaml"), SLOW_YAML % {"count": 60000, "rate": 15000,
                                                                    "out": out_cluster})
    run_local(args, work, [yaml_local])
    cluster = Cluster(args, work, hb_timeout=2.0)
    try:
        p = cluster.cli(["submit", yaml, "--restart-attempts", "5", "--restart-delay", "0.5"])
        job = p.stdout.strip()
        st = cluster.wait_state(job, ["JOB_RUNNING"])
        time.sleep(1.5)
        victim = next(t["worker_id"] for t in st["tasks"] if t["name"].startswith("slow"))
        cluster.workers[victim].send_signal(signal.SIGKILL)
        cluster.workers[victim].wait()
        print("  killed %s (pid %d) with SIGKILL" % (victim, cluster.workers[victim].pid))
        st = cluster.wait_state(job, ["JOB_FINISHED", "JOB_FAILED"], timeout=120)
        check("the job is redeployed and finishes", st and st["job"]["state"] == "JOB_FINISHED", st)
        check("it restarted at least once, with the failure recorded",
              st and st["job"]["restarts"] >= 1 and st["job"]["error"] != "", st and st["job"])
        check("the new attempt runs only on the surviving worker",
              st and all(t["worker_id"] != victim for t in st["tasks"]), st and st["tasks"])
        ok, why = same_rows(out_local, out_cluster)
        check("output after failover equals an undisturbed local run", ok, why)
        p = cluster.cli(["workers"])
        check("workers shows the killed worker as not alive", victim in p.stdout and " no " in p.stdout, p.stdout)
    finally:
        cluster.stop()
        if not all(results):
            cluster.dump_logs()


def suite_restart(args, work):
    out_local = os.path.join(work, "out", "local.tsv")
    out_cluster = os.path.join(work, "out", "cluster.tsv")
    yaml_local = write(os.path.join(work, "local.yaml"), SLOW_YAML % {"count": 80000, "rate": 1000000000,
                                                                       "out": out_local})
    yaml = write(os.path.join(work, "restart.yaml"), SLOW_YAML % {"count": 80000, "rate": 20000,
                                                                   "out": out_cluster})
    run_local(args, work, [yaml_local])
    cluster = Cluster(args, work, hb_timeout=5.0)
    try:
        p = cluster.cli(["submit", yaml])
        job = p.stdout.strip()
        cluster.wait_state(job, ["JOB_RUNNING"])
        time.sleep(1.2)
        cluster.coordinator.send_signal(signal.SIGKILL)
        cluster.coordinator.wait()
        print("  killed the coordinator with SIGKILL; restarting it on the same port and data dir")
        time.sleep(0.5)
        cluster.start_coordinator()
        listed = None
        deadline = time.time() + 20
        while time.time() < deadline:
            p = cluster.cli(["list"], check_rc=False)
            if p.returncode == 0 and job in p.stdout:
                listed = p.stdout
                break
            time.sleep(0.1)
        check("after the restart `list` still shows the job and its state",
              listed and ("running" in listed or "finished" in listed), listed)
        st = cluster.wait_state(job, ["JOB_FINISHED", "JOB_FAILED"], timeout=60)
        check("the job completes", st and st["job"]["state"] == "JOB_FINISHED", st)
        check("its tasks were re-adopted, not restarted (attempt 1, no restart)",
              st and int(st["job"]["attempt"]) == 1 and st["job"]["restarts"] == 0, st and st["job"])
        ok, why = same_rows(out_local, out_cluster)
        check("output equals a local run", ok, why)
    finally:
        cluster.stop()
        if not all(results):
            cluster.dump_logs()


def suite_wait_restart(args, work):
    """Issue #10: `submit --wait` exited 1 when the coordinator went away for a few seconds,
    while the job went on. It must wait for the coordinator and exit 0 when the job finishes."""
    out = os.path.join(work, "out", "wait.tsv")
    yaml = write(os.path.join(work, "wait.yaml"), SLOW_YAML % {"count": 300000, "rate": 20000, "out": out})
    cluster = Cluster(args, work, hb_timeout=15.0)
    try:
        log = open(os.path.join(work, "submit.log"), "w")
        submit = subprocess.Popen([os.path.join(args.bin, "sluice"), "submit", "--coordinator", cluster.address, yaml,
                                   "--wait"], cwd=work, stdout=subprocess.PIPE, stderr=log, text=True)
        deadline = time.time() + 30
        job = None
        while time.time() < deadline and job is None:
            p = cluster.cli(["list"], check_rc=False)
            job = next((line.split()[0] for line in p.stdout.splitlines()[1:] if "running" in line), None)
            time.sleep(0.1)
        check("the slow job runs", job, p.stdout)
        cluster.coordinator.send_signal(signal.SIGKILL)
        cluster.coordinator.wait()
        print("  killed the coordinator with SIGKILL; restarting it in 8 s on the same port and data dir")
        time.sleep(8)
        check("submit --wait is still waiting while the coordinator is down", submit.poll() is None, submit.poll())
        cluster.start_coordinator()
        try:
            rc = submit.wait(timeout=90)
        except subprocess.TimeoutExpired:
            submit.kill()
            rc = None
        log.close()
        with open(os.path.join(work, "submit.log")) as f:
            err = f.read()
        st = cluster.wait_state(job, ["JOB_FINISHED", "JOB_FAILED"], timeout=60) if job else None
        check("the job finishes after the restart", st and st["job"]["state"] == "JOB_FINISHED", st and st["job"])
        check("submit --wait exits 0 when the job finishes, with its summary",
              rc == 0 and "records" in err, (rc, err[-2500:]))
        check("it said it was waiting for the coordinator", "waiting for the coordinator" in err, err[-2500:])
    finally:
        cluster.stop()
        if not all(results):
            cluster.dump_logs()


def suite_bad(args, work):
    cluster = Cluster(args, work)
    try:
        good = os.path.join(args.repo, "examples", "ysb", "ysb.yaml")
        bad_type = write(os.path.join(work, "bad_type.yaml"),
                         "name: bad\noperators:\n  - id: gen\n    type: generator\n  - id: x\n"
                         "    type: no_such_operator\n    input: gen\n")
        p = cluster.cli(["submit", bad_type], check_rc=False)
        check("unknown operator type: refused by the coordinator, exit 2, names it",
              p.returncode == 2 and "no_such_operator" in p.stderr, p.stderr)
        bad_param = write(os.path.join(work, "bad_param.yaml"),
                          "name: bad\noperators:\n  - id: gen\n    type: generator\n  - id: slow\n"
                          "    type: throttle\n    input: gen\n    records_per_second: -5\n")
        p = cluster.cli(["submit", bad_param], check_rc=False)
        check("invalid parameter: exit 2, error names the file, line and field",
              p.returncode == 2 and "bad_param.yaml:8" in p.stderr and "records_per_second" in p.stderr, p.stderr)
        ckpt = write(os.path.join(work, "ckpt.yaml"),
                     "name: ck\ncheckpoint: {dir: ckpt}\noperators:\n  - id: gen\n    type: generator\n"
                     "  - id: out\n    type: console_sink\n    input: gen\n")
        p = cluster.cli(["submit", ckpt], check_rc=False)
        check("a relative checkpoint dir on a cluster: refused, exit 2, says why",
              p.returncode == 2 and "'ckpt' is relative" in p.stderr, p.stderr)
        s3 = write(os.path.join(work, "ckpt_s3.yaml"),
                   "name: ck\ncheckpoint: {dir: 's3://bucket/ck'}\noperators:\n  - id: gen\n    type: generator\n"
                   "  - id: out\n    type: console_sink\n    input: gen\n")
        p = cluster.cli(["submit", s3], check_rc=False)
        check("checkpoint storage of an unknown scheme: refused, exit 2, naming it",
              p.returncode == 2 and "unknown scheme 's3'" in p.stderr, p.stderr)
        bad_yaml = write(os.path.join(work, "bad_yaml.yaml"), "name: bad\noperators: [\n")
        p = cluster.cli(["submit", bad_yaml], check_rc=False)
        check("malformed YAML: exit 2 with the file name", p.returncode == 2 and "bad_yaml.yaml" in p.stderr,
              p.stderr)
        p = cluster.cli(["submit", good, "--plugin", args.wrong_version_plugin], check_rc=False)
        check("plugin built for another API version: exit 2, names both versions",
              p.returncode == 2 and "version 999" in p.stderr and re.search(r"supports version \d+", p.stderr),
              p.stderr)
        p = cluster.cli(["submit", good, "--plugin", args.no_symbols_plugin], check_rc=False)
        check("plugin without entry points: exit 2, names the missing symbol",
              p.returncode == 2 and "sluice_plugin_api_version" in p.stderr, p.stderr)
        # The client loads plugins to compile the job graph; the coordinator never does. A
        # plugin that aborts when loaded takes down the client that loads it, not the cluster.
        p = cluster.cli(["submit", good, "--plugin", args.crash_plugin], check_rc=False)
        check("plugin that aborts in its static initialiser: the submitting client dies",
              p.returncode not in (0, 2) and p.returncode != 1, (p.returncode, p.stderr))
        p = cluster.cli(["workers"], check_rc=False)
        check("... and the coordinator and workers still serve", p.returncode == 0 and p.stdout.count(" yes ") == 2,
              (p.returncode, p.stdout, p.stderr))
        w = cluster.start_worker("worker-old", extra=["--protocol-version", "99"])
        try:
            rc = w.wait(timeout=30)
        except subprocess.TimeoutExpired:
            w.kill()
            rc = None
        with open(os.path.join(work, "worker-old.log")) as f:
            wlog = f.read()
        del cluster.workers["worker-old"]
        check("worker of another protocol version: refused, exits 2, says why",
              rc == 2 and "protocol version 99" in wlog, (rc, wlog[-1500:]))
        p = cluster.cli(["workers"])
        check("the refused worker is not listed", "worker-old" not in p.stdout, p.stdout)
        p = cluster.cli(["list"])
        check("nothing was accepted and the coordinator is still up",
              p.returncode == 0 and len(p.stdout.strip().splitlines()) == 1 and cluster.coordinator.poll() is None,
              p.stdout)
        p = subprocess.run([os.path.join(args.bin, "sluice"), "list", "--coordinator", "127.0.0.1:1"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        check("no coordinator there: exit 1 with a hint", p.returncode == 1 and "cannot reach" in p.stderr, p.stderr)
    finally:
        cluster.stop()
        if not all(results):
            cluster.dump_logs()


PLUGIN_YAML = """name: devices
parallelism: 2
operators:
  - id: logs
    type: file_source
    paths: [data/nginx/access.log]
  - id: parse
    type: access_log_parse
    input: logs
    fields: [remote_addr, path, user_agent]
  - id: device
    type: ua_device
    input: parse
  - id: sink
    type: file_sink
    input: device
    parallelism: 1
    path: %s
"""


def suite_plugin(args, work):
    sluice = os.path.join(args.bin, "sluice")
    subprocess.run([sluice, "gen", "nginx", "--out", "data/nginx/access.log", "--lines", "50000", "--seed", "9"],
                   cwd=work, check=True, stderr=subprocess.DEVNULL)
    out_local = os.path.join(work, "out", "local.tsv")
    out_cluster = os.path.join(work, "out", "cluster.tsv")
    yaml_local = write(os.path.join(work, "local.yaml"), PLUGIN_YAML % out_local)
    yaml = write(os.path.join(work, "devices.yaml"), PLUGIN_YAML % out_cluster)
    lp = run_local(args, work, [yaml_local, "--plugin", args.example_plugin])
    check("local run with --plugin", lp.returncode == 0, lp.stderr)
    cluster = Cluster(args, work)
    try:
        p = cluster.cli(["submit", yaml, "--plugin", args.example_plugin, "--wait"])
        check("submit with --plugin finishes", p.returncode == 0, p.stderr)
        ok, why = same_rows(out_local, out_cluster)
        check("the plugin operator's output on 2 workers equals local mode", ok, why)
        with open(out_cluster) as f:
            devices = {line.rstrip("\n").split("\t")[-1] for line in f}
        check("records were classified by the plugin", {"mobile", "desktop"} <= devices, devices)
        fetched = [w for w in ("worker-1", "worker-2")
                   if os.path.isdir(os.path.join(work, w, "plugins")) and os.listdir(os.path.join(work, w, "plugins"))]
        check("both workers fetched the plugin from the coordinator by hash", len(fetched) == 2, fetched)
    finally:
        cluster.stop()
        if not all(results):
            cluster.dump_logs()


def suite_local(args, work):
    sluice = os.path.join(args.bin, "sluice")
    subprocess.run([sluice, "gen", "ysb", "--events-out", "data/ysb/events.jsonl", "--ads-out", "data/ysb/ads.csv",
                    "--events", "100000", "--seed", "4"], cwd=work, check=True, stderr=subprocess.DEVNULL)
    yaml = os.path.join(args.repo, "examples", "ysb", "ysb.yaml")
    run_local(args, work, [yaml, "-p", "2", "--set", "sink.path=out/local.tsv"])
    p = subprocess.run([sluice, "local", "--workers", "2", "--port", "0", "--log-level", "warn", yaml, "-p", "2",
                        "--set", "sink.path=out/cluster.tsv"], cwd=work, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    check("sluice local TOPOLOGY runs the job and exits 0", p.returncode == 0 and "finished" in p.stderr, p.stderr)
    ok, why = same_rows(os.path.join(work, "out", "local.tsv"), os.path.join(work, "out", "cluster.tsv"))
    check("its output equals sluice run's", ok, why)
    check("it printed the summary", "exchange between workers" in p.stderr and "counts" in p.stderr, p.stderr)

    data = os.path.join(work, "localdata")
    err = open(os.path.join(work, "local.log"), "w")
    proc = subprocess.Popen([sluice, "local", "--workers", "2", "--port", "0", "--data-dir", data], cwd=work,
                            stdout=subprocess.DEVNULL, stderr=err)
    ready = False
    deadline = time.time() + 30
    while time.time() < deadline and not ready:
        with open(os.path.join(work, "local.log")) as f:
            ready = "ready" in f.read()
        time.sleep(0.1)
    check("sluice local (no topology) comes up", ready)
    with open(os.path.join(data, "coordinator.address")) as f:
        address = f.read().strip()
    w = subprocess.run([sluice, "workers", "--coordinator", address], stdout=subprocess.PIPE, text=True)
    pids = [int(line.split()[2]) for line in w.stdout.splitlines()[1:]]
    check("it runs 2 workers", len(pids) == 2, w.stdout)
    s = subprocess.run([sluice, "submit", yaml, "--coordinator", address, "--wait", "-q", "--set",
                        "sink.path=out/cluster2.tsv"], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    check("a job submitted to it finishes", s.returncode == 0, s.stderr)
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = None
    alive = [pid for pid in pids if os.path.exists("/proc/%d" % pid) and
             open("/proc/%d/stat" % pid).read().split()[2] != "Z"]
    with open(os.path.join(work, "local.log")) as f:
        log = f.read()
    check("Ctrl-C stops it cleanly: exit 0, no worker left", rc == 0 and not alive and "stopped" in log,
          (rc, alive, log[-2000:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only", required=True,
                    choices=["jobs", "backpressure", "failover", "restart", "wait_restart", "bad", "plugin", "local"])
    ap.add_argument("--example-plugin")
    ap.add_argument("--crash-plugin", help="a plugin whose static initialiser aborts")
    ap.add_argument("--wrong-version-plugin")
    ap.add_argument("--no-symbols-plugin")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    args.repo = os.path.abspath(args.repo)
    for k in ("example_plugin", "wrong_version_plugin", "no_symbols_plugin", "crash_plugin"):
        if getattr(args, k):
            setattr(args, k, os.path.abspath(getattr(args, k)))
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    globals()["suite_" + args.only](args, args.workdir)
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    sys.exit(0 if results and all(results) else 1)


if __name__ == "__main__":
    main()
