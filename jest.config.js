// Jest runs the TypeScript sources as native ES modules (node --experimental-vm-modules),
// transpiled by swc; `npm run typecheck` is what checks the types.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
      module: { type: 'es6' },
    }],
  },
  testMatch: ['<rootDir>/{broker,operator,test,bench}/**/*.test.ts'],
  testTimeout: 60_000,
  maxWorkers: 2,
};
