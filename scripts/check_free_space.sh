#!/usr/bin/env bash
# Refuse to start a job that needs NEED_GIB of free disk under DIR when the disk there has less, before the job
# half-fills it (pip's "No space left on device" comes minutes in, after a partial .venv):
#   bash scripts/check_free_space.sh DIR NEED_GIB WHAT HOW_TO_FIX
# Exit 0 when there is room (or NEED_GIB is 0: the check is off); 1 with a message naming WHAT, the folder, its
# disk, the free and needed space and HOW_TO_FIX; 2 on bad arguments or a disk whose free space cannot be read.
# `make install` calls it for a new venv's folder and for pip's temporary folder (INSTALL_GIB, TMP_GIB).
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: check_free_space.sh DIR NEED_GIB WHAT HOW_TO_FIX (got $# arguments)" >&2; exit 2; }
dir=$1 need=$2 what=$3 fix=$4
case $need in ''|*[!0-9]*) echo "check_free_space.sh: NEED_GIB must be a whole number of GiB, not '$need'" >&2; exit 2 ;; esac
[ "${#need}" -le 9 ] || { echo "check_free_space.sh: NEED_GIB $need is not a plausible size in GiB" >&2; exit 2; }
[ "$need" -eq 0 ] && exit 0
# The nearest existing folder at or above DIR (the venv's folder may not exist yet).
probe=$dir
while [ ! -d "$probe" ]; do probe=$(dirname -- "$probe"); done
probe=$(cd -- "$probe" && pwd -P)
# POSIX df output: one header line, then one line per disk; the last two fields are the capacity and the mount point,
# and the available KiB the one before the capacity (counted from the end: a device name may hold spaces).
if ! report=$(df -Pk -- "$probe" 2>&1); then
  echo "check_free_space.sh: could not read the free space of $probe: df -Pk said: $report" >&2; exit 2
fi
line=$(printf '%s\n' "$report" | sed -n 2p)
free_kib=$(awk '{print $(NF - 2)}' <<< "$line")
mount=$(awk '{print $NF}' <<< "$line")
case $free_kib in ''|*[!0-9]*)
  echo "check_free_space.sh: could not read the free space of $probe from df -Pk's line '$line'" >&2; exit 2 ;;
esac
free_gib=$((free_kib / 1048576))
if [ "$free_gib" -lt "$need" ]; then
  echo "$what needs about $need GiB free for $dir, but the disk holding $probe (mounted at $mount) has $free_gib GiB" \
    "free." \
    "Make room (e.g. delete old clones' .venv folders or stale temporary folders), or $fix." >&2
  exit 1
fi
