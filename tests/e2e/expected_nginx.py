#!/usr/bin/env python3
"""Independent reference for the nginx_pv_uv example: expected output TSV.

Usage: expected_nginx.py INPUT OUT

Written from the nginx_pv_uv rules alone (it shares no code with the C++): reads an
nginx access log (plain, or gzip if it starts with the gzip magic bytes), classifies
every line as malformed, bot, static_asset or kept, and for kept lines writes page
views (lines) and unique visitors (distinct remote_addr) per (window_start, path),
60 s tumbling windows on the request time in UTC ms.

Output: TSV "window_start<TAB>path<TAB>pv<TAB>uv", rows sorted. Counts go to stderr.
Python 3 standard library only. The input is handled as bytes, so any byte values
pass through unchanged.
"""

import datetime
import gzip
import re
import sys

WINDOW_MS = 60_000

MONTHS = {
    b"Jan": 1, b"Feb": 2, b"Mar": 3, b"Apr": 4, b"May": 5, b"Jun": 6,
    b"Jul": 7, b"Aug": 8, b"Sep": 9, b"Oct": 10, b"Nov": 11, b"Dec": 12,
}

# The strict combined format, as given in the rules. Bytes pattern: \S, \d are ASCII.
LINE_RE = re.compile(
    rb'(\S+) - (\S+) \[(\d{2})/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/'
    rb'(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\] "([^"]*)" (\d{3}) (\d+|-) '
    rb'"([^"]*)" "([^"]*)"')

STATIC_EXTENSIONS = (b".css", b".js", b".png", b".jpg", b".jpeg", b".gif", b".ico",
                     b".svg", b".woff", b".woff2", b".map")
BOT_WORDS = (b"bot", b"spider", b"crawl")

EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
DAYS_PER_400_YEARS = 146097


def is_leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year, month):
    if month == 2:
        return 29 if is_leap(year) else 28
    return 31 if month in (1, 3, 5, 7, 8, 10, 12) else 30


def days_since_epoch(year, month, day):
    # datetime.date has no year 0; the Gregorian calendar repeats every 400 years.
    if year == 0:
        return datetime.date(400, month, day).toordinal() - DAYS_PER_400_YEARS - EPOCH_ORDINAL
    return datetime.date(year, month, day).toordinal() - EPOCH_ORDINAL


def parse(line):
    """Returns (remote_addr, path, user_agent, event_ms) or None if malformed."""
    m = LINE_RE.fullmatch(line)
    if m is None:
        return None
    (addr, _user, day, mon, year, hh, mi, ss, sign, zh, zm, request, _status, _bytes,
     _referer, agent) = m.groups()
    day, year, hh, mi, ss, zh, zm = (int(x) for x in (day, year, hh, mi, ss, zh, zm))
    month = MONTHS[mon]
    if not 1 <= day <= days_in_month(year, month):
        return None
    if hh > 23 or mi > 59 or ss > 59 or zh > 14 or zm > 59:
        return None
    parts = request.split(b" ")
    if len(parts) != 3 or any(len(p) == 0 for p in parts):
        return None
    method, target, protocol = parts
    if not all(0x41 <= c <= 0x5A for c in method):  # A-Z
        return None
    if not protocol.startswith(b"HTTP/"):
        return None
    offset_s = (zh * 3600 + zm * 60) * (-1 if sign == b"-" else 1)
    local_s = days_since_epoch(year, month, day) * 86400 + hh * 3600 + mi * 60 + ss
    event_ms = (local_s - offset_s) * 1000
    path = target.split(b"?", 1)[0]
    return addr, path, agent, event_ms


def is_bot(agent):
    lower = agent.lower()  # bytes.lower() is ASCII-only
    return any(w in lower for w in BOT_WORDS)


def is_static(path):
    return path.startswith(b"/static/") or path.lower().endswith(STATIC_EXTENSIONS)


def tsv_escape(value):
    return (value.replace(b"\\", b"\\\\").replace(b"\t", b"\\t")
            .replace(b"\n", b"\\n").replace(b"\r", b"\\r"))


def read_input(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: expected_nginx.py INPUT OUT\n")
        return 2
    data = read_input(argv[1])
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the file's final newline ends the last line

    counts = {"lines": 0, "malformed": 0, "bot": 0, "static_asset": 0, "kept": 0}
    pv = {}
    visitors = {}
    for line in lines:
        counts["lines"] += 1
        if line.endswith(b"\r"):
            line = line[:-1]
        parsed = parse(line)
        if parsed is None:
            counts["malformed"] += 1
            continue
        addr, path, agent, event_ms = parsed
        if is_bot(agent):
            counts["bot"] += 1
            continue
        if is_static(path):
            counts["static_asset"] += 1
            continue
        counts["kept"] += 1
        key = (event_ms - event_ms % WINDOW_MS, path)
        pv[key] = pv.get(key, 0) + 1
        visitors.setdefault(key, set()).add(addr)

    out = [b"window_start\tpath\tpv\tuv\n"]
    for key in sorted(pv):
        window_start, path = key
        out.append(b"%d\t%s\t%d\t%d\n" % (window_start, tsv_escape(path), pv[key],
                                          len(visitors[key])))
    with open(argv[2], "wb") as f:
        f.writelines(out)
    sys.stderr.write(" ".join("%s=%d" % kv for kv in counts.items()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
