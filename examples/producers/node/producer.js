#!/usr/bin/env node
// Pushes one event onto hookd's queue with node-redis (npm: redis).
//
//   npm ci && node producer.js [EVENT [DATA_JSON [ID]]]
//   node producer.js person.created '{"id":"1","firstName":"Alice"}'
//
// HOOKD_REDIS_URL (default redis://127.0.0.1:6379/0) and HOOKD_PREFIX
// (default hookd) name the Redis and the namespace, as for hookd itself.
// HOOKD_PREFIX may be a list (a,b,c), or one BASE with HOOKD_SHARDS=N
// (BASE:0 ... BASE:N-1); HOOKD_WORKSPACE sets the envelope's workspace, which
// picks the namespace (docs/producers.md, "Several namespaces"). Prints
// {"pushed":1,"id":"evt_...","namespace":"..."} like `hookd enqueue`, plus the
// namespace it chose.
'use strict';

const crypto = require('node:crypto');
const { createClient } = require('redis');

const EVENT_RE = /^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}$/;
const ID_RE = /^[A-Za-z0-9_.:-]{1,128}$/;
const PREFIX_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
const SAMPLE = { id: 'abc12345', firstName: 'Alice', lastName: 'Doe', email: 'alice@example.com' };

function usage(why) {
  process.stderr.write(`producer.js: ${why}\nusage: producer.js [EVENT [DATA_JSON [ID]]]\n`);
  process.exit(2);
}

// hookd's namespaces: the HOOKD_PREFIX list in its order, or BASE:0 ..
// BASE:N-1 with HOOKD_SHARDS=N.
function namespaces(prefix, shards) {
  const names = prefix.split(',');
  for (const name of names) {
    if (!PREFIX_RE.test(name)) {
      usage(`HOOKD_PREFIX: ${JSON.stringify(name)} is not 1..64 bytes of [A-Za-z0-9_.:-]`);
    }
  }
  if (new Set(names).size !== names.length) usage('HOOKD_PREFIX names a namespace twice');
  if (shards === '') return names;
  const n = /^[0-9]+$/.test(shards) ? Number(shards) : -1;
  if (n < 0 || n > 256) usage('HOOKD_SHARDS must be a number from 0 (off) to 256');
  if (n === 0) return names;
  if (names.length !== 1) usage('HOOKD_SHARDS takes a single HOOKD_PREFIX');
  return Array.from({ length: n }, (_, i) => `${names[0]}:${i}`);
}

// The namespace of a workspace: ns[h(W) mod n], h(W) the first 4 bytes of
// SHA-256(W) as a big-endian unsigned integer; no workspace: ns[0].
function pick(ns, workspace) {
  if (!workspace) return ns[0];
  const h = crypto.createHash('sha256').update(workspace, 'utf8').digest().readUInt32BE(0);
  return ns[h % ns.length];
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
  const workspace = process.env.HOOKD_WORKSPACE || '';
  if (workspace && !ID_RE.test(workspace)) {
    usage(`HOOKD_WORKSPACE ${JSON.stringify(workspace)} is not 1..128 bytes of [A-Za-z0-9_.:-]`);
  }
  const ns = pick(namespaces(process.env.HOOKD_PREFIX || 'hookd', process.env.HOOKD_SHARDS || ''),
    workspace);

  // JSON.parse turns integers beyond 2^53 into doubles; pass such ids as
  // strings (or push the bytes you already have) when that matters.
  const envelope = JSON.stringify({
    event,
    data,
    timestamp: new Date().toISOString(), // when the change happened; sent as is
    id, // the same id on a re-push gives receivers the same webhook-id
    ...(workspace ? { workspace } : {}), // who sees it, and its namespace
  });

  const url = process.env.HOOKD_REDIS_URL || 'redis://127.0.0.1:6379/0';
  // A one-shot command: fail at once rather than reconnect forever.
  const client = createClient({ url, socket: { connectTimeout: 5000, reconnectStrategy: false } });
  client.on('error', () => {}); // connect() and lPush() reject with the same error
  try {
    await client.connect();
    await client.lPush(`{${ns}}:events`, envelope);
  } catch (e) {
    process.stderr.write(`producer.js: redis: ${e.message}\n`);
    process.exitCode = 1;
    return;
  } finally {
    if (client.isOpen) await client.close();
  }
  process.stdout.write(`${JSON.stringify({ pushed: 1, id, namespace: ns })}\n`);
}

main(process.argv.slice(2));
