/**
 * The User resource and secured Clusters, against a real API server and real broker processes.
 *
 * Cluster `demo` (2 brokers): a client listener with SCRAM-SHA-512 and `authorization: simple`.
 * There are no pods here, so this file plays the kubelet: it runs each broker as a process with
 * exactly the command line of the StatefulSet the operator wrote (its args, with $(VAR) expanded
 * from the pod's env as the kubelet does: the internal password from the operator's Secret),
 * only moved onto 127.0.0.1 and free ports, and the ConfigMap's server.properties. So the brokers
 * run the listeners, SASL, authorizer and super user the operator configured, and the operator
 * administers them over its REPLICATION listener with its own credential.
 *
 * Cluster `secure` (no brokers): TLS listeners; its Secrets (CAs, broker certificates with their
 * SANs), pod security and NetworkPolicy, and a TLS User's certificate.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { repoRoot } from '../harness/paths.ts';
import { freePort } from '../harness/ports.ts';
import { adminKube, createNamespace, eventually, resources, startOperator } from './harness.ts';
import { useOperatorApiServer } from './jest.ts';
import type { Kube, KubeObject, User } from '../../broker/k8s/index.ts';
import type { Operator } from '../../operator/operator.ts';
import { realClock } from '../../operator/workqueue.ts';

const { api, cleanup } = useOperatorApiServer();
const ns = 'users';
let kube: Kube;
let operator: Operator;
/** The operator's clock runs this far ahead of the real one (the renewal test moves it). */
let clockOffsetMs = 0;

interface SecretObject extends KubeObject { data?: Record<string, string> }
const text = (s: SecretObject, k: string) => (s.data?.[k] === undefined ? undefined : Buffer.from(s.data[k]!, 'base64').toString('utf8'));

// ---- the kubelet, played here ----

interface BrokerProc { id: number; child: ChildProcess; dir: string; clientPort: number; log: string }
const brokers: BrokerProc[] = [];

async function runBrokerLikeThePod(id: number): Promise<BrokerProc> {
  const sts = await kube.get<KubeObject & { spec: { template: { spec: { containers: Array<{ args: string[]; env: Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>; ports: Array<{ name: string; containerPort: number }> }> } } } }>(resources.StatefulSet, ns, 'demo');
  const container = sts.spec.template.spec.containers[0]!;
  const env: Record<string, string> = { POD_NAME: `demo-${id}`, POD_NAMESPACE: ns, BROOK_BROKER_ID: String(id) };
  for (const e of container.env) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) env[e.name] = text(await kube.get<SecretObject>(resources.Secret, ns, ref.name), ref.key)!;
  }
  const ports = new Map<number, number>();
  for (const p of container.ports) ports.set(p.containerPort, await freePort());
  const dir = mkdtempSync(join(tmpdir(), `brook-users-${id}-`));
  const cm = await kube.get<KubeObject & { data: Record<string, string> }>(resources.ConfigMap, ns, 'demo-config');
  writeFileSync(join(dir, 'server.properties'), cm.data['server.properties']!);
  const local = (v: string) => v.replace(/(\w+):\/\/[^,]+?:(\d+)/g, (_m, name: string, port: string) => `${name}://127.0.0.1:${ports.get(Number(port))}`);
  const args: string[] = [];
  for (let i = 0; i < container.args.length; i++) {
    const a = container.args[i]!.replace(/\$\((\w+)\)/g, (m, v: string) => env[v] ?? m);
    const prev = container.args[i - 1];
    if (prev === '--data-dir') args.push(join(dir, 'data'));
    else if (prev === '--config') args.push(join(dir, 'server.properties'));
    else if (prev === '--metrics-port') args.push('none');
    else if (a === '--metrics-host') i++;
    else if (a.startsWith('listeners=') || a.startsWith('advertised.listeners=')) args.push(local(a));
    else args.push(a);
  }
  args.push('--kubeconfig', api().kubeconfigPath, '--set', 'broker.session.timeout.ms=2000', '--set', 'broker.heartbeat.interval.ms=400', '--set', 'group.initial.rebalance.delay.ms=0');
  const child = spawn(process.execPath, [join(repoRoot, 'broker/cli.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const b: BrokerProc = { id, child, dir, clientPort: ports.get(9092)!, log: '' };
  child.stderr!.on('data', (d: Buffer) => { b.log = (b.log + d.toString()).slice(-20_000); });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('listening on')) resolve(); });
    child.once('exit', (code, signal) => reject(new Error(`broker ${id} exited (${code ?? signal}):\n${b.log}`)));
  });
  return b;
}

