#!/usr/bin/env python3
"""The module boundaries of docs/architecture.md, enforced on every #include.

Each top-level folder may include only from the folders its row of ALLOWED names
(and system or third-party headers). `sluice/v1/...` is the generated protobuf code
(folder `proto`); other `sluice/...` headers are the operator SDK (`include`).
Operators see only header-only pieces of `common/` (COMMON_HEADER_ONLY). Tests and the
test doubles under `*/testing/` are exempt.

KNOWN lists the edges that break the design today, each to be removed by issue #11;
the test fails when a new one appears (naming file and line) and when a listed one is
gone (so the list only shrinks).

Usage: test_boundaries.py --repo ROOT. Ends with 'N passed, N failed'.
"""
import argparse
import os
import re
import subprocess
import sys

ALLOWED = {
    "common": {"common"},
    "proto": set(),
    "include": {"include"},
    "sdk": {"sdk", "include", "common"},
    "runtime": {"runtime", "common", "include", "proto"},
    "operators": {"operators", "include", "common-header-only"},
    "coordinator": {"coordinator", "common", "proto"},
    "examples": {"examples", "include", "common"},
    # Programs and tests put the pieces together.
    "cli": None, "tests": None, "bench": None,
}
COMMON_HEADER_ONLY = {"common/status_macros.h", "common/strings.h", "common/check.h", "common/civil_days.h",
                      "common/testing/status_matchers.h"}

# (file, included header): edges that break the design today (issue #11 removes them).
KNOWN = set()

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def folder_of_header(header):
    if header.startswith("sluice/v1/"):
        return "proto"
    if header.startswith("sluice/"):
        return "include"
    top = header.split("/", 1)[0]
    return top if top in ALLOWED else None  # third party (absl/, grpcpp/, ...)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--print-edges", action="store_true", help="print today's violations as a KNOWN list")
    args = ap.parse_args()
    files = subprocess.run(["git", "ls-files", "*.cc", "*.h"], cwd=args.repo, stdout=subprocess.PIPE, text=True,
                           check=True).stdout.split()
    violations = {}
    for path in files:
        top = path.split("/", 1)[0]
        allowed = ALLOWED.get(top)
        # Tests, and the test doubles in */testing/ (the operator harness drives operators
        # with the runtime's real state backends), may include what they test with.
        if allowed is None or path.endswith("_test.cc") or "/testing/" in path:
            continue
        with open(os.path.join(args.repo, path), errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                header = m.group(1)
                target = folder_of_header(header)
                if target is None or target in allowed:
                    continue
                if target == "common" and "common-header-only" in allowed and header in COMMON_HEADER_ONLY:
                    continue
                violations.setdefault((path, header), "%s:%d" % (path, lineno))
    if args.print_edges:
        for key in sorted(violations):
            print("    %r," % (key,))
        return 0
    results = []
    new = sorted(k for k in violations if k not in KNOWN)
    results.append(not new)
    print("%s no new include crosses a boundary the design does not allow" % ("PASS" if not new else "FAIL"))
    for k in new:
        top = k[0].split("/", 1)[0]
        print("  %s includes %s: %s may include only %s" % (violations[k], k[1], top, sorted(ALLOWED[top])))
    gone = sorted(k for k in KNOWN if k not in violations)
    results.append(not gone)
    print("%s every listed known violation still exists (remove fixed ones from KNOWN)" % ("PASS" if not gone else "FAIL"))
    for k in gone:
        print("  fixed, remove from KNOWN: %s includes %s" % k)
    print("  %d known violation(s) left for issue #11" % len(KNOWN))
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
