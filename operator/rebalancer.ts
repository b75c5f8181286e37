/**
 * The rebalancer: moves partitions when a Cluster's brokers change, drains the brokers a
 * scale-down removes before the StatefulSet shrinks, and shows its plan before and while it runs.
 *
 * State lives in two places, both in the API server, so an operator restart resumes where the
 * last one stopped: the plan in the Cluster's `status.rebalance` (its id, state, the target
 * replicas of every partition it moves), and the moves in flight in the Topics'
 * `status.partitions[].reassignment` (written by the brokers). Nothing is kept only in memory
 * except the last status this process wrote (the cache may not have caught up with it yet).
 *
 * One step (level-based, from the caches, plus requests to the brokers):
 *   - a scale-down below the largest replication factor of the cluster's topics is Refused: the
 *     StatefulSet keeps its size and the Rebalancing condition says which topics need more brokers;
 *   - a Running plan submits its next moves (AlterPartitionReassignments) while fewer than
 *     spec.rebalance.maxConcurrentMoves of them are in flight, and is Completed when every moved
 *     partition has its target replicas and none is in flight (the replication throttle, if any,
 *     is set when it starts and cleared when it completes);
 *   - a Proposed plan (spec.rebalance.mode approve) waits for the annotation brook.dev/rebalance=approve;
 *   - otherwise a plan is made when the brokers changed since the last plan (scale up: once every
 *     wanted broker is live), when brokers above spec.replicas still hold replicas (scale down:
 *     those brokers are planned as draining), or when brook.dev/rebalance=full asks for it; a
 *     plan that moves nothing is Completed at once;
 *   - the StatefulSet is shrunk (statefulSetReplicas) only once no replica and no reassignment
 *     names a broker that goes; the Leases of brokers that are gone are deleted then, so their
 *     ids leave the cluster's membership.
 */
import { createHash } from 'node:crypto';
import { kafkaTopicName, resources, topicPlacement, type ClusterRebalanceStatus, type Kube } from '../broker/k8s/index.ts';
import { RebalancePlanError, planRebalance, type CurrentPartition, type PlannerBroker } from '../broker/placement/index.ts';
import { clusterLabel, names } from './cluster-resources.ts';
import type { ConditionInput } from './conditions.ts';
import type { ClientSecurity } from '../broker/security/listener-security.ts';
import type { SecurityMaterial } from './security-material.ts';
import { KafkaClusterAdmin, type BrokerAddress, type ClusterAdmin } from './kafka-admin.ts';
import type { Logger } from './log.ts';
import type { OperatorMetrics } from './metrics.ts';
import type { Clock } from './workqueue.ts';
import type { ClusterObject, StatefulSetObject, World } from './world.ts';

/** `approve` starts the Proposed plan; `full` asks for a full rebalance now. The operator removes it once acted on. */
export const rebalanceAnnotation = 'brook.dev/rebalance';

/**
 * How long after its Lease ran out a broker still counts as a member for planning and starting
 * moves. A busy operator sees short broker leases flap (it measures each from when its watch
 * delivered the renewal, and under CPU starvation that comes late): requiring every broker to
 * look live at one instant kept a scale-up from ever being planned on a loaded machine. A plan
 * or a move needs the broker to be a member, not live this very second; the brokers' controller
 * waits for the new replicas to catch up anyway, and refuses moves to brokers it does not know.
 */
export const memberGraceMs = 30_000;

export type AdminFactory = (brokers: readonly BrokerAddress[], security?: ClientSecurity) => ClusterAdmin;
export const defaultAdminFactory: AdminFactory = (brokers, security) => new KafkaClusterAdmin({ brokers, security });

export interface RebalanceStep {
  /** status.rebalance to write (undefined: none yet). */
  readonly status: ClusterRebalanceStatus | undefined;
  readonly condition: ConditionInput;
  /** Look again this soon while something moves. */
  readonly requeueMs?: number;
}

interface PartitionView {
  readonly topic: string;
  readonly partition: number;
  readonly replicas: number[];
  readonly leader: number;
  readonly isr: number[];
  readonly reassigning: boolean;
  /** The replicas it has once the reassignment in flight completes (its replicas when none is). */
  readonly target: number[];
  /** Every broker the partition's state names (replicas, reassignment target). */
  readonly brokers: number[];
}

