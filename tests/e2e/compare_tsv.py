#!/usr/bin/env python3
"""Compares two TSV outputs as unordered row sets: same header, same multiset of rows.

Usage: compare_tsv.py A B

The first line of each file is the header and must be identical. The remaining lines
are compared as multisets (row order is not significant; duplicates count). Lines are
compared byte for byte after removing the final newline. Prints a summary and up to 10
rows found only in A and 10 found only in B; exits 0 on a match, 1 on a mismatch, 2 on
a usage or I/O error. Python 3 standard library only.
"""

import collections
import sys

MAX_SHOWN = 10


def read_lines(path):
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def show(line):
    return line.decode("utf-8", errors="backslashreplace")


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: compare_tsv.py A B\n")
        return 2
    path_a, path_b = argv[1], argv[2]
    try:
        a, b = read_lines(path_a), read_lines(path_b)
    except OSError as e:
        sys.stderr.write("compare_tsv: %s\n" % e)
        return 2
    if not a or not b:
        print("MISMATCH: %s has no header line" % (path_a if not a else path_b))
        return 1

    ok = True
    if a[0] != b[0]:
        ok = False
        print("MISMATCH: headers differ")
        print("  A: %s" % show(a[0]))
        print("  B: %s" % show(b[0]))

    rows_a = collections.Counter(a[1:])
    rows_b = collections.Counter(b[1:])
    only_a = sorted((rows_a - rows_b).elements())
    only_b = sorted((rows_b - rows_a).elements())
    if only_a or only_b:
        ok = False
        print("MISMATCH: rows differ: A has %d rows, B has %d rows; %d only in A, %d only "
              "in B" % (len(a) - 1, len(b) - 1, len(only_a), len(only_b)))
        for label, path, rows in (("A", path_a, only_a), ("B", path_b, only_b)):
            if not rows:
                continue
            print("  first %d of %d rows only in %s (%s):"
                  % (min(MAX_SHOWN, len(rows)), len(rows), label, path))
            for row in rows[:MAX_SHOWN]:
                print("    %s" % show(row))

    if ok:
        print("MATCH: %d rows (%s == %s)" % (len(a) - 1, path_a, path_b))
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
