/**
 * Certificates for the security tests, made with openssl through test/cluster/pki.ts's helpers:
 * a trusted CA; the broker's certificate (SAN 127.0.0.1 and localhost, server and client auth, so
 * brokers can present it to each other); a client certificate for mTLS (subject
 * `/O=Brook/OU=eng/CN=alice`, principal `User:CN=alice,OU=eng,O=Brook`); and an untrusted CA with a
 * client and a broker certificate of its own. Key stores are PEM files holding the key and the
 * certificate, as Kafka's `ssl.keystore.type=PEM` reads them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCa, signed } from '../cluster/pki.ts';

export interface TestPki {
  dir: string;
  /** The trusted CA certificate (trust store, PEM). */
  caCert: string;
  /** Broker key store: key + certificate (PEM). */
  brokerKeystore: string;
  brokerCert: string;
  brokerKey: string;
  /** mTLS client (CN=alice): certificate, key, and a key+certificate PEM (a Java PEM key store). */
  clientCert: string;
  clientKey: string;
  clientKeystore: string;
  clientPrincipal: string;
  /** Signed by a CA nobody trusts. */
  rogueCaCert: string;
  rogueClientCert: string;
  rogueClientKey: string;
  rogueClientKeystore: string;
  rogueBrokerKeystore: string;
}

const serverExt = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n';
const clientExt = 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n';

function keystore(dir: string, name: string): string {
  const path = join(dir, `${name}.keystore.pem`);
  writeFileSync(path, readFileSync(join(dir, `${name}.key`), 'utf8') + readFileSync(join(dir, `${name}.crt`), 'utf8'), { mode: 0o600 });
  return path;
}

export function makeTestPki(dir: string): TestPki {
  makeCa(dir, 'ca', '/CN=brook-test-ca');
  makeCa(dir, 'rogue-ca', '/CN=rogue-ca');
  signed(dir, 'broker', '/O=Brook/CN=broker', serverExt);
  signed(dir, 'client', '/O=Brook/OU=eng/CN=alice', clientExt);
  signed(dir, 'rogue-client', '/O=Rogue/CN=mallory', clientExt, 'rogue-ca');
  signed(dir, 'rogue-broker', '/O=Rogue/CN=broker', serverExt, 'rogue-ca');
  const p = (f: string) => join(dir, f);
  return {
    dir, caCert: p('ca.crt'),
    brokerKeystore: keystore(dir, 'broker'), brokerCert: p('broker.crt'), brokerKey: p('broker.key'),
    clientCert: p('client.crt'), clientKey: p('client.key'), clientKeystore: keystore(dir, 'client'), clientPrincipal: 'User:CN=alice,OU=eng,O=Brook',
    rogueCaCert: p('rogue-ca.crt'), rogueClientCert: p('rogue-client.crt'), rogueClientKey: p('rogue-client.key'),
    rogueClientKeystore: keystore(dir, 'rogue-client'), rogueBrokerKeystore: keystore(dir, 'rogue-broker'),
  };
}

/** A fresh broker certificate from the same CA (a rotation): a new key, a new serial; returns its key store path. */
export function rotateBrokerCertificate(pki: TestPki, name: string): { keystore: string; cert: string } {
  signed(pki.dir, name, `/O=Brook/CN=broker-${name}`, serverExt);
  return { keystore: keystore(pki.dir, name), cert: join(pki.dir, `${name}.crt`) };
}
