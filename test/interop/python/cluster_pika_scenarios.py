"""pika (BlockingConnection) scenarios for the classic-queues-across-a-cluster tests.

Usage: /usr/bin/python3 cluster_pika_scenarios.py SCENARIO AMQP_URL [ARG...]
Each scenario talks to one node (AMQP_URL) about a queue that may live on another node,
and prints one JSON object with what it observed; the TypeScript test asserts on it.
"""

import json
import sys

import pika
import pika.exceptions

# Longest wait for one delivery; prefetch is checked by waiting this long for an extra one.
WAIT_S = 10
EXTRA_WAIT_S = 0.2


def connect(url):
    p = pika.URLParameters(url)
    p.connection_attempts = 1
    p.socket_timeout = 5
    p.blocked_connection_timeout = 10
    return pika.BlockingConnection(p)


def publish(url, queue, count):
    """Publishes COUNT persistent messages ("0", "1", ...) to QUEUE with confirms; pika's
    blocking channel raises on a nack or a return, so every publish here was confirmed."""
    conn = connect(url)
    ch = conn.channel()
    ch.confirm_delivery()
    nacked = 0
    for i in range(int(count)):
        try:
            ch.basic_publish("", queue, str(i).encode(),
                             pika.BasicProperties(delivery_mode=2), mandatory=True)
        except (pika.exceptions.NackError, pika.exceptions.UnroutableError):
            nacked += 1
    conn.close()
    return {"published": int(count), "nacked": nacked}


def consume(url, queue, count, prefetch):
    """Consumes with basic.qos(PREFETCH) and manual acks until COUNT arrived and nothing more
    comes. Acks (multiple) only when nothing arrives for EXTRA_WAIT_S, so a window that holds
    has PREFETCH outstanding at most; records the most ever outstanding, and every body (a
    duplicate shows as an extra one)."""
    count, prefetch = int(count), int(prefetch)
    conn = connect(url)
    ch = conn.channel()
    ch.basic_qos(prefetch_count=prefetch)
    bodies, redelivered, outstanding, max_outstanding = [], 0, [], 0
    idle_s = 0.0
    for method, _props, body in ch.consume(queue, inactivity_timeout=EXTRA_WAIT_S):
        if method is None:
            # Nothing more came: ack the window (or the tail) and wait for the rest, bounded.
            if outstanding:
                ch.basic_ack(outstanding[-1], multiple=True)
                outstanding = []
            idle_s += EXTRA_WAIT_S
            if len(bodies) >= count or idle_s > WAIT_S:
                break
            continue
        idle_s = 0.0
        bodies.append(body.decode())
        redelivered += 1 if method.redelivered else 0
        outstanding.append(method.delivery_tag)
        max_outstanding = max(max_outstanding, len(outstanding))
    ch.cancel()
    left = ch.queue_declare(queue, passive=True).method.message_count
    conn.close()
    return {"bodies": bodies, "redelivered": redelivered, "maxOutstanding": max_outstanding,
            "left": left}


SCENARIOS = {
    "publish": publish,
    "consume": consume,
}

if __name__ == "__main__":
    scenario, url, *rest = sys.argv[1:]
    print(json.dumps(SCENARIOS[scenario](url, *rest)))
