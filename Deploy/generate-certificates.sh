#!/usr/bin/env bash
# Generates a throwaway development PKI with openssl, for the local run, the tests and the benchmarks:
#   ca.pem / ca.key            the development CA every peer trusts
#   server.pem / server.key    a server certificate for localhost and 127.0.0.1 (broker, SMSP simulator)
#   client.pem / client.key    a client certificate (the worker's mutual-TLS identity)
#   rogue-ca.pem               a second, unrelated CA: trusting only it must make every handshake fail
# Usage: Deploy/generate-certificates.sh DIR   (existing files in DIR are kept: delete DIR to renew)
# Never use these outside development: the keys are unencrypted and the CA is local.
set -euo pipefail

dir=${1:?usage: $0 DIR}
mkdir -p "$dir"
cd "$dir"

if [[ -f ca.pem && -f server.pem && -f client.pem && -f rogue-ca.pem ]]; then
    exit 0
fi

days=825
subject_prefix="/C=GB/O=CP-IS SMSP development"

new_ca() { # name, common name
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
        -keyout "$1.key" -out "$1.pem" -subj "$subject_prefix/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

new_leaf() { # name, common name, extended key usage, subjectAltName or ""
    local extensions="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$3"
    [[ -n "$4" ]] && extensions+=$'\n'"subjectAltName=$4"
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$1.key" -out "$1.csr" \
        -subj "$subject_prefix/CN=$2" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" -sha256 \
        -extfile <(printf '%s\n' "$extensions") -out "$1.pem" 2>/dev/null
    rm -f "$1.csr"
}

new_ca ca "CP-IS SMSP development CA"
new_leaf server localhost serverAuth "DNS:localhost,IP:127.0.0.1,IP:::1"
new_leaf client cpis-worker clientAuth ""
new_ca rogue-ca "Untrusted CA"
rm -f rogue-ca.key ca.srl
chmod 600 ./*.key
echo "development certificates written to $dir"
