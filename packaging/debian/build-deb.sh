#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the Debian package: dpkg-buildpackage wants debian/ at the source root,
# so copy the tree (without build directories) to a temporary place, put
# packaging/debian there as ./debian, and build. The .deb lands in OUTDIR
# (default: the current directory). Sources: git HEAD plus the working
# tree's packaging/ (JOULED_DEB_WORKTREE=1: the whole working tree).
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUTDIR=$(cd "${1:-.}" && pwd)
TMP=$(mktemp -d /tmp/jouled-deb-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/jouled-0.1.0"
if [ -d "$SRC/.git" ] && [ -z "${JOULED_DEB_WORKTREE:-}" ]; then
    # The committed tree (HEAD): what a release would be built from.
    git -C "$SRC" archive HEAD | tar -C "$TMP/jouled-0.1.0" -xf -
else
    tar -C "$SRC" --exclude='./build*' --exclude='./.git' --exclude='./debian' --exclude='*.db' --exclude='*.db-*' -cf - . \
        | tar -C "$TMP/jouled-0.1.0" -xf -
fi
rm -rf "$TMP/jouled-0.1.0/packaging"
cp -r "$SRC/packaging" "$TMP/jouled-0.1.0/packaging"
cp -r "$SRC/packaging/debian" "$TMP/jouled-0.1.0/debian"
rm -f "$TMP/jouled-0.1.0/debian/build-deb.sh"
(cd "$TMP/jouled-0.1.0" && dpkg-buildpackage -us -uc -b >"$TMP/build.log" 2>&1) || { tail -40 "$TMP/build.log" >&2; exit 1; }
cp "$TMP"/*.deb "$OUTDIR"/
ls "$OUTDIR"/jouled_*.deb
