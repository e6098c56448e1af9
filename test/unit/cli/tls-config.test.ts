import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig, type ServerConfig } from "../../../src/cli/config.js";

const load = (argv: string[], env: NodeJS.ProcessEnv = {}) => loadConfig(argv, env) as ServerConfig;
const cert = ["--tls-cert", "server.pem", "--tls-key", "server.key"];

test("amqps is off without a certificate", () => {
  assert.equal(load([]).tls, undefined);
});

test("a certificate and key turn amqps on at 5671 where AMQP listens, verifying nothing", () => {
  assert.deepEqual(load(cert).tls, {
    listen: [
      { host: "127.0.0.1", port: 5671 },
      { host: "::1", port: 5671 },
    ],
    certFile: "server.pem",
    keyFile: "server.key",
    caFile: undefined,
    verify: "none",
  });
});

test("--tls-port, --tls-host, --tls-ca and --tls-verify are taken as given", () => {
  const tls = load([
    ...cert,
    "--tls-port",
    "0",
    "--tls-host",
    "0.0.0.0",
    "--tls-ca",
    "ca.pem",
    "--tls-verify",
    "peer-required",
  ]).tls;
  assert.deepEqual(tls?.listen, [{ host: "0.0.0.0", port: 0 }]);
  assert.equal(tls?.caFile, "ca.pem");
  assert.equal(tls?.verify, "peer-required");
});

test("amqps follows --host when --tls-host is not given", () => {
  assert.deepEqual(load([...cert, "--host", "10.0.0.5"]).tls?.listen, [
    { host: "10.0.0.5", port: 5671 },
  ]);
});

test("every TLS flag has a WARREN_ environment variable, and flags win", () => {
  const env = {
    WARREN_TLS_CERT: "env.pem",
    WARREN_TLS_KEY: "env.key",
    WARREN_TLS_CA: "env-ca.pem",
    WARREN_TLS_VERIFY: "peer",
    WARREN_TLS_PORT: "5999",
    WARREN_TLS_HOST: "127.0.0.2",
  };
  assert.deepEqual(load([], env).tls, {
    listen: [{ host: "127.0.0.2", port: 5999 }],
    certFile: "env.pem",
    keyFile: "env.key",
    caFile: "env-ca.pem",
    verify: "peer",
  });
  assert.equal(load(["--tls-verify", "peer-required"], env).tls?.verify, "peer-required");
});

test("incomplete or wrong TLS settings stop the start with a clear message", () => {
  assert.throws(() => load(["--tls-cert", "a.pem"]), /--tls-cert needs --tls-key/);
  assert.throws(() => load(["--tls-port", "5671"]), /--tls-\* options need --tls-cert/);
  assert.throws(() => load([...cert, "--tls-verify", "peer"]), /--tls-verify peer needs --tls-ca/);
  assert.throws(
    () => load([...cert, "--tls-verify", "always"]),
    /--tls-verify must be one of none, peer, peer-required/,
  );
  assert.throws(() => load([...cert, "--tls-port", "70000"]), /--tls-port must be at most 65535/);
});
