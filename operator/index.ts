/** The operator's public surface. */
export { Operator, type OperatorOptions } from './operator.ts';
export { OperatorMetrics, startMetricsServer } from './metrics.ts';
export { WorkQueue, FakeClock, realClock, type Clock } from './workqueue.ts';
export { operatorClusterRules, brokerRoleRules, type PolicyRule } from './rbac.ts';
export { desiredObjects, names, labels, selectorLabels } from './cluster-resources.ts';
export { topicFinalizer, dataRemovedAnnotation } from './topic-controller.ts';
