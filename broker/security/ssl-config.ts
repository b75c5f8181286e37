/**
 * TLS settings of one listener, Kafka's names (ssl.keystore.*, ssl.truststore.*, ssl.client.auth,
 * ssl.enabled.protocols, ssl.cipher.suites), turned into node:tls options — for the listener's
 * server side and for the broker's own connections to other brokers on it (replication,
 * transaction markers). `listener.name.<name>.<setting>` wins over `<setting>`, as in Kafka.
 *
 * Key stores: PEM (`ssl.keystore.location` holding the private key and the certificate chain in
 * any order, or `ssl.keystore.key` + `ssl.keystore.certificate.chain` inline; an encrypted key
 * takes `ssl.key.password`) or PKCS12 (`ssl.keystore.password`). Trust stores: PEM only. JKS, a
 * Java format, is refused with a ConfigError naming the setting.
 *
 * Reload (SslFiles): the key store and trust store files — and the settings naming them, which
 * IncrementalAlterConfigs of `listener.name.<name>.ssl.keystore.location` (etc.) changes — are checked every
 * `ssl.reload.check.interval.ms` (size, mtime, inode: a Kubernetes Secret volume swaps a symlink);
 * a changed file is re-read and, once it forms a valid context (a key that matches its
 * certificate), handed to `onChange` — the server's new handshakes use it, established
 * connections keep theirs. A file caught half-written is retried at the next check.
 */
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { ConnectionOptions, SecureContextOptions, SecureVersion } from 'node:tls';
import { ConfigError } from '../config.ts';
import type { BrokerSettings } from '../config.ts';

export type ClientAuth = 'none' | 'requested' | 'required';

/** What a listener's TLS needs: options for tls.createServer/setSecureContext and for tls.connect. */
export interface SslMaterial {
  /** key/cert (or pfx), ca, versions and ciphers. */
  readonly context: SecureContextOptions;
  readonly clientAuth: ClientAuth;
  /** Whether a trust store was given (else: the system's CAs for outgoing connections). */
  readonly hasTruststore: boolean;
  readonly verifyHostname: boolean;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

function pemBlocks(text: string): Array<{ label: string; pem: string }> {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1]!, pem: m[0] }));
}

const VERSIONS: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Java's cipher suite names (IANA) to OpenSSL's for TLS 1.2; TLS 1.3 names and OpenSSL names pass through. */
export function opensslCipherName(name: string): string {
  const m = /^TLS_((?:ECDHE|DHE)_(?:RSA|ECDSA)|RSA)_WITH_(AES_(128|256)_GCM|CHACHA20_POLY1305)_(SHA256|SHA384)$/.exec(name);
  if (!m) return name;
  const kx = m[1] === 'RSA' ? '' : `${m[1]!.replace('_', '-')}-`;
  const cipher = m[2] === 'CHACHA20_POLY1305' ? 'CHACHA20-POLY1305' : `AES${m[3]}-GCM-${m[4]}`;
  return `${kx}${cipher}`;
}

