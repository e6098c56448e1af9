import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const OPENSSL = "/usr/bin/openssl";

/** A certificate and its private key, as PEM files. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

export interface TestPki {
  readonly dir: string;
  /** The CA that signed the server and the trusted client certificates. */
  readonly ca: string;
  /** CN=localhost, with subjectAltName localhost and 127.0.0.1. */
  readonly server: CertFiles;
  /** Client certificate (clientAuth) signed by the CA, one per requested CN. */
  client(commonName: string): CertFiles;
  /** A client certificate signed by a CA the server does not trust. */
  readonly rogue: CertFiles;
  /** A client certificate signed by the CA with no CN in its subject. */
  readonly nameless: CertFiles;
  read(path: string): Buffer;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync(OPENSSL, args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function newKey(dir: string, name: string): string {
  openssl(dir, [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    `${name}.key`,
  ]);
  return join(dir, `${name}.key`);
}

function selfSignedCa(dir: string, name: string, subject: string): CertFiles {
  const key = newKey(dir, name);
  openssl(dir, [
    "req",
    "-x509",
    "-new",
    "-key",
    key,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    subject,
  ]);
  return { cert: join(dir, `${name}.pem`), key };
}

/** A key and a certificate for `subject` signed by `ca`, with the given openssl extensions. */
export function signed(
  dir: string,
  ca: CertFiles,
  name: string,
  subject: string,
  extensions: string,
): CertFiles {
  const key = newKey(dir, name);
  openssl(dir, ["req", "-new", "-key", key, "-out", `${name}.csr`, "-subj", subject]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    ca.cert,
    "-CAkey",
    ca.key,
    "-set_serial",
    String(Date.now() + Math.floor(Math.random() * 1e6)),
    "-days",
    "2",
    "-out",
    `${name}.pem`,
    "-extfile",
    `${name}.ext`,
  ]);
  return { cert: join(dir, `${name}.pem`), key };
}

const SERVER_EXT =
  "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n";
const CLIENT_EXT =
  "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n";

/**
 * A throwaway PKI made with /usr/bin/openssl in a temporary folder at test time, so
 * no private key is ever committed: a CA, a server certificate for localhost, client
 * certificates by CN, one from an untrusted CA and one without a CN.
 */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "warren-pki-"));
  const ca = selfSignedCa(dir, "ca", "/O=Warren tests/CN=Warren Test CA");
  const server = signed(dir, ca, "server", "/O=Warren tests/CN=localhost", SERVER_EXT);
  const rogueCa = selfSignedCa(dir, "rogue-ca", "/O=Elsewhere/CN=Rogue CA");
  const rogue = signed(dir, rogueCa, "rogue", "/O=Elsewhere/CN=alice", CLIENT_EXT);
  const nameless = signed(dir, ca, "nameless", "/O=Warren tests/OU=no common name", CLIENT_EXT);
  const clients = new Map<string, CertFiles>();
  return {
    dir,
    ca: ca.cert,
    server,
    rogue,
    nameless,
    client(commonName: string): CertFiles {
      let c = clients.get(commonName);
      if (!c) {
        c = signed(
          dir,
          ca,
          `client-${clients.size}`,
          `/O=Warren tests/CN=${commonName}`,
          CLIENT_EXT,
        );
        clients.set(commonName, c);
      }
      return c;
    },
    read: (path) => readFileSync(path),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Warren's flags for amqps with this PKI on a free port. */
export function tlsArgs(pki: TestPki, verify: "none" | "peer" | "peer-required"): string[] {
  return [
    "--tls-port",
    "0",
    "--tls-cert",
    pki.server.cert,
    "--tls-key",
    pki.server.key,
    "--tls-ca",
    pki.ca,
    "--tls-verify",
    verify,
  ];
}
