#!/usr/bin/env bash
# Runs every test: lint checks, C unit tests, fuzz smoke runs, the unit and
# integration tests under ASan+UBSan, the auth tests again with users in
# PostgreSQL and state in Redis, then the integration tests against the
# release build. The last line printed is pytest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
PY=/usr/bin/python3

echo "== lint"
scripts/lint.sh "$BUILD"

echo "== unit tests"
meson test -C "$BUILD" --suite unit --print-errorlogs

echo "== fuzz smoke"
scripts/fuzz.sh

echo "== Debian package (the install tests unpack it)"
MOAT_DEB="$(pwd)/$(scripts/deb.sh | tail -1)"
export MOAT_DEB

echo "== ASan+UBSan: unit and integration"
scripts/asan.sh

echo "== auth tests with users in PostgreSQL and state in Redis (issue 15)"
MOAT_TEST_STORE=redis+pg MOAT_BUILD="$(pwd)/$BUILD" $PY -m pytest -q -p no:cacheprovider \
    tests/integration/test_auth_gateway.py tests/integration/test_auth_hashes.py \
    tests/integration/test_auth_limiter.py tests/integration/test_auth_portal.py \
    tests/integration/test_portal_role_mfa.py tests/integration/test_user_cli.py \
    tests/integration/test_rate_limit.py tests/integration/test_bans.py

echo "== integration"
MOAT_BUILD="$(pwd)/$BUILD" $PY -m pytest tests/integration -q -p no:cacheprovider
