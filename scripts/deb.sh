#!/usr/bin/env bash
# Builds the Debian package from debian/ in a copy of the working tree
# (build-deb/src), so dpkg-buildpackage writes nothing outside build-deb/.
# Prints the path of the .deb. The test suite is not run here (make test).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build-deb
rm -rf "$out"
mkdir -p "$out/src"
# the working tree less build output, VCS data and the browser tests' npm
# modules; -h copies the tree-sitter grammar even where it is a symlink
tar -ch --exclude=./.git --exclude='./build' --exclude='./build-*' \
    --exclude=./tests/browser/node_modules -f - . | tar -x -C "$out/src"
(cd "$out/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
    dpkg-buildpackage -us -uc -b >../dpkg-buildpackage.log 2>&1) ||
    { tail -40 "$out/dpkg-buildpackage.log"; exit 1; }
ls "$out"/moat_*.deb
