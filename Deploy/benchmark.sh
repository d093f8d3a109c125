#!/usr/bin/env bash
# Builds the benchmarks in release mode and runs them. Prints figures (latency percentiles,
# allocations per operation, throughput against its bound, CPU per lookup, memory); asserts nothing.
#   Deploy/benchmark.sh                     every benchmark
#   Deploy/benchmark.sh smsp-messages ...   one, with its options (see cpis-bench help)
# The worker and front-door benchmarks run `cpis worker` (and `cpis front-door`) against a throwaway
# RabbitMQ node of their own (ports 5702/5701, data in a temporary folder), stopped whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
Deploy/install-dependencies.sh
swift build -c release --product cpis-bench
swift build -c release --product cpis
bin=$(swift build -c release --show-bin-path)
Deploy/generate-certificates.sh .local/certs >/dev/null

broker_dir=
# Stops the throwaway broker, if one is running, and removes its data.
stop_broker() {
    [[ -n $broker_dir ]] || return 0
    Deploy/local-broker.sh stop "$broker_dir" >/dev/null 2>&1 || true
    rm -rf "$broker_dir"
    broker_dir=
}
finish() {
    status=$?
    stop_broker
    exit $status
}
trap finish EXIT
trap 'exit 130' INT TERM

run() {
    case $1 in
    smsp-messages)
        # The allocation counter slows every malloc: preload it only where allocations are reported.
        LD_PRELOAD="$bin/libMallocInterposerSwift.so" "$bin/cpis-bench" "$@" ;;
    worker|front-door)
        export CPIS_BROKER_PORT=${CPIS_BENCH_BROKER_PORT:-5702} CPIS_BROKER_TLS_PORT=${CPIS_BENCH_BROKER_TLS_PORT:-5701}
        broker_dir=$(mktemp -d "${TMPDIR:-/tmp}/cpis-bench-broker.XXXXXX")
        Deploy/local-broker.sh start "$broker_dir" >/dev/null
        # shellcheck source=/dev/null
        source "$broker_dir/env"
        "$bin/cpis-bench" "$@" --broker-pid "$(cat "$broker_dir/rabbitmq.pid")"
        # Stopped here, not only on exit: the next benchmark starts its own node on the same ports.
        stop_broker ;;
    *)
        "$bin/cpis-bench" "$@" ;;
    esac
}
if (( $# > 0 )); then
    run "$@"
else
    echo "== SMSP messages"; run smsp-messages
    echo "== SMSP simulator"; run simulator
    echo "== Worker"; run worker
    echo "== SMSP front door"; run front-door
fi
