/**
 * Rebalance planning: from the brokers and the current assignment, the target assignment of
 * every partition and the moves that reach it.
 *
 * GOALS, in order:
 *   1. the hard constraints below hold for every partition;
 *   2. replicas are balanced per broker: max - min ≤ 1 over the eligible brokers; then per topic
 *      (max - min ≤ 1 per topic) where racks and the per-broker balance allow;
 *   3. preferred leaders (the first replica) are balanced per broker: max - min ≤ 1;
 *   4. bytes are balanced as far as count balance allows: no broker holds more than
 *      (1 + bytesTolerance) × the mean while a move or swap that keeps the counts can fix it;
 *   while moving as few replicas and bytes as possible: a partition already placed well moves
 *   nothing, current replicas stay wherever they may, small partitions move before large ones.
 * CONSTRAINTS:
 *   - a partition keeps its replication factor (the length of its current replica list);
 *   - its replicas are distinct brokers, none draining, none unknown (a "ghost" id that is no
 *     longer in the broker list is dropped);
 *   - its replicas span min(RF, racks) racks, racks counted over the eligible brokers (brokers
 *     with no rack share one rack, as in Kafka): no two replicas share a rack when there are
 *     at least RF racks;
 *   - of a partition with RF > 1 whose ISR is known, a replica that is the only in-sync one is
 *     never removed (an RF 1 partition moves: its new replica catches up before the old one
 *     goes); a partition with no in-sync replica on a known broker is not moved (there is
 *     nothing to copy from); both are reported as issues when they keep a constraint from holding;
 *   - partitions excluded by `canMove` are not touched; at most `maxMoves` partitions change
 *     their replica set; a partition below its topic's min.insync.replicas is moved only to
 *     satisfy a hard constraint, never for balance.
 *   A move is executed add-then-remove (Kafka's reassignment): the partition first runs with
 *   `replicasDuringMove` (target + removing), the removed replicas are dropped only once every
 *   added one is in the ISR, so the ISR never shrinks below what it was because of the move.
 *   A topic whose replication factor exceeds the eligible brokers (e.g. a drain that leaves too
 *   few) is refused with RebalancePlanError BROOK_ERR_REBALANCE_TOO_FEW_BROKERS naming it.
 * ALGORITHM (each phase stops at a state-determined fixed point, so planning the plan's own
 * output again moves nothing):
 *   1. repair: per partition keep the valid current replicas (the only in-sync one first, then in
 *      order, skipping a replica whose rack would make the rack spread impossible), then, largest
 *      partitions first, fill the missing slots with the allowed broker that has the fewest
 *      replicas (then fewest of the topic, fewest bytes, random rank);
 *   2. count balance: while max - min > 1, move one replica from a most loaded broker to a least
 *      loaded one; among a few valid candidates whose size is nearest the one that brings the
 *      receiver to the mean bytes (the smallest when sizes are unknown or the bytes goal is off),
 *      take one the plan itself added (moving it again copies nothing), then the one that evens
 *      its topic most;
 *      when no direct move exists (racks), a breadth-first search finds a chain of moves through
 *      other brokers; when none exists the imbalance is reported;
 *   3. topics, then bytes, repeated until neither moves: for a topic with max - min > 1 per broker,
 *      a single move from a broker holding most of it to one holding fewest (when their totals
 *      allow), or a swap with a replica of a topic the second broker holds more of; then, while a
 *      broker holds more than (1 + bytesTolerance) × the mean bytes, the single move or swap with
 *      a lighter broker that lowers the heavier side most and leaves every topic no less even;
 *   4. leaders: each partition keeps its current first replica as preferred leader when it stays,
 *      else the replica leading fewest; then leadership moves along chains (breadth-first) from
 *      the brokers leading most to those leading fewest until max - min ≤ 1 or no chain exists.
 * Randomness (passed in) only ranks the brokers once, to break ties; the same random source
 * gives the same plan. Pure: no I/O, no clock.
 */

