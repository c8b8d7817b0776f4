/**
 * Rootless networking by slirp4netns (issue 17), as a real unprivileged user made here, through
 * the real CLI: `--network slirp4netns[:OPTIONS]` reaches a server on the host's loopback (10.0.2.2
 * with allow_host_loopback=true, refused without it; nothing leaves this machine), `-d -p` is
 * answered from the host and shown as rootful ports are, the default can be chosen
 * (BERTH_ROOTLESS_NETWORK), `rm` leaves no process, socket or file, and a bad option is refused.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parseSlirpMode, rootlessDefault, slirpSteps } from '../../src/engine/rootless/slirp.js';
import { fetchText, netMissing, netUser, type TestUser } from './user-util.js';

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

describe('rootless networking by slirp4netns', { concurrency: false }, () => {
  const why = netMissing('/usr/bin/slirp4netns');
  let u: TestUser | undefined;
  let done = () => {};
  let server: ChildProcess | undefined;
  let hostPort = 0;
  const berth = (args: string[], env?: string[]) => u!.berth(args, { timeout: 60_000, env });
  /** the user's slirp4netns processes (pids) */
  const slirps = () => spawnSync('pgrep', ['-u', String(u!.uid), '-x', 'slirp4netns'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
  const runRoot = () => `/tmp/berth-run-${u!.uid}/berth`;

  before(async () => {
    if (why) return;
    ({ user: u, done } = netUser('brl'));
    // a server on the host's loopback only (its own process: the CLI runs with spawnSync), which
    // the container reaches as 10.0.2.2
    server = spawn(process.execPath, ['-e', "const s = require('http').createServer((q, r) => r.end('from the host\\n')).listen(0, '127.0.0.1', () => console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'inherit'] });
    hostPort = await new Promise<number>((res, rej) => {
      server!.stdout!.once('data', (d: Buffer) => res(Number(String(d).trim())));
      server!.once('exit', () => rej(new Error('the host server exited')));
    });
  });

  after(() => {
    server?.kill();
    if (!u) return;
    berth(['rm', '-f', 'rl-slirp']);
    done();
  });

  it('the options: parsed as podman names them, the defaults chosen', () => {
    assert.deepEqual(parseSlirpMode('slirp4netns', 'run'), { allowHostLoopback: false, mtu: 65520, enableIPv6: false });
    assert.deepEqual(parseSlirpMode('slirp4netns:allow_host_loopback=true,mtu=1500,port_handler=slirp4netns', 'run'), { allowHostLoopback: true, mtu: 1500, enableIPv6: false });
    assert.throws(() => parseSlirpMode('slirp4netns:mtu=9', 'run'), /mtu=9: must be a number in 68-65521/);
    assert.throws(() => parseSlirpMode('slirp4netns:port_handler=rootlesskit', 'run'), /no rootlesskit port handler/);
    assert.equal(rootlessDefault(undefined, true, 'run'), 'pasta');
    assert.equal(rootlessDefault('slirp4netns:mtu=1500', true, 'run'), 'slirp4netns:mtu=1500');
    assert.throws(() => rootlessDefault('vpnkit', true, 'run'), /must be pasta or slirp4netns/);
    if (existsSync('/usr/bin/slirp4netns') && spawnSync('test', ['-w', '/dev/net/tun']).status === 0) assert.equal(rootlessDefault(undefined, false, 'run'), 'slirp4netns');
    // the child's pid goes before the interface's name; ports through the API socket
    const [spawn, fwd] = slirpSteps({ allowHostLoopback: false, mtu: 65520, enableIPv6: false }, [{ proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80 }], '/run/x');
    assert.equal(spawn!.op, 'pid_spawn');
    const args = spawn!.args.slice(9) as string[];
    assert.equal(args[Number(spawn!.args[4])], 'eth0');
    assert.ok(args.includes('--disable-host-loopback') && args.includes('--api-socket=slirp4netns.sock'), args.join(' '));
    assert.equal(fwd!.op, 'unix_call');
    assert.deepEqual(JSON.parse(String(fwd!.args[1])), { execute: 'add_hostfwd', arguments: { proto: 'tcp', host_addr: '0.0.0.0', host_port: 8080, guest_port: 80 } });
  });

  // (this static busybox's wget crashes: nc speaks HTTP/1.0 here)
  const GET = () => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 10.0.2.2 ${hostPort}`;
  it('run --network slirp4netns reaches the host loopback only with allow_host_loopback=true; mtu applies', (t) => {
    if (why) return t.skip(why);
    let r = berth(['run', '--rm', '--network', 'slirp4netns:allow_host_loopback=true,mtu=1500', 'busybox:latest', 'sh', '-c',
      `cat /sys/class/net/eth0/mtu; ip -4 -o addr show eth0 | grep -o 'inet [0-9./]*'; ${GET()} | tail -1`]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `1500\ninet 10.0.2.100/24\nfrom the host\n`);
    r = berth(['run', '--rm', '--network', 'slirp4netns', 'busybox:latest', 'sh', '-c', GET()]);
    assert.notEqual(r.code, 0, 'the host loopback is closed by default: ' + r.out);
    assert.match(r.err, /10\.0\.2\.2.*Network is unreachable/);
    assert.equal(slirps().length, 0, 'no slirp4netns left after --rm');
  });

  it('-d -p is answered from the host and shown as ports; rm leaves no process, socket or file', async (t) => {
    if (why) return t.skip(why);
    const port = 20000 + Math.floor(Math.random() * 20000);
    let r = berth(['run', '-d', '--name', 'rl-slirp', '--network', 'slirp4netns', '-p', `127.0.0.1:${port}:80`, '-p', '81', 'busybox:latest', 'sh', '-c',
      'echo eighty > /80.html; echo eighty-one > /81.html; httpd -p 81 -h /; exec httpd -f -p 80 -h /']);
    assert.equal(r.code, 0, r.err);
    const id = r.out.trim();
    assert.equal(slirps().length, 1);
    r = berth(['inspect', '--format', '{{.HostConfig.NetworkMode}}|{{json .NetworkSettings.Ports}}', 'rl-slirp']);
    assert.equal(r.code, 0, r.err);
    const [mode, json] = r.out.trim().split('|') as [string, string];
    assert.equal(mode, 'slirp4netns');
    const ports = JSON.parse(json) as Record<string, { HostIp: string; HostPort: string }[]>;
    assert.deepEqual(ports['80/tcp'], [{ HostIp: '127.0.0.1', HostPort: String(port) }]);
    assert.equal(ports['81/tcp']?.length, 1, json);
    assert.equal(ports['81/tcp']![0]!.HostIp, '0.0.0.0');
    const free = Number(ports['81/tcp']![0]!.HostPort);
    assert.equal(await fetchText(`http://127.0.0.1:${port}/80.html`), 'eighty\n');
    assert.equal(await fetchText(`http://127.0.0.1:${free}/81.html`), 'eighty-one\n');
    assert.equal(berth(['port', 'rl-slirp', '81']).out, `0.0.0.0:${free}\n`);
    assert.equal(berth(['ps', '--format', '{{.Ports}}']).out.trim(), `127.0.0.1:${port}->80/tcp, 0.0.0.0:${free}->81/tcp`);
    assert.ok(existsSync(`${runRoot()}/${id}/slirp4netns.sock`));
    // the 0.0.0.0 it binds conflicts with a single address of the same port, as Docker's
    r = berth(['run', '--rm', '--network', 'slirp4netns', '-p', `127.0.0.1:${free}:80`, 'busybox:latest', 'true']);
    assert.match(r.err, new RegExp(`Bind for 127\\.0\\.0\\.1:${free} failed: port is already allocated`));
    r = berth(['rm', '-f', 'rl-slirp']);
    assert.equal(r.code, 0, r.err);
    for (let i = 0; i < 50 && slirps().length; i++) await sleep(100); // SIGTERMed at rm
    assert.deepEqual(slirps(), []);
    assert.ok(!existsSync(`${runRoot()}/${id}`), 'the run directory is gone');
    assert.deepEqual(readdirSync(runRoot()).filter((f) => f.startsWith(id.slice(0, 12))), []);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
  });

  it('a container that exits by itself takes its slirp4netns with it', async (t) => {
    if (why) return t.skip(why);
    const r = berth(['run', '-d', '--network', 'slirp4netns', 'busybox:latest', 'sleep', '1']);
    assert.equal(r.code, 0, r.err);
    assert.equal(slirps().length, 1);
    for (let i = 0; i < 50 && slirps().length; i++) await sleep(100);
    assert.deepEqual(slirps(), []);
    assert.equal(berth(['rm', r.out.trim()]).code, 0);
  });

  it('BERTH_ROOTLESS_NETWORK chooses the default', (t) => {
    if (why) return t.skip(why);
    const r = berth(['run', '--rm', 'busybox:latest', 'sh', '-c', 'ip -4 -o addr show eth0 | grep -o "inet [0-9./]*"'], ['BERTH_ROOTLESS_NETWORK=slirp4netns:cidr=10.9.0.0/24']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'inet 10.9.0.100/24\n');
  });

  it('bench net measures the user-mode schemes as the user, and leaves nothing', async (t) => {
    if (why) return t.skip(why);
    const schemes = ['published-slirp4netns', ...(existsSync('/usr/bin/pasta') ? ['published-pasta'] : [])];
    const json = `${u!.home}/bench.json`;
    const r = u!.berth(['bench', 'net', '--duration', '0.3', '--schemes', schemes.join(','), '--json', json], { timeout: 180_000 });
    assert.equal(r.code, 0, `${r.out}\n${r.err}`);
    const res = JSON.parse(u!.sh(`cat ${json}`).out) as { schemes: { scheme: string; gbit1: number; gbit4: number; rr: { samples: number }; error?: string }[] };
    assert.deepEqual(res.schemes.map((s) => s.scheme), schemes);
    for (const s of res.schemes) {
      assert.equal(s.error, undefined, `${s.scheme}: ${s.error}`);
      assert.ok(s.gbit1 > 0 && s.gbit4 > 0 && s.rr.samples > 0, JSON.stringify(s));
    }
    assert.equal(berth(['ps', '-aq']).out, '');
    for (let i = 0; i < 50 && slirps().length; i++) await sleep(100); // SIGTERMed at rm
    assert.deepEqual(slirps(), []);
  });

  it('a bad option is refused clearly, and nothing is created', (t) => {
    if (why) return t.skip(why);
    let r = berth(['run', '--name', 'rl-bad', '--network', 'slirp4netns:foo=bar', 'busybox:latest', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /--network slirp4netns: unknown option "foo" \(supported: allow_host_loopback, cidr, enable_ipv6, mtu, outbound_addr, outbound_addr6, port_handler\)/);
    assert.doesNotMatch(berth(['ps', '-a', '--format', '{{.Names}}']).out, /rl-bad/);
    r = berth(['run', '--name', 'rl-bad', '--network', 'slirp4netns:allow_host_loopback=yes', 'busybox:latest', 'true']);
    assert.match(r.err, /allow_host_loopback=yes: must be true or false/);
    r = berth(['run', '--name', 'rl-bad', '--network', 'slirp4netns', '-p', '[::1]:8080:80', 'busybox:latest', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /slirp4netns forwards IPv4 host addresses only/);
    berth(['rm', '-f', 'rl-bad']);
    assert.deepEqual(slirps(), []);
  });
});
