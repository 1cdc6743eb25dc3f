#!/usr/bin/env python3
"""Lists the public items of each crate whose doc comment has no example.

Usage: python3 .ci/doc_examples.py [ROOT] [--list]

A public item is a `pub fn` (free function or inherent method), `pub struct`,
`pub enum`, `pub trait` or `pub union` in crates/*/src, outside `#[cfg(test)]`
modules and loom-only code (`#[cfg(loom)]`), and not `#[doc(hidden)]` (nor in
a module declared `#[doc(hidden)] pub mod`, in its own file or inline). The workspace denies
`unreachable_pub`, so every such `pub` item is reachable from its crate's
root. An item has an example when its doc comment (`///` lines, or
`#[doc = ...]` attributes) contains a ``` fence; in a `macro_rules!` body,
a `#[doc = $param]` counts as one (the invocations pass the example).

Prints one line per crate (items, without an example), then the total;
`--list` also prints each item without one as `file:line: kind name`.
Exits 0 either way: a report, not a gate.
"""

import os
import re
import sys

ITEM = re.compile(
    r'^\s*pub\s+(?:(?:const|async|unsafe|extern\s+"[^"]*")\s+)*'
    r"(fn|struct|enum|trait|union)\s+(\w+)"
)
HIDDEN_MOD = re.compile(r"^\s*pub\s+mod\s+(\w+)\s*;")
INLINE_MOD = re.compile(r"^\s*pub\s+mod\s+\w+\s*\{")
TEST_MOD = re.compile(r"^\s*#\[cfg\((?:all\()?test\b")


def attrs_and_docs(lines, i):
    """The doc and attribute lines right above line `i`, nearest last."""
    out = []
    j = i - 1
    depth = 0  # inside a multi-line attribute, read bottom-up
    while j >= 0:
        s = lines[j].strip()
        if depth > 0:
            out.append(s)
            depth -= s.count("#[")
            j -= 1
            continue
        if s.startswith("///") or s.startswith("#[") or s.startswith("//!"):
            if s.startswith("//!"):
                break
            out.append(s)
            j -= 1
            continue
        if s.endswith(")]") or s.endswith("]"):
            # the last line of a multi-line attribute
            out.append(s)
            depth = 1
            j -= 1
            continue
        if s.startswith("//"):
            j -= 1
            continue
        break
    return out


def hidden_modules(src_dir):
    """Files of modules declared `#[doc(hidden)] pub mod name;`."""
    hidden = set()
    for dirpath, _, files in os.walk(src_dir):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            lines = open(path, encoding="utf-8").read().splitlines()
            base = dirpath if f in ("lib.rs", "mod.rs") else os.path.join(dirpath, f[:-3])
            for i, line in enumerate(lines):
                m = HIDDEN_MOD.match(line)
                if m and any("doc(hidden)" in a for a in attrs_and_docs(lines, i)):
                    hidden.add(os.path.join(base, m.group(1) + ".rs"))
                    hidden.add(os.path.join(base, m.group(1)))
    return hidden


def scan_file(path):
    """(line, kind, name, has_example) for each public item of `path`."""
    lines = open(path, encoding="utf-8").read().splitlines()
    found = []
    skip_depth = 0  # inside an inline `#[doc(hidden)] pub mod name { .. }`
    for i, line in enumerate(lines):
        if TEST_MOD.match(line):
            # test modules sit at the end of a file
            break
        if skip_depth > 0:
            skip_depth += line.count("{") - line.count("}")
            continue
        if INLINE_MOD.match(line) and any("doc(hidden)" in a for a in attrs_and_docs(lines, i)):
            skip_depth = line.count("{") - line.count("}")
            continue
        m = ITEM.match(line)
        if not m:
            continue
        above = attrs_and_docs(lines, i)
        if any("doc(hidden)" in a or "cfg(loom)" in a for a in above):
            continue
        # Every line above, not only those starting `///` or `#[doc`: a
        # multi-line `#[doc = concat!(..)]` has its fence on a later line.
        docs = above
        # In a macro_rules! body, `#[doc = $example]` takes the example
        # from each invocation.
        has = any("```" in d or re.match(r"#\[doc\s*=\s*\$", d) for d in docs)
        found.append((i + 1, m.group(1), m.group(2), has))
    return found


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    listing = "--list" in sys.argv
    root = args[0] if args else "."
    crates_dir = os.path.join(root, "crates")
    total = missing = 0
    for crate in sorted(os.listdir(crates_dir)):
        src = os.path.join(crates_dir, crate, "src")
        if not os.path.isdir(src):
            continue
        hidden = hidden_modules(src)
        items = []
        for dirpath, _, files in sorted(os.walk(src)):
            if any(dirpath == h or dirpath.startswith(h + os.sep) for h in hidden):
                continue
            for f in sorted(files):
                path = os.path.join(dirpath, f)
                if not f.endswith(".rs") or path in hidden or f.startswith("loom_tests"):
                    continue
                items += [(path, *it) for it in scan_file(path)]
        lacking = [it for it in items if not it[4]]
        total += len(items)
        missing += len(lacking)
        print(f"{crate}: {len(items)} items, {len(lacking)} without an example")
        if listing:
            for path, line, kind, name, _ in lacking:
                print(f"  {os.path.relpath(path, root)}:{line}: {kind} {name}")
    print(f"total: {total} items, {missing} without an example")


if __name__ == "__main__":
    main()
