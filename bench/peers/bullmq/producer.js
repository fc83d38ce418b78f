'use strict';
// Pre-fills a BullMQ queue with N webhook jobs (Queue.addBulk, 1000 a call),
// as Twenty enqueues one job per (event, webhook): the job carries the target
// URL, the webhook's secret and the payload.
const { Queue } = require('bullmq');
const { parseArgs, payload } = require('./common');

async function main() {
  const o = parseArgs(process.argv, {
    'redis-port': 6379, queue: 'webhooks', n: 20000, size: 237, url: '', secret: '',
  });
  const queue = new Queue(o.queue, { connection: { host: '127.0.0.1', port: o['redis-port'] } });
  const opts = {
    attempts: 10,
    backoff: { type: 'exponential', delay: 10000 },
    removeOnComplete: true,
    removeOnFail: 1000,
  };
  const t = Date.now() * 1000;
  for (let first = 0; first < o.n; first += 1000) {
    const jobs = [];
    for (let i = first; i < Math.min(o.n, first + 1000); i++) {
      jobs.push({ name: 'call-webhook',
        data: { targetUrl: o.url, secret: o.secret, ...payload(i, t, o.size) }, opts });
    }
    await queue.addBulk(jobs);
  }
  console.log(o.n);
  await queue.close();
}

main().catch((e) => { console.error('bullmq producer:', e); process.exit(1); });
