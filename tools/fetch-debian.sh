#!/usr/bin/env bash
# Fetches files out of one of Debian's arm64 packages, as data, on any host with apt:
#
#   tools/fetch-debian.sh [--suite SUITE] [--meta] [--under DIR] PACKAGE COMPONENT DEST PATTERN...
#
# Packages come from SUITE alone (bookworm unless given; bookworm-backports has Linux
# 6.12), its lists checked against Debian's archive key. With --meta, PACKAGE is a
# metapackage and its first dependency is fetched instead (linux-image-arm64 ->
# linux-image-6.1.0-N-arm64 in bookworm). Each file matching a shell PATTERN
# (e.g. '*/bcm2711-rpi-4-b.dtb') is copied flat into DEST; with --under DIR (a shell
# pattern for a directory of the package, e.g. 'usr/lib/linux-image-*'), with its path
# below DIR kept. apt runs on private state under
# build/debian/, so the host's apt configuration is neither needed nor changed, and no root
# is needed. Exits 3, saying why, when apt or the network is not there.
set -euo pipefail

die() { printf 'fetch-debian: %s\n' "$*" >&2; exit "${2:-1}"; }
meta= under= suite=bookworm
while [ $# -gt 0 ]; do
    case "$1" in
        --suite) suite=${2:?--suite needs a suite}; shift 2 ;;
        --meta) meta=1; shift ;;
        --under) under=${2:?--under needs a directory}; shift 2 ;;
        *) break ;;
    esac
done
[ $# -ge 4 ] || die "usage: $0 [--suite SUITE] [--meta] [--under DIR] PACKAGE COMPONENT DEST PATTERN..." 2
package=$1 component=$2 dest=$3
shift 3

command -v apt-get >/dev/null 2>&1 || die "no apt-get on this host: cannot fetch $package" 3
command -v dpkg-deb >/dev/null 2>&1 || die "no dpkg-deb on this host: cannot unpack $package" 3
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || die "no Debian archive keyring at $keyring: cannot check $package" 3

root=$(cd "$(dirname "$0")/.." && pwd)/build/debian
state=$root/apt/$suite/$component
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$root/debs"
echo "deb [signed-by=$keyring] http://deb.debian.org/debian $suite $component" >"$state/sources.list"
apt=(apt-get -q
    -o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache"
    -o Dir::State::status=/dev/null -o Debug::NoLocking=1
    -o APT::Architecture=arm64 -o APT::Architectures::=arm64
    -o APT::Sandbox::User="$(id -un)")
if [ ! -e "$state/lists/.updated" ] || [ -n "$(find "$state/lists/.updated" -mtime +1)" ]; then
    "${apt[@]}" update >/dev/null 2>"$state/update.err" ||
        die "apt-get update failed (no network?): $(tail -n1 "$state/update.err")" 3
    touch "$state/lists/.updated"
fi

real=$package
if [ -n "$meta" ]; then
    real=$("${apt[@]/apt-get/apt-cache}" depends "$package" 2>/dev/null |
        sed -n 's/^ *Depends: \([^:<>]*\).*/\1/p' | head -n1)
    [ -n "$real" ] || die "cannot resolve metapackage $package" 3
fi

debs=$root/debs
deb=$(ls "$debs/${real}"_*_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
    (cd "$debs" && "${apt[@]}" download "$real" >/dev/null 2>"$state/download.err") ||
        die "apt-get download $real failed: $(tail -n1 "$state/download.err")" 3
    deb=$(ls "$debs/${real}"_*_*.deb | head -n1)
fi

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards "${@/#/.\/}" 2>/dev/null ||
    die "$(basename "$deb") holds none of: $*"
if [ -n "$under" ]; then
    # shellcheck disable=SC2086 # the pattern is meant to expand
    top=$(cd "$tmp" && ls -d $under 2>/dev/null | head -n1)
    [ -n "$top" ] || die "$(basename "$deb") has no directory $under"
    (cd "$tmp/$top" && find . -type f -exec cp --parents {} "$dest"/ \;)
    printf 'fetch-debian: %s file(s) under %s from %s\n' "$(find "$tmp/$top" -type f | wc -l)" \
        "$top" "$(basename "$deb")" >&2
else
    find "$tmp" -type f -exec cp {} "$dest"/ \;
    printf 'fetch-debian: %s from %s\n' "$(cd "$tmp" && find . -type f -printf '%f ' )" "$(basename "$deb")" >&2
fi
