#!/usr/bin/env python3
"""Scheduling on a cluster of real processes: slot sharing and waiting for slots.

Suites (--only):
  slot_sharing   two workers with default slots, YSB at -p 2 (5 tasks, 2 slots with slot
                 sharing); one worker killed with SIGKILL mid-run: the job finishes on the
                 survivor, with output equal to an undisturbed local run
  slot_timeout   a job wider than the cluster waits with its reason in `sluice status`, then
                 fails with that reason after --slot-timeout

Usage: test_scheduling.py --bin BUILD/bin --repo ROOT --workdir DIR --only SUITE
Prints one line per check and ends with 'N passed, N failed'; exits 1 on any failure.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cluster  # noqa: E402
from test_cluster import Cluster, check, run_local, same_rows, write  # noqa: E402

results = test_cluster.results


class SlowCluster(Cluster):
    """A Cluster whose coordinator gets extra flags."""

    def __init__(self, args, work, coordinator_flags=(), **kw):
        self.coordinator_flags = list(coordinator_flags)
        super().__init__(args, work, **kw)

    def start_coordinator(self):
        self.coordinator = subprocess.Popen(
            [os.path.join(self.args.bin, "sluice-coordinator"), "--listen", self.address, "--data-dir", self.data,
             "--heartbeat-timeout", str(self.hb_timeout), "--heartbeat-interval", "0.25"] + self.coordinator_flags,
            stdout=subprocess.DEVNULL, stderr=self.log("coordinator"))


def ysb_with_throttle(repo, rate):
    """examples/ysb/ysb.yaml with a throttle after the source, so a run lasts long enough to kill a worker."""
    with open(os.path.join(repo, "examples", "ysb", "ysb.yaml")) as f:
        text = f.read()
    text = text.replace("""  - id: parse
    type: json_parse
    input: events""", """  - id: slow
    type: throttle
    input: events
    records_per_second: %d

  - id: parse
    type: json_parse
    input: slow""" % rate)
    assert "id: slow" in text
    return text


def suite_slot_sharing(args, work):
    sluice = os.path.join(args.bin, "sluice")
    subprocess.run([sluice, "gen", "ysb", "--events-out", "data/ysb/events.jsonl", "--ads-out", "data/ysb/ads.csv",
                    "--events", "400000", "--seed", "11"], cwd=work, check=True, stderr=subprocess.DEVNULL)
    local_out = os.path.join(work, "out", "local.tsv")
    cluster_out = os.path.join(work, "out", "cluster.tsv")
    p = run_local(args, work, [os.path.join(args.repo, "examples", "ysb", "ysb.yaml"), "-p", "2", "--set",
                               "sink.path=" + local_out])
    check("the undisturbed local run succeeds", p.returncode == 0)
    yaml = write(os.path.join(work, "ysb_slow.yaml"), ysb_with_throttle(args.repo, 50000))
    cluster = SlowCluster(args, work, workers=2, hb_timeout=2.0)  # default 4 slots each
    try:
        p = cluster.cli(["submit", yaml, "-p", "2", "--set", "sink.path=" + cluster_out,
                         "--restart-attempts", "3", "--restart-delay", "0.5"])
        job = p.stdout.strip()
        st = cluster.wait_state(job, ["JOB_RUNNING"])
        tasks = len(st["tasks"]) if st else 0
        check("YSB at -p 2 runs %d tasks" % tasks, tasks >= 5, st)
        p = cluster.cli(["workers"])
        used = sorted(int(line.split()[4]) for line in p.stdout.splitlines()[1:])
        check("with slot sharing it takes 2 slots, one on each worker", used == [1, 1], p.stdout)
        time.sleep(1.0)
        victim = "worker-2"
        cluster.workers[victim].send_signal(signal.SIGKILL)
        cluster.workers[victim].wait()
        print("  killed %s with SIGKILL" % victim)
        st = cluster.wait_state(job, ["JOB_FINISHED", "JOB_FAILED"], timeout=180)
        check("the job finishes on the survivor", st and st["job"]["state"] == "JOB_FINISHED", st and st["job"])
        check("after a restart", st and st["job"]["restarts"] >= 1, st and st["job"])
        check("every task of the last attempt ran on the survivor",
              st and all(t["worker_id"] == "worker-1" for t in st["tasks"]), st and st["tasks"])
        ok, why = same_rows(local_out, cluster_out)
        check("its output equals the undisturbed run", ok, why)
    finally:
        cluster.stop()
        if not all(results):
            cluster.dump_logs()


def suite_slot_timeout(args, work):
    yaml = write(os.path.join(work, "wide.yaml"), test_cluster.SLOW_YAML % {
        "count": 1000, "rate": 1000000, "out": os.path.join(work, "out", "wide.tsv")})
    cluster = SlowCluster(args, work, workers=1, slots=2, coordinator_flags=["--slot-timeout", "3"])
    try:
        p = cluster.cli(["submit", yaml, "-p", "3"])
        job = p.stdout.strip()
        time.sleep(1.0)
        p = cluster.cli(["status", job])
        check("status says what the job waits for", "waiting for slots: needs 3 slot(s), 2 free on 1 live worker(s)"
              in p.stdout, p.stdout)
        p = cluster.cli(["list"])
        check("list says it too", "waiting for slots" in p.stdout, p.stdout)
        st = cluster.wait_state(job, ["JOB_FAILED"], timeout=30)
        err = st and st["job"]["error"] or ""
        check("after --slot-timeout the job fails with the reason", "no slots after" in err and "needs 3" in err, err)
        p = cluster.cli(["submit", yaml, "-p", "2", "--wait"], check_rc=False)
        check("a job that fits still runs", p.returncode == 0, p.stderr[-1000:])
    finally:
        cluster.stop()
        if not all(results):
            cluster.dump_logs()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only", required=True, choices=["slot_sharing", "slot_timeout"])
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
