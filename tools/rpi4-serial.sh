#!/usr/bin/env bash
# QEMU's raspi4b has two UARTs: the PL011 is its first serial port, the mini UART its
# second. This prints the `-serial` options that put on this terminal the one the kernel
# will use as its console, decided as the kernel decides: the last `console=` in the
# bootargs, else /chosen/stdout-path, both through /aliases. The other port is discarded,
# unless --with-pl011 says something before the kernel (U-Boot) prints on the PL011: then,
# where the kernel's console is the mini UART, both print here through one mux whose
# input goes to the mini UART (QEMU gives a mux's input to the last port attached).
#
#   tools/rpi4-serial.sh [--stdout-path PATH] [--with-pl011] DTB 'BOOTARGS'
#
# --stdout-path: the stdout-path the kernel will find instead of DTB's (Trusted
# Firmware-A's BL31 sets serial0).
set -euo pipefail
stdout_path="" with_pl011=""
while [ $# -gt 0 ]; do
    case "$1" in
        --stdout-path) stdout_path=${2:?--stdout-path needs a path}; shift 2 ;;
        --with-pl011) with_pl011=1; shift ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || { echo "usage: $0 [--stdout-path PATH] [--with-pl011] DTB 'BOOTARGS'" >&2; exit 2; }
dtb=$1 bootargs=${2:-}

console=$(printf '%s\n' "$bootargs" | grep -o 'console=[^ ]*' | tail -n1 | cut -d= -f2- || true)
[ -n "$stdout_path" ] || stdout_path=$(fdtget -t s "$dtb" /chosen stdout-path 2>/dev/null || true)
wanted=${console:-$stdout_path}
wanted=${wanted%%:*}
case "$wanted" in
    /*) path=$wanted ;;
    "") path= ;;
    *) path=$(fdtget -t s "$dtb" /aliases "${wanted%%,*}" 2>/dev/null || true) ;;
esac
compatible=
[ -n "$path" ] && compatible=$(fdtget -t s "$dtb" "$path" compatible 2>/dev/null || true)
case "$compatible" in
    *bcm2835-aux-uart*)
        if [ -n "$with_pl011" ]; then
            echo "-chardev stdio,id=con,mux=on,signal=on -serial chardev:con -serial chardev:con"
        else
            echo "-serial null -serial mon:stdio"
        fi ;;
    *) echo "-serial mon:stdio -serial null" ;;
esac
