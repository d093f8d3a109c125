#!/usr/bin/env bash
# Fuzzes the readers of untrusted input with libFuzzer (Sources/Fuzz): the HTTP request and response
# parsers, the SMSP SOAP request reader, the timestamp reader, the SMSP and Spine response readers, and the JSON lookup
# intake. Builds them with -sanitize=fuzzer,address in .build-fuzz, seeds each from real messages (the
# NHS reference artefacts in ../shared/nhs, what `cpis smsp request` and `cpis spine request` write,
# HTTP messages and JSON bodies written here), runs each in turn, and prints per target the
# executions, time, coverage (libFuzzer's cov: edges and ft: features), corpus and crashes.
# Exits 1 if any target crashed (or hung, or ran out of memory), keeping the input that did it in
# .local/fuzz/<target>/.
#   Deploy/fuzz.sh                           every target, 1,000,000 executions each
#   Deploy/fuzz.sh --time 600                every target for 600 seconds each instead
#   Deploy/fuzz.sh --runs 50000 lookup-json  only the targets named
set -euo pipefail
cd "$(dirname "$0")/.."

# One folder per target in Sources/Fuzz (Package.swift makes fuzz-<folder> of each).
mapfile -t all_targets < <(ls Sources/Fuzz)
runs=1000000
seconds=0
targets=()
while (( $# > 0 )); do
    case $1 in
        --runs) runs=${2:?--runs N}; shift ;;
        # libFuzzer's -max_total_time; the executions are then unlimited.
        --time) seconds=${2:?--time SECONDS}; runs=-1; shift ;;
        *) if [[ " ${all_targets[*]} " != *" $1 "* ]]; then
               echo "usage: $0 [--runs N | --time SECONDS] [${all_targets[*]}]" >&2; exit 2
           fi
           targets+=("$1") ;;
    esac
    shift
