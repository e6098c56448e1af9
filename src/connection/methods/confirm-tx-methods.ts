import { channelError } from "../../protocol/amqp-error.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { Method } from "../../protocol/generated/methods.js";
import type { Channel } from "../channel.js";

type M<N extends Method["name"]> = Extract<Method, { name: N }>;

/** confirm.select (RabbitMQ publisher confirms): publishes are numbered from 1 and acked or nacked. */
export function confirmSelect(ch: Channel, m: M<"confirm.select">): void {
  if (ch.mode === "tx") {
    throw channelError(ReplyCode.PRECONDITION_FAILED, "cannot switch from tx to confirm mode");
  }
  ch.mode = "confirm";
  if (!m.nowait) ch.send({ name: "confirm.select-ok" });
}

export function txSelect(ch: Channel, _m: M<"tx.select">): void {
  if (ch.mode === "confirm") {
    throw channelError(ReplyCode.PRECONDITION_FAILED, "cannot switch from confirm to tx mode");
  }
  ch.mode = "tx";
  ch.send({ name: "tx.select-ok" });
}

function requireTx(ch: Channel): void {
  if (ch.mode !== "tx")
    throw channelError(ReplyCode.PRECONDITION_FAILED, "channel is not transactional");
}

/** tx.commit: the held publishes and acknowledgements take effect, in order. */
export function txCommit(ch: Channel, _m: M<"tx.commit">): void {
  requireTx(ch);
  const actions = ch.txActions;
  ch.txActions = [];
  for (const a of actions) a.run();
  ch.send({ name: "tx.commit-ok" });
}

/** tx.rollback: held publishes are dropped; held acknowledgements are undone (still unacked). */
export function txRollback(ch: Channel, _m: M<"tx.rollback">): void {
  requireTx(ch);
  ch.txActions = [];
  ch.txPendingTags.clear();
  ch.send({ name: "tx.rollback-ok" });
}
