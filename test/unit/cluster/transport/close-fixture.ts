/** Run by close-leaves-nothing.test.ts in its own process; it must exit once it returns. */
import { connectedMesh, heartbeat, meshOf, startNode, waitFor } from "./transport-fixtures.js";

const nodes = [await startNode("warren@a"), await startNode("warren@b")];
meshOf(nodes);
// A peer nobody listens for: its link sits in backoff with a timer pending.
nodes[0]!.transport.addPeer("warren@gone", { host: "127.0.0.1", port: 1 });
await waitFor("links up", () => connectedMesh(nodes));
await waitFor("a failed dial", () => nodes[0]!.transport.stats().some((s) => s.failedDials > 0));
// Sends queued in this turn leave an immediate scheduled at the moment of close.
nodes[0]!.transport.send("warren@b", [heartbeat("g", "warren@a", "warren@b", 1)]);
await Promise.all(nodes.map((n) => n.transport.close()));
console.log("closed with links up, a send queued and a peer unreachable");
