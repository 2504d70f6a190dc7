#!/usr/bin/env python3
"""End-to-end tests of the offline pipeline (examples/offline_logs): real `sluice`
processes on generated nginx logs, checked with independent Python code and pandas.

Suites:
  pipeline     three days of logs dropped into a spool directory -> `sluice ingest --once`
               -> Hive table ods.access_log (every column read back with pandas and
               compared with a Python parse of the logs); `sluice batch` -> dws.page_daily
               (PV, UV, top referers per path per day, compared with Python); re-running
               one day replaces only that partition; a missing partition range fails.
  restart      `sluice ingest` killed (SIGKILL) mid-file and started again: every clean
               line is in the table exactly once, and the file is marked done once.
  equivalence  the same daily aggregate in streaming over the raw files (with a disorder
               allowance that leaves nothing late) and in batch over the Hive partitions
               written from them: identical output.
  hive_text    nulls, empty strings, separators, newlines, backslashes, the text \\N and
               non-UTF-8 bytes survive the Hive text format (pandas and a reader written
               from Hive's escaping rules).
  two_agents   a second `sluice ingest` on a spool directory an agent is working on refuses
               to start, naming the lock and its holder, and touches nothing; the first
               puts every row in the table exactly once. Two agents on two spool
               directories writing one table do not drop each other's in-progress files.

Usage: test_offline.py --bin BUILD/bin --repo ROOT --workdir DIR --only SUITE
"""
import argparse
import collections
import csv
import datetime
import glob
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import expected_nginx  # noqa: E402  (LINE_RE, parse rules, is_bot, is_static)

results = []
TZ = datetime.timezone(datetime.timedelta(hours=8))
DAYS = ["2026-11-20", "2026-11-21", "2026-11-22"]
COLUMNS = ["remote_addr", "time", "method", "path", "query", "status", "bytes", "referer", "user_agent"]


def check(name, ok, detail=""):
    results.append(bool(ok))
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + str(detail)[-3000:]) if detail and not ok else ""))
    sys.stdout.flush()


