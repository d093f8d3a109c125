#!/usr/bin/env bash
# Scale-out on a RabbitMQ cluster, as operations would run it: three RabbitMQ nodes on loopback form a
# cluster (their own names, ports and data under a temporary folder), the lookup queues are quorum
# queues replicated on all three, the SMSP simulator answers at 20 ms, and three workers consume,
# each listing the three nodes (broker.nodes). A batch job (`cpis batch`, also listing the nodes)
# submits ROWS lookups; mid-batch one node is stopped, and restarted 10 s later.
#
# Prints the figures and exits 0 only if every row was answered exactly once.
#   Deploy/cluster-test.sh [ROWS]      (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-2000}

Deploy/install-dependencies.sh
swift build --product cpis >/dev/null
cpis=$(swift build --show-bin-path)/cpis
Deploy/generate-certificates.sh .local/certs >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/cpis-cluster.XXXXXX")
chmod 755 "$work"
ports=(5731 5741 5751)
export CPIS_BROKER_EPMD_PORT=25731 CPIS_BROKER_KEEP_EPMD=1
CPIS_BROKER_COOKIE=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
export CPIS_BROKER_COOKIE
pids=()

node_dir() { echo "$work/node-$1"; }
# Waits until a command succeeds, failing after a deadline or when the process it waits on has died.
wait_until() {   # wait_until SECONDS PID DESCRIPTION COMMAND...
    local deadline=$((SECONDS + $1)) pid=$2 what=$3; shift 3
    until "$@"; do
        kill -0 "$pid" 2>/dev/null || { echo "FAILED: $what: the process it waited on ended"; exit 1; }
        (( SECONDS < deadline )) || { echo "FAILED: $what within the time allowed"; exit 1; }
        sleep 0.2
    done
}
broker() {   # broker start|stop N
    CPIS_BROKER_PORT=${ports[$2]} CPIS_BROKER_TLS_PORT=$((ports[$2] - 1)) Deploy/local-broker.sh "$1" "$(node_dir "$2")"
}
finish() {
    status=$?
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    for n in 0 1 2; do broker stop "$n" >/dev/null 2>&1 || true; done
    CPIS_BROKER_KEEP_EPMD=0 CPIS_BROKER_PORT=${ports[0]} Deploy/local-broker.sh stop "$(node_dir 0)" >/dev/null 2>&1 || true
    if (( status != 0 )) || [[ -n ${CPIS_CLUSTER_KEEP:-} ]]; then echo "logs kept in $work"; else rm -rf "$work"; fi
    exit $status
}
trap finish EXIT
trap 'exit 130' INT TERM

echo "== three RabbitMQ nodes"
for n in 0 1 2; do broker start "$n"; done
first_node="cpis-${ports[0]}@localhost"
for n in 1 2; do
    ctl=$(node_dir "$n")/rabbitmqctl
    "$ctl" -q stop_app
    "$ctl" -q join_cluster "$first_node"
    "$ctl" -q start_app
done
"$(node_dir 0)/rabbitmqctl" -q cluster_status --formatter json \
    | python3 -c 'import json,sys; s=json.load(sys.stdin); print("cluster running on", len(s["running_nodes"]), "nodes:", ", ".join(s["running_nodes"]))'

nodes=$(printf '127.0.0.1:%s,' "${ports[@]}"); nodes=${nodes%,}
# Settings from the environment would override the workers' files.
unset CPIS_AMQP_URL CPIS_BROKER_URL CPIS_BROKER_NODES

echo "== the SMSP simulator (20 ms) and three workers, each listing the three nodes"
CPIS_SIMULATOR_LISTEN_PORT=8643 CPIS_SIMULATOR_LATENCY_FIXED_MS=20 "$cpis" simulator >"$work/simulator.log" 2>&1 &
pids+=($!)
for n in 0 1 2; do
    cat > "$work/worker-$n.yaml" <<YAML
broker:
  url: amqp://guest@127.0.0.1:${ports[$n]}/
  nodes: [$nodes]
smsp:
  endpoint: https://localhost:8643/smsp/cpis
  tls: { ca: .local/certs/ca.pem, certificate: .local/certs/client.pem, key: .local/certs/client.key }
concurrency: { maxInFlight: 16, reservedForTriage: 4 }
monitoring: { port: $((9471 + n)) }
YAML
    echo guest > "$work/password"
    CPIS_BROKER_PASSWORD_FILE=$work/password "$cpis" worker --config "$work/worker-$n.yaml" >"$work/worker-$n.log" 2>&1 &
    pids+=($!)
