#!/usr/bin/env python3
"""End-to-end tests of the Kafka operators against `sluice kafka-dev` (librdkafka's mock
cluster speaking the Kafka protocol over TCP), with kcat as an independent client.

Suites (--only):
  interop   kcat produces JSON events (some malformed) to a 4-partition topic; sluice reads
            them with source parallelism 2, 4 and 6 (<, =, > partitions), parses, writes to
            a topic and sends dead letters to a topic; kcat reads both back: every valid
            event once, every malformed one as a dead letter with its reason
  outage    the broker process is stopped (SIGSTOP) for 6 s mid-run, longer than the
            consumer's timeouts, then resumed: the job reports the outage, resumes, and
            loses nothing. With the producer's timeout longer than the outage the output
            holds every record exactly once; with it shorter, the mock broker stores some
            retried batches twice (it has no idempotence dedup) and the copies are counted
  checkpoint  Kafka -> parse -> Hive table with local checkpoints: the job is killed (SIGKILL)
            mid-run and started again; it resumes at the checkpointed offsets and every
            event is in the table exactly once
  bad       a missing topic, a bad librdkafka property, an unreachable broker: clear errors
  cluster   `sluice local --workers 2 --kafka-dev`: a Kafka job submitted to the local
            cluster reads, parses and writes through the broker it started

Usage: test_kafka.py --bin BUILD/bin --workdir DIR --only SUITE
"""
import argparse
import collections
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + str(detail)[-3000:]) if detail and not ok else ""))
    sys.stdout.flush()


