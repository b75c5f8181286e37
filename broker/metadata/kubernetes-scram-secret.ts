/**
 * SCRAM credentials in the Kubernetes store: one Secret of the cluster,
 * `brook-<cluster>-scram-credentials`, whose `data.credentials` is the JSON map user → mechanism →
 * { salt, iterations, storedKey, serverKey } (salted; never a password). Written with a
 * compare-and-swap on the Secret's resourceVersion (created on the first write), retried from a
 * fresh read on a conflict; read by polling, as the dynamic broker configs are, and listeners hear
 * only of changes. A failed read changes nothing: the credentials known stay in force.
 */
import type { Kube } from '../k8s/client.ts';
import { isConflict } from '../k8s/errors.ts';
import { resources, type KubeObject } from '../k8s/objects.ts';
import { applyScramChanges, parseScramCredentials } from './scram-credentials.ts';
import type { ScramCredentialChange, ScramCredentials } from './types.ts';

interface SecretObject extends KubeObject {
  type?: string;
  /** base64 values */
  data?: Record<string, string>;
}

export interface ScramSecretOptions {
  kube: Kube;
  namespace: string;
  cluster: string;
  labels: Readonly<Record<string, string>>;
  pollMs: number;
}

export class ScramSecret {
  private readonly kube: Kube;
  private readonly ns: string;
  private readonly name: string;
  private readonly labels: Readonly<Record<string, string>>;
  private readonly pollMs: number;
  private scram: ScramCredentials = {};
  private readonly listeners = new Set<(credentials: ScramCredentials) => void>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(opts: ScramSecretOptions) {
    this.kube = opts.kube;
    this.ns = opts.namespace;
    this.name = `brook-${opts.cluster}-scram-credentials`;
    this.labels = opts.labels;
    this.pollMs = opts.pollMs;
  }

  watch(listener: (credentials: ScramCredentials) => void): () => void {
    this.listeners.add(listener);
    listener(this.scram);
    if (!this.timer && !this.closed) {
      void this.poll();
      this.timer = setInterval(() => { void this.poll(); }, this.pollMs);
      this.timer.unref();
    }
    return () => { this.listeners.delete(listener); };
  }

  async alter(changes: readonly ScramCredentialChange[]): Promise<void> {
    for (;;) {
      const secret = await this.read();
      const next = applyScramChanges(credentialsOf(secret), changes);
      const data = { credentials: Buffer.from(JSON.stringify(next)).toString('base64') };
      try {
        if (secret) await this.kube.replace(resources.Secret, { ...secret, data });
        else {
          await this.kube.create<SecretObject>(resources.Secret, {
            metadata: { name: this.name, namespace: this.ns, labels: { ...this.labels } }, type: 'Opaque', data,
          });
        }
        this.changed(next);
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    if (this.timer) clearInterval(this.timer);
  }

  private read(): Promise<SecretObject | undefined> {
    return this.kube.getOrUndefined<SecretObject>(resources.Secret, this.ns, this.name);
  }

  private async poll(): Promise<void> {
    if (this.closed) return;
    try {
      this.changed(credentialsOf(await this.read()));
    } catch { /* the API server is unreachable: the credentials known stay in force */ }
  }

  private changed(credentials: ScramCredentials): void {
    if (JSON.stringify(credentials) === JSON.stringify(this.scram)) return;
    this.scram = credentials;
    for (const l of this.listeners) l(credentials);
  }
}

function credentialsOf(secret: SecretObject | undefined): ScramCredentials {
  const data = secret?.data?.credentials;
  return parseScramCredentials(data ? Buffer.from(data, 'base64').toString('utf8') : undefined);
}
