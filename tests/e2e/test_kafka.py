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

Interoperability with clients that are not librdkafka (issue #10.11), against kafka-python
(Debian's python3-kafka: pure Python, the Java producer's partitioner, headers, no lz4
without python3-lz4), like kafkajs a client that reads only some codecs:
  clients_compression  kafka_sink with its default settings writes 20,000 records that
            kafka-python reads back, every one; the record batches are uncompressed
            (their codec read from the raw Fetch response); an explicit `compression` is
            honoured (gzip, read by kafka-python; lz4, in the batch attributes)
  clients_partitioner  the same 500 keys produced by kafka-python's default partitioner
            and by kafka_sink's default land in the same partition each, which is
            toPositive(murmur2(key)) % partitions by an independent Python murmur2;
            `partitioner: consistent_random` (librdkafka's CRC32) still selectable
  clients_headers  kafka-python produces records with headers (repeated names, bytes
            that are not UTF-8, empty values); kafka_source `headers: true` exposes them as
            JSON; kafka_sink writes them back (`headers_field`) plus fields as headers
            (`headers`) and a null header, and kafka-python reads exactly those; a record
            whose headers are not a JSON object is a dead letter `bad_headers`

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


# ---- clients that are not librdkafka: kafka-python -------------------------------------

# kafka-python 2.0.2 cannot negotiate versions with librdkafka's mock broker on its own.
KAFKA_PYTHON_API = (2, 0, 0)


def java_murmur2(data):
    """Kafka's org.apache.kafka.common.utils.Utils.murmur2, transcribed from the Java source
    (independent of librdkafka and of kafka-python)."""
    m, r = 0x5bd1e995, 24
    length = len(data)
    h = (0x9747b28c ^ length) & 0xffffffff
    for i in range(0, length - length % 4, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * m) & 0xffffffff
        k ^= k >> r
        k = (k * m) & 0xffffffff
        h = (h * m) & 0xffffffff
        h ^= k
    tail = length - length % 4
    rest = length % 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h  # a Java int


def java_partition(key, partitions):
    """DefaultPartitioner / BuiltInPartitioner: Utils.toPositive(Utils.murmur2(key)) % n."""
    return (java_murmur2(key) & 0x7fffffff) % partitions


def py_consume(bootstrap, topic, partitions, expect, timeout=30):
    """Every record of `topic` read with kafka-python's KafkaConsumer (at least `expect`,
    within `timeout`). Raises what kafka-python raises (e.g. an unsupported codec)."""
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=bootstrap, api_version=KAFKA_PYTHON_API, enable_auto_commit=False,
                      auto_offset_reset="earliest", consumer_timeout_ms=1000)
    try:
        c.assign([TopicPartition(topic, p) for p in range(partitions)])
        out = []
        deadline = time.time() + timeout
        while len(out) < expect and time.time() < deadline:
            out.extend(c)  # stops after consumer_timeout_ms without a record
        return out
    finally:
        c.close()


def py_batch_codecs(bootstrap, topic, partitions):
    """The compression codec of every record batch of `topic` (0 none, 1 gzip, 2 snappy,
    3 lz4, 4 zstd), read from the attributes of the raw Fetch response, without
    decompressing anything."""
    from kafka.client_async import KafkaClient
    from kafka.protocol.fetch import FetchRequest
    from kafka.record import MemoryRecords
    from kafka.structs import TopicPartition
    client = KafkaClient(bootstrap_servers=bootstrap, api_version=KAFKA_PYTHON_API)
    try:
        client.poll(future=client.add_topic(topic), timeout_ms=10000)
        codecs = collections.Counter()
        for p in range(partitions):
            node = client.cluster.leader_for_partition(TopicPartition(topic, p))
            deadline = time.time() + 10
            while not client.ready(node) and time.time() < deadline:
                client.poll(timeout_ms=100)
            offset = 0
            while True:
                f = client.send(node, FetchRequest[4](-1, 100, 1, 32 << 20, 0, [(topic, [(p, offset, 32 << 20)])]))
                client.poll(future=f, timeout_ms=10000)
                part = f.value.topics[0][1][0]
                _, err, highwater = part[0], part[1], part[2]
                if err:
                    raise RuntimeError("fetch %s[%d]: error %d" % (topic, p, err))
                records = MemoryRecords(part[-1])
                batch = records.next_batch()
                while batch is not None:
                    codecs[batch.compression_type] += 1
                    offset = batch.base_offset + batch.last_offset_delta + 1
                    batch = records.next_batch()
                if offset >= highwater:
                    break
        return codecs
    finally:
        client.close()


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(l + "\n" for l in lines))