done
(( ${#targets[@]} > 0 )) || targets=("${all_targets[@]}")

Deploy/install-dependencies.sh
# The seeds' requests come from the product's own builders (built as Deploy/test.sh builds, so
# that after the tests this is no work).
swift build --product cpis -Xswiftc -warnings-as-errors
cpis=$(swift build --show-bin-path)/cpis

# Release code, as deployed, with libFuzzer's coverage and AddressSanitizer. The Swift driver obeys
# only the last -sanitize= it is given, so both come in one, after SwiftPM's own (its --sanitize
# fuzzer is still needed: it stops SwiftPM renaming the targets' entry points). FUZZING leaves out
# the targets' plain-build `main` (libFuzzer brings its own). Dead stripping would drop the coverage
# counters, which nothing references, and leave libFuzzer blind.
build=(swift build --scratch-path .build-fuzz -c release --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address
       --disable-dead-strip -Xswiftc -DFUZZING)
for target in "${targets[@]}"; do
    echo "building fuzz-$target"
    # The sanitizer runtime makes the linker warn about symbols it cannot export: shown only on failure.
    if ! output=$("${build[@]}" --product "fuzz-$target" 2>&1); then
        echo "$output" >&2
        exit 1
    fi
done
bin=$("${build[@]}" --show-bin-path)

work=$(mktemp -d "${TMPDIR:-/tmp}/cpis-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
for target in "${all_targets[@]}"; do mkdir -p "$work/seeds/$target" "$work/corpus/$target"; done
seeds=$work/seeds
nhs=../shared/nhs
if [[ ! -d $nhs ]]; then
    echo "warning: $nhs (the NHS reference artefacts) is absent: the XML targets start from fewer seeds" >&2
fi

# --- Seeds: lookup request bodies ------------------------------------------------------------------

json=$work/json
mkdir -p "$json"
cp docs/examples/request-triage-person.json docs/examples/request-batch-system.json "$json/"
# Escapes, Unicode, nulls for optional fields, unknown members and numbers, which the contract allows.
cat >"$json/escapes.json" <<'EOF'
{"nhsNumber":"943-476-5919","extra":[1,-2.5e+3,true,null,{"a":[]}],"requester":{"organisation":{"odsCode":"RKE","name":"St \u00c6lfric\u2019s \"Hospital\"\\\/\ud83d\ude00"},"user":{"sdsUserId":"200009876204","sdsRoleProfileId":null,"jobRole":{"code":"R0260","displayName":"GP\t\n"},"name":{"given":"Zo\u00eb"}}}}
EOF
printf '%s' '{"nhsNumber":"9434765919","requester":{"organisation":{"odsCode":"X","name":"Y"},"user":{},"system":{}}}' \
    >"$json/both-authors.json"
cp "$json"/* "$seeds/lookup-json/"

# --- Seeds: SOAP requests, from the builders ---------------------------------------------------------

requests=$work/requests
mkdir -p "$requests"
for body in "$json/request-triage-person.json" "$json/request-batch-system.json"; do
    name=$(basename "$body" .json)
    "$cpis" smsp request --sender-ods RKE "$body" >"$requests/smsp-$name.xml"
    "$cpis" spine request "$body" >"$requests/spine-$name.xml"
done
cp "$requests"/* "$seeds/smsp-request/"

# --- Seeds: timestamps, as requests carry them and as senders get them wrong ---------------------------

grep -ohE '<wsu:(Created|Expires)>[^<]*' "$requests"/smsp-*.xml | sed 's/.*>//' | while read -r stamp; do
    printf '%s' "$stamp" >"$seeds/timestamp/$stamp"
done
n=0
for stamp in 2026-03-29T00:59:59Z 2026-10-25T01:30:00.5+01:00 2026-11-24T14:30:00-14:00 0001-01-01T00:00:00+14:00 \
             9999-12-31T23:59:59.999999999-00:30 2026-11-24T14:30:00.123456789012345678901234Z 2026-02-29T00:00:00Z \
             "2026-11-24T14:30:34.$(printf '7%.0s' {1..60})'7777284Z"; do
    printf '%s' "$stamp" >"$seeds/timestamp/seed-$((n++))"
done
printf '%s\n' '"Z"' '"+14:00"' '"-00:00"' '".999999999"' '"T23:59:59"' '"-02-29"' >"$work/timestamp.dict"

# --- Seeds: SMSP answers, the NHS test tool's templates, bare and in a SOAP response -------------------

answers=$seeds/smsp-response
if [[ -d $nhs ]]; then
    for template in "$nhs"/tkw-cpis-smsp-simulator/response_templates/*.xml; do
        name=$(basename "$template" .xml)
        cp "$template" "$answers/$name-bare.xml"
        {
            echo '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="http://www.w3.org/2005/08/addressing">'
            echo '<soap:Header><wsa:RelatesTo>uuid:3C7C0F3E-5A4B-4D0E-9E55-0B1C2D3E4F50</wsa:RelatesTo></soap:Header><soap:Body>'
            cat "$template"
            echo '</soap:Body></soap:Envelope>'
        } >"$answers/$name-soap.xml"
    done
fi

# --- Seeds: Spine answers, the test harness's templates in its response wrapper, faults, ebXML errors --

spine=$seeds/spine-response
if [[ -d $nhs ]]; then
    mth=$nhs/spine-cpis/spine-mth
    for template in "$mth"/CPIS_Templates/*.xml; do
        # The template in place of __PAYLOAD_BODY__, then every __TOKEN__ given a value (an id will do).
        sed -e "/__PAYLOAD_BODY__/{r $template" -e 'd}' "$mth/response_wrapper_no_timestamp.txt" \
            | sed -E 's/__[A-Z0-9_]+__/3C7C0F3E-5A4B-4D0E-9E55-0B1C2D3E4F50/g' >"$spine/$(basename "$template")"
    done
    sed -E 's/__[A-Z0-9_]+__/Client/g' "$mth/SoapFault_Template.xml" >"$spine/SoapFault_Template.xml"
    cp "$nhs"/spine-cpis/integration-adaptors/fake-spine/*.xml "$nhs"/spine-cpis/integration-adaptors/mhs-test-messages/*.xml \
        "$spine/"
fi

# --- Seeds: HTTP messages --------------------------------------------------------------------------

soap_request=$(cat "$requests/smsp-request-triage-person.xml")
soap_answer=$(cat "$answers"/*Success*-soap.xml 2>/dev/null || echo '<a/>')
length() { printf '%s' "$1" | wc -c; }
http() { printf "$2" "${@:3}" >"$seeds/$1"; }  # file, then printf's format and arguments
http http-request/get 'GET /metrics HTTP/1.1\r\nHost: localhost:9090\r\nAccept: */*\r\n\r\n'
http http-request/post 'POST /smsp/cpis HTTP/1.1\r\nHost: localhost:8443\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: "urn:nhs-itk:services:201005:getCPISChildProtectionInformation-v1-0"\r\nContent-Length: %d\r\n\r\n%s' \
    "$(length "$soap_request")" "$soap_request"
http http-request/chunked 'POST /smsp/cpis HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n4\r\nWiki\r\n5;name=value\r\npedia\r\n0\r\nTrailer: yes\r\n\r\n'
http http-request/pipelined 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /d HTTP/1.1\r\nConnection: close\r\n\r\n'
http http-request/http10 'GET / HTTP/1.0\r\n\r\n'
# Near the limits (the fuzz targets' 1 KiB head, 2 KiB body; 1 KiB a chunked body's line).
long=$(printf 'x%.0s' {1..960})
http http-request/long-lines 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX: %s\r\n\r\n3;%s\r\nabc\r\n0\r\nX-Trailer: %s\r\n\r\n' \
    "$long" "$long" "$long"
http http-request/refused 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\nTransfer-Encoding: gzip, chunked\r\n\r\nab'
http http-response/soap 'HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n%s' \
    "$(length "$soap_answer")" "$soap_answer"
http http-response/chunked 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n'
http http-response/interim 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end'
http http-response/no-content 'HTTP/1.0 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n'
http http-response/fault 'HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/xml\r\nContent-Length: 26\r\n\r\n<soap:Fault>x</soap:Fault>'
http http-response/long-lines 'HTTP/1.1 200 OK\r\nX: %s\r\nTransfer-Encoding: chunked\r\n\r\n3;%s\r\nabc\r\n0\r\n\r\n' "$long" "$long"
http http-response/gateway 'HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<html><body>502</body></html>'

# --- Dictionaries: the names the readers look for (libFuzzer's syntax: quoted, \" and \xNN escapes) ---

for target in smsp-request smsp-response spine-response; do
    # Element names with their "<", and attribute names with their =", as the seeds spell them.
    { cat "$seeds/$target"/* 2>/dev/null | grep -ohE '<[A-Za-z_][A-Za-z0-9_.:-]*| [A-Za-z_:][A-Za-z0-9_.:-]*="' || true
      printf '%s\n' '</' '/>' '<![CDATA[' '<!DOCTYPE' '&amp;' '&#x'
    } | sed -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/"/' | sort -u >"$work/$target.dict"
done
cat >"$work/http-request.dict" <<'EOF'
"\x0D\x0A"
"\x0D\x0A\x0D\x0A"
"HTTP/1.1"
"HTTP/1.0"
"Content-Length: "
"Transfer-Encoding: chunked"
"Connection: close"
"Connection: keep-alive"
"Expect: 100-continue"
";ext=value"
"0\x0D\x0A\x0D\x0A"
EOF
cp "$work/http-request.dict" "$work/http-response.dict"
cat >"$work/lookup-json.dict" <<'EOF'
"\"nhsNumber\":"
"\"requester\":"
"\"organisation\":"
"\"odsCode\":"
"\"name\":"
"\"user\":"
"\"system\":"
"\"sdsUserId\":"
"\"sdsRoleProfileId\":"
"\"jobRole\":"
"\"code\":"
"\"displayName\":"
"\"prefix\":"
"\"given\":"
"\"family\":"
"\"asid\":"
"\"nominatedPerson\":"
"\\u00e9"
"\\ud83d\\ude00"
"null"
"-0.5e+10"
EOF

# --- Runs --------------------------------------------------------------------------------------------

echo "fuzzing on $(nproc) cores, $(swift --version 2>&1 | head -n 1)"
if (( runs > 0 )); then echo "each target: $runs executions"; else echo "each target: $seconds seconds"; fi
summary=$work/summary
row() { printf '%-15s %11s %8s %7s %6s %7s %12s  %s\n' "$@" >>"$summary"; }
row target executions seconds exec/s cov ft corpus crashes
failed=0
for target in "${targets[@]}"; do
    crashes=.local/fuzz/$target
    mkdir -p "$crashes"
    log=$work/$target.log
    echo "fuzzing $target ($(find "$seeds/$target" -type f | wc -l) seeds)"
    start=$SECONDS
    # The Swift runtime's backtracer would take the crash signals from libFuzzer, which then could not
    # save the crashing input. A run stops at its first crash, an input taking over 10 s, or 2 GB.
    status=0
    SWIFT_BACKTRACE=enable=no "$bin/fuzz-$target" "$work/corpus/$target" "$seeds/$target" \
        -runs="$runs" -max_total_time="$seconds" -timeout=10 -dict="$work/$target.dict" \
        -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1 || status=$?
    # The last status line: "#1000000 DONE cov: 612 ft: 2890 corp: 402/61Kb lim: 4096 exec/s: ...".
    line=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
    field() { sed -nE "s/.* $1: ([^ ]+).*/\1/p" <<<"$line"; }
    stat() { sed -n "s/^stat::$1: *//p" "$log"; }
    found=0
    if (( status != 0 )); then
        failed=1
        # What libFuzzer saved (crash-, leak-, timeout-, oom-), else its exit status.
        found=$(grep -oE "$crashes/[a-z]+-[0-9a-f]+" "$log" | sort -u | tr '\n' ' ' || true)
        [[ -n $found ]] || found="exit status $status"
        echo "  $target failed: $found; the end of its log:"
        grep -vE '^#[0-9]+' "$log" | tail -n 40 | sed 's/^/    /'
    fi
    row "$target" "$(stat number_of_executed_units)" $(( SECONDS - start )) "$(stat average_exec_per_sec)" \
        "$(field cov)" "$(field ft)" "$(field corp)" "$found"
done
echo
cat "$summary"
exit $failed
