"""oslo.messaging scenarios for the Warren interop suite (the rabbit driver, over kombu/py-amqp).

Usage: /usr/bin/python3 oslo_scenarios.py SCENARIO AMQP_URL [ARGS...]
Converts the amqp:// URL into a rabbit:// transport URL, runs one scenario and prints one
JSON object (the last line of stdout) with what it observed. oslo's logs go to stderr.
Every wait is bounded; a scenario that still runs after WATCHDOG_S seconds dumps every
thread's stack to stderr and exits non-zero.
"""

import faulthandler
import json
import logging
import os
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import oslo_messaging
from kombu import Connection
from oslo_config import cfg

WATCHDOG_S = 25
WAIT_S = 10  # the longest any scenario waits for one thing

logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def transport_url(amqp_url):
    """amqp://guest:guest@127.0.0.1:PORT[/vhost] -> rabbit://guest:guest@127.0.0.1:PORT/[vhost]"""
    u = urlsplit(amqp_url)
    return urlunsplit(("rabbit", u.netloc, u.path or "/", "", ""))


def init_conf():
    """cfg.CONF, as OpenStack services use it (oslo's metrics options live only there)."""
    cfg.CONF(args=[], project="warren-interop", default_config_files=[],
             default_config_dirs=[])
    # Metrics are off, but the RPC client still starts a non-daemon thread that lingers this
    # long after the last call (10 s by default) and holds the process open at exit.
    cfg.CONF.set_override("metrics_thread_stop_timeout", 1, group="oslo_messaging_metrics")


def rpc_transport(url, rabbit_overrides=None):
    transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=transport_url(url))
    # The driver's options are registered by now; connections are made lazily, after this.
    # The overrides are process-wide (cfg.CONF): they apply to every connection opened later.
    for name, value in (rabbit_overrides or {}).items():
        cfg.CONF.set_override(name, value, group="oslo_messaging_rabbit")
    return transport


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


