import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { certificateSubject } from "../../../src/connection/certificate-subject.js";

// The subject of a client certificate as RabbitMQ writes it for an EXTERNAL login
// (rabbit_cert_info:subject and subject_items). Every expected string below is what
// RabbitMQ 3.10.8's rabbit_cert_info printed for the same subject, made the same way.

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "warren-subject-"));
  execFileSync("/usr/bin/openssl", [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    join(dir, "k.key"),
  ]);
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed certificate's DER for an openssl -subj string (UTF-8, multi-valued RDNs on). */
function der(subject: string, stringMask?: "pkix" | "nombstr"): Buffer {
  const out = join(dir, "c.der");
  const args = ["req", "-x509", "-new", "-key", join(dir, "k.key"), "-days", "1", "-utf8"];
  if (stringMask) {
    // pkix writes non-ASCII values as BMPString, nombstr as T61String.
    const config = join(dir, "mask.cnf");
    writeFileSync(
      config,
      `[req]\ndistinguished_name = dn\nstring_mask = ${stringMask}\nprompt = no\n[dn]\nCN = x\n`,
    );
    args.push("-config", config);
  }
  args.push("-multivalue-rdn", "-subj", subject, "-outform", "DER", "-out", out);
  execFileSync("/usr/bin/openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  return readFileSync(out);
}

test("the last RDN comes first, joined with commas", () => {
  assert.deepEqual(certificateSubject(der("/O=Warren tests/CN=alice")), {
    distinguishedName: "CN=alice,O=Warren tests",
    commonNames: ["alice"],
  });
});

test('RFC 4514 escapes: a leading # or space, a trailing space, and , + ; < > " \\', () => {
  assert.deepEqual(
    certificateSubject(
      der("/C=GB/ST=Some State/L=Town/O=Org, Inc./OU=a\\+b/CN=#lead and trail /emailAddress=a@b.c"),
    ),
    {
      distinguishedName:
        "EMAILADDRESS=a@b.c,CN=\\#lead and trail\\ ,OU=a\\+b,O=Org\\, Inc.,L=Town,ST=Some State,C=GB",
      commonNames: ["#lead and trail "],
    },
  );
  assert.equal(
    certificateSubject(der('/CN= spaced;<q>"\\\\=x'))?.distinguishedName,
    'CN=\\ spaced\\;\\<q\\>\\"\\\\=x',
  );
});

test("non-ASCII bytes and ~ are written as \\XX; the CN stays as it is", () => {
  assert.deepEqual(certificateSubject(der("/DC=com/DC=example/CN=Zoë ~ü/UID=u1")), {
    distinguishedName: "UID=u1,CN=Zo\\C3\\AB \\7E\\C3\\BC,DC=example,DC=com",
    commonNames: ["Zoë ~ü"],
  });
});

test("BMPString and T61String values are read as UTF-8, as RabbitMQ converts them", () => {
  assert.deepEqual(certificateSubject(der("/O=Warren tests/CN=Zoë pkix", "pkix")), {
    distinguishedName: "CN=Zo\\C3\\AB pkix,O=Warren tests",
    commonNames: ["Zoë pkix"],
  });
  assert.deepEqual(certificateSubject(der("/O=Warren tests/CN=Zoë nombstr", "nombstr")), {
    distinguishedName: "CN=Zo\\C3\\AB nombstr,O=Warren tests",
    commonNames: ["Zoë nombstr"],
  });
});

test("a multi-valued RDN is joined with +, and every CN is kept in certificate order", () => {
  assert.deepEqual(certificateSubject(der("/O=Multi/CN=x+serialNumber=42/title=Dr/CN=second cn")), {
    distinguishedName: "CN=second cn,TITLE=Dr,CN=x+SERIALNUMBER=42,O=Multi",
    commonNames: ["x", "second cn"],
  });
});

test("types without a RabbitMQ short name are written as their OID (a street too)", () => {
  assert.equal(
    certificateSubject(der("/O=Warren tests/2.5.4.46=qualifier/street=1 Main St"))
      ?.distinguishedName,
    "2.5.4.9=1 Main St,2.5.4.46=qualifier,O=Warren tests",
  );
});

test("a subject without a CN has no common names", () => {
  assert.deepEqual(certificateSubject(der("/O=only")), {
    distinguishedName: "O=only",
    commonNames: [],
  });
});

test("bytes that are not a certificate give undefined, not an exception", () => {
  assert.equal(certificateSubject(Buffer.from("not a certificate")), undefined);
  assert.equal(certificateSubject(Buffer.alloc(0)), undefined);
  const good = der("/CN=cut");
  assert.equal(certificateSubject(good.subarray(0, 40)), undefined);
});
