#!/usr/bin/env bash
# Runs the product on local defaults: installs what is missing, starts a throwaway RabbitMQ node in
# .local/broker (plain and mutual-TLS listeners on loopback), builds `cpis` and proves the broker
# round trip over both. Stops the node on the way out.
set -euo pipefail
cd "$(dirname "$0")/.."

Deploy/install-dependencies.sh

broker_dir=$PWD/.local/broker
Deploy/local-broker.sh stop "$broker_dir" >/dev/null 2>&1 || true
rm -rf "$broker_dir"
mkdir -p "$broker_dir"
trap 'Deploy/local-broker.sh stop "$broker_dir"' EXIT
Deploy/local-broker.sh start "$broker_dir"
# shellcheck source=/dev/null
source "$broker_dir/env"

swift build --product cpis
cpis=$(swift build --show-bin-path)/cpis

echo "== over TCP"
"$cpis" broker-check --amqp-url "$CPIS_AMQP_URL"
echo "== over mutual TLS"
"$cpis" broker-check --amqp-url "$CPIS_AMQPS_URL" \
    --amqp-tls-ca "$CPIS_TLS_DIR/ca.pem" --amqp-tls-cert "$CPIS_TLS_DIR/client.pem" --amqp-tls-key "$CPIS_TLS_DIR/client.key"