def sluice(args, cmd, cwd, timeout=300):
    return subprocess.run([os.path.join(args.bin, "sluice")] + cmd, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


def gen_days(args, work, lines):
    """Generates one log file per day (the last one gzip) under work/incoming."""
    files = []
    for i, day in enumerate(DAYS):
        name = "access.%s.log%s" % (day, ".gz" if i == len(DAYS) - 1 else "")
        path = os.path.join(work, "incoming", name)
        r = sluice(args, ["gen", "nginx", "--out", path, "--lines", str(lines), "--seed", str(i + 1), "--date", day],
                   work)
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        files.append(path)
    return files


def drop_into_spool(files, spool):
    """What a transfer job does: copy under a .tmp name, then rename when complete."""
    os.makedirs(spool, exist_ok=True)
    for f in files:
        tmp = os.path.join(spool, os.path.basename(f) + ".tmp")
        shutil.copyfile(f, tmp)
        os.rename(tmp, tmp[:-4])


def read_lines(path):
    return expected_nginx.read_input(path).split(b"\n")[:-1]


def full_parse(line):
    """Every column of a clean line, as Hive text shows it (strings; None for null)."""
    if line.endswith(b"\r"):
        line = line[:-1]
    p = expected_nginx.parse(line)
    if p is None:
        return None, "malformed"
    addr, path, agent, event_ms = p
    if expected_nginx.is_bot(agent):
        return None, "bot"
    if expected_nginx.is_static(path):
        return None, "static_asset"
    m = expected_nginx.LINE_RE.fullmatch(line)
    request, status, nbytes, referer = m.group(12), m.group(13), m.group(14), m.group(15)
    method, target, _ = request.split(b" ")
    query = target.split(b"?", 1)[1] if b"?" in target else None
    t = datetime.datetime.fromtimestamp(event_ms / 1000, tz=datetime.timezone.utc)
    dec = lambda b: None if b is None else b.decode("utf-8", "surrogateescape")  # noqa: E731
    row = {
        "remote_addr": dec(addr), "time": t.strftime("%Y-%m-%d %H:%M:%S"), "method": dec(method),
        "path": dec(path), "query": dec(query), "status": dec(status), "bytes": "0" if nbytes == b"-" else dec(nbytes),
        "referer": None if referer == b"-" else dec(referer), "user_agent": dec(agent),
    }
    dt = datetime.datetime.fromtimestamp(event_ms / 1000, tz=TZ).strftime("%Y-%m-%d")
    return (dt, row, event_ms), "kept"


def expected_table(files):
    rows, counts = [], collections.Counter()
    for f in files:
        for line in read_lines(f):
            r, why = full_parse(line)
            counts[why] += 1
            if r is not None:
                rows.append(r)
    return rows, counts


def hive_unescape(s):
    """Hive LazySimpleSerDe with ESCAPED BY '\\\\' and serialization.escape.crlf."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            out.append("\n" if n == "n" else "\r" if n == "r" else n)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_table_pandas(table_dir, columns):
    """Every partition of a table through pandas: {dt: [row dicts]}."""
    import pandas as pd
    out = {}
    for part in sorted(glob.glob(os.path.join(table_dir, "dt=*"))):
        dt = os.path.basename(part)[3:]
        rows = []
        for f in sorted(os.listdir(part)):
            if f.startswith((".", "_")):
                continue
            df = pd.read_csv(os.path.join(part, f), sep="\x01", header=None, names=columns, na_values="\\N",
                             keep_default_na=False, dtype=str, quoting=csv.QUOTE_NONE,
                             compression="gzip" if f.endswith(".gz") else None, encoding="utf-8",
                             encoding_errors="surrogateescape")
            for rec in df.to_dict("records"):
                rows.append({k: (None if isinstance(v, float) else hive_unescape(v)) for k, v in rec.items()})
        out[dt] = rows
    return out


def canon(rows):
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def top_k(values, k):
    c = collections.Counter(v for v in values if v is not None)
    best = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return ",".join("%s:%d" % kv for kv in best)


def expected_daily(rows):
    by = collections.defaultdict(list)
    for dt, row, _ in rows:
        by[(dt, row["path"])].append(row)
    out = collections.defaultdict(list)
    for (dt, path), rs in by.items():
        out[dt].append({"path": path, "pv": str(len(rs)), "uv": str(len({r["remote_addr"] for r in rs})),
                        "top_referers": top_k([r["referer"] for r in rs], 3)})
    return out


def suite_pipeline(args, work):
    files = gen_days(args, work, args.lines)
    spool = os.path.join(work, "data/offline/spool")
    drop_into_spool(files, spool)
    with open(os.path.join(spool, "access.2026-11-23.log.tmp"), "w") as f:
        f.write("still being copied\n")  # in progress: must be left alone
    r = sluice(args, ["ingest", os.path.join(args.repo, "examples/offline_logs/ingest.yaml"), "--once",
                      "--progress-interval", "0"], work)
    check("sluice ingest --once finishes", r.returncode == 0, r.stderr[-3000:])
    done = sorted(os.listdir(spool))
    check("every spool file is marked .COMPLETED and the .tmp file is untouched",
          done == sorted([os.path.basename(f) + ".COMPLETED" for f in files] + [".sluice", "access.2026-11-23.log.tmp"]),
          done)
    rows, counts = expected_table(files)
    table = os.path.join(work, "data/offline/warehouse/ods.db/access_log")
    got = read_table_pandas(table, COLUMNS)
    want = collections.defaultdict(list)
    for dt, row, _ in rows:
        want[dt].append(row)
    check("ods.access_log has one partition per day", sorted(got) == sorted(want), (sorted(got), sorted(want)))
    for dt in sorted(want):
        check("dt=%s: pandas reads every column of every clean line (%d rows)" % (dt, len(want[dt])),
              canon(got.get(dt, [])) == canon(want[dt]),
              (len(got.get(dt, [])), len(want[dt]), canon(got.get(dt, []))[:2], canon(want[dt])[:2]))
        check("dt=%s has _SUCCESS and its ADD PARTITION statement" % dt,
              os.path.exists(os.path.join(table, "dt=" + dt, "_SUCCESS")) and
              os.path.exists(os.path.join(table, "_ddl/partitions/dt=%s.sql" % dt)))
    dead = collections.Counter(json.loads(l)["reason"] for l in open(os.path.join(work, "out/offline/ingest_dead_letters.jsonl")))
    check("dead letters by reason match the Python classification",
          dead == collections.Counter({k: v for k, v in counts.items() if k != "kept"}), (dead, counts))
    ddl = open(os.path.join(table, "_ddl/create_table.sql")).read()
    check("the table's DDL is written next to the data",
          "CREATE EXTERNAL TABLE IF NOT EXISTS `ods`.`access_log`" in ddl and "`time` TIMESTAMP" in ddl, ddl)

    # The daily batch job over the three partitions.
    page_daily = os.path.join(args.repo, "examples/offline_logs/page_daily.yaml")
    r = sluice(args, ["batch", page_daily, "--partitions", "dt=2026-11-20..2026-11-22", "--progress-interval", "0"],
               work)
    check("sluice batch page_daily finishes", r.returncode == 0, r.stderr[-3000:])
    daily_dir = os.path.join(work, "data/offline/warehouse/dws.db/page_daily")
    daily = read_table_pandas(daily_dir, ["path", "pv", "uv", "top_referers"])
    for rows_ in daily.values():
        for row in rows_:
            if row["top_referers"] is None:
                row["top_referers"] = ""  # an empty top_k is an empty string; pandas reads it as NaN
    want_daily = expected_daily(rows)
    check("dws.page_daily: PV, UV and top referers per path per day match Python",
          sorted(daily) == sorted(want_daily) and all(canon(daily[d]) == canon(want_daily[d]) for d in want_daily),
          [(d, len(daily.get(d, [])), len(want_daily[d])) for d in want_daily])

    # Re-run one day: only that partition is replaced.
    before = {d: sorted(os.listdir(os.path.join(daily_dir, "dt=" + d))) for d in DAYS}
    r = sluice(args, ["batch", page_daily, "--partitions", "dt=2026-11-21", "--progress-interval", "0"], work)
    check("re-running dt=2026-11-21 succeeds", r.returncode == 0, r.stderr[-3000:])
    after = {d: sorted(os.listdir(os.path.join(daily_dir, "dt=" + d))) for d in DAYS}
    again = read_table_pandas(daily_dir, ["path", "pv", "uv", "top_referers"])
    for rows_ in again.values():
        for row in rows_:
            if row["top_referers"] is None:
                row["top_referers"] = ""
    check("the re-run replaced dt=2026-11-21 with new files of the same content",
          after["2026-11-21"] != before["2026-11-21"] and canon(again["2026-11-21"]) == canon(want_daily["2026-11-21"]),
          (before["2026-11-21"], after["2026-11-21"]))
    check("the other days' partitions are untouched",
          after["2026-11-20"] == before["2026-11-20"] and after["2026-11-22"] == before["2026-11-22"])
    leftovers = [n for n in os.listdir(daily_dir) if n.startswith(".")]
    check("no staging directories are left behind", not leftovers, leftovers)

    r = sluice(args, ["batch", page_daily, "--partitions", "dt=2027-01-01..2027-01-31", "--progress-interval", "0"],
               work)
    check("a range with no partition fails with exit 1 and says so",
          r.returncode == 1 and "no partition in dt=2027-01-01..2027-01-31" in r.stderr, r.stderr[-2000:])


# The nginx_pv_uv cleaning rules (the same as examples/offline_logs/ingest.yaml).
CLEAN = """  - id: clean
    type: clean
    input: parse
    rules:
      - reason: bot
        bot: {field: user_agent, words: [bot, spider, crawl]}
      - reason: static_asset
        static_asset: {field: path}
"""

RESTART_YAML = """name: restart
parallelism: 1
dead_letter: out/dead.jsonl
operators:
  - id: spool
    type: spooldir_source
    dir: spool
    batch_size: 500
  - id: slow
    type: throttle
    input: spool
    records_per_second: 20000
  - id: parse
    type: access_log_parse
    input: slow
    fields: [remote_addr, time, method, path, query, status, bytes, referer, user_agent]
%(clean)s  - id: table
    type: hive_sink
    input: clean
    warehouse: warehouse
    table: ods.access_log
    time_zone: "+08:00"
""" % {"clean": CLEAN}


def suite_restart(args, work):
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "incoming", "access.2026-11-20.log")
    r = sluice(args, ["gen", "nginx", "--out", path, "--lines", "100000", "--seed", "7", "--date", "2026-11-20"], work)
    check("generate 100,000 lines", r.returncode == 0, r.stderr)
    drop_into_spool([path], os.path.join(work, "spool"))
    yaml_path = os.path.join(work, "restart.yaml")
    with open(yaml_path, "w") as f:
        f.write(RESTART_YAML)
    ckpt = os.path.join(work, "spool/.sluice/restart")
    log = open(os.path.join(work, "first.stderr"), "w")
    first = subprocess.Popen([os.path.join(args.bin, "sluice"), "ingest", yaml_path, "--checkpoint-interval", "0.5",
                              "--progress-interval", "0"], cwd=work, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline and not completed_checkpoint(ckpt):
        time.sleep(0.05)
    time.sleep(1.2)  # a couple more checkpoints, and some lines after the last one
    killed = first.poll() is None
    first.send_signal(signal.SIGKILL)
    first.wait()
    check("the agent was killed mid-file, after a checkpoint", killed and completed_checkpoint(ckpt))
    check("the file is not marked done yet", os.path.exists(os.path.join(work, "spool", "access.2026-11-20.log")))
    r = sluice(args, ["ingest", yaml_path, "--once", "--checkpoint-interval", "0.5", "--progress-interval", "0"], work,
               timeout=120)
    check("the restarted agent finishes the file", r.returncode == 0, r.stderr[-3000:])
    check("it resumed from the checkpoint", "resuming access.2026-11-20.log after line" in r.stderr, r.stderr[-2000:])
    rows, counts = expected_table([path])
    got = read_table_pandas(os.path.join(work, "warehouse/ods.db/access_log"), COLUMNS)
    all_rows = [json.dumps(r_, sort_keys=True) for rs in got.values() for r_ in rs]
    want_rows = [json.dumps(r_[1], sort_keys=True) for r_ in rows]
    dupes = [k for k, c in collections.Counter(all_rows).items() if c > 1]
    want_dupes = [k for k, c in collections.Counter(want_rows).items() if c > 1]
    check("every clean line is in the table exactly once (%d rows)" % len(want_rows),
          sorted(all_rows) == sorted(want_rows), (len(all_rows), len(want_rows), len(dupes), len(want_dupes)))
    check("the file is marked done once", sorted(os.listdir(os.path.join(work, "spool"))) ==
          [".sluice", "access.2026-11-20.log.COMPLETED"], os.listdir(os.path.join(work, "spool")))
    hidden = [p for p in glob.glob(os.path.join(work, "warehouse/ods.db/access_log/*/.*")) if "inprogress" in p]
    check("no in-progress file is left", not hidden, hidden)


STREAM_YAML = """name: daily_streaming
parallelism: 1
mode: streaming
operators:
  - id: logs
    type: file_source
    paths: [%(files)s]
  - id: parse
    type: access_log_parse
    input: logs
    fields: [remote_addr, time, method, path, query, status, bytes, referer, user_agent]
    event_time: {field: time, max_out_of_orderness: 5m}
%(clean)s%(aggregate)s"""

BATCH_YAML = """name: daily_batch
parallelism: 1
operators:
  - id: clean
    type: hive_partitions
    warehouse: warehouse
    table: ods.access_log
    partitions: ["dt=2026-11-20..2026-11-22"]
    event_time: {field: time}
%(aggregate)s"""

AGGREGATE = """  - id: daily
    type: window
    input: clean
    key_by: [path]
    window: {type: tumbling, size: 1d, offset: 16h}
    aggregates:
      - {fn: count, as: pv}
      - {fn: count_distinct, field: remote_addr, as: uv}
      - {fn: top_k, field: referer, k: 3, as: top_referers}
      - {fn: sum, field: bytes, as: bytes}
    emit: [window_start, path, pv, uv, top_referers, bytes]
  - id: out
    type: file_sink
    input: daily
    path: %s
"""


def suite_equivalence(args, work):
    os.makedirs(work, exist_ok=True)
    files = gen_days(args, work, args.lines)
    # Streaming over the raw files, with watermarks; nothing may be late.
    with open(os.path.join(work, "stream.yaml"), "w") as f:
        f.write(STREAM_YAML % {"files": ", ".join(files), "clean": CLEAN, "aggregate": AGGREGATE % "out/stream.tsv"})
    r = sluice(args, ["run", "stream.yaml", "--progress-interval", "0"], work)
    check("streaming run finishes", r.returncode == 0, r.stderr[-3000:])
    check("streaming: no record is late",
          "counter daily.late_records = 0" in r.stderr and " late " not in r.stderr, r.stderr[-2000:])
    # The Hive partitions written from the same files, then batch.
    drop_into_spool(files, os.path.join(work, "spool"))
    with open(os.path.join(work, "ingest.yaml"), "w") as f:
        f.write(RESTART_YAML.replace("records_per_second: 20000", "records_per_second: 100000000"))
    r = sluice(args, ["ingest", "ingest.yaml", "--once", "--progress-interval", "0"], work)
    check("ingest into ods.access_log", r.returncode == 0, r.stderr[-3000:])
    with open(os.path.join(work, "batch.yaml"), "w") as f:
        f.write(BATCH_YAML % {"aggregate": AGGREGATE % "out/batch.tsv"})
    r = sluice(args, ["batch", "batch.yaml", "--progress-interval", "0"], work)
    check("batch run over the partitions finishes", r.returncode == 0, r.stderr[-3000:])
    stream = sorted(open(os.path.join(work, "out/stream.tsv")).read().splitlines())
    batch = sorted(open(os.path.join(work, "out/batch.tsv")).read().splitlines())
    check("streaming and batch give identical output (%d rows)" % len(stream), stream == batch and len(stream) > 3,
          (len(stream), len(batch), [l for l in stream if l not in set(batch)][:3]))


TEXT_YAML = """name: hive_text
parallelism: 1
operators:
  - id: events
    type: file_source
    paths: [events.jsonl]
  - id: parse
    type: json_parse
    input: events
    fields: {id: int64, s: string, ts: timestamp}
    event_time: {field: ts}
  - id: table
    type: hive_sink
    input: parse
    warehouse: warehouse
    table: t.text
    columns: [id, s]
  - id: logs
    type: file_source
    paths: [agents.log]
  - id: agents
    type: access_log_parse
    input: logs
    fields: [time, user_agent]
  - id: raw
    type: hive_sink
    input: agents
    warehouse: warehouse
    table: t.raw
    columns: [user_agent]
"""


def read_hive_text(path):
    """A reader written from Hive's rules: split on unescaped \\x01, unescape, \\N is null."""
    data = open(path, "rb").read()
    rows = []
    for line in data.split(b"\n")[:-1]:
        fields, cur, i, escaped_null = [], bytearray(), 0, True
        raw = []
        while i < len(line):
            c = line[i:i + 1]
            if c == b"\\" and i + 1 < len(line):
                raw.append(line[i:i + 2])
                n = line[i + 1:i + 2]
                cur += b"\n" if n == b"n" else b"\r" if n == b"r" else n
                i += 2
            elif c == b"\x01":
                fields.append((bytes(cur), b"".join(raw)))
                cur, raw = bytearray(), []
                i += 1
            else:
                raw.append(c)
                cur += c
                i += 1
        fields.append((bytes(cur), b"".join(raw)))
        rows.append([None if r == b"\\N" else v for v, r in fields])
    return rows


def suite_hive_text(args, work):
    os.makedirs(work, exist_ok=True)
    values = ["plain", "", None, "tab\there", "sep\x01arated", "new\nline", "cr\rhere", "back\\slash", "\\N",
              "ctl\x02\x03", "中文"]
    ts = 1795104000000 + 3600 * 1000
    with open(os.path.join(work, "events.jsonl"), "w", encoding="utf-8") as f:
        for i, v in enumerate(values):
            f.write(json.dumps({"id": i, "s": v, "ts": ts + i}, ensure_ascii=False) + "\n")
    agents = [b"plain agent", b"latin-1 \xe9t\xe9", b"broken \xff\xfe utf-8", "中文 agent".encode("utf-8")]
    with open(os.path.join(work, "agents.log"), "wb") as f:
        for i, a in enumerate(agents):
            f.write(b'1.2.3.%d - - [20/Nov/2026:10:00:0%d +0800] "GET /p HTTP/1.1" 200 5 "-" "%s"\n' % (i, i, a))
    with open(os.path.join(work, "hive_text.yaml"), "w") as f:
        f.write(TEXT_YAML)
    r = sluice(args, ["run", "hive_text.yaml", "--progress-interval", "0"], work)
    check("writes the tables", r.returncode == 0, r.stderr[-3000:])
    part = glob.glob(os.path.join(work, "warehouse/t.db/text/dt=*/part-*"))
    rows = [r_ for p in part for r_ in read_hive_text(p)]
    got = {int(r_[0]): (None if r_[1] is None else r_[1].decode("utf-8")) for r_ in rows}
    check("every special string round-trips through Hive text (Hive's escaping rules)",
          got == {i: v for i, v in enumerate(values)}, got)
    import io
    import pandas as pd
    # pandas splits on every \x01, escaped or not: give it the rows without an escaped
    # separator, then undo Hive's escapes (\\ \n \r) on what it read.
    frames = []
    for p in part:
        kept = b"".join(l + b"\n" for l in open(p, "rb").read().split(b"\n")[:-1] if b"\\\x01" not in l)
        frames.append(pd.read_csv(io.BytesIO(kept), sep="\x01", header=None, names=["id", "s"], na_values="\\N",
                                  keep_default_na=False, dtype=str, quoting=csv.QUOTE_NONE, encoding="utf-8"))
    df = pd.concat(frames)
    via_pandas = {int(i): (None if isinstance(v, float) else hive_unescape(v)) for i, v in zip(df["id"], df["s"])}
    want = {i: v for i, v in enumerate(values) if v is None or "\x01" not in v}
    check("pandas (sep='\\x01', na_values='\\N') reads nulls, empty strings, newlines, backslashes and the text \\N",
          via_pandas == want, (via_pandas, want))
    raw_parts = glob.glob(os.path.join(work, "warehouse/t.db/raw/dt=*/part-*"))
    raw_rows = [r_ for p in raw_parts for r_ in read_hive_text(p)]
    check("non-UTF-8 bytes are kept byte for byte", sorted(r_[0] for r_ in raw_rows) == sorted(agents),
          (raw_rows, agents))


def completed_checkpoint(state_dir):
    """True once a checkpoint of the job in `state_dir` completed (its metadata exists)."""
    return bool(glob.glob(os.path.join(state_dir, "chk-*", "_metadata")))


def in_progress_files(table_dir):
    return sorted(p for p in glob.glob(os.path.join(table_dir, "*/.*")) if p.endswith(".inprogress"))


def start_agent(args, work, yaml_path, name, extra=()):
    log = open(os.path.join(work, name + ".stderr"), "w")
    proc = subprocess.Popen([os.path.join(args.bin, "sluice"), "ingest", yaml_path, "--once", "--checkpoint-interval",
                             "0.5", "--progress-interval", "0"] + list(extra), cwd=work, stdout=subprocess.DEVNULL,
                            stderr=log)
    return proc, os.path.join(work, name + ".stderr")


def wait_for(pred, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def check_table_exactly_once(label, table_dir, files):
    rows, _ = expected_table(files)
    got = read_table_pandas(table_dir, COLUMNS)
    all_rows = sorted(json.dumps(r_, sort_keys=True) for rs in got.values() for r_ in rs)
    want_rows = sorted(json.dumps(r_[1], sort_keys=True) for r_ in rows)
    check("%s: every clean line is in the table exactly once (%d rows)" % (label, len(want_rows)),
          all_rows == want_rows, (len(all_rows), len(want_rows)))


def suite_two_agents(args, work):
    """Issue #10.5: two agents on one spool directory lost data for good."""
    import socket
    os.makedirs(work, exist_ok=True)
    files = []
    for i, day in enumerate(["2026-11-20", "2026-11-21"]):
        path = os.path.join(work, "incoming", "access.%s.log" % day)
        r = sluice(args, ["gen", "nginx", "--out", path, "--lines", "50000", "--seed", str(20 + i), "--date", day], work)
        check("generate %s" % os.path.basename(path), r.returncode == 0, r.stderr)
        files.append(path)
    drop_into_spool(files, os.path.join(work, "spool"))
    yaml_path = os.path.join(work, "agent.yaml")
    with open(yaml_path, "w") as f:
        f.write(RESTART_YAML)  # throttled to 20,000 lines/s: the first agent runs ~5 s
    table = os.path.join(work, "warehouse/ods.db/access_log")
    ckpt = os.path.join(work, "spool/.sluice/restart")

    first, first_log = start_agent(args, work, yaml_path, "first")
    running = wait_for(lambda: completed_checkpoint(ckpt) and in_progress_files(table), 30)
    check("the first agent is running: a checkpoint and in-progress files exist", running and first.poll() is None)
    # The same agent started again (a second cron run, a second operator's terminal).
    second = sluice(args, ["ingest", yaml_path, "--once", "--checkpoint-interval", "0.5", "--progress-interval", "0"],
                    work, timeout=60)
    check("a second agent on the same spool directory exits non-zero while the first runs",
          second.returncode != 0 and first.poll() is None, (second.returncode, second.stderr[-2000:]))
    host = socket.gethostname()
    check("its error names the lock file and the holder (pid and host)",
          "ingest.lock" in second.stderr and "pid %d" % first.pid in second.stderr and host in second.stderr,
          second.stderr[-2000:])
    check("the second agent touched nothing (no recovery, no reading)",
          "dropping" not in second.stderr and "reading" not in second.stderr and "resuming" not in second.stderr,
          second.stderr[-2000:])
    # Another job name (so another state directory) on the same spool directory.
    other_yaml = os.path.join(work, "other.yaml")
    with open(other_yaml, "w") as f:
        f.write(RESTART_YAML.replace("name: restart", "name: other_job"))
    other = sluice(args, ["ingest", other_yaml, "--once", "--progress-interval", "0"], work, timeout=60)
    check("an agent of another job on the same spool directory is refused too",
          other.returncode != 0 and "pid %d" % first.pid in other.stderr and first.poll() is None,
          (other.returncode, other.stderr[-2000:]))
    try:
        rc = first.wait(timeout=180)
    except subprocess.TimeoutExpired:
        first.kill()
        rc = -1
    check("the first agent finishes", rc == 0, open(first_log).read()[-3000:])
    check_table_exactly_once("one spool directory", table, files)
    check("each file is marked done once", sorted(os.listdir(os.path.join(work, "spool"))) ==
          sorted([".sluice"] + [os.path.basename(f) + ".COMPLETED" for f in files]),
          os.listdir(os.path.join(work, "spool")))
    check("no in-progress file is left", not in_progress_files(table), in_progress_files(table))
    # The lock goes with its holder: the next agent starts (and finds nothing to do).
    again = sluice(args, ["ingest", yaml_path, "--once", "--progress-interval", "0"], work, timeout=60)
    check("once the first agent has exited, an agent starts again", again.returncode == 0, again.stderr[-2000:])

    # Two agents (two web servers' spool directories, one topology) writing one table: the
    # second's start-up recovery must not drop the first's in-progress files.
    shutil.rmtree(os.path.join(work, "warehouse"))
    shared = []
    for i, name in enumerate(["web1", "web2"]):
        path = os.path.join(work, "incoming", name, "access.2026-11-22.log")
        r = sluice(args, ["gen", "nginx", "--out", path, "--lines", "40000", "--seed", str(30 + i), "--date",
                          "2026-11-22"], work)
        check("generate %s's log" % name, r.returncode == 0, r.stderr)
        drop_into_spool([path], os.path.join(work, "spool_" + name))
        shared.append(path)
    web1, web1_log = start_agent(args, work, yaml_path, "web1", ["--spool-dir", "spool_web1"])
    running = wait_for(lambda: completed_checkpoint(os.path.join(work, "spool_web1/.sluice/restart")) and
                       in_progress_files(table), 30)
    check("web1's agent is running with files in progress", running and web1.poll() is None)
    web2, web2_log = start_agent(args, work, yaml_path, "web2", ["--spool-dir", "spool_web2"])
    rcs = []
    for proc in (web1, web2):
        try:
            rcs.append(proc.wait(timeout=180))
        except subprocess.TimeoutExpired:
            proc.kill()
            rcs.append(-1)
    check("both agents finish", rcs == [0, 0], (rcs, open(web1_log).read()[-2000:], open(web2_log).read()[-2000:]))
    check_table_exactly_once("two spool directories, one table", table, shared)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--lines", type=int, default=20000)
    ap.add_argument("--only", required=True, choices=["pipeline", "restart", "equivalence", "hive_text", "two_agents"])
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    args.repo = os.path.abspath(args.repo)
    work = os.path.abspath(os.path.join(args.workdir, args.only))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    globals()["suite_" + args.only](args, work)
    failed = results.count(False)
    print("%d passed, %d failed" % (results.count(True), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
