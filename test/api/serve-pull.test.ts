/** `berth serve`: docker pull through `POST /images/create` from a local registry. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { push, tag } from '../../src/image/index.js';
import { haveRegistry, startRegistry } from '../helpers/registry.js';
import { cannotServe, withServer } from './util.js';

const skip = cannotServe() ?? (haveRegistry() ? undefined : 'no docker-registry');

test('docker pull from a local registry; a missing repository is an error', { skip, timeout: 120_000 }, async () => {
  const reg = await startRegistry();
  try {
    await withServer(async (s) => {
      const ref = `${reg.host}/team/bb:1`;
      await tag(s.core.images, 'busybox:latest', ref);
      await push(s.core.images, ref);
      assert.equal((await s.docker(['rmi', ref])).code, 0);
      const p = await s.docker(['pull', ref]);
      assert.equal(p.code, 0, p.err);
      assert.match(p.out, /Status: (Downloaded newer image|Image is up to date) for /); // the layers are busybox's: present
      assert.match(p.out, new RegExp(`${ref.replace(/[.]/g, '\\.')}\\n$`));
      const again = await s.docker(['pull', ref]);
      assert.match(again.out, /Status: Image is up to date for /);
      const run = await s.docker(['run', '--rm', ref, 'echo', 'pulled']);
      assert.equal(run.out, 'pulled\n', run.err);
      const missing = await s.docker(['pull', `${reg.host}/team/nosuch:1`]);
      assert.equal(missing.code, 1);
      assert.match(missing.err, /Error response from daemon: /);
    });
  } finally {
    await reg.stop();
  }
});
