#!/usr/bin/env bash
# Installs the npm packages listed in deps/npm.txt ("FOLDER: npm ci"), from
# each folder's package-lock.json, when the folder has no node_modules yet or
# when one it lists is missing (a package added since: `npm ls` says so).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
fi
while IFS=: read -r dir cmd; do
    case "$dir" in '' | \#*) continue ;; esac
    # installed already, with every package the lock names (a lock that
    # gained a package, as when the tree-sitter runtime or axe-core was
    # added, installs again) and nothing npm ls finds missing
    if [ -d "$dir/node_modules" ] && (cd "$dir" && npm ls --depth=0 >/dev/null 2>&1) &&
        cmp -s <(grep -o '"node_modules/[^"]*"' "$dir/package-lock.json" | sort) \
            <(grep -o '"node_modules/[^"]*"' "$dir/node_modules/.package-lock.json" 2>/dev/null | sort); then
        continue
    fi
    echo "npm: $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
done <deps/npm.txt
