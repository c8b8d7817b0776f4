/**
 * Child process for the kill test: starts unpacking a layer whose stream stalls halfway, prints
 * "ready" once half the tar has been consumed, and waits to be killed.
 * argv: root driver parentChainID|- tarFile
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { openSnapshotter, type DriverName } from '../../src/snapshots/index.js';

const [root, driver, parent, tarFile] = process.argv.slice(2) as [string, DriverName, string, string];
const data = readFileSync(tarFile);
const half = Math.floor(data.length / 2);

async function* stalled(): AsyncGenerator<Buffer> {
  for (let i = 0; i < half; i += 4096) yield data.subarray(i, Math.min(i + 4096, half));
  // let the unpacker write what it got, then tell the parent and hang
  setTimeout(() => process.stdout.write('ready\n'), 300);
  await new Promise(() => {});
}

const s = await openSnapshotter({ root, driver });
setInterval(() => {}, 1000);
await s.unpackLayer({ parent: parent === '-' ? undefined : parent, tarStream: Readable.from(stalled(), { objectMode: false }) });
