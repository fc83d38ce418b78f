#!/usr/bin/env node
// Pushes one event onto hookd's queue with node-redis (npm: redis).
//
//   npm ci && node producer.js [EVENT [DATA_JSON [ID]]]
//   node producer.js person.created '{"id":"1","firstName":"Alice"}'
//
// HOOKD_REDIS_URL (default redis://127.0.0.1:6379/0) and HOOKD_PREFIX
// (default hookd) name the Redis and the namespace, as for hookd itself.
// Prints {"pushed":1,"id":"evt_..."} like `hookd enqueue`.
'use strict';

const crypto = require('node:crypto');
const { createClient } = require('redis');

const EVENT_RE = /^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}$/;
const ID_RE = /^[A-Za-z0-9_.:-]{1,128}$/;
const SAMPLE = { id: 'abc12345', firstName: 'Alice', lastName: 'Doe', email: 'alice@example.com' };

function usage(why) {
  process.stderr.write(`producer.js: ${why}\nusage: producer.js [EVENT [DATA_JSON [ID]]]\n`);
  process.exit(2);
}

async function main(argv) {
  if (argv.length > 3) usage('too many arguments');
  const event = argv[0] ?? 'person.created';
  if (!EVENT_RE.test(event)) usage(`event ${JSON.stringify(event)} is not <object>.<action>`);
  let data = SAMPLE;
  if (argv.length > 1) {
    try {
      data = JSON.parse(argv[1]);
    } catch (e) {
      usage(`DATA_JSON is not JSON: ${e.message}`);
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      usage('DATA_JSON must be a JSON object');
    }
  }
  const id = argv[2] ?? `evt_${crypto.randomBytes(16).toString('hex')}`;
  if (!ID_RE.test(id)) usage(`id ${JSON.stringify(id)} is not 1..128 bytes of [A-Za-z0-9_.:-]`);

  // JSON.parse turns integers beyond 2^53 into doubles; pass such ids as
  // strings (or push the bytes you already have) when that matters.
  const envelope = JSON.stringify({
    event,
    data,
    timestamp: new Date().toISOString(), // when the change happened; sent as is
    id, // the same id on a re-push gives receivers the same webhook-id
  });

  const url = process.env.HOOKD_REDIS_URL || 'redis://127.0.0.1:6379/0';
  const prefix = process.env.HOOKD_PREFIX || 'hookd';
  // A one-shot command: fail at once rather than reconnect forever.
  const client = createClient({ url, socket: { connectTimeout: 5000, reconnectStrategy: false } });
  client.on('error', () => {}); // connect() and lPush() reject with the same error
  try {
    await client.connect();
    await client.lPush(`{${prefix}}:events`, envelope);
  } catch (e) {
    process.stderr.write(`producer.js: redis: ${e.message}\n`);
    process.exitCode = 1;
    return;
  } finally {
    if (client.isOpen) await client.close();
  }
  process.stdout.write(`${JSON.stringify({ pushed: 1, id })}\n`);
}

main(process.argv.slice(2));
