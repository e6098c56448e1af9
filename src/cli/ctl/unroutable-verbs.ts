import { EXIT } from "./args.js";
import { seg } from "./client.js";
import { info, printRows } from "./output.js";
import { expectParams, type Verb, vhostOf } from "./verb.js";

// Beyond rabbitmqctl: unroutable messages kept in a queue of the operator's choosing.

const setUnroutableCapture: Verb = {
  name: "set_unroutable_capture",
  usage: "set_unroutable_capture [-p <vhost>] <queue>",
  description:
    "Keeps the vhost's unroutable messages in an existing queue instead of dropping them (Warren)",
  async run(ctx) {
    const [queue] = expectParams(ctx, this, 1);
    const vhost = vhostOf(ctx);
    info(
      ctx.out,
      ctx.args,
      `Capturing unroutable messages of vhost "${vhost}" in queue "${queue}" ...`,
    );
    await ctx.api.call("PUT", `/api/warren/unroutable/${seg(vhost)}`, { capture_queue: queue });
    return EXIT.ok;
  },
};

const clearUnroutableCapture: Verb = {
  name: "clear_unroutable_capture",
  usage: "clear_unroutable_capture [-p <vhost>]",
  description: "Drops the vhost's unroutable messages again, as RabbitMQ does (Warren)",
  async run(ctx) {
    expectParams(ctx, this, 0);
    const vhost = vhostOf(ctx);
    info(ctx.out, ctx.args, `Clearing the unroutable capture of vhost "${vhost}" ...`);
    await ctx.api.call("DELETE", `/api/warren/unroutable/${seg(vhost)}`);
    return EXIT.ok;
  },
};

const listUnroutable: Verb = {
  name: "list_unroutable",
  usage: "list_unroutable",
  description: "Lists each vhost's unroutable message count and capture queue (Warren)",
  async run(ctx) {
    expectParams(ctx, this, 0);
    const rows = await ctx.api.get<Record<string, unknown>[]>("/api/warren/unroutable");
    info(ctx.out, ctx.args, "Listing unroutable messages per vhost ...");
    printRows(ctx.out, ctx.args, ["vhost", "unroutable", "capture_queue"], rows);
    return EXIT.ok;
  },
};

export const UNROUTABLE_VERBS: Verb[] = [
  setUnroutableCapture,
  clearUnroutableCapture,
  listUnroutable,
];
