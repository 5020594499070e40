#!/usr/bin/env bash
# Real recorded speech for training and evaluation, from Debian's package tuxpaint-stamps-default
# (GPL-2+): spoken descriptions of the stamps, 44.1 kHz stereo Ogg Vorbis, real content up to 17-20 kHz.
#   scripts/fetch_speech.sh DEST
#     DEST/train/  734 clips, one Spanish female speaker, about 21 minutes
#     DEST/eval/    90 clips, a Russian male and a Belarusian female speaker (not in train), about 3 minutes
# The clips are the ones listed in scripts/speech-{train,eval}.txt (paths in the package), named after
# their path; the package holds some recordings several times under different names, and such
# byte-identical copies are dropped (the first name, in sorted order, is kept). The clips stay as
# shipped: reading and resampling them is the loader's job. Works on Debian and Ubuntu (Colab too);
# it downloads the package file once (about 160 MB) and installs nothing. Running it again rebuilds
# DEST/train and DEST/eval from the downloaded package.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: scripts/fetch_speech.sh DEST}
mkdir -p "$dest/.deb"
dest=$(cd "$dest" && pwd)
cd "$dest/.deb"
if ! ls tuxpaint-stamps-default_*.deb >/dev/null 2>&1; then
  apt-get download tuxpaint-stamps-default 2>/dev/null || {
    echo "apt-get download failed; refreshing the package lists (needs root)" >&2
    apt-get update -qq && apt-get download tuxpaint-stamps-default
  }
fi
[ -d unpacked ] || dpkg-deb -x tuxpaint-stamps-default_*.deb unpacked
declare -A seen=()  # md5 -> the clip kept, across both splits
for split in train eval; do
  fresh="$dest/.$split.new"
  rm -rf "$fresh" && mkdir -p "$fresh"
  kept=0 dropped=0
  while read -r path; do
    [ -n "$path" ] || continue
    name=${path#/usr/share/tuxpaint/stamps/}
    name=${name//\//_}
    sum=$(md5sum < "unpacked$path" | cut -c1-32)
    if [ -n "${seen[$sum]:-}" ]; then
      dropped=$((dropped + 1))
      continue
    fi
    seen[$sum]=$name
    cp "unpacked$path" "$fresh/$name"
    kept=$((kept + 1))
  done < <(sort "$here/speech-$split.txt")
  rm -rf "${dest:?}/$split" && mv "$fresh" "$dest/$split"
  note=""
  ((dropped == 0)) || note=" ($dropped byte-identical copies dropped)"
  echo "$split: $kept clips in $dest/$split$note"
done
