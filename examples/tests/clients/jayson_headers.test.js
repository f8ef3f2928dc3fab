// Node's `jayson` HTTP client against the quickstart, for the header rules:
// request headers reaching a handler, response cookies, CORS, compression.
// Response headers are read from jayson's own 'http response' event.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const zlib = require('node:zlib');
const jayson = require('jayson');

const root = path.resolve(__dirname, '..', '..', '..');
const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
let server;
let host;
let port;

before(async () => {
  server = spawn(path.join(target, 'debug', 'quickstart'), ['--addr', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const line = await new Promise((resolve, reject) => {
    server.stdout.once('data', (chunk) => resolve(chunk.toString()));
    server.once('error', reject);
  });
  [, host, port] = line.match(/http:\/\/([0-9.]+):([0-9]+)/);
  port = Number(port);
});

after(() => server.kill());

// One call with a fresh client (extra options such as `headers` go to
// Node's http.request); resolves to the reply, the HTTP response and the
// raw body as bytes (read as latin1, which keeps every byte).
const call = (method, params, options = {}) =>
  new Promise((resolve) => {
    const client = jayson.client.http({ host, port, path: '/api', ...options });
    let http;
    const chunks = [];
    client.on('http response', (res) => {
      http = res;
      res.on('data', (chunk) => chunks.push(Buffer.from(chunk, options.encoding || 'utf8')));
    });
    client.request(method, params, 1, (err, reply) =>
      resolve({ err, reply, http, raw: () => Buffer.concat(chunks) }),
    );
  });

test('custom request headers reach the handler', async () => {
  const { err, reply } = await call('header', ['x-custom'], { headers: { 'X-Custom': 'from jayson' } });
  assert.ifError(err);
  assert.equal(reply.result, 'from jayson');
  // jayson's own headers arrive too.
  assert.equal((await call('header', ['user-agent'])).reply.result, 'jayson-5.0.0');
  assert.equal((await call('header', ['x-custom'])).reply.result, null);
});

test('setcookie answers with a real Set-Cookie', async () => {
  const { err, reply, http } = await call('setcookie', []);
  assert.ifError(err);
  assert.equal(reply.result, 'Cookie set');
  const cookies = http.headers['set-cookie'];
  assert.equal(cookies.length, 1);
  const [pair, ...attributes] = cookies[0].split(';').map((part) => part.trim());
  assert.equal(pair, 'myTestCookie=Your IP is 127.0.0.1');
  assert.ok(attributes.includes('HttpOnly'), cookies[0]);
  assert.ok(attributes.includes('Path=/'), cookies[0]);
  // Other methods set none.
  assert.equal((await call('echo', ['x'])).http.headers['set-cookie'], undefined);
});

test('CORS headers answer an Origin', async () => {
  const { err, reply, http } = await call('echo', ['cors'], { headers: { Origin: 'http://page.example' } });
  assert.ifError(err);
  assert.equal(reply.result, 'cors');
  assert.equal(http.headers['access-control-allow-origin'], '*');
  assert.match(http.headers.vary, /origin/i);
  // Without an Origin there is nothing to allow.
  assert.equal((await call('echo', ['x'])).http.headers['access-control-allow-origin'], undefined);
});

test('big is gzipped when jayson asks for gzip, plain when it does not', async () => {
  // jayson sends no Accept-Encoding by itself, so it gets plain JSON.
  const plain = await call('big', []);
  assert.ifError(plain.err);
  assert.equal(plain.reply.result.length, 600000);
  assert.equal(plain.http.headers['content-encoding'], undefined);

  // Asked for gzip, the server compresses; jayson does not decode bodies,
  // so its own JSON parse fails and the test decodes the bytes itself.
  const gzipped = await call('big', [], { headers: { 'Accept-Encoding': 'gzip' }, encoding: 'latin1' });
  assert.equal(gzipped.http.statusCode, 200);
  assert.equal(gzipped.http.headers['content-encoding'], 'gzip');
  assert.match(gzipped.http.headers.vary, /accept-encoding/i);
  assert.ok(gzipped.err, 'jayson cannot read a gzip body as JSON');
  const raw = gzipped.raw();
  assert.ok(raw.length < 600000 / 10, `compressed to ${raw.length} bytes`);
  const reply = JSON.parse(zlib.gunzipSync(raw).toString('utf8'));
  assert.equal(reply.id, 1);
  assert.equal(reply.result, 'foobar'.repeat(100000));

  // Small answers stay plain even when gzip is accepted.
  const small = await call('echo', ['x'], { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(small.http.headers['content-encoding'], undefined);
  assert.equal(small.reply.result, 'x');
});
