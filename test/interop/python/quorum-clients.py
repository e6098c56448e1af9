"""pika and kombu on quorum queues of a Warren cluster (issue 17).

Usage: /usr/bin/python3 quorum-clients.py SCENARIO AMQP_URL [ARG...]
Each scenario talks to one node (AMQP_URL) and prints one JSON object with what it observed
(the last line of stdout); the TypeScript test (quorum-python-clients.test.ts) asserts on it.
Every wait is bounded; a scenario still running after WATCHDOG_S dumps its stack and exits.
"""

import faulthandler
import json
import sys
import time

import pika
import pika.exceptions
from kombu import Connection, Consumer, Producer, Queue

WATCHDOG_S = 50
WAIT_S = 10  # the longest any scenario waits for one delivery
IDLE_S = 0.1  # nothing arrived for this long: the window is acked
QUORUM = {"x-queue-type": "quorum"}


def connect(url):
    p = pika.URLParameters(url)
    p.connection_attempts = 1
    p.socket_timeout = 5
    p.blocked_connection_timeout = 10
    return pika.BlockingConnection(p)


def pika_declare(url, queue):
    """Declares QUEUE durable with x-queue-type quorum; reports what declare-ok said."""
    conn = connect(url)
    ok = conn.channel().queue_declare(queue, durable=True, arguments=QUORUM)
    conn.close()
    return {"queue": ok.method.queue, "messages": ok.method.message_count,
            "consumers": ok.method.consumer_count}


def pika_publish(url, queue, count):
    """Publishes COUNT persistent messages ("0", "1", ...) with confirm_delivery: pika's
    blocking channel waits for each confirm and raises on a nack or a return."""
    count = int(count)
    conn = connect(url)
    ch = conn.channel()
    ch.confirm_delivery()
    confirmed, nacked, returned = 0, 0, 0
    started = time.monotonic()
    for i in range(count):
        try:
            ch.basic_publish("", queue, str(i).encode(),
                             pika.BasicProperties(delivery_mode=2), mandatory=True)
            confirmed += 1
        except pika.exceptions.NackError:
            nacked += 1
        except pika.exceptions.UnroutableError:
            returned += 1
    took = time.monotonic() - started
    conn.close()
    return {"confirmed": confirmed, "nacked": nacked, "returned": returned,
            "seconds": round(took, 2)}


def pika_consume(url, queue, count, prefetch):
    """basic_qos(PREFETCH), manual acks. The first delivery of "0" is nacked with
    requeue=True; its second delivery is recorded (redelivered, x-delivery-count). Acks
    (multiple) only once nothing arrived for IDLE_S, so a window that holds never has more
    than PREFETCH outstanding; records the most ever outstanding. Stops once COUNT distinct
    bodies are acked and nothing more comes, bounded by WAIT_S without a delivery."""
    count, prefetch = int(count), int(prefetch)
    conn = connect(url)
    ch = conn.channel()
    ch.basic_qos(prefetch_count=prefetch)
    seen = set()
    deliveries = 0
    nacked = None  # what the nacked delivery looked like
    back = None  # and its second delivery
    outstanding, max_outstanding = [], 0
    first_counts = {}  # x-delivery-count on first deliveries, by value
    idle_s = 0.0
    for method, props, body in ch.consume(queue, inactivity_timeout=IDLE_S):
        if method is None:
            if outstanding:
                ch.basic_ack(outstanding[-1], multiple=True)
                outstanding = []
            idle_s += IDLE_S
            if (len(seen) >= count and back is not None) or idle_s > WAIT_S:
                break
            continue
        idle_s = 0.0
        deliveries += 1
        text = body.decode()
        headers = props.headers or {}
        outstanding.append(method.delivery_tag)
        max_outstanding = max(max_outstanding, len(outstanding))
        if text == "0" and nacked is None:
            nacked = {"redelivered": method.redelivered,
                      "deliveryCount": headers.get("x-delivery-count")}
            outstanding.remove(method.delivery_tag)
            ch.basic_nack(method.delivery_tag, multiple=False, requeue=True)
            continue
        if text == "0" and back is None:
            back = {"redelivered": method.redelivered,
                    "deliveryCount": headers.get("x-delivery-count")}
        elif text != "0":
            key = repr(headers.get("x-delivery-count"))
            first_counts[key] = first_counts.get(key, 0) + 1
        seen.add(text)
    ch.cancel()
    left = ch.queue_declare(queue, passive=True).method.message_count
    conn.close()
    missing = [str(i) for i in range(count) if str(i) not in seen]
    return {"distinct": len(seen), "deliveries": deliveries, "missing": missing[:20],
            "nacked": nacked, "back": back, "otherDeliveryCounts": first_counts,
            "maxOutstanding": max_outstanding, "left": left}


def kombu_connection(url):
    return Connection(url, connect_timeout=5, transport_options={"max_retries": 1})


def kombu_queue(name):
    return Queue(name, exchange="", routing_key=name, durable=True, queue_arguments=QUORUM)


def kombu_publish(url, queue, count):
    """A Producer declares the quorum queue and publishes COUNT JSON messages with confirms
    (kombu's confirm_publish transport option: py-amqp waits for each basic.ack)."""
    count = int(count)
    q = kombu_queue(queue)
    with Connection(url, connect_timeout=5,
                    transport_options={"max_retries": 1, "confirm_publish": True}) as conn:
        producer = Producer(conn.channel())
        for i in range(count):
            producer.publish({"n": i}, routing_key=queue, declare=[q], delivery_mode=2,
                             serializer="json", retry=False)
        _, messages, _ = q(conn.default_channel).queue_declare(passive=True)
    return {"published": count, "readyAfter": messages}


def kombu_drain(url, queue, count):
    """A Consumer on the same quorum Queue (declared again: equivalent arguments) drains
    COUNT messages with drain_events, acking each; reports them in arrival order."""
    count = int(count)
    q = kombu_queue(queue)
    got = []

    def on_message(body, message):
        got.append(body["n"])
        message.ack()

    with kombu_connection(url) as conn:
        with conn.channel() as ch:
            with Consumer(ch, queues=[q], callbacks=[on_message], accept=["json"],
                          prefetch_count=50):
                deadline = time.monotonic() + 3 * WAIT_S
                while len(got) < count and time.monotonic() < deadline:
                    try:
                        conn.drain_events(timeout=1)
                    except TimeoutError:
                        pass
                # A moment more for anything unexpected.
                try:
                    conn.drain_events(timeout=0.3)
                except TimeoutError:
                    pass
            _, left, _ = q(ch).queue_declare(passive=True)
    return {"received": len(got), "inOrder": got == sorted(got),
            "distinct": len(set(got)), "left": left}


SCENARIOS = {
    "pika_declare": pika_declare,
    "pika_publish": pika_publish,
    "pika_consume": pika_consume,
    "kombu_publish": kombu_publish,
    "kombu_drain": kombu_drain,
}

if __name__ == "__main__":
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    scenario, url, *rest = sys.argv[1:]
    result = SCENARIOS[scenario](url, *rest)
    faulthandler.cancel_dump_traceback_later()
    print(json.dumps(result), flush=True)
