#!/usr/bin/env node
// `npm start`: the demo server. Until the Node server lands, say so and exit cleanly.
console.log('fullduplex: the protocol core is built; the demo server (`fullduplex serve`) is not yet. Run `npm test`.');
