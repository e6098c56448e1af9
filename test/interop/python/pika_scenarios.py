"""pika (BlockingConnection) scenarios for the Warren interop suite.

Usage: /usr/bin/python3 pika_scenarios.py SCENARIO AMQP_URL [ARG...]
Prints one JSON object with what the scenario observed; the TypeScript test
asserts on it. Exceptions the scenario expects are reported, not raised.
"""

import json
import struct
import sys
import uuid

import pika
import pika.exceptions


def params(url, **overrides):
    p = pika.URLParameters(url)
    p.connection_attempts = 1
    p.socket_timeout = 5
    p.blocked_connection_timeout = 10
    for key, value in overrides.items():
        setattr(p, key, value)
    return p


def connect(url, **overrides):
    return pika.BlockingConnection(params(url, **overrides))


def temp_queue(ch):
    return ch.queue_declare("", exclusive=True).method.queue


def ready(ch, queue):
    return ch.queue_declare(queue, passive=True).method.message_count


def publish_consume(url):
    conn = connect(url)
    ch = conn.channel()
    q = temp_queue(ch)
    for i in range(10):
        ch.basic_publish("", q, ("m%d" % i).encode(),
                         pika.BasicProperties(content_type="text/plain", headers={"n": i}))
    bodies, headers = [], []
    for method, props, body in ch.consume(q, inactivity_timeout=3):
        if method is None:
            break
        bodies.append(body.decode())
        headers.append(props.headers["n"])
        ch.basic_ack(method.delivery_tag)
        if len(bodies) == 10:
            break
    ch.cancel()
    left = ready(ch, q)
    conn.close()
    return {"bodies": bodies, "headers": headers, "left": left}


def mandatory_return(url):
    conn = connect(url)
    ch = conn.channel()
    returned = []
    ch.add_on_return_callback(
        lambda _ch, method, props, body: returned.append(
            [method.reply_code, method.reply_text, method.exchange, method.routing_key,
             body.decode()]))
    key = "nowhere-" + uuid.uuid4().hex
    ch.basic_publish("amq.direct", key, b"lost", mandatory=True)
    conn.process_data_events(time_limit=1)
    # With confirms, pika raises UnroutableError for the returned message.
    ch.confirm_delivery()
    unroutable = None
    try:
        ch.basic_publish("amq.direct", key, b"lost again", mandatory=True)
    except pika.exceptions.UnroutableError as e:
        unroutable = [m.method.reply_code for m in e.messages]
    conn.close()
    return {"returned": returned, "key": key, "unroutable": unroutable}


def confirms(url):
    conn = connect(url)
    ch = conn.channel()
    q = temp_queue(ch)
    ch.confirm_delivery()
    for i in range(50):
        ch.basic_publish("", q, str(i).encode())  # blocks until acked; raises if nacked
    result = {"ready": ready(ch, q)}
    conn.close()
    return result


def transactions(url):
    conn = connect(url)
    ch = conn.channel()
    q = temp_queue(ch)
    ch.tx_select()
    ch.basic_publish("", q, b"rolled back")
    ch.tx_rollback()
    after_rollback = ready(ch, q)
    ch.basic_publish("", q, b"committed")
    before_commit = ready(ch, q)
    ch.tx_commit()
    after_commit = ready(ch, q)
    # An ack inside a rolled-back transaction leaves the message unacked.
    method, _props, body = ch.basic_get(q)
    ch.basic_ack(method.delivery_tag)
    ch.tx_rollback()
    ch.close()
    ch2 = conn.channel()
    method2, _props2, body2 = ch2.basic_get(q, auto_ack=True)
    conn.close()
    return {
        "afterRollback": after_rollback,
        "beforeCommit": before_commit,
        "afterCommit": after_commit,
        "got": body.decode(),
        "backAfterRolledBackAck": body2.decode() if body2 else None,
        "redelivered": method2.redelivered if method2 else None,
    }


def qos(url):
    conn = connect(url)
    ch = conn.channel()
    q = temp_queue(ch)
    for i in range(10):
        ch.basic_publish("", q, str(i).encode())
    ch.basic_qos(prefetch_count=2)
    got = []
    ch.basic_consume(q, lambda _c, m, _p, b: got.append(m.delivery_tag))
    conn.process_data_events(time_limit=0.5)
    window = len(got)
    ch.basic_ack(got[-1], multiple=True)
    conn.process_data_events(time_limit=0.5)
    after_ack = len(got)
    conn.close()
    return {"window": window, "afterAck": after_ack}


def exchange_bind(url):
    conn = connect(url)
    ch = conn.channel()
    source = "src-" + uuid.uuid4().hex
    dest = "dst-" + uuid.uuid4().hex
    ch.exchange_declare(source, "topic", auto_delete=True)
    ch.exchange_declare(dest, "fanout", auto_delete=True)
    ch.exchange_bind(dest, source, routing_key="logs.#")
    q = temp_queue(ch)
    ch.queue_bind(q, dest)
    ch.basic_publish(source, "logs.app.error", b"routed")
    ch.basic_publish(source, "metrics.cpu", b"not routed")
    bodies = []
    while True:
        method, _p, body = ch.basic_get(q, auto_ack=True)
        if method is None:
            break
        bodies.append(body.decode())
    conn.close()
    return {"bodies": bodies}


