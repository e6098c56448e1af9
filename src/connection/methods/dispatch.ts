import type { Command } from "../../protocol/command-assembler.js";
import type { Method } from "../../protocol/generated/methods.js";
import type { Channel } from "../channel.js";
import { ack, nack, reject } from "./ack-methods.js";
import { cancel, consume, get, qos, recover } from "./basic-methods.js";
import {
  channelClose,
  channelCloseOk,
  channelFlow,
  channelFlowOk,
  channelOpen,
} from "./channel-methods.js";
import { confirmSelect, txCommit, txRollback, txSelect } from "./confirm-tx-methods.js";
import {
  exchangeBind,
  exchangeDeclare,
  exchangeDelete,
  exchangeUnbind,
} from "./exchange-methods.js";
import { publish } from "./publish.js";
import { queueBind, queueDeclare, queueDelete, queuePurge, queueUnbind } from "./queue-methods.js";

type Handler<N extends Method["name"]> = (
  ch: Channel,
  method: Extract<Method, { name: N }>,
  command: Command,
) => void | Promise<void>;

type Handlers = { [N in Method["name"]]?: Handler<N> };

/** Channel methods by name; one file per method group (DESIGN §5). */
const HANDLERS: Handlers = {
  "channel.open": channelOpen,
  "channel.flow": channelFlow,
  "channel.flow-ok": channelFlowOk,
  "channel.close": channelClose,
  "channel.close-ok": channelCloseOk,
  "exchange.declare": exchangeDeclare,
  "exchange.delete": exchangeDelete,
  "exchange.bind": exchangeBind,
  "exchange.unbind": exchangeUnbind,
  "queue.declare": queueDeclare,
  "queue.bind": queueBind,
  "queue.unbind": queueUnbind,
  "queue.purge": queuePurge,
  "queue.delete": queueDelete,
  "basic.qos": qos,
  "basic.consume": consume,
  "basic.cancel": cancel,
  // Clients may answer our consumer-cancel notification although it asks for no reply.
  "basic.cancel-ok": () => {},
  "basic.publish": publish,
  "basic.get": get,
  "basic.ack": ack,
  "basic.reject": reject,
  "basic.nack": nack,
  "basic.recover": recover,
  "basic.recover-async": recover,
  "confirm.select": confirmSelect,
  "tx.select": txSelect,
  "tx.commit": txCommit,
  "tx.rollback": txRollback,
};

export function handleChannelCommand(ch: Channel, command: Command): void | Promise<void> {
  const handler = HANDLERS[command.method.name] as Handler<Method["name"]> | undefined;
  if (!handler) throw new Error(`no handler for ${command.method.name}`);
  return handler(ch, command.method, command);
}