export interface PlannerBroker {
  readonly id: number;
  readonly rack: string | null;
  /** A draining broker must end with no replicas (scale-down). */
  readonly draining?: boolean;
}

export interface CurrentPartition {
  readonly topic: string;
  readonly partition: number;
  /** In order; the first is the preferred leader. */
  readonly replicas: readonly number[];
  readonly leader?: number | null;
  /** When known: a replica that is the only in-sync one is never removed. */
  readonly isr?: readonly number[];
  readonly sizeBytes?: bigint;
}

export interface RebalanceInput {
  readonly brokers: readonly PlannerBroker[];
  readonly partitions: readonly CurrentPartition[];
  /** Per topic; a partition whose ISR is known and smaller moves only to satisfy a hard constraint. */
  readonly minInsyncReplicas?: ReadonlyMap<string, number>;
  /** Breaks ties between equally good brokers; same source, same plan. */
  readonly random: () => number;
  /** Which partitions may change (replicas or leader); default all. */
  readonly canMove?: (topic: string, partition: number) => boolean;
  /** At most this many partitions change their replica set (leader-only changes are not counted). */
  readonly maxMoves?: number;
  /** Replication throttle in bytes/s per broker, for `estimatedSeconds`. */
  readonly throttleBytesPerSecond?: number;
  /** Bytes goal: no broker above (1 + this) × the mean while a move can fix it. Default 0.1. */
  readonly bytesTolerance?: number;
}

export interface TargetPartition {
  readonly topic: string;
  readonly partition: number;
  /** Target replicas in order; the first is the preferred leader. */
  readonly replicas: number[];
  readonly changed: boolean;
}

export interface PartitionMove {
  readonly topic: string;
  readonly partition: number;
  readonly currentReplicas: number[];
  readonly targetReplicas: number[];
  /** Execution order: run with these first (target + removing) ... */
  readonly replicasDuringMove: number[];
  /** ... wait until all of these are in the ISR ... */
  readonly adding: number[];
  /** ... then drop these. */
  readonly removing: number[];
  /** size × adding.length; 0n when the size is unknown (see `sizeKnown`). */
  readonly bytesToCopy: bigint;
  readonly sizeKnown: boolean;
  /** The broker the added replicas copy from: the current leader (or the first current replica). */
  readonly sourceLeader: number;
  readonly leaderChanged: boolean;
}

export interface BrokerLoad {
  readonly replicas: number;
  /** Preferred leaders (first replicas). */
  readonly leaders: number;
  readonly bytes: bigint;
}

export interface BrokerLoadChange {
  readonly id: number;
  readonly rack: string | null;
  /** 'ghost': an id found in replica lists but not in the broker list. */
  readonly state: 'active' | 'draining' | 'ghost';
  readonly before: BrokerLoad;
  readonly after: BrokerLoad;
}

export type PlanIssueCode =
  | 'LastInSyncReplica' // the only in-sync replica sits where it may not stay; kept until another catches up
  | 'NoInSyncReplica' // no in-sync replica on a known broker: nothing to copy from, left as it is
  | 'NotMovable' // excluded by canMove but breaks a constraint
  | 'MoveLimitReached' // maxMoves reached before this partition's constraints or the balance were met
  | 'ReplicasUnbalanced' // no move (or chain of moves) can bring replica counts within one (racks)
  | 'LeadersUnbalanced'; // no chain of leadership changes can bring leader counts within one

export interface PlanIssue {
  readonly code: PlanIssueCode;
  readonly message: string;
  readonly topic?: string;
  readonly partition?: number;
}

export interface RebalancePlan {
  /** Every input partition, in input order. */
  readonly assignments: TargetPartition[];
  /** Partitions whose replica list changes (set or order), in input order. */
  readonly moves: PartitionMove[];
  readonly totals: {
    readonly partitionsMoved: number; // replica set changes
    readonly replicasMoved: number; // replicas added
    readonly bytesMoved: bigint;
    readonly leadersChanged: number;
    readonly movesOfUnknownSize: number;
  };
  /** Every eligible, draining and ghost broker, by id. */
  readonly brokers: BrokerLoadChange[];
  /** Constraints hold everywhere and replicas and leaders are within one per broker. */
  readonly balanced: boolean;
  readonly issues: PlanIssue[];
  /** At `throttleBytesPerSecond`, or null when none was given. */
  readonly estimatedSeconds: number | null;
}

