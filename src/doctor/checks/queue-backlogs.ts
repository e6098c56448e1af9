import { Channel } from "../../connection/channel.js";
import type { Queue, QueueStats } from "../../queue/queue-type.js";
import { type Check, type DoctorInput, type Finding, plural, seconds } from "../finding.js";
import { type QueueSample, queueKey } from "../history.js";

/** How far back a backlog's growth is measured. */
export const BACKLOG_WINDOW_MS = 120_000;
/** Growth (messages) that counts as "growing" with stalled consumers. */
export const STALL_GROWTH = 10;
/** Growth that counts with consumers that do work but fall behind, or with no consumer. */
export const BEHIND_GROWTH = 100;
/** RPC reply queues by name: oslo.messaging's reply_<uuid>, and "*.reply", "reply-*". */
export const REPLY_QUEUE = /(^|[._-])reply([._-]|$)/i;

const ZERO = {
  ready: 0,
  unacked: 0,
  consumers: 0,
  published: 0,
  delivered: 0,
  acked: 0,
  redelivered: 0,
};

function consumersOf(q: Queue): string[] {
  return q.consumerList.map((c) => {
    const t = c.sink instanceof Channel ? c.sink.conn.transport : undefined;
    const peer = t ? `${t.remoteAddress}:${t.remotePort}` : "?";
    const prefetch = c.options.noAck
      ? "no-ack"
      : `prefetch ${c.options.prefetchCount || "unlimited"}`;
    return `consumer '${c.tag}' from ${peer}: ${c.unacked} unacknowledged, ${prefetch}`;
  });
}

function describe(q: Queue): string {
  return `queue '${q.name}' in vhost '${q.definition.vhost}'`;
}

/**
 * Seed 001, "Overloaded controllers / oversized queues" and "a backing-up reply_*
 * queue is an early sign of a stuck consumer": queues whose depth grew over the
 * last two minutes while their consumers acknowledged nothing (stalled), or less
 * than arrived (falling behind), or with no consumer at all.
 */
export const stalledConsumers: Check = {
  id: "stalled-consumers",
  description: "queues growing while their consumers stall or fall behind",
  run(input): Finding[] {
    const baseline = input.history.firstSince(input.nowMs - BACKLOG_WINDOW_MS);
    const elapsedMs = baseline ? input.nowMs - baseline.atMs : 0;
    if (!baseline || elapsedMs < 1000) return [];
    const findings: Finding[] = [];
    for (const vhost of input.broker.vhosts.values()) {
      for (const q of vhost.queues.values()) {
        const base: Omit<QueueSample, "vhost" | "name"> =
          baseline.queues.get(queueKey(vhost.name, q.name)) ?? ZERO;
        const s = q.stats();
        const depth = s.messagesReady + s.messagesUnacknowledged;
        const grew = depth - (base.ready + base.unacked);
        if (grew < STALL_GROWTH) continue;
        const finding = backlogFinding(this.id, q, s, grew, depth, base, elapsedMs);
        if (finding) findings.push(finding);
      }
    }
    return findings;
  },
};

function backlogFinding(
  check: string,
  q: Queue,
  s: QueueStats,
  grew: number,
  depth: number,
  base: Omit<QueueSample, "vhost" | "name">,
  elapsedMs: number,
): Finding | undefined {
  const isReply = REPLY_QUEUE.test(q.name);
  const acked = s.acked - base.acked;
  const delivered = s.delivered - base.delivered;
  const published = s.published - base.published;
  const anyNoAck = q.consumerList.some((c) => c.options.noAck);
  const progress = anyNoAck ? delivered : acked;
  const growth = `${describe(q)} grew by ${grew} to ${depth} messages in ${seconds(elapsedMs)}`;
  const seed = isReply
    ? "001 (backed-up reply_* queue), 000 (RPC timeouts)"
    : "001 (oversized queues)";
  if (q.consumerCount === 0) {
    if (isReply || grew < BEHIND_GROWTH) return undefined; // reply queues: the rpc-reply-queues check
    return {
      check,
      severity: "warning",
      title: `${describe(q)} is growing with no consumer`,
      evidence: [growth, `${published} published, nothing consumed`],
      remedy:
        "Start (or restart) the consumers of this queue, or stop the publisher; if the messages are not " +
        "needed, set a max-length or message-ttl policy so the backlog cannot grow without bound.",
      seed,
    };
  }
  if (progress === 0) {
    return {
      check,
      severity: "critical",
      title: `${describe(q)} is growing while its ${plural(q.consumerCount, "consumer")} acknowledge nothing`,
      evidence: [
        growth,
        `${published} published, ${delivered} delivered, ${acked} acknowledged in that time`,
        ...consumersOf(q),
      ],
      remedy:
        (isReply
          ? "This is an RPC reply queue: the caller that owns it is stuck and its RPC calls are timing out. "
          : "The consumers hold their messages without acknowledging: they are stuck (blocked event loop, " +
            "deadlock, a slow downstream call) or lost their acks. ") +
        "Look at the consumer processes named above; restarting one returns its unacknowledged messages to " +
        "the queue. A consumer-timeout policy makes the broker close such channels by itself.",
      seed,
    };
  }
  if (grew < BEHIND_GROWTH) return undefined;
  return {
    check,
    severity: "warning",
    title: `${describe(q)} is growing: its consumers fall behind`,
    evidence: [
      growth,
      `${published} published and ${acked} acknowledged in that time (${Math.round((published * 1000) / elapsedMs)}/s in, ${Math.round((acked * 1000) / elapsedMs)}/s out)`,
      ...consumersOf(q),
    ],
    remedy:
      "Add consumers or make them faster (a higher prefetch helps consumers that wait on the network); if " +
      "the publisher bursts, the queue will drain after the burst.",
    seed,
  };
}

