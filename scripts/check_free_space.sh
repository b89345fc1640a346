#!/usr/bin/env bash
# Refuse to start a job that needs NEED_GIB of free disk under DIR when the disk there has less, before the job
# half-fills it (pip's "No space left on device" comes minutes in, after a partial .venv):
#   bash scripts/check_free_space.sh DIR NEED_GIB WHAT
# Exit 0 when there is room (or NEED_GIB is 0: the check is off), 1 with a message naming DIR, the free and
# needed space and how to make room, 2 on bad arguments. `make install` calls it for the venv's folder and pip's
# temporary folder (INSTALL_GIB, TMP_GIB in the Makefile).
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: check_free_space.sh DIR NEED_GIB WHAT (got $# arguments)" >&2; exit 2; }
dir=$1 need=$2 what=$3
case $need in ''|*[!0-9]*) echo "check_free_space.sh: NEED_GIB must be a whole number of GiB, not '$need'" >&2; exit 2 ;; esac
[ "$need" -eq 0 ] && exit 0
# The nearest existing folder at or above DIR (the venv's folder may not exist yet).
probe=$dir
while [ ! -d "$probe" ]; do probe=$(dirname "$probe"); done
free_kib=$(df -Pk "$probe" | awk 'NR == 2 {print $4}')
[ -n "$free_kib" ] || { echo "check_free_space.sh: could not read the free space of $probe (df -Pk)" >&2; exit 2; }
free_gib=$((free_kib / 1048576))
if [ "$free_gib" -lt "$need" ]; then
  echo "$what needs about $need GiB free under $dir, but its disk has $free_gib GiB free." \
    "Make room (e.g. delete old clones' .venv folders or stale temporary folders) or point it at a larger disk;" \
    "to skip this check, set the size named above to 0 (e.g. make install INSTALL_GIB=0)." >&2
  exit 1
fi
