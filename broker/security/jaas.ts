/**
 * Kafka's JAAS config strings, as the broker reads `listener.name.<name>.<mechanism>.sasl.jaas.config`:
 *
 *   org.apache.kafka.common.security.plain.PlainLoginModule required
 *     username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";
 *
 * One login module entry: class name, control flag, `key="value"` options (values quoted, `\"`
 * escapes a quote), a closing `;`. `username`/`password` are the broker's own credentials (for its
 * connections to other brokers); `user_<name>` options are PLAIN's user list.
 */
import { ConfigError } from '../config.ts';

export interface JaasEntry {
  readonly loginModule: string;
  readonly flag: string;
  readonly options: ReadonlyMap<string, string>;
}

export function parseJaasConfig(setting: string, text: string): JaasEntry {
  const head = /^\s*([A-Za-z_$][\w$.]*)\s+(required|requisite|sufficient|optional)\b/.exec(text);
  if (!head) throw new ConfigError(`${setting}: expected '<LoginModule class> required key="value" ...;'`);
  const options = new Map<string, string>();
  let rest = text.slice(head[0].length);
  const option = /^\s*([A-Za-z_][\w.-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]+))/;
  for (;;) {
    const m = option.exec(rest);
    if (!m) break;
    options.set(m[1]!, m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!);
    rest = rest.slice(m[0].length);
  }
  if (!/^\s*;\s*$/.test(rest)) throw new ConfigError(`${setting}: cannot parse '${rest.trim().slice(0, 40)}' (options are key="value", the entry ends with ;)`);
  return { loginModule: head[1]!, flag: head[2]!, options };
}

/** PLAIN's users: the `user_<name>="<password>"` options. */
export function plainUsers(entry: JaasEntry): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of entry.options) if (k.startsWith('user_')) out.set(k.slice('user_'.length), v);
  return out;
}