class DevKafka:
    def __init__(self, args, work, topics, brokers=3):
        self.work = work
        bfile = os.path.join(work, "bootstrap.txt")
        self.log = open(os.path.join(work, "kafka-dev.log"), "w")
        cmd = [os.path.join(args.bin, "sluice"), "kafka-dev", "--brokers", str(brokers), "--bootstrap-file", bfile]
        for t in topics:
            cmd += ["--topic", t]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 20
        while not os.path.exists(bfile):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("kafka-dev did not start")
            time.sleep(0.05)
        with open(bfile) as f:
            self.bootstrap = f.read().strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def produce(self, topic, lines, keys=None):
        data = "".join(("%s\t%s\n" % (k, l)) for k, l in zip(keys, lines)) if keys else "".join(l + "\n" for l in lines)
        cmd = ["kcat", "-P", "-b", self.bootstrap, "-t", topic] + (["-K", "\t"] if keys else [])
        p = subprocess.run(cmd, input=data, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return p.returncode == 0, p.stderr

    def consume(self, topic, fmt="%s\n"):
        p = subprocess.run(["kcat", "-C", "-b", self.bootstrap, "-t", topic, "-e", "-q", "-f", fmt],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        return [l for l in p.stdout.split("\n") if l]


def run(args, work, yaml_text, name, timeout=120, extra=()):
    path = os.path.join(work, name + ".yaml")
    with open(path, "w") as f:
        f.write(yaml_text)
    return subprocess.run([os.path.join(args.bin, "sluice"), "run", path, "--progress-interval", "1"] + list(extra),
                          cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)


def events(n, malformed_every):
    lines, keys, valid = [], [], []
    for i in range(n):
        user = "u%d" % (i % 37)
        if malformed_every and i % malformed_every == 5:
            lines.append('{"user": "%s", "n": %d' % (user, i))  # truncated JSON
        else:
            lines.append(json.dumps({"user": user, "n": i, "ts": 1700000000000 + i}))
            valid.append(i)
        keys.append(user)
    return lines, keys, valid


PIPELINE = """name: %(name)s
parallelism: %(p)d
dead_letter: kafka://%(b)s/%(dead)s
operators:
  - id: events
    type: kafka_source
    bootstrap_servers: "%(b)s"
    topics: [events]
    start: earliest
    bounded: true
    group_id: %(name)s
    properties: %(props)s
  - id: parse
    type: json_parse
    input: events
    field: value
    fields: {user: string, n: int64}
%(middle)s  - id: sink
    type: kafka_sink
    input: %(last)s
    parallelism: 1
    bootstrap_servers: "%(b)s"
    topic: %(out)s
    key: user
    properties: %(sink_props)s
"""


def suite_interop(args, work):
    kafka = DevKafka(args, work, ["events:4"] + ["out-%d:2" % p for p in (2, 4, 6)] +
                     ["dead-%d:1" % p for p in (2, 4, 6)])
    try:
        lines, keys, valid = events(3000, 20)
        ok, err = kafka.produce("events", lines, keys)
        check("kcat produces 3000 events to the 4-partition topic", ok, err)
        malformed = len(lines) - len(valid)
        for p in (2, 4, 6):
            r = run(args, work, PIPELINE % {"name": "interop-p%d" % p, "p": p, "b": kafka.bootstrap, "out": "out-%d" % p,
                                            "dead": "dead-%d" % p, "props": "{}", "sink_props": "{}", "middle": "",
                                            "last": "parse"},
                    "interop_p%d" % p)
            check("p=%d: the job finishes" % p, r.returncode == 0, r.stderr)
            out = kafka.consume("out-%d" % p, "%k\t%s\n")
            ns = collections.Counter(json.loads(l.split("\t", 1)[1])["n"] for l in out)
            check("p=%d: kcat reads every valid event exactly once from sluice's output topic" % p,
                  sorted(ns) == valid and all(c == 1 for c in ns.values()), (len(ns), len(valid)))
            check("p=%d: records are keyed by user" % p,
                  all(l.split("\t", 1)[0] == json.loads(l.split("\t", 1)[1])["user"] for l in out), out[:3])
            dead = [json.loads(l) for l in kafka.consume("dead-%d" % p)]
            check("p=%d: every malformed event is on the dead-letter topic with its reason" % p,
                  len(dead) == malformed and all(d["node"] == "parse" and d["reason"] == "malformed" for d in dead),
                  (len(dead), malformed, dead[:2]))
            check("p=%d: in = out + dead letters" % p, len(out) + len(dead) == len(lines), (len(out), len(dead)))
            reading = [l for l in r.stderr.splitlines() if "reading" in l and "partition" in l]
            owned = sum(int(l.split("reading ")[1].split()[0]) for l in reading)
            check("p=%d: each of the 4 partitions has exactly one owning subtask" % p,
                  owned == 4 and len(reading) == p, reading)
    finally:
        kafka.stop()


def suite_outage(args, work):
    # Two runs, each freezing the broker for 6 s mid-run. The consumer's socket timeout
    # is 2 s in both, so the source sees the outage and reconnects afterwards.
    #   producer_retries=False: the producer's timeout (30 s) outlasts the outage, so its
    #     in-flight batches are answered late, not retried: every record exactly once.
    #   producer_retries=True: the producer's timeout is 2 s too, so it retries batches
    #     the frozen broker may already hold. A real broker drops those retries by the
    #     idempotent producer's sequence numbers; librdkafka 2.0.2's mock broker does not
    #     (its Produce handler appends unconditionally), so copies can show up twice.
    #     No record may be lost; the copies are counted, not hidden.
    for retries in (False, True):
        outage_run(args, work, retries)


def outage_run(args, work, producer_retries):
    tag = "producer retries" if producer_retries else "no producer retry"
    sub = os.path.join(work, "retries" if producer_retries else "no-retries")
    os.makedirs(sub, exist_ok=True)
    kafka = DevKafka(args, sub, ["events:2", "out:2", "dead:1"], brokers=1)
    try:
        lines, keys, valid = events(20000, 0)
        ok, err = kafka.produce("events", lines, keys)
        check("[%s] kcat produces 20000 events" % tag, ok, err)
        props = "{socket.timeout.ms: 2000, reconnect.backoff.max.ms: 500, message.timeout.ms: 120000}"
        sink_props = props if producer_retries else "{reconnect.backoff.max.ms: 500, message.timeout.ms: 120000}"
        middle = """  - id: slow
    type: throttle
    input: parse
    records_per_second: 4000
"""
        yaml = PIPELINE % {"name": "outage", "p": 2, "b": kafka.bootstrap, "out": "out", "dead": "dead",
                           "props": props, "sink_props": sink_props, "middle": middle, "last": "slow"}
        path = os.path.join(sub, "outage.yaml")
        with open(path, "w") as f:
            f.write(yaml)
        job = subprocess.Popen([os.path.join(args.bin, "sluice"), "run", path, "--progress-interval", "1"], cwd=sub,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        kafka.proc.send_signal(signal.SIGSTOP)
        print("  [%s] broker stopped (SIGSTOP) for 6 s" % tag)
        time.sleep(6)
        kafka.proc.send_signal(signal.SIGCONT)
        print("  [%s] broker resumed (SIGCONT)" % tag)
        try:
            _, stderr = job.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            job.kill()
            _, stderr = job.communicate()
        with open(os.path.join(sub, "outage.stderr"), "w") as f:
            f.write(stderr)
        check("[%s] the job finishes after the outage" % tag, job.returncode == 0, stderr[-3000:])
        check("[%s] the job reported the outage" % tag,
              "kafka:" in stderr and ("timed out" in stderr.lower() or "down" in stderr.lower() or
                                      "disconnect" in stderr.lower()), stderr[-3000:])
        out = kafka.consume("out", "%s\n")
        ns = collections.Counter(json.loads(l)["n"] for l in out)
        dupes = [n for n, c in ns.items() if c > 1]
        check("[%s] no record lost" % tag, sorted(set(ns)) == valid, (len(ns), len(valid)))
        delivered = [l for l in stderr.splitlines() if "sink.kafka_delivered" in l]
        emitted = [l for l in stderr.splitlines() if l.strip().startswith("events ")]
        check("[%s] sluice read each offset once and its producer had each record acknowledged once" % tag,
              delivered and delivered[-1].strip().endswith("= 20000") and emitted and " 20000 " in emitted[-1],
              (delivered, emitted))
        if producer_retries:
            print("  [%s] copies stored twice by the mock broker after the producer's retry: %d" % (tag, len(dupes)))
            check("[%s] copies in the topic are only whole retried batches (each at most twice)" % tag,
                  all(c <= 2 for c in ns.values()), dupes[:10])
        else:
            check("[%s] every record is in the output exactly once" % tag,
                  len(out) == len(valid) and not dupes, (len(out), len(valid), dupes[:10]))
    finally:
        kafka.stop()


CHECKPOINT_YAML = """name: k2hive
parallelism: 2
checkpoint: {dir: ckpt, interval: 300ms}
operators:
  - id: events
    type: kafka_source
    bootstrap_servers: "%(b)s"
    topics: [events]
    start: earliest
    bounded: true
    batch_size: 200  # a checkpoint is taken between two polls: keep them short
  - id: slow
    type: throttle
    input: events
    records_per_second: 1000
  - id: parse
    type: json_parse
    input: slow
    field: value
    fields: {user: string, n: int64, ts: timestamp}
    event_time: {field: ts}
  - id: table
    type: hive_sink
    input: parse
    warehouse: warehouse
    table: ods.events
    columns: [user, n]
"""


def suite_checkpoint(args, work):
    kafka = DevKafka(args, work, ["events:2"], brokers=1)
    try:
        lines, keys, valid = events(12000, 0)
        ok, err = kafka.produce("events", lines, keys)
        check("kcat produces 12000 events", ok, err)
        path = os.path.join(work, "k2hive.yaml")
        with open(path, "w") as f:
            f.write(CHECKPOINT_YAML % {"b": kafka.bootstrap})
        sluice = os.path.join(args.bin, "sluice")
        log = open(os.path.join(work, "first.stderr"), "w")
        first = subprocess.Popen([sluice, "run", path, "--progress-interval", "0"], cwd=work,
                                 stdout=subprocess.DEVNULL, stderr=log)
        # 12,000 events at 2 x 1,000/s take 6 s: kill after the first checkpoints, mid-run.
        deadline = time.time() + 30
        # Wait for a completed checkpoint that covered records (its files are in the table),
        # then let a few more go by.
        while time.time() < deadline and not glob.glob(os.path.join(work, "warehouse/ods.db/events/dt=*/part-*")):
            time.sleep(0.05)
        time.sleep(1)
        alive = first.poll() is None
        first.send_signal(signal.SIGKILL)
        first.wait()
        check("the job was killed mid-run, after a checkpoint", alive and time.time() < deadline,
              open(os.path.join(work, "first.stderr")).read()[-2000:])
        r = subprocess.run([sluice, "run", path, "--progress-interval", "0"], cwd=work, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=120)
        with open(os.path.join(work, "second.stderr"), "w") as f:
            f.write(r.stderr)
        check("the restarted job finishes", r.returncode == 0, r.stderr[-3000:])
        check("it resumed at the checkpointed offsets", "resume at the offsets of the checkpoint" in r.stderr,
              r.stderr[-2000:])
        ns = collections.Counter()
        for f in glob.glob(os.path.join(work, "warehouse/ods.db/events/dt=*/part-*")):
            for line in open(f).read().splitlines():
                ns[int(line.split("\x01")[1])] += 1
        dupes = [n for n, c in ns.items() if c > 1]
        check("every event is in the table exactly once (%d)" % len(valid),
              sorted(ns) == valid and not dupes, (len(ns), len(valid), dupes[:10]))
    finally:
        kafka.stop()


def suite_bad(args, work):
    kafka = DevKafka(args, work, ["events:1"], brokers=1)
    try:
        base = """name: bad
operators:
  - id: events
    type: kafka_source
    bootstrap_servers: "%s"
    topics: [%s]
    bounded: true
    properties: %s
  - id: sink
    type: console_sink
    input: events
"""
        r = run(args, work, base % (kafka.bootstrap, "nope", "{}"), "missing_topic")
        check("a missing topic: the job fails naming the topic and line",
              r.returncode != 0 and "topic 'nope' does not exist" in r.stderr and "missing_topic.yaml:6" in r.stderr,
              r.stderr[-1500:])
        r = run(args, work, base % (kafka.bootstrap, "events", "{no.such.property: 1}"), "bad_property")
        check("a bad librdkafka property: exit 2 naming it and its line",
              r.returncode == 2 and "no.such.property" in r.stderr and "bad_property.yaml:8" in r.stderr,
              r.stderr[-1500:])
        r = run(args, work, base % ("127.0.0.1:1", "events", "{}"), "unreachable", timeout=60)
        check("an unreachable broker: the job fails saying so", r.returncode != 0 and "127.0.0.1:1" in r.stderr,
              r.stderr[-1500:])
    finally:
        kafka.stop()


def suite_cluster(args, work):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    b = "127.0.0.1:%d" % port
    sluice = os.path.join(args.bin, "sluice")
    data = os.path.join(work, "local")
    log = open(os.path.join(work, "local.log"), "w")
    local = subprocess.Popen([sluice, "local", "--workers", "2", "--port", "0", "--data-dir", data, "--kafka-dev",
                              "--kafka-port", str(port), "--kafka-topic", "events:4", "--kafka-topic", "out:2",
                              "--kafka-topic", "dead:1", "--log-level", "warn"], cwd=work,
                             stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.time() + 30
        ready = False
        while time.time() < deadline and not ready:
            with open(os.path.join(work, "local.log")) as f:
                ready = "ready" in f.read()
            time.sleep(0.1)
        check("sluice local --kafka-dev comes up", ready)
        with open(os.path.join(data, "coordinator.address")) as f:
            coordinator = f.read().strip()
        lines, keys, valid = events(3000, 20)
        p = subprocess.run(["kcat", "-P", "-b", b, "-t", "events", "-K", "\t"],
                           input="".join("%s\t%s\n" % (k, l) for k, l in zip(keys, lines)), text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        check("kcat produces through the bootstrap port sluice local opened", p.returncode == 0, p.stderr)
        path = os.path.join(work, "cluster.yaml")
        with open(path, "w") as f:
            f.write(PIPELINE % {"name": "kcluster", "p": 4, "b": b, "out": "out", "dead": "dead", "props": "{}",
                                "sink_props": "{}", "middle": "", "last": "parse"})
        r = subprocess.run([sluice, "submit", path, "--coordinator", coordinator, "--wait", "-q"], cwd=work,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        check("the Kafka job finishes on 2 workers", r.returncode == 0, r.stderr)
        out = subprocess.run(["kcat", "-C", "-b", b, "-t", "out", "-e", "-q"], stdout=subprocess.PIPE, text=True,
                             timeout=60).stdout.split("\n")
        ns = collections.Counter(json.loads(l)["n"] for l in out if l)
        check("every valid event once in the output topic", sorted(ns) == valid and all(c == 1 for c in ns.values()),
              (len(ns), len(valid)))
        dead = subprocess.run(["kcat", "-C", "-b", b, "-t", "dead", "-e", "-q"], stdout=subprocess.PIPE, text=True,
                              timeout=60).stdout.split("\n")
        check("every malformed event on the dead-letter topic (written by both workers)",
              len([d for d in dead if d]) == len(lines) - len(valid), len(dead))
    finally:
        local.send_signal(signal.SIGINT)
        try:
            rc = local.wait(timeout=20)
        except subprocess.TimeoutExpired:
            local.kill()
            rc = None
        check("Ctrl-C stops the cluster and the broker", rc == 0, rc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only", required=True, choices=["interop", "outage", "checkpoint", "bad", "cluster"])
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    if shutil.which("kcat") is None:
        print("FAIL kcat is not installed (scripts/setup.sh installs it)")
        sys.exit(1)
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    globals()["suite_" + args.only](args, args.workdir)
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    sys.exit(0 if results and all(results) else 1)


if __name__ == "__main__":
    main()
