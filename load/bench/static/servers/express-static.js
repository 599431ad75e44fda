// express.static with its defaults, as an Express user would write it.
'use strict';
const { peer, portAndRoot } = require('./peers.js');

const express = peer('express');
const { port, root } = portAndRoot();
const app = express();
app.use(express.static(root));
app.listen(port, '127.0.0.1');
