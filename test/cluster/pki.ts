/**
 * Certificates and keys of the single-node cluster, made with the openssl command-line tool: one CA
 * that signs the API server's serving certificate (so pods verify it with the kube-root-ca.crt the
 * controller-manager publishes), the API server's client certificates for kubelets and for the
 * aggregation front proxy, and the service-account signing key pair. Component identities are bearer
 * tokens (tokens.csv), one per user, so no more certificates are needed.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Identity {
  user: string;
  groups: string[];
  token: string;
}

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  kubeletClientCert: string;
  kubeletClientKey: string;
  frontProxyClientCert: string;
  frontProxyClientKey: string;
  saKey: string;
  saPub: string;
  tokensCsv: string;
  identities: Record<'admin' | 'controllerManager' | 'scheduler' | 'kubelet' | 'kubeProxy' | 'coredns', Identity>;
}

export function openssl(args: readonly string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`openssl ${args.join(' ')} failed: ${(err as { stderr?: Buffer }).stderr?.toString().trim() ?? (err as Error).message}`);
  }
}

export const keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA, `<name>.crt` and `<name>.key` in `dir`. */
export function makeCa(dir: string, name: string, subject: string): void {
  openssl(['req', '-x509', ...keyArgs, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '3650', '-subj', subject,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'], dir);
}

/** `<name>.key` and `<name>.crt` signed by the CA `<ca>.crt`/`<ca>.key` (default `ca`), with the extensions `ext`. */
export function signed(dir: string, name: string, subject: string, ext: string, ca = 'ca', days = 3650): void {
  openssl(['req', ...keyArgs, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-days', String(days), '-out', `${name}.crt`, '-extfile', `${name}.ext`], dir);
}

/** Makes every certificate, key and token of a fresh cluster in `dir`. */
export function makePki(dir: string, opts: { nodeName: string; apiserverIps: string[]; dnsNames: string[] }): Pki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  makeCa(dir, 'ca', '/CN=brook-test-cluster-ca');
  const san = [...opts.apiserverIps.map((ip) => `IP:${ip}`), ...opts.dnsNames.map((d) => `DNS:${d}`)].join(',');
  signed(dir, 'apiserver', '/CN=kube-apiserver',
    `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
  signed(dir, 'apiserver-kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client',
    'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
  signed(dir, 'front-proxy-client', '/CN=front-proxy-client',
    'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');

  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));

  const token = () => randomBytes(24).toString('hex');
  const identities: Pki['identities'] = {
    admin: { user: 'admin', groups: ['system:masters'], token: token() },
    controllerManager: { user: 'system:kube-controller-manager', groups: [], token: token() },
    scheduler: { user: 'system:kube-scheduler', groups: [], token: token() },
    kubelet: { user: `system:node:${opts.nodeName}`, groups: ['system:nodes'], token: token() },
    kubeProxy: { user: 'system:kube-proxy', groups: [], token: token() },
    coredns: { user: 'brook:coredns', groups: [], token: token() },
  };
  const tokensCsv = join(dir, 'tokens.csv');
  writeFileSync(tokensCsv, Object.values(identities)
    .map((i) => `${i.token},${i.user},${i.user}${i.groups.length ? `,"${i.groups.join(',')}"` : ''}`).join('\n') + '\n', { mode: 0o600 });

  const p = (f: string) => join(dir, f);
  return {
    dir, caCert: p('ca.crt'), caKey: p('ca.key'), apiserverCert: p('apiserver.crt'), apiserverKey: p('apiserver.key'),
    kubeletClientCert: p('apiserver-kubelet-client.crt'), kubeletClientKey: p('apiserver-kubelet-client.key'),
    frontProxyClientCert: p('front-proxy-client.crt'), frontProxyClientKey: p('front-proxy-client.key'),
    saKey: p('sa.key'), saPub: p('sa.pub'), tokensCsv, identities,
  };
}
