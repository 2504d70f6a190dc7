#!/usr/bin/env python3
"""End-to-end tests of the `sluice` command line itself, with real processes (issue #10).

Suites (--only):
  set        `--set KEY=VALUE` sets a top-level key (dead_letter, name, ...); unknown keys are refused
  operators  `sluice operators --plugin X.so` lists the plugin's operators with their docs; an
             unknown operator type mentions --plugin
  bomb       a 1.5 KB YAML alias bomb ("billion laughs"): `sluice explain` refuses it fast, in
             bounded memory (run under an address-space limit), naming the file and line
  json       `status --json` writes int64 fields as JSON numbers; `list --json`, `workers --json`
  local      `sluice local`: removes its temporary directory on exit; a kill -9 of it takes its
             coordinator and workers down with it; it takes a free port by default and prints it;
             `--port P` on a busy port is refused instead of sharing the port
  ingest     Ctrl-C (SIGINT) of `sluice ingest` is a clean stop: a line saying so, exit 0

Usage: test_cli.py --bin BUILD/bin --repo ROOT --workdir DIR --only SUITE [--example-plugin SO]
Prints one line per check and ends with 'N passed, N failed'; exits 1 on any failure.
"""
import argparse
import glob
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + str(detail)[-3000:]) if detail and not ok else ""))
    sys.stdout.flush()


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def sluice(args, argv, cwd, env=None, timeout=120, preexec_fn=None):
    return subprocess.run([os.path.join(args.bin, "sluice")] + argv, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout, env=env, preexec_fn=preexec_fn)


def alive(pid):
    """True if `pid` runs (not a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children(pid):
    """Pids whose parent is `pid`."""
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.split("/")[2]))
    return out


def port_free(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Local:
    """`sluice local` in the background, its stderr in a file."""

    def __init__(self, args, work, name, argv, env=None):
        self.log_path = os.path.join(work, name + ".log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([os.path.join(args.bin, "sluice"), "local"] + argv, cwd=work,
                                     stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        self.address = None

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            t = self.text()
            m = re.search(r"coordinator on (\S+),", t)
            if m and "ready" in t:
                self.address = m.group(1)
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


SMALL_JOB = """name: small
parallelism: 1
operators:
  - id: gen
    type: generator
    count: %(count)d
    keys: 10
  - id: slow
    type: throttle
    input: gen
    records_per_second: %(rate)d
  - id: sink
    type: file_sink
    input: slow
    path: %(out)s
