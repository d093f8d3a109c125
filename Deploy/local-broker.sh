#!/usr/bin/env bash
# A throwaway, hermetic RabbitMQ node for the local run and the tests. It never touches a broker that
# is already installed or running on the machine: its own node name, ports, epmd and data directory,
# all under DIR.
#
#   Deploy/local-broker.sh start DIR   start a node (TCP and mutual-TLS listeners on loopback) and wait
#                                      until it is ready; writes DIR/env (connection settings to
#                                      source) and DIR/rabbitmqctl (rabbitmqctl aimed at this node)
#   Deploy/local-broker.sh stop DIR    stop that node, and only that node
#
# Ports (environment, defaults): CPIS_BROKER_PORT 5682 (AMQP), CPIS_BROKER_TLS_PORT 5681 (AMQPS);
# the Erlang distribution and epmd ports are derived from CPIS_BROKER_PORT so two nodes on different
# ports never meet. For a cluster (Deploy/cluster-test.sh), nodes meet through one epmd port
# (CPIS_BROKER_EPMD_PORT) and share an Erlang cookie (CPIS_BROKER_COOKIE); CPIS_BROKER_KEEP_EPMD=1
# leaves that epmd running when one node stops.
set -euo pipefail

action=${1:?usage: $0 start|stop DIR}
dir=${2:?usage: $0 start|stop DIR}
here=$(cd "$(dirname "$0")" && pwd)
rabbit_bin=/usr/lib/rabbitmq/bin

amqp_port=${CPIS_BROKER_PORT:-5682}
# A node already started in DIR keeps the ports it was started with (stop must find its epmd).
if [[ $action == stop && -f $dir/ports ]]; then
    # shellcheck source=/dev/null
    source "$dir/ports"
fi
amqps_port=${CPIS_BROKER_TLS_PORT:-5681}
dist_port=$((amqp_port + 10000))
epmd_port=${CPIS_BROKER_EPMD_PORT:-$((amqp_port + 10001))}
node="cpis-$amqp_port@localhost"

# Debian's rabbitmq-server refuses to run as root and drops to the rabbitmq user; so do we.
as_broker_user() {
    if [[ $(id -u) == 0 ]]; then runuser -u rabbitmq -- "$@"; else "$@"; fi
}

node_env=(
    HOME="$dir"
    RABBITMQ_NODENAME="$node"
    RABBITMQ_DIST_PORT="$dist_port"
    ERL_EPMD_PORT="$epmd_port"
    ERL_EPMD_ADDRESS=127.0.0.1
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
    RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
    RABBITMQ_MNESIA_BASE="$dir/mnesia"
    RABBITMQ_LOG_BASE="$dir/log"
    RABBITMQ_PLUGINS_EXPAND_DIR="$dir/plugins-expand"
    RABBITMQ_PID_FILE="$dir/rabbitmq.pid"
)

start() {
    [[ -x $rabbit_bin/rabbitmq-server ]] || {
        echo "rabbitmq-server is not installed: run Deploy/install-dependencies.sh" >&2; exit 1; }
    mkdir -p "$dir/log" "$dir/mnesia"
    printf 'amqp_port=%s\nCPIS_BROKER_EPMD_PORT=%s\n' "$amqp_port" "$epmd_port" > "$dir/ports"
    if [[ -n ${CPIS_BROKER_COOKIE:-} ]]; then
        rm -f "$dir/.erlang.cookie"   # a restarted node's is read-only
        printf '%s' "$CPIS_BROKER_COOKIE" > "$dir/.erlang.cookie"
        chmod 400 "$dir/.erlang.cookie"
    fi
    "$here/generate-certificates.sh" "$dir/certs" >/dev/null
    : > "$dir/rabbitmq-env.conf"
    echo '[].' > "$dir/enabled_plugins"
    echo '[].' > "$dir/advanced.config"
    cat > "$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$amqp_port
listeners.ssl.default = 127.0.0.1:$amqps_port
ssl_options.cacertfile = $dir/certs/ca.pem
ssl_options.certfile = $dir/certs/server.pem
ssl_options.keyfile = $dir/certs/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
ssl_options.versions.1 = tlsv1.3
ssl_options.versions.2 = tlsv1.2
log.console = false
log.file.level = info
CONF
    cat > "$dir/rabbitmqctl" <<CTL
#!/usr/bin/env bash
# rabbitmqctl aimed at the node in $dir
if [[ \$(id -u) == 0 ]]; then run=(runuser -u rabbitmq --); else run=(); fi
exec "\${run[@]}" env $(printf "%q " "${node_env[@]}")$rabbit_bin/rabbitmqctl "\$@"
CTL
    chmod +x "$dir/rabbitmqctl"
    [[ $(id -u) == 0 ]] && chown -R rabbitmq:rabbitmq "$dir"

    (cd "$dir" && as_broker_user env "${node_env[@]}" "$rabbit_bin/rabbitmq-server" \
        >"$dir/log/startup.log" 2>&1 &)
    local deadline=$((SECONDS + 120))
    until "$dir/rabbitmqctl" -q await_startup --timeout 5 >/dev/null 2>&1; do
        if (( SECONDS > deadline )); then
            echo "RabbitMQ node $node did not start within 120 s; its log:" >&2
            tail -n 40 "$dir/log/startup.log" "$dir"/log/*.log >&2 || true
            exit 1
        fi
        sleep 1
    done
    cat > "$dir/env" <<ENV
export CPIS_AMQP_URL=amqp://guest:guest@127.0.0.1:$amqp_port/
export CPIS_AMQPS_URL=amqps://guest:guest@localhost:$amqps_port/
export CPIS_TLS_DIR=$dir/certs
export CPIS_RABBITMQCTL=$dir/rabbitmqctl
ENV
    echo "RabbitMQ node $node ready: amqp 127.0.0.1:$amqp_port, amqps localhost:$amqps_port (data in $dir)"
}

stop() {
    [[ -x $dir/rabbitmqctl ]] || return 0
    local pid=""
    [[ -f $dir/rabbitmq.pid ]] && pid=$(cat "$dir/rabbitmq.pid")
    "$dir/rabbitmqctl" -q stop >/dev/null 2>&1 || true
    if [[ -n $pid ]]; then
        for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    # The epmd our node started listens on its own port: stop that one only (a cluster's is shared).
    [[ ${CPIS_BROKER_KEEP_EPMD:-0} == 1 ]] || as_broker_user env ERL_EPMD_PORT="$epmd_port" epmd -kill >/dev/null 2>&1 || true
    echo "RabbitMQ node $node stopped"
}

case $action in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
