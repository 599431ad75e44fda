// Two projects: unit tests (`*.test.ts`, no processes) and integration tests (`*.int.test.ts`,
// real nats-server, real sockets, real child processes). Sources run through ts-jest directly, so
// tests never depend on a previous build, except where a test starts a part's dist/main.js.
const shared = {
  testEnvironment: 'node',
  rootDir: __dirname,
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }],
    // kysely ships only ES modules, which jest's CommonJS runtime cannot require: compile its
    // files to CommonJS once (cached), as Node 24 itself would load them through require(esm).
    '/node_modules/kysely/.+\\.js$': [
      'ts-jest',
      {
        tsconfig: {
          allowJs: true,
          module: 'commonjs',
          moduleResolution: 'node10',
          isolatedModules: true,
        },
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!kysely/)'],
  moduleNameMapper: {
    '^@netlab/shared$': '<rootDir>/services/shared/src/index.ts',
    '^@netlab/shared/testing$': '<rootDir>/services/shared/src/testing/index.ts',
  },
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/\\.peers/'],
};

/** @type {import('jest').Config} */
module.exports = {
  globalSetup: '<rootDir>/jest.global-setup.js',
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/{services,gateway,infra,load}/**/test/**/*.test.ts'],
      testPathIgnorePatterns: [...shared.testPathIgnorePatterns, '\\.int\\.test\\.ts$'],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/{services,gateway,infra}/**/test/**/*.int.test.ts'],
      slowTestThreshold: 20,
    },
  ],
};
