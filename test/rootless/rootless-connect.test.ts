/**
 * `network connect` / `disconnect` of a running rootless container (issue 17), as a real
 * unprivileged user made here, through the real CLI. A container on a user-defined network joined
 * the rootless network namespace's user namespace, so root of that namespace (berth-helper net
 * under nsenter) gives it a new interface on another of the user's networks, and takes it away.
 * A container on the rootless default network (pasta) has a user namespace of its own: refused
 * while it runs, with the reason. No packet leaves the machine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { netMissing, netUser, type TestUser } from './user-util.js';

describe('rootless: network connect and disconnect of a running container', { concurrency: false }, () => {
  const why = netMissing('/usr/bin/pasta', '/usr/bin/nsenter');
  let u: TestUser | undefined;
  let done = () => {};
  const berth = (args: string[]) => u!.berth(args, { timeout: 60_000 });

  before(() => {
    if (why) return;
    ({ user: u, done } = netUser('brc'));
  });

  after(() => {
    if (!u) return;
    berth(['rm', '-f', 'rc-a', 'rc-b', 'rc-p']);
    berth(['network', 'rm', 'rc-one', 'rc-two']);
    done();
  });

  it('connect gives a running container an interface on another network (names resolve); disconnect takes it away', async (t) => {
    if (why) return t.skip(why);
    for (const [name, subnet] of [['rc-one', '10.232.1.0/24'], ['rc-two', '10.232.2.0/24']]) {
      const r = berth(['network', 'create', '--subnet', subnet!, name!]);
      assert.equal(r.code, 0, r.err);
    }
    let r = berth(['run', '-d', '--name', 'rc-a', '--network', 'rc-one', 'busybox:latest', 'sleep', '300']);
    assert.equal(r.code, 0, r.err);
    r = berth(['run', '-d', '--name', 'rc-b', '--network', 'rc-two', 'busybox:latest', 'sh', '-c', 'echo from-b > /i.html; exec httpd -f -p 80 -h /']);
    assert.equal(r.code, 0, r.err);
    // before: rc-b is on another network, unreachable by name or address
    r = berth(['exec', 'rc-a', 'sh', '-c', 'timeout 3 wget -qO- http://rc-b/i.html']);
    assert.notEqual(r.code, 0, 'not reachable before the connect');

    r = berth(['network', 'connect', '--ip', '10.232.2.50', 'rc-two', 'rc-a']);
    assert.equal(r.code, 0, r.err);
    r = berth(['exec', 'rc-a', 'ip', '-o', '-4', 'addr', 'show', 'eth1']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /inet 10\.232\.2\.50\/24/);
    r = berth(['exec', 'rc-a', 'sh', '-c', 'timeout 10 wget -qO- http://rc-b/i.html']);
    assert.equal(r.out, 'from-b\n', r.err);
    assert.equal(berth(['inspect', '-f', '{{(index .NetworkSettings.Networks "rc-two").IPAddress}}', 'rc-a']).out.trim(), '10.232.2.50');

    r = berth(['network', 'disconnect', 'rc-two', 'rc-a']);
    assert.equal(r.code, 0, r.err);
    r = berth(['exec', 'rc-a', 'ip', 'link', 'show', 'eth1']);
    assert.notEqual(r.code, 0, 'eth1 is gone');
    r = berth(['exec', 'rc-a', 'sh', '-c', 'timeout 3 wget -qO- http://10.232.2.2/i.html']);
    assert.notEqual(r.code, 0, 'rc-b is unreachable again');
    assert.equal(berth(['inspect', '-f', '{{len .NetworkSettings.Networks}}', 'rc-a']).out.trim(), '1');
  });

  it('a running container on the default network (pasta) is refused with the reason; nothing is recorded', async (t) => {
    if (why) return t.skip(why);
    let r = berth(['run', '-d', '--name', 'rc-p', 'busybox:latest', 'sleep', '300']);
    assert.equal(r.code, 0, r.err);
    r = berth(['network', 'connect', 'rc-one', 'rc-p']);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /runs on the rootless default network \(pasta\), in a user namespace of its own/);
    assert.equal(berth(['inspect', '-f', '{{len .NetworkSettings.Networks}}', 'rc-p']).out.trim(), '1');
  });
});
