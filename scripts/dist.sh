#!/usr/bin/env bash
# The client software the portal offers (seed 000, STEP 4): the jpki binary
# built by this project with its README and licence, as
# jpki-VERSION-linux-ARCH.tar.gz in OUTDIR, and its SHA-256 beside it
# (FILE.sha256, sha256sum's form). Put OUTDIR at <data>/portal/download
# and the repository's page lists it with the checksum.
#
# usage: scripts/dist.sh PATH/TO/jpki OUTDIR
set -euo pipefail

jpki=$(realpath "$1")
out=$2
root=$(dirname "$(realpath "$0")")/..
version=$(sed -n 's/^project(openjpki VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
name="jpki-$version-linux-$(uname -m)"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage/$name/bin" "$out"
install -m 0755 "$jpki" "$stage/$name/bin/jpki"
strip "$stage/$name/bin/jpki" 2>/dev/null || true
install -m 0644 "$root/README.md" "$root/LICENSE" "$stage/$name/"
# reproducible: fixed owner, order and times
tar --sort=name --owner=0 --group=0 --numeric-owner \
	--mtime=@"${SOURCE_DATE_EPOCH:-0}" -C "$stage" -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
echo "$out/$name.tar.gz"