// ---- clients ----

function kafka(sasl?: SASLOptions): Kafka {
  return new Kafka({ clientId: 'users-test', brokers: [`127.0.0.1:${brokers[0]!.clientPort}`], sasl, logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 }, connectionTimeout: 3000, authenticationTimeout: 3000 });
}

function errorType(err: unknown): string {
  for (let e = err as { type?: string; cause?: unknown; originalError?: unknown } | undefined; e; e = (e.cause ?? e.originalError) as typeof e) {
    if (e.type && e.type !== 'UNKNOWN') return e.type;
  }
  return String((err as Error).message ?? err);
}

async function produceAs(sasl: SASLOptions, topic: string): Promise<string> {
  const producer = kafka(sasl).producer({ allowAutoTopicCreation: false, retry: { retries: 1 } });
  try {
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: 'v' }] });
    return 'ok';
  } catch (err) {
    return errorType(err);
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

async function scramOf(user: string): Promise<SASLOptions> {
  const s = await kube.get<SecretObject>(resources.Secret, ns, user);
  return { mechanism: 'scram-sha-512', username: user, password: text(s, 'password')! };
}

async function internalSasl(): Promise<SASLOptions> {
  const s = await kube.get<SecretObject>(resources.Secret, ns, 'demo-internal-credentials');
  return { mechanism: 'scram-sha-512', username: 'brook-internal', password: text(s, 'password')! };
}

/** The ACLs of `principal` as the brokers hold them (asked as the super user). */
async function aclsOf(principal: string): Promise<string[]> {
  const admin = kafka(await internalSasl()).admin();
  await admin.connect();
  try {
    // kafkajs: resourceType ANY 1, pattern ANY 1, operation ANY 1, permission ANY 1
    const r = await admin.describeAcls({ resourceType: 1, resourcePatternType: 1, principal, operation: 1, permissionType: 1 } as never);
    return r.resources.flatMap((res) => res.acls.map((a) => `${res.resourceType}/${res.resourceName}/${res.resourcePatternType}:${a.operation}:${a.permissionType}`)).sort();
  } finally {
    await admin.disconnect();
  }
}

async function userStatus(name: string): Promise<User['status']> {
  return (await kube.get<User & KubeObject>(resources.User, ns, name)).status;
}

const ready = async (name: string) => (await userStatus(name))?.conditions?.find((c) => c.type === 'Ready');

async function createTopic(name: string): Promise<void> {
  await kube.create(resources.Topic, { metadata: { name, namespace: ns }, spec: { cluster: 'demo', partitions: 1, replicationFactor: 2 } });
  await eventually(async () => (await kube.get<KubeObject & { status?: { partitions?: Array<{ leader: number }> } }>(resources.Topic, ns, name)).status?.partitions?.[0]?.leader !== undefined
    && (await kube.get<KubeObject & { status?: { partitions?: Array<{ leader: number }> } }>(resources.Topic, ns, name)).status!.partitions![0]!.leader >= 0, `topic ${name} led`, 30_000, 200);
}

beforeAll(async () => {
  kube = adminKube(api());
  await createNamespace(kube, ns);
  operator = await startOperator(api(), { namespace: ns, clock: { ...realClock, now: () => Date.now() + clockOffsetMs } });
  cleanup(() => operator.stop());
  cleanup(() => { for (const b of brokers) { b.child.kill('SIGKILL'); rmSync(b.dir, { recursive: true, force: true }); } });
  await kube.create(resources.Cluster, {
    metadata: { name: 'demo', namespace: ns },
    spec: {
      replicas: 2,
      listeners: [{ name: 'clients', port: 9092, authentication: 'scram-sha-512' }],
      authorization: { type: 'simple' },
      config: { 'offsets.topic.num.partitions': '3' },
    },
  });
  await eventually(() => kube.getOrUndefined(resources.StatefulSet, ns, 'demo'), 'the StatefulSet', 20_000);
  for (const id of [0, 1]) brokers.push(await runBrokerLikeThePod(id));
  await createTopic('orders');
  await createTopic('payments');
}, 120_000);

afterAll(() => undefined);

describe('a secured Cluster (SCRAM listener, authorization simple)', () => {
  test('brokers run the operator\'s settings: the client listener refuses anonymous clients, the operator\'s own principal is a super user on REPLICATION', async () => {
    const sts = await kube.get<KubeObject & { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } }>(resources.StatefulSet, ns, 'demo');
    const args = sts.spec.template.spec.containers[0]!.args.join(' ');
    expect(args).toContain('listener.security.protocol.map=CLIENTS:SASL_PLAINTEXT,REPLICATION:SASL_PLAINTEXT');
    expect(args).toContain('inter.broker.listener.name=REPLICATION');
    expect(args).toContain('super.users=User:brook-internal');
    // No credential: the SASL handshake is refused.
    expect(await produceAs({ mechanism: 'scram-sha-512', username: 'nobody', password: 'x' }, 'orders')).toMatch(/SASL_AUTHENTICATION_FAILED|Authentication failed|SASL SCRAM SHA512 authentication failed/i);
    expect(await produceAs(await internalSasl(), 'orders')).toBe('ok');
  });
});

