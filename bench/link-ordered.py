#!/usr/bin/env python3
"""Linker wrapper of the exporters' shipped build (`bench/build-exporter.sh`): links with lld and places the
functions a scrape executes next to each other, so the pages of code a running exporter touches are few.

The kernel maps a file-backed page fault together with its neighbours (64 KiB), so code executed per scrape that
is scattered over the whole text makes nearly all of it resident. `$HOT_FUNCTIONS` names the hot functions, one
per line, demangled and without hashes (`<crate>/hot-functions.txt`, written by `bench/hot-functions.sh`), which
keeps the list valid across builds. This wrapper finds the symbols those names stand for in the objects being
linked (`nm`), writes them to an lld symbol ordering file and runs the C compiler driver with lld
(`$LLD_DIR`: the toolchain's `gcc-ld` directory). Symbols that no longer exist are skipped; the ordering changes
the layout only, never what is linked.
"""

import os
import subprocess
import sys
import tempfile


def expand(args):
    """The linker arguments with `@file` response files expanded (rustc uses one for long command lines)."""
    out = []
    for a in args:
        if a.startswith("@") and os.path.isfile(a[1:]):
            with open(a[1:], encoding="utf-8") as f:
                out.extend(line.rstrip("\n") for line in f if line.strip())
        else:
            out.append(a)
    return out


def symbols(inputs):
    """(mangled, demangled) names of the functions defined in `inputs`."""
    if not inputs:
        return []
    cmd = ["nm", "--defined-only", "--no-sort"]
    raw = subprocess.run(cmd + inputs, capture_output=True, text=True).stdout.splitlines()
    dem = subprocess.run(cmd + ["-C"] + inputs, capture_output=True, text=True).stdout.splitlines()
    if len(raw) != len(dem):
        return []
    pairs = []
    for r, d in zip(raw, dem):
        pr, pd = r.split(None, 2), d.split(None, 2)
        if len(pr) == 3 and len(pd) == 3 and pr[1] in "tTwW":
            pairs.append((pr[2], pd[2]))
    return pairs


def main():
    args = sys.argv[1:]
    hot_path = os.environ.get("HOT_FUNCTIONS", "")
    lld_dir = os.environ.get("LLD_DIR", "")
    cc = os.environ.get("LINK_CC", "cc")
    extra = []
    path = None
    if hot_path and lld_dir and os.path.isfile(hot_path):
        with open(hot_path, encoding="utf-8") as f:
            hot = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#")]
        inputs = [a for a in expand(args) if a.endswith((".o", ".rlib", ".a")) and os.path.isfile(a)]
        by_name = {}
        for mangled, demangled in symbols(inputs):
            by_name.setdefault(demangled, []).append(mangled)
        order = []
        seen = set()
        for name in hot:
            # C functions (libc) have no mangling: the name is the symbol.
            for sym in by_name.get(name, [name] if "::" not in name else []):
                if sym not in seen:
                    seen.add(sym)
                    order.append(sym)
        fd, path = tempfile.mkstemp(prefix="symbol-order-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(order) + "\n")
        extra = [
            "-B" + lld_dir,
            "-fuse-ld=lld",
            "-Wl,--symbol-ordering-file=" + path,
            "-Wl,--no-warn-symbol-ordering",
        ]
    result = subprocess.run([cc] + args + extra)
    if path:
        os.unlink(path)
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
