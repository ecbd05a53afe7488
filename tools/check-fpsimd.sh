#!/usr/bin/env bash
# Checks that the kernel keeps off the FP/SIMD registers (src/arch/aarch64/fpsimd.rs):
# no instruction of ELF names a vector or FP register (v0-v31, q, d, s, h or b) except in
# the functions ASM defines (.global), which are the kernel's only FP/SIMD code. Lists
# each offending function with its count and first instruction, and fails, otherwise says
# how many instructions it looked at.
#
#   tools/check-fpsimd.sh ELF ASM
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 ELF ASM" >&2; exit 2; }
elf=$1 asm=$2
objdump=$(command -v llvm-objdump || true)
[ -n "$objdump" ] || { echo "check-fpsimd: llvm-objdump not found (tools/setup.sh installs it)" >&2; exit 2; }
allowed=$(sed -n 's/^[[:space:]]*\.global[[:space:]]\+\([A-Za-z0-9_]*\).*/\1/p' "$asm" | paste -sd ' ')
[ -n "$allowed" ] || { echo "check-fpsimd: $asm defines no .global function" >&2; exit 2; }

"$objdump" -d --no-show-raw-insn "$elf" | awk -v allowed="$allowed" '
    BEGIN { n = split(allowed, list, " "); for (i = 1; i <= n; i++) ok[list[i]] = 1 }
    # A function starts: "0000000040080000 <name>:"
    # ($x and $d are mapping symbols: code or data follows, in the same function.)
    /^[0-9a-f]+ <.*>:$/ { name = substr($2, 2, length($2) - 3); if (name !~ /^\$/) fn = name; next }
    /^[[:space:]]*[0-9a-f]+:[[:space:]]/ {
        line = $0
        sub(/^[[:space:]]*[0-9a-f]+:[[:space:]]+/, "", line)  # the address
        if (line ~ /^\.(word|byte|short|long|quad)/ || line ~ /^[0-9a-f][0-9a-f] /) next  # data
        insns++
        gsub(/<[^>]*>/, "", line)                   # symbol annotations
        sub(/\/\/.*/, "", line)                     # comments
        if (line ~ /(^|[^A-Za-z0-9_.])[vqdshb]([0-9]|[12][0-9]|3[01])([^A-Za-z0-9_]|$)/ && !(fn in ok)) {
            bad[fn]++
            if (!(fn in first)) first[fn] = line
        }
    }
    END {
        for (f in bad) { printf "check-fpsimd: %s: %d instruction(s) on FP/SIMD registers, e.g. \"%s\"\n", f, bad[f], first[f]; count++ }
        if (count) { printf "check-fpsimd: FAIL: %d function(s) outside %s use FP/SIMD registers\n", count, allowed; exit 1 }
        if (insns == 0) { print "check-fpsimd: FAIL: no instructions found"; exit 1 }
        printf "check-fpsimd: PASS: %d instructions, FP/SIMD registers only in %s\n", insns, allowed
    }'