interface ClusterView {
  readonly wanted: number[];
  readonly partitions: PartitionView[];
  readonly rf: Map<string, number>;
  readonly minIsr: Map<string, number>;
}

const stateRank: Record<ClusterRebalanceStatus['state'], number> = { Proposed: 0, Refused: 0, Running: 1, Completed: 2 };
const idNumber = (s: ClusterRebalanceStatus | undefined) => (s ? Number(/(\d+)$/.exec(s.id)?.[1] ?? 0) : 0);

export class Rebalancer {
  private readonly kube: Kube;
  private readonly world: World;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly metrics: OperatorMetrics | undefined;
  private readonly adminFactory: AdminFactory;
  /** The last status.rebalance this process wrote, per cluster key. */
  private readonly written = new Map<string, ClusterRebalanceStatus>();
  /** Plan ids whose throttle this process has set. */
  private readonly throttled = new Set<string>();
  /** The Rebalancing condition's reason and message last logged, per cluster key (each change is logged once). */
  private readonly said = new Map<string, string>();

  private readonly security: SecurityMaterial | undefined;

  constructor(opts: { kube: Kube; world: World; log: Logger; clock: Clock; metrics?: OperatorMetrics; adminFactory?: AdminFactory; security?: SecurityMaterial }) {
    this.security = opts.security;
    this.kube = opts.kube;
    this.world = opts.world;
    this.log = opts.log.child({ controller: 'Rebalancer' });
    this.clock = opts.clock;
    this.metrics = opts.metrics;
    this.adminFactory = opts.adminFactory ?? defaultAdminFactory;
  }

  forget(key: string): void { this.written.delete(key); this.said.delete(key); }

  /** The newer of the cached status and the one this process wrote last. */
  current(key: string, cluster: ClusterObject): ClusterRebalanceStatus | undefined {
    const cached = cluster.status?.rebalance;
    const mine = this.written.get(key);
    if (!mine) return cached;
    if (!cached) return mine;
    const a = idNumber(mine);
    const b = idNumber(cached);
    return a > b || (a === b && stateRank[mine.state] > stateRank[cached.state]) || (a === b && mine.state === cached.state && (mine.partitionsDone ?? 0) >= (cached.partitionsDone ?? 0)) ? mine : cached;
  }

  private view(cluster: ClusterObject): ClusterView {
    const ns = cluster.metadata.namespace!;
    const wanted = Array.from({ length: cluster.spec.replicas ?? 3 }, (_, i) => i);
    const clusterMinIsr = Number(cluster.spec.config?.['min.insync.replicas'] ?? 1);
    const partitions: PartitionView[] = [];
    const rf = new Map<string, number>();
    const minIsr = new Map<string, number>();
    for (const t of this.world.topicsOf(ns, cluster.metadata.name)) {
      const placed = topicPlacement(t)?.partitions;
      if (t.metadata.deletionTimestamp || !placed) continue;
      const topic = kafkaTopicName(t);
      rf.set(topic, t.spec.replicationFactor ?? 1);
      minIsr.set(topic, Number(t.spec.config?.['min.insync.replicas'] ?? clusterMinIsr));
      for (const p of placed) {
        const target = p.reassignment?.targetReplicas ?? [];
        rf.set(topic, Math.max(rf.get(topic)!, target.length || p.replicas.length));
        partitions.push({
          topic, partition: p.partition, replicas: [...p.replicas], leader: p.leader, isr: [...p.isr], reassigning: !!p.reassignment,
          target: target.length ? [...target] : [...p.replicas],
          brokers: [...new Set([...p.replicas, ...target])],
        });
      }
    }
    return { wanted, partitions, rf, minIsr };
  }

  /** Topics whose replication factor exceeds `brokers`, as "name (RF n)". */
  private tooBig(v: ClusterView, brokers: number): string[] {
    return [...v.rf].filter(([, rf]) => rf > brokers).sort(([a], [b]) => a.localeCompare(b)).map(([t, rf]) => `${t} (RF ${rf})`);
  }

