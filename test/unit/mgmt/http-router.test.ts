import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HttpError, json } from "../../../src/mgmt/http/http-types.js";
import { listResponse, selectColumns } from "../../../src/mgmt/http/list-query.js";
import { Router } from "../../../src/mgmt/http/router.js";

const ok = () => json({});

describe("router", () => {
  const router = new Router()
    .get("/api/queues/:vhost", "management", ok)
    .get("/api/queues/:vhost/:name", "management", ok)
    .put("/api/queues/:vhost/:name", "management", ok)
    .post("/api/queues/:vhost/:name/get", "management", ok);

  test("a vhost named / arrives as %2F and stays one segment", () => {
    const m = router.match("GET", "/api/queues/%2F/my%20queue");
    assert.equal(m.kind, "found");
    assert.deepEqual(m.kind === "found" && m.params, { vhost: "/", name: "my queue" });
  });

  test("quote_plus spaces (+) decode to spaces, as rabbitmqadmin's list paths use them", () => {
    const m = router.match("GET", "/api/queues/my+vhost");
    assert.deepEqual(m.kind === "found" && m.params, { vhost: "my vhost" });
  });

  test("a known path with another method is 405 with the allowed methods", () => {
    assert.deepEqual(router.match("DELETE", "/api/queues/%2F/q"), {
      kind: "method-not-allowed",
      allowed: ["GET", "PUT"],
    });
  });

  test("HEAD is answered by the GET route; unknown paths are not found", () => {
    assert.equal(router.match("HEAD", "/api/queues/%2F").kind, "found");
    assert.equal(router.match("GET", "/api/nope").kind, "not-found");
    assert.equal(router.match("GET", "/api/queues/%2F/q/extra/deep").kind, "not-found");
  });

  test("a malformed percent escape is a 400", () => {
    assert.throws(
      () => router.match("GET", "/api/queues/%E0%A4%A"),
      (e: unknown) => e instanceof HttpError && e.status === 400,
    );
  });
});

describe("list queries", () => {
  const items = [
    { name: "b", messages: 2, message_stats: { publish: 5, ack: 1 } },
    { name: "a", messages: 10, message_stats: { publish: 1, ack: 0 } },
    { name: "c-reply", messages: 0 },
  ];

  test("columns keep only the named fields, dotted paths included", () => {
    assert.deepEqual(selectColumns(items[0]!, ["name", "message_stats.publish"]), {
      name: "b",
      message_stats: { publish: 5 },
    });
  });

  test("sort by a numeric field, reversed", () => {
    const r = listResponse(
      items,
      new URLSearchParams("sort=messages&sort_reverse=true&columns=name"),
    );
    assert.deepEqual(r.body, [{ name: "a" }, { name: "b" }, { name: "c-reply" }]);
  });

  test("name filters by substring, or by regex with use_regex", () => {
    assert.equal(
      (listResponse(items, new URLSearchParams("name=REPLY")).body as unknown[]).length,
      1,
    );
    const re = listResponse(items, new URLSearchParams("name=^[ab]$&use_regex=true"));
    assert.equal((re.body as unknown[]).length, 2);
  });

  test("pagination wraps the items with RabbitMQ's counts", () => {
    const r = listResponse(items, new URLSearchParams("page=2&page_size=2&sort=name"));
    assert.deepEqual(r.body, {
      filtered_count: 3,
      item_count: 1,
      items: [items[2]],
      page: 2,
      page_count: 2,
      page_size: 2,
      total_count: 3,
    });
  });

  test("columns and sort keys follow only own properties: no prototype is read or written", () => {
    const item = { name: "q", message_stats: { publish: 1 } };
    const picked = selectColumns(item, [
      "name",
      "__proto__.constructor.name",
      "constructor.name",
      "__proto__.polluted.x",
      "toString",
      "message_stats.__proto__",
    ]);
    assert.equal(({} as Record<string, unknown>).constructor, Object);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(JSON.parse(JSON.stringify(picked)), { name: "q" });
    const sorted = listResponse([item, { name: "a" }], new URLSearchParams("sort=__proto__"));
    assert.equal((sorted.body as unknown[]).length, 2);
  });

  test("a bad page size is a 400", () => {
    assert.throws(() => listResponse(items, new URLSearchParams("page=1&page_size=0")), HttpError);
  });
});