SINK_JOB = """name: %(name)s
operators:
  - id: lines
    type: file_source
    paths: [%(input)s]
  - id: parse
    type: json_parse
    input: lines
    field: line
    fields: {user: string, n: int64}
  - id: sink
    type: kafka_sink
    input: parse
    parallelism: 1
    bootstrap_servers: "%(b)s"
    topic: %(topic)s
    key: user
%(extra)s"""


def suite_clients_compression(args, work):
    kafka = DevKafka(args, work, ["out:2", "out-gzip:2", "out-lz4:2"], brokers=1)
    try:
        n = 20000
        lines = [json.dumps({"user": "u%d" % (i % 97), "n": i}) for i in range(n)]
        write_lines(os.path.join(work, "events.jsonl"), lines)
        r = run(args, work, SINK_JOB % {"name": "default-codec", "input": "events.jsonl", "b": kafka.bootstrap,
                                        "topic": "out", "extra": ""}, "default_codec")
        check("sluice writes %d records with kafka_sink's default settings" % n, r.returncode == 0, r.stderr)
        try:
            got = py_consume(kafka.bootstrap, "out", 2, n)
            error = None
        except Exception as e:  # e.g. UnsupportedCodecError: lz4 without python3-lz4
            got, error = [], "%s: %s" % (type(e).__name__, e)
        ns = collections.Counter(json.loads(m.value)["n"] for m in got)
        check("kafka-python reads every record of the default output (%d)" % n,
              error is None and sorted(ns) == list(range(n)) and all(c == 1 for c in ns.values()),
              error or (len(got), len(ns)))
        codecs = py_batch_codecs(kafka.bootstrap, "out", 2)
        print("  record batch codecs of the default output: %s" % dict(codecs))
        check("the default output's record batches are uncompressed (codec 0), which every client reads",
              codecs and set(codecs) == {0}, dict(codecs))
        small = lines[:2000]
        write_lines(os.path.join(work, "small.jsonl"), small)
        for codec, number, topic in (("gzip", 1, "out-gzip"), ("lz4", 3, "out-lz4")):
            r = run(args, work, SINK_JOB % {"name": "codec-" + codec, "input": "small.jsonl", "b": kafka.bootstrap,
                                            "topic": topic, "extra": "    compression: %s\n" % codec},
                    "codec_" + codec)
            check("compression: %s: the job finishes" % codec, r.returncode == 0, r.stderr)
            codecs = py_batch_codecs(kafka.bootstrap, topic, 2)
            check("compression: %s is honoured: every record batch has codec %d" % (codec, number),
                  codecs and set(codecs) == {number}, dict(codecs))
        got = py_consume(kafka.bootstrap, "out-gzip", 2, len(small))
        check("kafka-python reads every gzip record", sorted(json.loads(m.value)["n"] for m in got) == list(range(2000)),
              len(got))
        out = kafka.consume("out-lz4")
        check("kcat (librdkafka) reads every lz4 record", len(out) == len(small), len(out))
    finally:
        kafka.stop()


