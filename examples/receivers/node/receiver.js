#!/usr/bin/env node
// A webhook receiver that verifies hookd's (and Twenty's) signature, with
// Node's built-in http and crypto only (no dependencies).
//
//   HOOKD_SECRET=<the webhook's secret> node receiver.js [PORT]
//
// Listens on 127.0.0.1:PORT (default 8080; RECEIVER_HOST changes the address).
// For each POST it:
//   1. collects the body as raw bytes (Buffers), at most MAX_BODY (413 beyond);
//   2. checks X-Twenty-Webhook-Timestamp (milliseconds) is at most 5 minutes
//      old and at most 1 minute ahead of this clock (401 otherwise: a replay);
//   3. computes HMAC-SHA256(secret, timestamp ":" raw body) and compares it
//      with X-Twenty-Webhook-Signature with crypto.timingSafeEqual (401);
//   4. only then parses the JSON, drops a delivery whose webhook-id it has
//      already handled, answers 200 at once and prints one line:
//          VERIFIED delivery <webhook-id>: <event> <data as JSON>
//
// With Express, the same rule: verify the raw bytes (express.raw(), or the
// `verify` callback of express.json()), never JSON.stringify(req.body).
// See docs/receivers.md.
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');

const MAX_BODY = 2 << 20; // hookd sends at most --max-envelope (1 MiB) + a timestamp
const MAX_AGE_MS = 5 * 60 * 1000; // older timestamps are replays
const MAX_SKEW_MS = 60 * 1000; // a sender's clock may run a little ahead
const SEEN_MAX = 10000; // webhook-ids remembered for de-duplication

const secret = process.env.HOOKD_SECRET || '';
if (!secret) {
  process.stderr.write("receiver.js: set HOOKD_SECRET to the webhook's secret\n");
  process.exit(2);
}
const seen = new Set(); // insertion-ordered: the oldest id goes first

// Returns null when the delivery is authentic and fresh, else why not.
function verify(timestamp, signature, body, nowMs) {
  if (!/^[0-9]{1,16}$/.test(timestamp)) return 'missing or malformed X-Twenty-Webhook-Timestamp';
  const age = nowMs - Number(timestamp);
  if (age > MAX_AGE_MS) return `timestamp is ${Math.floor(age / 1000)} s old`;
  if (age < -MAX_SKEW_MS) return `timestamp is ${Math.floor(-age / 1000)} s in the future`;
  if (!/^[0-9a-fA-F]{64}$/.test(signature)) {
    return 'missing or malformed X-Twenty-Webhook-Signature';
  }
  // The signed message is the timestamp, ":", and the body's bytes exactly as
  // they arrived: a Buffer, never a re-serialised JSON.stringify(JSON.parse()).
  const want = crypto.createHmac('sha256', secret).update(`${timestamp}:`).update(body).digest();
  const got = Buffer.from(signature, 'hex'); // 32 bytes: the regex checked it
  if (!crypto.timingSafeEqual(want, got)) return 'signature does not match';
  return null;
}

function answer(res, status) {
  res.writeHead(status, { 'Content-Length': '0' });
  res.end();
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST') return answer(res, 405);
  const wid = req.headers['webhook-id'] || '-';
  const declared = Number(req.headers['content-length'] || 0);
  if (declared > MAX_BODY) {
    res.shouldKeepAlive = false;
    return answer(res, 413);
  }
  const chunks = [];
  let size = 0;
  let over = false;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      // A chunked body that grows past the cap: stop reading it.
      over = true;
      res.shouldKeepAlive = false;
      answer(res, 413);
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (over) return;
    const body = Buffer.concat(chunks);
    const why = verify(String(req.headers['x-twenty-webhook-timestamp'] || ''),
      String(req.headers['x-twenty-webhook-signature'] || ''), body, Date.now());
    if (why) {
      console.log(`REJECTED delivery ${wid}: ${why}`);
      return answer(res, 401);
    }
    let event;
    try {
      event = JSON.parse(body.toString('utf8'));
    } catch (e) {
      return answer(res, 400); // signed but not JSON: a bug, say so
    }
    if (seen.has(wid)) {
      console.log(`DUPLICATE delivery ${wid}: ${event.event}`);
      return answer(res, 200);
    }
    seen.add(wid);
    if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value);
    answer(res, 200); // first the 200, then the work (or hand it to a queue)
    console.log(`VERIFIED delivery ${wid}: ${event.event} ${JSON.stringify(event.data)}`);
  });
});
server.requestTimeout = 30000; // a request that trickles in for longer is dropped

const port = Number(process.argv[2] || 8080);
const host = process.env.RECEIVER_HOST || '127.0.0.1';
server.listen(port, host, () => console.log(`listening on ${host}:${port}`));
