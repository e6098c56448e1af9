"""oslo.messaging RPC calls made continuously while the test restarts the cluster's nodes.

Usage: /usr/bin/python3 cluster_rolling_rpc.py calls AMQP_URLS STOP_FILE MAX_S CALL_TIMEOUT_S [DURABLE]
AMQP_URLS is a comma-separated list of amqp://user:pass@host:port URLs, one per node; the
transport URL lists them all (rabbit://u:p@h:p1,u:p@h:p2,.../), as an OpenStack service's
transport_url does, so oslo fails over from a restarting node to the next. DURABLE ("true" or
"false", the default) is oslo's amqp_durable_queues.

One RPC server and one client (separate transports) on a fresh topic; short warm-up calls
until the server answers one, then CALLERS threads call `add` back to back, each call with
CALL_TIMEOUT_S, and the script writes STOP_FILE + ".ready". When STOP_FILE exists (or after
MAX_S) it calls on until a call made from then on is answered (recoveredAfterS), bounded, then
stops calling,
waits at most CALL_TIMEOUT_S + MARGIN_S for the calls in flight, and prints one JSON object:
how many calls were answered, how many raised (by exception class), and which never came
back (stuck). Seed 000's symptom is an RPC that hangs across a broker restart: a stuck call.
"""

import faulthandler
import json
import os
import sys
import threading
import time

import oslo_messaging
from oslo_config import cfg
from oslo_scenarios import ComputeEndpoint, init_conf, start_server, unique

CALLERS = 4
MARGIN_S = 5  # a call that has not come back after its timeout plus this is stuck
READY_WAIT_S = 30


def transport_url(amqp_urls):
    """amqp://u:p@h:p1,amqp://u:p@h:p2 -> rabbit://u:p@h:p1,u:p@h:p2/"""
    hosts = [u.split("://", 1)[1].rstrip("/") for u in amqp_urls.split(",")]
    return "rabbit://%s/" % ",".join(hosts)


def describe(e):
    """Class and first line of an error, and of the one it was raised from (oslo wraps
    kombu's errors: MessageDeliveryFailure says little of what failed)."""
    text = "%s: %s" % (type(e).__name__, str(e).split("\n")[0])
    inner = e.__cause__ or e.__context__
    if inner is not None:
        text += " (from %s.%s: %r)" % (type(inner).__module__, type(inner).__name__, inner)
    return text


