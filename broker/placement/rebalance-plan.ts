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
import { PlannerState, type Part } from './rebalance-state.ts';
import type { RebalanceInput, RebalancePlan } from './rebalance-types.ts';

/** Candidates a fast-path search looks at before trying other pairs of brokers. */
const SHORT_SCAN = 256;

export function planRebalance(input: RebalanceInput): RebalancePlan {
  return new Planner(input).plan();
}

class Planner extends PlannerState {
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

}
