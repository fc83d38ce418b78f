'use strict';
// BullMQ peer for hookd's benchmark: a worker that does what Twenty's
// CallWebhookJob does for each job: sign "<ts>:<body>" with the webhook's
// secret (hex HMAC-SHA256), POST the payload with the X-Twenty-Webhook-*
// headers over a kept-alive connection, and fail the job on any non-2xx so
// that BullMQ retries it (attempts and backoff are set by the producer).
//
// Tuned: concurrency 100 (--concurrency), http.Agent keepAlive with 64
// sockets (--max-sockets; 0: as many as --concurrency), parsed URLs cached,
// completed jobs removed (producer's options). The endpoint-health scenarios
// (bench/scenarios.sh) raise both together against a slow receiver.
// It starts with autorun off, prints "ready" once connected, and starts
// taking jobs on SIGUSR2, so that start-up is outside the measured interval.
const http = require('node:http');
const crypto = require('node:crypto');
const { Worker } = require('bullmq');
const { parseArgs } = require('./common');

const o = parseArgs(process.argv, {
  'redis-port': 6379, queue: 'webhooks', concurrency: 100, 'max-sockets': 64,
});
const agent = new http.Agent({ keepAlive: true, maxSockets: o['max-sockets'] || o.concurrency });
const urls = new Map();

function target(u) {
  let p = urls.get(u);
  if (!p) {
    const x = new URL(u);
    p = { hostname: x.hostname, port: x.port, path: x.pathname + x.search };
    urls.set(u, p);
  }
  return p;
}

function post(url, body, headers) {
  return new Promise((resolve, reject) => {
    const t = target(url);
    const req = http.request({ ...t, method: 'POST', agent, headers, timeout: 10000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

async function callWebhook(job) {
  const { targetUrl, secret, ...rest } = job.data;
  const body = JSON.stringify(rest);
  const ts = Date.now().toString();
  const sig = crypto.createHmac('sha256', secret).update(`${ts}:${body}`).digest('hex');
  const status = await post(targetUrl, body, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'X-Twenty-Webhook-Timestamp': ts,
    'X-Twenty-Webhook-Signature': sig,
    'X-Twenty-Webhook-Nonce': crypto.randomBytes(16).toString('hex'),
    'webhook-id': job.id,
  });
  if (status < 200 || status >= 300) throw new Error(`receiver answered ${status}`);
}

async function main() {
  const worker = new Worker(o.queue, callWebhook, {
    connection: { host: '127.0.0.1', port: o['redis-port'], maxRetriesPerRequest: null },
    concurrency: o.concurrency,
    autorun: false,
  });
  worker.on('error', (e) => console.error('bullmq worker:', e.message));
  await worker.waitUntilReady();
  process.on('SIGUSR2', () => { worker.run().catch((e) => console.error(e)); });
  const stop = async () => { await worker.close(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  console.log('ready');
}

main().catch((e) => { console.error('bullmq worker:', e); process.exit(1); });