def suite_clients_partitioner(args, work):
    partitions = 6
    kafka = DevKafka(args, work, ["by-python:%d" % partitions, "by-sluice:%d" % partitions,
                                  "by-crc:%d" % partitions], brokers=1)
    try:
        from kafka import KafkaProducer
        # 500 keys of every length modulo 4 (murmur2's tail), ASCII and multi-byte UTF-8.
        keys = ["user-%d" % i for i in range(300)] + ["k%s" % ("x" * (i % 9)) + str(i) for i in range(100)] + \
               ["用户-%d" % i for i in range(100)]
        check("500 distinct keys", len(set(keys)) == 500)
        # Kafka's UtilsTest.testMurmur2 values.
        vectors = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
                   b"a-little-bit-longer-string": -1486304829,
                   b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971, b"abc": 479470107}
        check("the Python murmur2 gives the Java values", all(java_murmur2(k) == v for k, v in vectors.items()),
              {k: java_murmur2(k) for k in vectors})
        kp = KafkaProducer(bootstrap_servers=kafka.bootstrap, api_version=KAFKA_PYTHON_API)
        for i, k in enumerate(keys):
            kp.send("by-python", key=k.encode("utf-8"), value=json.dumps({"user": k, "n": i}).encode())
        kp.flush()
        kp.close()
        write_lines(os.path.join(work, "keys.jsonl"), [json.dumps({"user": k, "n": i}, ensure_ascii=False)
                                                       for i, k in enumerate(keys)])
        # compression: none spelled out, so that this suite checks partitioning alone
        # (kafka-python could not read the lz4 that used to be the default).
        r = run(args, work, SINK_JOB % {"name": "keyed", "input": "keys.jsonl", "b": kafka.bootstrap,
                                        "topic": "by-sluice", "extra": "    compression: none\n"}, "keyed")
        check("sluice writes the same 500 keys with kafka_sink's default partitioner", r.returncode == 0, r.stderr)
        r = run(args, work, SINK_JOB % {"name": "crc", "input": "keys.jsonl", "b": kafka.bootstrap,
                                        "topic": "by-crc",
                                        "extra": "    compression: none\n    partitioner: consistent_random\n"}, "crc")
        check("partitioner: consistent_random is accepted", r.returncode == 0, r.stderr)

        def placement(topic, timeout=30):
            return {m.key.decode("utf-8"): m.partition
                    for m in py_consume(kafka.bootstrap, topic, partitions, 500, timeout)}

        py, sl, crc = placement("by-python"), placement("by-sluice"), placement("by-crc", 5)
        java = {k: java_partition(k.encode("utf-8"), partitions) for k in keys}
        check("kafka-python's default partitioner puts each key where Java's murmur2 does",
              py == java, [k for k in keys if py.get(k) != java[k]][:10])
        same = sum(1 for k in keys if sl.get(k) == py[k])
        print("  keys in the same partition as kafka-python's: kafka_sink default %d of 500, "
              "partitioner consistent_random (CRC32) %d of 500" % (same, sum(1 for k in keys if crc.get(k) == py[k])))
        check("kafka_sink's default puts every key in the partition kafka-python and Java use (%d of 500)" % same,
              same == 500 and sl == java, [(k, sl.get(k), py[k]) for k in keys if sl.get(k) != py[k]][:10])
        check("the override is in effect: CRC32 places keys elsewhere", crc != java and len(crc) == 500, len(crc))
    finally:
        kafka.stop()


def expected_headers_json(headers):
    """kafka_source's `headers` column for kafka-python's header list, computed
    independently: names in order of first occurrence, a repeated name as a list, each value
    decoded as UTF-8 with every byte outside a valid sequence read as Latin-1 (U+00XX)."""
    def text(b):
        if b is None:
            return None
        out, i = [], 0
        while i < len(b):
            for n in (1, 2, 3, 4):
                try:
                    out.append(b[i:i + n].decode("utf-8"))
                    i += n
                    break
                except UnicodeDecodeError:
                    continue
            else:
                out.append(chr(b[i]))
                i += 1
        return "".join(out)
    grouped = collections.OrderedDict()
    for name, value in headers:
        grouped.setdefault(name, []).append(text(value))
    return {k: v[0] if len(v) == 1 else v for k, v in grouped.items()}


HEADERS_JOB = """name: headers
dead_letter: dead.jsonl
operators:
  - id: events
    type: kafka_source
    bootstrap_servers: "%(b)s"
    topics: [in]
    start: earliest
    bounded: true
    headers: true
  - id: seen
    type: file_sink
    input: events
    parallelism: 1
    path: seen.jsonl
  - id: back
    type: kafka_sink
    input: events
    parallelism: 1
    bootstrap_servers: "%(b)s"
    topic: out
    key: key
    format: raw
    field: value
    headers_field: headers
    headers: [partition, offset]
  - id: lines
    type: file_source
    paths: [meta.jsonl]
  - id: parse
    type: json_parse
    input: lines
    field: line
    fields: {user: string, trace: string, n: int64, meta: string}
  - id: fields
    type: kafka_sink
    input: parse
    parallelism: 1
    bootstrap_servers: "%(b)s"
    topic: fields
    key: user
    headers: [trace, n]
    headers_field: meta
"""


