"""oslo.messaging 14 (Debian's) with rabbit_quorum_queue = true on a 3-node Warren cluster.

Usage: /usr/bin/python3 quorum-oslo.py run AMQP_URLS STOP_FILE CALL_TIMEOUT_S MAX_S
AMQP_URLS is a comma-separated list of amqp://user:pass@host:port URLs, one per node; the
transport URL lists them all, as an OpenStack service's transport_url does.

Phase 1: an RPC server and a client on a fresh topic (warm-up calls until the server
answers), 50 calls, 20 casts; a notifier sending 20 info notifications on a fresh topic and a
listener receiving them. It then writes STOP_FILE + ".ready" (JSON: what phase 1 saw and the
names oslo gave its queues), so the test can look at the queues and kill a node.
Phase 2: CALLERS threads call `add` back to back, each call with CALL_TIMEOUT_S, until
STOP_FILE exists (or MAX_S); then on until a call made after that is answered (bounded).
Prints one JSON object: phase 1's results, and for phase 2 every call's outcome, counted by
class, with each call's start on the wall clock so the test splits them at its kill.
A call that has not come back CALL_TIMEOUT_S + MARGIN_S after it began is stuck.
"""

import faulthandler
import json
import os
import sys
import threading
import time

import oslo_messaging
from oslo_config import cfg
from oslo_scenarios import (
    ComputeEndpoint,
    NotificationEndpoint,
    Recorder,
    init_conf,
    start_server,
    stop_servers,
    unique,
)

CALLERS = 2
CALLS = 50
CASTS = 20
NOTIFICATIONS = 20
MARGIN_S = 5
WARM_UP_S = 30


def transport_url(amqp_urls):
    """amqp://u:p@h:p1,amqp://u:p@h:p2 -> rabbit://u:p@h:p1,u:p@h:p2/"""
    hosts = [u.split("://", 1)[1].rstrip("/") for u in amqp_urls.split(",")]
    return "rabbit://%s/" % ",".join(hosts)


def now_ms():
    return int(time.time() * 1000)


def phase_one(client, recorder, notify_transport, notify_topic):
    warm_deadline = time.monotonic() + WARM_UP_S
    warm_up = 0
    while True:
        warm_up += 1
        try:
            client.prepare(timeout=2).call({}, "add", a=1, b=1)
            break
        except oslo_messaging.MessagingTimeout:
            if time.monotonic() > warm_deadline:
                return {"warmUpFailed": True, "warmUpCalls": warm_up}
    started = time.monotonic()
    right = 0
    for i in range(CALLS):
        if client.call({}, "add", a=i, b=1000) == i + 1000:
            right += 1
    calls_s = time.monotonic() - started
    for i in range(CASTS):
        client.cast({}, "record", note="cast-%d" % i)
    casts = recorder.take(CASTS)

    got = Recorder()
    listener = oslo_messaging.get_notification_listener(
        notify_transport, [oslo_messaging.Target(topic=notify_topic)],
        [NotificationEndpoint(got)], executor="threading")
    listener.start()
    try:
        notifier = oslo_messaging.Notifier(notify_transport, publisher_id="compute.host-a",
                                           driver="messaging", topics=[notify_topic], retry=2)
        for i in range(NOTIFICATIONS):
            notifier.info({}, "compute.instance.update", {"n": i})
        notes = got.take(NOTIFICATIONS)
    finally:
        listener.stop()
        listener.wait()
    return {
        "warmUpCalls": warm_up,
        "callsRight": right,
        "callsS": round(calls_s, 2),
        "casts": sorted(int(note.split("-")[1]) for _, note in casts),
        "notifications": sorted(n["payload"]["n"] for n in notes),
        "notificationPriorities": sorted({n["priority"] for n in notes}),
    }