class Tally:
    """What the callers saw, under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answered = 0
        self.wrong = 0
        self.errors = {}
        self.error_samples = []  # the first few, and the first of each class
        self.sampled = set()
        self.late = 0  # came back, but after timeout + margin
        self.max_call_s = 0.0
        self.in_flight = {}  # caller -> monotonic start of its current call
        self.timeline = []  # [seconds since start, error class, seconds taken] per failure
        self.last_answered_s = None  # when the last answered call began (since start)
        self.last_failed_s = None
        self.last_answered_began = None  # its monotonic start
        self.last_answered_done = None  # and when its answer came

    def record(self, started, origin, outcome, late_after_s):
        took = time.monotonic() - started
        with self.lock:
            self.max_call_s = max(self.max_call_s, took)
            if took > late_after_s:
                self.late += 1
            if outcome is True:
                self.answered += 1
                self.last_answered_s = round(started - origin, 1)
                self.last_answered_began = started
                self.last_answered_done = time.monotonic()
            elif outcome is False:
                self.wrong += 1
            else:
                name = type(outcome).__name__
                self.errors[name] = self.errors.get(name, 0) + 1
                self.last_failed_s = round(started - origin, 1)
                self.timeline.append([round(started - origin, 1), name, round(took, 1)])
                if len(self.error_samples) < 5 or name not in self.sampled:
                    self.sampled.add(name)
                    self.error_samples.append(describe(outcome))


def calls(amqp_urls, stop_file, max_s, call_timeout_s, durable="false"):
    max_s, call_timeout_s = float(max_s), int(call_timeout_s)
    url = transport_url(amqp_urls)
    topic = unique("warren-rolling")
    server_transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=url)
    client_transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=url)
    # Registered with the first transport, read when connections are made (later, lazily).
    # Many deployments set it: the topic and fanout queues then survive a broker restart.
    cfg.CONF.set_override("amqp_durable_queues", durable == "true",
                          group="oslo_messaging_rabbit")
    server = start_server(server_transport, topic, "host-a", ComputeEndpoint("host-a"))
    client = oslo_messaging.get_rpc_client(
        client_transport, oslo_messaging.Target(topic=topic), timeout=call_timeout_s)
    # The server consumes once its listener has declared the topic queue, a moment after
    # start(): calls made before that are lost (nobody's queue) and would time out. Warm up
    # with short calls until one is answered; only the calls after that are counted.
    warm_deadline = time.monotonic() + READY_WAIT_S
    warm_up_calls = 0
    while True:
        warm_up_calls += 1
        try:
            client.prepare(timeout=2).call({}, "add", a=1, b=1)
            break
        except oslo_messaging.MessagingTimeout:
            if time.monotonic() > warm_deadline:
                # Not one call answered before any restart: said, not raised, so the test
                # reports it as such.
                with open(stop_file + ".ready", "w") as f:
                    f.write("{}")
                return {"warmUpFailed": True, "warmUpCalls": warm_up_calls}
    tally = Tally()
    stop = threading.Event()
    origin = time.monotonic()

    def caller(k):
        i = 0
        while not stop.is_set():
            started = time.monotonic()
            with tally.lock:
                tally.in_flight[k] = started
            try:
                outcome = client.call({}, "add", a=k * 1_000_000 + i, b=1) == k * 1_000_000 + i + 1
            except Exception as e:  # noqa: BLE001 - every raised error is counted by class
                outcome = e
            with tally.lock:
                del tally.in_flight[k]
            tally.record(started, origin, outcome, call_timeout_s + MARGIN_S)
            i += 1

    threads = [threading.Thread(target=caller, args=(k,), daemon=True) for k in range(CALLERS)]
    for t in threads:
        t.start()
    # When the counted calls began, on the wall clock: the test places its restarts on the
    # same time line as the failures.
    with open(stop_file + ".ready", "w") as f:
        f.write(json.dumps({"originMs": (time.time() - (time.monotonic() - origin)) * 1000}))
    deadline = origin + max_s
    while not os.path.exists(stop_file) and time.monotonic() < deadline:
        time.sleep(0.1)
    # The stop file says every node is back: keep calling until a call made from now on is
    # answered (RPC works again after the restarts), bounded.
    settled = time.monotonic()
    recovery_deadline = settled + 2 * call_timeout_s + MARGIN_S
    while time.monotonic() < recovery_deadline:
        with tally.lock:
            if tally.last_answered_began is not None and tally.last_answered_began >= settled:
                break
        time.sleep(0.05)
    with tally.lock:
        recovered_after_s = (round(tally.last_answered_done - settled, 1)
                             if tally.last_answered_began is not None
                             and tally.last_answered_began >= settled else None)
    calls_s = time.monotonic() - origin
    stop.set()
    join_deadline = time.monotonic() + call_timeout_s + MARGIN_S
    for t in threads:
        t.join(max(0.0, join_deadline - time.monotonic()))
    now = time.monotonic()
    with tally.lock:
        stuck = sorted(round(now - s, 1) for s in tally.in_flight.values())
        result = {
            "warmUpCalls": warm_up_calls,
            "callers": CALLERS,
            "callsS": round(calls_s, 1),
            "answered": tally.answered,
            "wrong": tally.wrong,
            "failed": sum(tally.errors.values()),
            "errors": tally.errors,
            "errorSamples": tally.error_samples,
            "failures": tally.timeline[:50],
            "recoveredAfterS": recovered_after_s,
            "lastAnsweredS": tally.last_answered_s,
            "lastFailedS": tally.last_failed_s,
            "late": tally.late,
            "maxCallS": round(tally.max_call_s, 1),
            "stuck": len(stuck),
            "stuckForS": stuck,
        }
    # Stopping the server and the transports is bounded too: a hang there is reported, not
    # waited for (the daemon threads and any stuck call die with the process).
    closer = threading.Thread(target=lambda: (server.stop(), server.wait(),
                                              client_transport.cleanup(),
                                              server_transport.cleanup()), daemon=True)
    closer.start()
    closer.join(15)
    result["cleanupHung"] = closer.is_alive()
    return result


SCENARIOS = {"calls": calls}

if __name__ == "__main__":
    scenario, urls, *rest = sys.argv[1:]
    # A watchdog past every bound above: dump the threads' stacks and exit non-zero.
    faulthandler.dump_traceback_later(float(rest[1]) + 60, exit=True)
    init_conf()
    outcome = SCENARIOS[scenario](urls, *rest)
    faulthandler.cancel_dump_traceback_later()
    print(json.dumps(outcome), flush=True)
    # Daemon threads stuck in a call must not hold the exit (nor oslo's non-daemon threads).
    os._exit(0)