class Recorder:
    """Thread-safe list of what endpoints saw, with a bounded wait."""

    def __init__(self):
        self._cond = threading.Condition()
        self.items = []

    def add(self, item):
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def take(self, count, timeout=WAIT_S, grace=0.5):
        """Waits until count items arrived, then grace seconds more for unexpected extras;
        returns everything that arrived and starts a new list."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.items) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
        time.sleep(grace)
        with self._cond:
            taken, self.items = self.items, []
            return taken


class FlavorNotFound(Exception):
    """Defined in __main__, which the client does not allow: comes back as RemoteError."""


class ComputeEndpoint:
    target = oslo_messaging.Target(version="1.0")

    def __init__(self, name, recorder=None):
        self.name = name
        self.recorder = recorder

    def add(self, ctxt, a, b):
        return a + b

    def echo(self, ctxt, value):
        return value

    def whoami(self, ctxt):
        return {"server": self.name, "request_id": ctxt.get("request_id")}

    @oslo_messaging.expected_exceptions(ValueError)
    def fail_value(self, ctxt, flavor):
        raise ValueError("bad flavor %s" % flavor)

    @oslo_messaging.expected_exceptions(FlavorNotFound)
    def fail_custom(self, ctxt, flavor):
        raise FlavorNotFound("flavor %s not found" % flavor)

    def record(self, ctxt, note):
        if self.recorder is not None:
            self.recorder.add([self.name, note])


def start_server(transport, topic, server, endpoint):
    target = oslo_messaging.Target(topic=topic, server=server)
    srv = oslo_messaging.get_rpc_server(transport, target, [endpoint], executor="threading")
    srv.start()
    return srv


def stop_servers(servers):
    for srv in servers:
        srv.stop()
    for srv in servers:
        srv.wait()


def describe_exception(e):
    info = {"class": type(e).__name__, "module": type(e).__module__,
            "firstLine": str(e).split("\n", 1)[0]}
    if isinstance(e, oslo_messaging.RemoteError):
        info["excType"] = e.exc_type
        info["value"] = e.value
    info["isValueError"] = isinstance(e, ValueError)
    return info


def call_catching(client, method, **kwargs):
    try:
        return {"returned": client.call({}, method, **kwargs)}
    except Exception as e:  # noqa: BLE001 - the scenario reports what came back
        return {"raised": describe_exception(e)}


def rpc_call(url):
    topic = unique("warren-oslo-rpc")
    server_transport = rpc_transport(url)
    client_transport = rpc_transport(url)
    servers = []
    try:
        servers.append(start_server(server_transport, topic, "host-a", ComputeEndpoint("host-a")))
        client = oslo_messaging.get_rpc_client(
            client_transport, oslo_messaging.Target(topic=topic), timeout=WAIT_S, retry=2)
        big = "".join("%06d;" % i for i in range(50000))  # 350 kB: several frames each way
        results = {}
        with_ctx = client.call({"request_id": "req-42"}, "whoami")
        results["add"] = client.call({}, "add", a=40, b=2)
        results["echo"] = client.call({}, "echo", value={"name": "vm-1", "flavor": "m1.small",
                                                           "tags": ["a", "é", "☃"], "n": None})
        big_back = client.call({}, "echo", value=big)
        results["bigEchoLength"] = len(big_back)
        results["bigEchoEqual"] = big_back == big
        results["whoami"] = with_ctx
        results["directed"] = client.prepare(server="host-a").call({}, "whoami")

        parallel = [None] * 10

        def one(i):
            parallel[i] = client.call({}, "add", a=i, b=1000)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT_S)
        results["parallel"] = parallel

        results["valueError"] = call_catching(client, "fail_value", flavor="m1.huge")
        results["customError"] = call_catching(client, "fail_custom", flavor="m1.tiny")
        results["noSuchMethod"] = call_catching(client, "reboot_everything")
        results["afterErrors"] = client.call({}, "add", a=1, b=1)
        return results
    finally:
        stop_servers(servers)
        client_transport.cleanup()
        server_transport.cleanup()


def rpc_cast_fanout(url):
    topic = unique("warren-oslo-cast")
    recorder = Recorder()
    server_transport = rpc_transport(url)
    client_transport = rpc_transport(url)
    servers = []
    try:
        for name in ("host-a", "host-b"):
            servers.append(start_server(server_transport, topic, name,
                                        ComputeEndpoint(name, recorder)))
        client = oslo_messaging.get_rpc_client(
            client_transport, oslo_messaging.Target(topic=topic), timeout=WAIT_S, retry=2)

        client.cast({}, "record", note="cast-1")
        plain = recorder.take(1)

        client.prepare(server="host-b").cast({}, "record", note="directed")
        directed = recorder.take(1)

        client.prepare(fanout=True).cast({}, "record", note="fanout")
        fanout = sorted(recorder.take(2))

        # A call after the casts: the servers still answer.
        after = client.call({}, "add", a=2, b=3)
        return {"plain": [note for _, note in plain], "plainServers": len(plain),
                "directed": directed, "fanout": fanout, "callAfter": after}
    finally:
        stop_servers(servers)
        client_transport.cleanup()
        server_transport.cleanup()


def rpc_timeout(url, timeout_s="3"):
    timeout_s = int(timeout_s)
    topic = unique("warren-oslo-nobody")
    transport = rpc_transport(url)
    try:
        client = oslo_messaging.get_rpc_client(
            transport, oslo_messaging.Target(topic=topic), timeout=timeout_s, retry=2)
        started = time.monotonic()
        try:
            value = client.call({}, "build_instance", name="vm-1")
            outcome = {"returned": value}
        except Exception as e:  # noqa: BLE001
            outcome = {"raised": type(e).__name__,
                       "isMessagingTimeout": isinstance(e, oslo_messaging.MessagingTimeout)}
        outcome["elapsedS"] = round(time.monotonic() - started, 2)
        return outcome
    finally:
        transport.cleanup()


class NotificationEndpoint:
    def __init__(self, recorder):
        self.recorder = recorder

    def _record(self, priority, publisher_id, event_type, payload, metadata):
        self.recorder.add({"priority": priority, "publisherId": publisher_id,
                           "eventType": event_type, "payload": payload,
                           "hasMessageId": bool(metadata.get("message_id")),
                           "hasTimestamp": bool(metadata.get("timestamp"))})
        return oslo_messaging.NotificationResult.HANDLED

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        return self._record("info", publisher_id, event_type, payload, metadata)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        return self._record("error", publisher_id, event_type, payload, metadata)


def notifications(url, run_id):
    transport = oslo_messaging.get_notification_transport(cfg.CONF, url=transport_url(url))
    recorder = Recorder()
    listener = None
    try:
        notifier = oslo_messaging.Notifier(transport, publisher_id="compute.host-a",
                                           driver="messaging", topics=["notifications"], retry=2)
        # Sent before any listener exists: the notifier declares notifications.info itself,
        # so the message waits in that queue.
        notifier.info({}, "compute.instance.create.end",
                      {"run": run_id, "instance_id": "vm-1", "state": "active"})
        listener = oslo_messaging.get_notification_listener(
            transport, [oslo_messaging.Target(topic="notifications")],
            [NotificationEndpoint(recorder)], executor="threading")
        listener.start()
        notifier.error({}, "compute.instance.create.error",
                       {"run": run_id, "instance_id": "vm-2", "reason": "No valid host"})
        got = recorder.take(2)
        return {"received": sorted(got, key=lambda n: n["priority"], reverse=True)}
    finally:
        if listener is not None:
            listener.stop()
            listener.wait()
        transport.cleanup()


def queue_state(url, name):
    """[messages, consumers] of a queue (a passive declare), or None when it does not exist."""
    with Connection(url, connect_timeout=5, transport_options={"max_retries": 1}) as conn:
        ch = conn.channel()
        try:
            _, messages, consumers = ch.queue_declare(name, passive=True)
            return [messages, consumers]
        except conn.channel_errors as e:
            if getattr(e, "code", None) == 404:
                return None
            raise
        finally:
            try:
                ch.close()
            except Exception:  # noqa: BLE001 - a channel closed by the 404 is already gone
                pass


def gone_after_expiry(url, name, ttl_s):
    """Whether the queue is gone once unused for longer than its x-expires. Checked once,
    after the wait: a passive declare is a use that renews the lease (as in RabbitMQ),
    so polling would keep the queue alive."""
    time.sleep(ttl_s * 2 + 1)
    return queue_state(url, name) is None


def reply_queue_expiry(url, ttl_s="1"):
    """The reply queue (reply_<uuid>) has x-expires = rabbit_transient_queues_ttl: it lives
    while the client consumes from it and goes away once the client's transport is cleaned up."""
    ttl_s = int(ttl_s)
    topic = unique("warren-oslo-reply")
    server_transport = rpc_transport(url)
    client_transport = rpc_transport(url, {"rabbit_transient_queues_ttl": ttl_s})
    servers = []
    cleaned = False
    try:
        servers.append(start_server(server_transport, topic, "host-a", ComputeEndpoint("host-a")))
        client = oslo_messaging.get_rpc_client(
            client_transport, oslo_messaging.Target(topic=topic), timeout=WAIT_S, retry=2)
        first = client.call({}, "add", a=1, b=2)
        reply_q = client_transport._driver._reply_q  # oslo's own name for it: reply_<uuid>
        in_use = queue_state(url, reply_q)
        time.sleep(ttl_s * 2 + 0.5)  # idle, but consumed: x-expires must not fire
        after_idle = queue_state(url, reply_q)
        second = client.call({}, "add", a=3, b=4)
        client_transport.cleanup()
        cleaned = True
        gone = gone_after_expiry(url, reply_q, ttl_s)
        return {"replyQueuePrefix": reply_q.split("_", 1)[0], "calls": [first, second],
                "whileConsumed": in_use, "afterIdleWhileConsumed": after_idle,
                "goneAfterCleanup": gone}
    finally:
        stop_servers(servers)
        if not cleaned:
            client_transport.cleanup()
        server_transport.cleanup()


