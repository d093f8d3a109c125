#!/usr/bin/env bash
# Runs the product on local defaults: installs what is missing, starts a throwaway RabbitMQ node
# (.local/broker), the SMSP simulator over mutual TLS (https://localhost:8443/smsp/cpis), a worker and
# the SMSP front door (https://localhost:9443/smsp/cpis), sends a sample triage lookup over AMQP and a
# sample SMSP query through the front door, and prints their results. Then it keeps running, so you can
# send your own (`.build/debug/cpis lookup --nhs-number "999 000 0042"`, `.build/debug/cpis smsp query
# --nhs-number "999 000 0042"`), until Ctrl-C stops everything it started.
#   Deploy/run-local.sh                    run until Ctrl-C
#   Deploy/run-local.sh --once             stop after the sample lookup
#   Deploy/run-local.sh --upstream spine   the worker as the SMSP itself, asking the simulator as
#                                          Spine's CP-IS (HL7 V3); with --once too
set -euo pipefail
cd "$(dirname "$0")/.."
once=false
upstream=smsp
while (( $# > 0 )); do
    case $1 in
        --once) once=true ;;
        --upstream) upstream=${2:?--upstream smsp|spine}; shift ;;
        *) echo "usage: $0 [--once] [--upstream smsp|spine]" >&2; exit 2 ;;
    esac
    shift
done

Deploy/install-dependencies.sh
swift build --product cpis
cpis=$(swift build --show-bin-path)/cpis

local_dir=$PWD/.local
Deploy/generate-certificates.sh "$local_dir/certs" >/dev/null
broker_dir=$local_dir/broker
Deploy/local-broker.sh stop "$broker_dir" >/dev/null 2>&1 || true
rm -rf "$broker_dir"
mkdir -p "$broker_dir"

pids=()
finish() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    Deploy/local-broker.sh stop "$broker_dir" || true
}
trap finish EXIT
trap 'exit 130' INT TERM

Deploy/local-broker.sh start "$broker_dir"
# shellcheck source=/dev/null
source "$broker_dir/env"

simulator_options=()
if [[ $upstream == spine ]]; then
    # The worker is the SMSP: it asks the simulator, answering as Spine's CP-IS, over mutual TLS.
    simulator_options=(--spine)
    export CPIS_UPSTREAM=spine CPIS_SPINE_ENDPOINT=https://localhost:8443/smsp/cpis CPIS_SPINE_ASID=200000000123 \
        CPIS_SPINE_SPINE_ASID=999999999999 CPIS_SPINE_TLS_CA=.local/certs/ca.pem \
        CPIS_SPINE_TLS_CERTIFICATE=.local/certs/client.pem CPIS_SPINE_TLS_KEY=.local/certs/client.key
fi
"$cpis" simulator "${simulator_options[@]}" >"$local_dir/simulator.log" 2>&1 &
pids+=($!)
"$cpis" worker >"$local_dir/worker.log" 2>&1 &
pids+=($!)
"$cpis" front-door >"$local_dir/front-door.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 60); do
    grep -q "worker consuming" "$local_dir/worker.log" 2>/dev/null && grep -q "simulator listening" "$local_dir/simulator.log" \
        && grep -q "front door on" "$local_dir/front-door.log" && break
    sleep 0.5
done
# Log lines are "time level logger: message": the message is shown.
echo "simulator: $(grep -m1 "simulator listening" "$local_dir/simulator.log" | sed 's/^[^ ]* [^ ]* [^ ]*: //')   (log: .local/simulator.log)"
echo "worker:    $(grep -m1 "worker consuming" "$local_dir/worker.log" | sed 's/^[^ ]* [^ ]* [^ ]*: //')   (log: .local/worker.log)"
echo "front door: $(grep -m1 "front door on" "$local_dir/front-door.log" | sed 's/^[^ ]* [^ ]* [^ ]*: //')   (log: .local/front-door.log)"
echo
echo "== a triage lookup for test patient 999 000 0018"
"$cpis" lookup --nhs-number "999 000 0018" | python3 -m json.tool
echo
echo "== the same patient asked through the SMSP front door, as a care provider's SMSP client would"
"$cpis" smsp query --nhs-number "999 000 0018"

if ! $once; then
    echo
    echo "Running. Send more lookups from another terminal:"
    echo "  CPIS_AMQP_URL=$CPIS_AMQP_URL $cpis lookup --nhs-number \"999 000 0042\""
    echo "  $cpis smsp query --nhs-number \"999 000 0042\"      (through the front door)"
    echo "Ctrl-C stops the front door, the worker, the simulator and the broker."
    wait "${pids[@]}"
fi