/**
 * Seed 000, "VMs stuck in BUILD with no error": RPC replies that nobody will read.
 * A reply queue with messages and no consumer means its caller is gone or stopped
 * consuming; requests whose reply_to names a queue that does not exist will have
 * their replies dropped. Either way the callers hang until their own timeout.
 */
export const rpcReplyQueues: Check = {
  id: "rpc-reply-queues",
  description: "RPC reply queues without a consumer, and requests whose reply queue is gone",
  run(input): Finding[] {
    const findings: Finding[] = [];
    for (const vhost of input.broker.vhosts.values()) {
      for (const q of vhost.queues.values()) {
        if (!REPLY_QUEUE.test(q.name) || q.consumerCount > 0 || q.messageCount === 0) continue;
        const s = q.stats();
        findings.push({
          check: this.id,
          severity: "critical",
          title: `${describe(q)} holds ${plural(q.messageCount, "reply", "replies")} and has no consumer`,
          evidence: [
            `${s.messagesReady} ready, 0 consumers, unused for ${seconds(input.nowMs - s.lastUsedMs)}`,
            `${s.published} messages arrived since the node started`,
          ],
          remedy:
            "The RPC caller that owns this queue is gone or stopped consuming, so these replies will never " +
            "be read and its calls hang until they time out (MessagingTimeout). Restart the calling service; " +
            "an expires policy on reply queues (seed 003) removes queues whose callers are gone.",
          seed: "000 (RPC callers hang), 001 (reply_* queues)",
        });
      }
      findings.push(...orphanedRequests(input, vhost.name));
    }
    return findings;
  },
};

/** Requests waiting in queues whose reply_to names a queue that does not exist. */
function orphanedRequests(input: DoctorInput, vhostName: string): Finding[] {
  const vhost = input.broker.vhosts.get(vhostName)!;
  const missing = new Map<string, { count: number; queues: Set<string> }>();
  for (const q of vhost.queues.values()) {
    // Only the head of each queue: enough to see the pattern, bounded in cost.
    for (const entry of q.peekReady(50)) {
      const replyTo = entry.message.summary.replyTo;
      if (!replyTo || replyTo.startsWith("amq.rabbitmq.reply-to") || vhost.queues.has(replyTo))
        continue;
      const m = missing.get(replyTo) ?? { count: 0, queues: new Set<string>() };
      m.count++;
      m.queues.add(q.name);
      missing.set(replyTo, m);
    }
  }
  if (missing.size === 0) return [];
  const list = [...missing];
  return [
    {
      check: "rpc-reply-queues",
      severity: "warning",
      title: `${plural(
        list.reduce((n, [, m]) => n + m.count, 0),
        "request",
      )} in vhost '${vhostName}' name reply queues that do not exist`,
      evidence: list
        .slice(0, 5)
        .map(([r, m]) => `reply_to '${r}': ${m.count} waiting in ${[...m.queues].join(", ")}`),
      remedy:
        "Their callers went away (or never declared the reply queue): the replies will be dropped as " +
        "unroutable. If the callers are still running they will time out; check that they declare their " +
        "reply queue before sending requests.",
      seed: "000 (RPC callers hang)",
    },
  ];
}
