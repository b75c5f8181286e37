/**
 * The security of each listener, resolved from the settings at start (a bad setting is a
 * ConfigError naming the listener, before anything binds):
 *
 *   PLAINTEXT        nothing; every request's principal is User:ANONYMOUS.
 *   SSL              TLS (ssl-config.ts); the principal is the client certificate's subject
 *                    when ssl.client.auth asked for one and it was given, else ANONYMOUS.
 *   SASL_PLAINTEXT   SASL (sasl-authenticator.ts) with sasl.enabled.mechanisms.
 *   SASL_SSL         both; the principal is the SASL user.
 *
 * SASL settings per listener: `listener.name.<name>.sasl.enabled.mechanisms` over the broker-wide
 * one; PLAIN's users from `listener.name.<name>.plain.sasl.jaas.config` (`user_<name>="pw"`),
 * SCRAM's credentials from the metadata store. The broker's own credentials for its connections
 * to other brokers over a SASL inter-broker listener: sasl.mechanism.inter.broker.protocol, and
 * the username/password of `listener.name.<inter-broker>.<mechanism>.sasl.jaas.config`.
 */
import { ConfigError } from '../config.ts';
import type { BrokerSettings } from '../config.ts';
import type { Listener, SecurityProtocol } from '../listeners.ts';
import { parseJaasConfig, plainUsers } from './jaas.ts';
import { servedSaslMechanisms } from './sasl-authenticator.ts';
import { clientTlsOptions, hasKey, SslFiles } from './ssl-config.ts';
import type { ConnectionOptions } from 'node:tls';

export interface SaslListenerConfig {
  readonly mechanisms: readonly string[];
  readonly plainUsers: ReadonlyMap<string, string>;
  readonly reauthMs: number;
  readonly maxReceiveBytes: number;
}

export interface ListenerSecurity {
  readonly listener: string;
  readonly protocol: SecurityProtocol;
  /** SSL and SASL_SSL: the listener's TLS material, reloaded when its files change. */
  readonly ssl: SslFiles | null;
  /** SASL_PLAINTEXT and SASL_SSL. */
  readonly sasl: SaslListenerConfig | null;
}

export const usesTls = (p: SecurityProtocol) => p === 'SSL' || p === 'SASL_SSL';
export const usesSasl = (p: SecurityProtocol) => p === 'SASL_PLAINTEXT' || p === 'SASL_SSL';

function jaasKey(listener: string, mechanism: string): string { return `listener.name.${listener.toLowerCase()}.${mechanism.toLowerCase()}.sasl.jaas.config`; }

function saslConfig(settings: BrokerSettings, listener: string): SaslListenerConfig {
  const mechanisms = (settings.forListener(listener, 'sasl.enabled.mechanisms') ?? '').split(',').map((m) => m.trim().toUpperCase()).filter(Boolean);
  const served = mechanisms.filter((m) => (servedSaslMechanisms as readonly string[]).includes(m));
  if (served.length === 0 || served.length !== mechanisms.length) {
    const bad = mechanisms.filter((m) => !served.includes(m));
    throw new ConfigError(`listener ${listener}: sasl.enabled.mechanisms ${mechanisms.join(',') || '(empty)'}${bad.length ? ` names ${bad.join(', ')}, which Brook does not serve` : ''}: set it to some of ${servedSaslMechanisms.join(', ')}`);
  }
  let users = new Map<string, string>();
  if (served.includes('PLAIN')) {
    const key = jaasKey(listener, 'PLAIN');
    const text = settings.forListener(listener, 'plain.sasl.jaas.config');
    if (!text) throw new ConfigError(`listener ${listener} enables PLAIN: give its users in ${key} (org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";)`);
    users = plainUsers(parseJaasConfig(key, text));
  }
  return {
    mechanisms: served, plainUsers: users,
    reauthMs: Number(settings.forListener(listener, 'connections.max.reauth.ms') ?? 0),
    maxReceiveBytes: Number(settings.forListener(listener, 'sasl.server.max.receive.size') ?? 524288),
  };
}

export function resolveListenerSecurity(settings: BrokerSettings, listener: Listener, onReloadError: (err: Error) => void): ListenerSecurity {
  const { name, protocol } = listener;
  let ssl: SslFiles | null = null;
  if (usesTls(protocol)) {
    ssl = new SslFiles({ settings, listener: name, onError: onReloadError });
    if (!hasKey(ssl.current)) {
      throw new ConfigError(`listener ${name} (${protocol}) needs a key store: ssl.keystore.location (with ssl.keystore.type=PEM or PKCS12) or ssl.keystore.key and ssl.keystore.certificate.chain`);
    }
  }
  const sasl = usesSasl(protocol) ? saslConfig(settings, name) : null;
  return { listener: name, protocol, ssl, sasl };
}

/** How the broker connects to other brokers' inter-broker listener. */
export interface ClientSecurity {
  /** TLS options for a connection to `host`, from the current (reloaded) material; absent: plain TCP. */
  readonly tls?: (host: string) => ConnectionOptions;
  readonly sasl?: { readonly mechanism: string; readonly username: string; readonly password: string };
}

/** The broker's own client security on the inter-broker listener. */
export function interBrokerClientSecurity(settings: BrokerSettings, security: ListenerSecurity): ClientSecurity {
  const out: { tls?: ClientSecurity['tls']; sasl?: ClientSecurity['sasl'] } = {};
  if (security.ssl) {
    const ssl = security.ssl;
    out.tls = (host) => clientTlsOptions(ssl.current, host);
  }
  if (security.sasl) {
    const mechanism = (settings.get('sasl.mechanism.inter.broker.protocol') ?? '').toUpperCase();
    if (!security.sasl.mechanisms.includes(mechanism)) {
      throw new ConfigError(`sasl.mechanism.inter.broker.protocol is ${mechanism || '(unset)'}, which the inter-broker listener ${security.listener} does not enable (sasl.enabled.mechanisms: ${security.sasl.mechanisms.join(',')})`);
    }
    const key = jaasKey(security.listener, mechanism);
    const text = settings.forListener(security.listener, `${mechanism.toLowerCase()}.sasl.jaas.config`);
    if (!text) throw new ConfigError(`the inter-broker listener ${security.listener} authenticates with ${mechanism}: give the broker's username and password in ${key}`);
    const entry = parseJaasConfig(key, text);
    const username = entry.options.get('username');
    const password = entry.options.get('password');
    if (!username || password === undefined) throw new ConfigError(`${key}: needs username="..." password="..." (the broker's own credentials)`);
    out.sasl = { mechanism, username, password };
  }
  return out;
}
