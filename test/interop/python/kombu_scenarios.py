"""kombu scenarios for the Warren interop suite (py-amqp transport, as oslo.messaging uses).

Usage: /usr/bin/python3 kombu_scenarios.py SCENARIO AMQP_URL
Prints one JSON object with what the scenario observed.
"""

import json
import socket
import sys
import uuid

from kombu import Connection, Consumer, Exchange, Producer, Queue


def connection(url):
    return Connection(url, connect_timeout=5, transport_options={"max_retries": 1})


def simple_queue(url):
    name = "kombu-simple-" + uuid.uuid4().hex
    with connection(url) as conn:
        q = conn.SimpleQueue(name)
        try:
            q.put({"hello": "world", "n": [1, 2, 3]})
            q.put("second")
            first = q.get(block=True, timeout=5)
            first.ack()
            second = q.get(block=True, timeout=5)
            second.ack()
            try:
                q.get(block=True, timeout=0.5)
                empty = False
            except q.Empty:
                empty = True
            return {
                "first": first.payload,
                "contentType": first.content_type,
                "second": second.payload,
                "emptyAfter": empty,
                "transport": type(conn.transport).__module__,
            }
        finally:
            q.close()  # cancels its consumer first: deleting a consumed queue cancels it
            q.queue.delete()


def producer_consumer(url):
    suffix = uuid.uuid4().hex
    exchange = Exchange("kombu-topic-" + suffix, type="topic", durable=False, auto_delete=True)
    queue = Queue("kombu-q-" + suffix, exchange=exchange, routing_key="compute.*",
                  durable=False, auto_delete=True)
    got = []

    def on_message(body, message):
        got.append([body, message.delivery_info["routing_key"]])
        message.ack()

    with connection(url) as conn:
        with conn.channel() as ch:
            with Consumer(ch, queues=[queue], callbacks=[on_message], accept=["json"]):
                producer = Producer(ch, exchange=exchange, serializer="json")
                producer.publish({"method": "run", "args": {"id": 1}},
                                 routing_key="compute.host1", declare=[queue])
                producer.publish({"method": "skip"}, routing_key="network.host1")
                producer.publish({"method": "stop", "args": {"id": 2}},
                                 routing_key="compute.host2")
                try:
                    while len(got) < 2:
                        conn.drain_events(timeout=5)
                    conn.drain_events(timeout=0.5)  # anything unexpected would show up here
                except socket.timeout:
                    pass
    return {"got": got}


def fanout_broadcast(url):
    """oslo.messaging's fanout casts: one exchange, a queue per listener."""
    suffix = uuid.uuid4().hex
    exchange = Exchange("kombu-fanout-" + suffix, type="fanout", durable=False, auto_delete=True)
    queues = [Queue("kombu-fan-%d-%s" % (i, suffix), exchange=exchange, durable=False,
                    auto_delete=True, exclusive=True) for i in range(3)]
    with connection(url) as conn:
        with conn.channel() as ch:
            for q in queues:
                q(ch).declare()
            Producer(ch, exchange=exchange, serializer="json").publish({"cast": "all"})
            bodies = []
            for q in queues:
                m = q(ch).get(no_ack=True, accept=["json"])
                bodies.append(m.payload if m else None)
    return {"bodies": bodies}


SCENARIOS = {
    "simple_queue": simple_queue,
    "producer_consumer": producer_consumer,
    "fanout_broadcast": fanout_broadcast,
}

if __name__ == "__main__":
    scenario, url = sys.argv[1:3]
    print(json.dumps(SCENARIOS[scenario](url), default=str))
