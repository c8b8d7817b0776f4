/**
 * `build` as a rootless user (issue 17): RUN steps run as rootless containers, their changes are
 * committed with the container's owners; COPY of the user's files gives them to the container's
 * root. Through the real CLI as a real unprivileged user (user-util.ts).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { busyboxTarDir, makeUser, rootlessMissing, type TestUser } from './user-util.js';

describe('rootless build as an ordinary user', { concurrency: false }, () => {
  const why = rootlessMissing();
  let u: TestUser | undefined;
  let tarDir = '';

  before(() => {
    if (why) return;
    u = makeUser('brb');
    const img = busyboxTarDir('berth-rl-build-');
    tarDir = img.dir;
    const r = u.berth(['import', img.tar, 'busybox:latest']);
    assert.equal(r.code, 0, r.err);
  });

  after(() => {
    u?.remove();
    if (tarDir) rmSync(tarDir, { recursive: true, force: true });
  });

  it('RUN steps run, their files keep the container\'s owners; COPY gives the user\'s files to root', (t) => {
    if (why) return t.skip(why);
    u!.sh([
      'mkdir -p $HOME/ctx',
      'echo copied > $HOME/ctx/f',
      'printf "FROM busybox:latest\\nCOPY f /f\\nRUN echo ran > /ran && mkdir /d && echo x > /d/x && chown -R 1:2 /d && rm /bin/true\\nRUN cat /ran /f > /both\\n" > $HOME/ctx/Dockerfile',
    ].join(' && '));
    let r = u!.berth(['build', '-q', '-t', 'rl-built:1', `${u!.home}/ctx`], { timeout: 120_000 });
    assert.equal(r.code, 0, r.err);
    r = u!.berth(['run', '--rm', 'rl-built:1', 'sh', '-c', 'cat /both; stat -c "%u %g" /f /ran /d /d/x; [ -e /bin/true ] || echo gone']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'ran\ncopied\n0 0\n0 0\n1 2\n1 2\ngone\n');
    // nothing left: no build container, no mount of the user's on the host
    assert.equal(u!.berth(['ps', '-aq']).out, '');
  });
});
