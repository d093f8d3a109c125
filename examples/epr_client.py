#!/usr/bin/env python3
"""A CP-IS lookup as an EPR system makes it at triage: publish, wait for the answer, show it.

    python3 examples/epr_client.py 9990000018
    python3 examples/epr_client.py --amqp-url amqps://user:password@broker:5671/ \\
        --tls-ca ca.pem --tls-cert client.pem --tls-key client.key "999 000 0018"

One way to follow the AMQP contract (docs/message-contract.md), with pika. Exit status: 0 when
CP-IS answered (records-found, no-record); 2 when the lookup was rejected, failed or expired (the
message says what to do); 1 when there was no answer.
"""
import argparse
import json
import os
import ssl
import sys
import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo
from urllib.parse import urlparse

import pika

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"


def parse_arguments():
    env = os.environ.get
    parser = argparse.ArgumentParser(description="Look a child up on CP-IS through the lookup worker.")
    parser.add_argument("nhs_number", help="the child's NHS number (test patients: Config/simulator-dataset.yaml)")
    parser.add_argument("--amqp-url", default=env("CPIS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5682/"),
                        help="amqp:// or amqps:// (env CPIS_AMQP_URL; default: Deploy/run-local.sh's broker)")
    parser.add_argument("--tls-ca", default=env("CPIS_AMQP_TLS_CA"), help="CA of the broker (amqps; env CPIS_AMQP_TLS_CA)")
    parser.add_argument("--tls-cert", default=env("CPIS_AMQP_TLS_CERT"), help="client certificate (env CPIS_AMQP_TLS_CERT)")
    parser.add_argument("--tls-key", default=env("CPIS_AMQP_TLS_KEY"), help="client key (env CPIS_AMQP_TLS_KEY)")
    parser.add_argument("--queue", default="cpis.lookup.triage", help="the lookup queue (default: %(default)s)")
    parser.add_argument("--timeout", type=int, default=30,
                        help="seconds to wait for the answer, also sent as the request's expiration (default: 30)")
    return parser.parse_args()


def connection_parameters(args):
    parameters = pika.URLParameters(args.amqp_url)
    if args.amqp_url.startswith("amqps://"):
        context = ssl.create_default_context(cafile=args.tls_ca)
        if args.tls_cert:
            context.load_cert_chain(args.tls_cert, args.tls_key)
        parameters.ssl_options = pika.SSLOptions(context, urlparse(args.amqp_url).hostname)
    return parameters


def lookup_request(nhs_number):
    # Who asks: in an EPR, the organisation and the smartcard user of the session.
    return {
        "nhsNumber": nhs_number,
        "requester": {
            "organisation": {"odsCode": "RKE", "name": "The Whittington Hospital"},
            "user": {
                "sdsUserId": "200009876204",
                "sdsRoleProfileId": "100077650987",
                "jobRole": {"code": "R0260", "displayName": "General Medical Practitioner"},
                "name": {"prefix": "Dr", "given": "Paula", "family": "Palmer"},
            },
        },
    }


def ask(args):
    """Publishes the lookup; returns the result (a dict), or None when none came in time."""
    parameters = connection_parameters(args)
    connection = pika.BlockingConnection(parameters)
    try:
        channel = connection.channel()
        channel.confirm_delivery()  # basic_publish returns once the broker has the request
        request_id = str(uuid.uuid4())
        answer = {}

        def on_reply(channel, method, properties, body):
            if properties.correlation_id == request_id:
                answer["result"] = json.loads(body)
                channel.stop_consuming()

        # Direct reply-to: consume from it, with no-ack, on this channel *before* publishing.
        channel.basic_consume(DIRECT_REPLY_TO, on_reply, auto_ack=True)
        channel.basic_publish(
            exchange="", routing_key=args.queue, mandatory=True,
            body=json.dumps(lookup_request(args.nhs_number)),
            properties=pika.BasicProperties(
                message_id=request_id,              # unique per lookup; the result's correlation_id
                reply_to=DIRECT_REPLY_TO,
                content_type="application/json",
                delivery_mode=2,                    # persistent
                expiration=str(args.timeout * 1000),  # never sent to CP-IS once we stopped waiting...
                timestamp=int(time.time()),         # ...counted from now, time in the queue included
                user_id=parameters.credentials.username))  # the broker checks it; the worker authorises it
        connection.call_later(args.timeout, channel.stop_consuming)
        channel.start_consuming()
        return answer.get("result")
    finally:
        connection.close()


def local_time(timestamp):
    """A result's time (UTC) as English local time, as CP-IS and the local authorities give it."""
    utc = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return utc.astimezone(ZoneInfo("Europe/London")).strftime("%d %b %Y %H:%M")


def full_name(name):
    parts = [name.get(part) for part in ("prefix", "given", "family")] if name else []
    return " ".join(part for part in parts if part) or "(name not given)"


def show(result, nhs_number):
    code = result["responseCode"]
    print(f"NHS number {nhs_number}: {result['outcome']}" + (f" ({code['code']} {code['displayName']})" if code else ""))
    if "error" in result:
        print(f"  {result['error']['kind']}: {result['error']['message']}")
    if result["possiblyStale"]:
        print("  answered from the SMSP's local store while Spine was unavailable: it may be out of date")
    for record in result["records"]:
        start = local_time(record["startDate"])
        period = f"from {start} to {local_time(record['endDate'])}" if record["endDate"] else f"from {start}, open-ended"
        print(f"  {record['planType'].replace('-', ' ')}: {period}")
        subject = record["subject"]
        if subject["kind"] == "child":
            print(f"    child: {full_name(subject['name'])}, born {subject['birthDate']}")
        else:
            mother = subject["mother"]
            print(f"    unborn child; mother: {full_name(mother['name'])} ({mother['nhsNumber']}), born {mother['birthDate']}")
        authority = record["localAuthority"]
        print(f"    local authority: {authority['name']} ({authority['odsCode']})")
        print(f"      office hours:   {authority['officeHoursPhone'] or 'no number on record'}")
        print(f"      emergency duty: {authority['emergencyDutyPhone'] or 'no number on record'}")
    if result["accessHistory"]:
        print("  recent accesses (most recent first):")
        for access in result["accessHistory"]:
            organisation = (access["organisation"] or {}).get("name", "unknown organisation")
            author = access["author"] or {}
            print(f"    {local_time(access['accessedAt'])}  {organisation}  {author.get('name') or ''}, {author.get('jobRole') or ''}")


def main():
    args = parse_arguments()
    try:
        result = ask(args)
    except pika.exceptions.UnroutableError:
        sys.exit(f"the broker has no queue {args.queue}: has a worker declared the topology?")
    except pika.exceptions.AMQPConnectionError as error:
        url = urlparse(args.amqp_url)
        sys.exit(f"cannot connect to {url.hostname}:{url.port}: {error!r}")
    if result is None:
        sys.exit(f"no answer within {args.timeout} s: is a worker running? (The request expires unanswered: "
                 "it is not sent to CP-IS after that.)")
    show(result, args.nhs_number)
    sys.exit(0 if result["outcome"] in ("records-found", "no-record") else 2)


if __name__ == "__main__":
    main()