describe('User (scram-sha-512)', () => {
  test('its Secret holds a password and sasl.jaas.config; the client authenticates, may produce where its ACLs allow, and gets TOPIC_AUTHORIZATION_FAILED elsewhere', async () => {
    await kube.create(resources.User, {
      metadata: { name: 'alice', namespace: ns },
      spec: {
        cluster: 'demo',
        authentication: { type: 'scram-sha-512' },
        authorization: { acls: [
          { resource: { type: 'topic', name: 'orders' }, operations: ['Write', 'Describe', 'Read'] },
          { resource: { type: 'group', name: 'app-', patternType: 'prefixed' }, operations: ['Read'] },
        ] },
      },
    });
    await eventually(async () => (await ready('alice'))?.status === 'True', 'alice Ready', 30_000, 100);
    const status = (await userStatus('alice'))!;
    expect(status.secret).toBe('alice');
    expect(status.username).toBe('User:alice');
    expect(status.observedGeneration).toBe(1);
    const secret = await kube.get<SecretObject>(resources.Secret, ns, 'alice');
    const password = text(secret, 'password')!;
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(text(secret, 'sasl.jaas.config')).toBe(`org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="${password}";`);
    expect(Object.keys(secret.data!).sort()).toEqual(['password', 'sasl.jaas.config']);
    expect(secret.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'User', name: 'alice' });
    // The credential is stored salted by the brokers: the password is nowhere in their Secret.
    const store = await kube.get<SecretObject>(resources.Secret, ns, 'brook-demo-scram-credentials');
    expect(JSON.stringify(store.data)).not.toContain(Buffer.from(password).toString('base64'));

    expect(await produceAs(await scramOf('alice'), 'orders')).toBe('ok');
    expect(await produceAs(await scramOf('alice'), 'payments')).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await produceAs({ mechanism: 'scram-sha-512', username: 'alice', password: 'wrong' }, 'orders')).not.toBe('ok');
    expect(await aclsOf('User:alice')).toEqual([
      '2/orders/3:3:3', '2/orders/3:4:3', '2/orders/3:8:3', '3/app-/4:3:3',
    ].sort());
  }, 60_000);

  test('ACLs stay equal to the spec: one dropped from spec is deleted, one added behind the operator\'s back is removed', async () => {
    const admin = kafka(await internalSasl()).admin();
    await admin.connect();
    // An extra binding for alice, made by hand (kafka-acls would do the same).
    await admin.createAcls({ acl: [{ resourceType: 2, resourceName: 'payments', resourcePatternType: 3, principal: 'User:alice', host: '*', operation: 4, permissionType: 3 }] as never });
    await admin.disconnect();
    expect(await aclsOf('User:alice')).toContain('2/payments/3:4:3');
    // Spec change: Write on payments instead of the group ACL; the hand-made one matches it now.
    await kube.mergePatch(resources.User, ns, 'alice', { spec: { authorization: { acls: [{ resource: { type: 'topic', name: 'orders' }, operations: ['Read', 'Describe'] }] } } });
    await eventually(async () => (await userStatus('alice'))?.observedGeneration === 2 && (await ready('alice'))?.status === 'True', 'alice at generation 2', 20_000, 100);
    expect(await aclsOf('User:alice')).toEqual(['2/orders/3:3:3', '2/orders/3:8:3']);
    // Write was dropped: the brokers refuse it (they re-read ACLs every 2 s).
    await eventually(async () => (await produceAs(await scramOf('alice'), 'orders')) === 'TOPIC_AUTHORIZATION_FAILED', 'the write refused', 15_000, 300);
  }, 60_000);

  test('a User without ACLs for the topic is refused with TOPIC_AUTHORIZATION_FAILED', async () => {
    await kube.create(resources.User, { metadata: { name: 'bob', namespace: ns }, spec: { cluster: 'demo', authentication: { type: 'scram-sha-512' } } });
    await eventually(async () => (await ready('bob'))?.status === 'True', 'bob Ready', 30_000, 100);
    expect(await produceAs(await scramOf('bob'), 'orders')).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await aclsOf('User:bob')).toEqual([]);
  }, 60_000);

  test('deleting the User removes its ACLs, its SCRAM credential and its Secret; its client loses access (time printed)', async () => {
    await kube.create(resources.User, {
      metadata: { name: 'carl', namespace: ns },
      spec: { cluster: 'demo', authentication: { type: 'scram-sha-512' }, authorization: { acls: [{ resource: { type: 'topic', name: 'orders' }, operations: ['Write'] }] } },
    });
    await eventually(async () => (await ready('carl'))?.status === 'True', 'carl Ready', 30_000, 100);
    const sasl = await scramOf('carl');
    // One producer connection, kept open across the deletion.
    const producer = kafka(sasl).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    await producer.connect();
    await producer.send({ topic: 'orders', acks: -1, messages: [{ value: 'before' }] });
    const deletedAt = Date.now();
    await kube.delete(resources.User, ns, 'carl');
    let lostAfterMs = -1;
    while (Date.now() - deletedAt < 20_000) {
      try {
        await producer.send({ topic: 'orders', acks: -1, messages: [{ value: 'after' }] });
      } catch (err) {
        lostAfterMs = Date.now() - deletedAt;
        expect(errorType(err)).toBe('TOPIC_AUTHORIZATION_FAILED');
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await producer.disconnect().catch(() => undefined);
    process.stdout.write(`users.test: the deleted User's open connection lost access after ${lostAfterMs} ms\n`);
    expect(lostAfterMs).toBeGreaterThanOrEqual(0);
    expect(lostAfterMs).toBeLessThan(10_000);
    await eventually(async () => !(await kube.getOrUndefined(resources.User, ns, 'carl')), 'the User gone (finalizer released)', 15_000, 100);
    expect(await kube.getOrUndefined(resources.Secret, ns, 'carl')).toBeUndefined();
    expect(await aclsOf('User:carl')).toEqual([]);
    // The credential is gone too: a new connection cannot authenticate.
    expect(await produceAs(sasl, 'orders')).not.toMatch(/^(ok|TOPIC_AUTHORIZATION_FAILED)$/);
  }, 60_000);

  test('invalid specs get a clear condition and nothing is made: no such Cluster; tls authentication on a Cluster without a TLS listener; the reserved name', async () => {
    await kube.create(resources.User, { metadata: { name: 'dan', namespace: ns }, spec: { cluster: 'nope', authentication: { type: 'scram-sha-512' } } });
    await kube.create(resources.User, { metadata: { name: 'erin', namespace: ns }, spec: { cluster: 'demo', authentication: { type: 'tls' } } });
    await kube.create(resources.User, { metadata: { name: 'brook-internal', namespace: ns }, spec: { cluster: 'demo', authentication: { type: 'scram-sha-512' } } });
    await eventually(async () => (await ready('dan'))?.reason === 'ClusterNotFound', 'dan ClusterNotFound', 15_000, 100);
    await eventually(async () => (await ready('erin'))?.reason === 'AuthenticationNotEnabled', 'erin AuthenticationNotEnabled', 15_000, 100);
    await eventually(async () => (await ready('brook-internal'))?.reason === 'ReservedName', 'ReservedName', 15_000, 100);
    expect((await ready('erin'))?.message).toBe('no listener of Cluster demo has authentication tls: the credential could not be used');
    for (const n of ['dan', 'erin']) expect(await kube.getOrUndefined(resources.Secret, ns, n)).toBeUndefined();
    // The operator's own credential still works (the reserved-name User changed nothing).
    expect(await produceAs(await internalSasl(), 'orders')).toBe('ok');
    // The API server refuses what the schema can see: an unknown operation, a cluster resource with a name.
    await expect(kube.create(resources.User, { metadata: { name: 'fay', namespace: ns }, spec: { cluster: 'demo', authentication: { type: 'scram-sha-512' }, authorization: { acls: [{ resource: { type: 'topic', name: 'x' }, operations: ['Fly'] }] } } }))
      .rejects.toThrow(/Unsupported value: "Fly"/);
    await expect(kube.create(resources.User, { metadata: { name: 'fay', namespace: ns }, spec: { cluster: 'demo', authentication: { type: 'scram-sha-512' }, authorization: { acls: [{ resource: { type: 'cluster', name: 'x' }, operations: ['Alter'] }] } } }))
      .rejects.toThrow(/a cluster resource has no name/);
    // A secured Cluster may not take the REPLICATION listener's port or name.
    await expect(kube.create(resources.Cluster, { metadata: { name: 'clash', namespace: ns }, spec: { listeners: [{ name: 'clients', port: 9091, authentication: 'scram-sha-512' }] } }))
      .rejects.toThrow(/uses port 9091 and the listener name replication/);
  }, 60_000);
});

