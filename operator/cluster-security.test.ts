import { describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import { ApiKey, KafkaConnection } from '../broker/client/index.ts';
import type { Cluster } from '../broker/k8s/index.ts';
import { brokerSecuritySettings, isSecured, operatorClientSecurity } from './cluster-security.ts';
import { issue, makeCa } from './pki.ts';

describe('the operator\'s client security for a TLS cluster', () => {
  // The bug: the TLS options named only servername, so node:tls connected to localhost instead of
  // the broker (ECONNREFUSED 127.0.0.1:9091 from the operator pod in users.e2e.ts).
  test('operator admin TLS connects to the broker host, not localhost (regression: ECONNREFUSED 127.0.0.1 in a pod)', async () => {
    const ca = makeCa({ subject: [['CN', 'ca']], days: 10, now: new Date() });
    const broker = issue(ca, { subject: [['CN', 'broker']], days: 1, now: new Date(), altNames: ['127.0.0.2'], usage: { server: true } });
    let handshakes = 0;
    const srv = createServer({ key: broker.key, cert: broker.cert }, (s: TLSSocket) => { handshakes++; s.destroy(); });
    srv.listen(0, '127.0.0.2'); // another loopback address: a connection to localhost finds nobody
    await once(srv, 'listening');
    const security = operatorClientSecurity('pw', ca.cert);
    const conn = new KafkaConnection({ host: '127.0.0.2', port: (srv.address() as AddressInfo).port, clientId: 't', requestTimeoutMs: 2000, security: { tls: security.tls } });
    try {
      // The server closes after the handshake: the request fails, but the handshake reached it.
      await expect(conn.send(ApiKey.ApiVersions, 0, {})).rejects.toThrow();
      expect(handshakes).toBe(1);
    } finally {
      conn.close();
      srv.close();
    }
  });

  test('authorizer.class.name in spec.config secures the cluster too, and the operator stays a super user next to config\'s super.users', () => {
    const cluster = (spec: Cluster['spec']): Cluster => ({ apiVersion: 'brook.dev/v1alpha1', kind: 'Cluster', metadata: { name: 'c', namespace: 'n' }, spec });
    expect(isSecured(cluster({}))).toBe(false);
    expect(brokerSecuritySettings(cluster({}))).toEqual([]);
    const viaConfig = brokerSecuritySettings(cluster({ config: { 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'super.users': 'User:admin; User:ops' } }));
    expect(viaConfig).toContain('authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer');
    expect(viaConfig).toContain('super.users=User:brook-internal;User:admin;User:ops');
    expect(brokerSecuritySettings(cluster({ authorization: { type: 'simple', superUsers: ['User:CN=admin'] } }))).toContain('super.users=User:brook-internal;User:CN=admin');
  });
});
