#!/usr/bin/env bash
# QEMU's raspi4b has two UARTs: the PL011 is its first serial port, the mini UART its
# second. This prints the `-serial` options that put on this terminal the one the kernel
# will use as its console, decided as the kernel decides: the last `console=` in the
# bootargs, else /chosen/stdout-path, both through /aliases. The other port is discarded.
#
#   tools/rpi4-serial.sh DTB 'BOOTARGS'
set -euo pipefail
dtb=$1 bootargs=${2:-}

console=$(printf '%s\n' "$bootargs" | grep -o 'console=[^ ]*' | tail -n1 | cut -d= -f2- || true)
wanted=${console:-$(fdtget -t s "$dtb" /chosen stdout-path 2>/dev/null || true)}
wanted=${wanted%%:*}
case "$wanted" in
    /*) path=$wanted ;;
    "") path= ;;
    *) path=$(fdtget -t s "$dtb" /aliases "${wanted%%,*}" 2>/dev/null || true) ;;
esac
compatible=
[ -n "$path" ] && compatible=$(fdtget -t s "$dtb" "$path" compatible 2>/dev/null || true)
case "$compatible" in
    *bcm2835-aux-uart*) echo "-serial null -serial mon:stdio" ;;
    *) echo "-serial mon:stdio -serial null" ;;
esac
