import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { placeReplicas } from '../metadata/placement.ts';
import { RebalancePlanError, estimateRebalanceSeconds, planRebalance, seededRandom } from './index.ts';
import type { CurrentPartition, PlannerBroker, RebalanceInput, RebalancePlan } from './index.ts';

const MIB = 1024n * 1024n;


const GHOST_BASE = 1000;

interface Cluster {
  brokers: PlannerBroker[];
  partitions: CurrentPartition[];
  rf: number;
}

/**
 * A random cluster: brokers with non-contiguous ids, racks (0 = none) either evenly spread over
 * the eligible brokers or drawn at random, some draining (never so many that fewer than RF stay),
 * and a current assignment that is skewed towards a few hot brokers and includes draining and
 * ghost (unknown) broker ids, duplicates, and sometimes an ISR and sizes.
 */
const clusterArb = (opts: { evenRacks: boolean; mixedRf?: boolean; isrSubsets?: boolean; noRacks?: boolean }) => fc.record({
  n: fc.integer({ min: 1, max: 50 }),
  racks: opts.noRacks ? fc.constant(0) : fc.integer({ min: 0, max: 6 }),
  rfPick: fc.integer({ min: 1, max: 5 }),
  drainRate: fc.constantFrom(0, 0, 0.1, 0.3),
  ghostRate: fc.constantFrom(0, 0, 0.05, 0.2),
  hot: fc.integer({ min: 1, max: 6 }),
  hotRate: fc.constantFrom(0, 0.5, 0.9),
  topics: fc.integer({ min: 1, max: 5 }),
  maxPartitions: fc.integer({ min: 1, max: 30 }),
  isr: opts.isrSubsets ? fc.constantFrom('unknown', 'all', 'subset') : fc.constantFrom('unknown', 'all'),
  sizes: fc.boolean(),
  seed: fc.integer(),
}).map((g): Cluster => {
  const rnd = seededRandom(g.seed);
  const rf = Math.min(g.rfPick, g.n, 5);
  const ids = Array.from({ length: g.n }, (_, i) => i * 3 + (i % 2));
  const draining = ids.map(() => rnd() < g.drainRate);
  // keep at least RF eligible brokers
  for (let i = 0, eligible = draining.filter((d) => !d).length; eligible < rf; i++) if (draining[i]) { draining[i] = false; eligible++; }
  // even racks: as many racks as asked or fewer, so that every rack has as many eligible brokers
  const eligibleCount = draining.filter((d) => !d).length;
  let racks = g.racks;
  if (opts.evenRacks) while (racks > 1 && eligibleCount % racks !== 0) racks--;
  let eligibleSeen = 0;
  const brokers: PlannerBroker[] = ids.map((id, i) => {
    const rackNo = racks === 0 ? null : opts.evenRacks && !draining[i] ? eligibleSeen++ % racks : Math.floor(rnd() * racks);
    return { id, rack: rackNo === null ? null : `rack-${rackNo}`, draining: draining[i]! };
  });
  const pick = (): number => {
    if (rnd() < g.ghostRate) return GHOST_BASE + Math.floor(rnd() * 5);
    if (rnd() < g.hotRate) return ids[Math.floor(rnd() * Math.min(g.hot, g.n))]!;
    return ids[Math.floor(rnd() * g.n)]!;
  };
  const partitions: CurrentPartition[] = [];
  for (let t = 0; t < g.topics; t++) {
    const count = 1 + Math.floor(rnd() * g.maxPartitions);
    const topicRf = opts.mixedRf ? 1 + Math.floor(rnd() * rf) : rf;
    for (let p = 0; p < count; p++) {
      const replicas: number[] = [];
      while (replicas.length < topicRf) {
        const b = pick();
        if (!replicas.includes(b) || rnd() < 0.02) replicas.push(b); // the odd duplicate, as corrupt input
      }
      const isr = g.isr === 'unknown' ? undefined
        : g.isr === 'all' ? [...new Set(replicas)]
          : replicas.filter((_, i) => i === 0 || rnd() < 0.5);
      partitions.push({
        topic: `t${t}`, partition: p, replicas, leader: replicas[0]!, ...(isr ? { isr } : {}),
        ...(g.sizes ? { sizeBytes: BigInt(Math.floor(rnd() * 1000)) * MIB } : {}),
      });
    }
  }
  return { brokers, partitions, rf };
});

