/**
 * The rebalance planner's working state (rebalance-plan.ts has GOALS / CONSTRAINTS / ALGORITHM):
 * the input read and checked, per-broker indexes and loads, the validity rules every phase keeps,
 * phase 1 (repair), and the report — the plan's assignments, moves, loads and time estimate.
 * The balancing phases (2-4) extend this class. Pure: no I/O, no clock; one plan per instance.
 */
import { RebalancePlanError, invalid } from './rebalance-types.ts';
import type {
  BrokerLoad, BrokerLoadChange, CurrentPartition, PartitionMove, PlanIssue, PlanIssueCode, RebalanceInput, RebalancePlan, TargetPartition,
} from './rebalance-types.ts';

export /** Internal per-partition state; `cur` holds broker ids (unordered until the end). */
interface Part {
  readonly idx: number;
  readonly src: CurrentPartition;
  readonly topicIdx: number;
  readonly rf: number;
  readonly need: number; // racks to span
  readonly size: number; // for scoring; 0 when unknown
  readonly orig: readonly number[];
  readonly origSet: ReadonlySet<number>;
  cur: number[];
  /** May its replicas move for balance (phases 2 and 3)? */
  balanceMovable: boolean;
  /** May it change at all (repair, balance, leader)? */
  movable: boolean;
  pinned: number | null;
  changed: boolean;
  leader: number;
}


/**
 * Seconds to copy a plan's bytes at a throttle of `bytesPerSecond` per broker and direction
 * (Kafka's leader/follower throttled rates): every move runs at once, so the busiest broker —
 * receiving new replicas or serving them as the leader — sets the time.
 */
export function estimateRebalanceSeconds(moves: readonly PartitionMove[], bytesPerSecond: number): number {
  if (!(bytesPerSecond > 0)) throw new RebalancePlanError('BROOK_ERR_REBALANCE_INVALID_INPUT', `throttle must be a positive number of bytes/s, got ${bytesPerSecond}`);
  const inBytes = new Map<number, bigint>();
  const outBytes = new Map<number, bigint>();
  for (const m of moves) {
    if (m.adding.length === 0) continue;
    const size = m.bytesToCopy / BigInt(m.adding.length);
    for (const b of m.adding) inBytes.set(b, (inBytes.get(b) ?? 0n) + size);
    outBytes.set(m.sourceLeader, (outBytes.get(m.sourceLeader) ?? 0n) + m.bytesToCopy);
  }
  let busiest = 0n;
  for (const v of [...inBytes.values(), ...outBytes.values()]) if (v > busiest) busiest = v;
  return Number(busiest) / bytesPerSecond;
}

export abstract class PlannerState {
  protected readonly input: RebalanceInput;
  protected readonly issues: PlanIssue[] = [];
  protected readonly rackOf = new Map<number, string>(); // every listed broker
  protected readonly rackNo = new Map<number, number>(); // every listed broker -> rack number
  protected readonly scratch: number[] = [];
  protected readonly idx = new Map<number, number>(); // eligible broker id -> index
  protected readonly ids: number[] = []; // eligible index -> id
  protected readonly rank: number[] = []; // eligible index -> random tie-break rank
  protected readonly racks: number; // distinct racks among eligible brokers
  protected readonly parts: Part[] = [];
  protected readonly topicNames: string[] = [];
  protected count: Int32Array;
  protected bytes: Float64Array;
  protected topicCount: Int32Array; // topicIdx * n + brokerIdx
  /** Per eligible broker: balance-movable partitions holding a replica there, by size ascending. */
  protected lists: number[][] = [];
  protected movesUsed = 0;
  protected meanBytes = 0; // per eligible broker, 0 when unknown or the bytes goal is off
  protected meanCount = 0; // replicas per eligible broker, rounded up
  protected readonly maxMoves: number;
  protected readonly tolerance: number;

