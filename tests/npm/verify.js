// verify.js - verifies one webhook request with the npm libraries receivers
// use: standardwebhooks (the Standard Webhooks reference library) and svix.
//
// Reads one JSON object on standard input:
//   {"secret": "whsec_...", "headers": {name: value, ...}, "body_base64": "..."}
// where headers are the request's own headers and body_base64 its raw body.
// Prints one JSON object: {"standardwebhooks": true, "svix": true}, each
// member true when that library verified the request, else its error message.
// Exits 2 when the input is not such an object.
'use strict';

const { Webhook: StandardWebhook } = require('standardwebhooks');

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
    process.stdin.on('error', reject);
  });
}

// Runs one library's verify; true, or the message of what it threw.
function attempt(verify) {
  try {
    verify();
    return true;
  } catch (e) {
    return String((e && e.message) || e);
  }
}

async function main() {
  let req;
  try {
    req = JSON.parse((await readStdin()).toString('utf8'));
  } catch (e) {
    process.stderr.write(`verify.js: standard input is not JSON: ${e.message}\n`);
    return 2;
  }
  if (!req || typeof req.secret !== 'string' || typeof req.body_base64 !== 'string' ||
      !req.headers || typeof req.headers !== 'object') {
    process.stderr.write('verify.js: want {"secret", "headers", "body_base64"}\n');
    return 2;
  }
  // A Buffer, as express.raw() and the libraries' own examples hand it over.
  const body = Buffer.from(req.body_base64, 'base64');
  // svix 2 is an ES module only.
  const { Webhook: SvixWebhook } = await import('svix');
  const out = {
    standardwebhooks: attempt(() => new StandardWebhook(req.secret).verify(body, req.headers)),
    svix: attempt(() => new SvixWebhook(req.secret).verify(body, req.headers)),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  return 0;
}

main().then((code) => {
  process.exitCode = code;
}, (e) => {
  process.stderr.write(`verify.js: ${(e && e.stack) || e}\n`);
  process.exitCode = 1;
});