/**
 * Does the input hold a replica that is the only in-sync one of RF > 1 (it may not move) or a
 * partition in sync only on ghosts (it cannot move)? Both can rightly block balance.
 */
function guarded(brokers: readonly PlannerBroker[], partitions: readonly CurrentPartition[]): boolean {
  const known = new Set(brokers.map((b) => b.id));
  const inSync = (p: CurrentPartition) => p.isr?.filter((b) => known.has(b) && p.replicas.includes(b)).length;
  return partitions.some((p) => inSync(p) === 0 || (p.replicas.length > 1 && inSync(p) === 1));
}

function eligibleIds(brokers: readonly PlannerBroker[]): Set<number> {
  return new Set(brokers.filter((b) => !b.draining).map((b) => b.id));
}

/** The constraint check, written independently of the planner. */
function constraintViolations(brokers: readonly PlannerBroker[], plan: RebalancePlan, rfOf: (topic: string, partition: number) => number): string[] {
  const eligible = eligibleIds(brokers);
  const rackOf = new Map(brokers.map((b) => [b.id, b.rack ?? '']));
  const racks = new Set([...eligible].map((id) => rackOf.get(id))).size;
  const out: string[] = [];
  for (const a of plan.assignments) {
    const rf = rfOf(a.topic, a.partition);
    const name = `${a.topic}-${a.partition} [${a.replicas}]`;
    if (a.replicas.length !== rf) out.push(`${name}: RF ${a.replicas.length} instead of ${rf}`);
    if (new Set(a.replicas).size !== a.replicas.length) out.push(`${name}: duplicate replicas`);
    for (const id of a.replicas) if (!eligible.has(id)) out.push(`${name}: replica on ineligible broker ${id}`);
    const spanned = new Set(a.replicas.map((id) => rackOf.get(id) ?? `ghost-${id}`)).size;
    if (spanned < Math.min(rf, racks)) out.push(`${name}: spans ${spanned} racks, ${Math.min(rf, racks)} possible`);
  }
  return out;
}

function spread(plan: RebalancePlan, what: 'replicas' | 'leaders'): number {
  const active = plan.brokers.filter((b) => b.state === 'active').map((b) => b.after[what]);
  return Math.max(...active) - Math.min(...active);
}

/** Totals, per-broker loads and moves agree with the assignments. */
function expectConsistent(input: RebalanceInput, plan: RebalancePlan): void {
  let replicasMoved = 0;
  let bytesMoved = 0n;
  const after = new Map<number, { replicas: number; leaders: number }>();
  plan.assignments.forEach((a, i) => {
    const src = input.partitions[i]!;
    expect([a.topic, a.partition]).toEqual([src.topic, src.partition]);
    a.replicas.forEach((id, k) => {
      const e = after.get(id) ?? { replicas: 0, leaders: 0 };
      e.replicas++;
      if (k === 0) e.leaders++;
      after.set(id, e);
    });
    const move = plan.moves.find((m) => m.topic === a.topic && m.partition === a.partition);
    expect(a.changed).toBe(move !== undefined);
    expect(a.changed).toBe(a.replicas.join() !== src.replicas.join());
    if (!move) return;
    expect(move.targetReplicas).toEqual(a.replicas);
    expect(move.adding).toEqual(a.replicas.filter((id) => !src.replicas.includes(id)));
    expect(new Set(move.removing)).toEqual(new Set(src.replicas.filter((id) => !a.replicas.includes(id))));
    // add-then-remove: during the move the partition holds the target and the replicas leaving
    expect(move.replicasDuringMove).toEqual([...a.replicas, ...move.removing]);
    expect(move.bytesToCopy).toBe((src.sizeBytes ?? 0n) * BigInt(move.adding.length));
    replicasMoved += move.adding.length;
    bytesMoved += move.bytesToCopy;
  });
  expect(plan.totals.replicasMoved).toBe(replicasMoved);
  expect(plan.totals.bytesMoved).toBe(bytesMoved);
  for (const b of plan.brokers) {
    expect(b.after.replicas).toBe(after.get(b.id)?.replicas ?? 0);
    expect(b.after.leaders).toBe(after.get(b.id)?.leaders ?? 0);
  }
}

/** Partitions the plan reports as kept from satisfying a constraint (with reason). */
function flagged(plan: RebalancePlan): Set<string> {
  return new Set(plan.issues.filter((i) => i.topic !== undefined).map((i) => `${i.topic}-${i.partition}`));
}

