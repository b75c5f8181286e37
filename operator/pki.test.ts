import { describe, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { issue, makeCa, stillGood } from './pki.ts';

const now = new Date('2026-12-01T12:00:00Z');

describe('operator PKI (X.509 in Node, no openssl)', () => {
  test('a CA and a server certificate it signs: parsed by OpenSSL (node:crypto), chain verified, SANs and subject as asked', () => {
    const ca = makeCa({ subject: [['O', 'Brook'], ['CN', 'demo cluster CA']], days: 1825, now });
    const caCert = new X509Certificate(ca.cert);
    expect(caCert.ca).toBe(true);
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    const leaf = issue(ca, { subject: [['O', 'Brook'], ['CN', 'demo-0']], days: 365, now, altNames: ['demo-0.demo-brokers.ns.svc', 'localhost', '127.0.0.1', '::1'], usage: { server: true, client: true } });
    const cert = new X509Certificate(leaf.cert);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.subject).toBe('O=Brook\nCN=demo-0');
    expect(cert.subjectAltName).toBe('DNS:demo-0.demo-brokers.ns.svc, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(new Date(cert.validTo).getTime()).toBe(now.getTime() + 365 * 86_400_000);
    expect(cert.checkHost('demo-0.demo-brokers.ns.svc')).toBe('demo-0.demo-brokers.ns.svc');
  });

  test('stillGood: renews when expiry is within the renewal window, when signed by another CA, when a SAN is missing', () => {
    const ca = makeCa({ subject: [['CN', 'ca']], days: 100, now });
    const other = makeCa({ subject: [['CN', 'ca']], days: 100, now });
    const leaf = issue(ca, { subject: [['CN', 'b']], days: 10, now, altNames: ['b.svc'] });
    const day = 86_400_000;
    expect(stillGood(leaf.cert, ca.cert, now, 5 * day, ['b.svc'])).toBe(true);
    expect(stillGood(leaf.cert, ca.cert, new Date(now.getTime() + 6 * day), 5 * day, ['b.svc'])).toBe(false);
    expect(stillGood(leaf.cert, other.cert, now, 5 * day)).toBe(false);
    expect(stillGood(leaf.cert, ca.cert, now, 5 * day, ['b.svc', 'c.svc'])).toBe(false);
    expect(stillGood(undefined, ca.cert, now, 0)).toBe(false);
  });

  test('a real TLS handshake with mutual authentication: the server verifies the client certificate, the client the server name', async () => {
    const ca = makeCa({ subject: [['CN', 'ca']], days: 10, now: new Date() });
    const server = issue(ca, { subject: [['CN', 'broker']], days: 1, now: new Date(), altNames: ['localhost'], usage: { server: true, client: true } });
    const client = issue(ca, { subject: [['CN', 'alice']], days: 1, now: new Date(), usage: { client: true } });
    const srv = createServer({ key: server.key, cert: server.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (s: TLSSocket) => {
      s.end(`hello ${s.getPeerCertificate().subject.CN}`);
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    try {
      const sock = connect({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port, servername: 'localhost', ca: ca.cert, key: client.key, cert: client.cert });
      let text = '';
      sock.on('data', (d) => { text += d.toString(); });
      await once(sock, 'end');
      expect(sock.authorized).toBe(true);
      expect(text).toBe('hello alice');
      sock.destroy();
    } finally {
      srv.close();
    }
  });
});
