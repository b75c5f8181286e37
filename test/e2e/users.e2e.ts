/**
 * Security on the real cluster: `helm install` of the operator, a Cluster whose client listener is
 * SASL_SSL with SCRAM-SHA-512 and `authorization: simple` (certificates from the operator's own CA:
 * cert-manager is not installable here), a Topic, and `User` resources. Clients are kcat in pods
 * (the kcat image), mounting the User's Secret (password and ca.crt) as a client would:
 *   - alice (ACLs on the topic) produces and consumes every record over TLS + SCRAM;
 *   - bob (no ACLs) is refused with TOPIC_AUTHORIZATION_FAILED;
 *   - alice's User deleted while a pod keeps producing (a new connection every 200 ms): the time
 *     from `kubectl delete` to the first refused produce is printed and must be under 10 s.
 * The same Cluster has a second client listener, SSL with client certificates (authentication tls):
 *   - carol, a TLS User, connects with kcat from exactly the files of her Secret (user.crt,
 *     user.key, ca.crt) as User:CN=carol: her ACLs let her produce and consume one topic and deny
 *     her another (TOPIC_AUTHORIZATION_FAILED);
 *   - certificates for CN=carol signed by the cluster CA or by a CA of their own are refused in the
 *     TLS handshake (the listener trusts the clients CA only).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { issue, makeCa } from '../../operator/pki.ts';
import { repoRoot } from '../harness/paths.ts';
import {
  createNamespace, deleteBrookObjects, deleteNamespace, diagnose, getJson, helm, images, kubectl, ok, runPod, uniqueName, waitClusterReady, waitFor,
  type Condition,
} from './kube.ts';

const CHART = join(repoRoot, 'charts', 'brook-operator');
const CLUSTER = 'sec';
const TOPIC = 'orders';
const PORT = 9093;
/** The Cluster's second client listener: SSL with client certificates (authentication tls). */
const MTLS_PORT = 9094;

let ns = '';
let release = '';

function report(what: string, value: string): void {
  process.stderr.write(`[e2e users] ${what}: ${value}\n`);
}

const apply = (obj: unknown) => kubectl(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(obj) }).then(ok);

async function userReady(name: string): Promise<Condition> {
  return waitFor(`User ${name} Ready`, ns, 120_000, async () => {
    const u = await getJson<{ status?: { conditions?: Condition[] } }>(['get', `users.brook.dev/${name}`, '-n', ns]);
    const c = u.status?.conditions?.find((x) => x.type === 'Ready');
    return c?.status === 'True' ? c : undefined;
  });
}

/** A pod spec running `script` in the kcat image with User `user`'s Secret at /creds. */
function kcatPod(user: string, script: string): Record<string, unknown> {
  return {
    securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
    volumes: [{ name: 'creds', secret: { secretName: user } }],
    containers: [{
      name: 'kcat', image: images().kcat, imagePullPolicy: 'IfNotPresent', command: ['/bin/sh', '-c', script],
      volumeMounts: [{ name: 'creds', mountPath: '/creds', readOnly: true }],
      securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    }],
  };
}

/** kcat's connection settings for `user` from the mounted Secret (shell text). */
const auth = (user: string) => `-b ${CLUSTER}-bootstrap.${ns}.svc:${PORT} -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=${user} -X "sasl.password=$(cat /creds/password)" -X ssl.ca.location=/creds/ca.crt`;

beforeAll(async () => {
  ns = await createNamespace('brook-users');
  release = uniqueName('brook');
}, 60_000);

afterAll(async () => {
  if (!ns) return;
  const stuck = await deleteBrookObjects(ns, 120_000);
  if (release) ok(await helm(['uninstall', release, '-n', ns, '--wait', '--timeout', '120s']));
  await deleteNamespace(ns);
  if (stuck.length) throw new Error(`teardown: objects stuck on finalizers: ${stuck.join(', ')}`);
}, 600_000);