  /**
   * The StatefulSet's size: spec.replicas, except during a scale-down, which keeps the current
   * size while the brokers that go still hold replicas, or while it is refused.
   */
  statefulSetReplicas(cluster: ClusterObject, sts: StatefulSetObject | undefined): number {
    const wanted = cluster.spec.replicas ?? 3;
    const have = sts?.spec.replicas;
    if (have === undefined || wanted >= have) return wanted;
    const v = this.view(cluster);
    if (this.tooBig(v, wanted).length) return have;
    const holds = v.partitions.some((p) => p.brokers.some((b) => b >= wanted));
    return holds ? have : wanted;
  }

  async step(key: string, cluster: ClusterObject, sts: StatefulSetObject | undefined): Promise<RebalanceStep> {
    const step = await this.decide(key, cluster, sts);
    if (step.status && JSON.stringify(step.status) !== JSON.stringify(this.current(key, cluster))) this.written.set(key, step.status);
    this.record(cluster, step.status);
    const said = `${step.condition.reason}: ${step.condition.message}`;
    if (step.condition.reason !== 'Moving' && step.condition.reason !== 'Draining' && this.said.get(key) !== said) {
      this.said.set(key, said);
      this.log.info('rebalancing condition', { cluster: key, reason: step.condition.reason, message: step.condition.message });
    }
    return step;
  }

