#!/usr/bin/env bash
# Builds the Linux peer, the reference the benchmarks compare hotslab with: Debian
# bookworm's arm64 Linux 6.1 kernel and an initramfs whose /init (tools/linux-peer/init)
# runs the measuring program (tools/linux-peer/peer) and powers the machine off.
#
#   tools/linux-peer/build.sh OUTDIR
#
# writes OUTDIR/vmlinuz (an uncompressed arm64 Image) and OUTDIR/initramfs.cpio (newc,
# uncompressed), which boot with:
#
#   qemu-system-aarch64 -M virt,gic-version=2 -cpu cortex-a72 -smp 4 -m 512M -nographic \
#       -nic none -kernel OUTDIR/vmlinuz -initrd OUTDIR/initramfs.cpio \
#       -append 'console=ttyAMA0 quiet peer.cycles=30'
#
# The kernel and busybox come from Debian's packages through tools/fetch-debian.sh and are
# fetched once (delete OUTDIR/vmlinuz or OUTDIR/busybox to fetch again); the program is
# built with cargo into OUTDIR/target, and the initramfs is rewritten only when one of
# its parts changed. The cpio archive is written by this script itself, so no cpio tool
# (nor root, for /dev/console) is needed.
#
# Exit status: 0 built, 3 Debian's packages cannot be fetched (no apt, no network),
# anything else another failure.
set -euo pipefail

die() { printf 'linux-peer: %s\n' "$1" >&2; exit "${2:-1}"; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR" 2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)

# fetch ARGS...: tools/fetch-debian.sh ARGS, exiting with its status if it fails.
fetch() {
    local status=0
    "$root/tools/fetch-debian.sh" "$@" || status=$?
    [ "$status" -ne 3 ] || die "cannot fetch Debian's packages (see above)" 3
    [ "$status" -eq 0 ] || exit "$status"
}

# --- The kernel: Debian's vmlinuz, as a plain Image ----------------------------------------
if [ ! -s "$out/vmlinuz" ]; then
    rm -rf "$out/fetch"
    fetch --meta linux-image-arm64 main "$out/fetch" 'boot/vmlinuz-*'
    kernel=$(echo "$out"/fetch/vmlinuz-*)
    # bookworm's arm64 vmlinuz is a plain Image; should it come gzip'd, unpack it (QEMU
    # would take either, other loaders may not).
    if gzip -t "$kernel" 2>/dev/null; then
        gzip -dc "$kernel" >"$out/vmlinuz.tmp"
    else
        cp "$kernel" "$out/vmlinuz.tmp"
    fi
    # An arm64 Image has the magic "ARM\x64" at offset 56.
    [ "$(head -c 60 "$out/vmlinuz.tmp" | tail -c 4)" = ARMd ] ||
        die "$(basename "$kernel") is not an arm64 Image"
    mv "$out/vmlinuz.tmp" "$out/vmlinuz"
    rm -rf "$out/fetch"
fi

# --- busybox: Debian's static build ---------------------------------------------------------
if [ ! -s "$out/busybox" ]; then
    rm -rf "$out/fetch"
    fetch busybox-static main "$out/fetch" 'bin/busybox'
    mv "$out/fetch/busybox" "$out/busybox"
    rm -rf "$out/fetch"
fi

# --- The measuring program ------------------------------------------------------------------
(cd "$here/peer" && CARGO_TARGET_DIR="$out/target" \
    cargo build --quiet --locked --release --target aarch64-unknown-none)
peer=$out/target/aarch64-unknown-none/release/linux-peer
# Linux must be able to run it as it is: a static executable, no interpreter, nothing to
# relocate.
readelf=$(command -v llvm-readelf || command -v readelf || true)
if [ -n "$readelf" ]; then
    elf=$("$readelf" -h -l -r "$peer")
    grep -Eq 'Type: +EXEC' <<<"$elf" && ! grep -q INTERP <<<"$elf" &&
        grep -q 'no relocations' <<<"$elf" ||
        die "$peer is not a static executable without relocations"
fi

# --- The initramfs, in the kernel's "newc" cpio format --------------------------------------
ino=0
# cpio_pad N: the zeros that align N bytes to 4.
cpio_pad() { head -c $(((4 - $1 % 4) % 4)) /dev/zero; }
# cpio_header NAME MODE SIZE [RDEV_MAJOR RDEV_MINOR]: an entry's header and name; SIZE
# bytes of data and their padding follow.
cpio_header() {
    local name=$1 mode=$2 size=$3 nlink=1
    [ $((mode & 0170000)) -ne $((0040000)) ] || nlink=2
    ino=$((ino + 1))
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
        "$ino" "$mode" 0 0 "$nlink" 0 "$size" 0 0 "${4:-0}" "${5:-0}" $((${#name} + 1)) 0
    printf '%s\0' "$name"
    cpio_pad $((110 + ${#name} + 1))
}
cpio_dir() { cpio_header "$1" $((0040755)) 0; }
cpio_chardev() { cpio_header "$1" $((0020600)) 0 "$2" "$3"; }
cpio_symlink() {
    cpio_header "$1" $((0120777)) ${#2}
    printf '%s' "$2"
    cpio_pad ${#2}
}
cpio_file() {
    local size
    size=$(stat -c %s "$2")
    cpio_header "$1" $((0100755)) "$size"
    cat "$2"
    cpio_pad "$size"
}

cpio=$out/initramfs.cpio
stale=
for part in "$here/init" "$out/busybox" "$peer" "$here/build.sh"; do
    if [ "$part" -nt "$cpio" ]; then stale=1; fi
done
if [ -n "$stale" ]; then
    {
        cpio_dir bin
        cpio_file bin/busybox "$out/busybox"
        # The applets /init uses (others: `busybox APPLET`).
        for applet in sh mount poweroff; do
            cpio_symlink "bin/$applet" busybox
        done
        cpio_file bin/linux-peer "$peer"
        cpio_file init "$here/init"
        cpio_dir dev
        # The kernel opens it as init's stdin, stdout and stderr before /init starts.
        cpio_chardev dev/console 5 1
        cpio_dir proc
        cpio_dir sys
        cpio_header 'TRAILER!!!' 0 0
    } >"$cpio.tmp"
    mv "$cpio.tmp" "$cpio"
fi

printf 'linux-peer: %s %s\n' "$out/vmlinuz" "$cpio" >&2
