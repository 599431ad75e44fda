// Peers live in load/bench/static/.peers (installed at pinned versions by run.ts / evaluate.ts),
// never in the workspace: resolve them from there.
'use strict';
const { join } = require('node:path');

const PEERS = join(__dirname, '..', '.peers', 'node_modules');

/** `require` of a peer package from .peers. */
function peer(name) {
  return require(join(PEERS, name));
}

/** `node <server>.js PORT ROOT`: the port and root every peer server takes. */
function portAndRoot() {
  const [port, root] = process.argv.slice(2);
  if (port === undefined || root === undefined) {
    process.stderr.write('usage: node <server>.js PORT ROOT\n');
    process.exit(2);
  }
  return { port: Number(port), root };
}

module.exports = { peer, portAndRoot };
