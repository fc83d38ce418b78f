'use strict';
// Shared by the BullMQ producer and worker: options and the bench event.

function parseArgs(argv, defaults) {
  const out = { ...defaults };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in defaults) || i + 1 >= argv.length) {
      throw new Error(`bad option ${argv[i]} (known: ${Object.keys(defaults).join(', ')})`);
    }
    out[k] = typeof defaults[k] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  return out;
}

const TIMESTAMP = '2025-02-10T15:30:50.000Z';

// The Twenty payload for event n, padded so that its JSON is `size` bytes.
function payload(n, t, size) {
  const p = { event: 'person.created', data: { n, t, pad: '' }, timestamp: TIMESTAMP };
  const len = JSON.stringify(p).length;
  if (len > size) throw new Error(`size ${size} is below the event's ${len} bytes`);
  p.data.pad = 'x'.repeat(size - len);
  return p;
}

module.exports = { parseArgs, payload };
