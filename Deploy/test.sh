#!/usr/bin/env bash
# The test command: installs what is missing, starts a throwaway RabbitMQ node (plain and mutual-TLS
# listeners, certificates generated for the run), builds with warnings as errors, runs every test
# against it, and stops the node whatever happened. Extra arguments go to `swift test`
# (e.g. `Deploy/test.sh --filter AMQPClientTests`).
set -euo pipefail
cd "$(dirname "$0")/.."

Deploy/install-dependencies.sh

# Ports of their own, so a local run (5682/5681) or a system broker (5672/5671) can keep running.
export CPIS_BROKER_PORT=${CPIS_TEST_BROKER_PORT:-5692}
export CPIS_BROKER_TLS_PORT=${CPIS_TEST_BROKER_TLS_PORT:-5691}
broker_dir=$(mktemp -d "${TMPDIR:-/tmp}/cpis-test-broker.XXXXXX")
finish() {
    status=$?
    Deploy/local-broker.sh stop "$broker_dir" || true
    if (( status != 0 )) && [[ -d $broker_dir/log ]]; then
        echo "--- broker log (last lines) ---"
        tail -n 30 "$broker_dir"/log/*.log 2>/dev/null || true
    fi
    rm -rf "$broker_dir"
    exit $status
}
trap finish EXIT
trap 'exit 130' INT TERM

Deploy/local-broker.sh start "$broker_dir"
# shellcheck source=/dev/null
source "$broker_dir/env"

swift build --build-tests -Xswiftc -warnings-as-errors
# One test at a time: some tests drop every connection on the broker, which would disturb the others.
swift test --skip-build --no-parallel "$@"
