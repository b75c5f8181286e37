// The e2e tier (test/e2e/*.e2e.ts): Brook on a real Kubernetes cluster. `npm run e2e` (and `npm test`,
// after the other tiers). With KUBECONFIG unset, the global setup brings up the local single-node
// cluster (test/cluster) and the teardown takes it down; with KUBECONFIG set (kind, any cluster), the
// suite uses that cluster and needs BROOK_IMAGE and BROOK_KCAT_IMAGE loaded into it.
import base from '../../jest.config.js';

export default {
  ...base,
  rootDir: '../..',
  testMatch: ['<rootDir>/test/e2e/**/*.e2e.ts'],
  // local-cluster.e2e.ts checks the local cluster itself (no way off the machine, ...): only when the
  // suite uses it, i.e. KUBECONFIG is unset when jest starts (the global setup then brings it up).
  testPathIgnorePatterns: [
    '/node_modules/',
    ...(process.env.KUBECONFIG ? ['/test/e2e/local-cluster\\.e2e\\.ts$'] : []),
  ],
  globalSetup: '<rootDir>/test/e2e/global-setup.ts',
  globalTeardown: '<rootDir>/test/e2e/global-teardown.ts',
  testTimeout: 600_000,
  maxWorkers: 1,
};