export type RebalancePlanErrorCode = 'BROOK_ERR_REBALANCE_TOO_FEW_BROKERS' | 'BROOK_ERR_REBALANCE_INVALID_INPUT';

export class RebalancePlanError extends Error {
  readonly code: RebalancePlanErrorCode;
  /** The topics concerned (TOO_FEW_BROKERS), sorted. */
  readonly topics: string[];
  constructor(code: RebalancePlanErrorCode, message: string, topics: string[] = []) {
    super(message);
    this.name = 'RebalancePlanError';
    this.code = code;
    this.topics = topics;
  }
}

/** Internal per-partition state; `cur` holds broker ids (unordered until the end). */
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

/** Candidates a fast-path search looks at before trying other pairs of brokers. */
const SHORT_SCAN = 256;

export function planRebalance(input: RebalanceInput): RebalancePlan {
  return new Planner(input).plan();
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

class Planner {
  private readonly input: RebalanceInput;
  private readonly issues: PlanIssue[] = [];
  private readonly rackOf = new Map<number, string>(); // every listed broker
  private readonly rackNo = new Map<number, number>(); // every listed broker -> rack number
  private readonly scratch: number[] = [];
  private readonly idx = new Map<number, number>(); // eligible broker id -> index
  private readonly ids: number[] = []; // eligible index -> id
  private readonly rank: number[] = []; // eligible index -> random tie-break rank
  private readonly racks: number; // distinct racks among eligible brokers
  private readonly parts: Part[] = [];
  private readonly topicNames: string[] = [];
  private count: Int32Array;
  private bytes: Float64Array;
  private topicCount: Int32Array; // topicIdx * n + brokerIdx
  /** Per eligible broker: balance-movable partitions holding a replica there, by size ascending. */
  private lists: number[][] = [];
  private movesUsed = 0;
  private meanBytes = 0; // per eligible broker, 0 when unknown or the bytes goal is off
  private meanCount = 0; // replicas per eligible broker, rounded up
  private readonly maxMoves: number;
  private readonly tolerance: number;

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

  plan(): RebalancePlan {
    this.readPartitions();
    this.repair();
    this.balanceCounts();
    // topics first, bytes second, until neither moves: each topic step lowers the sum of squared
    // per-topic counts, each bytes step keeps that sum and lowers the sum of squared bytes, so this ends
    for (let round = 0; round < 1000; round++) {
      const topics = this.balanceTopics();
      const bytes = this.balanceBytes();
      if (!topics && !bytes) break;
    }
    this.balanceLeaders();
    return this.result();
  }

  // ---- input -------------------------------------------------------------------------------

  private readPartitions(): void {
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
  private rack(id: number): number {
    return this.rackNo.get(id) ?? -1 - id;
  }

  /** Distinct racks of `ids` with `from` replaced by `to` (from = -1: none replaced, to = -1: none added). */
  private racksOf(ids: readonly number[], from: number, to: number): number {
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
  private valid(p: Part, replicas: readonly number[]): boolean {
    if (replicas.length !== p.rf) return false;
    for (let i = 0; i < replicas.length; i++) {
      if (!this.idx.has(replicas[i]!)) return false;
      for (let j = 0; j < i; j++) if (replicas[j] === replicas[i]) return false;
    }
    return p.need <= 1 || this.racksOf(replicas, -1, -1) >= p.need;
  }

  private mayChange(p: Part): boolean {
    return p.changed || this.movesUsed < this.maxMoves;
  }

  private markChanged(p: Part): void {
    if (!p.changed) { p.changed = true; this.movesUsed++; }
  }

  private addLoad(p: Part, b: number, sign: 1 | -1): void {
    this.count[b]! += sign;
    this.bytes[b]! += sign * p.size;
    this.topicCount[p.topicIdx * this.ids.length + b]! += sign;
  }

  /** Where pi is or would go in a list ordered by (size, index), like the initial sort. */
  private position(list: readonly number[], pi: number): number {
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
  private move(p: Part, s: number, d: number): void {
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
  private canMoveReplica(p: Part, s: number, d: number): boolean {
    const from = this.ids[s]!;
    const to = this.ids[d]!;
    if (p.pinned === from || p.cur.includes(to) || !this.mayChange(p)) return false;
    return p.need <= 1 || this.rack(from) === this.rack(to) || this.racksOf(p.cur, from, to) >= p.need;
  }

  /** Bytes this move adds to the plan's copying (negative when it undoes a copy). */
  private moveCost(p: Part, s: number, d: number): number {
    return (p.origSet.has(this.ids[d]!) ? 0 : p.size) - (p.origSet.has(this.ids[s]!) ? 0 : p.size);
  }

  // ---- phase 1: repair ---------------------------------------------------------------------

  private repair(): void {
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

  private isOffline(p: Part): boolean {
    return p.src.isr !== undefined && !p.src.isr.some((b) => this.rackOf.has(b) && p.orig.includes(b));
  }

  private fillBetter(p: Part, b: number, than: number): boolean {
    const n = this.ids.length;
    return (this.count[b]! - this.count[than]!
      || this.topicCount[p.topicIdx * n + b]! - this.topicCount[p.topicIdx * n + than]!
      || this.bytes[b]! - this.bytes[than]!
      || this.rank[b]! - this.rank[than]!) < 0;
  }

  // ---- phase 2: replica counts -------------------------------------------------------------

  private balanceCounts(): void {
    const n = this.ids.length;
    this.lists = Array.from({ length: n }, () => [] as number[]);
    for (const p of this.parts) {
      if (!p.balanceMovable) continue;
      for (const id of p.cur) { const b = this.idx.get(id); if (b !== undefined && id !== p.pinned) this.lists[b]!.push(p.idx); }
    }
    for (const l of this.lists) l.sort((a, b) => this.parts[a]!.size - this.parts[b]!.size || a - b);
    if (n < 2) return;
    let totalBytes = 0;
    let totalCount = 0;
    for (let b = 0; b < n; b++) { totalBytes += this.bytes[b]!; totalCount += this.count[b]!; }
    this.meanBytes = Number.isFinite(this.tolerance) ? totalBytes / n : 0;
    this.meanCount = Math.ceil(totalCount / n);
    for (;;) {
      let max = -Infinity;
      let min = Infinity;
      for (let b = 0; b < n; b++) { max = Math.max(max, this.count[b]!); min = Math.min(min, this.count[b]!); }
      if (max - min <= 1) return;
      // fast path: the fullest broker (most bytes) to the emptiest (in its rack, where a move
      // always keeps the spread; then fewest bytes), looking at the nearest few hundred candidates
      let s0 = -1;
      for (let b = 0; b < n; b++) {
        if (this.count[b] === max && (s0 < 0 || this.bytes[b]! > this.bytes[s0]! || (this.bytes[b] === this.bytes[s0] && this.rank[b]! < this.rank[s0]!))) s0 = b;
      }
      const rack0 = this.rack(this.ids[s0]!);
      let d0 = -1;
      let d0Same = false;
      for (let b = 0; b < n; b++) {
        if (this.count[b] !== min) continue;
        const same = this.rack(this.ids[b]!) === rack0;
        if (d0 < 0 || (same && !d0Same) || (same === d0Same && (this.bytes[b]! < this.bytes[d0]! || (this.bytes[b] === this.bytes[d0] && this.rank[b]! < this.rank[d0]!)))) { d0 = b; d0Same = same; }
      }
      const pi = this.candidate(s0, d0, SHORT_SCAN);
      if (pi >= 0) { this.move(this.parts[pi]!, s0, d0); continue; }
      const sources = this.brokersWhere((b) => this.count[b] === max, (a, b) => this.bytes[b]! - this.bytes[a]!);
      const targets = this.brokersWhere((b) => this.count[b]! <= max - 2, (a, b) => this.count[a]! - this.count[b]! || this.bytes[a]! - this.bytes[b]!);
      // every pair on a short scan first, then on a full one: a pair with no candidate costs a whole list
      if (this.directMove(sources, targets, SHORT_SCAN) || this.directMove(sources, targets, Infinity)) continue;
      if (this.chainMove(sources, new Set(targets))) continue;
      if (this.evenOut()) continue;
      this.issues.push({
        code: this.movesUsed >= this.maxMoves ? 'MoveLimitReached' : 'ReplicasUnbalanced',
        message: this.movesUsed >= this.maxMoves
          ? `maxMoves (${this.maxMoves}) reached with replica counts from ${min} to ${max} per broker`
          : `no move keeps the rack spread and brings replica counts (${min} to ${max} per broker) within one`,
      });
      return;
    }
  }

  private brokersWhere(pred: (b: number) => boolean, cmp: (a: number, b: number) => number): number[] {
    const out: number[] = [];
    for (let b = 0; b < this.ids.length; b++) if (pred(b)) out.push(b);
    return out.sort((a, b) => cmp(a, b) || this.rank[a]! - this.rank[b]!);
  }

  private directMove(sources: number[], targets: number[], scan: number): boolean {
    for (const s of sources) {
      // receivers in the sender's rack first: any of its replicas may go there without breaking the spread
      const rack = this.rack(this.ids[s]!);
      for (const sameRack of [true, false]) {
        for (const d of targets) {
          if ((this.rack(this.ids[d]!) === rack) !== sameRack) continue;
          const pi = this.candidate(s, d, scan);
          if (pi >= 0) { this.move(this.parts[pi]!, s, d); return true; }
        }
      }
    }
    return false;
  }

  /**
   * When nothing can leave the fullest brokers (racks), still even out the rest: any move from a
   * broker to one holding at least two fewer (largest difference first). Each such move lowers the
   * sum of squared counts, so this ends.
   */
  private evenOut(): boolean {
    const byCount = this.brokersWhere(() => true, (a, b) => this.count[b]! - this.count[a]!);
    const pairs: [number, number][] = [];
    for (const s of byCount) for (const d of byCount) if (this.count[s]! - this.count[d]! >= 2) pairs.push([s, d]);
    pairs.sort((a, b) => (this.count[b[0]]! - this.count[b[1]]!) - (this.count[a[0]]! - this.count[a[1]]!));
    for (const [s, d] of pairs) {
      const pi = this.candidate(s, d);
      if (pi >= 0) { this.move(this.parts[pi]!, s, d); return true; }
    }
    return false;
  }

  /**
   * The replica to move from s to d: among the first valid candidates in size order, the
   * cheapest, then the one whose topic is most over-represented on s compared with d.
   */
  private candidate(s: number, d: number, scan = Infinity): number {
    const WINDOW = 8;
    const n = this.ids.length;
    const list = this.lists[s]!;
    const want = this.wantedSize(d);
    // visit sizes nearest to `want` first (with want = 0: smallest first)
    let hi = 0;
    let top = list.length;
    while (hi < top) { const mid = (hi + top) >> 1; if (this.parts[list[mid]!]!.size < want) hi = mid + 1; else top = mid; }
    let lo = hi - 1;
    let best = -1;
    let bestFree = false;
    let bestGain = 0;
    let seen = 0;
    let visited = 0;
    while ((lo >= 0 || hi < list.length) && seen < WINDOW && visited++ < scan) {
      const takeLow = hi >= list.length || (lo >= 0 && want - this.parts[list[lo]!]!.size <= this.parts[list[hi]!]!.size - want);
      const p = this.parts[takeLow ? list[lo--]! : list[hi++]!]!;
      if (!this.canMoveReplica(p, s, d)) continue;
      seen++;
      // a move that copies nothing new (undoing one of the plan's own additions) first, then topic balance
      const free = this.moveCost(p, s, d) <= 0;
      // 2 or more: the move evens the topic; more than that does not matter here
      const gain = Math.min(2, this.topicCount[p.topicIdx * n + s]! - this.topicCount[p.topicIdx * n + d]!);
      if (best < 0 || (free && !bestFree) || (free === bestFree && gain > bestGain)) { best = p.idx; bestFree = free; bestGain = gain; }
      if (bestFree && bestGain >= 2) break;
    }
    return best;
  }

  /**
   * The replica size that would bring d to the mean bytes with the replicas it still needs to
   * reach the mean count; 0 (smallest first) when sizes are unknown or the bytes goal is off.
   */
  private wantedSize(d: number): number {
    if (this.meanBytes <= 0) return 0;
    const slots = Math.max(1, this.meanCount - this.count[d]!);
    return Math.max(0, (this.meanBytes - this.bytes[d]!) / slots);
  }

  /** Breadth-first over "s can hand one replica to d" from the sources to any target; applies the chain. */
  private chainMove(sources: number[], targets: ReadonlySet<number>): boolean {
    const n = this.ids.length;
    const prev = new Int32Array(n).fill(-2);
    const via = new Int32Array(n).fill(-1);
    const queue: number[] = [];
    for (const s of sources) { prev[s] = -1; queue.push(s); }
    for (let qi = 0; qi < queue.length; qi++) {
      const x = queue[qi]!;
      for (let y = 0; y < n; y++) {
        if (prev[y] !== -2) continue;
        const pi = this.candidate(x, y);
        if (pi < 0) continue;
        prev[y] = x;
        via[y] = pi;
        if (targets.has(y)) {
          // apply from the target end back, re-checking each step against the state it meets
          for (let cur = y; prev[cur]! >= 0; cur = prev[cur]!) {
            const from = prev[cur]!;
            let p = this.parts[via[cur]!]!;
            if (!this.canMoveReplica(p, from, cur)) {
              const again = this.candidate(from, cur);
              if (again < 0) return false;
              p = this.parts[again]!;
            }
            this.move(p, from, cur);
          }
          return true;
        }
        queue.push(y);
      }
    }
    return false;
  }

  // ---- phase 3a: per-topic counts -----------------------------------------------------------

  /**
   * For each topic whose replicas are spread unevenly (max - min > 1 over the brokers), a single
   * move from a broker holding most of it to one holding fewest (when their total counts allow
   * it), or a swap with a replica of another topic that the second broker holds more of.
   */
  private balanceTopics(): boolean {
    const n = this.ids.length;
    if (n < 2) return false;
    let moved = false;
    for (let guard = 0; guard < 4 * this.parts.length + 16; guard++) {
      let step = false;
      for (let t = 0; t < this.topicNames.length && !step; t++) {
        const base = t * n;
        let max = -Infinity;
        let min = Infinity;
        for (let b = 0; b < n; b++) { const c = this.topicCount[base + b]!; if (c > max) max = c; if (c < min) min = c; }
        if (max - min <= 1) continue;
        const over = this.brokersWhere((b) => this.topicCount[base + b] === max, () => 0);
        const under = this.brokersWhere((b) => this.topicCount[base + b] === min, () => 0);
        for (const s of over) {
          for (const d of under) if (this.topicStep(t, s, d)) { step = true; break; }
          if (step) break;
        }
      }
      if (!step) return moved;
      moved = true;
    }
    return moved;
  }

  private topicStep(t: number, s: number, d: number): boolean {
    const n = this.ids.length;
    const single = this.count[s]! > this.count[d]!;
    for (const pi of this.lists[s]!) {
      const p = this.parts[pi]!;
      if (p.topicIdx !== t || !this.canMoveReplica(p, s, d)) continue;
      if (single) { this.move(p, s, d); return true; }
      for (const qi of this.lists[d]!) {
        const q = this.parts[qi]!;
        if (q.topicIdx === t || this.topicCount[q.topicIdx * n + d]! <= this.topicCount[q.topicIdx * n + s]!) continue;
        if (!this.canMoveReplica(q, d, s)) continue;
        this.move(p, s, d);
        this.move(q, d, s);
        return true;
      }
    }
    return false;
  }

  // ---- phase 3b: bytes ---------------------------------------------------------------------

  private balanceBytes(): boolean {
    const n = this.ids.length;
    if (n < 2) return false;
    let total = 0;
    for (let b = 0; b < n; b++) total += this.bytes[b]!;
    if (total <= 0) return false;
    let moved = false;
    const mean = total / n;
    const threshold = mean * (1 + this.tolerance);
    const minGain = mean * 0.01;
    for (let guard = 0; guard < 4 * this.parts.length + 16; guard++) {
      const heavy = this.brokersWhere((b) => this.bytes[b]! > threshold, (a, b) => this.bytes[b]! - this.bytes[a]!);
      const light = this.brokersWhere(() => true, (a, b) => this.bytes[a]! - this.bytes[b]!);
      let done = false;
      for (const h of heavy) {
        for (const l of light) {
          if (this.bytes[l]! >= this.bytes[h]! - minGain) break;
          // with counts within one, a single move from a fuller broker to an emptier one keeps them so
          const single = this.count[h]! > this.count[l]!;
          if (this.bytesStep(h, l, single, minGain)) { done = true; break; }
        }
        if (done) break;
      }
      if (!done) return moved;
      moved = true;
    }
    return moved;
  }

  /** Moving p's replica from s to d leaves its topic no less even (s holds more of the topic than d). */
  private topicKept(p: Part, s: number, d: number): boolean {
    const n = this.ids.length;
    return this.topicCount[p.topicIdx * n + s]! > this.topicCount[p.topicIdx * n + d]!;
  }

  /** The single move or swap between heavy h and light l that lowers max(h, l) the most (≥ minGain). */
  private bytesStep(h: number, l: number, single: boolean, minGain: number): boolean {
    const bh = this.bytes[h]!;
    const bl = this.bytes[l]!;
    const gap = bh - bl;
    let bestGain = minGain;
    let bestP = -1;
    let bestQ = -1;
    const listL = this.lists[l]!;
    const sameTopic = new Map<number, Part[]>(); // l's replicas by topic: swaps within a topic keep it as even as it was
    for (const qi of listL) {
      const q = this.parts[qi]!;
      let a = sameTopic.get(q.topicIdx);
      if (!a) { a = []; sameTopic.set(q.topicIdx, a); }
      a.push(q);
    }
    for (const pi of this.lists[h]!) {
      const p = this.parts[pi]!;
      if (p.size <= 0) continue;
      if (single && p.size < gap && this.topicKept(p, h, l) && this.canMoveReplica(p, h, l)) {
        const gain = bh - Math.max(bh - p.size, bl + p.size);
        if (gain > bestGain) { bestGain = gain; bestP = pi; bestQ = -1; }
      }
      // swap with q on l: best when size(q) ≈ size(p) - gap / 2; look around that point
      const want = p.size - gap / 2;
      let lo = 0;
      let hi = listL.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (this.parts[listL[mid]!]!.size < want) lo = mid + 1; else hi = mid; }
      for (let k = Math.max(0, lo - 8); k < Math.min(listL.length, lo + 8); k++) {
        const q = this.parts[listL[k]!]!;
        const delta = p.size - q.size;
        if (delta <= 0 || delta >= gap || q === p) continue;
        const gain = bh - Math.max(bh - delta, bl + delta);
        if (gain <= bestGain) continue;
        // a swap within one topic leaves it as it was; across two, each must stay no less even
        if (q.topicIdx !== p.topicIdx && (!this.topicKept(p, h, l) || !this.topicKept(q, l, h))) continue;
        if (!this.canMoveReplica(p, h, l) || !this.canMoveReplica(q, l, h)) continue;
        bestGain = gain; bestP = pi; bestQ = q.idx;
      }
      for (const q of sameTopic.get(p.topicIdx) ?? []) {
        const delta = p.size - q.size;
        if (delta <= 0 || delta >= gap || q === p) continue;
        const gain = bh - Math.max(bh - delta, bl + delta);
        if (gain <= bestGain || !this.canMoveReplica(p, h, l) || !this.canMoveReplica(q, l, h)) continue;
        bestGain = gain; bestP = pi; bestQ = q.idx;
      }
    }
    if (bestP < 0) return false;
    this.move(this.parts[bestP]!, h, l);
    if (bestQ >= 0) this.move(this.parts[bestQ]!, l, h);
    return true;
  }

  // ---- phase 4: leaders --------------------------------------------------------------------

  private balanceLeaders(): void {
    const n = this.ids.length;
    const leads = new Int32Array(n);
    const ledBy: number[][] = Array.from({ length: n }, () => []);
    const later: Part[] = [];
    for (const p of this.parts) {
      const first = p.orig[0]!;
      if (!p.movable || (p.cur.includes(first) && this.idx.has(first))) p.leader = first;
      else { later.push(p); continue; }
      const b = this.idx.get(p.leader);
      if (b !== undefined) { leads[b]!++; if (p.movable) ledBy[b]!.push(p.idx); }
    }
    for (const p of later) {
      let best = -1;
      for (const id of p.cur) {
        const b = this.idx.get(id);
        if (b !== undefined && (best < 0 || leads[b]! < leads[best]! || (leads[b] === leads[best] && this.rank[b]! < this.rank[best]!))) best = b;
      }
      p.leader = best >= 0 ? this.ids[best]! : p.cur[0]!;
      if (best >= 0) { leads[best]!++; ledBy[best]!.push(p.idx); }
    }
    if (n < 2) return;
    const transfer = (p: Part, from: number, to: number): void => {
      p.leader = this.ids[to]!;
      leads[from]!--;
      leads[to]!++;
      const l = ledBy[from]!;
      l.splice(l.indexOf(p.idx), 1);
      ledBy[to]!.push(p.idx);
    };
    for (;;) {
      let max = -Infinity;
      let min = Infinity;
      for (let b = 0; b < n; b++) { max = Math.max(max, leads[b]!); min = Math.min(min, leads[b]!); }
      if (max - min <= 1) return;
      // breadth-first from the brokers leading most to any leading ≤ max - 2
      const prev = new Int32Array(n).fill(-2);
      const via = new Int32Array(n).fill(-1);
      const queue: number[] = [];
      for (const b of this.brokersWhere((x) => leads[x] === max, () => 0)) { prev[b] = -1; queue.push(b); }
      let found = -1;
      for (let qi = 0; qi < queue.length && found < 0; qi++) {
        const x = queue[qi]!;
        for (const pi of ledBy[x]!) {
          for (const id of this.parts[pi]!.cur) {
            const y = this.idx.get(id);
            if (y === undefined || prev[y] !== -2) continue;
            prev[y] = x;
            via[y] = pi;
            if (leads[y]! <= max - 2) { found = y; break; }
            queue.push(y);
          }
          if (found >= 0) break;
        }
      }
      if (found < 0) {
        this.issues.push({ code: 'LeadersUnbalanced', message: `no change of preferred leaders brings leader counts (${min} to ${max} per broker) within one` });
        return;
      }
      for (let cur = found; prev[cur]! >= 0; cur = prev[cur]!) transfer(this.parts[via[cur]!]!, prev[cur]!, cur);
    }
  }

  // ---- output ------------------------------------------------------------------------------

  private issue(code: PlanIssueCode, p: Part, message: string): void {
    this.issues.push({ code, topic: p.src.topic, partition: p.src.partition, message: `${p.src.topic}-${p.src.partition}: ${message}` });
  }

  private result(): RebalancePlan {
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

function invalid(message: string): RebalancePlanError {
  return new RebalancePlanError('BROOK_ERR_REBALANCE_INVALID_INPUT', message);
}
