/**
 * Brook's Kubernetes resources: the public surface (the Cluster and Topic custom resources,
 * their schemas, types and CRDs). The operator imports broker/ through this module.
 */
export * from './crds.ts';
