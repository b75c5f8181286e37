/**
 * Brook's Kubernetes layer: the public surface the operator imports from broker/ (with
 * placement/index.ts for its rebalancer), and what the broker's KubernetesStore is built on.
 * - crds.ts: the Cluster and Topic custom resources (schemas, types, CRDs);
 * - objects.ts: ObjectMeta / KubeObject, the kinds and their REST paths, resourceVersion order;
 * - client.ts: `Kube`, the one REST client (plain JSON, counted requests, request timeouts);
 * - errors.ts: `KubeError`, API failures by HTTP status and Status reason (BROOK_ERR_KUBE_*);
 * - collection-watch.ts: list+watch with resume from resourceVersion, relist on 410, backoff,
 *   and a known freshness (the informer of both the store and the operator);
 * - topic-placement.ts: where a Topic's partition state lives (status, or its creation annotation);
 * - lease.ts: the lease rules (observed-renewal expiry, stale view is not expiry, acquire/renew).
 * - kubeconfig.ts: a KubeConfig for a broker process, without client-node's generated API clients.
 * Loading it loads the parts of @kubernetes/client-node it uses (~45 MiB resident; its whole
 * index, which the operator loads, ~80 MiB): brokers on other stores do not import it.
 */
export * from './crds.ts';
export * from './objects.ts';
export * from './errors.ts';
export * from './client.ts';
export * from './collection-watch.ts';
export * from './lease.ts';
export * from './topic-placement.ts';
