import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBundle } from '../helpers/bundle.js';
import { parseProbe, type ProbeInfo } from '../helpers/probe.js';
import { runtimeCommand } from '../helpers/runtime.js';

const UID = 1777;

function chownTree(dir: string): void {
  spawnSync('chown', ['-R', `${UID}:${UID}`, dir]);
}

test('rootless: a non-root user runs a container from `spec --rootless`', (t) => {
  if (!existsSync('/usr/bin/setpriv')) return t.skip('setpriv (util-linux) is not installed');
  const work = mkdtempSync(join(tmpdir(), 'berth-rootless-'));
  chmodSync(work, 0o755);
  try {
    const b = makeBundle(join(work, 'b'), {}, {});
    rmSync(b.configPath);
    chownTree(work);
    const as = (args: string[]) => spawnSync('setpriv', ['--reuid', String(UID), '--regid', String(UID), '--clear-groups', ...runtimeCommand(args).flat()],
      { cwd: b.dir, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: work } });
    const s = as(['spec', '--rootless']);
    assert.equal(s.status, 0, s.stderr);
    const cfg = JSON.parse(readFileSync(b.configPath, 'utf8'));
    assert.deepEqual(cfg.linux.uidMappings, [{ containerID: 0, hostID: UID, size: 1 }]);
    cfg.process.args = ['/probe'];
    cfg.process.terminal = false;
    writeFileSync(b.configPath, JSON.stringify(cfg));
    chownSync(b.configPath, UID, UID);
    const r = as(['--root', join(work, 'state'), 'run', 'rootless1']);
    assert.equal(r.status, 0, r.stderr);
    const p = parseProbe<ProbeInfo>(r.stdout);
    assert.equal(p.uid, 0, 'root inside the container');
    assert.equal(p.pid, 1);
    assert.notEqual(p.namespaces.user, null);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
