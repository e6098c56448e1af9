/**
 * The subject of an X.509 certificate, read from its DER bytes and written the way
 * RabbitMQ writes it (rabbit_cert_info:subject and subject_items), so an EXTERNAL
 * login names the same user on Warren as on RabbitMQ. Node's own subject string
 * orders and escapes differently, so the DER is walked here. Pure: bytes in, names out.
 */
export interface CertificateSubject {
  /** RFC 4514: the last RDN first, RDNs joined with ",", multi-valued ones with "+". */
  readonly distinguishedName: string;
  /** Every CN value in certificate order, unescaped (RabbitMQ joins them with ","). */
  readonly commonNames: readonly string[];
}

const OID_COMMON_NAME = "2.5.4.3";

/**
 * RabbitMQ's short names (rabbit_cert_info:format_rdn); others are written as the dotted
 * OID. Its table also maps 'street-address', but that macro is not 2.5.4.9, so RabbitMQ
 * writes a street as "2.5.4.9=..." (checked with 3.10.8), and so does Warren.
 */
const SHORT_NAMES = new Map<string, string>([
  ["2.5.4.4", "SN"],
  ["2.5.4.42", "GIVENNAME"],
  ["2.5.4.43", "INITIALS"],
  ["2.5.4.44", "GENERATIONQUALIFIER"],
  [OID_COMMON_NAME, "CN"],
  ["2.5.4.7", "L"],
  ["2.5.4.8", "ST"],
  ["2.5.4.10", "O"],
  ["2.5.4.11", "OU"],
  ["2.5.4.12", "TITLE"],
  ["2.5.4.6", "C"],
  ["2.5.4.5", "SERIALNUMBER"],
  ["2.5.4.65", "PSEUDONYM"],
  ["0.9.2342.19200300.100.1.25", "DC"],
  ["1.2.840.113549.1.9.1", "EMAILADDRESS"],
  ["0.9.2342.19200300.100.1.1", "UID"],
]);

/** DER universal tags used on the way to the subject and in its values. */
const Tag = {
  sequence: 0x30,
  set: 0x31,
  oid: 0x06,
  contextVersion: 0xa0,
  utf8String: 0x0c,
  printableString: 0x13,
  teletexString: 0x14,
  ia5String: 0x16,
  visibleString: 0x1a,
  universalString: 0x1c,
  bmpString: 0x1e,
} as const;

interface Tlv {
  readonly tag: number;
  /** The value's bytes. */
  readonly value: Buffer;
  /** The whole element, tag and length included. */
  readonly whole: Buffer;
}

/** The certificate's subject, or undefined when the bytes are not a certificate. */
export function certificateSubject(der: Buffer): CertificateSubject | undefined {
  try {
    return readSubject(der);
  } catch {
    return undefined;
  }
}

function readSubject(der: Buffer): CertificateSubject {
  const certificate = expect(readTlv(der, 0), Tag.sequence);
  const tbs = children(expect(readTlv(certificate.value, 0), Tag.sequence).value);
  // TBSCertificate: [0] version (optional), serialNumber, signature, issuer, validity, subject.
  const fields = tbs[0]?.tag === Tag.contextVersion ? tbs.slice(1) : tbs;
  const subject = expect(fields[4], Tag.sequence);
  const rdns: string[] = [];
  const commonNames: string[] = [];
  for (const rdn of children(subject.value)) {
    const parts: string[] = [];
    for (const pair of children(expect(rdn, Tag.set).value)) {
      const [type, value] = children(expect(pair, Tag.sequence).value);
      const oid = readOid(expect(type, Tag.oid).value);
      const bytes = valueBytes(value!);
      if (oid === OID_COMMON_NAME) commonNames.push(bytes.toString("utf8"));
      parts.push(`${SHORT_NAMES.get(oid) ?? oid}=${escapeValue(bytes)}`);
    }
    rdns.push(parts.join("+"));
  }
  return { distinguishedName: rdns.reverse().join(","), commonNames };
}

function expect(tlv: Tlv | undefined, tag: number): Tlv {
  if (!tlv || tlv.tag !== tag) throw new Error(`expected DER tag ${tag}`);
  return tlv;
}

function readTlv(buf: Buffer, offset: number): Tlv {
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error("multi-byte DER tags are not used in names");
  let length = buf[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const lengthBytes = length & 0x7f;
    if (lengthBytes === 0 || lengthBytes > 4) throw new Error("bad DER length");
    length = 0;
    for (let i = 0; i < lengthBytes; i++) length = length * 256 + buf[start + i]!;
    start += lengthBytes;
  }
  if (start + length > buf.length) throw new Error("DER element runs past its end");
  return {
    tag,
    value: buf.subarray(start, start + length),
    whole: buf.subarray(offset, start + length),
  };
}

function children(buf: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = 0; offset < buf.length; ) {
    const tlv = readTlv(buf, offset);
    out.push(tlv);
    offset += tlv.whole.length;
  }
  return out;
}

/** X.690 §8.19: the first byte holds the first two arcs, then base-128 numbers. */
function readOid(bytes: Buffer): string {
  const arcs: number[] = [];
  let n = 0;
  for (const b of bytes) {
    n = n * 128 + (b & 0x7f);
    if (b & 0x80) continue;
    if (arcs.length === 0) arcs.push(n < 80 ? Math.floor(n / 40) : 2, n < 80 ? n % 40 : n - 80);
    else arcs.push(n);
    n = 0;
  }
  return arcs.join(".");
}

/**
 * A value as UTF-8 bytes (rabbit_cert_info:format_asn1_value). A value that is no
 * string type is written as Erlang prints a binary, "<<48,3,...>>", as RabbitMQ does.
 */
function valueBytes(v: Tlv): Buffer {
  switch (v.tag) {
    case Tag.utf8String:
    case Tag.printableString:
    case Tag.ia5String:
    case Tag.visibleString:
      return v.value;
    case Tag.teletexString:
      return Buffer.from(v.value.toString("latin1"), "utf8");
    case Tag.bmpString:
      // UCS-2 big-endian; swap16 works in place, so on a copy.
      return Buffer.from(Buffer.from(v.value).swap16().toString("utf16le"), "utf8");
    case Tag.universalString: {
      const codePoints: number[] = [];
      for (let i = 0; i + 4 <= v.value.length; i += 4) codePoints.push(v.value.readUInt32BE(i));
      return Buffer.from(String.fromCodePoint(...codePoints), "utf8");
    }
    default:
      return Buffer.from(`<<${[...v.whole].join(",")}>>`, "latin1");
  }
}

const SPECIAL = new Set([...'"+,;<>\\'].map((c) => c.charCodeAt(0)));
const SPACE = 0x20;
const HASH = 0x23;

/**
 * RFC 4514 escaping as rabbit_cert_info:escape_rdn_value does it, byte by byte: a
 * leading space or "#", a trailing space and the specials get a backslash; bytes
 * under 32 or from 126 up (every byte of a non-ASCII character) become \XX.
 */
function escapeValue(bytes: Buffer): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    const first = i === 0;
    const last = i === bytes.length - 1;
    if ((first && (c === SPACE || c === HASH)) || (last && c === SPACE) || SPECIAL.has(c)) {
      out += `\\${String.fromCharCode(c)}`;
    } else if (c < 32 || c >= 126) {
      out += `\\${c.toString(16).toUpperCase().padStart(2, "0")}`;
    } else {
      out += String.fromCharCode(c);
    }
  }
  return out;
}
