// Real Node clients on the stream transport: `jayson`'s TCP client
// (newline framing) against spec_server's TCP port, and `vscode-jsonrpc`
// (LSP framing) over a socket to tcp_server and over the stdio of a
// stdio_server child process, the way editors run language servers.
'use strict';

const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { spawn } = require('node:child_process');
const jayson = require('jayson');
const rpc = require('vscode-jsonrpc/node');
const { binary, start } = require('./servers');

describe('jayson TCP client, newline framing (spec_server --tcp-addr)', () => {
  let server;
  let client;

  before(async () => {
    server = await start('spec_server', ['--addr', '127.0.0.1:0', '--tcp-addr', '127.0.0.1:0'], 2);
    const tcp = server.addrs.find((addr) => addr.scheme === 'tcp');
    client = jayson.client.tcp({ host: tcp.host, port: tcp.port });
  });

  after(() => server.child.kill());

  const request = (method, params, id) =>
    new Promise((resolve, reject) =>
      client.request(method, params, id, (err, response) => (err ? reject(err) : resolve(response))),
    );

  test('positional and named calls', async () => {
    assert.equal((await request('subtract', [42, 23], 1)).result, 19);
    assert.equal((await request('subtract', { minuend: 42, subtrahend: 23 }, 'a')).result, 19);
  });

  test('errors carry the request id', async () => {
    const response = await request('foobar', [], 2);
    assert.equal(response.error.code, -32601);
    assert.equal(response.id, 2);
    const invalid = await request('subtract', [1], 3);
    assert.equal(invalid.error.code, -32602);
  });

  test('a notification is sent and answered with nothing', async () => {
    assert.equal(await request('update', [1, 2, 3], null), undefined);
  });

  test('a batch answers its requests, not its notifications', async () => {
    const batch = [
      client.request('sum', [1, 2, 4], 'x', false),
      client.request('notify_hello', [7], null, false),
      client.request('get_data', [], 'y', false),
    ];
    const responses = await new Promise((resolve, reject) =>
      client.request(batch, (err, responses) => (err ? reject(err) : resolve(responses))),
    );
    assert.deepEqual(
      responses.map((r) => [r.id, r.result]),
      [
        ['x', 7],
        ['y', ['hello', 5]],
      ],
    );
  });

  test('50 concurrent connections are each answered', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => request('subtract', [i, 1], i)),
    );
    assert.deepEqual(
      results.map((r) => r.result),
      Array.from({ length: 50 }, (_, i) => i - 1),
    );
  });
});

/** The calls every vscode-jsonrpc connection makes. */
async function converse(connection) {
  const { byPosition } = rpc.ParameterStructures;
  assert.equal(await connection.sendRequest('subtract', byPosition, 42, 23), 19);
  assert.equal(await connection.sendRequest('subtract', { minuend: 5, subtrahend: 7 }), -2);
  assert.equal(await connection.sendRequest('echo', { data: 'héllo\n' }), 'héllo\n');
  await assert.rejects(connection.sendRequest('foobar'), (err) => {
    assert.ok(err instanceof rpc.ResponseError, String(err));
    assert.equal(err.code, -32601);
    return true;
  });
  await connection.sendNotification('update', byPosition, 1, 2);
  // Pipelined on the one connection: answered out of order or not, each
  // promise gets its own result.
  const echoes = await Promise.all(
    Array.from({ length: 200 }, (_, i) => connection.sendRequest('echo', byPosition, i)),
  );
  assert.deepEqual(
    echoes,
    Array.from({ length: 200 }, (_, i) => i),
  );
}

describe('vscode-jsonrpc, LSP framing', () => {
  test('over a socket (tcp_server --framing lsp)', async () => {
    const server = await start('tcp_server', ['--addr', '127.0.0.1:0', '--framing', 'lsp'], 1);
    try {
      const { host, port } = server.addrs[0];
      const socket = net.connect({ host, port });
      await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      const connection = rpc.createMessageConnection(
        new rpc.SocketMessageReader(socket),
        new rpc.SocketMessageWriter(socket),
      );
      connection.listen();
      await converse(connection);
      connection.dispose();
      socket.destroy();
    } finally {
      server.child.kill();
    }
  });

  test("over a child process's stdin and stdout (stdio_server)", async () => {
    const child = spawn(binary('stdio_server'), [], { stdio: ['pipe', 'pipe', 'ignore'] });
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const connection = rpc.createMessageConnection(
      new rpc.StreamMessageReader(child.stdout),
      new rpc.StreamMessageWriter(child.stdin),
    );
    connection.listen();
    try {
      await converse(connection);
    } finally {
      connection.dispose();
      child.stdin.end();
    }
    // Closing stdin ends the server, cleanly.
    assert.equal(await exited, 0);
  });
});
