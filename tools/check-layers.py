#!/usr/bin/env python3
"""The layer rule (docs/architecture.md): a module names only modules of its own layer or
below. Reads every `crate::a::b` path in src/ (use lines and inline paths alike) and fails
on any that points up. Usage: check-layers.py [SRC_DIR]
"""

import re
import sys
from pathlib import Path

# Lowest first. A module belongs to the longest prefix listed; `crate::pr_err!` and the
# other logging macros are the console's (every layer may log, as every layer of Linux
# may printk: they are listed at the bottom).
LAYERS = [
    ("pure", ["dt", "rng", "text", "mm::region", "smp::cpumask", "MAX_CPUS", "console::level",
              "pr_err", "pr_warn", "pr_notice", "pr_info", "pr_debug", "print", "println", "log"]),
    ("arch", ["arch"]),
    # `lock_class!` and `wait_class!` are the lock classes of `sync`, exported at the root.
    ("drivers", ["sync", "drivers", "lock_class", "wait_class"]),
    ("core", ["mm", "smp"]),
    # `arch::boot` is the boot CPU's first Rust code: it puts the console and the free
    # memory in place and calls `boot::kernel_main`, so it sits with boot; it lives under
    # arch/ because its unsafe (the MMU off, a raw DTB pointer) is the architecture's.
    ("top", ["console", "selftest", "bench", "boot", "panic", "power", "arch::boot",
             "mm::kernel_slab", "mm::kmalloc"]),
]

RANK = {prefix: rank for rank, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes}


def layer_of(path: str) -> tuple[int, str]:
    """The rank of a module path such as `mm::slab::cache`, by its longest listed prefix."""
    parts = path.split("::")
    for n in range(len(parts), 0, -1):
        prefix = "::".join(parts[:n])
        if prefix in RANK:
            return RANK[prefix], prefix
    raise KeyError(path)


def module_of(src: Path, file: Path) -> str:
    rel = file.relative_to(src).with_suffix("")
    parts = [p for p in rel.parts if p not in ("mod", "lib", "main")]
    # The architecture's files are one module, whatever the CPU; its early boot is its own.
    if parts[:1] == ["arch"]:
        return "arch::boot" if parts[-1] == "boot" else "arch"
    return "::".join(parts)


PATH = re.compile(r"\bcrate::((?:[A-Za-z_][A-Za-z0-9_]*)(?:::[a-z_][a-z0-9_]*)*)")
COMMENT = re.compile(r"^\s*//")
BRACES = re.compile(r"\bcrate::\{([^}]*)\}")


def main() -> int:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    upward = []
    for file in sorted(src.rglob("*.rs")):
        me = module_of(src, file)
        if not me:
            continue
        try:
            my_rank, _ = layer_of(me)
        except KeyError:
            upward.append(f"{file}: module {me} is in no layer (tools/check-layers.py)")
            continue
        text = file.read_text()
        names = []
        for number, line in enumerate(text.splitlines(), 1):
            if not COMMENT.match(line):
                names += [(number, target) for target in PATH.findall(line)]
        # `use crate::{a, b::c};`, over one line or several.
        for group in BRACES.finditer(text):
            number = text.count("\n", 0, group.start()) + 1
            for item in group.group(1).split(","):
                item = item.strip().split(" as ")[0].strip()
                if item and item != "self":
                    names.append((number, item.split("::{")[0]))
        for number, target in names:
            try:
                rank, _ = layer_of(target)
            except KeyError:
                upward.append(f"{file}:{number}: crate::{target} is in no layer")
                continue
            if rank > my_rank:
                upward.append(
                    f"{file}:{number}: {me} ({LAYERS[my_rank][0]}) names crate::{target} "
                    f"({LAYERS[rank][0]})"
                )
    for line in upward:
        print(line)
    if upward:
        print(f"check-layers: FAIL: {len(upward)} upward name(s); the rule is in "
              "docs/architecture.md")
        return 1
    print("check-layers: PASS: every crate:: path points to its own layer or below")
    return 0


if __name__ == "__main__":
    sys.exit(main())
