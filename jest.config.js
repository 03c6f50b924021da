/** Test tiers: unit (pure, ms), workflow (time-skipping server), integration (dev server + real systems). */
const transform = {
  '^.+\\.tsx?$': ['@swc/jest', { jsc: { target: 'es2022' } }],
  // jose ships ES modules only; Node ≥ 20.19 requires them natively, Jest's module loader does not.
  '/node_modules/jose/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
};
const common = {
  testEnvironment: 'node',
  transform,
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  // scripts/node-matrix.ts: better-sqlite3 built for another Node's ABI (.tools/node-<version>/).
  ...(process.env.BETTER_SQLITE3_DIR ? { moduleNameMapper: { '^better-sqlite3$': process.env.BETTER_SQLITE3_DIR } } : {}),
};

module.exports = {
  // Every process a test spawns inherits a run id; the teardown fails the run if any is left.
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'activity', testMatch: ['<rootDir>/test/activity/**/*.test.ts'] },
    { ...common, displayName: 'workflow', testMatch: ['<rootDir>/test/workflow/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
  ],
};
