/**
 * SCRAM credentials in the Kubernetes store: one Secret of the cluster,
 * `brook-<cluster>-scram-credentials`, whose `data.credentials` is the JSON map user → mechanism →
 * { salt, iterations, storedKey, serverKey } (salted; never a password). Written with a
 * compare-and-swap on the Secret's resourceVersion (created on the first write), retried from a
 * fresh read on a conflict; read by polling, as the dynamic broker configs are, and listeners hear
 * only of changes. A failed read changes nothing: the credentials known stay in force. Both
 * mechanisms are PolledObject's (kubernetes-polled-object.ts).
 */
import { resources, type KubeObject } from '../k8s/objects.ts';
import { clusterObject, PolledObject } from './kubernetes-polled-object.ts';
import type { ClusterObjectOptions } from './kubernetes-polled-object.ts';
import { applyScramChanges, parseScramCredentials } from './scram-credentials.ts';
import type { ScramCredentialChange, ScramCredentials } from './types.ts';

interface SecretObject extends KubeObject {
  type?: string;
  /** base64 values */
  data?: Record<string, string>;
}

export type ScramSecretOptions = ClusterObjectOptions;

export class ScramSecret {
  private readonly object: PolledObject<SecretObject>;
  private scram: ScramCredentials = {};
  private readonly listeners = new Set<(credentials: ScramCredentials) => void>();

  constructor(opts: ScramSecretOptions) {
    this.object = new PolledObject(clusterObject<SecretObject>(opts, resources.Secret, 'scram-credentials', (secret) => {
      try {
        this.changed(credentialsOf(secret));
      } catch { /* unreadable credentials: the ones known stay in force */ }
    }));
  }

  watch(listener: (credentials: ScramCredentials) => void): () => void {
    this.listeners.add(listener);
    listener(this.scram);
    this.object.startPolling(true);
    return () => { this.listeners.delete(listener); };
  }

  async alter(changes: readonly ScramCredentialChange[]): Promise<void> {
    const next = await this.object.update((secret) => {
      const result = applyScramChanges(credentialsOf(secret), changes);
      const data = { credentials: Buffer.from(JSON.stringify(result)).toString('base64') };
      const write: SecretObject = secret
        ? { ...secret, data }
        : { metadata: this.object.newMetadata(), type: 'Opaque', data };
      return { write, result };
    }, 'create');
    this.changed(next);
  }

  close(): void {
    this.object.close();
    this.listeners.clear();
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