  constructor(input: RebalanceInput) {
    this.input = input;
    this.maxMoves = input.maxMoves ?? Infinity;
    this.tolerance = input.bytesTolerance ?? 0.1;
    if (!(this.maxMoves >= 0)) throw invalid(`maxMoves must be ≥ 0, got ${input.maxMoves}`);
    if (!(this.tolerance >= 0)) throw invalid(`bytesTolerance must be ≥ 0, got ${input.bytesTolerance}`);
    for (const b of input.brokers) {
      if (!Number.isInteger(b.id) || b.id < 0) throw invalid(`broker id ${b.id} is not a non-negative integer`);
      if (this.rackOf.has(b.id)) throw invalid(`broker ${b.id} is listed twice`);
      this.rackOf.set(b.id, b.rack ?? '');
      if (!b.draining) {
        this.idx.set(b.id, this.ids.length);
        this.ids.push(b.id);
      }
    }
    const n = this.ids.length;
    this.racks = new Set(this.ids.map((id) => this.rackOf.get(id)!)).size;
    const rackNumbers = new Map<string, number>();
    for (const [id, rack] of this.rackOf) {
      if (!rackNumbers.has(rack)) rackNumbers.set(rack, rackNumbers.size);
      this.rackNo.set(id, rackNumbers.get(rack)!);
    }
    // one random permutation of the eligible brokers ranks them for every tie-break
    const order = this.ids.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.min(i, Math.floor(input.random() * (i + 1)));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    order.forEach((brokerIdx, r) => { this.rank[brokerIdx] = r; });
    this.count = new Int32Array(n);
    this.bytes = new Float64Array(n);
    this.topicCount = new Int32Array(0);
  }

  // ---- input -------------------------------------------------------------------------------

