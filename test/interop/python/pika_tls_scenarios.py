"""pika (BlockingConnection) over TLS (amqps) for the Warren interop suite.

Usage: /usr/bin/python3 pika_tls_scenarios.py SCENARIO AMQP_URL CA CERT KEY MECHANISM
AMQP_URL gives host, port and (for PLAIN) the credentials; the connection is made
with TLS regardless of its scheme. CA verifies the server; CERT and KEY are the
client certificate ("-" for none); MECHANISM is PLAIN or EXTERNAL. Prints one JSON
object with what the scenario observed. Exceptions it expects are reported.
"""

import json
import ssl
import sys

import pika
import pika.exceptions


def params(url, ca, cert, key, mechanism):
    p = pika.URLParameters(url)
    p.connection_attempts = 1
    p.socket_timeout = 5
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    if cert != "-":
        context.load_cert_chain(cert, key)
    p.ssl_options = pika.SSLOptions(context, server_hostname="localhost")
    if mechanism == "EXTERNAL":
        p.credentials = pika.credentials.ExternalCredentials()
    return p


def round_trip(url, ca, cert, key, mechanism):
    conn = pika.BlockingConnection(params(url, ca, cert, key, mechanism))
    ch = conn.channel()
    q = ch.queue_declare("", exclusive=True).method.queue
    ch.confirm_delivery()
    ch.basic_publish("", q, b"over amqps from pika")
    _, _, body = ch.basic_get(q, auto_ack=True)
    conn.close()
    return {"body": body.decode() if body is not None else None}


def connect_error(url, ca, cert, key, mechanism):
    try:
        pika.BlockingConnection(params(url, ca, cert, key, mechanism)).close()
        return {"error": None}
    except pika.exceptions.AMQPError as e:
        inner = e.args[0] if e.args else None
        return {"error": type(e).__name__, "detail": str(inner) if inner is not None else str(e)}


SCENARIOS = {
    "round_trip": round_trip,
    "connect_error": connect_error,
}

if __name__ == "__main__":
    scenario, url, *rest = sys.argv[1:]
    print(json.dumps(SCENARIOS[scenario](url, *rest)))