describe('Users on a secured Cluster (SASL_SSL, SCRAM-SHA-512, ACLs)', () => {
  test('the operator makes the CA and broker certificates; the broker pod runs with them (read-only root, seccomp, no privilege escalation)', async () => {
    const img = images();
    ok(await helm(['install', release, CHART, '-n', ns,
      '--set', `image.repository=${img.brook.repository}`, '--set', `image.tag=${img.brook.tag}`, '--set', 'image.pullPolicy=IfNotPresent',
      '--wait', '--timeout', '180s'], { timeoutMs: 200_000 }));
    await apply({
      apiVersion: 'brook.dev/v1alpha1', kind: 'Cluster', metadata: { name: CLUSTER },
      spec: {
        replicas: 1,
        storage: { size: '1Gi' },
        resources: { requests: { cpu: '100m', memory: '256Mi' } },
        listeners: [
          { name: 'clients', port: PORT, tls: true, authentication: 'scram-sha-512' },
          { name: 'mtls', port: MTLS_PORT, tls: true, authentication: 'tls' },
        ],
        authorization: { type: 'simple' },
      },
    });
    const started = Date.now();
    await waitClusterReady(ns, CLUSTER, 1, 300_000);
    report('secured Cluster applied → Ready', `${((Date.now() - started) / 1000).toFixed(1)} s`);
    const pod = await getJson<{ spec: { containers: Array<{ securityContext: Record<string, unknown> }>; securityContext: Record<string, unknown> } }>(['get', 'pod', `${CLUSTER}-0`, '-n', ns]);
    expect(pod.spec.containers[0]!.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    for (const s of [`${CLUSTER}-cluster-ca`, `${CLUSTER}-clients-ca`, `${CLUSTER}-broker-certs`, `${CLUSTER}-internal-credentials`]) ok(await kubectl(['get', 'secret', s, '-n', ns]));
    await apply({ apiVersion: 'brook.dev/v1alpha1', kind: 'Topic', metadata: { name: TOPIC }, spec: { cluster: CLUSTER, partitions: 1, replicationFactor: 1 } });
  }, 540_000);

  test('a User with ACLs: its Secret works for kcat in a pod over SASL_SSL; every record produced is consumed back', async () => {
    await apply({
      apiVersion: 'brook.dev/v1alpha1', kind: 'User', metadata: { name: 'alice' },
      spec: { cluster: CLUSTER, authentication: { type: 'scram-sha-512' }, authorization: { acls: [{ resource: { type: 'topic', name: TOPIC }, operations: ['Write', 'Read', 'Describe'] }] } },
    });
    await userReady('alice');
    const secret = await getJson<{ data: Record<string, string> }>(['get', 'secret', 'alice', '-n', ns]);
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'password', 'sasl.jaas.config']);
    const runId = uniqueName('run');
    const script = [
      'set -e',
      `end=$(( $(date +%s) + 120 ))`,
      `until seq 1 100 | sed "s/^/${runId} /" | kcat -P ${auth('alice')} -t ${TOPIC} -X acks=all -X message.timeout.ms=10000; do`,
      '  [ "$(date +%s)" -lt "$end" ] || { echo "could not produce"; exit 1; }; sleep 1',
      'done',
      `kcat -C ${auth('alice')} -t ${TOPIC} -o beginning -e -q`,
    ].join('\n');
    const { phase, log } = await runPod(ns, uniqueName('alice'), kcatPod('alice', script), 240_000);
    if (phase !== 'Succeeded') throw new Error(`the kcat pod ${phase}:\n${log}\n${await diagnose(ns)}`);
    const values = log.split('\n').filter((l) => l.startsWith(`${runId} `)).map((l) => Number(l.split(' ')[1])).sort((a, b) => a - b);
    expect(values).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  }, 300_000);

  test('a User without ACLs for the topic is refused with TOPIC_AUTHORIZATION_FAILED', async () => {
    await apply({ apiVersion: 'brook.dev/v1alpha1', kind: 'User', metadata: { name: 'bob' }, spec: { cluster: CLUSTER, authentication: { type: 'scram-sha-512' } } });
    await userReady('bob');
    const script = `echo one | kcat -P ${auth('bob')} -t ${TOPIC} -X message.timeout.ms=10000 2>&1; echo "exit $?"`;
    const { log } = await runPod(ns, uniqueName('bob'), kcatPod('bob', script), 120_000);
    expect(log).toMatch(/Topic authorization failed/i);
    expect(log).not.toContain('exit 0');
  }, 180_000);

  test('the User deleted → its client loses access within 10 s (time printed)', async () => {
    // Produces one record per new connection every 200 ms; every line kcat prints and its exit
    // status ("rc=N") go to the log stamped with the time in ms.
    const script = [
      'while true; do',
      `  { echo x | kcat -P ${auth('alice')} -t ${TOPIC} -X message.timeout.ms=3000; echo "rc=$?"; } 2>&1 | while read -r l; do echo "$(date +%s%3N) $l"; done`,
      '  sleep 0.2',
      'done',
    ].join('\n');
    const name = uniqueName('alice-loop');
    ok(await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec: { restartPolicy: 'Never', ...kcatPod('alice', script) } }) }));
    const lines = async () => (await kubectl(['logs', '-n', ns, name])).stdout.toString().split('\n').filter(Boolean);
    const at = (l: string) => Number(l.split(' ')[0]);
    await waitFor('the loop producing', ns, 120_000, async () => ((await lines()).filter((l) => l.endsWith(' rc=0')).length >= 3 ? true : undefined));
    const deletedAt = Date.now();
    ok(await kubectl(['delete', 'users.brook.dev/alice', '-n', ns, '--wait=false']));
    const refused = await waitFor('a refused produce after the deletion', ns, 30_000, async () => (await lines()).find((l) => at(l) > deletedAt && /rc=[1-9]/.test(l)));
    const lostAfterMs = at(refused) - deletedAt;
    // What kcat said about that attempt: its lines since the attempt before.
    const all = await lines();
    const end = all.indexOf(refused);
    let start = end - 1;
    while (start >= 0 && !/ rc=\d+$/.test(all[start]!)) start--;
    const reason = all.slice(start + 1, end).map((l) => l.slice(l.indexOf(' ') + 1)).join(' | ');
    report('User deleted → client refused after', `${lostAfterMs} ms: ${reason}`);
    // Refused by the brokers: the ACLs gone (authorization) or the credential gone (authentication).
    expect(reason).toMatch(/authori[sz]ation fail|authentication fail/i);
    // Every attempt after the first refusal is refused too.
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await lines()).filter((l) => at(l) >= at(refused) && l.endsWith(' rc=0'))).toEqual([]);
    expect(lostAfterMs).toBeLessThan(10_000);
    await waitFor('the User and its Secret gone', ns, 60_000, async () => {
      const u = await kubectl(['get', 'users.brook.dev/alice', '-n', ns]);
      const s = await kubectl(['get', 'secret', 'alice', '-n', ns]);
      return u.code !== 0 && s.code !== 0 ? true : undefined;
    });
    ok(await kubectl(['delete', 'pod', name, '-n', ns, '--wait=false']));
  }, 240_000);
});