  private async decide(key: string, cluster: ClusterObject, sts: StatefulSetObject | undefined): Promise<RebalanceStep> {
    const ns = cluster.metadata.namespace!;
    const c = cluster.metadata.name;
    const prev = this.current(key, cluster);
    const v = this.view(cluster);
    const wanted = v.wanted.length;
    const now = this.isoNow();
    const annotation = cluster.metadata.annotations?.[rebalanceAnnotation];
    const live = this.world.brokerRegistrations(ns, c, memberGraceMs);
    const mode = cluster.spec.rebalance?.mode ?? 'auto';

    // Refused: a scale-down below a topic's replication factor.
    const stsReplicas = sts?.spec.replicas;
    const tooBig = this.tooBig(v, wanted);
    if (stsReplicas !== undefined && wanted < stsReplicas && tooBig.length) {
      const message = `scale-down to ${wanted} brokers refused: ${tooBig.join(', ')} need${tooBig.length === 1 ? 's' : ''} more brokers than that; `
        + `the cluster keeps ${stsReplicas} brokers until spec.replicas is at least ${Math.max(...[...v.rf.values()])}`;
      const status: ClusterRebalanceStatus = prev?.state === 'Refused' && prev.message === message
        ? prev
        : { id: this.nextId(prev), state: 'Refused', reason: 'ScaleDown', message, brokers: v.wanted, draining: [], proposedAt: now, partitionsToMove: 0, partitionsDone: 0, partitionsInFlight: 0, progress: '0/0' };
      if (prev?.state === 'Running') await this.finishThrottle(prev, cluster, live);
      return { status, condition: { type: 'Rebalancing', status: 'False', reason: 'ScaleDownRefused', message } };
    }

    const sameBrokers = (s: ClusterRebalanceStatus | undefined) => !!s?.brokers && s.brokers.length === v.wanted.length && s.brokers.every((b, i) => b === v.wanted[i]);
    const inFlight = new Set(v.partitions.filter((p) => p.reassigning).map((p) => `${p.topic}/${p.partition}`));
    const drain = [...new Set(v.partitions.flatMap((p) => p.brokers.filter((b) => b >= wanted)))].sort((a, b) => a - b);

    if (prev?.state === 'Running' && sameBrokers(prev) && annotation !== 'full') return this.execute(key, cluster, prev, v, live);
    if (prev?.state === 'Proposed' && sameBrokers(prev) && annotation !== 'full') {
      if (annotation !== 'approve') {
        return { status: prev, condition: { type: 'Rebalancing', status: 'True', reason: 'AwaitingApproval', message: `plan ${prev.id} moves ${prev.partitionsToMove} partitions (${prev.bytesToMove ?? 0} bytes); approve it with the annotation ${rebalanceAnnotation}=approve` } };
      }
      await this.clearAnnotation(cluster);
      this.log.info('rebalance approved', { cluster: key, plan: prev.id });
      return this.execute(key, cluster, { ...prev, state: 'Running', startedAt: now }, v, live);
    }

    const reason: ClusterRebalanceStatus['reason'] | undefined = annotation === 'full' ? 'Full' : drain.length ? 'ScaleDown'
      : sameBrokers(prev) ? undefined : (prev?.brokers?.length ?? 0) < v.wanted.length ? 'ScaleUp' : 'BrokersChanged';
    if (!reason) {
      return { status: prev, condition: { type: 'Rebalancing', status: 'False', reason: 'Balanced', message: prev ? `plan ${prev.id} ${prev.state === 'Completed' ? 'completed' : prev.state.toLowerCase()}; nothing to move` : 'nothing to move' } };
    }
    const missing = v.wanted.filter((b) => !live.has(b));
    if (missing.length) {
      return { status: prev, condition: { type: 'Rebalancing', status: 'False', reason: 'WaitingForBrokers', message: `a rebalance (${reason}) waits for broker${missing.length === 1 ? '' : 's'} ${missing.join(', ')} to join` }, requeueMs: 2_000 };
    }
    if (prev?.state === 'Running') await this.finishThrottle(prev, cluster, live);

    // Plan.
    const admin = this.adminFactory([...live.values()], await this.security?.clientSecurity(cluster));
    let sizes = new Map<string, bigint>();
    try {
      sizes = await admin.partitionSizes();
    } catch (err) {
      this.log.warn('cannot read partition sizes; planning by count', { cluster: key, error: (err as Error).message });
    } finally {
      admin.close();
    }
    const brokers: PlannerBroker[] = [
      ...v.wanted.map((id) => ({ id, rack: live.get(id)?.rack ?? null })),
      ...drain.filter((id) => live.has(id)).map((id) => ({ id, rack: live.get(id)!.rack, draining: true })),
    ];
    // a partition in mid-move cannot move again (canMove): the planner counts it at its target, not
    // at the replicas of the move (the target plus the ones it removes, more than its RF)
    const partitions: CurrentPartition[] = v.partitions.map((p) => ({
      topic: p.topic, partition: p.partition, replicas: p.reassigning ? p.target : p.replicas, leader: p.leader >= 0 ? p.leader : null, isr: p.isr, sizeBytes: sizes.get(`${p.topic}/${p.partition}`),
    }));
    const throttle = cluster.spec.rebalance?.throttleBytesPerSecond;
    const id = this.nextId(prev);
    let plan;
    try {
      plan = planRebalance({
        brokers, partitions, minInsyncReplicas: v.minIsr, random: seededRandom(`${cluster.metadata.uid}/${id}`),
        canMove: (t, p) => !inFlight.has(`${t}/${p}`), throttleBytesPerSecond: throttle,
      });
    } catch (err) {
      if (!(err instanceof RebalancePlanError)) throw err;
      const message = `no plan: ${err.message}`;
      return { status: { id, state: 'Refused', reason, message, brokers: v.wanted, draining: drain, proposedAt: now, partitionsToMove: 0, partitionsDone: 0, partitionsInFlight: 0, progress: '0/0' }, condition: { type: 'Rebalancing', status: 'False', reason: 'PlanRefused', message } };
    }
    if (annotation === 'full') await this.clearAnnotation(cluster);
    const moves = plan.moves.map((m) => ({ topic: m.topic, partition: m.partition, replicas: m.targetReplicas }));
    const status: ClusterRebalanceStatus = {
      id, state: moves.length === 0 ? 'Completed' : mode === 'approve' ? 'Proposed' : 'Running', reason,
      message: plan.issues.length ? plan.issues.slice(0, 5).map((i) => i.message).join('; ') : `${plan.balanced ? 'balanced' : 'best effort'} plan over brokers ${v.wanted.join(',')}${drain.length ? `, draining ${drain.join(',')}` : ''}`,
      brokers: v.wanted, draining: drain,
      partitionsToMove: moves.length,
      replicasToMove: plan.totals.replicasMoved, bytesToMove: Number(plan.totals.bytesMoved),
      ...(plan.estimatedSeconds !== null ? { estimatedSeconds: Math.ceil(plan.estimatedSeconds) } : {}),
      partitionsDone: 0, partitionsInFlight: 0, progress: `0/${moves.length}`, proposedAt: now,
      ...(moves.length === 0 ? { completedAt: now } : {}), moves,
    };
    this.log.info('rebalance planned', { cluster: key, plan: id, reason, state: status.state, partitions: moves.length, replicas: status.replicasToMove, bytes: status.bytesToMove, estimatedSeconds: status.estimatedSeconds ?? null, draining: drain });
    if (status.state === 'Running') return this.execute(key, cluster, { ...status, startedAt: now }, v, live);
    if (status.state === 'Proposed') {
      return { status, condition: { type: 'Rebalancing', status: 'True', reason: 'AwaitingApproval', message: `plan ${id} moves ${moves.length} partitions (${status.bytesToMove} bytes); approve it with the annotation ${rebalanceAnnotation}=approve` } };
    }
    return { status, condition: { type: 'Rebalancing', status: 'False', reason: 'Balanced', message: `plan ${id} moves nothing: ${status.message}` } };
  }

