// Integration tests start real processes from built output (a part's dist/main.js, the shared
// library's dist). Building first keeps `npx jest` honest; with nothing changed, tsc -b is a no-op.
const { execFileSync } = require('node:child_process');

module.exports = function buildBeforeIntegrationTests() {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b'], {
    cwd: __dirname,
    stdio: 'inherit',
  });
};
