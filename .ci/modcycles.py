#!/usr/bin/env python3
# Copied from the team's shared tools (shared/tools/modcycles.py) so CI and any reader can run it.
"""Module-level import cycles in each crate of a Rust workspace.

A node is a crate's top-level module (src/foo.rs or src/foo/); an edge A -> B is
a `crate::B` path (or `super::B` from a top-level file) written in A's files,
test modules and *tests*.rs files left out. Prints one line per cycle
(strongly connected component of 2+ modules) and, last, a summary line.
Exit 1 when any crate has a cycle.
usage: modcycles.py WORKSPACE_ROOT
"""
import os, re, sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
crates_dir = os.path.join(root, "crates")
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"

def strip_tests(text):
    text = re.sub(r"//[^\n]*", "", text)
    m = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
    return text[: m.start()] if m else text

def group_heads(s):
    """First identifiers of the items of a `{a::X, b, c::{..}}` group."""
    heads, depth, cur = [], 0, ""
    for ch in s:
        if ch == "{":
            depth += 1
            if depth == 1:
                continue
        elif ch == "}":
            depth -= 1
            if depth == 0:
                heads.append(cur)
                break
        if depth == 1 and ch == ",":
            heads.append(cur); cur = ""
        elif depth >= 1:
            cur += ch
    out = []
    for h in heads:
        m = re.match(r"\s*(" + IDENT + ")", h)
        if m:
            out.append(m.group(1))
    return out

def refs(text, prefix):
    found = set()
    for m in re.finditer(prefix + r"::\s*(\{|" + IDENT + ")", text):
        tok = m.group(1)
        if tok == "{":
            found.update(group_heads(text[m.end() - 1 :]))
        else:
            found.add(tok)
    return found

def sccs(nodes, edges):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            out.append(comp)
    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return out

total = 0
for crate in sorted(os.listdir(crates_dir)):
    src = os.path.join(crates_dir, crate, "src")
    if not os.path.isdir(src):
        continue
    mods = {}
    for entry in os.listdir(src):
        p = os.path.join(src, entry)
        if entry.endswith(".rs") and entry not in ("lib.rs", "main.rs"):
            mods[entry[:-3]] = [p]
        elif os.path.isdir(p):
            files = []
            for dp, _, fs in os.walk(p):
                files += [os.path.join(dp, f) for f in fs if f.endswith(".rs")]
            mods[entry] = files
    edges = {}
    for m, files in mods.items():
        for f in files:
            if "tests" in os.path.basename(f):
                continue
            text = strip_tests(open(f, encoding="utf-8", errors="replace").read())
            targets = refs(text, r"\bcrate")
            if os.path.dirname(f) == src:
                targets |= refs(text, r"\bsuper")
            for t in targets:
                if t in mods and t != m:
                    edges.setdefault(m, set()).add(t)
    for comp in sccs(sorted(mods), edges):
        if len(comp) > 1:
            total += 1
            print(f"{crate}: cycle of {len(comp)} modules: {', '.join(sorted(comp))}")
print(f"module cycles: {total}")
sys.exit(1 if total else 0)
