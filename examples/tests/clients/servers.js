// Starts an example server (built by cargo beforehand) on free ports and
// reads the addresses it prints, one `... listening on SCHEME://HOST:PORT`
// line each.
'use strict';

const { spawn } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..', '..');
const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');

function binary(name) {
  return path.join(target, 'debug', name);
}

/** Spawns `name` with `args`; resolves once it has printed `lines` addresses. */
function start(name, args, lines) {
  const child = spawn(binary(name), args, { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`${name} printed ${JSON.stringify(text)}`)), 20000);
    child.once('error', reject);
    child.stdout.on('data', (chunk) => {
      text += chunk.toString();
      const found = [...text.matchAll(/listening on (\w+):\/\/([0-9.]+):([0-9]+)/g)];
      if (found.length >= lines) {
        clearTimeout(timer);
        const addrs = found.map(([, scheme, host, port]) => ({ scheme, host, port: Number(port) }));
        resolve({ child, addrs });
      }
    });
  });
}

module.exports = { binary, start };