  /** One step of a Running plan: count what is done, submit what may start, complete when all is done. */
  private async execute(key: string, cluster: ClusterObject, plan: ClusterRebalanceStatus, v: ClusterView, live: Map<number, BrokerAddress & { rack: string | null }>): Promise<RebalanceStep> {
    const byKey = new Map(v.partitions.map((p) => [`${p.topic}/${p.partition}`, p]));
    const moves = plan.moves ?? [];
    let done = 0;
    let inFlight = 0;
    const pending: typeof moves = [];
    for (const m of moves) {
      const p = byKey.get(`${m.topic}/${m.partition}`);
      if (!p) { done++; continue; } // the topic was deleted: nothing left to move
      if (p.reassigning) { inFlight++; continue; }
      if (sameList(p.replicas, m.replicas)) { done++; continue; }
      pending.push(m);
    }
    const limit = cluster.spec.rebalance?.maxConcurrentMoves ?? 10;
    let message = plan.message;
    const startable = pending.filter((m) => m.replicas.every((b) => live.has(b))).slice(0, Math.max(0, limit - inFlight));
    if (startable.length) {
      const admin = this.adminFactory([...live.values()], await this.security?.clientSecurity(cluster));
      try {
        await this.startThrottle(plan, cluster, admin);
        const answers = await admin.alterPartitionReassignments(startable.map((m) => ({ topic: m.topic, partition: m.partition, replicas: m.replicas })));
        const failed = answers.filter((a) => a.errorCode !== 0);
        inFlight += answers.length - failed.length;
        this.metrics?.rebalanceMovesStarted.inc({ namespace: cluster.metadata.namespace!, cluster: cluster.metadata.name }, answers.length - failed.length);
        if (failed.length) {
          message = `${failed.length} moves refused by the brokers (retried): ${failed.slice(0, 3).map((f) => `${f.topic}/${f.partition}: ${f.errorMessage ?? `error ${f.errorCode}`}`).join('; ')}`;
          this.log.warn('reassignments refused', { cluster: key, plan: plan.id, failed: failed.length, first: message });
        }
        this.log.info('rebalance: moves started', { cluster: key, plan: plan.id, started: answers.length - failed.length, done, of: moves.length });
      } catch (err) {
        message = `cannot reach the brokers to start moves (retried): ${(err as Error).message}`;
        this.log.warn('rebalance: cannot start moves', { cluster: key, plan: plan.id, error: (err as Error).message });
      } finally {
        admin.close();
      }
    }
    const status: ClusterRebalanceStatus = { ...plan, message, partitionsDone: done, partitionsInFlight: inFlight, progress: `${done}/${moves.length}` };
    if (done === moves.length) {
      await this.finishThrottle(plan, cluster, live);
      const completed: ClusterRebalanceStatus = { ...status, state: 'Completed', completedAt: this.isoNow(), message: `moved ${moves.length} partitions` };
      this.log.info('rebalance completed', { cluster: key, plan: plan.id, partitions: moves.length });
      return { status: completed, condition: { type: 'Rebalancing', status: 'False', reason: 'Balanced', message: `plan ${plan.id} completed: ${moves.length} partitions moved` } };
    }
    return {
      status,
      condition: { type: 'Rebalancing', status: 'True', reason: plan.draining?.length ? 'Draining' : 'Moving', message: `plan ${plan.id}: ${done} of ${moves.length} partitions moved, ${inFlight} moving${plan.draining?.length ? `; draining brokers ${plan.draining.join(',')}` : ''}` },
      requeueMs: 1_000,
    };
  }

