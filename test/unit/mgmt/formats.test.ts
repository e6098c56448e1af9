import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseArgs } from "../../../src/cli/ctl/args.js";
import { atom, flat, kv, pretty, str } from "../../../src/cli/ctl/erlang-term.js";
import { formatCell } from "../../../src/cli/ctl/output.js";
import {
  encodePayload,
  propertiesFromJson,
  propertiesToJson,
} from "../../../src/mgmt/direct/json-properties.js";
import { Exposition } from "../../../src/mgmt/metrics/exposition.js";
import { parseOpenFilesLimit, socketsLimitFor } from "../../../src/mgmt/process-facts.js";
import { quotePlus } from "../../../src/mgmt/views/format.js";
import { propertiesKey } from "../../../src/mgmt/views/topology-view.js";

describe("rabbitmqctl's column values", () => {
  test('strings bare, booleans true/false, lists [a, b], tables [{"key",value}]', () => {
    assert.equal(formatCell("q1"), "q1");
    assert.equal(formatCell(true), "true");
    assert.equal(formatCell(null), "");
    assert.equal(formatCell(["administrator", "monitoring"]), "[administrator, monitoring]");
    assert.equal(formatCell({ "x-message-ttl": 60000 }), '[{"x-message-ttl",60000}]');
    assert.equal(formatCell({ "x-foo": "bar" }), '[{"x-foo","bar"}]');
    assert.equal(formatCell({}), "[]");
  });
});

describe("status as an Erlang term", () => {
  const fds = kv("file_descriptors", [
    kv("total_limit", 65536),
    kv("total_used", 65210),
    kv("sockets_limit", 58892),
    kv("sockets_used", 58970),
  ]);

  test("grep -A3 file_descriptors shows all four numbers, small or large (seed 001's layout)", () => {
    const small = kv("file_descriptors", [
      kv("total_limit", 1024),
      kv("total_used", 20),
      kv("sockets_limit", 829),
      kv("sockets_used", 2),
    ]);
    for (const term of [fds, small]) {
      const lines = pretty([kv("pid", 1), term, kv("uptime", 5)]).split("\n");
      const at = lines.findIndex((l) => l.includes("file_descriptors"));
      const grepped = lines.slice(at, at + 4).join("\n");
      for (const key of ["total_limit", "total_used", "sockets_limit", "sockets_used"]) {
        assert.ok(grepped.includes(`{${key},`), `${key} missing from:\n${grepped}`);
      }
    }
    // As the seed shows it: the list on the line after the key when it does not fit.
    assert.match(
      pretty([kv("pid", 1), fds]),
      /\{file_descriptors,\n {5}\[\{total_limit,65536\},\{total_used,65210\},\{sockets_limit,58892\},\{sockets_used,58970\}\]\}/,
    );
  });

  test("a long proplist breaks one entry per line with rabbitmqctl's indentation", () => {
    const long = Array.from({ length: 12 }, (_, i) => kv(`key_${i}`, str("a fairly long value")));
    const text = pretty([kv("memory", long)]);
    const lines = text.split("\n");
    assert.equal(lines[0], "[{memory,");
    assert.match(lines[1]!, /^ {5}\[\{key_0,"a fairly long value"\},$/);
    assert.match(lines[2]!, /^ {6}\{key_1,/);
  });

  test("atoms are quoted only when they must be", () => {
    assert.equal(flat(atom("warren@vm")), "warren@vm");
    assert.equal(flat(atom("http/prometheus")), "'http/prometheus'");
  });
});

describe("warrenctl arguments", () => {
  test("global and command flags before or after the command, = or separate values", () => {
    const a = parseArgs(["-q", "list_queues", "name", "-p", "/v", "--formatter=json", "messages"]);
    assert.deepEqual(a.positional, ["list_queues", "name", "messages"]);
    assert.equal(a.flags.get("quiet"), true);
    assert.equal(a.flags.get("vhost"), "/v");
    assert.equal(a.flags.get("formatter"), "json");
  });

  test("'-' is an argument (stdin), unknown options are usage errors", () => {
    assert.deepEqual(parseArgs(["import_definitions", "-"]).positional, [
      "import_definitions",
      "-",
    ]);
    assert.throws(() => parseArgs(["list_queues", "--bogus"]), /unknown option --bogus/);
  });
});

describe("Prometheus text format", () => {
  test("TYPE and HELP lines, labels escaped, one family written once", () => {
    const e = new Exposition()
      .single("a_total", "counter", "A count", 3)
      .family("b", "gauge", "B", [{ labels: { queue: 'q"1\\' }, value: 1.5 }]);
    assert.equal(
      e.text(),
      '# TYPE a_total counter\n# HELP a_total A count\na_total 3\n# TYPE b gauge\n# HELP b B\nb{queue="q\\"1\\\\"} 1.5\n',
    );
    assert.throws(() => e.single("b", "gauge", "again", 1), /written twice/);
  });
});

describe("process facts", () => {
  test("the soft open-files limit from /proc/self/limits", () => {
    const limits =
      "Limit                     Soft Limit           Hard Limit           Units     \n" +
      "Max open files            4096                 524288               files     \n";
    assert.equal(parseOpenFilesLimit(limits), 4096);
    assert.equal(parseOpenFilesLimit("nothing here"), -1);
  });

  test("sockets_limit is RabbitMQ's: 90% of the limit after 100 reserved", () => {
    assert.equal(socketsLimitFor(20000), 17910); // observed on RabbitMQ 3.10.8
    assert.equal(socketsLimitFor(4096), 3596);
  });
});

describe("binding properties keys", () => {
  test("RabbitMQ's forms: ~ alone, the quoted key, key~hash with arguments", () => {
    assert.equal(propertiesKey("", new Map()), "~");
    assert.equal(propertiesKey("a.#", new Map()), "a.%23");
    assert.equal(propertiesKey("my key", new Map()), "my+key");
    const withArgs = propertiesKey("k", new Map([["x", { type: "S", value: Buffer.from("1") }]]));
    assert.match(withArgs, /^k~[A-Za-z0-9_-]+$/);
    assert.notEqual(
      withArgs,
      propertiesKey("k", new Map([["x", { type: "S", value: Buffer.from("2") }]])),
    );
    assert.equal(quotePlus("a~b/c"), "a%7Eb%2Fc");
  });
});

describe("message properties as management JSON", () => {
  test("round trip of RabbitMQ's property names", () => {
    const json = {
      content_type: "application/json",
      delivery_mode: 2,
      priority: 5,
      correlation_id: "c1",
      reply_to: "reply_x",
      expiration: "60000",
      message_id: "m1",
      timestamp: 1700000000,
      type: "t",
      user_id: "guest",
      app_id: "nova",
      headers: { a: 1, b: "two", c: [1, "x"], d: { e: true } },
    };
    assert.deepEqual(propertiesToJson(propertiesFromJson(json)), json);
  });

  test("a message without properties reads as [] (RabbitMQ's empty proplist)", () => {
    assert.deepEqual(propertiesToJson(propertiesFromJson({})), []);
  });

  test("auto encoding keeps UTF-8 text as a string and anything else as base64", () => {
    assert.deepEqual(encodePayload(Buffer.from("héllo"), "auto"), {
      payload: "héllo",
      payload_encoding: "string",
    });
    assert.deepEqual(encodePayload(Buffer.from([0xff, 0x00]), "auto"), {
      payload: "/wA=",
      payload_encoding: "base64",
    });
  });
});