  protected readPartitions(): void {
    const topics = new Map<string, number>();
    const seen = new Set<string>();
    const tooFew = new Set<string>();
    const minIsr = this.input.minInsyncReplicas;
    for (const [i, p] of this.input.partitions.entries()) {
      const key = `${p.topic}\u0000${p.partition}`;
      if (seen.has(key)) throw invalid(`partition ${p.topic}-${p.partition} is listed twice`);
      seen.add(key);
      if (p.replicas.length === 0) throw invalid(`partition ${p.topic}-${p.partition} has no replicas`);
      if (p.sizeBytes !== undefined && p.sizeBytes < 0n) throw invalid(`partition ${p.topic}-${p.partition} has a negative size`);
      for (const r of p.replicas) if (!Number.isInteger(r)) throw invalid(`partition ${p.topic}-${p.partition} names replica ${r}`);
      const rf = p.replicas.length;
      if (rf > this.ids.length) tooFew.add(p.topic);
      let topicIdx = topics.get(p.topic);
      if (topicIdx === undefined) { topicIdx = this.topicNames.length; topics.set(p.topic, topicIdx); this.topicNames.push(p.topic); }
      // ISR members on unknown brokers hold nothing we can copy from
      const inSync = p.isr?.filter((b) => this.rackOf.has(b) && p.replicas.includes(b));
      const offline = inSync !== undefined && inSync.length === 0;
      const underMinIsr = inSync !== undefined && inSync.length < (minIsr?.get(p.topic) ?? 1);
      const movable = !offline && (this.input.canMove?.(p.topic, p.partition) ?? true);
      this.parts.push({
        idx: i, src: p, topicIdx, rf, need: Math.min(rf, this.racks),
        size: p.sizeBytes === undefined ? 0 : Number(p.sizeBytes),
        orig: p.replicas, origSet: new Set(p.replicas), cur: [...p.replicas],
        movable, balanceMovable: movable && !underMinIsr,
        // RF 1: the only replica is necessarily the only in-sync one, and moving it (add, catch up, remove) is safe
        pinned: rf > 1 && inSync?.length === 1 ? inSync[0]! : null,
        changed: false, leader: p.replicas[0]!,
      });
    }
    if (tooFew.size > 0) {
      const names = [...tooFew].sort();
      throw new RebalancePlanError('BROOK_ERR_REBALANCE_TOO_FEW_BROKERS',
        `${names.length === 1 ? 'topic' : 'topics'} ${names.join(', ')} ${names.length === 1 ? 'has' : 'have'} a replication factor above the ${this.ids.length} broker(s) that would remain`,
        names);
    }
    this.topicCount = new Int32Array(this.topicNames.length * this.ids.length);
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** A rack number; an unknown (ghost) broker is alone in a rack of its own. */
  protected rack(id: number): number {
    return this.rackNo.get(id) ?? -1 - id;
  }

  /** Distinct racks of `ids` with `from` replaced by `to` (from = -1: none replaced, to = -1: none added). */
  protected racksOf(ids: readonly number[], from: number, to: number): number {
    const seen = this.scratch;
    seen.length = 0;
    for (const id of ids) {
      if (id === from) continue;
      const r = this.rack(id);
      if (!seen.includes(r)) seen.push(r);
    }
    if (to >= 0) { const r = this.rack(to); if (!seen.includes(r)) seen.push(r); }
    return seen.length;
  }

  /** Do `replicas` satisfy p's constraints (RF distinct eligible brokers spanning enough racks)? */
  protected valid(p: Part, replicas: readonly number[]): boolean {
    if (replicas.length !== p.rf) return false;
    for (let i = 0; i < replicas.length; i++) {
      if (!this.idx.has(replicas[i]!)) return false;
      for (let j = 0; j < i; j++) if (replicas[j] === replicas[i]) return false;
    }
    return p.need <= 1 || this.racksOf(replicas, -1, -1) >= p.need;
  }

  protected mayChange(p: Part): boolean {
    return p.changed || this.movesUsed < this.maxMoves;
  }

  protected markChanged(p: Part): void {
    if (!p.changed) { p.changed = true; this.movesUsed++; }
  }

  protected addLoad(p: Part, b: number, sign: 1 | -1): void {
    this.count[b]! += sign;
    this.bytes[b]! += sign * p.size;
    this.topicCount[p.topicIdx * this.ids.length + b]! += sign;
  }

  /** Where pi is or would go in a list ordered by (size, index), like the initial sort. */
  protected position(list: readonly number[], pi: number): number {
    const size = this.parts[pi]!.size;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.parts[list[mid]!]!;
      if (m.size < size || (m.size === size && m.idx < pi)) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  /** Moves p's replica from eligible broker s to eligible broker d (validity checked by the caller). */
  protected move(p: Part, s: number, d: number): void {
    const from = this.ids[s]!;
    const to = this.ids[d]!;
    p.cur[p.cur.indexOf(from)] = to;
    this.addLoad(p, s, -1);
    this.addLoad(p, d, 1);
    const ls = this.lists[s]!;
    ls.splice(this.position(ls, p.idx), 1);
    const ld = this.lists[d]!;
    ld.splice(this.position(ld, p.idx), 0, p.idx);
    this.markChanged(p);
  }

  /** Can p's replica on eligible broker s move to eligible broker d? */
  protected canMoveReplica(p: Part, s: number, d: number): boolean {
    const from = this.ids[s]!;
    const to = this.ids[d]!;
    if (p.pinned === from || p.cur.includes(to) || !this.mayChange(p)) return false;
    return p.need <= 1 || this.rack(from) === this.rack(to) || this.racksOf(p.cur, from, to) >= p.need;
  }

  /** Bytes this move adds to the plan's copying (negative when it undoes a copy). */
  protected moveCost(p: Part, s: number, d: number): number {
    return (p.origSet.has(this.ids[d]!) ? 0 : p.size) - (p.origSet.has(this.ids[s]!) ? 0 : p.size);
  }

  // ---- phase 1: repair ---------------------------------------------------------------------

  protected repair(): void {
    const toFill: Part[] = [];
    for (const p of this.parts) {
      const kept: number[] = [];
      const mayKeep = (id: number): boolean => {
        if (kept.includes(id) || !this.idx.has(id)) return false;
        return this.racksOf(kept, -1, id) + (p.rf - kept.length - 1) >= p.need;
      };
      if (p.pinned !== null) kept.push(p.pinned);
      for (const id of p.orig) if (mayKeep(id)) kept.push(id);
      const broken = kept.length < p.rf || (p.pinned !== null && !this.idx.has(p.pinned));
      if (broken && p.pinned !== null && !this.idx.has(p.pinned)) {
        this.issue('LastInSyncReplica', p, `the only in-sync replica is on broker ${p.pinned}, which is ${this.rackOf.has(p.pinned) ? 'draining' : 'unknown'}; it stays until another replica is in sync`);
      }
      if (broken && !p.movable) {
        this.issue(this.isOffline(p) ? 'NoInSyncReplica' : 'NotMovable', p,
          this.isOffline(p) ? `no in-sync replica on a known broker; replicas ${p.orig.join(',')} left as they are` : `excluded from moving but its replicas ${p.orig.join(',')} break a constraint`);
      } else if (broken && !this.mayChange(p)) {
        this.issue('MoveLimitReached', p, `maxMoves (${this.maxMoves}) reached; replicas ${p.orig.join(',')} still break a constraint`);
      } else if (broken) {
        p.cur = kept;
        this.markChanged(p);
        toFill.push(p);
      }
      for (const id of p.cur) { const b = this.idx.get(id); if (b !== undefined) this.addLoad(p, b, 1); }
    }
    toFill.sort((a, b) => b.size - a.size || a.idx - b.idx);
    const n = this.ids.length;
    for (const p of toFill) {
      while (p.cur.length < p.rf) {
        const racksNow = this.racksOf(p.cur, -1, -1);
        const mustAddRack = racksNow + (p.rf - p.cur.length) <= p.need;
        let best = -1;
        for (let b = 0; b < n; b++) {
          const id = this.ids[b]!;
          if (p.cur.includes(id)) continue;
          if (mustAddRack && this.racksOf(p.cur, -1, id) === racksNow) continue;
          if (best < 0 || this.fillBetter(p, b, best)) best = b;
        }
        p.cur.push(this.ids[best]!);
        this.addLoad(p, best, 1);
      }
    }
  }

  protected isOffline(p: Part): boolean {
    return p.src.isr !== undefined && !p.src.isr.some((b) => this.rackOf.has(b) && p.orig.includes(b));
  }

  protected fillBetter(p: Part, b: number, than: number): boolean {
    const n = this.ids.length;
    return (this.count[b]! - this.count[than]!
      || this.topicCount[p.topicIdx * n + b]! - this.topicCount[p.topicIdx * n + than]!
      || this.bytes[b]! - this.bytes[than]!
      || this.rank[b]! - this.rank[than]!) < 0;
  }


  // ---- output ------------------------------------------------------------------------------

  protected issue(code: PlanIssueCode, p: Part, message: string): void {
    this.issues.push({ code, topic: p.src.topic, partition: p.src.partition, message: `${p.src.topic}-${p.src.partition}: ${message}` });
  }

  protected result(): RebalancePlan {
    const assignments: TargetPartition[] = [];
    const moves: PartitionMove[] = [];
    let partitionsMoved = 0;
    let replicasMoved = 0;
    let bytesMoved = 0n;
    let leadersChanged = 0;
    let movesOfUnknownSize = 0;
    let allValid = true;
    const before = new Map<number, { replicas: number; leaders: number; bytes: bigint }>();
    const after = new Map<number, { replicas: number; leaders: number; bytes: bigint }>();
    const tally = (m: typeof before, replicas: readonly number[], size: bigint): void => {
      replicas.forEach((id, i) => {
        let e = m.get(id);
        if (!e) { e = { replicas: 0, leaders: 0, bytes: 0n }; m.set(id, e); }
        e.replicas++;
        if (i === 0) e.leaders++;
        e.bytes += size;
      });
    };
    for (const p of this.parts) {
      // the leader, then the kept replicas in their current order, then the added ones
      const target = [...new Set([p.leader, ...p.orig.filter((id) => p.cur.includes(id)), ...p.cur])];
      const orig = [...p.orig];
      const changed = target.length !== orig.length || target.some((id, i) => id !== orig[i]);
      const size = p.src.sizeBytes ?? 0n;
      tally(before, orig, size);
      tally(after, target, size);
      if (!this.valid(p, target)) allValid = false;
      assignments.push({ topic: p.src.topic, partition: p.src.partition, replicas: target, changed });
      if (!changed) continue;
      const adding = target.filter((id) => !p.origSet.has(id));
      const removing = [...new Set(orig.filter((id) => !target.includes(id)))];
      const bytesToCopy = size * BigInt(adding.length);
      if (adding.length > 0 || removing.length > 0) partitionsMoved++;
      replicasMoved += adding.length;
      bytesMoved += bytesToCopy;
      if (target[0] !== orig[0]) leadersChanged++;
      if (adding.length > 0 && p.src.sizeBytes === undefined) movesOfUnknownSize++;
      moves.push({
        topic: p.src.topic, partition: p.src.partition, currentReplicas: orig, targetReplicas: target,
        replicasDuringMove: [...target, ...removing], adding, removing, bytesToCopy,
        sizeKnown: p.src.sizeBytes !== undefined,
        sourceLeader: p.src.leader ?? orig[0]!, leaderChanged: target[0] !== orig[0],
      });
    }
    const brokers: BrokerLoadChange[] = [];
    const zero = { replicas: 0, leaders: 0, bytes: 0n };
    const listed = new Map(this.input.brokers.map((b) => [b.id, b]));
    for (const id of new Set([...listed.keys(), ...before.keys()])) {
      const b = listed.get(id);
      brokers.push({
        id, rack: b?.rack ?? null, state: !b ? 'ghost' : b.draining ? 'draining' : 'active',
        before: before.get(id) ?? zero, after: after.get(id) ?? zero,
      });
    }
    brokers.sort((a, b) => a.id - b.id);
    const spread = (f: (l: BrokerLoad) => number): number => {
      const vals = brokers.filter((b) => b.state === 'active').map((b) => f(b.after));
      return vals.length === 0 ? 0 : Math.max(...vals) - Math.min(...vals);
    };
    const balanced = allValid && spread((l) => l.replicas) <= 1 && spread((l) => l.leaders) <= 1;
    const throttle = this.input.throttleBytesPerSecond;
    return {
      assignments, moves,
      totals: { partitionsMoved, replicasMoved, bytesMoved, leadersChanged, movesOfUnknownSize },
      brokers, balanced, issues: this.issues,
      estimatedSeconds: throttle === undefined ? null : estimateRebalanceSeconds(moves, throttle),
    };
  }
}
