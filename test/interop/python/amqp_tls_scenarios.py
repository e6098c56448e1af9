"""py-amqp (Debian's python3-amqp 5.1) over TLS (amqps) for the Warren interop suite.

Usage: /usr/bin/python3 amqp_tls_scenarios.py SCENARIO HOST:PORT CA CERT KEY USER PASSWORD [LOGIN_METHOD]
CA verifies the server; CERT and KEY are the client certificate. The connection is made
the way py-amqp's own TLS integration tests make it: an ssl dict, and py-amqp's default
authentication, which takes the first mechanism the server offers from its own order
(GSSAPI, EXTERNAL, AMQPLAIN, PLAIN), unless LOGIN_METHOD names one. Prints one JSON object with what the scenario
observed; errors it expects are reported, not raised.
"""

import json
import ssl
import sys

import amqp


def connection(host, ca, cert, key, user, password, login_method=None):
    return amqp.Connection(
        host=host,
        login_method=login_method,
        userid=user,
        password=password,
        connect_timeout=5,
        ssl={
            "ca_certs": ca,
            "certfile": cert,
            "keyfile": key,
            "cert_reqs": ssl.CERT_REQUIRED,
            "server_hostname": "localhost",
        },
    )


def round_trip(host, ca, cert, key, user, password):
    conn = connection(host, ca, cert, key, user, password)
    conn.connect()
    offered = [m.decode() for m in conn.mechanisms]
    ch = conn.channel()
    q, _, _ = ch.queue_declare("", exclusive=True)
    ch.basic_publish(amqp.Message("over amqps from py-amqp"), exchange="", routing_key=q)
    msg = None
    for _ in range(50):
        msg = ch.basic_get(q, no_ack=True)
        if msg is not None:
            break
    conn.close()
    body = None if msg is None else msg.body
    if isinstance(body, bytes):
        body = body.decode()
    return {"offered": offered, "body": body}


def connect_error(host, ca, cert, key, user, password, login_method=None):
    conn = connection(host, ca, cert, key, user, password, login_method)
    try:
        conn.connect()
        conn.close()
        return {"error": None}
    except Exception as e:  # the scenario reports what the client raised, whatever it is
        return {
            "error": type(e).__name__,
            "code": getattr(e, "code", None),
            "detail": str(e),
        }
    finally:
        try:
            conn.collect()
        except Exception:
            pass


SCENARIOS = {
    "round_trip": round_trip,
    "connect_error": connect_error,
}

if __name__ == "__main__":
    scenario, *rest = sys.argv[1:]
    print(json.dumps(SCENARIOS[scenario](*rest)))
