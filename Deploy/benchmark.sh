#!/usr/bin/env bash
# Builds the benchmarks in release mode and runs them with the allocation counter preloaded.
# Prints figures (latency percentiles, allocations per operation); asserts nothing.
#   Deploy/benchmark.sh                     every benchmark
#   Deploy/benchmark.sh smsp-messages ...   one, with its options (see cpis-bench help)
set -euo pipefail
cd "$(dirname "$0")/.."
Deploy/install-dependencies.sh
swift build -c release --product cpis-bench
bin=$(swift build -c release --show-bin-path)
# The allocation counter slows every malloc: preload it only where allocations are reported.
run() {
    if [[ $1 == smsp-messages ]]; then
        LD_PRELOAD="$bin/libMallocInterposerSwift.so" "$bin/cpis-bench" "$@"
    else
        "$bin/cpis-bench" "$@"
    fi
}
if (( $# > 0 )); then
    run "$@"
else
    echo "== SMSP messages"; run smsp-messages
    Deploy/generate-certificates.sh .local/certs >/dev/null
    echo "== SMSP simulator"; run simulator
fi
