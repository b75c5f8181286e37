/** SCRAM credentials as the stores keep them: one immutable map user → mechanism → salted credential. */
import type { ScramCredentialChange, ScramCredentials } from './types.ts';
import type { ScramCredential, ScramMechanism } from '../security/scram.ts';

/** The credentials after `changes` (a user left without any mechanism is removed). */
export function applyScramChanges(current: ScramCredentials, changes: readonly ScramCredentialChange[]): ScramCredentials {
  const next: Record<string, Partial<Record<ScramMechanism, ScramCredential>>> = {};
  for (const [user, creds] of Object.entries(current)) next[user] = { ...creds };
  for (const c of changes) {
    const creds = next[c.user] ?? {};
    if (c.credential) creds[c.mechanism] = { ...c.credential };
    else delete creds[c.mechanism];
    if (Object.keys(creds).length === 0) delete next[c.user];
    else next[c.user] = creds;
  }
  return next;
}

/** Parses stored JSON defensively: anything that is not a credential map reads as none. */
export function parseScramCredentials(text: string | undefined): ScramCredentials {
  if (!text) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === 'object' ? parsed as ScramCredentials : {};
  } catch {
    return {};
  }
}
