/**
 * Rootless user-defined networks and `--network container:NAME` (issue 17), as a real
 * unprivileged user made here (useradd, subordinate ranges), through the real CLI: `network
 * create` makes a bridge in the user's rootless network namespace (engine/rootless/netns.ts),
 * containers on it reach each other by name (embedded DNS) and by address, the way out goes
 * through pasta, and after `rm` of the containers and `network rm` nothing of the user is left (no
 * process, no namespace holder, no state). `--network container:NAME` shares NAME's network
 * namespace (joining its user namespace). No packet leaves the machine: the only outside peer is a
 * server on the host's loopback, reached through pasta's gateway mapping.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { netMissing, netUser, type TestUser } from './user-util.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rootless user-defined networks and --network container:', { concurrency: false }, () => {
  const why = netMissing('/usr/bin/pasta', '/usr/bin/nsenter');
  let u: TestUser | undefined;
  let done = () => {};
  const berth = (args: string[]) => u!.berth(args, { timeout: 60_000 });
  const runRoot = () => `/tmp/berth-run-${u!.uid}/berth`;
  const procs = () => spawnSync('ps', ['-u', u!.name, '-o', 'pid=,args='], { encoding: 'utf8' }).stdout.trim();

  before(() => {
    if (why) return;
    ({ user: u, done } = netUser('brw'));
  });

  after(() => {
    if (!u) return;
    berth(['rm', '-f', 'rn-web', 'rn-two', 'rn-a', 'rn-b']);
    berth(['network', 'rm', 'rn-net', 'rn-net2']);
    done();
  });

  it('network create; containers reach each other by name and address; the way out is pasta\'s; rm leaves nothing', async (t) => {
    if (why) return t.skip(why);
    // a server on the host's loopback, reached through pasta (its gateway address maps to it); a
    // process of its own: the CLI runs synchronously here
    const server = spawn(process.execPath, ['-e', "const s=require('net').createServer((c)=>c.once('data',()=>c.end('from-the-host\\n'))).listen(0,'127.0.0.1',()=>console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'inherit'] });
    const hostPort = Number(await new Promise<string>((res) => server.stdout!.once('data', (d: Buffer) => res(d.toString()))));
    try {
      let r = berth(['network', 'create', 'rn-net']);
      assert.equal(r.code, 0, r.err);
      // (-p on a user network: the monitor relays it, rootless-userports.test.ts)
      r = berth(['run', '-d', '--name', 'rn-web', '--network', 'rn-net', 'busybox:latest', 'sh', '-c', 'echo web > /i.html; exec httpd -f -p 80 -h /']);
      assert.equal(r.code, 0, r.err);
      r = berth(['run', '-d', '--name', 'rn-two', '--network', 'rn-net', 'busybox:latest', 'sh', '-c', 'echo two > /i.html; exec httpd -f -p 80 -h /']);
      assert.equal(r.code, 0, r.err);
      r = berth(['inspect', '--format', '{{with index .NetworkSettings.Networks "rn-net"}}{{.IPAddress}} {{.Gateway}}{{end}}', 'rn-web']);
      assert.equal(r.code, 0, r.err);
      const [ip, gw] = r.out.trim().split(' ') as [string, string];
      assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
      // by name (the embedded DNS, both ways: a later container's name too) and by address
      r = berth(['run', '--rm', '--network', 'rn-net', 'busybox:latest', 'wget', '-qO-', 'http://rn-web/i.html']);
      assert.equal(r.out, 'web\n', r.err);
      r = berth(['exec', 'rn-web', 'wget', '-qO-', 'http://rn-two/i.html']);
      assert.equal(r.out, 'two\n', r.err);
      r = berth(['exec', 'rn-two', 'wget', '-qO-', `http://${ip}/i.html`]);
      assert.equal(r.out, 'web\n', r.err);
      r = berth(['exec', 'rn-two', 'nslookup', 'rn-web', '127.0.0.11']);
      assert.match(r.out, new RegExp(ip.replace(/\./g, '\\.')), r.err);
      // --userns keep-id: a user namespace of its own, made inside the rootless netns's (its
      // monitor writes the maps): the user's own id inside, on the same bridge, by name both ways
      r = berth(['run', '-d', '--name', 'rn-kid', '--userns', 'keep-id', '--network', 'rn-net', 'busybox:latest', 'sh', '-c', 'echo kid > /tmp/i.html; exec httpd -f -p 8080 -h /tmp']);
      assert.equal(r.code, 0, r.err);
      // (exec, like podman's, runs as the same user)
      r = berth(['exec', 'rn-kid', 'sh', '-c', "awk '/^(Uid|Gid):/ { print $2 }' /proc/1/status; id -u; id -g; wget -qO- http://rn-web/i.html"]);
      const gid = spawnSync('id', ['-g', u!.name], { encoding: 'utf8' }).stdout.trim();
      assert.equal(r.out, `${u!.uid}\n${gid}\n${u!.uid}\n${gid}\nweb\n`, r.err);
      // inspect shows that user, as podman's does
      assert.equal(berth(['inspect', '-f', '{{.Config.User}}', 'rn-kid']).out, `${u!.uid}:${gid}\n`);
      let kid = '';
      for (let i = 0; i < 30 && kid !== 'kid\n'; i++) { kid = berth(['exec', 'rn-two', 'wget', '-qO-', 'http://rn-kid:8080/i.html']).out; if (kid !== 'kid\n') await sleep(100); }
      assert.equal(kid, 'kid\n');
      assert.equal(berth(['rm', '-f', 'rn-kid']).code, 0);
      assert.notEqual(gw, '');
      // out through pasta: the host's default gateway address is the host's loopback (pasta's --map-gw)
      const route = spawnSync('ip', ['-4', 'route', 'show', 'default'], { encoding: 'utf8' }).stdout;
      const hostGw = /default via (\S+)/.exec(route)?.[1];
      if (hostGw) {
        r = berth(['exec', 'rn-web', 'sh', '-c', `echo hello | nc -w 5 ${hostGw} ${hostPort} | head -n 1`]);
        assert.equal(r.out, 'from-the-host\n', r.err);
      }
      // a network in use is not removed
      r = berth(['network', 'rm', 'rn-net']);
      assert.equal(r.code, 1);
      assert.match(r.err, /has active endpoints/);
      r = berth(['rm', '-f', 'rn-web', 'rn-two']);
      assert.equal(r.code, 0, r.err);
      assert.ok(existsSync(join(runRoot(), 'rootless-netns', 'holder')), 'the namespace stays while the network exists');
      r = berth(['network', 'rm', 'rn-net']);
      assert.equal(r.code, 0, r.err);
      // nothing of the user is left: no process (holder, pasta, monitors), no namespace state
      let left = procs();
      for (let i = 0; i < 50 && left; i++) { await sleep(100); left = procs(); }
      assert.equal(left, '');
      assert.ok(!existsSync(join(runRoot(), 'rootless-netns')));
      const state = join(runRoot(), 'network');
      const files = existsSync(state) ? readdirSync(state, { recursive: true }).map(String).filter((f) => f !== 'dns') : [];
      assert.deepEqual(files, []);
      assert.doesNotMatch(berth(['network', 'ls', '--format', '{{.Name}}']).out, /rn-net/);
    } finally {
      server.kill();
    }
  });

  it('--network container:NAME shares NAME\'s network namespace (pasta, or a user network)', async (t) => {
    if (why) return t.skip(why);
    let r = berth(['run', '-d', '--name', 'rn-a', 'busybox:latest', 'sh', '-c', 'echo a > /i.html; exec httpd -f -p 8080 -h /']);
    assert.equal(r.code, 0, r.err);
    r = berth(['run', '--rm', '--network', 'container:rn-a', 'busybox:latest', 'wget', '-qO-', 'http://127.0.0.1:8080/i.html']);
    assert.equal(r.out, 'a\n', r.err);
    r = berth(['network', 'create', 'rn-net2']);
    assert.equal(r.code, 0, r.err);
    r = berth(['run', '-d', '--name', 'rn-b', '--network', 'rn-net2', 'busybox:latest', 'sh', '-c', 'echo b > /i.html; exec httpd -f -p 8081 -h /']);
    assert.equal(r.code, 0, r.err);
    r = berth(['run', '--rm', '--network', 'container:rn-b', 'busybox:latest', 'sh', '-c', 'wget -qO- http://127.0.0.1:8081/i.html; ip -o -4 addr show eth0']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^b\n.*inet /s);
    r = berth(['rm', '-f', 'rn-a', 'rn-b']);
    assert.equal(r.code, 0, r.err);
    r = berth(['network', 'rm', 'rn-net2']);
    assert.equal(r.code, 0, r.err);
    let left = procs();
    for (let i = 0; i < 50 && left; i++) { await sleep(100); left = procs(); }
    assert.equal(left, '');
  });
});
