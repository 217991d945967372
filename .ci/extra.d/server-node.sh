#!/usr/bin/env bash
# The server's end-to-end test: a real `dseek serve` driven by the official
# openai and @anthropic-ai/sdk npm packages (server/testdata/node/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash server/testdata/node/run.sh
