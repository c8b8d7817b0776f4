/**
 * `logs --follow` keeps the live log file open: lines the monitor wrote just before the container
 * was removed (docker-py's `containers.run(remove=True)` removes it before reading the stream) are
 * still delivered after the file is unlinked.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readLogs } from '../../src/engine/index.js';
import type { Container } from '../../src/engine/store/index.js';
import { busyboxEngine } from '../helpers/engine.js';
import { haveBusybox } from '../helpers/rootfs.js';

const line = (log: string, time: string) => JSON.stringify({ log, stream: 'stdout', time }) + '\n';

test('logs --follow: lines written just before the log file is unlinked are still read', { skip: haveBusybox() ? undefined : 'no busybox' }, async () => {
  const e = await busyboxEngine();
  const dir = mkdtempSync(join(tmpdir(), 'berth-logs-'));
  try {
    const logPath = join(dir, 'x-json.log');
    writeFileSync(logPath, line('first\n', '2026-01-01T00:00:00.000000001Z'));
    // a container whose monitor is gone (pid 0): following ends once everything logged is read
    const c = { id: 'f'.repeat(64), logPath, state: { monitorPid: 0 }, hostConfig: {} } as unknown as Container;
    const gen = readLogs(e.core, c, { follow: true });
    const a = await gen.next();
    assert.equal(a.done, false);
    assert.equal((a.value as { log: string }).log, 'first\n');
    // the monitor's last line, then the removal, before the follower looks again
    appendFileSync(logPath, line('last\n', '2026-01-01T00:00:00.000000002Z'));
    unlinkSync(logPath);
    const b = await gen.next();
    assert.equal(b.done, false, 'the last line was lost with the removed file');
    assert.equal((b.value as { log: string }).log, 'last\n');
    assert.equal((await gen.next()).done, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await e.cleanup();
  }
});