def suite_clients_headers(args, work):
    kafka = DevKafka(args, work, ["in:2", "out:2", "fields:1"], brokers=1)
    try:
        from kafka import KafkaProducer
        n = 40
        sent = {}
        kp = KafkaProducer(bootstrap_servers=kafka.bootstrap, api_version=KAFKA_PYTHON_API)
        for i in range(n):
            if i % 4 == 3:
                headers = []  # no headers at all
            else:
                headers = [("hop", b"edge-a"), ("trace", b"t-%d" % i), ("hop", b"edge-b"),
                           ("bin", b"\xff\x00\xc3(" + bytes([i])), ("utf", "café 中 %d" % i),
                           ("empty", b"")]
                headers = [(k, v.encode("utf-8") if isinstance(v, str) else v) for k, v in headers]
            sent[i] = headers
            kp.send("in", key=b"k%d" % i, value=b"v%d" % i, headers=headers)
        kp.flush()
        kp.close()
        meta = [json.dumps({"user": "u1", "trace": "t-1", "n": 5, "meta": json.dumps({"tenant": "acme", "x": None})}),
                json.dumps({"user": "u2", "trace": "t-2", "n": 6, "meta": "not an object"}),
                json.dumps({"user": "u3", "trace": "t-3", "n": 7, "meta": json.dumps({"hop": ["a", "b"], "k": 1})})]
        write_lines(os.path.join(work, "meta.jsonl"), meta)
        r = run(args, work, HEADERS_JOB % {"b": kafka.bootstrap}, "headers")
        check("the headers job finishes", r.returncode == 0, r.stderr)
        rows = [json.loads(l) for l in open(os.path.join(work, "seen.jsonl"), encoding="utf-8")] \
            if os.path.exists(os.path.join(work, "seen.jsonl")) else []
        check("kafka_source read the %d records" % n, len(rows) == n, len(rows))
        bad = []
        for row in rows:
            i = int(row["value"][1:])
            if json.loads(row["headers"]) != expected_headers_json(sent[i]):
                bad.append((i, row["headers"], expected_headers_json(sent[i])))
        check("kafka_source's `headers` column holds each record's headers as a JSON object "
              "(repeated names as lists, non-UTF-8 bytes as \\u00XX, none as {})", rows and not bad, bad[:3])
        got = py_consume(kafka.bootstrap, "out", 2, n)
        bad = []
        for m in got:
            i = int(m.value[1:])
            want = []
            for name, values in expected_headers_json(sent[i]).items():
                for v in (values if isinstance(values, list) else [values]):
                    want.append((name, v.encode("utf-8")))
            row = [r_ for r_ in rows if r_["value"] == "v%d" % i][0]
            want += [("partition", str(row["partition"]).encode()), ("offset", str(row["offset"]).encode())]
            if list(m.headers) != want or m.key != b"k%d" % i:
                bad.append((i, m.headers, want))
        check("kafka-python reads back the headers kafka_sink wrote from `headers_field` and `headers`",
              len(got) == n and not bad, (len(got), bad[:3]))
        got = py_consume(kafka.bootstrap, "fields", 1, 2)
        want = {b"u1": [("tenant", b"acme"), ("x", None), ("trace", b"t-1"), ("n", b"5")],
                b"u3": [("hop", b"a"), ("hop", b"b"), ("k", b"1"), ("trace", b"t-3"), ("n", b"7")]}
        check("fields become headers named after them; null is a header without value",
              {m.key: list(m.headers) for m in got} == want, [(m.key, m.headers) for m in got])
        dead = [json.loads(l) for l in open(os.path.join(work, "dead.jsonl"))] \
            if os.path.exists(os.path.join(work, "dead.jsonl")) else []
        check("the record whose headers are not a JSON object is a dead letter bad_headers",
              len(dead) == 1 and dead[0]["node"] == "fields" and dead[0]["reason"] == "bad_headers" and
              dead[0]["row"]["user"] == "u2", dead)
    finally:
        kafka.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only", required=True, choices=["interop", "outage", "checkpoint", "bad", "cluster",
                                                      "clients_compression", "clients_partitioner",
                                                      "clients_headers"])
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    if args.only.startswith("clients_"):
        try:
            import kafka  # noqa: F401
        except ImportError:
            # kafka-python is the Debian package (python3-kafka): use the system Python when
            # the one running this (a pyenv, say) lacks it.
            if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != "/usr/bin/python3" \
                    and not os.environ.get("SLUICE_REEXEC"):
                os.environ["SLUICE_REEXEC"] = "1"
                os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
            print("FAIL kafka-python is not installed (scripts/setup.sh installs python3-kafka)")
            sys.exit(1)
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