class Calls:
    """Every phase-2 call: [wall-clock start ms, outcome ("ok", "wrong" or the error's
    class), seconds taken], and the calls in flight, under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.done = []
        self.in_flight = {}
        self.samples = {}  # first message of each error class

    def record(self, start_ms, outcome, took, error=None):
        with self.lock:
            self.done.append([start_ms, outcome, round(took, 2)])
            if error is not None and outcome not in self.samples:
                self.samples[outcome] = str(error).split("\n")[0][:300]


def phase_two(client, stop_file, call_timeout_s, max_s):
    calls = Calls()
    stop = threading.Event()

    def caller(k):
        i = 0
        while not stop.is_set():
            began, start_ms = time.monotonic(), now_ms()
            with calls.lock:
                calls.in_flight[k] = began
            a = k * 1_000_000 + i
            error = None
            try:
                outcome = "ok" if client.call({}, "add", a=a, b=1) == a + 1 else "wrong"
            except Exception as e:  # noqa: BLE001 - every raised error is counted by class
                outcome, error = type(e).__name__, e
            with calls.lock:
                del calls.in_flight[k]
            calls.record(start_ms, outcome, time.monotonic() - began, error)
            i += 1

    threads = [threading.Thread(target=caller, args=(k,), daemon=True) for k in range(CALLERS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + max_s
    while not os.path.exists(stop_file) and time.monotonic() < deadline:
        time.sleep(0.1)
    settled_ms = now_ms()
    recovery_deadline = time.monotonic() + 2 * call_timeout_s + MARGIN_S
    recovered_ms = None
    while time.monotonic() < recovery_deadline and recovered_ms is None:
        with calls.lock:
            for start_ms, outcome, took in calls.done:
                if outcome == "ok" and start_ms >= settled_ms:
                    recovered_ms = start_ms + took * 1000
                    break
        time.sleep(0.05)
    stop.set()
    join_deadline = time.monotonic() + call_timeout_s + MARGIN_S
    for t in threads:
        t.join(max(0.0, join_deadline - time.monotonic()))
    now = time.monotonic()
    with calls.lock:
        return {
            "callers": CALLERS,
            "calls": calls.done,
            "errorSamples": calls.samples,
            "stopMs": settled_ms,
            "recoveredAfterS": (None if recovered_ms is None
                                else round((recovered_ms - settled_ms) / 1000, 1)),
            "stuckForS": sorted(round(now - s, 1) for s in calls.in_flight.values()),
        }


def run(amqp_urls, stop_file, call_timeout_s, max_s):
    call_timeout_s, max_s = int(call_timeout_s), float(max_s)
    url = transport_url(amqp_urls)
    topic = unique("qq-oslo-rpc")
    notify_topic = unique("qq-oslo-notify")
    server_transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=url)
    client_transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=url)
    notify_transport = oslo_messaging.get_notification_transport(cfg.CONF, url=url)
    # The driver's options are registered by now; connections are made lazily, after this.
    cfg.CONF.set_override("rabbit_quorum_queue", True, group="oslo_messaging_rabbit")
    recorder = Recorder()
    server = start_server(server_transport, topic, "host-a", ComputeEndpoint("host-a", recorder))
    client = oslo_messaging.get_rpc_client(
        client_transport, oslo_messaging.Target(topic=topic), timeout=call_timeout_s)
    result = {"topic": topic, "server": "host-a", "notifyTopic": notify_topic}
    try:
        result.update(phase_one(client, recorder, notify_transport, notify_topic))
        result["replyQueue"] = client_transport._driver._reply_q
        with open(stop_file + ".ready", "w") as f:
            f.write(json.dumps(result))
        if result.get("warmUpFailed"):
            return result
        result.update(phase_two(client, stop_file, call_timeout_s, max_s))
        return result
    finally:
        # Bounded: a hang there is reported, not waited for.
        closer = threading.Thread(target=lambda: (stop_servers([server]),
                                                  client_transport.cleanup(),
                                                  server_transport.cleanup(),
                                                  notify_transport.cleanup()), daemon=True)
        closer.start()
        closer.join(15)
        result["cleanupHung"] = closer.is_alive()


SCENARIOS = {"run": run}

if __name__ == "__main__":
    scenario, urls, *rest = sys.argv[1:]
    # A watchdog past every bound above: dump the threads' stacks and exit non-zero.
    faulthandler.dump_traceback_later(WARM_UP_S + 60 + float(rest[2]) + 4 * float(rest[1]),
                                      exit=True)
    init_conf()
    outcome = SCENARIOS[scenario](urls, *rest)
    faulthandler.cancel_dump_traceback_later()
    print(json.dumps(outcome), flush=True)
    # Daemon threads stuck in a call must not hold the exit (nor oslo's non-daemon threads).
    os._exit(0)