  private async startThrottle(plan: ClusterRebalanceStatus, cluster: ClusterObject, admin: ClusterAdmin): Promise<void> {
    const rate = cluster.spec.rebalance?.throttleBytesPerSecond;
    const key = `${cluster.metadata.uid}/${plan.id}`;
    if (!rate || this.throttled.has(key)) return;
    await admin.setReplicationThrottle(rate);
    await admin.setThrottledReplicas([...new Set((plan.moves ?? []).map((m) => m.topic))], true);
    this.throttled.add(key);
  }

  /** Clears the throttles a plan set (the cluster-default rates and the topics' throttled replicas). */
  private async finishThrottle(plan: ClusterRebalanceStatus, cluster: ClusterObject, live: Map<number, BrokerAddress>): Promise<void> {
    if (!cluster.spec.rebalance?.throttleBytesPerSecond && !this.throttled.has(`${cluster.metadata.uid}/${plan.id}`)) return;
    const admin = this.adminFactory([...live.values()], await this.security?.clientSecurity(cluster));
    try {
      await admin.setReplicationThrottle(null);
      await admin.setThrottledReplicas([...new Set((plan.moves ?? []).map((m) => m.topic))], false);
      this.throttled.delete(`${cluster.metadata.uid}/${plan.id}`);
    } catch (err) {
      this.log.warn('cannot clear the replication throttle', { plan: plan.id, error: (err as Error).message });
    } finally {
      admin.close();
    }
  }

  /**
   * Broker ids that left: once the StatefulSet is at or below `size`, an expired Lease of a broker
   * whose id is `size` or more is deleted (the id leaves the cluster's membership).
   */
  async forgetRemovedBrokers(cluster: ClusterObject, size: number): Promise<void> {
    const ns = cluster.metadata.namespace!;
    const c = cluster.metadata.name;
    for (const l of this.world.leases.list(ns)) {
      if (l.metadata.labels?.[clusterLabel] !== c || l.metadata.labels?.['brook.dev/role'] !== 'broker') continue;
      const id = Number(/-(\d+)$/.exec(l.metadata.name)?.[1] ?? -1);
      if (id < size || l.metadata.name !== names.brokerLease(c, id) || this.world.leaseRemainingMs(l) > 0) continue;
      this.log.info('a removed broker leaves the membership: deleting its lease', { cluster: `${ns}/${c}`, broker: id });
      await this.kube.delete(resources.Lease, ns, l.metadata.name, { uid: l.metadata.uid }).catch(() => undefined);
    }
  }

  private async clearAnnotation(cluster: ClusterObject): Promise<void> {
    await this.kube.mergePatch(resources.Cluster, cluster.metadata.namespace!, cluster.metadata.name, { metadata: { annotations: { [rebalanceAnnotation]: null } } });
  }

  private nextId(prev: ClusterRebalanceStatus | undefined): string { return `plan-${idNumber(prev) + 1}`; }

  private isoNow(): string { return new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'); }

  private record(cluster: ClusterObject, s: ClusterRebalanceStatus | undefined): void {
    const m = this.metrics;
    if (!m) return;
    const labels = { namespace: cluster.metadata.namespace!, cluster: cluster.metadata.name };
    m.rebalancePartitionsToMove.set(labels, s?.partitionsToMove ?? 0);
    m.rebalancePartitionsDone.set(labels, s?.partitionsDone ?? 0);
    m.rebalancePartitionsInFlight.set(labels, s?.partitionsInFlight ?? 0);
    m.rebalanceBytesToMove.set(labels, s?.bytesToMove ?? 0);
    m.rebalanceEstimatedSeconds.set(labels, s?.estimatedSeconds ?? 0);
    for (const state of ['Proposed', 'Running', 'Completed', 'Refused'] as const) m.rebalanceState.set({ ...labels, state }, s?.state === state ? 1 : 0);
  }
}

/** Same replicas in the same order (a reassignment ends with exactly its target list). */
function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => b[i] === x);
}

/** A deterministic random source (mulberry32) seeded from `seed`: the same plan for the same cluster and plan id. */
export function seededRandom(seed: string): () => number {
  let s = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
