#!/usr/bin/env python3
"""The import graph of src/: fails on a loop between files or a forbidden
arrow between top-level modules (see LAYERS). Reads the sources only.

    scripts/layers.py           check; exit 1 with the offending arrows
    scripts/layers.py --graph   print the arrows between top-level modules

An arrow A -> B is any `crate::`/`super::` path in A's code (not its
comments, not its `#[cfg(test)]` part, not its `tests.rs`/`*_tests.rs`
files) that names an item of B. Paths through a `pub use` re-export are
followed to the file that defines the item, so a module's facade does not
count as a dependency. A module's `mod.rs` and the files under it may use
each other (the parent declares its children and often holds their shared
types); any other loop between files is an error.
"""

import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

# Which top-level modules each may use. A module missing here may use any.
# The seam: api sits on config; the operator doors (admin, control) see the
# daemon through api only; the daemon's engine parts never see the doors.
LAYERS = {
    "config": set(),
    "store": {"config"},
    "api": {"config"},
    "admin": {"api", "config"},
    "control": {"api", "config"},
    # change compares rendered rulesets (firewall::render is pure) to decide
    # whether the firewall step runs.
    "change": {"config", "firewall", "store"},
    "firewall": {"config"},
    "net": {"config"},
    "forwarder": {"config"},
    # sync carries the planned handover's relay request to ha's drain.
    "sync": {"change", "config", "firewall", "ha", "net", "store"},
}

ITEM = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+|const\s+|unsafe\s+)*"
    r"(?:fn|struct|enum|trait|type|const|static|mod|union|macro_rules!)\s+(\w+)",
    re.M,
)
USE = re.compile(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.M)
PATH = re.compile(r"\b((?:crate|super|self)(?:::\w+)+)")


def code_of(text):
    """The text without comments, string contents and the test module."""
    m = re.search(r"^#\[cfg\(test\)\]\s*\n(?:#\[[^\n]*\]\s*\n)*\s*(?:pub\s+)?mod\s", text, re.M)
    if m:
        text = text[: m.start()]
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return text


def module_files():
    """Module path (tuple) -> file, for the library (not main.rs, not tests)."""
    mods = {}
    for f in SRC.rglob("*.rs"):
        rel = f.relative_to(SRC)
        if rel.name in ("main.rs", "tests.rs") or rel.name.endswith("_tests.rs"):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts == ["lib"]:
            parts = []
        elif parts[-1] == "mod":
            parts = parts[:-1]
        mods[tuple(parts)] = f
    return mods


def expand(tree):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]; `x as y` -> x."""
    tree = re.sub(r"\s+", "", tree)
    i = tree.find("{")
    if i < 0:
        return [tree.split("as")[0] if "as" in tree and not tree.endswith("as") else tree]
    prefix, inner = tree[:i], tree[i + 1 : tree.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        if p:
            out += [prefix + q if q != "self" else prefix.rstrip(":") for q in expand(p)]
    return out


class Graph:
    def __init__(self):
        self.files = module_files()
        self.code = {m: code_of(f.read_text()) for m, f in self.files.items()}
        self.items = {m: set(ITEM.findall(c)) for m, c in self.code.items()}
        self.reexports = {}
        for m, c in self.code.items():
            table = {}
            for vis, tree in USE.findall(c):
                if not vis:
                    continue
                for path in expand(tree):
                    segs = self.absolute(m, path.split("::"))
                    if segs:
                        table.setdefault(segs[-1], []).append(segs)
            self.reexports[m] = table

    def absolute(self, here, segs):
        """A path's segments from the crate root, or None if not ours."""
        if segs[0] == "crate":
            return segs[1:]
        base = list(here)
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                if not base:
                    return None
                base.pop()
            segs = segs[1:]
        return base + segs if segs else None

    def resolve(self, segs, seen=()):
        """The module (tuple) that defines the item a path names."""
        mod = ()
        for i, s in enumerate(segs):
            if mod + (s,) in self.files:
                mod = mod + (s,)
                continue
            if s == "*" or s in self.items.get(mod, ()):
                return mod
            for target in self.reexports.get(mod, {}).get(s, []):
                if tuple(target) not in seen:
                    return self.resolve(target + segs[i + 1 :], seen + (tuple(target),))
            for target in self.reexports.get(mod, {}).get("*", []):
                sub = tuple(target[:-1])
                if sub in self.files and (s in self.items.get(sub, ()) or (sub + (s,)) in self.files):
                    return self.resolve(list(sub) + segs[i:], seen + (sub,))
            return mod
        return mod

    def arrows(self):
        """(from module, to module) for every file-level reference."""
        out = set()
        for m, c in self.code.items():
            paths = []
            for vis, tree in USE.findall(c):
                paths += expand(tree)
            rest = USE.sub("", c)
            paths += PATH.findall(rest)
            for p in paths:
                segs = self.absolute(m, p.split("::"))
                if not segs:
                    continue
                to = self.resolve(segs)
                if to != m:
                    out.add((m, to))
        return out


def name(m):
    return "::".join(m) or "crate"


def loops(arrows):
    """Strongly connected groups of files, ignoring parent/child pairs."""
    def related(a, b):
        return a[: len(b)] == b or b[: len(a)] == a

    edges = {}
    for a, b in arrows:
        if not related(a, b):
            edges.setdefault(a, set()).add(b)
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def main():
    g = Graph()
    arrows = g.arrows()
    top = sorted({(a[0], b[0]) for a, b in arrows if a and b and a[0] != b[0]})
    if "--graph" in sys.argv:
        for a in sorted({a for a, _ in top}):
            print(f"{a} -> {', '.join(b for x, b in top if x == a)}")
        return 0
    bad = []
    for a, b in top:
        if a in LAYERS and b not in LAYERS[a]:
            why = sorted(f"{name(x)} -> {name(y)}" for x, y in arrows if x[:1] == (a,) and y[:1] == (b,))
            bad.append(f"forbidden arrow {a} -> {b}: {'; '.join(why)}")
    for group in loops(arrows):
        inner = sorted(f"{name(x)} -> {name(y)}" for x, y in arrows if x in group and y in group)
        bad.append(f"loop between files {', '.join(map(name, group))}: {'; '.join(inner)}")
    for line in bad:
        print(f"layers: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
