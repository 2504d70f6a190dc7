#!/usr/bin/env python3
"""Checks that docs/topology.zh.md keeps up with docs/topology.md (the reference).

Both documents share one structure, and the checks read that structure, not the prose:

  * Headings. `## N. ...` / `### N.M ...` are numbered sections, matched by their number;
    `### `type`` (a heading that is only an operator type in backticks) is an operator section.
  * Tables. A table is a run of lines starting with `|`; its first row is the header. The keys
    of a table are the inline-code spans (`...`) of its first column, so translated prose in
    the other columns does not matter.
  * The operator list is the table of section 2 whose header starts with `type` / `类型`.
  * An operator's parameters are the keys of the tables in its section whose header starts
    with `param` / `参数`. Every code span of a parameter's row (types, defaults, sub-keys such
    as `offset` of `window`) must be the same in both documents, since code is never translated.
  * The top-level YAML keys are the keys of the table in section 1.2.
  * The CLI commands are the `sluice ...` lines of the first code block of section 3
    (continuation lines start with spaces; `a | b | c` lists several commands), each with its
    flags.
  * Fenced code blocks are not translated either: each section must hold the same ones, and
    every inline code span of an English section must be in the Chinese section too.
  * Headings match one to one, in order; the other tables of an operator section (clean's
    checks, window's functions, ...) and the tables of numbered sections have the same keys.

It also checks the code: every operator type registered under operators/ (the string literal
passed to RegisterSource / RegisterOperator / RegisterSink) must be in the operator table of both
documents, and every type there must be registered.

Usage: python3 tests/e2e/test_docs_parity.py --repo /path/to/sluice
Exit code 0 when every check passes, 1 when one fails (each mismatch is listed), 2 on bad usage.
"""

import argparse
import os
import re
import sys

EN_DOC = os.path.join("docs", "topology.md")
ZH_DOC = os.path.join("docs", "topology.zh.md")

PARAM_HEADERS = {"param", "参数"}
TYPE_HEADERS = {"type", "类型"}

HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
NUMBERED_RE = re.compile(r"^(\d+(?:\.\d+)*)\.?(?:\s|$)")
OPERATOR_HEADING_RE = re.compile(r"^`([a-z][a-z0-9_]*)`$")
CODE_SPAN_RE = re.compile(r"`([^`]+)`")  # a span may continue on the next line
CELL_SPLIT_RE = re.compile(r"(?<!\\)\|")
LINK_TARGET_RE = re.compile(r"\]\(([^)\s]+)\)")
REGISTER_RE = re.compile(r"\bRegister(?:Source|Operator|Sink)\s*\(\s*\"([^\"]+)\"")
FLAG_RE = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])")
COMMAND_WORD_RE = re.compile(r"^[a-z][a-z0-9-]*$")


def code_spans(text):
    return [" ".join(s.split()) for s in CODE_SPAN_RE.findall(text)]


class Table:
    def __init__(self, rows):
        self.header = rows[0]
        # rows[1] is the |---|---| separator
        self.rows = [r for r in rows[1:] if not all(re.fullmatch(r":?-+:?", c.strip()) for c in r if c.strip())]

    @property
    def kind(self):
        return self.header[0].strip().lower() if self.header else ""

    def keys(self):
        """Code spans of the first column, in order, without repeats."""
        out = []
        for row in self.rows:
            for span in code_spans(row[0]) if row else []:
                if span not in out:
                    out.append(span)
        return out


class Section:
    def __init__(self, level, title, key):
        self.level = level
        self.title = title
        self.key = key          # "§1.2", "op:window" or "?<title>"
        self.lines = []         # prose and table lines (code blocks removed)
        self.code_blocks = []   # fenced code blocks, verbatim
        self.tables = []

    def prose(self):
        return "\n".join(self.lines)


def split_cells(line):
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [c.strip() for c in CELL_SPLIT_RE.split(line)]


def heading_key(level, title):
    if level >= 2:
        m = NUMBERED_RE.match(title)
        if m:
            return "§" + m.group(1)
        m = OPERATOR_HEADING_RE.match(title)
        if m and level == 3:
            return "op:" + m.group(1)
    return "?" + title


