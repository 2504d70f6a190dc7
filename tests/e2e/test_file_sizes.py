#!/usr/bin/env python3
"""No hand-written source file over 600 lines (issue #11, "rooms a newcomer can find").

Checks every .cc, .h and .py file of the repository (tracked, or new and not ignored)
except tests: files under tests/ and *_test.cc / *_test.py beside the code. Generated
code (protobuf) lives only in the build tree, which git ignores. A file over the limit
fails the test with its path and line count; split it along its seams rather than
raising the limit.

Usage: test_file_sizes.py --repo ROOT [--max-lines 600]. Ends with 'N passed, N failed'.
"""
import argparse
import os
import subprocess
import sys

EXTENSIONS = (".cc", ".h", ".py")
MAX_LINES = 600


def source_files(repo):
    """Paths relative to `repo`: git's tracked and untracked-but-not-ignored files, or a
    walk of the tree (skipping build directories) when `repo` is not a git checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=repo,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True).stdout
        paths = sorted(set(out.split("\n")) - {""})
    except (OSError, subprocess.CalledProcessError):
        paths = []
        for dirpath, dirnames, files in os.walk(repo):
            dirnames[:] = [d for d in dirnames if not d.startswith((".", "build"))]
            paths += [os.path.relpath(os.path.join(dirpath, f), repo) for f in files]
    return [p for p in paths if p.endswith(EXTENSIONS) and not is_test(p)]


def is_test(path):
    name = os.path.basename(path)
    return path.startswith("tests/") or name.endswith(("_test.cc", "_test.py"))


def count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--max-lines", type=int, default=MAX_LINES)
    args = ap.parse_args()
    sizes = {}
    for rel in source_files(args.repo):
        path = os.path.join(args.repo, rel)
        if os.path.isfile(path):  # a deleted file git still lists
            sizes[rel] = count_lines(path)
    over = sorted((n, p) for p, n in sizes.items() if n > args.max_lines)
    ok = not over
    print("%s no hand-written source file is over %d lines (%d files checked)" %
          ("PASS" if ok else "FAIL", args.max_lines, len(sizes)))
    for n, p in reversed(over):
        print("  %s: %d lines; split it along its seams" % (p, n))
    if ok:
        largest = sorted(((n, p) for p, n in sizes.items()), reverse=True)[:3]
        print("  largest: %s" % ", ".join("%s (%d)" % (p, n) for n, p in largest))
    print("%d passed, %d failed" % (int(ok), int(not ok)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
