/**
 * Networks under faults, through the CLI in a throwaway namespace: a `run` killed at any moment,
 * a container's process or its monitor SIGKILLed, `rm -f`, a firewall reload that wiped berth's
 * table — and each time nothing is left that the next command does not reconcile: no veth, no
 * rule, no lease, no DNS entry.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { FRONT } from '../helpers/worker.js';
import { cannotRunNet, withNetCli, type NetCli } from './engine-util.js';

const skip = cannotRunNet();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What berth's networks hold in the kernel and in the run root, besides the bridges. */
function residue(c: NetCli): string[] {
  const out: string[] = [];
  for (const l of c.sh(['ip', '-br', 'link']).split('\n')) if (/^vb[0-9a-f]/.test(l)) out.push(`link ${l.split(/\s+/)[0]}`);
  const nft = c.sh(['nft', '-j', 'list', 'table', 'inet', 'berth'], { allowFail: true });
  try {
    for (const o of (JSON.parse(nft) as { nftables: Record<string, { name?: string; elem?: unknown[] }>[] }).nftables) {
      const m = o.map ?? o.set;
      if (m?.elem?.length && /dnat|hairpin/.test(m.name ?? '')) out.push(`nft ${m.name}: ${JSON.stringify(m.elem)}`);
    }
  } catch { /* no table */ }
  const dns = join(c.runRoot, 'network', 'dns');
  try {
    for (const f of readdirSync(dns)) {
      const text = readFileSync(join(dns, f), 'utf8');
      if (f.endsWith('.conf')) out.push(`dns conf ${f}`);
      else if (text.trim()) out.push(`dns table ${f}: ${text.trim()}`);
    }
  } catch { /* none */ }
  return out;
}

async function allIds(c: NetCli): Promise<string[]> {
  return (await c.ok(['ps', '-aq'])).split('\n').filter(Boolean);
}

test('a run killed at any moment: rm -f leaves no veth, rule, lease or DNS entry', { skip }, async () => {
  await withNetCli(async (c) => {
    await c.ok(['network', 'create', 'app']);
    const env = { ...c.env, BERTH_BRIDGE: 'berth0', BERTH_RESOLV_CONF: c.resolvConf, BERTH_NO_WORKER: '1' };
    for (const delay of [40, 120, 250, 400, 600, 900]) {
      const child = spawn('nsenter', [`--net=${c.ns}`, '--', FRONT, 'run', '-d', '--network', 'app', '-p', `${7100 + delay}:80`, 'busybox', 'sleep', '60'], { env, stdio: 'ignore' });
      const closed = new Promise((r) => child.once('close', r));
      await sleep(delay);
      child.kill('SIGKILL');
      await closed;
    }
    const ids = await allIds(c);
    if (ids.length) await c.ok(['rm', '-f', ...ids]);
    assert.deepEqual(residue(c), []);
    // and the addresses are free again: the next container gets the network's first one
    const a = await c.ok(['run', '-d', '--network', 'app', 'busybox', 'sleep', '60']);
    const ip = await c.ok(['inspect', '-f', '{{.NetworkSettings.Networks.app.IPAddress}}', a]);
    const gw = JSON.parse(await c.ok(['network', 'inspect', 'app']))[0].IPAM.Config[0].Gateway as string;
    assert.equal(ip, gw.replace(/\.1$/, '.2'), `the first address is not free: ${await c.ok(['ps', '-a', '--no-trunc'])}`);
  });
});

test('SIGKILL of the container\'s process, of its monitor, then rm -f: nothing left', { skip }, async () => {
  await withNetCli(async (c) => {
    await c.ok(['network', 'create', 'app']);
    const a = await c.ok(['run', '-d', '--network', 'app', '--name', 'k1', '-p', '7300:80', 'busybox', 'sleep', '600']);
    const b = await c.ok(['run', '-d', '--network', 'app', '--name', 'k2', '-p', '7301:80', 'busybox', 'sleep', '600']);
    assert.notDeepEqual(residue(c), [], 'the probe sees what a running container holds');
    process.kill(Number(await c.ok(['inspect', '-f', '{{.State.Pid}}', a])), 'SIGKILL');
    const pidB = Number(await c.ok(['inspect', '-f', '{{.State.Pid}}', b]));
    const monitor = Number(readFileSync(`/proc/${pidB}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    assert.equal(readFileSync(`/proc/${monitor}/comm`, 'utf8').trim(), 'berth-monitor');
    if (monitor) process.kill(monitor, 'SIGKILL');
    for (let i = 0; i < 50 && (await c.ok(['inspect', '-f', '{{.State.Status}}', a])) !== 'exited'; i++) await sleep(100);
    // a writer of a's DNS configuration killed between its write and its rename left its temp file
    const dead = spawnSync('true').pid!;
    writeFileSync(join(c.runRoot, 'network', 'dns', `.${a}.conf.${dead}.tmp`), 'upstream 10.0.0.1\n');
    await c.ok(['rm', '-f', a, b]);
    assert.deepEqual(residue(c), []);
  });
});

test('network reload after a firewall flush brings the rules back; a second reload changes nothing', { skip }, async () => {
  await withNetCli(async (c) => {
    await c.ok(['network', 'create', 'app']);
    const a = await c.ok(['run', '-d', '--network', 'app', '-p', '8088:80', 'busybox', 'sh', '-c', 'mkdir -p /w && echo berth-ok > /w/index.html && exec httpd -f -p 80 -h /w']);
    const get = () => c.sh(['curl', '-s', '-m', '2', `http://${c.hostIp}:8088/`], { in: c.outside, allowFail: true });
    for (let i = 0; i < 30 && !get().includes('berth-ok'); i++) await sleep(100);
    assert.equal(get(), 'berth-ok\n');
    c.sh(['nft', 'flush', 'ruleset']);
    assert.doesNotMatch(get(), /berth-ok/, 'the flush took the published port away');
    await c.ok(['network', 'reload']);
    assert.equal(get(), 'berth-ok\n');
    const before = c.sh(['nft', 'list', 'table', 'inet', 'berth']);
    await c.ok(['network', 'reload']);
    assert.equal(c.sh(['nft', 'list', 'table', 'inet', 'berth']), before);
    void a;
  });
});

test('--link on the default bridge: the linked container by its name and alias in /etc/hosts', { skip }, async () => {
  await withNetCli(async (c) => {
    const db = await c.ok(['run', '-d', '--name', 'db1', 'busybox', 'sleep', '600']);
    const ip = await c.ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', db]);
    const hosts = await c.ok(['run', '--rm', '--link', 'db1:database', 'busybox', 'cat', '/etc/hosts']);
    assert.match(hosts, new RegExp(`^${ip.replace(/\./g, '\\.')}\\s+database db1 ${db.slice(0, 12)}$`, 'm'));
    const r = await c.berth(['run', '--rm', '--add-host', 'gw:host-gateway', 'busybox', 'grep', 'gw', '/etc/hosts']);
    assert.equal(r.out.trim(), '172.17.0.1\tgw');
  });
});
