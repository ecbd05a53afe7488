#!/usr/bin/env bash
# Writes a whole SD card image holding the files of a directory, without root:
#
#   tools/sdcard/image.sh DIR IMAGE
#
# IMAGE gets an MBR (DOS) partition table with one bootable FAT32 partition (type 0x0c,
# label HOTSLAB) from 1 MiB to the end, and DIR's files and directories copied into its
# root. The image is 256 MiB, a power of two as QEMU's SD card model demands, and
# sparse. The table is written by sfdisk, the file system by mkfs.vfat on a partition
# file that mtools (mmd, mcopy) fill and that is then written into the image at its
# offset. fsck.fat checks the partition, every file is read back and compared, and
# sfdisk reads the table back; any complaint is an error. Needs fdisk, dosfstools and
# mtools (tools/setup.sh installs them).
set -euo pipefail
# sfdisk, mkfs.vfat and fsck.fat live in /usr/sbin, which a user's PATH may leave out.
export PATH="$PATH:/usr/sbin:/sbin"

die() { printf 'image: error: %s\n' "$1" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: $0 DIR IMAGE"
dir=$1 image=$2
[ -d "$dir" ] || die "no directory $dir"
for tool in sfdisk mkfs.vfat fsck.fat mmd mcopy; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "no $tool: install fdisk, dosfstools and mtools (tools/setup.sh does)"
done

image_mib=256       # the whole card
start_mib=1         # the partition's first byte, aligned for any card's erase blocks
part_mib=$((image_mib - start_mib))
sector=512
start_sectors=$((start_mib * 1024 * 1024 / sector))
part_sectors=$((part_mib * 1024 * 1024 / sector))

other=$(find "$dir" ! -type f ! -type d | head -n3)
[ -z "$other" ] || die "$dir holds what is neither a file nor a directory: $other"
used=$(du -s --block-size=1 --apparent-size "$dir" | cut -f1)
# Leave room for the FATs and the directories (about 4 MiB at this size).
[ "$used" -lt $(((part_mib - 8) * 1024 * 1024)) ] ||
    die "$dir holds $used bytes: more than a $part_mib MiB partition takes"

out=$(cd "$(dirname "$image")" && pwd)
tmp=$(mktemp -d "$out/.image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
part=$tmp/part.img
img=$tmp/card.img

# mtools checks a disk's geometry unless told not to: the partition file has none.
export MTOOLS_SKIP_CHECK=1

# The file system: FAT32 whatever the size, the partition's offset as its hidden sectors.
truncate -s "$((part_sectors * sector))" "$part"
mkfs.vfat -F 32 -n HOTSLAB -h "$start_sectors" "$part" >/dev/null

# Directories first (parents before children), then every file.
(cd "$dir" && find . -mindepth 1 -type d | sort) | while read -r d; do
    mmd -i "$part" "::${d#.}"
done
(cd "$dir" && find . -type f | sort) | while read -r f; do
    mcopy -i "$part" -m "$dir/${f#./}" "::${f#.}"
done

fsck_out=$(fsck.fat -n "$part" 2>&1) || die "fsck.fat -n finds the partition faulty:
$fsck_out"

# Read every file back and compare it with what was copied.
mkdir "$tmp/back"
mcopy -i "$part" -s -n "::/*" "$tmp/back/"
diff -r "$dir" "$tmp/back" >"$tmp/diff" 2>&1 ||
    die "the partition does not hold what $dir holds: $(head -n5 "$tmp/diff")"
rm -rf "$tmp/back"

# The table, then the partition at its offset; the image stays sparse.
truncate -s "$((image_mib * 1024 * 1024))" "$img"
printf 'label: dos\nunit: sectors\nstart=%d, size=%d, type=c, bootable\n' \
    "$start_sectors" "$part_sectors" | sfdisk --quiet "$img"
dd if="$part" of="$img" bs=1M seek="$start_mib" conv=notrunc,sparse status=none
table=$(sfdisk --dump "$img")
parts=$(sed -n 's/^.* : //p' <<<"$table" | tr -s ' ')
if ! grep -qx 'label: dos' <<<"$table" ||
    [ "$parts" != "start= $start_sectors, size= $part_sectors, type=c, bootable" ]; then
    die "sfdisk reads back another table than was written:
$table"
fi

mv "$img" "$image"
printf 'image: %s: %d MiB, one FAT32 partition (%d MiB at %d MiB), %d file(s), fsck.fat clean\n' \
    "$image" "$image_mib" "$part_mib" "$start_mib" "$(find "$dir" -type f | wc -l)" >&2