class Captured(logging.Handler):
    """Collects the messages of one logger (oslo logs some failures only at debug level)."""

    def __init__(self, logger_name, needle):
        super().__init__(logging.DEBUG)
        self.needle = needle
        self.messages = []
        self.logger = logging.getLogger(logger_name)
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self)
        self.logger.propagate = False  # its debug lines stay off stderr

    def emit(self, record):
        message = record.getMessage()
        if self.needle in message:
            self.messages.append(message)
        elif record.levelno >= logging.WARNING:
            logging.getLogger().handle(record)


def established_sockets_to(port):
    """How many ESTABLISHED TCP sockets this process holds to 127.0.0.1:port (Linux /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    with open("/proc/self/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            remote_port = int(cols[2].split(":")[1], 16)
            if cols[3] == "01" and remote_port == port and cols[9] in inodes:
                count += 1
    return count


def server_shutdown(url):
    """Stopping an RPC server and cleaning up its transport closes its connections (with
    connection.close): oslo deletes the server's fanout queue while still consuming from it,
    then closes the channel and the connection. A failure there is logged at debug level
    ("pooled conn close failure (ignored)") and leaves the connection open."""
    topic = unique("warren-oslo-stop")
    failures = Captured("oslo_messaging._drivers.common", "close failure")
    server_transport = rpc_transport(url)
    client_transport = rpc_transport(url)
    port = urlsplit(url).port
    srv = start_server(server_transport, topic, "host-a", ComputeEndpoint("host-a"))
    try:
        client = oslo_messaging.get_rpc_client(
            client_transport, oslo_messaging.Target(topic=topic), timeout=WAIT_S, retry=2)
        answer = client.call({}, "add", a=20, b=22)
        while_running = established_sockets_to(port)
    finally:
        stop_servers([srv])
        server_transport.cleanup()
        client_transport.cleanup()
    return {"answer": answer, "connectionsWhileRunning": while_running,
            "closeFailures": failures.messages,
            "connectionsAfterCleanup": established_sockets_to(port)}


SCENARIOS = {
    "rpc_call": rpc_call,
    "rpc_cast_fanout": rpc_cast_fanout,
    "rpc_timeout": rpc_timeout,
    "notifications": notifications,
    "reply_queue_expiry": reply_queue_expiry,
    "server_shutdown": server_shutdown,
}

if __name__ == "__main__":
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    scenario, amqp_url = sys.argv[1:3]
    init_conf()
    result = SCENARIOS[scenario](amqp_url, *sys.argv[3:])
    faulthandler.cancel_dump_traceback_later()
    print(json.dumps(result, default=str), flush=True)
