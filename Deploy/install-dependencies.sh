#!/usr/bin/env bash
# Installs, from Debian's packages, whatever the build, the tests and the local run need and the
# machine lacks: rabbitmq-c, libxml2 and OpenSSL headers, RabbitMQ itself, and openssl for the
# development certificates; and pika, from PyPI, for the EPR client example. Does nothing when all of
# it is there. Needs root (or sudo) to install Debian's packages.
set -euo pipefail

missing=()
pkg-config --version >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists librabbitmq 2>/dev/null || missing+=(librabbitmq-dev)
pkg-config --exists libxml-2.0 2>/dev/null || missing+=(libxml2-dev)
pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev)
command -v openssl >/dev/null || missing+=(openssl)
[[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || missing+=(rabbitmq-server)
# The tests check published messages against the contract's JSON Schemas with Python's jsonschema.
python3 -c 'import jsonschema' 2>/dev/null || missing+=(python3-jsonschema)

# The EPR client example (examples/epr_client.py), which the tests run, needs pika. It comes from PyPI
# for the python3 on the PATH: that may be a pyenv Python, which Debian's python3-pika would not reach.
if ! python3 -c 'import pika' 2>/dev/null; then
    echo "installing: pika (PyPI)"
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check pika
fi

if (( ${#missing[@]} == 0 )); then
    exit 0
fi
echo "installing: ${missing[*]}"
if [[ $(id -u) == 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null; then
    as_root=(sudo)
else
    echo "run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
# The package would start a system-wide broker; ours runs its own hermetic node instead.
export DEBIAN_FRONTEND=noninteractive RUNLEVEL=1
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