"""


# ---------------------------------------------------------------------------------------

def suite_set(args, work):
    yaml = write(os.path.join(work, "small.yaml"), SMALL_JOB % {"count": 10, "rate": 10, "out": "out/s.tsv"})
    p = sluice(args, ["explain", yaml, "--set", "dead_letter=kafka://127.0.0.1:9092/dead", "--set", "name=renamed",
                      "--set", "parallelism=3"], work)
    check("--set dead_letter=kafka://... / name=... / parallelism=...: accepted", p.returncode == 0, p.stderr)
    check("the plan shows the new name and parallelism", "renamed" in p.stdout and "x3" in p.stdout.replace(" ", ""),
          p.stdout)
    p = sluice(args, ["explain", yaml, "--set", "dead_leter=x"], work)
    check("--set of an unknown top-level key: exit 2, lists the keys",
          p.returncode == 2 and "unknown top-level key 'dead_leter'" in p.stderr and "dead_letter" in p.stderr,
          p.stderr)
    p = sluice(args, ["explain", yaml, "--set", "mode=fast"], work)
    check("--set of a bad value: exit 2, says what is expected",
          p.returncode == 2 and "expected auto, batch or streaming" in p.stderr, p.stderr)


def suite_operators(args, work):
    p = sluice(args, ["operators"], work)
    check("sluice operators lists the built-ins with their docs",
          p.returncode == 0 and re.search(r"^file_source\s+source\s+\S", p.stdout, re.M), p.stdout)
    p = sluice(args, ["operators", "--plugin", args.example_plugin], work)
    check("sluice operators --plugin X.so: accepted, lists the plugin's operator and its doc",
          p.returncode == 0 and re.search(r"^ua_device\s+operator\s+Appends the device class", p.stdout, re.M)
          and "file_source" in p.stdout, p.stdout + p.stderr)
    yaml = write(os.path.join(work, "devices.yaml"),
                 "name: d\noperators:\n  - id: gen\n    type: generator\n  - id: dev\n    type: ua_device\n"
                 "    input: gen\n")
    p = sluice(args, ["explain", yaml], work)
    check("an unknown operator type: exit 2, and the error mentions --plugin",
          p.returncode == 2 and "unknown operator type 'ua_device'" in p.stderr and "--plugin" in p.stderr, p.stderr)


def alias_bomb(levels=10, width=10):
    y = "name: bomb\noperators:\n  - id: gen\n    type: generator\n"
    y += "    l0: &l0 [%s]\n" % ",".join(['"lol"'] * width)
    for lvl in range(1, levels):
        y += "    l%d: &l%d [%s]\n" % (lvl, lvl, ",".join(["*l%d" % (lvl - 1)] * width))
    return y


def suite_bomb(args, work):
    text = alias_bomb()
    path = write(os.path.join(work, "bomb.yaml"), text)
    print("  the bomb: %d bytes, %d values once its aliases are expanded" % (len(text), 10 ** 10))
    limit = 1 << 30  # 1 GiB of address space: the old loader needed over 6 GB

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    start = time.time()
    try:
        p = sluice(args, ["explain", path], work, timeout=60, preexec_fn=limit_memory)
        rc, err = p.returncode, p.stderr
    except subprocess.TimeoutExpired:
        rc, err = None, "timed out after 60 s"
    took = time.time() - start
    check("sluice explain of a 1.5 KB alias bomb: refused with exit 2 within 1 GiB of address space",
          len(text) < 2000 and rc == 2, (rc, err[-2000:]))
    check("... fast (%.1f s)" % took, took < 10, took)
    check("... naming the file, a line and the aliases", re.search(r"bomb\.yaml:\d+: ", err) and "alias" in err, err)
    small = write(os.path.join(work, "small.yaml"), SMALL_JOB % {"count": 10, "rate": 10, "out": "out/s.tsv"})
    p = sluice(args, ["explain", small], work, preexec_fn=limit_memory)
    check("a normal topology still explains under the same limit", p.returncode == 0, p.stderr)


def suite_json(args, work):
    local = Local(args, work, "local", ["--workers", "1", "--log-level", "warn"])
    try:
        check("sluice local comes up", local.wait_ready(), local.text())
        coord = ["--coordinator", local.address]
        job_yaml = write(os.path.join(work, "small.yaml"),
                         SMALL_JOB % {"count": 20000, "rate": 1000000000, "out": os.path.join(work, "out", "s.tsv")})
        p = sluice(args, ["submit", job_yaml, "--wait", "-q"] + coord, work)
        check("a job finishes", p.returncode == 0, p.stderr)
        job = p.stdout.strip().splitlines()[0]
        p = sluice(args, ["status", job, "--json"] + coord, work)
        st = json.loads(p.stdout)
        ints = {
            "job.attempt": st["job"]["attempt"],
            "job.submitted_ms": st["job"].get("submitted_ms"),
            "exchange_bytes": st["exchange_bytes"],
            "nodes[gen].metrics.records_out": next(n for n in st["nodes"] if n["id"] == "gen")["metrics"]["records_out"],
            "tasks[0].metrics.records_in": st["tasks"][0]["metrics"]["records_in"],
        }
        bad = {k: v for k, v in ints.items() if type(v) is not int}
        check("status --json: int64 fields are JSON numbers", not bad, (bad, p.stdout[:1500]))
        check("status --json: the figures are right", ints["nodes[gen].metrics.records_out"] == 20000, ints)
        check("status --json: enums are names, doubles numbers",
              st["job"]["state"] == "JOB_FINISHED" and isinstance(st["elapsed_s"], (int, float)), st["job"])
        p = sluice(args, ["list", "--json"] + coord, work)
        try:
            lst = json.loads(p.stdout)
        except ValueError:
            lst = None
        check("list --json: parses, has the job with numeric attempt",
              p.returncode == 0 and lst and lst["jobs"][0]["job_id"] == job and lst["jobs"][0]["attempt"] == 1,
              p.stdout + p.stderr)
        p = sluice(args, ["workers", "--json"] + coord, work)
        try:
            ws = json.loads(p.stdout)
        except ValueError:
            ws = None
        check("workers --json: parses, pid and last heartbeat are numbers",
              p.returncode == 0 and ws and len(ws["workers"]) == 1 and type(ws["workers"][0]["pid"]) is int
              and type(ws["workers"][0]["last_heartbeat_ms"]) is int and ws["workers"][0]["alive"] is True,
              p.stdout + p.stderr)
    finally:
        local.stop()


def suite_local(args, work):
    tmp = os.path.join(work, "tmp")
    os.makedirs(tmp)
    env = dict(os.environ, TMPDIR=tmp)
    leftovers = lambda: glob.glob(os.path.join(tmp, "sluice-local-*"))

    # 1. A normal exit (a topology run to its end) removes the temporary directory.
    job_yaml = write(os.path.join(work, "small.yaml"),
                     SMALL_JOB % {"count": 5000, "rate": 1000000000, "out": os.path.join(work, "out", "s.tsv")})
    p = subprocess.run([os.path.join(args.bin, "sluice"), "local", "--workers", "1", "--log-level", "warn", job_yaml],
                       cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120, env=env)
    check("sluice local TOPOLOGY: exit 0", p.returncode == 0, p.stderr)
    check("... and no sluice-local-* directory left behind", not leftovers(), leftovers())

    # 2. Ctrl-C of a serving sluice local removes it too.
    local = Local(args, work, "serve", ["--workers", "1", "--log-level", "warn"], env=env)
    check("sluice local (serving) comes up", local.wait_ready(), local.text())
    local.stop()
    check("Ctrl-C: exit 0, no sluice-local-* directory left behind",
          local.proc.returncode == 0 and not leftovers(), (local.proc.returncode, leftovers()))

    # 3. kill -9 of sluice local: its coordinator and workers die with it.
    local = Local(args, work, "killed", ["--workers", "2", "--log-level", "warn"], env=env)
    kids = []
    try:
        check("sluice local --workers 2 comes up", local.wait_ready(), local.text())
        kids = children(local.proc.pid)
        check("it runs a coordinator and 2 workers", len(kids) == 3, kids)
        local.proc.send_signal(signal.SIGKILL)
        local.proc.wait()
        deadline = time.time() + 5
        while time.time() < deadline and any(alive(k) for k in kids):
            time.sleep(0.1)
        left = [k for k in kids if alive(k)]
        check("kill -9 of sluice local: coordinator and workers gone within 5 s", not left, left)
        # A later sluice local removes the directory the killed one left behind.
        stale = leftovers()
        p = subprocess.run([os.path.join(args.bin, "sluice"), "local", "--workers", "1", "--log-level", "warn",
                            job_yaml], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=120, env=env)
        check("the next sluice local removes the directory of the killed one",
              p.returncode == 0 and stale and not leftovers(), (p.returncode, stale, leftovers(), p.stderr[-1000:]))
    finally:
        for k in kids:
            if alive(k):
                os.kill(k, signal.SIGKILL)
        local.stop()

    # 4. Ports: by default a free one, printed; --port P on a busy port is refused.
    a = Local(args, work, "a", ["--workers", "1", "--log-level", "warn"])
    b = Local(args, work, "b", ["--workers", "1", "--log-level", "warn"])
    try:
        ok = a.wait_ready() and b.wait_ready()
        check("two sluice local without --port both come up", ok, a.text() + b.text())
        check("... on different ports, each printed", ok and a.address != b.address, (a.address, b.address))
        for name, loc in (("a", a), ("b", b)):
            if not ok:
                break
            p = sluice(args, ["workers", "--coordinator", loc.address], work)
            check("... and %s's coordinator has only its own worker" % name,
                  p.returncode == 0 and p.stdout.count(" yes ") == 1, p.stdout)
    finally:
        a.stop()
        b.stop()
    # A port held by a server that shares it (SO_REUSEPORT, as gRPC servers do).
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen(8)
    port = holder.getsockname()[1]
    busy = Local(args, work, "busy", ["--workers", "1", "--port", str(port), "--log-level", "warn"])
    try:
        try:
            rc = busy.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            rc = None
        check("sluice local --port P with P busy: refused (exit 1), says the port is in use",
              rc == 1 and ("%d" % port) in busy.text() and "in use" in busy.text(), (rc, busy.text()[-2000:]))
    finally:
        for k in children(busy.proc.pid):
            os.kill(k, signal.SIGKILL)
        busy.stop()
        holder.close()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    forced = Local(args, work, "forced", ["--workers", "1", "--port", str(port), "--log-level", "warn"])
    try:
        check("--port P on a free port: used", forced.wait_ready() and forced.address == "127.0.0.1:%d" % port,
              forced.text())
    finally:
        forced.stop()


def suite_ingest(args, work):
    subprocess.run([os.path.join(args.bin, "sluice"), "gen", "nginx", "--out", "logs/access.log", "--lines", "20000",
                    "--seed", "3"], cwd=work, check=True, stderr=subprocess.DEVNULL)
    os.makedirs(os.path.join(work, "data", "offline", "spool"))
    shutil.move(os.path.join(work, "logs", "access.log"), os.path.join(work, "data", "offline", "spool", "day1.log"))
    yaml = os.path.join(args.repo, "examples", "offline_logs", "ingest.yaml")
    log_path = os.path.join(work, "ingest.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([os.path.join(args.bin, "sluice"), "ingest", yaml, "--checkpoint-interval", "0.5",
                                 "--progress-interval", "0"], cwd=work, stdout=subprocess.DEVNULL, stderr=log)
        done = os.path.join(work, "data", "offline", "spool", "day1.log.COMPLETED")
        deadline = time.time() + 60
        while time.time() < deadline and not os.path.exists(done):
            time.sleep(0.1)
        check("sluice ingest takes the spool file", os.path.exists(done), os.listdir(os.path.dirname(done)))
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = None
    with open(log_path) as f:
        err = f.read()
    check("Ctrl-C of sluice ingest: exit 0, says it stopped, no error",
          rc == 0 and "stopped" in err and "error:" not in err, (rc, err[-2000:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only", required=True, choices=["set", "operators", "bomb", "json", "local", "ingest"])
    ap.add_argument("--example-plugin")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    args.repo = os.path.abspath(args.repo)
    if args.example_plugin:
        args.example_plugin = os.path.abspath(args.example_plugin)
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    globals()["suite_" + args.only](args, args.workdir)
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    sys.exit(0 if results and all(results) else 1)


if __name__ == "__main__":
    main()