class Doc:
    def __init__(self, path):
        self.path = path
        with open(path, encoding="utf-8") as f:
            text = f.read()
        self.sections = []
        current = Section(1, "(preamble)", "§0")
        self.sections.append(current)
        in_code, fence, block = False, "", []
        table_rows = []

        def flush_table():
            if len(table_rows) >= 2:
                current.tables.append(Table(list(table_rows)))
            table_rows.clear()

        for line in text.splitlines():
            stripped = line.strip()
            if in_code:
                if stripped.startswith(fence) and stripped.strip("`~") == "":
                    current.code_blocks.append("\n".join(block))
                    in_code, block = False, []
                else:
                    block.append(line)
                continue
            m = re.match(r"^(```+|~~~+)", stripped)
            if m:
                flush_table()
                in_code, fence, block = True, m.group(1), []
                continue
            if stripped.startswith("|"):
                table_rows.append(split_cells(stripped))
                current.lines.append(line)
                continue
            flush_table()
            h = HEADING_RE.match(line)
            if h and len(h.group(1)) >= 2:
                level, title = len(h.group(1)), h.group(2)
                current = Section(level, title, heading_key(level, title))
                self.sections.append(current)
                continue
            current.lines.append(line)
        flush_table()
        if in_code:
            raise ValueError(f"{path}: unterminated code block")

    def section(self, key):
        for s in self.sections:
            if s.key == key:
                return s
        return None

    def operator_sections(self):
        return {s.key[3:]: s for s in self.sections if s.key.startswith("op:")}

    def operator_table(self):
        """{type: link target or None} from the table of section 2 headed `type`."""
        sec = self.section("§2")
        if sec is None:
            return None
        for t in sec.tables:
            if t.kind in TYPE_HEADERS:
                out = {}
                for row in t.rows:
                    spans = code_spans(row[0])
                    if not spans:
                        continue
                    link = LINK_TARGET_RE.search(row[0])
                    out[spans[0]] = link.group(1) if link else None
                return out
        return None

    def parameters(self, section):
        """{param: set of code spans of its row(s)} over the section's parameter tables."""
        params = {}
        for t in section.tables:
            if t.kind not in PARAM_HEADERS:
                continue
            for row in t.rows:
                names = code_spans(row[0])
                if not names:
                    continue  # e.g. "*(key fields)*": not a parameter
                spans = set()
                for cell in row:
                    spans.update(code_spans(cell))
                for n in names:
                    params.setdefault(n, set()).update(spans)
        return params

    def cli_commands(self):
        """{command: set of flags} from the first code block of section 3 with `sluice` lines."""
        sec = self.section("§3")
        if sec is None:
            return None
        for block in sec.code_blocks:
            lines = block.splitlines()
            if not any(l.startswith("sluice ") for l in lines):
                continue
            commands = {}
            last = []
            for line in lines:
                if line.startswith("sluice "):
                    last = []
                    rest = line[len("sluice "):]
                    for part in re.split(r"\s\|\s", rest):
                        words = part.split()
                        name = []
                        for w in words:
                            if COMMAND_WORD_RE.match(w) or (not name and w.startswith("--")):
                                name.append(w)
                                if w.startswith("--"):
                                    break
                            else:
                                break
                        cmd = " ".join(name) if name else part.strip()
                        commands.setdefault(cmd, set())
                        last.append(cmd)
                    flags = set(FLAG_RE.findall(rest)) - set(last)
                    for cmd in last:
                        commands[cmd].update(flags)
                elif line.startswith(" ") and last:
                    for cmd in last:
                        commands[cmd].update(FLAG_RE.findall(line))
            return commands
        return None


