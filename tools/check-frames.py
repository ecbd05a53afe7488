#!/usr/bin/env python3
"""The kernel's stack frames, from its disassembly: prints the largest and fails on any
larger than the limit.

A frame is what a function's prologue takes from SP: pre-indexed stores
(`stp x29, x30, [sp, #-N]!`), `sub sp, sp, #N`, and the target of a stack-probing loop
(`sub x9, sp, #N` then `sub sp, sp, #4096` until SP reaches it). The limit is one page,
the size of the guard page under every stack: each CPU has a 16 KiB stack, and a frame
larger than a page would be a large part of it (the compiler probes every page of a large
frame, so no frame steps over a guard page unnoticed whatever its size; this check keeps
the stacks' budget, not their guards).

usage: check-frames.py KERNEL_ELF [LIMIT_BYTES]
"""

import re
import subprocess
import sys

LIMIT = 4096
SHOW = 10

IMM = r"#(0x[0-9a-f]+|\d+)(, lsl #12)?"
PRE_INDEX = re.compile(r"\t(stp|str)\t.*\[sp, #-(\d+)\]!")
SUB_SP = re.compile(r"\tsub\tsp, sp, " + IMM)
PROBE_TARGET = re.compile(r"\tsub\tx\d+, sp, " + IMM)
END = re.compile(r"\t(ret|eret|b)\t|\t(ret|eret)$")
FUNCTION = re.compile(r"^[0-9a-f]+ <(.*)>:$")


def immediate(match):
    value = int(match.group(1), 0)
    return value << 12 if match.group(2) else value


def frames(disassembly):
    """Each function's largest stack use, from the SP adjustments of each of its paths."""
    sizes = {}
    name, used, probing = None, 0, False
    for line in disassembly.splitlines():
        m = FUNCTION.match(line)
        if m:
            name, used, probing = m.group(1), 0, False
            sizes.setdefault(name, 0)
            continue
        if name is None:
            continue
        m = PROBE_TARGET.search(line)
        if m:
            used += immediate(m)
            probing = True
        m = PRE_INDEX.search(line)
        if m:
            used += int(m.group(2))
        m = SUB_SP.search(line)
        if m:
            # The probing loop's step is part of the target counted above.
            if probing:
                probing = False
            else:
                used += immediate(m)
        sizes[name] = max(sizes[name], used)
        # A return or jump ends a path: the vectors, one function to the linker, are 16
        # entries that each take one frame and branch away.
        if END.search(line):
            used, probing = 0, False
    return sizes


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.split("usage: ")[1])
    limit = int(sys.argv[2]) if len(sys.argv) == 3 else LIMIT
    disassembly = subprocess.run(
        ["llvm-objdump", "-d", "--no-show-raw-insn", "--demangle", sys.argv[1]],
        capture_output=True, text=True, check=True,
    ).stdout
    sizes = frames(disassembly)
    if not sizes:
        sys.exit(f"check-frames: no functions found in {sys.argv[1]}")
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])
    print(f"check-frames: the {SHOW} largest stack frames (limit {limit} bytes):")
    for name, size in largest[:SHOW]:
        print(f"  {size:>6}  {re.sub(r'::h[0-9a-f]{16}', '', name)}")
    over = [(n, s) for n, s in largest if s > limit]
    if over:
        for name, size in over:
            print(f"check-frames: {name}: a {size}-byte frame, over the {limit}-byte limit")
        sys.exit(1)


if __name__ == "__main__":
    main()
