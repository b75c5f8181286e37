/**
 * metav1.Condition bookkeeping: conditions keyed by type, stamped with the generation they
 * describe; lastTransitionTime changes only when the status flips; reason is one CamelCase word.
 */
import type { Condition } from '../broker/k8s/index.ts';

export interface ConditionInput {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

const reasonPattern = /^[A-Z][A-Za-z0-9]*$/;

/** The new condition list: `wanted` merged into `current` (conditions of other types are kept). */
export function setConditions(current: readonly Condition[] | undefined, wanted: readonly ConditionInput[], generation: number, now: Date): Condition[] {
  const out = (current ?? []).filter((c) => !wanted.some((w) => w.type === c.type)).map((c) => ({ ...c }));
  for (const w of wanted) {
    if (!reasonPattern.test(w.reason)) throw new Error(`condition reason '${w.reason}' is not one CamelCase word`);
    const prev = current?.find((c) => c.type === w.type);
    out.push({
      type: w.type,
      status: w.status,
      observedGeneration: generation,
      lastTransitionTime: prev && prev.status === w.status ? prev.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      reason: w.reason,
      message: w.message,
    });
  }
  const order = (t: string) => { const i = wanted.findIndex((w) => w.type === t); return i < 0 ? 1000 : i; };
  return out.sort((a, b) => order(a.type) - order(b.type) || a.type.localeCompare(b.type));
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** Structural equality of two JSON values (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ak = Object.keys(a as object).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const bk = Object.keys(b as object).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
