#!/usr/bin/env bash
# Does for QEMU's raspi4b what a Raspberry Pi 4's VideoCore firmware does before the ARM
# cores run when config.txt names an ARM stub (`armstub=bl31.bin`), and prints the QEMU
# options that load the result. Given no -kernel, QEMU starts every core at 0 at EL3, as
# the firmware does with an ARM stub.
#
#   tools/rpi4-armstub.sh OUTDIR ARMSTUB DTB KERNEL 'BOOTARGS'
#
# - The tree: DTB as the firmware hands it on. QEMU's own edits for a -dtb stand for the
#   firmware's (/memory filled in, the devices QEMU lacks disabled, page 0 reserved for
#   the spin table) and BOOTARGS go into /chosen/bootargs, as the firmware writes
#   cmdline.txt there: OUTDIR/firmware.dtb, loaded at DTB_ADDR.
# - The stub: ARMSTUB (Trusted Firmware-A's BL31 for rpi4) at 0 with its header filled
#   as the firmware fills it: the stub magic at 0xf0 cleared, the tree's address at 0xf8
#   and the kernel's entry at 0xfc (32 bits each, little-endian): OUTDIR/armstub8.bin.
# - The kernel (an arm64 Image, or U-Boot) at KERNEL_ADDR, where the firmware puts a
#   64-bit kernel (`kernel_address`'s default).
set -euo pipefail

die() { printf 'rpi4-armstub: %s\n' "$*" >&2; exit 1; }
[ $# -eq 5 ] || die "usage: $0 OUTDIR ARMSTUB DTB KERNEL 'BOOTARGS'"
out=$1 armstub=$2 dtb=$3 kernel=$4 bootargs=$5

# Where the firmware puts the tree: below the VideoCore's memory, with room for BL31 to
# grow the tree in place to 1 MiB (it maps the 4 MiB from the 2 MiB boundary below it).
DTB_ADDR=0x2eff0000
KERNEL_ADDR=0x80000
# The word TF-A's rpi4 BL31 carries at 0xf0 for the firmware to find and clear.
STUB_MAGIC=5afe570b

for f in "$armstub" "$dtb" "$kernel"; do
    [ -f "$f" ] || die "no $f"
done
mkdir -p "$out"

timeout 60 qemu-system-aarch64 -M raspi4b,dumpdtb="$out/firmware.dtb" -dtb "$dtb" \
    -kernel "$kernel" -append "$bootargs" -display none -nic none 2>/dev/null ||
    die "QEMU could not edit $dtb as it does for -dtb"

magic=$(od -An -tx4 -j $((0xf0)) -N4 "$armstub" | tr -d ' ')
[ "$magic" = "$STUB_MAGIC" ] ||
    die "$armstub has no ARM stub magic at 0xf0 (0x$magic, not 0x$STUB_MAGIC): not a Raspberry Pi BL31"

# The 32-bit little-endian word $2 at offset $1 of the stub.
put_word() {
    local at=$1 value=$(($2)) bytes=
    for shift in 0 8 16 24; do
        bytes+=$(printf '\\x%02x' $(((value >> shift) & 0xff)))
    done
    # shellcheck disable=SC2059 # the escapes are the data
    printf "$bytes" | dd of="$out/armstub8.bin" bs=1 seek=$((at)) conv=notrunc status=none
}
cp "$armstub" "$out/armstub8.bin"
put_word 0xf0 0
put_word 0xf8 "$DTB_ADDR"
put_word 0xfc "$KERNEL_ADDR"

echo "-device loader,file=$out/armstub8.bin,addr=0x0" \
    "-device loader,file=$out/firmware.dtb,addr=$DTB_ADDR" \
    "-device loader,file=$kernel,addr=$KERNEL_ADDR"
