/**
 * A listener's TLS settings as Kafka names them, read into node:tls options: PEM key stores in a
 * file or inline, trust stores, Kafka's refusals with the setting named, the certificate subject
 * as Kafka's principal, Java cipher names, and SslFiles picking up a replaced key store.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { BrokerSettings, ConfigError } from '../config.ts';
import { makeTestPki, rotateBrokerCertificate } from '../../test/harness/tls-pki.ts';
import type { TestPki } from '../../test/harness/tls-pki.ts';
import { certificatePrincipal } from './principal.ts';
import { loadSslMaterial, opensslCipherName, SslFiles } from './ssl-config.ts';

let dir: string;
let pki: TestPki;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'brook-ssl-config-'));
  pki = makeTestPki(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pem = (f: string) => readFileSync(f, 'utf8');

describe('loadSslMaterial', () => {
  test('PEM key store from a file or inline, per listener over broker-wide', () => {
    const fromFile = loadSslMaterial(new BrokerSettings({ 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': pki.brokerKeystore }), 'SSL');
    expect(fromFile.context.cert).toContain('BEGIN CERTIFICATE');
    expect(fromFile.context.key).toContain('PRIVATE KEY');
    const inline = loadSslMaterial(new BrokerSettings({
      'ssl.keystore.type': 'JKS', 'listener.name.ext.ssl.keystore.type': 'PEM',
      'listener.name.ext.ssl.keystore.key': pem(pki.brokerKey), 'listener.name.ext.ssl.keystore.certificate.chain': pem(pki.brokerCert),
      'listener.name.ext.ssl.client.auth': 'required', 'ssl.truststore.type': 'PEM', 'ssl.truststore.certificates': pem(pki.caCert),
    }), 'EXT');
    expect(inline.clientAuth).toBe('required');
    expect(inline.hasTruststore).toBe(true);
    expect(inline.context.minVersion).toBe('TLSv1.2');
    expect(inline.context.maxVersion).toBe('TLSv1.3');
  });

  test('refusals name the setting: JKS, a trust store that is not PEM, client auth without a trust store, a key that does not match its certificate', () => {
    const load = (s: Record<string, string>) => () => loadSslMaterial(new BrokerSettings(s), 'SSL');
    expect(load({ 'ssl.keystore.location': pki.brokerKeystore })).toThrow(/ssl.keystore.type is JKS, which Brook cannot read .*use PEM or PKCS12/);
    expect(load({ 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': pki.brokerKeystore, 'ssl.truststore.location': pki.caCert })).toThrow(/ssl.truststore.type is JKS.*PEM/);
    expect(load({ 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': pki.brokerKeystore, 'ssl.client.auth': 'required' })).toThrow(/needs a trust store/);
    const mismatched = join(dir, 'mismatched.pem');
    writeFileSync(mismatched, pem(pki.clientKey) + pem(pki.brokerCert));
    expect(load({ 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': mismatched })).toThrow(ConfigError);
    expect(load({ 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': join(dir, 'missing.pem') })).toThrow(/cannot read/);
    expect(load({ 'ssl.enabled.protocols': 'SSLv3' })).toThrow(/ssl.enabled.protocols/);
  });

  test('Java cipher suite names become OpenSSL\'s; TLS 1.3 names pass through', () => {
    expect(opensslCipherName('TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384')).toBe('ECDHE-RSA-AES256-GCM-SHA384');
    expect(opensslCipherName('TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256')).toBe('ECDHE-ECDSA-CHACHA20-POLY1305');
    expect(opensslCipherName('TLS_AES_128_GCM_SHA256')).toBe('TLS_AES_128_GCM_SHA256');
  });
});

test('a client certificate\'s principal is its subject in RFC 2253 order, as Kafka names it', () => {
  const der = new X509Certificate(readFileSync(pki.clientCert)).raw;
  expect(certificatePrincipal(der)).toEqual({ type: 'User', name: 'CN=alice,OU=eng,O=Brook' });
});

test('SslFiles: a replaced key store is read at the next check and announced; a broken one is reported and the last good one kept', () => {
  const live = join(dir, 'live.pem');
  writeFileSync(live, readFileSync(pki.brokerKeystore));
  const errors: string[] = [];
  const files = new SslFiles({ settings: new BrokerSettings({ 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': live }), listener: 'SSL', onError: (e) => errors.push(e.message) });
  const changes: string[] = [];
  files.onChange((m) => changes.push(String(m.context.cert)));
  expect(files.check()).toBe(false);
  const rotated = rotateBrokerCertificate(pki, 'unit-rotated');
  writeFileSync(`${live}.tmp`, readFileSync(rotated.keystore));
  renameSync(`${live}.tmp`, live);
  expect(files.check()).toBe(true);
  expect(changes).toEqual([pem(rotated.cert).trim()]);
  writeFileSync(`${live}.tmp`, 'garbage');
  renameSync(`${live}.tmp`, live);
  expect(files.check()).toBe(false);
  expect(errors).toHaveLength(1);
  expect(String(files.current.context.cert)).toBe(pem(rotated.cert).trim());
  files.close();
});