describe('planRebalance properties', () => {
  test('random clusters (1-50 brokers, 0-6 racks of equal size, RF 1-5, skewed, ghost and draining brokers): the plan is valid, replicas and leaders within one per broker', () => {
    fc.assert(fc.property(clusterArb({ evenRacks: true }), fc.integer(), ({ brokers, partitions }, seed) => {
      const input = { brokers, partitions, random: seededRandom(seed) };
      const plan = planRebalance(input);
      expectConsistent(input, plan);
      const rfOf = new Map(partitions.map((p) => [`${p.topic}-${p.partition}`, p.replicas.length]));
      const skip = flagged(plan);
      const violations = constraintViolations(brokers, plan, (t, p) => rfOf.get(`${t}-${p}`)!)
        .filter((v) => !skip.has(v.split(' ')[0]!));
      expect(violations).toEqual([]);
      if (!guarded(brokers, partitions)) {
        expect(plan.issues).toEqual([]);
        expect(spread(plan, 'replicas')).toBeLessThanOrEqual(1);
        expect(spread(plan, 'leaders')).toBeLessThanOrEqual(1);
        expect(plan.balanced).toBe(true);
      }
    }), { numRuns: 300 });
  });

  test('without racks, every topic is within one replica per broker too (mixed RF, skewed, ghost and draining brokers)', () => {
    fc.assert(fc.property(clusterArb({ evenRacks: true, noRacks: true, mixedRf: true }), fc.integer(), ({ brokers, partitions }, seed) => {
      fc.pre(!guarded(brokers, partitions));
      const plan = planRebalance({ brokers, partitions, random: seededRandom(seed) });
      const eligible = [...eligibleIds(brokers)];
      for (const topic of new Set(partitions.map((p) => p.topic))) {
        const per = new Map(eligible.map((id) => [id, 0]));
        for (const a of plan.assignments) if (a.topic === topic) for (const id of a.replicas) per.set(id, per.get(id)! + 1);
        expect(Math.max(...per.values()) - Math.min(...per.values())).toBeLessThanOrEqual(1);
      }
      expect(spread(plan, 'replicas')).toBeLessThanOrEqual(1);
    }), { numRuns: 200 });
  });

  test('random clusters with racks of any size, mixed RF and partial ISRs: always valid, and "balanced" is true exactly when replicas and leaders are within one', () => {
    fc.assert(fc.property(clusterArb({ evenRacks: false, mixedRf: true, isrSubsets: true }), fc.integer(), ({ brokers, partitions }, seed) => {
      const input = { brokers, partitions, random: seededRandom(seed) };
      const plan = planRebalance(input);
      expectConsistent(input, plan);
      const rfOf = new Map(partitions.map((p) => [`${p.topic}-${p.partition}`, p.replicas.length]));
      const skip = flagged(plan);
      expect(constraintViolations(brokers, plan, (t, p) => rfOf.get(`${t}-${p}`)!).filter((v) => !skip.has(v.split(' ')[0]!))).toEqual([]);
      const withinOne = spread(plan, 'replicas') <= 1 && spread(plan, 'leaders') <= 1;
      expect(plan.balanced).toBe(withinOne && skip.size === 0);
      if (spread(plan, 'replicas') > 1) expect(plan.issues.map((i) => i.code)).toContain('ReplicasUnbalanced');
      if (spread(plan, 'leaders') > 1) expect(plan.issues.map((i) => i.code)).toContain('LeadersUnbalanced');
    }), { numRuns: 200 });
  });

  test('planning the plan\'s own target again moves nothing (what is placed well stays)', () => {
    fc.assert(fc.property(clusterArb({ evenRacks: false, mixedRf: true, isrSubsets: true }), fc.integer(), fc.integer(), ({ brokers, partitions }, seed1, seed2) => {
      const first = planRebalance({ brokers, partitions, random: seededRandom(seed1) });
      // after the moves ran, the added replicas are in sync, the removed ones gone
      const again: CurrentPartition[] = first.assignments.map((a, i) => {
        const was = partitions[i]!;
        const isr = was.isr && [...new Set([...was.isr.filter((b) => a.replicas.includes(b)), ...a.replicas.filter((b) => !was.replicas.includes(b))])];
        return {
          topic: a.topic, partition: a.partition, replicas: a.replicas, leader: a.replicas[0]!,
          ...(isr !== undefined ? { isr } : {}),
          ...(partitions[i]!.sizeBytes !== undefined ? { sizeBytes: partitions[i]!.sizeBytes } : {}),
        };
      });
      const second = planRebalance({ brokers, partitions: again, random: seededRandom(seed2) });
      // where the first plan had to keep an only in-sync replica, the next may go on once more are in sync
      if (guarded(brokers, partitions)) return;
      // a first plan that could not balance (it says why in its issues) may be improved on by a
      // second one: found by this property (47 brokers in 4 uneven racks, RF 1/3/4 mixed, seed
      // -1413232630); only a balanced plan's target must be left as it is
      if (!first.balanced) return;
      expect(second.moves).toEqual([]);
      expect(second.totals).toEqual({ partitionsMoved: 0, replicasMoved: 0, bytesMoved: 0n, leadersChanged: 0, movesOfUnknownSize: 0 });
    }), { numRuns: 200 });
  });

  test('an already balanced valid assignment (round robin over rack-interleaved brokers) moves nothing', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 200 }), fc.integer(), (n, racks, rfPick, count, seed) => {
        const rf = Math.min(rfPick, n);
        // ids interleave racks, so consecutive ids (mod n) are in distinct racks whenever n is a multiple of the rack count
        const r = racks > 0 && n % racks === 0 ? racks : 0;
        const brokers = Array.from({ length: n }, (_, id) => ({ id, rack: r ? `rack-${id % r}` : null }));
        // whole rounds keep each broker's count equal; leaders rotate so they are equal too
        const rounds = Math.max(1, Math.floor(count / n)) * n;
        const partitions = Array.from({ length: rounds }, (_, p) => ({
          topic: 'orders', partition: p, replicas: Array.from({ length: rf }, (_, k) => (p + k) % n),
          sizeBytes: 10n * MIB,
        }));
        const plan = planRebalance({ brokers, partitions, random: seededRandom(seed) });
        expect(plan.moves).toEqual([]);
        expect(plan.balanced).toBe(true);
      }), { numRuns: 200 });
  });

  test('same random seed, same plan; the seed only breaks ties', () => {
    fc.assert(fc.property(clusterArb({ evenRacks: false, mixedRf: true }), fc.integer(), ({ brokers, partitions }, seed) => {
      const a = planRebalance({ brokers, partitions, random: seededRandom(seed) });
      const b = planRebalance({ brokers, partitions, random: seededRandom(seed) });
      expect(b).toEqual(a);
    }), { numRuns: 100 });
    // and the seed is used: on a tie-rich input different seeds give different plans
    const brokers = Array.from({ length: 6 }, (_, id) => ({ id, rack: null }));
    const partitions = Array.from({ length: 12 }, (_, p) => ({ topic: 't', partition: p, replicas: [0, 1] }));
    const plans = new Set([1, 2, 3, 4, 5, 6, 7, 8].map((s) => JSON.stringify(planRebalance({ brokers, partitions, random: seededRandom(s) }).assignments)));
    expect(plans.size).toBeGreaterThan(1);
  });
});

