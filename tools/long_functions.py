#!/usr/bin/env python3
"""List functions and files in the crates' `src/` trees that are too long.

The workspace keeps every `src` function under about 80 lines and every `src`
file under about 500 (see the layout notes), because a longer function almost
always mixes concerns and a longer file hides its structure. This script is
the check: it prints one line per offender and exits with status 1 when there
is any, so CI can run it.

A function is counted from the line of its `fn` keyword to the line of its
closing brace, both included. Functions inside a `#[cfg(test)]` module are
skipped (test modules hold scenario tables whose length is not a design
smell); pass `--include-tests` to count them too. Files are counted whole,
test modules included, as `wc -l` would. Declarations without a body (trait
methods, `extern` items) are ignored.

The scanner understands Rust comments (nested block comments too), string,
raw string, byte and char literals, and tells lifetimes from chars, so a brace
inside a literal or comment never moves the count. It uses only the Python
standard library.

Usage: tools/long_functions.py [--max-fn N] [--max-file N] [--include-tests] [ROOT...]
ROOT defaults to the `src/` directory of every crate in the workspace.
"""

import argparse
import os
import re
import sys

CRATES = ("vclock-core", "vclock-net", "vclock-demo")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def tokens(text):
    """Yield (kind, value, line) for the tokens the checker needs.

    Kinds: "ident", "punct" (one of `{}();#[]!`), "attr_end". Literals and
    comments are consumed and produce nothing, so braces inside them are
    never seen.
    """
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    line += text[i] == "\n"
                    i += 1
        elif c in "rb" and re.match(r'(br|r)#*"', text[i:i + 260]):
            m = re.match(r'(br|r)(#*)"', text[i:])
            close = '"' + m.group(2)
            j = text.find(close, i + m.end())
            j = n if j < 0 else j + len(close)
            line += text.count("\n", i, j)
            i = j
        elif c == '"' or (c == "b" and text.startswith('b"', i)):
            i += 1 if c == '"' else 2
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                line += i < n and text[i] == "\n"
                i += 1
            i += 1
        elif c == "b" and text.startswith("b'", i):
            i = skip_char(text, i + 1)
        elif c == "'":
            # A char literal closes within a few characters ('a', '\n',
            # '\u{1F600}'); a lifetime or loop label ('a, 'outer:) does not.
            m = re.match(r"'(\\u\{[0-9a-fA-F]*\}|\\.|[^\\'\n])'", text[i:i + 12])
            i = i + m.end() if m else i + 1
        elif IDENT.match(text, i):
            m = IDENT.match(text, i)
            yield "ident", m.group(0), line
            i = m.end()
        else:
            if c in "{}();#[]!":
                yield "punct", c, line
            i += 1


def skip_char(text, i):
    """Return the index just after the char literal that starts at `i`."""
    m = re.match(r"'(\\u\{[0-9a-fA-F]*\}|\\.|[^\\'\n])'", text[i:i + 12])
    return i + (m.end() if m else 1)


def functions(text, include_tests):
    """Yield (name, first_line, last_line) for every function with a body."""
    toks = list(tokens(text))
    skip_until = -1  # index of the closing brace of a test module being skipped
    k = 0
    while k < len(toks):
        kind, value, line = toks[k]
        if k <= skip_until:
            k += 1
            continue
        if not include_tests and is_cfg_test(toks, k):
            end = test_module_end(toks, k)
            if end is not None:
                skip_until = end
                k += 1
                continue
        if kind == "ident" and value == "fn" and k + 1 < len(toks) and toks[k + 1][0] == "ident":
            name = toks[k + 1][1]
            body = body_start(toks, k + 2)
            if body is not None:
                close = matching_brace(toks, body)
                yield name, line, toks[close][2]
        k += 1


def is_cfg_test(toks, k):
    """True when tokens at `k` spell `#[cfg(test)]`."""
    want = [("punct", "#"), ("punct", "["), ("ident", "cfg"), ("punct", "("),
            ("ident", "test"), ("punct", ")"), ("punct", "]")]
    got = [(t[0], t[1]) for t in toks[k:k + len(want)]]
    return got == want


def test_module_end(toks, k):
    """If the `#[cfg(test)]` at `k` marks a `mod name { ... }`, return its closing brace."""
    j = k + 7
    while j < len(toks) and toks[j][1] == "#":  # further attributes
        depth = 0
        j += 1
        while j < len(toks):
            if toks[j][1] == "[":
                depth += 1
            elif toks[j][1] == "]":
                depth -= 1
                if depth == 0:
                    j += 1
                    break
            j += 1
    if j < len(toks) and toks[j][1] == "pub":
        j += 1
        if j < len(toks) and toks[j][1] == "(":
            while j < len(toks) and toks[j][1] != ")":
                j += 1
            j += 1
    if j + 2 < len(toks) and toks[j][1] == "mod" and toks[j + 2][1] == "{":
        return matching_brace(toks, j + 2)
    return None


def body_start(toks, j):
    """Index of the `{` opening the body of the fn whose signature starts at `j`,
    or None when the signature ends in `;` (no body)."""
    depth = 0
    while j < len(toks):
        v = toks[j][1]
        if v in "([":
            depth += 1
        elif v in ")]":
            depth -= 1
        elif depth == 0 and v == ";":
            return None
        elif depth == 0 and v == "{":
            return j
        j += 1
    return None


def matching_brace(toks, j):
    depth = 0
    while j < len(toks):
        v = toks[j][1]
        if v == "{":
            depth += 1
        elif v == "}":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return len(toks) - 1


def rust_files(roots):
    for root in roots:
        if os.path.isfile(root):
            yield root
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(".rs"):
                    yield os.path.join(dirpath, name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-fn", type=int, default=80, help="longest allowed function, in lines")
    parser.add_argument("--max-file", type=int, default=500, help="longest allowed file, in lines")
    parser.add_argument("--include-tests", action="store_true",
                        help="also count functions inside #[cfg(test)] modules")
    parser.add_argument("roots", nargs="*", help="files or directories (default: each crate's src/)")
    args = parser.parse_args()

    workspace = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    roots = args.roots or [os.path.relpath(os.path.join(workspace, c, "src")) for c in CRATES]
    offenders = 0
    for path in rust_files(roots):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        if lines > args.max_file:
            print(f"{path}: file is {lines} lines (limit {args.max_file})")
            offenders += 1
        for name, first, last in functions(text, args.include_tests):
            length = last - first + 1
            if length > args.max_fn:
                print(f"{path}:{first}: fn {name} is {length} lines (limit {args.max_fn})")
                offenders += 1
    return 1 if offenders else 0


if __name__ == "__main__":
    sys.exit(main())
