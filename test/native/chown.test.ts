/**
 * The helper's child step `lchown_list FD` (rootless storage sets the owners of an unpacked layer
 * with it, as root of the storage user namespace): records read from stdin until EOF. Here as
 * root, without a user namespace: the same step on host ids.
 */
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HelperSession, step, type HelperMessage, type Plan } from '../../src/sys/index.js';

function plan(): Plan {
  return {
    pre: [step('spawn', [0], 'create the child')],
    post: [step('release', [], 'release'), step('await_ready', [], 'ready'), step('wait_exit', [], 'wait')],
    child: [step('await_release', [], 'wait'), step('lchown_list', [0], 'set the owners'), step('exec', ['/bin/true', 1, '/bin/true', 0], 'end', '/bin/true')],
  };
}

/** Run the plan with `input` on the child's stdin; the messages it sent. */
async function run(input: string): Promise<HelperMessage[]> {
  const s = new HelperSession(plan(), { stdio: ['pipe', 'ignore', 'ignore'] });
  s.child.stdin!.on('error', () => undefined);
  s.child.stdin!.end(input);
  const msgs: HelperMessage[] = [];
  for (let m = await s.next(); m; m = await s.next()) msgs.push(m);
  await s.exited;
  return msgs;
}

test('lchown_list: owners and modes from NUL-ended records; symlinks are not followed; setuid given again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-chown-'));
  try {
    const f = join(dir, 'file'), d = join(dir, 'dir with space'), l = join(dir, 'link'), nl = join(dir, 'new\nline');
    writeFileSync(f, 'x');
    mkdirSync(d);
    symlinkSync(f, l);
    writeFileSync(nl, 'y');
    chmodSync(f, 0o755);
    // many records, past one read's buffer (64 KiB): the last ones must be applied too
    const many: string[] = [];
    for (let i = 0; i < 2000; i++) many.push(`${1000 + (i % 7)} 2000 - ${d}\0`);
    const input = many.join('') + `100001 100002 4755 ${f}\0` + `3 4 - ${l}\0` + `5 6 700 ${d}\0` + `7 8 - ${nl}\0`;
    const msgs = await run(input);
    assert.equal(msgs.find((m) => m.type === 'error'), undefined, JSON.stringify(msgs));
    assert.deepEqual(msgs.find((m) => m.type === 'exit'), { type: 'exit', code: 0 });
    const st = lstatSync(f);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [100001, 100002, 0o4755], 'chown cleared setuid: the mode was set again');
    const sl = lstatSync(l), target = lstatSync(f);
    assert.deepEqual([sl.uid, sl.gid], [3, 4], 'the link itself');
    assert.equal(target.uid, 100001, 'not its target');
    const sd = lstatSync(d);
    assert.deepEqual([sd.uid, sd.gid, sd.mode & 0o7777], [5, 6, 0o700]);
    assert.deepEqual([lstatSync(nl).uid, lstatSync(nl).gid], [7, 8], 'a path with a newline');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lchown_list: a missing path is an error naming it; malformed records and a cut list are bad plans', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-chown-'));
  try {
    const gone = join(dir, 'gone');
    let err = (await run(`0 0 - ${gone}\0`)).find((m) => m.type === 'error');
    assert.equal(err?.op, 'lchown_list');
    assert.equal(err?.path, gone);
    assert.equal(err?.errno, 2);
    for (const bad of ['x 0 - /tmp\0', '0 0 9 /tmp\0', '0 0 -\0', `0 0 - ${dir}`]) {
      err = (await run(bad)).find((m) => m.type === 'error');
      assert.equal(err?.op, 'lchown_list', JSON.stringify(bad));
      assert.equal(err?.message, 'bad plan', JSON.stringify(bad));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
