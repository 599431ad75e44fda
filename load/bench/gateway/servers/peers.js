// Peers live in load/bench/gateway/.peers (installed at pinned versions by run.ts), never in the
// workspace: resolve them from there.
'use strict';
const { join } = require('node:path');

const PEERS = join(__dirname, '..', '.peers', 'node_modules');

/** `require` of a peer package from .peers. */
function peer(name) {
  return require(join(PEERS, name));
}

/** `node <server>.js PORT UPSTREAM_URL`: what every peer proxy takes. */
function portAndUpstream() {
  const [port, upstream] = process.argv.slice(2);
  if (port === undefined || upstream === undefined) {
    process.stderr.write('usage: node <server>.js PORT UPSTREAM_URL\n');
    process.exit(2);
  }
  return { port: Number(port), upstream };
}

module.exports = { peer, portAndUpstream };
