#!/usr/bin/env bash
# kernels: the portable Go kernels (-tags noasm) pass the same tests,
# including the end-to-end goldens; the differential fuzz target runs a
# fixed count; and the generated AVX2 assembly is what its avo generator
# (kernels/_asm, its own module) writes today.
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "-- go test -tags noasm"
go test -tags noasm ./kernels/... ./internal/impl/... ./quant/...
go test -tags noasm ./engine -run 'TestGoldenDSRef|TestGoldenLlamaCpp'
echo "-- FuzzMatMul"
go test ./kernels -run '^$' -fuzz '^FuzzMatMul$' -fuzztime 3000x
echo "-- generated assembly is current"
(cd kernels/_asm && go run . -out ../kernels_amd64.s -stubs ../kernels_amd64_stubs.go -pkg kernels)
git diff --exit-code -- kernels/kernels_amd64.s kernels/kernels_amd64_stubs.go
