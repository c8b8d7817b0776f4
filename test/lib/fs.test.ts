/** lib/fs.ts readSmallFile: whole contents of /proc files and of files past its 4 KiB buffer; undefined when missing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSmallFile } from '../../src/lib/index.js';

test('readSmallFile: /proc files, files of 0, 4095, 4096, 4097 and 20000 bytes (utf-8 across the buffer edge), a missing file', () => {
  assert.equal(readSmallFile(`/proc/${process.pid}/stat`)?.split(' ')[0], String(process.pid));
  assert.equal(readSmallFile('/proc/self/cmdline', 'utf8'), readFileSync('/proc/self/cmdline', 'utf8'));
  const dir = mkdtempSync(join(tmpdir(), 'berth-fs-'));
  try {
    for (const n of [0, 4095, 4096, 4097, 20000]) {
      // 'é' is two bytes: some land split across the 4096-byte reads
      const text = 'aé'.repeat(Math.floor(n / 3)) + 'x'.repeat(n % 3);
      writeFileSync(join(dir, 'f'), text);
      assert.equal(readSmallFile(join(dir, 'f'), 'utf8'), text, `${n} bytes`);
    }
    assert.equal(readSmallFile(join(dir, 'missing')), undefined);
    assert.equal(readSmallFile(dir), undefined); // a directory: EISDIR on read
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
