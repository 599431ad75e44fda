// fastify with @fastify/reply-from (undici underneath), forwarding every path to the upstream.
'use strict';
const { peer, portAndUpstream } = require('./peers.js');

const fastify = peer('fastify');
const replyFrom = peer('@fastify/reply-from');
const { port, upstream } = portAndUpstream();
const app = fastify({ logger: false });
void app.register(replyFrom, { base: upstream, undici: { connections: 256, pipelining: 1 } });
app.all('/*', (request, reply) => reply.from(request.url));
app.listen({ port, host: '127.0.0.1' });
