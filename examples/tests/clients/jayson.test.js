// Node's `jayson` HTTP client against the spec server: calls, batches, and
// notifications answered with an empty 204.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const jayson = require('jayson');

const root = path.resolve(__dirname, '..', '..', '..');
const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
let server;
let client;

before(async () => {
  server = spawn(path.join(target, 'debug', 'spec_server'), ['--addr', '127.0.0.1:0', '--tcp-addr', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const line = await new Promise((resolve, reject) => {
    server.stdout.once('data', (chunk) => resolve(chunk.toString()));
    server.once('error', reject);
  });
  const [, host, port] = line.match(/http:\/\/([0-9.]+):([0-9]+)/);
  client = jayson.client.http({ host, port: Number(port), path: '/rpc' });
});

after(() => server.kill());

const request = (method, params, id) =>
  new Promise((resolve, reject) =>
    client.request(method, params, id, (err, response) => (err ? reject(err) : resolve(response))),
  );

test('positional and named calls', async () => {
  assert.equal((await request('subtract', [42, 23], 1)).result, 19);
  assert.equal((await request('subtract', { minuend: 42, subtrahend: 23 }, 'a')).result, 19);
});

test('unknown method', async () => {
  const response = await request('foobar', [], 2);
  assert.equal(response.error.code, -32601);
  assert.equal(response.id, 2);
});

test('a notification gets an empty reply the client accepts', async () => {
  const response = await request('update', [1, 2, 3], null);
  assert.equal(response, undefined);
});

test('a batch answers in order, skipping notifications', async () => {
  const batch = [
    client.request('sum', [1, 2, 4], 'x', false),
    client.request('notify_hello', [7], null, false),
    client.request('get_data', [], 'y', false),
  ];
  const responses = await new Promise((resolve, reject) =>
    client.request(batch, (err, errors, successes) => (err ? reject(err) : resolve(successes))),
  );
  assert.deepEqual(
    responses.map((r) => [r.id, r.result]),
    [['x', 7], ['y', ['hello', 5]]],
  );
});
