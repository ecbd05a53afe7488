#!/usr/bin/env bash
# Installs what building, running and testing the kernel needs, and only what is missing:
# the aarch64-unknown-none-softfloat Rust target (and aarch64-unknown-none, for the Linux peer's
# program that make bench runs), qemu-system-arm >= 9 (Debian bookworm-backports on
# bookworm), gdb-multiarch, device-tree-compiler, python3-libfdt, llvm, and for make sdcard's
# card image fdisk, dosfstools and mtools. Says what it does; stops with a clear message
# where it cannot (not root, no apt-get).
set -euo pipefail

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

need_qemu_major=9

qemu_ok() {
    command -v qemu-system-aarch64 >/dev/null 2>&1 || return 1
    local v
    v=$(qemu-system-aarch64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -n1)
    [ -n "$v" ] && [ "$v" -ge "$need_qemu_major" ]
}

# --- Rust target and components -------------------------------------------------------------
if ! command -v rustup >/dev/null 2>&1; then
    die "rustup not found: install Rust with rustup first (https://rustup.rs), then re-run"
fi
# The kernel's target: no FP/SIMD registers in compiled code (src/arch/aarch64/fpsimd.rs).
if ! rustup target list --installed | grep -qx aarch64-unknown-none-softfloat; then
    say "adding Rust target aarch64-unknown-none-softfloat"
    rustup target add aarch64-unknown-none-softfloat
fi
# The Linux peer's measuring program (tools/linux-peer), a static binary for Linux's init.
if ! rustup target list --installed | grep -qx aarch64-unknown-none; then
    say "adding Rust target aarch64-unknown-none"
    rustup target add aarch64-unknown-none
fi
for comp in rustfmt clippy; do
    if ! rustup component list --installed | grep -q "^$comp"; then
        say "adding Rust component $comp"
        rustup component add "$comp"
    fi
done

# --- Debian packages ------------------------------------------------------------------------
missing=()
qemu_ok || missing+=(qemu)
command -v gdb-multiarch >/dev/null 2>&1 || missing+=(gdb-multiarch)
command -v dtc >/dev/null 2>&1 || missing+=(device-tree-compiler)
# libfdt for Python: the independent reading of Linux's device trees (tools/dt-reference).
/usr/bin/python3 -c 'import libfdt' >/dev/null 2>&1 || missing+=(python3-libfdt)
# llvm-objcopy makes the Image; llvm-objdump checks it (tools/check-fpsimd.sh).
command -v llvm-objcopy >/dev/null 2>&1 && command -v llvm-objdump >/dev/null 2>&1 || missing+=(llvm)
# make sdcard's card image (tools/sdcard/image.sh): sfdisk, mkfs.vfat and fsck.fat, mcopy.
# The first three live in /usr/sbin, which a user's PATH may leave out.
sbin_has() { PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1; }
sbin_has sfdisk || missing+=(fdisk)
sbin_has mkfs.vfat && sbin_has fsck.fat || missing+=(dosfstools)
command -v mcopy >/dev/null 2>&1 || missing+=(mtools)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

say "missing: ${missing[*]}"
command -v apt-get >/dev/null 2>&1 || die "no apt-get here: install ${missing[*]} (QEMU >= $need_qemu_major with the raspi4b machine) by hand"
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=sudo
    else
        die "installing ${missing[*]} needs root: run 'sudo tools/setup.sh' once"
    fi
else
    SUDO=
fi

export DEBIAN_FRONTEND=noninteractive
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
qemu_release=()
if [[ " ${missing[*]} " == *" qemu "* ]] && [ "$codename" = bookworm ]; then
    # bookworm's own QEMU is 7.2, which has no raspi4b machine; backports carries 10.x.
    list=/etc/apt/sources.list.d/bookworm-backports.list
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        say "adding Debian bookworm-backports to $list (for QEMU >= $need_qemu_major)"
        echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee "$list" >/dev/null
    fi
    qemu_release=(-t bookworm-backports)
fi

say "apt-get update"
$SUDO apt-get update -qq
pkgs=()
for m in "${missing[@]}"; do
    case "$m" in
        qemu) ;;
        llvm) pkgs+=(llvm) ;;
        *) pkgs+=("$m") ;;
    esac
done
if [ ${#pkgs[@]} -gt 0 ]; then
    say "apt-get install ${pkgs[*]}"
    $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
if [[ " ${missing[*]} " == *" qemu "* ]]; then
    say "apt-get install ${qemu_release[*]} qemu-system-arm"
    $SUDO apt-get install -y -qq --no-install-recommends "${qemu_release[@]}" qemu-system-arm >/dev/null
fi
qemu_ok || die "qemu-system-aarch64 >= $need_qemu_major is still missing after the install"
say "done"
