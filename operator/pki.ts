/**
 * The operator's certificate authority, in Node alone (the image has no openssl): ECDSA P-256
 * keys from node:crypto, X.509 v3 certificates DER-encoded here and signed with
 * ecdsa-with-SHA256, PEM out. Enough of X.509 for TLS between Kafka clients and brokers:
 *
 *   CA           basicConstraints CA:TRUE (critical), keyUsage keyCertSign|cRLSign|digitalSignature
 *   leaf         basicConstraints CA:FALSE, keyUsage digitalSignature|keyEncipherment (critical),
 *                extKeyUsage serverAuth and/or clientAuth, subjectAltName (DNS names, IP addresses)
 *   both         subjectKeyIdentifier, authorityKeyIdentifier; a random positive 127-bit serial
 *
 * Subjects are written as given, one RDN per attribute, in the order given: `{ CN: 'alice' }`
 * gives the Kafka principal User:CN=alice. Validity starts an hour back (clock skew).
 * Pure functions; the clock and key generation are the caller's (`now`).
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

// ---- DER ----

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), len(body.length), body]);
const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, body: Buffer): Buffer => tlv(0xa0 + n, body);
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bits = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && (b[i + 1]! & 0x80) === 0) i++;
  const body = b.subarray(i);
  return tlv(0x02, body[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), body]) : body);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
const attributeOids: Record<string, string> = { CN: '2.5.4.3', O: '2.5.4.10', OU: '2.5.4.11', C: '2.5.4.6', L: '2.5.4.7', ST: '2.5.4.8' };

export type Subject = ReadonlyArray<readonly [attribute: keyof typeof attributeOids | string, value: string]>;

function name(subject: Subject): Buffer {
  return seq(...subject.map(([attr, value]) => {
    const o = attributeOids[attr];
    if (!o) throw new Error(`unknown subject attribute ${attr}`);
    return set(seq(oid(o), utf8(value)));
  }));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

function keyId(publicKey: KeyObject): Buffer {
  return createHash('sha1').update(publicKey.export({ type: 'spki', format: 'der' })).digest();
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand '::'
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(groups.flatMap((g) => { const v = parseInt(g, 16); return [v >> 8, v & 0xff]; }));
}

// ---- certificates ----

export interface KeyAndCertificate {
  /** PEM, PKCS#8. */
  key: string;
  /** PEM. */
  cert: string;
}

export interface IssueOptions {
  subject: Subject;
  /** Days of validity from `now`. */
  days: number;
  now: Date;
  /** Names for subjectAltName: IP addresses become iPAddress entries, the rest dNSName. */
  altNames?: readonly string[];
  usage?: { server?: boolean; client?: boolean };
}

function certificate(opts: IssueOptions & { ca: boolean; publicKey: KeyObject; signingKey: KeyObject; issuer: { subject: Buffer; keyId: Buffer } | null }): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const subject = name(opts.subject);
  const notBefore = new Date(opts.now.getTime() - 3600_000);
  const notAfter = new Date(opts.now.getTime() + opts.days * 86_400_000);
  const ski = keyId(opts.publicKey);
  const exts: Buffer[] = [
    extension('2.5.29.19', true, opts.ca ? seq(bool(true)) : seq()),
    // keyUsage bits: digitalSignature 0x80, keyEncipherment 0x20, keyCertSign 0x04, cRLSign 0x02
    extension('2.5.29.15', true, opts.ca ? bits(Buffer.from([0x86]), 1) : bits(Buffer.from([0xa0]), 5)),
    extension('2.5.29.14', false, octets(ski)),
    extension('2.5.29.35', false, seq(tlv(0x80, opts.issuer?.keyId ?? ski))),
  ];
  if (!opts.ca) {
    const eku = [...(opts.usage?.server ? ['1.3.6.1.5.5.7.3.1'] : []), ...(opts.usage?.client ? ['1.3.6.1.5.5.7.3.2'] : [])];
    if (eku.length) exts.push(extension('2.5.29.37', false, seq(...eku.map(oid))));
    if (opts.altNames?.length) {
      exts.push(extension('2.5.29.17', false, seq(...opts.altNames.map((n) => (isIP(n) ? tlv(0x87, ipBytes(n)) : tlv(0x82, Buffer.from(n, 'ascii')))))));
    }
  }
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    ecdsaWithSha256,
    opts.issuer?.subject ?? subject,
    seq(time(notBefore), time(notAfter)),
    subject,
    opts.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...exts)),
  );
  const signature = sign('sha256', tbs, { key: opts.signingKey, dsaEncoding: 'der' });
  const der = seq(tbs, ecdsaWithSha256, bits(signature));
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** A self-signed CA. */
export function makeCa(opts: { subject: Subject; days: number; now: Date }): KeyAndCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const cert = certificate({ ...opts, ca: true, publicKey, signingKey: privateKey, issuer: null });
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert };
}

/** A leaf certificate (and its new key) signed by `ca`. */
export function issue(ca: KeyAndCertificate, opts: IssueOptions): KeyAndCertificate {
  const caCert = new X509Certificate(ca.cert);
  const caKey = createPrivateKey(ca.key);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const cert = certificate({ ...opts, ca: false, publicKey, signingKey: caKey, issuer: { subject: caCert.raw.subarray(...subjectRange(caCert.raw)), keyId: keyId(caCert.publicKey) } });
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert };
}

/** Byte range of the subject Name inside a DER certificate (the issuer of what it signs, byte for byte). */
function subjectRange(der: Buffer): [number, number] {
  const header = (at: number): { body: number; end: number } => {
    const l = der[at + 1]!;
    if (l < 0x80) return { body: at + 2, end: at + 2 + l };
    const n = l & 0x7f;
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + der[at + 2 + i]!;
    return { body: at + 2 + n, end: at + 2 + n + v };
  };
  const tbs = header(0).body; // Certificate SEQUENCE → TBSCertificate
  let at = header(tbs).body;
  const skip = () => { const h = header(at); const start = at; at = h.end; return [start, h.end] as [number, number]; };
  if (der[at] === 0xa0) skip(); // version
  skip(); // serial
  skip(); // signature algorithm
  skip(); // issuer
  skip(); // validity
  return skip(); // subject
}

/**
 * Is `pem` a certificate issued by `caPem` that is valid at `now` for at least `renewBeforeMs`
 * more, and (for leaves) names every one of `altNames`? False means: make a new one.
 */
export function stillGood(pem: string | undefined, caPem: string, now: Date, renewBeforeMs: number, altNames: readonly string[] = []): boolean {
  if (!pem) return false;
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = new X509Certificate(pem);
    ca = new X509Certificate(caPem);
  } catch {
    return false;
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
  if (new Date(cert.validTo).getTime() - renewBeforeMs <= now.getTime()) return false;
  const sans = new Set((cert.subjectAltName ?? '').split(', ').map((e) => e.replace(/^(DNS|IP Address):/, '')));
  return altNames.every((n) => sans.has(n));
}

/** When `pem` expires (ms since the epoch). */
export function expiresAt(pem: string): number { return new Date(new X509Certificate(pem).validTo).getTime(); }
