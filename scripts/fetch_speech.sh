#!/usr/bin/env bash
# Real recorded speech for a first run, from Debian's tuxpaint-stamps-default package (GPL-2+; spoken
# descriptions, 44.1 kHz Ogg Vorbis, stereo). Works on Debian and Ubuntu (Colab included); about 160 MB.
#   scripts/fetch_speech.sh DEST
#     DEST/train/  the Spanish descriptions (one female speaker, ~890 clips, ~25 min)
#     DEST/eval/   48 Russian and Belarusian descriptions (two other speakers)
set -euo pipefail
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
stamps=unpacked/usr/share/tuxpaint/stamps
mkdir -p "$dest/train" "$dest/eval"
copy() {  # copy stamps/a/b/c.ogg to $1/a_b_c.ogg (names repeat across folders)
  while read -r f; do
    name=${f#"$stamps"/}
    cp -n "$f" "$1/${name//\//_}"
  done
}
find "$stamps" -name '*_desc_es.ogg' | sort | copy "$dest/train"
{ find "$stamps" -name '*_desc_ru.ogg' | sort | sed -n '1,24p'
  find "$stamps" -name '*_desc_be.ogg' | sort | sed -n '1,24p'; } | copy "$dest/eval"
echo "train: $(ls "$dest/train" | wc -l) clips, eval: $(ls "$dest/eval" | wc -l) clips in $dest"