done
for n in 0 1 2; do
    wait_until 60 "${pids[$((n + 1))]}" "worker $n ready" curl -sf "http://127.0.0.1:$((9471 + n))/health/ready" -o /dev/null
done
"$(node_dir 0)/rabbitmqctl" -q list_queues name type members --formatter json \
    | python3 -c '
import json,sys
for q in json.load(sys.stdin):
    if q["name"] in ("cpis.lookup.triage","cpis.lookup.batch"): print(q["name"], q["type"], "replicated on", len(q["members"]), "nodes")'

echo "== a $rows-row batch; node 2 of 3 stopped mid-batch, restarted 10 s later"
python3 - "$rows" > "$work/patients.csv" <<'PY'
import sys
rows, n = int(sys.argv[1]), 920000000
print("nhs_number")
while rows:
    n += 1
    digits = [int(c) for c in str(n)]
    check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1))) % 11
    if check == 10: continue
    print(f"{n}{0 if check == 11 else check}"); rows -= 1
PY
cat > "$work/requester.json" <<'JSON'
{"organisation":{"odsCode":"RKE","name":"The Whittington Hospital"},"system":{"asid":"200000000117",
 "nominatedPerson":{"jobRole":{"code":"R0260","displayName":"General Medical Practitioner"},"name":{"given":"Paula","family":"Palmer"}}}}
JSON
asked_before=$(curl -sk https://localhost:8643/health --cert .local/certs/client.pem --key .local/certs/client.key \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
started=$SECONDS
# The batch tool starts on the node that will be stopped, so it has to fail over too.
CPIS_BROKER_URL=amqp://guest:guest@127.0.0.1:${ports[1]}/ CPIS_BROKER_NODES=$nodes \
    "$cpis" batch "$work/patients.csv" --requester "$work/requester.json" --results "$work/results.csv" \
    --idle-timeout 120 >"$work/batch.out" 2>"$work/batch.err" &
batch=$!
pids+=("$batch")
answered() { [[ -f $work/results.csv ]] && (( $(wc -l < "$work/results.csv") > rows / 4 )); }
wait_until 300 "$batch" "a quarter of the batch answered" answered
echo "stopping node 2 with $(( $(wc -l < "$work/results.csv") - 1 )) of $rows answered"
broker stop 1 >/dev/null
sleep 10
echo "restarting node 2 with $(( $(wc -l < "$work/results.csv") - 1 )) of $rows answered"
broker start 1 >/dev/null
status=0
wait "$batch" || status=$?
elapsed=$((SECONDS - started))
cat "$work/batch.out"

answered=$(tail -n +2 "$work/results.csv" | cut -d, -f1 | sort -u | wc -l)
written=$(tail -n +2 "$work/results.csv" | wc -l)
# Results the batch tool received more than once (it writes each row once, and counts the rest).
repeated=$(grep -o '[0-9]* repeated results' "$work/batch.out" | cut -d' ' -f1 || true)
asked=$(( $(curl -sk https://localhost:8643/health --cert .local/certs/client.pem --key .local/certs/client.key \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])') - asked_before ))
reconnects=0 flagged=0
for n in 0 1 2; do
    metrics=$(curl -sf "http://127.0.0.1:$((9471 + n))/metrics" || true)
    r=$(awk '$1 == "cpis_amqp_reconnects_total" {print int($2)}' <<<"$metrics")
    f=$(awk '$1 == "cpis_possible_repeats_total" {print int($2)}' <<<"$metrics")
    reconnects=$((reconnects + ${r:-0})) flagged=$((flagged + ${f:-0}))
done
echo "figures (2 cores shared by 3 RabbitMQ nodes, 3 workers, the simulator and the batch tool):"
echo "  $rows rows, $answered answered ($written results written), in ${elapsed}s = $(( rows / (elapsed > 0 ? elapsed : 1) )) lookups/s"
echo "  CP-IS asked $asked times for $rows rows: $((asked - rows)) repeats of lookups in flight on the stopped node's"
echo "  connection (requeued by the broker, asked again by another worker), $flagged flagged possibleRepeat"
echo "  in their access notifications"
echo "  worker reconnections: $reconnects; results delivered twice (same message_id, set aside by the batch tool):"
echo "  ${repeated:-0}; batch exit status $status"
(( status == 0 && answered == rows && written == rows )) || { echo "FAILED: not every row answered exactly once"; exit 1; }
(( asked - rows <= flagged )) || { echo "FAILED: a repeated CP-IS query was not flagged possibleRepeat"; exit 1; }
echo "every row answered exactly once; every repeated query flagged"
