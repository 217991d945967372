#!/usr/bin/env bash
# Builds dseek, starts `dseek serve` on a loopback port with the qwen2-tiny
# fixture (DeepSeek-R1 chat template, DeepSeek FIM tokens), runs the Node
# tests (official openai and @anthropic-ai/sdk clients) against it, and
# stops the server with SIGTERM, checking that it drains and exits 0.
# Needs node >= 20, npm and go; the fixtures at ../shared/fixtures (or
# $DSEEK_FIXTURES). Called by .ci/extra.d/server-node.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
fixtures="${DSEEK_FIXTURES:-$root/../shared/fixtures}"
model="$fixtures/models/qwen2-tiny-Q4_K_M.gguf"
work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cp "$here"/package.json "$here"/package-lock.json "$here"/*.test.mjs "$work"/
(cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
(cd "$root" && go build -o "$work/dseek" ./cmd/dseek)

"$work/dseek" serve -m "$model" --addr 127.0.0.1:0 -c 4096 --parallel 4 \
  --api-key node-test-key --model-name qwen2-tiny --cache-dir "$work/cache" >"$work/serve.log" 2>&1 &
pid=$!
url=""
for _ in $(seq 1 600); do
  url="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/serve.log" | head -1 || true)"
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log"; echo "dseek serve exited"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/serve.log"; echo "dseek serve did not start"; exit 1; }

status=0
(cd "$work" && DSEEK_URL="$url" DSEEK_API_KEY=node-test-key DSEEK_MODEL=qwen2-tiny \
  node --test openai.test.mjs anthropic.test.mjs) || status=$?

kill -TERM "$pid"
if ! wait "$pid"; then echo "dseek serve did not exit cleanly"; cat "$work/serve.log"; status=1; fi
pid=""
ls "$work/cache"/prefix-*.dskv >/dev/null || { echo "no prefix cache saved at shutdown"; status=1; }
exit "$status"
