// One run, two projects: unit specs (no I/O) and integration specs that share one Postgres and one Kafka
// provisioned by test/support/global-setup.ts. Each int-spec isolates itself (own schema/tenant, topic
// prefix, consumer group) so files can run in any order.
const moduleNameMapper = {
  '^@tidings/(events|signing|db|kafka|runtime|egress|webhooks)$': '<rootDir>/libs/$1/src',
};
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] };
const common = {
  rootDir: __dirname,
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform,
  moduleNameMapper,
  testEnvironment: 'node',
};

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,test,examples}/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'int',
      testMatch: ['<rootDir>/{apps,libs,test,examples}/**/*.int-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/support/int-setup.ts'],
    },
  ],
  maxWorkers: 2,
};