def registered_types(repo):
    root = os.path.join(repo, "operators")
    found = {}
    for dirpath, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith((".cc", ".h")) or name.endswith("_test.cc"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8", errors="replace") as f:
                for t in REGISTER_RE.findall(f.read()):
                    found.setdefault(t, os.path.relpath(path, repo))
    return found


def loader_top_level_keys(repo):
    """The kTopLevelKeys array of the YAML loader, or None if it can't be found."""
    path = os.path.join(repo, "runtime", "topology", "yaml_loader_internal.h")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    m = re.search(r"kTopLevelKeys[^=]*=\s*\{(.*?)\}", text, re.S)
    if not m:
        return None
    return re.findall(r"\"([^\"]+)\"", m.group(1))


def fmt(items):
    return ", ".join(sorted(items)) if items else "(none)"


def diff_sets(what, en, zh, errors):
    only_en, only_zh = set(en) - set(zh), set(zh) - set(en)
    if only_en:
        errors.append(f"{what}: in English only: {fmt(only_en)}")
    if only_zh:
        errors.append(f"{what}: in Chinese only: {fmt(only_zh)}")


# ---------------------------------------------------------------------------- checks


def check_operators(en, zh, repo):
    errors = []
    tables = {}
    for doc, label in ((en, "English"), (zh, "Chinese")):
        table = doc.operator_table()
        if table is None:
            errors.append(f"{label}: no operator table (a table headed 'type' in section 2)")
            table = {}
        tables[label] = table
        sections = doc.operator_sections()
        for t, link in sorted(table.items()):
            if link is None:
                errors.append(f"{label}: operator table row `{t}` has no link")
            elif link.startswith("#"):
                if link != "#" + t:
                    errors.append(f"{label}: operator table row `{t}` links to {link}, expected #{t}")
                if t not in sections:
                    errors.append(f"{label}: operator `{t}` links to {link} but has no '### `{t}`' section")
            elif t in sections:
                errors.append(f"{label}: operator `{t}` has a section here but its table row links to {link}")
        for t in sorted(set(sections) - set(table)):
            errors.append(f"{label}: operator section `{t}` is missing from the operator table")
    diff_sets("operator table", tables["English"], tables["Chinese"], errors)
    for t in sorted(set(tables["English"]) & set(tables["Chinese"])):
        if tables["English"][t] != tables["Chinese"][t]:
            errors.append(f"operator `{t}`: English links to {tables['English'][t]}, Chinese to {tables['Chinese'][t]}")
    diff_sets("operator sections", en.operator_sections(), zh.operator_sections(), errors)

    registered = registered_types(repo)
    if not registered:
        errors.append("no operator registrations (Register{Source,Operator,Sink}(\"...\")) found under operators/")
    for label, table in tables.items():
        for t in sorted(set(registered) - set(table)):
            errors.append(f"{label}: operator `{t}` (registered in {registered[t]}) is not documented")
        for t in sorted(set(table) - set(registered)):
            errors.append(f"{label}: documented operator `{t}` is not registered under operators/")
    info = f"{len(registered)} registered types, {len(tables['English'])} documented"
    return errors, info


def check_parameters(en, zh, repo):
    errors = []
    en_ops, zh_ops = en.operator_sections(), zh.operator_sections()
    count = 0
    for op in sorted(set(en_ops) & set(zh_ops)):
        ep, zp = en.parameters(en_ops[op]), zh.parameters(zh_ops[op])
        count += len(ep)
        diff_sets(f"operator `{op}` parameters", ep, zp, errors)
        for p in sorted(set(ep) & set(zp)):
            only_en, only_zh = ep[p] - zp[p], zp[p] - ep[p]
            if only_en or only_zh:
                errors.append(f"operator `{op}` parameter `{p}`: code in its row differs: "
                              f"English only: {fmt(only_en)}; Chinese only: {fmt(only_zh)}")
        # The other tables of an operator section (clean's checks, window's functions,
        # access_log_parse's output fields), matched by position.
        et = [t for t in en_ops[op].tables if t.kind not in PARAM_HEADERS]
        zt = [t for t in zh_ops[op].tables if t.kind not in PARAM_HEADERS]
        if len(et) != len(zt):
            errors.append(f"operator `{op}`: {len(et)} other tables in English, {len(zt)} in Chinese")
        for i, (a, b) in enumerate(zip(et, zt)):
            diff_sets(f"operator `{op}` table {i + 2} ('{a.header[0]}') keys", a.keys(), b.keys(), errors)
    return errors, f"{count} parameters of {len(en_ops)} operator sections"


def check_top_level_keys(en, zh, repo):
    errors = []
    keys = {}
    for doc, label in ((en, "English"), (zh, "Chinese")):
        sec = doc.section("§1.2")
        if sec is None or not sec.tables:
            errors.append(f"{label}: section 1.2 has no table of top-level keys")
            keys[label] = []
            continue
        keys[label] = sec.tables[0].keys()
    diff_sets("top-level YAML keys", keys["English"], keys["Chinese"], errors)
    loader = loader_top_level_keys(repo)
    note = ""
    if loader is None:
        note = " (kTopLevelKeys not found in runtime/topology/yaml_loader_internal.h; not compared with code)"
    else:
        diff_sets("top-level YAML keys, loader (kTopLevelKeys) vs English doc", loader, keys["English"], errors)
    return errors, f"{len(keys['English'])} keys{note}"


def check_cli(en, zh, repo):
    errors = []
    ec, zc = en.cli_commands(), zh.cli_commands()
    if ec is None:
        errors.append("English: section 3 has no code block of `sluice ...` lines")
        ec = {}
    if zc is None:
        errors.append("Chinese: section 3 has no code block of `sluice ...` lines")
        zc = {}
    diff_sets("CLI commands", ec, zc, errors)
    for cmd in sorted(set(ec) & set(zc)):
        diff_sets(f"flags of `sluice {cmd}`", ec[cmd], zc[cmd], errors)
    return errors, f"{len(ec)} commands"


def check_structure(en, zh, repo):
    """Same headings in the same order; same code blocks and table keys in numbered sections."""
    errors = []
    ek = [s.key for s in en.sections]
    zk = [s.key for s in zh.sections]
    if ek != zk:
        import difflib
        for line in difflib.unified_diff(ek, zk, "English headings", "Chinese headings", lineterm="", n=1):
            if not line.startswith(("---", "+++", "@@")):
                errors.append(f"heading order: {line}")
        if not errors:
            errors.append("headings differ")
    zs = {s.key: s for s in zh.sections}
    for s in en.sections:
        z = zs.get(s.key)
        if z is None or s.key.startswith("?"):
            continue
        where = s.key if not s.key.startswith("op:") else f"`{s.key[3:]}` section"
        if s.level != z.level:
            errors.append(f"{where}: heading level {s.level} in English, {z.level} in Chinese")
        if code_spans(s.title) != code_spans(z.title):
            errors.append(f"{where}: heading code differs: {s.title!r} vs {z.title!r}")
        if s.code_blocks != z.code_blocks:
            for i in range(max(len(s.code_blocks), len(z.code_blocks))):
                a = s.code_blocks[i] if i < len(s.code_blocks) else None
                b = z.code_blocks[i] if i < len(z.code_blocks) else None
                if a == b:
                    continue
                if a is None or b is None:
                    first = (a or b).splitlines()[:1]
                    errors.append(f"{where}: code block {i + 1} (starting {first}) is only in the "
                                  f"{'English' if b is None else 'Chinese'} text")
                    continue
                al, bl = a.splitlines(), b.splitlines()
                j = next((k for k in range(max(len(al), len(bl)))
                          if k >= len(al) or k >= len(bl) or al[k] != bl[k]), 0)
                errors.append(f"{where}: code block {i + 1} differs from its line {j + 1}: "
                              f"English {al[j] if j < len(al) else '(end)'!r}, "
                              f"Chinese {bl[j] if j < len(bl) else '(end)'!r}")
        if s.key.startswith("§"):
            if len(s.tables) != len(z.tables):
                errors.append(f"{where}: {len(s.tables)} tables in English, {len(z.tables)} in Chinese")
            for i, (a, b) in enumerate(zip(s.tables, z.tables)):
                diff_sets(f"{where} table {i + 1} keys", a.keys(), b.keys(), errors)
        # Inline code is not translated: every span of the English text must be in the Chinese
        # one too (the translation may add some, e.g. a flag named where English says "set").
        missing = set(code_spans(s.prose())) - set(code_spans(z.prose()))
        if missing:
            errors.append(f"{where}: inline code of the English text missing in the Chinese: {fmt(missing)}")
    return errors, f"{len(ek)} headings"


CHECKS = [
    ("operators documented and registered", check_operators),
    ("parameters per operator", check_parameters),
    ("top-level YAML keys", check_top_level_keys),
    ("CLI commands and flags", check_cli),
    ("document structure", check_structure),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", required=True, help="root of the sluice source tree")
    args = ap.parse_args()
    try:
        en = Doc(os.path.join(args.repo, EN_DOC))
        zh = Doc(os.path.join(args.repo, ZH_DOC))
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    passed = failed = 0
    for name, fn in CHECKS:
        errors, info = fn(en, zh, args.repo)
        if errors:
            failed += 1
            print(f"FAIL {name} ({info}): {len(errors)} mismatch(es)")
            for e in errors:
                print(f"  - {e}")
        else:
            passed += 1
            print(f"PASS {name} ({info})")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
