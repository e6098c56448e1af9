// Scenarios for Warren's interop suite, run with Debian's RabbitMQ Java client 5.0.0
// (librabbitmq-client-java), with the client's defaults (automatic recovery on).
//
// Usage: java -cp CLASSES:amqp-client.jar:slf4j-api.jar:slf4j-nop.jar WarrenScenarios SCENARIO AMQP_URL
// Prints one JSON object with what the scenario observed; test/interop/java-client.test.ts
// asserts on it. An unexpected exception exits 1 with its stack trace on stderr. Every wait
// is bounded.

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.BlockedListener;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ConfirmListener;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.GetResponse;
import com.rabbitmq.client.ShutdownSignalException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

public final class WarrenScenarios {
  private static final long WAIT_MS = 5000;
  /** How long a scenario waits to be sure that nothing more arrives. */
  private static final long QUIET_MS = 400;

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: WarrenScenarios SCENARIO AMQP_URL");
      System.exit(2);
    }
    String url = args[1];
    Map<String, Object> r;
    switch (args[0]) {
      case "topology_confirm_consume": r = topologyConfirmConsume(url); break;
      case "mandatory_return": r = mandatoryReturn(url); break;
      case "channel_error": r = channelError(url); break;
      case "qos_prefetch": r = qosPrefetch(url); break;
      case "consumer_cancel_notify": r = consumerCancelNotify(url); break;
      case "blocked": r = blocked(url); break;
      case "heartbeat": r = heartbeat(url); break;
      default:
        System.err.println("unknown scenario " + args[0]);
        System.exit(2);
        return;
    }
    System.out.println(json(r));
    System.out.flush();
    // A blocked connection cannot close cleanly (the broker reads nothing more from it),
    // so the blocked scenario leaves its connection to the process exit.
    System.exit(0);
  }

  private static Connection connect(String url, int heartbeatSeconds) throws Exception {
    ConnectionFactory factory = new ConnectionFactory();
    factory.setUri(url);
    factory.setConnectionTimeout((int) WAIT_MS);
    factory.setHandshakeTimeout((int) WAIT_MS);
    factory.setChannelRpcTimeout((int) WAIT_MS);
    if (heartbeatSeconds >= 0) factory.setRequestedHeartbeat(heartbeatSeconds);
    return factory.newConnection("warren-interop-java");
  }

  private static Connection connect(String url) throws Exception {
    return connect(url, -1);
  }

  /** The reply code of the channel.close or connection.close behind a failed call. */
  private static Object replyCode(IOException e) {
    if (!(e.getCause() instanceof ShutdownSignalException)) return String.valueOf(e);
    Object reason = ((ShutdownSignalException) e.getCause()).getReason();
    if (reason instanceof AMQP.Channel.Close) return ((AMQP.Channel.Close) reason).getReplyCode();
    if (reason instanceof AMQP.Connection.Close) return ((AMQP.Connection.Close) reason).getReplyCode();
    return String.valueOf(reason);
  }

  private static String unique(String prefix) {
    return prefix + "-" + UUID.randomUUID();
  }

  private static String text(byte[] body) {
    return new String(body, StandardCharsets.UTF_8);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static <T> T take(BlockingQueue<T> q, String what) throws Exception {
    T item = q.poll(WAIT_MS, TimeUnit.MILLISECONDS);
    if (item == null) throw new IllegalStateException("timed out waiting for " + what);
    return item;
  }

  /** One delivery as a consumer saw it. */
  private static final class Seen {
    final Envelope envelope;
    final AMQP.BasicProperties props;
    final byte[] body;

    Seen(Envelope envelope, AMQP.BasicProperties props, byte[] body) {
      this.envelope = envelope;
      this.props = props;
      this.body = body;
    }
  }

  /** A consumer that queues its deliveries and records a cancel from the broker. */
  private static final class Collector extends DefaultConsumer {
    final BlockingQueue<Seen> deliveries = new ArrayBlockingQueue<>(1000);
    final BlockingQueue<String> cancels = new ArrayBlockingQueue<>(10);

    Collector(Channel ch) {
      super(ch);
    }

    @Override
    public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties props, byte[] body) {
      deliveries.add(new Seen(env, props, body));
    }

    @Override
    public void handleCancel(String consumerTag) {
      cancels.add(consumerTag);
    }
  }

  // Declares a direct exchange, a server-named queue and a binding, publishes 20 messages
  // with publisher confirms and waits for them, then consumes them with manual acks.
  // queueDeclare() is exclusive and auto-delete, so cancelling the consumer deletes the queue.
  static Map<String, Object> topologyConfirmConsume(String url) throws Exception {
    final int n = 20;
    Map<String, Object> r = new LinkedHashMap<>();
    try (Connection conn = connect(url)) {
      Channel ch = conn.createChannel();
      String exchange = unique("java-direct");
      ch.exchangeDeclare(exchange, "direct", false, true, null);
      String queue = ch.queueDeclare().getQueue();
      ch.queueBind(queue, exchange, "orders");
      ch.confirmSelect();
      List<String> confirms = Collections.synchronizedList(new ArrayList<>());
      ch.addConfirmListener(new ConfirmListener() {
        public void handleAck(long tag, boolean multiple) {
          confirms.add("ack:" + tag + (multiple ? "+" : ""));
        }

        public void handleNack(long tag, boolean multiple) {
          confirms.add("nack:" + tag + (multiple ? "+" : ""));
        }
      });
      for (int i = 0; i < n; i++) {
        Map<String, Object> headers = new HashMap<>();
        headers.put("n", i);
        AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
            .contentType("text/plain")
            .correlationId("c-" + i)
            .deliveryMode(2)
            .headers(headers)
            .build();
        ch.basicPublish(exchange, "orders", props, bytes("m" + i));
      }
      r.put("confirmedAll", ch.waitForConfirms(WAIT_MS));
      r.put("lastConfirm", confirms.isEmpty() ? null : confirms.get(confirms.size() - 1));
      r.put("nacks", confirms.stream().filter(c -> c.startsWith("nack")).count());
      r.put("readyAfterConfirms", ch.queueDeclarePassive(queue).getMessageCount());
      Collector consumer = new Collector(ch);
      String tag = ch.basicConsume(queue, false, "java-consumer", consumer);
      List<String> bodies = new ArrayList<>();
      List<Object> ns = new ArrayList<>();
      List<String> correlationIds = new ArrayList<>();
      int wrongFields = 0;
      int redelivered = 0;
      for (int i = 0; i < n; i++) {
        Seen d = take(consumer.deliveries, "delivery " + i);
        bodies.add(text(d.body));
        ns.add(d.props.getHeaders() == null ? null : d.props.getHeaders().get("n"));
        correlationIds.add(d.props.getCorrelationId());
        if (d.envelope.isRedeliver()) redelivered++;
        if (!exchange.equals(d.envelope.getExchange())
            || !"orders".equals(d.envelope.getRoutingKey())
            || !"text/plain".equals(d.props.getContentType())
            || !Integer.valueOf(2).equals(d.props.getDeliveryMode())) wrongFields++;
        ch.basicAck(d.envelope.getDeliveryTag(), false);
      }
      AMQP.Queue.DeclareOk left = ch.queueDeclarePassive(queue);
      ch.basicCancel(tag);
      // queueDeclare() makes an auto-delete queue: cancelling its only consumer deletes it.
      try {
        ch.queueDeclarePassive(queue);
        r.put("afterCancel", "still there");
      } catch (IOException e) {
        r.put("afterCancel", replyCode(e));
      }
      r.put("queueName", queue);
      r.put("consumerTag", tag);
      r.put("bodies", bodies);
      r.put("headers", ns);
      r.put("correlationIds", correlationIds);
      r.put("redelivered", redelivered);
      r.put("wrongFields", wrongFields);
      r.put("left", left.getMessageCount());
      r.put("consumersLeft", left.getConsumerCount());
    }
    return r;
  }

  // A mandatory publish that no queue takes comes back to the ReturnListener with 312
  // NO_ROUTE before its confirm; a plain one is confirmed without a return.
  static Map<String, Object> mandatoryReturn(String url) throws Exception {
    Map<String, Object> r = new LinkedHashMap<>();
    try (Connection conn = connect(url)) {
      Channel ch = conn.createChannel();
      // Return and confirm listeners run on the connection's reader thread, in wire order.
      List<Object> events = Collections.synchronizedList(new ArrayList<>());
      List<Object> returned = new ArrayList<>();
      ch.addReturnListener((code, replyText, exchange, routingKey, props, body) -> {
        events.add("return");
        returned.add(List.of(code, replyText, exchange, routingKey, text(body), props.getMessageId()));
      });
      ch.confirmSelect();
      ch.addConfirmListener(new ConfirmListener() {
        public void handleAck(long tag, boolean multiple) {
          events.add("ack:" + tag);
        }

        public void handleNack(long tag, boolean multiple) {
          events.add("nack:" + tag);
        }
      });
      String key = unique("nowhere");
      AMQP.BasicProperties props = new AMQP.BasicProperties.Builder().messageId("lost-1").build();
      ch.basicPublish("amq.direct", key, true, props, bytes("lost"));
      ch.basicPublish("amq.direct", key, false, null, bytes("dropped"));
      r.put("confirmedAll", ch.waitForConfirms(WAIT_MS));
      Thread.sleep(QUIET_MS);
      r.put("key", key);
      r.put("returned", returned);
      r.put("events", new ArrayList<>(events));
    }
    return r;
  }

  // A passive declare of a missing queue fails with 404 and closes that channel only.
  static Map<String, Object> channelError(String url) throws Exception {
    Map<String, Object> r = new LinkedHashMap<>();
    try (Connection conn = connect(url)) {
      Channel other = conn.createChannel();
      Channel failing = conn.createChannel();
      String missing = unique("missing");
      r.put("missing", missing);
      try {
        failing.queueDeclarePassive(missing);
        r.put("error", null);
      } catch (IOException e) {
        ShutdownSignalException sse = (ShutdownSignalException) e.getCause();
        AMQP.Channel.Close close = (AMQP.Channel.Close) sse.getReason();
        r.put("error", List.of(close.getReplyCode(), close.getReplyText()));
        r.put("hardError", sse.isHardError());
      }
      r.put("channelOpen", failing.isOpen());
      r.put("connectionOpen", conn.isOpen());
      String queue = other.queueDeclare().getQueue();
      other.basicPublish("", queue, null, bytes("still here"));
      GetResponse got = null;
      for (long deadline = System.currentTimeMillis() + WAIT_MS;
          got == null && System.currentTimeMillis() < deadline; ) {
        got = other.basicGet(queue, true);
        if (got == null) Thread.sleep(20);
      }
      r.put("otherChannelGot", got == null ? null : text(got.getBody()));
      Channel fresh = conn.createChannel();
      r.put("newChannelSees", fresh.queueDeclarePassive(queue).getQueue());
    }
    return r;
  }

  // basic.qos prefetch_count=3 holds a manual-ack consumer to three unacked deliveries;
  // each ack lets exactly as many more through.
  static Map<String, Object> qosPrefetch(String url) throws Exception {
    Map<String, Object> r = new LinkedHashMap<>();
    try (Connection conn = connect(url)) {
      Channel ch = conn.createChannel();
      String queue = ch.queueDeclare().getQueue();
      ch.confirmSelect();
      for (int i = 0; i < 10; i++) ch.basicPublish("", queue, null, bytes(String.valueOf(i)));
      ch.waitForConfirmsOrDie(WAIT_MS);
      r.put("ready", ch.queueDeclarePassive(queue).getMessageCount());
      ch.basicQos(3);
      Collector consumer = new Collector(ch);
      ch.basicConsume(queue, false, consumer);
      List<Seen> got = new ArrayList<>();
      drain(consumer, got);
      r.put("window", got.size());
      if (got.isEmpty()) return r;
      ch.basicAck(got.get(0).envelope.getDeliveryTag(), false);
      drain(consumer, got);
      r.put("afterOneAck", got.size());
      ch.basicAck(got.get(got.size() - 1).envelope.getDeliveryTag(), true);
      drain(consumer, got);
      r.put("afterMultipleAck", got.size());
      List<String> bodies = new ArrayList<>();
      for (Seen d : got) bodies.add(text(d.body));
      r.put("bodies", bodies);
    }
    return r;
  }

  /** Takes deliveries until none comes for the quiet period (bounded overall). */
  private static void drain(Collector consumer, List<Seen> into) throws InterruptedException {
    long deadline = System.currentTimeMillis() + WAIT_MS;
    while (System.currentTimeMillis() < deadline) {
      Seen d = consumer.deliveries.poll(QUIET_MS, TimeUnit.MILLISECONDS);
      if (d == null) return;
      into.add(d);
    }
  }

  // Deleting a queue from another channel cancels its consumer: basic.cancel from the
  // server reaches Consumer.handleCancel, and the consumer's channel stays open.
  static Map<String, Object> consumerCancelNotify(String url) throws Exception {
    Map<String, Object> r = new LinkedHashMap<>();
    try (Connection conn = connect(url)) {
      Channel ch = conn.createChannel();
      String queue = unique("java-cancel");
      ch.queueDeclare(queue, false, false, true, null);
      Collector consumer = new Collector(ch);
      String tag = ch.basicConsume(queue, false, "java-cancelled", consumer);
      Channel admin = conn.createChannel();
      admin.queueDelete(queue);
      r.put("consumerTag", tag);
      r.put("cancelledTag", take(consumer.cancels, "basic.cancel from the server"));
      r.put("channelOpen", ch.isOpen());
      r.put("declareAfter", ch.queueDeclare().getQueue().startsWith("amq.gen-"));
    }
    return r;
  }

  // Under a memory alarm the first publish gets connection.blocked through the BlockedListener.
  static Map<String, Object> blocked(String url) throws Exception {
    Map<String, Object> r = new LinkedHashMap<>();
    Connection conn = connect(url);
    BlockingQueue<String> reasons = new ArrayBlockingQueue<>(10);
    conn.addBlockedListener(new BlockedListener() {
      public void handleBlocked(String reason) {
        reasons.add(reason);
      }

      public void handleUnblocked() {
        reasons.add("unblocked");
      }
    });
    Channel ch = conn.createChannel();
    String queue = ch.queueDeclare().getQueue();
    ch.basicPublish("", queue, null, bytes("gets it blocked"));
    r.put("reason", take(reasons, "connection.blocked"));
    return r;
  }

  // A 2 s heartbeat is negotiated and an idle connection outlives three intervals: the
  // client gives up after about two intervals without a frame from the broker (and, with
  // automatic recovery, would reconnect: the shutdown listener sees that), the broker
  // after two without one from the client.
  static Map<String, Object> heartbeat(String url) throws Exception {
    Map<String, Object> r = new LinkedHashMap<>();
    try (Connection conn = connect(url, 2)) {
      List<String> shutdowns = Collections.synchronizedList(new ArrayList<>());
      conn.addShutdownListener(cause -> shutdowns.add(String.valueOf(cause)));
      r.put("negotiated", conn.getHeartbeat());
      Thread.sleep(7000);
      r.put("shutdowns", new ArrayList<>(shutdowns));
      r.put("connectionOpen", conn.isOpen());
      Channel ch = conn.createChannel();
      r.put("declareAfter", ch.queueDeclare().getQueue().startsWith("amq.gen-"));
    }
    return r;
  }

  // A small JSON writer for the result (strings, numbers, booleans, null, lists, maps).
  static String json(Object v) {
    StringBuilder b = new StringBuilder();
    write(b, v);
    return b.toString();
  }

  private static void write(StringBuilder b, Object v) {
    if (v == null) {
      b.append("null");
    } else if (v instanceof String) {
      b.append('"');
      for (char c : ((String) v).toCharArray()) {
        if (c == '"' || c == '\\') b.append('\\').append(c);
        else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
        else b.append(c);
      }
      b.append('"');
    } else if (v instanceof Number || v instanceof Boolean) {
      b.append(v);
    } else if (v instanceof Map) {
      b.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
        if (!first) b.append(',');
        first = false;
        write(b, String.valueOf(e.getKey()));
        b.append(':');
        write(b, e.getValue());
      }
      b.append('}');
    } else if (v instanceof List) {
      b.append('[');
      boolean first = true;
      for (Object item : (List<?>) v) {
        if (!first) b.append(',');
        first = false;
        write(b, item);
      }
      b.append(']');
    } else {
      write(b, String.valueOf(v));
    }
  }
}