/**
 * kcat's settings for the mTLS listener with the client certificate, key and CA files in `dir`
 * (shell text). Broker 0 by its pod DNS name: the bootstrap Service carries only the first listener.
 */
const mtls = (dir: string, cert = 'user.crt', key = 'user.key') => `-b ${CLUSTER}-0.${CLUSTER}-brokers.${ns}.svc:${MTLS_PORT} -X security.protocol=SSL -X ssl.certificate.location=${dir}/${cert} -X ssl.key.location=${dir}/${key} -X ssl.ca.location=${dir}/ca.crt`;

describe('mTLS with a TLS User\'s certificate (SSL listener, client authentication tls)', () => {
  const AUDIT = 'audit';

  test('kcat with exactly the User\'s Secret (user.crt, user.key, ca.crt) is User:CN=<name>: its ACLs let it produce and consume one topic and deny it another (TOPIC_AUTHORIZATION_FAILED)', async () => {
    await apply({ apiVersion: 'brook.dev/v1alpha1', kind: 'Topic', metadata: { name: AUDIT }, spec: { cluster: CLUSTER, partitions: 1, replicationFactor: 1 } });
    await apply({
      apiVersion: 'brook.dev/v1alpha1', kind: 'User', metadata: { name: 'carol' },
      spec: {
        cluster: CLUSTER, authentication: { type: 'tls' },
        authorization: {
          acls: [
            { resource: { type: 'topic', name: TOPIC }, operations: ['Write', 'Read', 'Describe'] },
            { resource: { type: 'topic', name: AUDIT }, operations: ['Write', 'Describe'], type: 'deny' },
          ],
        },
      },
    });
    await userReady('carol');
    const user = await getJson<{ status: { username: string; secret: string } }>(['get', 'users.brook.dev/carol', '-n', ns]);
    expect(user.status).toMatchObject({ username: 'User:CN=carol', secret: 'carol' });
    const secret = await getJson<{ data: Record<string, string> }>(['get', 'secret', 'carol', '-n', ns]);
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'user.crt', 'user.key']);
    // The certificate names carol and is the clients CA's; ca.crt is the cluster CA (what signed the brokers').
    const userCert = new X509Certificate(Buffer.from(secret.data['user.crt']!, 'base64'));
    const clientsCa = await getJson<{ data: Record<string, string> }>(['get', 'secret', `${CLUSTER}-clients-ca`, '-n', ns]);
    expect(userCert.subject).toBe('CN=carol');
    expect(userCert.verify(new X509Certificate(Buffer.from(clientsCa.data['ca.crt']!, 'base64')).publicKey)).toBe(true);

    const runId = uniqueName('run');
    const script = [
      'set -e',
      `end=$(( $(date +%s) + 120 ))`,
      `until seq 1 50 | sed "s/^/${runId} /" | kcat -P ${mtls('/creds')} -t ${TOPIC} -X acks=all -X message.timeout.ms=10000; do`,
      '  [ "$(date +%s)" -lt "$end" ] || { echo "could not produce"; exit 1; }; sleep 1',
      'done',
      `kcat -C ${mtls('/creds')} -t ${TOPIC} -o beginning -e -q`,
      'set +e',
      `echo denied | kcat -P ${mtls('/creds')} -t ${AUDIT} -X message.timeout.ms=10000 2>&1; echo "audit rc=$?"`,
    ].join('\n');
    const { phase, log } = await runPod(ns, uniqueName('carol'), kcatPod('carol', script), 240_000);
    if (phase !== 'Succeeded') throw new Error(`the kcat pod ${phase}:\n${log}\n${await diagnose(ns)}`);
    const values = log.split('\n').filter((l) => l.startsWith(`${runId} `)).map((l) => Number(l.split(' ')[1])).sort((a, b) => a - b);
    expect(values).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(log).toMatch(/Topic authorization failed/i);
    expect(log).toMatch(/audit rc=[1-9]/);
  }, 300_000);

  test('a certificate for the same name not signed by the clients CA is refused: one from the cluster CA (which the brokers trust for each other), one from a CA of its own; carol\'s own still connects', async () => {
    // Certificates made here with the operator's own PKI code, as an attacker with those CAs would.
    const clusterCaData = (await getJson<{ data: Record<string, string> }>(['get', 'secret', `${CLUSTER}-cluster-ca`, '-n', ns])).data;
    const clusterCa = { cert: Buffer.from(clusterCaData['ca.crt']!, 'base64').toString(), key: Buffer.from(clusterCaData['ca.key']!, 'base64').toString() };
    const now = new Date();
    const fromClusterCa = issue(clusterCa, { subject: [['CN', 'carol']], days: 30, now, usage: { client: true } });
    const ownCa = makeCa({ subject: [['CN', 'carol\'s own CA']], days: 30, now });
    const fromOwnCa = issue(ownCa, { subject: [['CN', 'carol']], days: 30, now, usage: { client: true } });
    const carol = (await getJson<{ data: Record<string, string> }>(['get', 'secret', 'carol', '-n', ns])).data;
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    ok(await kubectl(['apply', '-n', ns, '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1', kind: 'Secret', metadata: { name: 'not-carol' }, type: 'Opaque',
        data: {
          'ca.crt': carol['ca.crt'], 'user.crt': carol['user.crt'], 'user.key': carol['user.key'],
          'cluster-ca.crt': b64(fromClusterCa.cert), 'cluster-ca.key': b64(fromClusterCa.key),
          'own-ca.crt': b64(fromOwnCa.cert), 'own-ca.key': b64(fromOwnCa.key),
        },
      }),
    }));
    // Each attempt: one record to the topic carol may write, then "<which> rc=N".
    const attempt = (which: string, cert: string, key: string) =>
      `echo ${which} | kcat -P ${mtls('/creds', cert, key)} -t ${TOPIC} -X message.timeout.ms=8000 2>&1; echo "${which} rc=$?"`;
    const script = [
      attempt('cluster-ca', 'cluster-ca.crt', 'cluster-ca.key'),
      attempt('own-ca', 'own-ca.crt', 'own-ca.key'),
      attempt('carol', 'user.crt', 'user.key'),
    ].join('\n');
    const { log } = await runPod(ns, uniqueName('not-carol'), kcatPod('not-carol', script), 120_000);
    // What kcat printed for each attempt, and its exit status.
    const attempts = new Map<string, { rc: number; said: string }>();
    let said: string[] = [];
    for (const line of log.split('\n')) {
      const end = /^(\S+) rc=(\d+)$/.exec(line);
      if (!end) { said.push(line); continue; }
      attempts.set(end[1]!, { rc: Number(end[2]), said: said.join(' | ') });
      said = [];
    }
    for (const [which, a] of attempts) report(`kcat with the ${which} certificate`, `rc=${a.rc}: ${a.said.slice(0, 400)}`);
    expect(attempts.get('carol')?.rc).toBe(0);
    for (const which of ['cluster-ca', 'own-ca']) {
      expect(attempts.get(which)?.rc).toBeGreaterThan(0);
      // Refused in the TLS handshake (the broker's alert), not for some other reason.
      expect(attempts.get(which)?.said).toMatch(/SSL|handshake|unknown ca|certificate/i);
    }
  }, 180_000);
});
