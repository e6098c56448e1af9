/**
 * Node certificates for TLS between nodes, signed by the test PKI's CA (test/support/tls-certs.ts).
 * A node both listens and dials, so its certificate serves both ends: serverAuth and
 * clientAuth, with 127.0.0.1 in its subjectAltName for the dialler's identity check.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { NodeTlsOptions } from "../../../../src/cluster/transport/index.js";
import type { TestPki } from "../../../support/tls-certs.js";

const NODE_EXT =
  "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n";

function openssl(dir: string, args: string[]): void {
  execFileSync("/usr/bin/openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** Signs a node certificate with the given CA (the PKI's own unless told). */
export function nodeTls(
  pki: TestPki,
  name: string,
  signer?: { cert: string; key: string },
): NodeTlsOptions {
  const dir = pki.dir;
  const ca = signer ?? { cert: pki.ca, key: join(dir, "ca.key") };
  const base = `node-${name.replace(/[^a-z0-9]/gi, "_")}`;
  openssl(dir, [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    `${base}.key`,
  ]);
  openssl(dir, [
    "req",
    "-new",
    "-key",
    `${base}.key`,
    "-out",
    `${base}.csr`,
    "-subj",
    `/O=Warren tests/CN=${name}`,
  ]);
  writeFileSync(join(dir, `${base}.ext`), NODE_EXT);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${base}.csr`,
    "-CA",
    ca.cert,
    "-CAkey",
    ca.key,
    "-set_serial",
    String(Date.now() + Math.floor(Math.random() * 1e6)),
    "-days",
    "2",
    "-out",
    `${base}.pem`,
    "-extfile",
    `${base}.ext`,
  ]);
  return {
    cert: readFileSync(join(dir, `${base}.pem`)),
    key: readFileSync(join(dir, `${base}.key`)),
    ca: readFileSync(pki.ca),
  };
}

/** The PKI's untrusted CA ("rogue-ca"), to sign a certificate the cluster must refuse. */
export function rogueSigner(pki: TestPki): { cert: string; key: string } {
  return { cert: join(pki.dir, "rogue-ca.pem"), key: join(pki.dir, "rogue-ca.key") };
}