describe('a TLS Cluster (no brokers here): certificates, pod security, NetworkPolicy, a TLS User', () => {
  test('the operator makes a cluster CA, a clients CA and per-broker certificates naming the pod and Service DNS names', async () => {
    await kube.create(resources.Cluster, {
      metadata: { name: 'secure', namespace: ns },
      spec: {
        replicas: 2,
        listeners: [{ name: 'sasl', port: 9093, tls: true, authentication: 'scram-sha-512' }, { name: 'mtls', port: 9094, tls: true, authentication: 'tls' }],
        authorization: { type: 'simple', superUsers: ['User:CN=admin'] },
        certificates: { validityDays: 30, renewalDays: 5 },
      },
    });
    const certs = await eventually(() => kube.getOrUndefined<SecretObject>(resources.Secret, ns, 'secure-broker-certs'), 'the broker certificates', 20_000, 100);
    const ca = new X509Certificate(text(await kube.get<SecretObject>(resources.Secret, ns, 'secure-cluster-ca'), 'ca.crt')!);
    const clientsCa = new X509Certificate(text(await kube.get<SecretObject>(resources.Secret, ns, 'secure-clients-ca'), 'ca.crt')!);
    expect(ca.ca && clientsCa.ca).toBe(true);
    expect(ca.fingerprint256).not.toBe(clientsCa.fingerprint256);
    expect(Object.keys(certs.data!).sort()).toEqual(['ca.crt', 'clients-ca.crt', 'secure-0.pem', 'secure-1.pem']);
    const pem = text(certs, 'secure-1.pem')!;
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const leaf = new X509Certificate(pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----')));
    expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkHost('secure-1.secure-brokers.users.svc')).toBe('secure-1.secure-brokers.users.svc');
    expect(leaf.checkHost('secure-bootstrap.users.svc')).toBe('secure-bootstrap.users.svc');
    const days = (new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()) / 86_400_000;
    expect(Math.round(days * 24)).toBe(30 * 24 + 1); // validity starts an hour back
    // No cert-manager CRDs in this API server: the operator's CA is the source, and status says so.
    const statusOf = async (name: string) => (await kube.get<KubeObject & { status?: { certificates?: unknown } }>(resources.Cluster, ns, name)).status;
    await eventually(async () => (await statusOf('secure'))?.certificates, 'status.certificates', 20_000, 100);
    expect((await statusOf('secure'))?.certificates).toEqual({ source: 'operator' });
    expect((await statusOf('demo'))?.certificates).toBeUndefined(); // no TLS listener: no certificates
  }, 30_000);

  test('spec.certificates.issuer cert-manager without cert-manager installed: Degraded, saying what to do, and no Secret or StatefulSet is made', async () => {
    await kube.create(resources.Cluster, {
      metadata: { name: 'wants-cm', namespace: ns },
      spec: { replicas: 1, listeners: [{ name: 'clients', port: 9093, tls: true }], certificates: { issuer: 'cert-manager' } },
    });
    const degraded = await eventually(async () => {
      const c = await kube.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } }>(resources.Cluster, ns, 'wants-cm');
      return c.status?.conditions?.find((x) => x.type === 'Degraded' && x.status === 'True');
    }, 'Degraded', 20_000, 100);
    expect(degraded.reason).toBe('ReconcileFailed');
    expect(degraded.message).toMatch(/issuer is cert-manager, but the API server serves no cert-manager.io\/v1 Certificates.*install cert-manager, or set issuer to operator or auto/);
    expect(await kube.getOrUndefined(resources.Secret, ns, 'wants-cm-broker-certs')).toBeUndefined();
    expect(await kube.getOrUndefined(resources.StatefulSet, ns, 'wants-cm')).toBeUndefined();
    await kube.delete(resources.Cluster, ns, 'wants-cm');
  }, 30_000);

  test('broker pods: SASL_SSL and SSL with client certificates, read-only root with /tmp on emptyDir, seccomp RuntimeDefault, no privilege escalation, capabilities dropped; a NetworkPolicy keeps clients off REPLICATION', async () => {
    const sts = await eventually(() => kube.getOrUndefined<KubeObject & { spec: { template: { spec: Record<string, any> } } }>(resources.StatefulSet, ns, 'secure'), 'the StatefulSet', 20_000, 100); // eslint-disable-line @typescript-eslint/no-explicit-any
    const pod = sts.spec.template.spec;
    const c = pod.containers[0];
    const args = (c.args as string[]).join(' ');
    expect(args).toContain('listener.security.protocol.map=SASL:SASL_SSL,MTLS:SSL,REPLICATION:SASL_SSL');
    expect(args).toContain('listener.name.mtls.ssl.client.auth=required');
    expect(args).toContain('listener.name.mtls.ssl.truststore.location=/etc/brook/tls/clients-ca.crt');
    expect(args).toContain('ssl.keystore.location=/etc/brook/tls/$(POD_NAME).pem');
    expect(args).toContain('super.users=User:brook-internal;User:CN=admin');
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    expect(pod.volumes).toEqual(expect.arrayContaining([{ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } }, expect.objectContaining({ name: 'tls', secret: expect.objectContaining({ secretName: 'secure-broker-certs' }) })]));
    expect(c.volumeMounts).toEqual(expect.arrayContaining([{ name: 'tmp', mountPath: '/tmp' }, { name: 'tls', mountPath: '/etc/brook/tls', readOnly: true }]));
    expect(c.env).toContainEqual({ name: 'BROOK_INTERNAL_PASSWORD', valueFrom: { secretKeyRef: { name: 'secure-internal-credentials', key: 'password' } } });
    const np = await eventually(() => kube.getOrUndefined<KubeObject & { spec: any }>(resources.NetworkPolicy, ns, 'secure'), 'the NetworkPolicy', 20_000, 100); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(np.spec.ingress[0].from).toBeUndefined();
    expect(np.spec.ingress[0].ports.map((p: { port: number }) => p.port)).toEqual([9093, 9094, 9464]);
    expect(np.spec.ingress[1].ports).toEqual([{ protocol: 'TCP', port: 9091 }]);
    expect(np.spec.ingress[1].from).toHaveLength(2);
  }, 30_000);

  test('a TLS User gets a client certificate for CN=<name> signed by the clients CA, with the cluster CA to trust the brokers', async () => {
    await kube.create(resources.User, { metadata: { name: 'gina', namespace: ns }, spec: { cluster: 'secure', authentication: { type: 'tls' } } });
    const secret = await eventually(() => kube.getOrUndefined<SecretObject>(resources.Secret, ns, 'gina'), 'gina\'s Secret', 20_000, 100);
    expect(Object.keys(secret.data!).sort()).toEqual(['ca.crt', 'user.crt', 'user.key']);
    const cert = new X509Certificate(text(secret, 'user.crt')!);
    const clientsCa = new X509Certificate(text(await kube.get<SecretObject>(resources.Secret, ns, 'secure-clients-ca'), 'ca.crt')!);
    expect(cert.subject).toBe('CN=gina');
    expect(cert.checkIssued(clientsCa) && cert.verify(clientsCa.publicKey)).toBe(true);
    expect(text(secret, 'ca.crt')).toBe(text(await kube.get<SecretObject>(resources.Secret, ns, 'secure-cluster-ca'), 'ca.crt'));
    // No broker runs for this cluster: the ACL part waits, and says so.
    await eventually(async () => (await ready('gina'))?.reason === 'WaitingForBrokers', 'gina waiting for brokers', 15_000, 100);
  }, 30_000);

  test('certificates are renewed renewalDays before they expire: the Secret gets new broker certificates from the same CA', async () => {
    const leafOf = async (file: string) => {
      const pem = text(await kube.get<SecretObject>(resources.Secret, ns, 'secure-broker-certs'), file)!;
      return new X509Certificate(pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----')));
    };
    const caBefore = text(await kube.get<SecretObject>(resources.Secret, ns, 'secure-cluster-ca'), 'ca.crt');
    const before = await leafOf('secure-0.pem');
    // 26 days on: the 30-day certificates are within their 5-day renewal window (the 150-day CA is not).
    clockOffsetMs = 26 * 86_400_000;
    try {
      await kube.mergePatch(resources.Cluster, ns, 'secure', { metadata: { annotations: { 'test/nudge': '1' } } });
      const after = await eventually(async () => { const c = await leafOf('secure-0.pem'); return c.serialNumber !== before.serialNumber ? c : undefined; }, 'a renewed certificate', 20_000, 100);
      expect(new Date(after.validTo).getTime()).toBeGreaterThan(new Date(before.validTo).getTime() + 25 * 86_400_000);
      expect((await leafOf('secure-1.pem')).serialNumber).not.toBe(before.serialNumber);
      expect(text(await kube.get<SecretObject>(resources.Secret, ns, 'secure-cluster-ca'), 'ca.crt')).toBe(caBefore);
      expect(after.verify(new X509Certificate(caBefore!).publicKey)).toBe(true);
    } finally {
      clockOffsetMs = 0;
    }
  }, 30_000);
});
