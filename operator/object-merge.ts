/**
 * How the operator's desired objects meet the live ones, as plain JSON values: contains() (is the
 * live object up to date?), overlay() (what to write so it is, keeping what the server set) and
 * mergeOverrides() (a Cluster's podTemplate over the generated pod template). Pure functions.
 */

/** Deep merge for podTemplate overrides: objects recursively, lists of named items by name, other lists replaced. */
export function mergeOverrides(base: unknown, override: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(override)) {
    const named = (xs: unknown[]) => xs.every((x) => x && typeof x === 'object' && typeof (x as { name?: unknown }).name === 'string');
    if (!named(base) || !named(override)) return override;
    const out = base.map((b) => {
      const o = override.find((x) => (x as { name: string }).name === (b as { name: string }).name);
      return o ? mergeOverrides(b, o) : b;
    });
    for (const o of override) if (!base.some((b) => (b as { name: string }).name === (o as { name: string }).name)) out.push(o);
    return out;
  }
  if (base && override && typeof base === 'object' && typeof override === 'object' && !Array.isArray(base) && !Array.isArray(override)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(override as Record<string, unknown>)) out[k] = k in out ? mergeOverrides(out[k], v) : v;
    return out;
  }
  return override === undefined ? base : override;
}

/**
 * Does `actual` already hold everything `desired` says? Objects: every desired key, recursively;
 * lists: same length, item by item. Fields the server defaults (and desired leaves out) are ignored.
 */
export function contains(actual: unknown, desired: unknown): boolean {
  if (desired === null || typeof desired !== 'object') {
    if (typeof desired === 'number' && typeof actual === 'string') return String(desired) === actual;
    return actual === desired;
  }
  if (Array.isArray(desired)) {
    return Array.isArray(actual) && actual.length === desired.length && desired.every((d, i) => contains(actual[i], d));
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
  const a = actual as Record<string, unknown>;
  return Object.entries(desired as Record<string, unknown>).every(([k, v]) => (v === undefined ? true : contains(a[k], v)));
}

/**
 * `desired` written over `actual`: objects merge recursively (fields only the server sets, such
 * as a Service's clusterIP, stay); lists take desired's items, each merged with the actual item
 * of the same name (or port) so server defaults inside items (a nodePort) stay too.
 */
export function overlay(actual: unknown, desired: unknown): unknown {
  if (Array.isArray(desired)) {
    const acts = Array.isArray(actual) ? actual : [];
    const id = (x: unknown) => (x && typeof x === 'object' ? (x as { name?: unknown; port?: unknown }).name ?? (x as { port?: unknown }).port : undefined);
    return desired.map((d, i) => {
      const key = id(d);
      const match = key !== undefined ? acts.find((a) => id(a) === key) : acts[i];
      return match === undefined ? d : overlay(match, d);
    });
  }
  if (desired && typeof desired === 'object') {
    const out: Record<string, unknown> = actual && typeof actual === 'object' && !Array.isArray(actual) ? { ...(actual as Record<string, unknown>) } : {};
    for (const [k, v] of Object.entries(desired as Record<string, unknown>)) out[k] = overlay(out[k], v);
    return out;
  }
  return desired === undefined ? actual : desired;
}
