#!/usr/bin/env python3
"""The coordinator binary links no runtime/ or operators/ code and cannot load a plugin.

Clients compile job graphs and the coordinator stores plugins by hash without loading
them (issue #11), so its binary should hold no symbol of the worker engine, the operators
or the operator SDK, and import no dlopen. Reads the binary's symbols with nm (the
libraries are static, so ldd would not show them).

Usage: test_coordinator_links.py --binary build/bin/sluice-coordinator. Ends with
'N passed, N failed'.
"""
import argparse
import re
import subprocess
import sys

# Namespaces and SDK classes that belong to the worker side.
FORBIDDEN = re.compile(r"\bsluice::(runtime|operators|hive|kafka|spool|window|expr|parse|clean)::|"
                       r"\bsluice::(OperatorRegistry|Param|RecordBatch|Source|Operator|Context|BatchBuilder)\b")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    defined = subprocess.run(["nm", "-C", "--defined-only", args.binary], stdout=subprocess.PIPE, text=True,
                             check=True).stdout.splitlines()
    dynamic = subprocess.run(["nm", "-D", "--undefined-only", args.binary], stdout=subprocess.PIPE, text=True,
                             check=True).stdout.splitlines()
    results = []

    def check(ok, what, detail=()):
        results.append(ok)
        print("%s %s" % ("PASS" if ok else "FAIL", what))
        for d in list(detail)[:10]:
            print("  " + d)

    own = [l for l in defined if "sluice::coordinator::" in l]
    check(len(own) > 0, "the binary has symbols to check (%d of sluice::coordinator)" % len(own))
    bad = [l for l in defined if FORBIDDEN.search(l)]
    check(not bad, "no runtime, operator or SDK symbol is linked in", bad)
    loaders = [l for l in dynamic if re.search(r"\bdl(m)?open\b", l)]
    check(not loaders, "no dlopen is imported (the coordinator cannot load a plugin)", loaders)
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
