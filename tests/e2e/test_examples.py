#!/usr/bin/env python3
"""End-to-end tests of the examples: real `sluice` processes on generated data, outputs
compared with independent Python implementations of the same rules (expected_*.py).

Usage: test_examples.py --sluice PATH --repo ROOT --workdir DIR [--nginx-lines N] [--ysb-events N]
Prints one line per check and ends with 'N passed, N failed'; exits 1 on any failure.
"""
import argparse
import collections
import gzip
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail and not ok else ""))
    sys.stdout.flush()


def run(cmd, cwd, expect_rc=0):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if expect_rc is not None and p.returncode != expect_rc:
        print("command failed (rc=%d): %s\n--- stderr ---\n%s" % (p.returncode, " ".join(cmd), p.stderr[-4000:]))
    return p


def compare(a, b):
    p = subprocess.run([sys.executable, os.path.join(HERE, "compare_tsv.py"), a, b],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode == 0, p.stdout[-2000:]


def dead_letter_counts(path):
    counts = collections.Counter()
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                rec = json.loads(line)
                counts[(rec["node"], rec["reason"])] += 1
    return counts


def parse_counts(stderr_text):
    last = stderr_text.strip().splitlines()[-1]
    return {k: int(v) for k, v in (kv.split("=") for kv in last.split())}


def test_nginx(args, work):
    data = os.path.join(work, "data", "nginx")
    os.makedirs(data, exist_ok=True)
    log = os.path.join(data, "access.log")
    p = run([args.sluice, "gen", "nginx", "--out", log, "--lines", str(args.nginx_lines), "--seed", "7"], work)
    check("nginx: generate logs", p.returncode == 0, p.stderr)
    with open(log, "rb") as f, gzip.open(log + ".gz", "wb") as g:
        shutil.copyfileobj(f, g)
    expected = os.path.join(work, "expected_nginx.tsv")
    p = run([sys.executable, os.path.join(HERE, "expected_nginx.py"), log, expected], work)
    counts = parse_counts(p.stderr)
    check("nginx: data has malformed, bot and static lines",
          counts["malformed"] > 0 and counts["bot"] > 0 and counts["static_asset"] > 0, str(counts))

    yaml = os.path.join(args.repo, "examples", "nginx_pv_uv", "nginx_pv_uv.yaml")
    for label, extra, paths in [
        ("batch p=1", ["-p", "1"], log),
        ("batch p=2", ["-p", "2"], log),
        ("streaming p=2", ["-p", "2", "--mode", "streaming"], log),
        ("gzip input", ["-p", "1"], log + ".gz"),
    ]:
        out = os.path.join(work, "out", "nginx_%s.tsv" % label.replace(" ", "_").replace("=", ""))
        p = run([args.sluice, "run", yaml, "-q", "--set", "logs.paths=" + paths, "--set", "sink.path=" + out,
                 "--set", "sink.parallelism=1"] + extra, work)
        # dead letters: the topology writes them under out/nginx_pv_uv/ relative to cwd
        dead = os.path.join(work, "out", "nginx_pv_uv", "dead_letters.jsonl")
        check("nginx %s: sluice run succeeds" % label, p.returncode == 0, p.stderr[-2000:])
        if p.returncode != 0:
            continue
        ok, diff = compare(expected, out)
        check("nginx %s: output equals the independent computation" % label, ok, diff)
        dl = dead_letter_counts(dead)
        got = {"malformed": dl[("parse", "malformed")], "bot": dl[("clean", "bot")],
               "static_asset": dl[("clean", "static_asset")]}
        want = {k: counts[k] for k in got}
        check("nginx %s: dead letters by reason" % label, got == want, "got %s want %s" % (got, want))
        late = sum(v for (node, reason), v in dl.items() if reason == "late")
        check("nginx %s: no record late" % label, late == 0, "%d late" % late)


def test_ysb(args, work):
    data = os.path.join(work, "data", "ysb")
    os.makedirs(data, exist_ok=True)
    events = os.path.join(data, "events.jsonl")
    ads = os.path.join(data, "ads.csv")
    p = run([args.sluice, "gen", "ysb", "--events-out", events, "--ads-out", ads,
             "--events", str(args.ysb_events), "--seed", "11"], work)
    check("ysb: generate events", p.returncode == 0, p.stderr)
    expected = os.path.join(work, "expected_ysb.tsv")
    p = run([sys.executable, os.path.join(HERE, "expected_ysb.py"), events, ads, expected], work)
    check("ysb: expected output computed", p.returncode == 0, p.stderr)
    yaml = os.path.join(args.repo, "examples", "ysb", "ysb.yaml")
    for label, extra in [("batch p=1", ["-p", "1"]), ("batch p=2", ["-p", "2"]),
                         ("streaming p=1", ["-p", "1", "--mode", "streaming"]),
                         ("streaming p=2", ["-p", "2", "--mode", "streaming"])]:
        out = os.path.join(work, "out", "ysb_%s.tsv" % label.replace(" ", "_").replace("=", ""))
        p = run([args.sluice, "run", yaml, "-q", "--set", "events.paths=" + events, "--set", "join.table=" + ads,
                 "--set", "sink.path=" + out] + extra, work)
        check("ysb %s: sluice run succeeds" % label, p.returncode == 0, p.stderr[-2000:])
        if p.returncode != 0:
            continue
        ok, diff = compare(expected, out)
        check("ysb %s: output equals the independent computation" % label, ok, diff)


def test_bad_input(args, work):
    bad = os.path.join(work, "bad.yaml")
    with open(bad, "w") as f:
        f.write("name: bad\noperators:\n  - id: src\n    type: generator\n  - id: w\n    type: window\n"
                "    input: src\n    key_by: [key]\n    window: {type: tumbling, size: ten}\n"
                "    aggregates: [{fn: count, as: n}]\n  - id: out\n    type: console_sink\n    input: w\n")
    p = run([args.sluice, "run", bad], work, expect_rc=None)
    check("bad topology: exit code 2", p.returncode == 2, "rc=%d %s" % (p.returncode, p.stderr))
    check("bad topology: error names file, line and field",
          "bad.yaml:9" in p.stderr and "window.size" in p.stderr and "duration" in p.stderr, p.stderr)
    p = run([args.sluice, "run", bad, "--set", "nosuch.x=1"], work, expect_rc=None)
    check("bad override: names the node", p.returncode == 2 and "nosuch" in p.stderr, p.stderr)
    typo = os.path.join(work, "typo.yaml")
    with open(typo, "w") as f:
        f.write("name: typo\noperators:\n  - id: src\n    type: genrator\n")
    p = run([args.sluice, "run", typo], work, expect_rc=None)
    check("unknown operator type: exit code 2 and the name",
          p.returncode == 2 and "genrator" in p.stderr and "typo.yaml:3" in p.stderr, p.stderr)


def gzip_bytes(data):
    return gzip.compress(data, mtime=0)


def test_damaged_gzip(args, work):
    """Issue #10.6: half a .gz, or random bytes named .gz, was read as a success."""
    data = os.path.join(work, "gz")
    os.makedirs(data, exist_ok=True)
    log = os.path.join(data, "access.log")
    p = run([args.sluice, "gen", "nginx", "--out", log, "--lines", "20000", "--seed", "5"], work)
    check("gz: generate logs", p.returncode == 0, p.stderr)
    whole = gzip_bytes(open(log, "rb").read())
    cases = {
        "half.log.gz": whole[:len(whole) // 2],
        "cut_trailer.log.gz": whole[:-4],
        "random.log.gz": bytes((i * 7919 + 13) % 251 for i in range(50000)),
        "plain.log.gz": open(log, "rb").read(),
    }
    yaml = os.path.join(args.repo, "examples", "nginx_pv_uv", "nginx_pv_uv.yaml")
    for name, content in cases.items():
        path = os.path.join(data, name)
        with open(path, "wb") as f:
            f.write(content)
        out = os.path.join(work, "out", "gz_" + name + ".tsv")
        p = run([args.sluice, "run", yaml, "-q", "--set", "logs.paths=" + path, "--set", "sink.path=" + out], work,
                expect_rc=None)
        check("gz: sluice run on %s exits non-zero and names the file" % name,
              p.returncode != 0 and name in p.stderr, "rc=%d %s" % (p.returncode, p.stderr[-1500:]))
        check("gz: no output file is published for %s" % name, not os.path.exists(out))
    good = os.path.join(data, "good.log.gz")
    with open(good, "wb") as f:
        f.write(whole)
    out = os.path.join(work, "out", "gz_good.tsv")
    p = run([args.sluice, "run", yaml, "-q", "--set", "logs.paths=" + good, "--set", "sink.path=" + out], work)
    check("gz: the whole file still reads", p.returncode == 0 and os.path.exists(out), p.stderr[-1500:])


UTF8_YAML = """name: utf8
parallelism: 1
dead_letter: %(dead)s
operators:
  - id: logs
    type: file_source
    paths: [%(log)s]
  - id: parse
    type: access_log_parse
    input: logs
    fields: [remote_addr, time, path, user_agent]
  - id: clean
    type: clean
    input: parse
    rules:
      - reason: bot
        bot: {field: user_agent, words: [bot]}
  - id: sink
    type: file_sink
    input: clean
    path: %(out)s
    format: jsonl
"""


def strict_json_lines(path):
    """Each line decoded as strict UTF-8 and parsed by json.loads; (records, errors)."""
    recs, errors = [], []
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                recs.append(json.loads(raw.decode("utf-8")))
            except (UnicodeDecodeError, ValueError) as e:
                errors.append("line %d: %s: %r" % (n, e, raw[:120]))
    return recs, errors


def test_invalid_utf8(args, work):
    """Issue #10.7: dead-letter and JSON-lines output copied non-UTF-8 bytes raw."""
    import base64
    data = os.path.join(work, "utf8")
    os.makedirs(data, exist_ok=True)
    bad_bytes = [b"\x80", b"\xc3", b"\xe4\xb8", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                 b"\xff", b"\xfe\xff", b"caf\xe9"]
    malformed, kept, bots = [], [], []
    for i, b in enumerate(bad_bytes):
        malformed.append(b"garbage " + b + b" line %d \"quoted\" \\ \x01" % i)
        agent = b"Mozilla/5.0 " + b
        kept.append(b'10.0.0.%d - - [20/Nov/2026:10:00:%02d +0800] "GET /p%d HTTP/1.1" 200 5 "-" "%s"'
                    % (i, i, i, agent))
        bots.append(b'10.0.1.%d - - [20/Nov/2026:10:01:%02d +0800] "GET /b%d HTTP/1.1" 200 5 "-" "bot %s"'
                    % (i, i, i, agent))
    malformed.append("valid UTF-8 中文 but not a log line".encode("utf-8"))
    log = os.path.join(data, "mixed.log")
    with open(log, "wb") as f:
        for line in malformed + kept + bots:
            f.write(line + b"\n")
    dead = os.path.join(work, "out", "utf8_dead.jsonl")
    out = os.path.join(work, "out", "utf8_rows.jsonl")
    yaml = os.path.join(data, "utf8.yaml")
    with open(yaml, "w") as f:
        f.write(UTF8_YAML % {"dead": dead, "log": log, "out": out})
    p = run([args.sluice, "run", yaml, "-q"], work)
    check("utf8: sluice run succeeds", p.returncode == 0, p.stderr[-2000:])
    if p.returncode != 0:
        return
    recs, errors = strict_json_lines(dead)
    check("utf8: every dead-letter line is valid JSON (strict UTF-8, json.loads)", not errors and recs,
          "\n".join(errors[:5]))
    by_reason = collections.Counter(r.get("reason") for r in recs)
    check("utf8: dead letters by reason", by_reason == {"malformed": len(malformed), "bot": len(bots)}
          and len(recs) == len(malformed) + len(bots), str(by_reason))
    restored = []
    for r in recs:
        if r.get("reason") != "malformed":
            continue
        if "record_base64" in r:
            restored.append(base64.b64decode(r["record_base64"]))
        else:
            restored.append(r["record"].encode("utf-8"))
    check("utf8: record_base64 (or record, when valid UTF-8) restores every malformed line byte for byte",
          sorted(restored) == sorted(malformed), str((sorted(restored)[:3], sorted(malformed)[:3])))
    agents = []
    for r in recs:
        if r.get("reason") == "bot":
            b64 = r.get("row_base64", {}).get("user_agent")
            agents.append(base64.b64decode(b64) if b64 else r["row"]["user_agent"].encode("utf-8"))
    want_agents = [b"bot Mozilla/5.0 " + b for b in bad_bytes]
    check("utf8: row_base64 restores each rejected row's non-UTF-8 field", sorted(agents) == sorted(want_agents),
          str((sorted(agents)[:3], sorted(want_agents)[:3])))
    rows, errors = strict_json_lines(out)
    check("utf8: every line of the JSON-lines sink is valid JSON", not errors and len(rows) == len(kept),
          "\n".join(errors[:5]) or str(len(rows)))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--nginx-lines", type=int, default=60000)
    ap.add_argument("--ysb-events", type=int, default=300000)
    ap.add_argument("--only", choices=["nginx", "ysb", "bad", "gz", "utf8"], default=None)
    args = ap.parse_args()
    args.sluice = os.path.abspath(args.sluice)
    args.repo = os.path.abspath(args.repo)
    work = os.path.abspath(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    if args.only in (None, "bad"):
        test_bad_input(args, work)
    if args.only in (None, "nginx"):
        test_nginx(args, work)
    if args.only in (None, "ysb"):
        test_ysb(args, work)
    if args.only in (None, "gz"):
        test_damaged_gzip(args, work)
    if args.only in (None, "utf8"):
        test_invalid_utf8(args, work)
    passed = sum(1 for r in results if r)
    failed = len(results) - passed
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
