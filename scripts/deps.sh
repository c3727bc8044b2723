#!/usr/bin/env bash
# Installs the Debian packages listed in the given deps files that are not
# installed yet. Needs root (or sudo) only when something is missing.
set -euo pipefail
missing=()
for f in "$@"; do
    while read -r pkg _; do
        [ -z "$pkg" ] && continue
        case "$pkg" in \#*) continue ;; esac
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done <"$f"
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian starts nginx on install; the benchmarks run their own instances.
if printf '%s\n' "${missing[@]}" | grep -q '^nginx'; then
    (service nginx stop || true) >/dev/null 2>&1
fi