function readSettingFile(setting: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${setting}: cannot read ${path}: ${(err as Error).message}`);
  }
}

/** The listener's TLS material from the settings, read now (files included). */
export function loadSslMaterial(settings: BrokerSettings, listener: string): SslMaterial {
  const get = (name: string) => settings.forListener(listener, name);
  const where = (name: string) => `listener ${listener}: ${name}`;
  const context: SecureContextOptions = {};

  const keystoreType = (get('ssl.keystore.type') ?? 'JKS').toUpperCase();
  const location = get('ssl.keystore.location');
  const inlineKey = get('ssl.keystore.key');
  const inlineChain = get('ssl.keystore.certificate.chain');
  if (keystoreType === 'PEM') {
    let keyPem: string | undefined;
    let certPems: string[] = [];
    if (location) {
      const blocks = pemBlocks(readSettingFile(where('ssl.keystore.location'), location).toString('utf8'));
      keyPem = blocks.find((b) => b.label.endsWith('PRIVATE KEY'))?.pem;
      certPems = blocks.filter((b) => b.label === 'CERTIFICATE').map((b) => b.pem);
      if (!keyPem || certPems.length === 0) {
        throw new ConfigError(`${where('ssl.keystore.location')}: ${location} must hold a PEM private key and its certificate chain`);
      }
    } else if (inlineKey || inlineChain) {
      if (!inlineKey || !inlineChain) throw new ConfigError(`${where('ssl.keystore.key')} and ssl.keystore.certificate.chain go together`);
      keyPem = inlineKey;
      certPems = pemBlocks(inlineChain).filter((b) => b.label === 'CERTIFICATE').map((b) => b.pem);
      if (certPems.length === 0) throw new ConfigError(`${where('ssl.keystore.certificate.chain')} holds no PEM certificate`);
    }
    if (keyPem) {
      context.key = keyPem;
      context.cert = certPems.join('\n');
      const password = get('ssl.key.password');
      if (password) context.passphrase = password;
    }
  } else if (keystoreType === 'PKCS12') {
    if (location) {
      context.pfx = readSettingFile(where('ssl.keystore.location'), location);
      context.passphrase = get('ssl.keystore.password') ?? '';
    }
  } else if (location) {
    throw new ConfigError(`${where('ssl.keystore.type')} is ${keystoreType}, which Brook cannot read (a Java format): use PEM or PKCS12`);
  }

  const truststoreType = (get('ssl.truststore.type') ?? 'JKS').toUpperCase();
  const trustLocation = get('ssl.truststore.location');
  const inlineTrust = get('ssl.truststore.certificates');
  let hasTruststore = false;
  if (trustLocation || inlineTrust) {
    if (truststoreType !== 'PEM') {
      throw new ConfigError(`${where('ssl.truststore.type')} is ${truststoreType}: Brook reads PEM trust stores only (set ssl.truststore.type=PEM)`);
    }
    const text = trustLocation ? readSettingFile(where('ssl.truststore.location'), trustLocation).toString('utf8') : inlineTrust!;
    const cas = pemBlocks(text).filter((b) => b.label === 'CERTIFICATE').map((b) => b.pem);
    if (cas.length === 0) throw new ConfigError(`${where(trustLocation ? 'ssl.truststore.location' : 'ssl.truststore.certificates')} holds no PEM certificate`);
    context.ca = cas;
    hasTruststore = true;
  }

  const protocols = (get('ssl.enabled.protocols') ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  const unknown = protocols.filter((p) => !(VERSIONS as readonly string[]).includes(p));
  if (unknown.length > 0 || protocols.length === 0) {
    throw new ConfigError(`${where('ssl.enabled.protocols')}: '${protocols.join(',')}' must list TLS versions among ${VERSIONS.join(', ')}`);
  }
  const indexes = protocols.map((p) => VERSIONS.indexOf(p as SecureVersion));
  context.minVersion = VERSIONS[Math.min(...indexes)];
  context.maxVersion = VERSIONS[Math.max(...indexes)];
  const suites = (get('ssl.cipher.suites') ?? '').split(',').map((c) => c.trim()).filter(Boolean);
  if (suites.length > 0) context.ciphers = suites.map(opensslCipherName).join(':');

  const clientAuth = (get('ssl.client.auth') ?? 'none').toLowerCase();
  if (clientAuth !== 'none' && clientAuth !== 'requested' && clientAuth !== 'required') {
    throw new ConfigError(`${where('ssl.client.auth')}: '${clientAuth}' is not none, requested or required`);
  }
  if (clientAuth !== 'none' && !hasTruststore) {
    throw new ConfigError(`${where('ssl.client.auth')}=${clientAuth} needs a trust store to check client certificates against (ssl.truststore.location or ssl.truststore.certificates)`);
  }
  try {
    createSecureContext(context);
  } catch (err) {
    throw new ConfigError(`listener ${listener}: the TLS key store or trust store is not usable: ${(err as Error).message}`);
  }
  return { context, clientAuth, hasTruststore, verifyHostname: (get('ssl.endpoint.identification.algorithm') ?? '').toLowerCase() === 'https' };
}

/** Whether the listener has a key (server side needs one). */
export function hasKey(m: SslMaterial): boolean { return m.context.key !== undefined || m.context.pfx !== undefined; }

/** Options for the broker's own TLS connection to `host` on this listener (replication, markers). */
export function clientTlsOptions(m: SslMaterial, host: string): ConnectionOptions {
  const isIp = /^[\d.]+$|:/.test(host);
  return {
    ...m.context,
    host,
    servername: isIp ? undefined : host,
    rejectUnauthorized: true,
    ...(m.verifyHostname ? {} : { checkServerIdentity: () => undefined }),
  };
}

/** The files a listener's TLS material was read from (what SslFiles watches). */
export function sslFiles(settings: BrokerSettings, listener: string): string[] {
  return ['ssl.keystore.location', 'ssl.truststore.location'].map((n) => settings.forListener(listener, n)).filter((p): p is string => !!p);
}

interface Stamp { size: number; mtimeMs: number; ino: number }

const SIGNATURE_SETTINGS = ['ssl.keystore.type', 'ssl.keystore.location', 'ssl.keystore.password', 'ssl.key.password', 'ssl.keystore.certificate.chain',
  'ssl.keystore.key', 'ssl.truststore.type', 'ssl.truststore.location', 'ssl.truststore.password', 'ssl.truststore.certificates'];

function stamp(path: string): Stamp | null {
  try {
    const s = statSync(path);
    return { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
  } catch {
    return null;
  }
}

/**
 * Watches a listener's key store and trust store files and reloads its TLS material when one
 * changes. `current` is always a material that formed a valid context.
 */
export class SslFiles {
  private material: SslMaterial;
  private files: string[];
  private stamps: Array<Stamp | null>;
  /** The listener's key/trust store settings as last read (IncrementalAlterConfigs may change them). */
  private signature: string;
  private readonly settingsSignature: () => string;
  private readonly filesNow: () => string[];
  private timer: NodeJS.Timeout | null = null;
  private readonly reload: () => SslMaterial;
  private readonly listeners: Array<(m: SslMaterial) => void> = [];
  private readonly onError: (err: Error) => void;
  reloads = 0;

  constructor(opts: { settings: BrokerSettings; listener: string; onError: (err: Error) => void }) {
    this.reload = () => loadSslMaterial(opts.settings, opts.listener);
    this.material = this.reload();
    this.filesNow = () => sslFiles(opts.settings, opts.listener);
    this.settingsSignature = () => JSON.stringify(SIGNATURE_SETTINGS.map((n) => opts.settings.forListener(opts.listener, n)));
    this.files = this.filesNow();
    this.stamps = this.files.map(stamp);
    this.signature = this.settingsSignature();
    this.onError = opts.onError;
  }

  get current(): SslMaterial { return this.material; }

  onChange(listener: (m: SslMaterial) => void): void { this.listeners.push(listener); }

  /** Starts checking the files (and the settings naming them) every `intervalMs`. */
  watch(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  /** Re-reads the files if any changed since the last successful read; true when reloaded. */
  check(): boolean {
    const signature = this.settingsSignature();
    const files = this.filesNow();
    const now = files.map(stamp);
    const changed = signature !== this.signature || JSON.stringify(now) !== JSON.stringify(this.stamps);
    if (!changed) return false;
    let next: SslMaterial;
    try {
      next = this.reload();
    } catch (err) {
      this.onError(err as Error);
      return false; // stamps kept: the next check tries again
    }
    this.stamps = now;
    this.files = files;
    this.signature = signature;
    this.material = next;
    this.reloads++;
    for (const l of this.listeners) l(next);
    return true;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
