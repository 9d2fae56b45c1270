#!/usr/bin/env python3
"""Structure checks for a crate's src/ folder (the rules in shared/LAYOUT.md).

    structure.py imports   SRC...   import cycles between modules (files)
    structure.py functions SRC...   functions over MAX_FN_LINES lines
    structure.py files     SRC...   files over MAX_FILE_LINES lines

Each prints what it finds, one item per line, and exits 1 if it found
anything, 0 (printing nothing) otherwise.

The import graph has one node per file (module) and an edge from a module
to every module a path in it names: `crate::a::b`, `super::x`, `self::x`,
or a child module by its name (`child::item` in a `mod.rs` or `lib.rs`),
in `use` declarations and in code alike, test modules included. A path is
resolved to the deepest module it names, so `use crate::wire::control::MAGIC`
is an edge to `wire::control`, and through re-exports to where the item
lives (`crate::Config` is an edge to `config` when lib.rs has
`pub use config::Config`). Neither a `mod x;` declaration nor a re-export
(`pub use`, `pub(crate) use`) is an edge: a facade that re-exports its
children does not depend on them.
"""

import os
import re
import sys

MAX_FN_LINES = 80
MAX_FILE_LINES = 500

# Comments, string literals (plain, byte, raw) and char literals, in the
# order they must be tried; lifetimes ('a) are not char literals.
LEXEME = re.compile(
    r"""
      (?P<line>//[^\n]*)
    | (?P<block>/\*.*?\*/)
    | (?P<raw>b?r(?P<hashes>\#*)"(?:.|\n)*?"(?P=hashes))
    | (?P<str>b?"(?:\\.|[^"\\])*")
    | (?P<char>b?'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'])')
    """,
    re.VERBOSE | re.DOTALL,
)


def blank(source):
    """The source with comments and literals replaced by spaces (newlines
    kept), so that braces and paths inside them are not seen."""

    def spaces(match):
        return re.sub(r"[^\n]", " ", match.group(0))

    return LEXEME.sub(spaces, source)


def rust_files(src):
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if name.endswith(".rs"):
                yield os.path.join(root, name)


def module_of(src, path):
    """`crate::a::b` for src/a/b.rs or src/a/b/mod.rs, `crate` for lib.rs."""
    parts = os.path.relpath(path, src)[: -len(".rs")].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(["crate"] + parts)


def matching_brace(text, start):
    """Index of the brace closing the one at `start`."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(text) - 1


def expand_use(tree):
    """The paths of a `use` tree: `a::{b, c::{d, self}}` -> a::b, a::c::d, a::c;
    a renaming `a::b as c` is `a::b@c`."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+", "@", tree))
    if "{" not in tree:
        return [re.sub(r"::\*$", "", tree)] if tree else []
    head, rest = tree.split("{", 1)
    inner = rest[: rest.rfind("}")]
    items, depth, current = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        current += ch
    items.append(current)
    paths = []
    for item in items:
        if item == "self":
            paths.append(head.rstrip(":"))
        else:
            paths.extend(head + p for p in expand_use(item))
    return paths


def absolute(module, segments, nested, children):
    """The path `segments` written in `module` as a path from the crate root,
    or None if it does not start in this crate."""
    first = segments[0]
    if first == "crate":
        return ("crate",) + tuple(segments[1:])
    if first == "super":
        # Inside an inline `mod tests { ... }`, `super` is the file itself.
        base = module if nested else module[:-1]
        rest = segments[1:]
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
        return base + tuple(rest)
    if first == "self":
        return module + tuple(segments[1:])
    if first in children:
        return module + tuple(segments)
    return None


USE = re.compile(r"\b(pub(?:\([\w ]+\))?\s+)?use\s+([^;]+);")


def import_graph(src):
    files = list(rust_files(src))
    modules = {module_of(src, f): f for f in files}
    texts, uses, inline, reexports = {}, {}, {}, {}
    for module, path in modules.items():
        with open(path, encoding="utf-8") as f:
            text = blank(f.read())
        texts[module] = text
        children = {m[-1] for m in modules if m[:-1] == module and len(m) == len(module) + 1}
        spans = []
        for m in re.finditer(r"\bmod\s+\w+\s*\{", text):
            spans.append((m.end() - 1, matching_brace(text, m.end() - 1)))
        inline[module] = spans

        def resolve(at, path, module=module, children=children, spans=spans):
            nested = any(lo < at < hi for lo, hi in spans)
            return absolute(module, path.split("::"), nested, children)

        found = []
        for m in USE.finditer(text):
            for p in expand_use(m.group(2)):
                p, _, alias = p.partition("@")
                full = resolve(m.start(), p)
                if full is None:
                    continue
                if m.group(1):
                    # A re-export (`pub use child::Item`): not a dependency
                    # of this module's code; a path through it is followed
                    # to where the item lives.
                    reexports.setdefault(module, {})[alias or full[-1]] = full
                else:
                    found.append(full)
        code = USE.sub(lambda m: " " * len(m.group(0)), text)
        for m in re.finditer(r"(?<![\w:])(\w+(?:::\w+)+)", code):
            full = resolve(m.start(), m.group(1))
            if full is not None:
                found.append(full)
        uses[module] = found

    def target(full):
        for _ in range(16):
            deepest = max(
                (full[:n] for n in range(1, len(full) + 1) if full[:n] in modules),
                key=len,
                default=None,
            )
            if deepest is None:
                return None
            rest = full[len(deepest) :]
            moved = rest and reexports.get(deepest, {}).get(rest[0])
            if not moved:
                return deepest
            full = moved + rest[1:]
        return None

    edges = {}
    for module, found in uses.items():
        targets = edges.setdefault(module, set())
        for full in found:
            t = target(full)
            if t and t != module:
                targets.add(t)
    return edges


def cycles(edges):
    """Every strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def name(module):
    return "::".join(module)


def check_imports(src):
    edges = import_graph(src)
    out = []
    for component in cycles(edges):
        members = set(component)
        links = [
            f"{name(a)} -> {name(b)}"
            for a in component
            for b in sorted(edges[a])
            if b in members
        ]
        out.append(f"{src}: import cycle among {len(component)} modules: " + "; ".join(links))
    return out


FN = re.compile(r"\bfn\s+(\w+)")


def check_functions(src):
    out = []
    for path in rust_files(src):
        with open(path, encoding="utf-8") as f:
            text = blank(f.read())
        for m in FN.finditer(text):
            # The body starts at the first `{` outside parentheses and
            # brackets; a `;` there first means a declaration without one.
            depth, body = 0, None
            for i in range(m.end(), len(text)):
                ch = text[i]
                if ch in "([":
                    depth += 1
                elif ch in ")]":
                    depth -= 1
                elif depth == 0 and ch == ";":
                    break
                elif depth == 0 and ch == "{":
                    body = i
                    break
            if body is None:
                continue
            first = text.count("\n", 0, m.start()) + 1
            last = text.count("\n", 0, matching_brace(text, body)) + 1
            lines = last - first + 1
            if lines > MAX_FN_LINES:
                out.append(f"{path}:{first}: fn {m.group(1)} is {lines} lines")
    return out


def check_files(src):
    out = []
    for path in rust_files(src):
        with open(path, encoding="utf-8") as f:
            lines = sum(1 for _ in f)
        if lines > MAX_FILE_LINES:
            out.append(f"{path}: {lines} lines")
    return out


CHECKS = {"imports": check_imports, "functions": check_functions, "files": check_files}


def main(argv):
    if len(argv) < 3 or argv[1] not in CHECKS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    found = [line for src in argv[2:] for line in CHECKS[argv[1]](src)]
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
