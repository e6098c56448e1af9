import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig, type ServerConfig } from "../../../src/cli/config.js";

// --auth-mechanisms and --ssl-cert-login-from: RabbitMQ's auth_mechanisms and
// ssl_cert_login_from, with RabbitMQ's defaults.

const load = (argv: string[], env: NodeJS.ProcessEnv = {}) => loadConfig(argv, env) as ServerConfig;
const clientCerts = [
  "--tls-cert",
  "server.pem",
  "--tls-key",
  "server.key",
  "--tls-ca",
  "ca.pem",
  "--tls-verify",
  "peer",
];

test("by default PLAIN and AMQPLAIN are offered and EXTERNAL names users by distinguished name", () => {
  const { settings } = load([]);
  assert.deepEqual(settings.authMechanisms, ["PLAIN", "AMQPLAIN"]);
  assert.equal(settings.sslCertLoginFrom, "distinguished_name");
});

test("--auth-mechanisms takes a list in the operator's order, in any case", () => {
  const { settings } = load([...clientCerts, "--auth-mechanisms", "external, plain"]);
  assert.deepEqual(settings.authMechanisms, ["EXTERNAL", "PLAIN"]);
});

test("the environment sets both, and flags win", () => {
  const env = {
    WARREN_AUTH_MECHANISMS: "AMQPLAIN",
    WARREN_SSL_CERT_LOGIN_FROM: "common_name",
  };
  assert.deepEqual(load([], env).settings.authMechanisms, ["AMQPLAIN"]);
  assert.equal(load([], env).settings.sslCertLoginFrom, "common_name");
  const flags = load(
    ["--auth-mechanisms", "PLAIN", "--ssl-cert-login-from", "distinguished_name"],
    env,
  );
  assert.deepEqual(flags.settings.authMechanisms, ["PLAIN"]);
  assert.equal(flags.settings.sslCertLoginFrom, "distinguished_name");
});

test("a mechanism Warren does not have, a repeated one or an empty list stops the start", () => {
  assert.throws(
    () => load(["--auth-mechanisms", "PLAIN,SCRAM-SHA-256"]),
    /--auth-mechanisms: unknown mechanism 'SCRAM-SHA-256' \(Warren has PLAIN, AMQPLAIN, EXTERNAL\)/,
  );
  assert.throws(() => load(["--auth-mechanisms", "PLAIN,plain"]), /'PLAIN' is listed twice/);
  assert.throws(() => load(["--auth-mechanisms", " , "]), /needs at least one mechanism/);
});

test("EXTERNAL without verified client certificates stops the start, saying what it needs", () => {
  const needs =
    /--auth-mechanisms EXTERNAL needs client certificates: --tls-cert, --tls-ca and --tls-verify peer or peer-required/;
  assert.throws(() => load(["--auth-mechanisms", "PLAIN,EXTERNAL"]), needs);
  assert.throws(
    () =>
      load([
        "--auth-mechanisms",
        "PLAIN,EXTERNAL",
        "--tls-cert",
        "server.pem",
        "--tls-key",
        "server.key",
      ]),
    needs,
  );
});

test("--ssl-cert-login-from takes RabbitMQ's two names only", () => {
  assert.equal(
    load(["--ssl-cert-login-from", "common_name"]).settings.sslCertLoginFrom,
    "common_name",
  );
  assert.throws(
    () => load(["--ssl-cert-login-from", "cn"]),
    /--ssl-cert-login-from must be one of distinguished_name, common_name, got 'cn'/,
  );
});