def direct_reply_to(url):
    conn = connect(url)
    server = conn.channel()
    service = temp_queue(server)
    client = conn.channel()
    replies = []
    client.basic_consume("amq.rabbitmq.reply-to",
                         lambda _c, m, p, b: replies.append([b.decode(), p.correlation_id]),
                         auto_ack=True)
    client.basic_publish("", service, b"ping",
                         pika.BasicProperties(reply_to="amq.rabbitmq.reply-to",
                                              correlation_id="c-1"))
    method, props, body = None, None, None
    for _ in range(50):
        method, props, body = server.basic_get(service, auto_ack=True)
        if method is not None:
            break
        conn.process_data_events(time_limit=0.05)
    server.basic_publish("", props.reply_to, b"pong:" + body,
                         pika.BasicProperties(correlation_id=props.correlation_id))
    for _ in range(50):
        if replies:
            break
        conn.process_data_events(time_limit=0.05)
    conn.close()
    return {"replyTo": props.reply_to, "replies": replies}


def heartbeat(url, idle_seconds="6"):
    conn = connect(url, heartbeat=2)
    negotiated = conn._impl.params.heartbeat
    conn.sleep(float(idle_seconds))  # services I/O, so pika's own heartbeats go out
    checker = conn._impl._heartbeat_checker
    received = checker._heartbeat_frames_received if checker else None
    sent = checker._heartbeat_frames_sent if checker else None
    ch = conn.channel()  # still alive: a round trip works
    temp_queue(ch)
    conn.close()
    return {"negotiated": negotiated, "received": received, "sent": sent}


def capabilities(url):
    conn = connect(url)
    server_caps = conn._impl.server_capabilities
    conn.close()
    return {"serverCapabilities": {k: bool(v) for k, v in server_caps.items()}}


def connect_error(url, vhost=None):
    overrides = {}
    if vhost is not None:
        overrides["virtual_host"] = vhost
    try:
        connect(url, **overrides).close()
        return {"error": None}
    except pika.exceptions.AMQPConnectionError as e:
        inner = e.args[0] if e.args else None
        return {"error": type(e).__name__, "detail": str(inner) if inner is not None else str(e)}


def _teach_pika_update_secret():
    """Debian's pika 1.2 predates connection.update-secret: pika 1.3 added the two
    methods to its spec and Connection.update_secret, which sends UpdateSecret on
    channel 0 and waits for UpdateSecretOk (its TestUpdateSecret). This adds the same
    two methods to pika 1.2's spec, so the scenario sends what pika 1.3 sends."""
    spec = pika.spec
    if hasattr(spec.Connection, "UpdateSecret"):
        return

    class UpdateSecret(pika.amqp_object.Method):
        INDEX = 0x000A0046  # 10, 70
        NAME = "Connection.UpdateSecret"

        def __init__(self, new_secret=b"", reason=""):
            self.new_secret = new_secret
            self.reason = reason

        @property
        def synchronous(self):
            return True

        def encode(self):
            value = self.new_secret
            if isinstance(value, str):
                value = value.encode("utf-8")
            pieces = [struct.pack(">I", len(value)), value]
            pika.data.encode_short_string(pieces, self.reason)
            return pieces

    class UpdateSecretOk(pika.amqp_object.Method):
        INDEX = 0x000A0047  # 10, 71
        NAME = "Connection.UpdateSecretOk"

        @property
        def synchronous(self):
            return False

        def decode(self, encoded, offset=0):
            return self

        def encode(self):
            return []

    spec.Connection.UpdateSecret = UpdateSecret
    spec.Connection.UpdateSecretOk = UpdateSecretOk
    spec.methods[UpdateSecret.INDEX] = UpdateSecret
    spec.methods[UpdateSecretOk.INDEX] = UpdateSecretOk


def _update_secret(conn, new_secret, reason):
    """pika 1.3's BlockingConnection.update_secret: the RPC on channel 0, then wait."""
    replies = []
    conn._impl._rpc(0, pika.spec.Connection.UpdateSecret(new_secret, reason),
                    replies.append, [pika.spec.Connection.UpdateSecretOk])
    conn._flush_output(lambda: bool(replies))
    return replies[0]


def update_secret(url):
    _teach_pika_update_secret()
    conn = connect(url)
    ok = [_update_secret(conn, secret, "reason").method.NAME
          for secret in ("new_secret", "another secret")]
    ch = conn.channel()
    q = temp_queue(ch)
    ch.confirm_delivery()
    ch.basic_publish("", q, b"after update-secret")
    _, _, body = ch.basic_get(q, auto_ack=True)
    conn.close()
    return {"okFrames": ok, "body": body.decode() if body is not None else None}


SCENARIOS = {
    "publish_consume": publish_consume,
    "mandatory_return": mandatory_return,
    "confirms": confirms,
    "transactions": transactions,
    "qos": qos,
    "exchange_bind": exchange_bind,
    "direct_reply_to": direct_reply_to,
    "heartbeat": heartbeat,
    "capabilities": capabilities,
    "connect_error": connect_error,
    "update_secret": update_secret,
}

if __name__ == "__main__":
    scenario, url, *rest = sys.argv[1:]
    print(json.dumps(SCENARIOS[scenario](url, *rest)))
