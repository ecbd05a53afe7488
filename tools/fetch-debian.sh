#!/usr/bin/env bash
# Fetches files out of one of Debian's arm64 packages, as data, on any host with apt:
#
#   tools/fetch-debian.sh [--suite SUITE] [--meta] [--under DIR] PACKAGE COMPONENT DEST PATTERN...
#   tools/fetch-debian.sh [--suite SUITE] --print-pin PACKAGE COMPONENT
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
#
# A package listed in tools/debian-pins is fetched at exactly the version pinned there,
# and its .deb's SHA-256 is checked against the pin before anything is unpacked; a
# mismatch, or a version the archive no longer has, is an error (exit 1) that says what
# to change. --print-pin downloads the suite's current version of PACKAGE and prints
# its line for tools/debian-pins. Other packages are fetched at the version the suite has
# (or the one already in build/debian/debs/).
set -euo pipefail

die() { printf 'fetch-debian: %s\n' "$1" >&2; exit "${2:-1}"; }
usage="usage: $0 [--suite SUITE] [--meta] [--under DIR] PACKAGE COMPONENT DEST PATTERN...
       $0 [--suite SUITE] --print-pin PACKAGE COMPONENT"
meta='' under='' suite=bookworm print_pin=''
while [ $# -gt 0 ]; do
    case "$1" in
        --suite) suite=${2:?--suite needs a suite}; shift 2 ;;
        --meta) meta=1; shift ;;
        --under) under=${2:?--under needs a directory}; shift 2 ;;
        --print-pin) print_pin=1; shift ;;
        -*) die "unknown option $1
$usage" 2 ;;
        *) break ;;
    esac
done
if [ -n "$print_pin" ]; then
    if [ $# -ne 2 ] || [ -n "$meta$under" ]; then die "$usage" 2; fi
    package=$1 component=$2
else
    [ $# -ge 4 ] || die "$usage" 2
    package=$1 component=$2 dest=$3
    shift 3
fi

command -v apt-get >/dev/null 2>&1 || die "no apt-get on this host: cannot fetch $package" 3
command -v dpkg-deb >/dev/null 2>&1 || die "no dpkg-deb on this host: cannot unpack $package" 3
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || die "no Debian archive keyring at $keyring: cannot check $package" 3

tools=$(cd "$(dirname "$0")" && pwd)
pins=$tools/debian-pins
root=$(dirname "$tools")/build/debian
state=$root/apt/$suite/$component
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$root/debs"
echo "deb [signed-by=$keyring] http://deb.debian.org/debian $suite $component" >"$state/sources.list"
apt=(apt-get -q
    -o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache"
    -o Dir::State::status=/dev/null -o Debug::NoLocking=1
    -o APT::Architecture=arm64 -o APT::Architectures::=arm64
    -o APT::Sandbox::User="$(id -un)")
apt_cache=("${apt[@]/apt-get/apt-cache}")
updated=
update_lists() {
    "${apt[@]}" update >/dev/null 2>"$state/update.err" ||
        die "apt-get update failed (no network?): $(tail -n1 "$state/update.err")" 3
    touch "$state/lists/.updated"
    updated=1
}
if [ ! -e "$state/lists/.updated" ] || [ -n "$(find "$state/lists/.updated" -mtime +1)" ]; then
    update_lists
fi
# The versions of a package that the suite's lists have, one a line, as apt-cache madison lists them.
versions() {
    "${apt_cache[@]}" madison "$1" 2>/dev/null | awk -F' *[|] *' '{ print $2 }'
}
# Whether the lists have $real at $version ('apt-cache show P=V' succeeds either way).
has_version() { versions "$real" | grep -xF "$version" >/dev/null; }

real=$package
if [ -n "$meta" ]; then
    real=$("${apt_cache[@]}" depends "$package" 2>/dev/null |
        sed -n 's/^ *Depends: \([^:<>]*\).*/\1/p' | head -n1)
    [ -n "$real" ] || die "cannot resolve metapackage $package" 3
fi

# The line of $real in tools/debian-pins, if it has one.
pin=
if [ -z "$print_pin" ] && [ -r "$pins" ]; then
    pin=$(awk -v p="$real" '$1 == p { print; exit }' "$pins")
fi
if [ -n "$print_pin" ]; then
    version=$(versions "$real" | sed -n 1p)
    [ -n "$version" ] || die "$suite $component has no package $real"
elif [ -n "$pin" ]; then
    read -r _ version sha256 extra <<<"$pin"
    if ! [[ "$sha256" =~ ^[0-9a-f]{64}$ ]] || [ -n "$extra" ]; then
        die "tools/debian-pins: the line for $real must be PACKAGE VERSION SHA256 (64 lower-case hex digits), not '$pin'"
    fi
fi

debs=$root/debs
# The cached .deb of exactly $real $version, whichever other versions the cache holds.
cached_deb() {
    local f
    for f in "$debs/${real}"_*.deb; do
        [ -f "$f" ] || continue
        if [ "$(dpkg-deb -f "$f" Package Version 2>/dev/null | sed 's/^[A-Za-z]*: //' | paste -sd' ' -)" = \
             "$real $version" ]; then
            echo "$f"
            return
        fi
    done
}
deb=
if [ -n "$pin" ] || [ -n "$print_pin" ]; then
    deb=$(cached_deb)
    if [ -z "$deb" ]; then
        if ! has_version && [ -z "$updated" ]; then
            update_lists    # a pin newer than our lists
        fi
        if ! has_version; then
            now=$(versions "$real" | paste -sd, - | sed 's/,/, /g')
            die "tools/debian-pins pins $real $version, which Debian's $suite $component no longer has; it has ${now:-no version of $real} now. Update $real's line in tools/debian-pins: 'tools/fetch-debian.sh --print-pin $real $component' prints the new one"
        fi
        (cd "$debs" && "${apt[@]}" download "$real=$version" >/dev/null 2>"$state/download.err") ||
            die "apt-get download $real=$version failed: $(tail -n1 "$state/download.err")" 3
        deb=$(cached_deb)
        [ -n "$deb" ] || die "apt-get download $real=$version left no such .deb in $debs"
    fi
    actual=$(sha256sum "$deb" | cut -d' ' -f1)
    if [ -n "$print_pin" ]; then
        printf '%s %s %s\n' "$real" "$version" "$actual"
        exit 0
    fi
    if [ "$actual" != "$sha256" ]; then
        rm -f "$deb"
        die "$real $version: $(basename "$deb") has SHA-256 $actual, but tools/debian-pins expects $sha256 (the file was removed from $debs; if Debian's file is right, update the pin: 'tools/fetch-debian.sh --print-pin $real $component')"
    fi
else
    deb=$(ls "$debs/${real}"_*_*.deb 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ]; then
        (cd "$debs" && "${apt[@]}" download "$real" >/dev/null 2>"$state/download.err") ||
            die "apt-get download $real failed: $(tail -n1 "$state/download.err")" 3
        deb=$(ls "$debs/${real}"_*_*.deb | head -n1)
    fi
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
    printf 'fetch-debian: %s from %s%s\n' "$(cd "$tmp" && find . -type f -printf '%f ' )" \
        "$(basename "$deb")" "${pin:+ (pinned, SHA-256 checked)}" >&2
fi
