#!/usr/bin/env bash
# Fuzzes HTTPDecoder with libFuzzer for SECONDS (default 60).
# Usage: scripts/fuzz-http.sh [SECONDS]
# Builds .build/fuzz/http-decoder-fuzz with swiftc -sanitize=fuzzer,address from the decoder's own
# sources (they import nothing but the standard library), then runs it seeded by the committed
# Fuzz/corpus/http; new inputs go to .build/fuzz/corpus, crashes to .build/fuzz/crash-*.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
out=.build/fuzz
mkdir -p "$out/corpus"
src=Sources/JobsdHTTP
swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
    -module-name HTTPDecoderFuzz \
    "$src/ASCII.swift" "$src/HTTPVersion.swift" "$src/HTTPHeaders.swift" "$src/HTTPDecodeError.swift" \
    "$src/HTTPRequest.swift" "$src/HTTPRequestTarget.swift" "$src/HTTPDecoder.swift" "$src/HTTPDecoder+Head.swift" \
    Fuzz/HTTPDecoderFuzz/main.swift -o "$out/http-decoder-fuzz"
export SWIFT_BACKTRACE=enable=no
exec "$out/http-decoder-fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -artifact_prefix="$out/" -print_final_stats=1 "$out/corpus" Fuzz/corpus/http
