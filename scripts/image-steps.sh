#!/usr/bin/env bash
# Runs the Dockerfile's build steps without a Docker engine (none runs on this project's machines), in a
# fresh clone, and checks the result as the image would run it: an unprivileged user, nothing writable
# under the app, the CLI bundle and the console prebuilt, the native SQLite addon working.
# Not part of `npm test` (it installs everything again: minutes). Usage: scripts/image-steps.sh (as root).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill -- "-$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
git clone -q "$repo" "$work/app"
cd "$work/app"
# --- the build stage's RUN lines -----------------------------------------------------------------
npm ci --no-audit --no-fund
AIRLOCK_UI_CACHE="$work/ui-cache" node bin/ui.js && mv "$work"/ui-cache/ui-* "$work/app/console"
npm prune --omit=dev --no-audit --no-fund && rm -rf node_modules/.cache
# --- the final stage's RUN line (same Node here, so the bundle's fingerprint holds) ---------------
node bin/compiled.js
# --- run it as the image does ----------------------------------------------------------------------
chmod 755 "$work" && chmod -R a+rX,go-w "$work/app"
mkdir -p "$work/data" && chown nobody "$work/data"
as_image() { runuser -u nobody -- env PATH=/usr/bin:/bin NODE_ENV=production AIRLOCK_UI_DIR="$work/app/console" AIRLOCK_DATA_DIR="$work/data" "$@"; }
bundles_before="$(ls node_modules/.cache/airlock)"
as_image node bin/airlock.js --version
as_image node bin/airlock.js webhook serve --help >/dev/null
as_image node bin/airlock.js agent --help >/dev/null
port=18$((RANDOM % 900 + 100))
setsid runuser -u nobody -- env PATH=/usr/bin:/bin NODE_ENV=production AIRLOCK_UI_DIR="$work/app/console" AIRLOCK_DATA_DIR="$work/data" \
  AIRLOCK_PORT="$port" node bin/airlock.js serve >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 60); do grep -q 'airlock is serving' "$work/serve.log" && break; sleep 0.5; done
[[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" == 200 ]] || { cat "$work/serve.log"; echo 'FAIL: the console is not served' >&2; exit 1; }
token="$(cat "$work/data/admin-token")"
curl -sf -X POST -H "authorization: Bearer $token" -H 'content-type: application/json' "http://127.0.0.1:$port/api/v1/clusters" \
  -d '{"name":"image-check","cloud":"aws","region":"us-east-1"}' >/dev/null || { echo 'FAIL: the API could not create a cluster' >&2; exit 1; }
[[ "$(ls node_modules/.cache/airlock)" == "$bundles_before" ]] || { echo 'FAIL: the CLI bundle was rebuilt at run time' >&2; exit 1; }
echo 'ok: the image steps build an app that runs unprivileged, read-only, with its console and CLI bundle'
