/**
 * Node certificates for TLS between nodes, signed by the test PKI's CA (test/support/tls-certs.ts).
 * A node both listens and dials, so its certificate serves both ends: serverAuth and
 * clientAuth, with 127.0.0.1 in its subjectAltName for the dialler's identity check.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { NodeTlsOptions } from "../../../../src/cluster/transport/index.js";
import { signed, type TestPki } from "../../../support/tls-certs.js";

const NODE_EXT =
  "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n";

/** Signs a node certificate with the given CA (the PKI's own unless told). */
export function nodeTls(
  pki: TestPki,
  name: string,
  signer?: { cert: string; key: string },
): NodeTlsOptions {
  const dir = pki.dir;
  const ca = signer ?? { cert: pki.ca, key: join(dir, "ca.key") };
  const base = `node-${name.replace(/[^a-z0-9]/gi, "_")}`;
  const files = signed(dir, ca, base, `/O=Warren tests/CN=${name}`, NODE_EXT);
  return {
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
    ca: readFileSync(pki.ca),
  };
}

/** The PKI's untrusted CA ("rogue-ca"), to sign a certificate the cluster must refuse. */
export function rogueSigner(pki: TestPki): { cert: string; key: string } {
  return { cert: join(pki.dir, "rogue-ca.pem"), key: join(pki.dir, "rogue-ca.key") };
}