describe('planRebalance cases', () => {
  const rr = (count: number, on: number[], rf: number, size?: (p: number) => bigint): CurrentPartition[] =>
    Array.from({ length: count }, (_, p) => ({
      topic: 'orders', partition: p, replicas: Array.from({ length: rf }, (_, k) => on[(p + k) % on.length]!),
      ...(size ? { sizeBytes: size(p) } : {}),
    }));

  test('adding 2 empty brokers to 3 balanced ones moves exactly the fair share: 36 of 90 replicas', () => {
    const brokers = Array.from({ length: 5 }, (_, id) => ({ id, rack: null }));
    const partitions = rr(30, [0, 1, 2], 3, () => 100n * MIB);
    const plan = planRebalance({ brokers, partitions, random: seededRandom(7) });
    expect(plan.balanced).toBe(true);
    // 90 replicas on 5 brokers: 18 each, so the 2 new brokers take 36, and nothing else moves
    expect(plan.brokers.map((b) => b.after.replicas)).toEqual([18, 18, 18, 18, 18]);
    expect(plan.brokers.map((b) => b.after.leaders)).toEqual([6, 6, 6, 6, 6]);
    expect(plan.totals.replicasMoved).toBe(36);
    expect(plan.totals.partitionsMoved).toBe(plan.moves.filter((m) => m.adding.length > 0).length);
    expect(plan.totals.bytesMoved).toBe(36n * 100n * MIB);
    for (const m of plan.moves) for (const id of m.adding) expect([3, 4]).toContain(id);
  });

  test('per topic: two topics each packed on half the brokers (counts even) end spread over all of them', () => {
    const brokers = Array.from({ length: 6 }, (_, id) => ({ id, rack: null }));
    const partitions = [
      ...Array.from({ length: 12 }, (_, p) => ({ topic: 'a', partition: p, replicas: [p % 3, (p + 1) % 3] })),
      ...Array.from({ length: 12 }, (_, p) => ({ topic: 'b', partition: p, replicas: [3 + (p % 3), 3 + ((p + 1) % 3)] })),
    ];
    const plan = planRebalance({ brokers, partitions, random: seededRandom(5) });
    expect(plan.balanced).toBe(true);
    for (const topic of ['a', 'b']) {
      const perBroker = brokers.map((b) => plan.assignments.filter((x) => x.topic === topic && x.replicas.includes(b.id)).length);
      expect(Math.max(...perBroker) - Math.min(...perBroker)).toBeLessThanOrEqual(1);
    }
    expect(plan.brokers.map((b) => b.after.replicas)).toEqual([8, 8, 8, 8, 8, 8]);
  });

  test('moves the smallest partitions when sizes differ (bytes goal off)', () => {
    const brokers = Array.from({ length: 4 }, (_, id) => ({ id, rack: null }));
    const partitions = rr(12, [0, 1, 2], 1, (p) => BigInt(p + 1) * MIB); // partition p has p+1 MiB
    const plan = planRebalance({ brokers, partitions, random: seededRandom(1), bytesTolerance: Infinity });
    expect(plan.totals.replicasMoved).toBe(3);
    // one from each old broker: the smallest each holds (partitions 0, 1, 2)
    expect(plan.moves.map((m) => m.partition).sort()).toEqual([0, 1, 2]);
  });

  test('bytes: with counts even, swaps bring the heaviest broker within the tolerance of the mean', () => {
    const brokers = Array.from({ length: 4 }, (_, id) => ({ id, rack: null }));
    // broker 0 holds the four big partitions, the others the small ones: counts 4 each
    const partitions: CurrentPartition[] = Array.from({ length: 16 }, (_, p) => ({
      topic: 't', partition: p, replicas: [p < 4 ? 0 : 1 + (p % 3)], sizeBytes: p < 4 ? 1000n * MIB : 10n * MIB,
    }));
    const before = planRebalance({ brokers, partitions, random: seededRandom(1), bytesTolerance: Infinity });
    const plan = planRebalance({ brokers, partitions, random: seededRandom(1) });
    const maxBytes = (pl: RebalancePlan) => Math.max(...pl.brokers.map((b) => Number(b.after.bytes)));
    const total = partitions.reduce((s, p) => s + Number(p.sizeBytes), 0);
    expect(maxBytes(before)).toBeGreaterThan(total / 4 * 1.1);
    expect(maxBytes(plan)).toBeLessThanOrEqual(total / 4 * 1.1);
    expect(spread(plan, 'replicas')).toBeLessThanOrEqual(1);
  });

  test('a drain moves every replica off the draining brokers and keeps racks spread', () => {
    const brokers = Array.from({ length: 9 }, (_, id) => ({ id, rack: `r${id % 3}`, draining: id >= 6 }));
    const partitions = placeReplicas({ brokers, partitions: 24, replicationFactor: 3, random: seededRandom(3) })
      .map((replicas, partition) => ({ topic: 'orders', partition, replicas, isr: replicas }));
    const plan = planRebalance({ brokers, partitions, random: seededRandom(4) });
    expect(plan.balanced).toBe(true);
    expect(plan.brokers.filter((b) => b.id >= 6).map((b) => b.after.replicas)).toEqual([0, 0, 0]);
    expect(plan.brokers.filter((b) => b.id < 6).map((b) => b.after.replicas)).toEqual([12, 12, 12, 12, 12, 12]);
    for (const a of plan.assignments) expect(new Set(a.replicas.map((id) => id % 3)).size).toBe(3);
    // only the draining brokers' replicas moved
    expect(plan.totals.replicasMoved).toBe(plan.brokers.filter((b) => b.id >= 6).reduce((s, b) => s + b.before.replicas, 0));
  });

  test('racks of unequal size that make count balance impossible: still rack-spread, reported as ReplicasUnbalanced', () => {
    // 4 brokers in 3 racks (r0: 0 and 3, r1: 1, r2: 2): RF 3 needs every rack, so 1 and 2 hold every partition
    const brokers = Array.from({ length: 4 }, (_, id) => ({ id, rack: `r${id % 3}` }));
    const partitions = Array.from({ length: 12 }, (_, p) => ({ topic: 't', partition: p, replicas: [0, 3, p % 2 ? 1 : 2] }));
    const plan = planRebalance({ brokers, partitions, random: seededRandom(2) });
    for (const a of plan.assignments) expect(new Set(a.replicas.map((id) => id % 3)).size).toBe(3);
    expect(plan.brokers.map((b) => b.after.replicas)).toEqual([6, 12, 12, 6]);
    expect(plan.balanced).toBe(false);
    expect(plan.issues.map((i) => i.code)).toContain('ReplicasUnbalanced');
  });

  test('ghost broker ids (no longer in the broker list) are removed from every replica list', () => {
    const brokers = [0, 1, 2].map((id) => ({ id, rack: null }));
    const partitions = [
      { topic: 't', partition: 0, replicas: [7, 0, 1] },
      { topic: 't', partition: 1, replicas: [1, 8, 9] },
    ];
    const plan = planRebalance({ brokers, partitions, random: seededRandom(1) });
    for (const a of plan.assignments) for (const id of a.replicas) expect([0, 1, 2]).toContain(id);
    expect(plan.brokers.filter((b) => b.state === 'ghost').map((b) => [b.id, b.after.replicas])).toEqual([[7, 0], [8, 0], [9, 0]]);
    expect(plan.moves.find((m) => m.partition === 0)!.removing).toEqual([7]);
  });

  test('a draining broker that would leave a topic with fewer brokers than its RF: BROOK_ERR_REBALANCE_TOO_FEW_BROKERS naming the topic', () => {
    const brokers = [0, 1, 2].map((id) => ({ id, rack: null, draining: id === 2 }));
    const partitions = [
      { topic: 'payments', partition: 0, replicas: [0, 1, 2] },
      { topic: 'audit', partition: 0, replicas: [2, 1, 0] },
      { topic: 'logs', partition: 0, replicas: [0, 1] },
    ];
    let err: unknown;
    try { planRebalance({ brokers, partitions, random: seededRandom(1) }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(RebalancePlanError);
    expect((err as RebalancePlanError).code).toBe('BROOK_ERR_REBALANCE_TOO_FEW_BROKERS');
    expect((err as RebalancePlanError).topics).toEqual(['audit', 'payments']);
    expect((err as Error).message).toMatch(/audit, payments/);
  });

  test('the only in-sync replica is never planned for removal: kept and reported', () => {
    const brokers = [0, 1, 2, 3].map((id) => ({ id, rack: null, draining: id === 3 }));
    const partitions = [
      { topic: 't', partition: 0, replicas: [3, 0, 1], isr: [3] },
      { topic: 't', partition: 1, replicas: [3, 1, 2], isr: [3, 1] },
    ];
    const plan = planRebalance({ brokers, partitions, random: seededRandom(1) });
    expect(plan.assignments[0]!.replicas).toContain(3);
    expect(plan.assignments[1]!.replicas).not.toContain(3);
    expect(plan.issues).toEqual([expect.objectContaining({ code: 'LastInSyncReplica', topic: 't', partition: 0 })]);
    expect(plan.balanced).toBe(false);
  });

  test('an RF 1 partition on a draining broker is moved although its replica is the only in-sync one (was: pinned, the drain never finished)', () => {
    const brokers = [0, 1, 2].map((id) => ({ id, rack: null, draining: id === 2 }));
    const partitions = [{ topic: 't', partition: 0, replicas: [2], isr: [2], sizeBytes: 5n * MIB }];
    const plan = planRebalance({ brokers, partitions, random: seededRandom(1) });
    expect(plan.issues).toEqual([]);
    expect(plan.moves).toEqual([expect.objectContaining({ adding: [expect.any(Number)], removing: [2], replicasDuringMove: [plan.assignments[0]!.replicas[0], 2] })]);
    expect(plan.brokers.find((b) => b.id === 2)!.after.replicas).toBe(0);
  });

  test('a partition with no in-sync replica on a known broker is left as it is and reported', () => {
    const brokers = [0, 1, 2].map((id) => ({ id, rack: null }));
    const partitions = [{ topic: 't', partition: 0, replicas: [5, 0], isr: [5] }];
    const plan = planRebalance({ brokers, partitions, random: seededRandom(1) });
    expect(plan.moves).toEqual([]);
    expect(plan.issues.map((i) => i.code)).toEqual(['NoInSyncReplica']);
  });

  test('partitions below min.insync.replicas move only to satisfy a constraint, never for balance', () => {
    const brokers = [0, 1, 2, 3].map((id) => ({ id, rack: null }));
    const partitions = Array.from({ length: 8 }, (_, p) => ({ topic: p < 4 ? 'weak' : 'fine', partition: p, replicas: [p % 2, 1 - (p % 2)], isr: p < 4 ? [p % 2] : [0, 1] }));
    const plan = planRebalance({ brokers, partitions, random: seededRandom(1), minInsyncReplicas: new Map([['weak', 2], ['fine', 2]]) });
    for (const m of plan.moves) if (m.adding.length > 0) expect(m.topic).toBe('fine');
  });

  test('canMove and maxMoves limit what changes', () => {
    const brokers = Array.from({ length: 6 }, (_, id) => ({ id, rack: null }));
    const partitions = rr(30, [0, 1, 2], 3);
    const fixed = planRebalance({ brokers, partitions, random: seededRandom(1), canMove: (_t, p) => p % 2 === 0 });
    for (const a of fixed.assignments) if (a.partition % 2 === 1) expect(a.changed).toBe(false);
    const limited = planRebalance({ brokers, partitions, random: seededRandom(1), maxMoves: 5 });
    expect(limited.totals.partitionsMoved).toBeLessThanOrEqual(5);
    expect(limited.balanced).toBe(false);
    expect(limited.issues.map((i) => i.code)).toContain('MoveLimitReached');
  });

  test('estimate: the busiest broker at the throttle sets the time', () => {
    const brokers = [0, 1, 2, 3].map((id) => ({ id, rack: null }));
    const partitions = [
      { topic: 't', partition: 0, replicas: [0], leader: 0, sizeBytes: 100n * MIB },
      { topic: 't', partition: 1, replicas: [0], leader: 0, sizeBytes: 100n * MIB },
      { topic: 't', partition: 2, replicas: [0], leader: 0, sizeBytes: 100n * MIB },
      { topic: 't', partition: 3, replicas: [0], leader: 0, sizeBytes: 100n * MIB },
    ];
    const plan = planRebalance({ brokers, partitions, random: seededRandom(1), throttleBytesPerSecond: 10 * 1024 * 1024 });
    // three partitions move to brokers 1, 2, 3 (one each), all copied from leader 0: 300 MiB out of broker 0 at 10 MiB/s
    expect(plan.totals.replicasMoved).toBe(3);
    expect(plan.estimatedSeconds).toBe(30);
    expect(estimateRebalanceSeconds(plan.moves, 100 * 1024 * 1024)).toBe(3);
    expect(() => estimateRebalanceSeconds(plan.moves, 0)).toThrow(expect.objectContaining({ code: 'BROOK_ERR_REBALANCE_INVALID_INPUT' }));
  });

  test.each([
    ['a broker listed twice', { brokers: [{ id: 1, rack: null }, { id: 1, rack: null }], partitions: [] }],
    ['a partition listed twice', { brokers: [{ id: 1, rack: null }], partitions: [{ topic: 't', partition: 0, replicas: [1] }, { topic: 't', partition: 0, replicas: [1] }] }],
    ['a partition with no replicas', { brokers: [{ id: 1, rack: null }], partitions: [{ topic: 't', partition: 0, replicas: [] }] }],
    ['a negative size', { brokers: [{ id: 1, rack: null }], partitions: [{ topic: 't', partition: 0, replicas: [1], sizeBytes: -1n }] }],
  ])('bad input (%s) is BROOK_ERR_REBALANCE_INVALID_INPUT', (_name, input) => {
    expect(() => planRebalance({ ...input, random: seededRandom(1) } as RebalanceInput))
      .toThrow(expect.objectContaining({ code: 'BROOK_ERR_REBALANCE_INVALID_INPUT' }));
  });
});
