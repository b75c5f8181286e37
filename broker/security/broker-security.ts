/**
 * A broker's security, wired from its settings and the metadata store: each listener's TLS
 * material and SASL mechanisms (resolved at construction, so a bad setting fails the start), how
 * this broker connects to the others' inter-broker listener (replication, transaction markers),
 * the SCRAM credentials the store holds (followed by a watch; SASL listeners check proofs against
 * them), and the reload of key and trust store files whose content changed.
 */
import type { BrokerSettings } from '../config.ts';
import type { ListenerPlan } from '../listeners.ts';
import type { Logger } from '../logger.ts';
import type { MetadataStore } from '../metadata/index.ts';
import { interBrokerClientSecurity, resolveListenerSecurity } from './listener-security.ts';
import type { ClientSecurity, ListenerSecurity } from './listener-security.ts';
import { isScramMechanism, makeCredential } from './scram.ts';
import type { ScramCredential, ScramCredentials, ScramMechanism } from './scram.ts';

export interface BrokerSecurityOptions {
  settings: BrokerSettings;
  plan: ListenerPlan;
  store: Pick<MetadataStore, 'watchScramCredentials' | 'alterScramCredentials'>;
  log: Logger;
}

export class BrokerSecurity {
  /** Each listener's security, by listener name. */
  readonly listeners = new Map<string, ListenerSecurity>();
  /** How this broker connects to the others' inter-broker listener. */
  readonly client: ClientSecurity;
  private readonly opts: BrokerSecurityOptions;
  private scram: ScramCredentials = {};
  private unwatchScram: (() => void) | null = null;

  constructor(opts: BrokerSecurityOptions) {
    this.opts = opts;
    for (const l of opts.plan.listeners) {
      this.listeners.set(l.name, resolveListenerSecurity(opts.settings, l, (err) => opts.log.warn(`listener ${l.name}: reloading its TLS files failed (the previous certificate stays in use): ${err.message}`)));
    }
    this.client = interBrokerClientSecurity(opts.settings, this.listeners.get(opts.plan.interBroker)!);
  }

  /** Follows the store's SCRAM credentials, and adds the broker's own if it needs one (see below). */
  async start(): Promise<void> {
    this.unwatchScram = this.opts.store.watchScramCredentials((credentials) => { this.scram = credentials; });
    await this.ensureOwnScramCredential();
  }

  scramCredential(user: string, mechanism: ScramMechanism): ScramCredential | undefined { return this.scram[user]?.[mechanism]; }
  scramCredentials(): ScramCredentials { return this.scram; }

  /** Re-reads the listeners' key and trust store files every `intervalMs`; `onReload` is told when one changed. */
  watchTlsFiles(intervalMs: number, onReload: (listener: string) => void): void {
    for (const sec of this.listeners.values()) {
      if (!sec.ssl) continue;
      sec.ssl.onChange(() => {
        onReload(sec.listener);
        this.opts.log.info(`listener ${sec.listener}: key store / trust store changed, new TLS handshakes use the new files`);
      });
      sec.ssl.watch(intervalMs);
    }
  }

  /** Checks the listeners' key and trust store files now (their settings may have changed). */
  checkTlsFiles(): void {
    for (const sec of this.listeners.values()) sec.ssl?.check();
  }

  /** Stops the SCRAM watch and the TLS file watches. */
  close(): void {
    this.unwatchScram?.();
    for (const sec of this.listeners.values()) sec.ssl?.close();
  }

  /**
   * A SCRAM inter-broker mechanism needs the broker's own user in the store (Kafka bootstraps it
   * with `kafka-storage format --add-scram`): Brook adds it from the broker's JAAS username and
   * password when the store has no credential of that mechanism for the user. An existing one is
   * never overwritten.
   */
  private async ensureOwnScramCredential(): Promise<void> {
    const own = this.client.sasl;
    if (!own || !isScramMechanism(own.mechanism) || this.scram[own.username]?.[own.mechanism]) return;
    await this.opts.store.alterScramCredentials([{ user: own.username, mechanism: own.mechanism, credential: makeCredential(own.mechanism, own.password) }]);
    this.opts.log.info(`added the ${own.mechanism} credential of the inter-broker user ${own.username} to the metadata store`);
  }
}
