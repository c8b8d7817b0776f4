import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectLayout } from '../../src/cgroups/index.js';
import { createContainer, startContainer, waitContainer, type EngineCore } from '../../src/engine/containers/index.js';
import { busyboxEngine, type BusyboxEngine } from '../helpers/engine.js';
import { haveBusybox } from '../helpers/rootfs.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'berth-main.js');
// the CLI's VERSION, from the compiled text (berth-main runs the CLI when imported)
const VERSION = /\bVERSION = '([^']+)'/.exec(readFileSync(join(dirname(MAIN), 'commands.js'), 'utf8'))![1]!;
const skip = haveBusybox() ? false : 'needs a statically linked /bin/busybox';

interface Result { code: number; out: string; err: string }

function spawnCli(env: NodeJS.ProcessEnv, args: string[]): ChildProcess {
  return spawn(process.execPath, [MAIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
}

function cli(env: NodeJS.ProcessEnv, args: string[], input = ''): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(env, args);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? -1 : 0), out, err }));
    child.stdin!.on('error', () => undefined); // the CLI may exit without reading its stdin
    child.stdin!.end(input);
  });
}

async function ok(env: NodeJS.ProcessEnv, args: string[], input = ''): Promise<string> {
  const r = await cli(env, args, input);
  assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.err}`);
  return r.out;
}

/** A container that ran `sh -c SCRIPT` to its end (exited), or one still running `sleep`. */
async function exited(core: EngineCore, name: string, script: string, labels: Record<string, string> = {}): Promise<string> {
  const c = await createContainer(core, { image: 'busybox:latest', name, options: { cmd: ['sh', '-c', script], labels } });
  // createContainer does not yet copy the config's labels into the record's label column.
  if (Object.keys(labels).length && !Object.keys(core.store.containers.get(c.id).labels).length) core.store.containers.update(c.id, { labels });
  await startContainer(core, c.id);
  await waitContainer(core, c.id);
  return c.id;
}

async function running(core: EngineCore, name: string, mounts: { source: string; target: string }[] = []): Promise<string> {
  const c = await createContainer(core, {
    image: 'busybox:latest', name,
    options: { cmd: ['sleep', '1000'], mounts: mounts.map((m) => ({ type: 'volume' as const, source: m.source, target: m.target, readonly: false })) },
  });
  await startContainer(core, c.id);
  return c.id;
}

async function withEngine(fn: (e: BusyboxEngine) => Promise<void>): Promise<void> {
  const e = await busyboxEngine();
  try { await fn(e); } finally { await e.cleanup(); }
}

test('version: Docker\'s Client/Server layout and --format', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_ROOT: '/nonexistent/berth-root', BERTH_RUN_ROOT: '/nonexistent/run' };
  delete env.BERTH_CONFIG;
  const out = await ok(env, ['version']);
  const lines = out.split('\n');
  assert.equal(lines[0], 'Client:');
  assert.equal(lines[1], ` Version:           ${VERSION}`, 'tabwriter: min width 20');
  assert.ok(lines.includes('Server: berth'));
  assert.ok(lines.includes(' Engine:'));
  assert.ok(lines.includes(`  Version:          ${VERSION}`));
  assert.ok(lines.some((l) => /^ {2}OS\/Arch: {10}linux\/(amd64|arm64|\w+)$/.test(l)), out);
  assert.equal(await ok(env, ['version', '--format', '{{.Server.Version}}']), `${VERSION}\n`);
  assert.equal(await ok(env, ['version', '-f', '{{.Client.Version}}/{{.Client.Os}}']), `${VERSION}/linux\n`);
  const j = JSON.parse(await ok(env, ['version', '--format', 'json']));
  assert.equal(j.Server.Components[0].Name, 'Engine');
  assert.equal(j.Client.Version, VERSION);
  assert.ok(!existsSync('/nonexistent/berth-root'), 'version touches no data root');
  const r = await cli(env, ['version', '--bogus']);
  assert.equal(r.code, 125);
  assert.equal(r.err, "unknown flag: --bogus\nSee 'berth version --help'.\n");
});

test('info: a data root that cannot be opened gives the client section, then the server error', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_ROOT: '/etc/hostname/berth', BERTH_RUN_ROOT: '/etc/hostname/run' };
  delete env.BERTH_CONFIG;
  const r = await cli(env, ['info']);
  assert.equal(r.code, 1);
  assert.equal(r.out, `Client:\n Version:    ${VERSION}\n Context:    default\n Debug Mode: false\n\nServer:\nERROR: open engine store /etc/hostname/berth: not a directory (ENOTDIR)\n`);
  assert.equal(r.err, 'errors pretty printing info\n');
});

test('volume create/ls/inspect/rm/prune with Docker\'s output, in-use refusal and the prompt', { skip }, () => withEngine(async ({ core, env, root }) => {
  assert.equal(await ok(env, ['volume', 'create', 'data']), 'data\n');
  assert.equal(await ok(env, ['volume', 'create', '--label', 'team=a', 'data']), 'data\n', 'create is idempotent');
  const anon = (await ok(env, ['volume', 'create', '--label', 'tmp=1'])).trim();
  assert.match(anon, /^[0-9a-f]{64}$/);
  const ls = (await ok(env, ['volume', 'ls'])).split('\n');
  assert.equal(ls[0], 'DRIVER    VOLUME NAME');
  assert.deepEqual(ls.slice(1, -1).map((l) => l.split(/\s+/)), [anon, 'data'].sort().map((n) => ['local', n]));
  assert.equal(ls.at(-1), '');
  assert.equal(await ok(env, ['volume', 'ls', '-q', '--filter', 'label=tmp']), `${anon}\n`);
  assert.equal(await ok(env, ['volume', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}}', '-f', 'name=dat']), 'data local local \n');
  const row = JSON.parse((await ok(env, ['volume', 'ls', '--format', 'json', '-f', 'name=data'])).trim());
  assert.deepEqual(Object.keys(row), [...Object.keys(row)].sort(), 'Go sorts map keys');
  assert.equal(row.Mountpoint, join(root, 'volumes', 'data', '_data'));

  let r = await cli(env, ['volume', 'inspect', 'data', 'nope']);
  assert.equal(r.code, 1);
  assert.equal(r.err, 'Error response from daemon: get nope: no such volume\n');
  assert.ok(r.out.startsWith('[\n    {\n        "CreatedAt": '), 'indented like docker');
  const [insp] = JSON.parse(r.out);
  assert.deepEqual({ ...insp, CreatedAt: 'x' }, {
    CreatedAt: 'x', Driver: 'local', Labels: {}, Mountpoint: join(root, 'volumes', 'data', '_data'), Name: 'data', Options: {}, Scope: 'local',
  });
  assert.equal(await ok(env, ['volume', 'inspect', '-f', '{{.Name}}:{{json .Labels}}', anon]), `${anon}:{"com.docker.volume.anonymous":"","tmp":"1"}\n`);

  // In use: refused with the container's id, even with -f; the others in the list still go.
  const user = await running(core, 'vol-user', [{ source: 'data', target: '/data' }]);
  await ok(env, ['volume', 'create', 'spare']);
  r = await cli(env, ['volume', 'rm', 'data', 'spare']);
  assert.equal(r.code, 1);
  assert.equal(r.err, `Error response from daemon: remove data: volume is in use - [${user}]\n`);
  assert.equal(r.out, 'spare\n');
  r = await cli(env, ['volume', 'rm', '-f', 'data', 'gone']);
  assert.equal(r.code, 1);
  assert.equal(r.err, `Error response from daemon: remove data: volume is in use - [${user}]\n`);
  assert.equal(r.out, 'gone\n', 'a missing volume is fine with -f');
  assert.ok(existsSync(join(root, 'volumes', 'data', '_data')));
  r = await cli(env, ['volume', 'rm', 'gone']);
  assert.deepEqual([r.code, r.err], [1, 'Error response from daemon: get gone: no such volume\n']);

  // prune: the prompt (only y confirms), anonymous unused only, -a for named ones.
  await ok(env, ['volume', 'create', 'named-unused']);
  r = await cli(env, ['volume', 'prune'], 'yes\n');
  assert.equal(r.out, 'WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ');
  assert.ok(existsSync(join(root, 'volumes', anon)), 'anything but y is no');
  r = await cli(env, ['volume', 'prune'], 'y\n');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] Deleted Volumes:\n${anon}\n\nTotal reclaimed space: 0B\n`);
  assert.ok(!existsSync(join(root, 'volumes', anon)));
  writeData(root, 'named-unused', 1500);
  assert.equal(await ok(env, ['volume', 'prune', '-a', '-f']), 'Deleted Volumes:\nnamed-unused\n\nTotal reclaimed space: 1.5kB\n');
  assert.equal(await ok(env, ['volume', 'prune', '-f']), 'Total reclaimed space: 0B\n');
  assert.equal(await ok(env, ['volume', 'ls', '-q']), 'data\n', 'the volume in use stays');
  r = await cli(env, ['volume', 'prune', '-f', '--filter', 'until=1h']);
  assert.deepEqual([r.code, r.err], [1, "Error response from daemon: invalid filter 'until'\n"]);
  r = await cli(env, ['volume', 'frob']);
  assert.deepEqual([r.code, r.err], [1, "berth volume: 'frob' is not a berth volume command.\nSee 'berth volume --help'\n"]);
}));

function writeData(root: string, vol: string, bytes: number): void {
  writeFileSync(join(root, 'volumes', vol, '_data', 'blob'), Buffer.alloc(bytes));
}

test('container prune: stopped containers go (their rw bytes counted), running ones stay; filters; prompt', { skip }, () => withEngine(async ({ core, env }) => {
  const a = await exited(core, 'pr-a', 'echo hello > /greeting');
  const b = await exited(core, 'pr-b', 'exit 3', { keep: '1' });
  const created = await createContainer(core, { image: 'busybox:latest', name: 'pr-created', options: { cmd: ['true'] } });
  const up = await running(core, 'pr-up');
  let r = await cli(env, ['container', 'prune'], 'n\n');
  assert.deepEqual([r.code, r.out], [0, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ']);
  assert.equal(core.store.containers.list({ all: true }).length, 4);
  r = await cli(env, ['container', 'prune', '-f', '--filter', 'label!=keep']);
  assert.equal(r.code, 0, r.err);
  const [head, ...rest] = r.out.split('\n');
  assert.equal(head, 'Deleted Containers:');
  assert.deepEqual(rest.slice(0, 2).sort(), [a, created.id].sort());
  assert.deepEqual(rest.slice(2), ['', 'Total reclaimed space: 6B', ''], 'the 6 bytes of /greeting');
  assert.deepEqual(core.store.containers.list({ all: true }).map((c) => c.id).sort(), [b, up].sort());
  r = await cli(env, ['container', 'prune', '-f', '--filter', 'bogus=1']);
  assert.deepEqual([r.code, r.err], [1, "Error response from daemon: invalid filter 'bogus'\n"]);
  assert.equal(await ok(env, ['container', 'prune', '-f']), `Deleted Containers:\n${b}\n\nTotal reclaimed space: 0B\n`);
  assert.equal(await ok(env, ['container', 'prune', '-f']), 'Total reclaimed space: 0B\n');
  assert.deepEqual(core.store.containers.list({ all: true }).map((c) => c.id), [up]);
  const events = core.store.events.query({ filters: { type: ['container'], event: ['prune'] } }).map((e) => e.actor.attributes.reclaimed);
  assert.deepEqual(events, ['6', '0', '0']);
}));

test('port: nothing published for a container; a missing container or port is an error', { skip }, () => withEngine(async ({ core, env }) => {
  await createContainer(core, { image: 'busybox:latest', name: 'porty', options: { cmd: ['true'] } });
  assert.equal(await ok(env, ['port', 'porty']), '');
  assert.equal(await ok(env, ['container', 'port', 'porty']), '');
  let r = await cli(env, ['port', 'porty', '80/tcp']);
  assert.deepEqual([r.code, r.out, r.err], [1, '', "Error: No public port '80/tcp' published for porty\n"]);
  r = await cli(env, ['port', 'porty', 'http']);
  assert.deepEqual([r.code, r.err], [1, 'Error: invalid port (http): strconv.ParseUint: parsing "http": invalid syntax\n']);
  r = await cli(env, ['port', 'nope']);
  assert.deepEqual([r.code, r.err], [1, 'Error response from daemon: No such container: nope\n']);
  r = await cli(env, ['port']);
  assert.equal(r.code, 1);
  assert.match(r.err, /^"berth port" requires /);
}));

test('info: Docker\'s layout with this machine\'s facts, container counts, --format', { skip }, () => withEngine(async ({ core, env, root }) => {
  await exited(core, 'info-done', 'true');
  await running(core, 'info-up');
  const out = await ok(env, ['info']);
  const lines = out.split('\n');
  assert.deepEqual(lines.slice(0, 6), ['Client:', ` Version:    ${VERSION}`, ' Context:    default', ' Debug Mode: false', '', 'Server:']);
  const want = [
    ' Containers: 2', '  Running: 1', '  Paused: 0', '  Stopped: 1', ' Images: 1', ` Server Version: ${VERSION}`,
    ' Logging Driver: json-file', ' Cgroup Driver: cgroupfs', ` Cgroup Version: ${detectLayout('/sys/fs/cgroup').version}`,
    ` Kernel Version: ${release()}`, ' OSType: linux', ` CPUs: ${availableParallelism()}`, ` Docker Root Dir: ${root}`,
    ' Default Runtime: berth', ' Live Restore Enabled: false',
  ];
  for (const w of want) assert.ok(lines.includes(w), `missing ${JSON.stringify(w)} in\n${out}`);
  assert.ok(lines.some((l) => /^ Storage Driver: (overlay2|vfs)$/.test(l)));
  assert.ok(lines.some((l) => /^ Total Memory: \d+(\.\d+)?GiB$/.test(l)));
  if (lines.includes(' Storage Driver: overlay2')) assert.ok(lines.some((l) => /^ {2}Backing Filesystem: \S+$/.test(l)));
  assert.ok(out.endsWith(' Live Restore Enabled: false\n\n'));
  assert.equal(await ok(env, ['info', '--format', '{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.OSType}} {{.DockerRootDir}}']), `2 1 1 linux ${root}\n`);
  const j = JSON.parse(await ok(env, ['system', 'info', '-f', 'json']));
  assert.equal(j.ServerVersion, VERSION);
  assert.equal(j.ClientInfo.Version, VERSION);
  assert.equal(j.LoggingDriver, 'json-file');
}));

test('system df: summary rows and -v tables reflect images, containers and volumes', { skip }, () => withEngine(async ({ core, env }) => {
  await exited(core, 'df-done', 'echo 12345 > /f');
  await running(core, 'df-up', [{ source: 'dfvol', target: '/v' }]);
  await ok(env, ['volume', 'create', 'dfidle']);
  const out = await ok(env, ['system', 'df']);
  const rows = out.trimEnd().split('\n').map((l) => l.split(/\s{2,}/));
  assert.deepEqual(rows[0], ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE']);
  assert.equal(out.split('\n')[0], 'TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE', "Docker's tabwriter: min width 10, padding 3");
  assert.equal(rows[1]![0], 'Images');
  assert.deepEqual(rows[1]!.slice(1, 3), ['1', '1']);
  assert.match(rows[1]![4]!, /^0B \(0%\)$/, 'the only image is in use');
  assert.deepEqual(rows[2], ['Containers', '2', '1', '6B', '6B (100%)']);
  assert.deepEqual(rows[3], ['Local Volumes', '2', '1', '0B', '0B']);
  assert.deepEqual(rows[4], ['Build Cache', '0', '0', '0B', '0B']);
  const json = (await ok(env, ['system', 'df', '--format', 'json'])).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(json[1], { Active: '1', Reclaimable: '6B (100%)', Size: '6B', TotalCount: '2', Type: 'Containers' });
  assert.equal(await ok(env, ['system', 'df', '--format', '{{.Type}}={{.TotalCount}}']), 'Images=1\nContainers=2\nLocal Volumes=2\nBuild Cache=0\n');
  const v = await ok(env, ['system', 'df', '-v']);
  const sections = ['Images space usage:', 'Containers space usage:', 'Local Volumes space usage:', 'Build cache usage: 0B'];
  let at = -1;
  for (const s of sections) { const i = v.indexOf(`${s}\n\n`); assert.ok(i > at, `${s} in order:\n${v}`); at = i; }
  assert.match(v, /\nREPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+SHARED SIZE\s+UNIQUE SIZE\s+CONTAINERS\nbusybox\s+latest\s+[0-9a-f]{12}\s+.+ ago\s+\S+\s+0B\s+\S+\s+2\n/);
  assert.match(v, /\nCONTAINER ID\s+IMAGE\s+COMMAND\s+LOCAL VOLUMES\s+SIZE\s+CREATED\s+STATUS\s+NAMES\n/);
  assert.match(v, /\n[0-9a-f]{12}\s+busybox:latest\s+"sh -c echo 12345 > …"\s+0\s+6B\s+.+ ago\s+Exited \(0\) .+ ago\s+df-done\n/);
  assert.match(v, /\nVOLUME NAME\s+LINKS\s+SIZE\ndfidle\s+0\s+0B\ndfvol\s+1\s+0B\n/);
  assert.match(v, /\nCACHE ID\s+CACHE TYPE\s+SIZE\s+CREATED\s+LAST USED\s+USAGE\s+SHARED\n$/);
  const vj = JSON.parse(await ok(env, ['system', 'df', '-v', '--format', 'json']));
  assert.deepEqual(Object.keys(vj), ['Images', 'Containers', 'Volumes', 'BuildCache']);
  assert.equal(vj.Volumes.length, 2);
  const r = await cli(env, ['system', 'df', '-v', '--format', '{{.Type}}']);
  assert.equal(r.code, 1);
}));

test('system prune: Docker\'s warning, then containers, volumes (--volumes) and images (-a)', { skip }, () => withEngine(async ({ core, env, root, imageId }) => {
  const done = await exited(core, 'sp-done', 'echo abc > /x');
  await ok(env, ['volume', 'create']);
  const anonVol = (await ok(env, ['volume', 'ls', '-q'])).trim();
  let r = await cli(env, ['system', 'prune', '--volumes', '--filter', 'label=a=b'], '\n');
  assert.equal(r.out, [
    'WARNING! This will remove:',
    '  - all stopped containers',
    '  - all networks not used by at least one container',
    '  - all anonymous volumes not used by at least one container',
    '  - all dangling images',
    '  - unused build cache',
    '',
    '  Items to be pruned will be filtered with:',
    '  - label=a=b',
    '',
    'Are you sure you want to continue? [y/N] ',
  ].join('\n'));
  assert.equal(core.store.containers.list({ all: true }).length, 1, 'nothing removed without y');
  r = await cli(env, ['system', 'prune', '-a'], 'n\n');
  assert.ok(r.out.startsWith('WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all images without at least one container associated to them\n  - all build cache\n\nAre you sure'));
  r = await cli(env, ['system', 'prune', '-f', '--volumes', '--filter', 'until=1h']);
  assert.deepEqual([r.code, r.out], [1, '']);
  assert.equal(await ok(env, ['system', 'prune', '-f', '--volumes']), `Deleted Containers:\n${done}\n\nDeleted Volumes:\n${anonVol}\n\nTotal reclaimed space: 4B\n`);
  assert.equal(core.store.containers.list({ all: true }).length, 0);
  assert.equal(await ok(env, ['volume', 'ls', '-q']), '');
  const out = await ok(env, ['system', 'prune', '-a', '-f']);
  assert.match(out, new RegExp(`^Deleted Images:\nuntagged: busybox:latest\ndeleted: ${imageId}\n\nTotal reclaimed space: \\d+(\\.\\d+)?[kM]B\n$`));
  assert.equal(await ok(env, ['images', '-q']), '');
  assert.ok(existsSync(root));
}));

/** Collects the lines a running `berth events` prints; `waitFor` resolves with the first line matching. */
function lineReader(child: ChildProcess): { lines: string[]; waitFor(re: RegExp, ms?: number): Promise<string> } {
  const lines: string[] = [];
  let buf = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d; });
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters) w();
  });
  return {
    lines,
    waitFor: (re, ms = 30_000) => new Promise((resolve, reject) => {
      const check = () => {
        const hit = lines.find((l) => re.test(l));
        if (hit === undefined) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(hit);
      };
      const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out waiting for ${re}; got ${JSON.stringify(lines)}, stderr ${JSON.stringify(err)}`)); }, ms);
      waiters.add(check);
      check();
    }),
  };
}

const exitOf = (child: ChildProcess) => new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));

test('events: Docker\'s line format, --since/--until windows, filters, --format, following until Ctrl-C or --until', { skip }, () => withEngine(async ({ core, env }) => {
  const since = new Date().toISOString();
  const id = await exited(core, 'ev-one', 'true');
  const past = await ok(env, ['events', '--since', since, '--until', new Date(Date.now() + 1).toISOString(), '--filter', 'container=ev-one']);
  const lines = past.trimEnd().split('\n');
  const re = (action: string, extra = '') => new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}(Z|[+-]\\d\\d:\\d\\d) container ${action} ${id} \\(${extra}image=busybox:latest, name=ev-one\\)$`);
  assert.match(lines[0]!, re('create'));
  assert.match(lines[1]!, re('start'));
  assert.match(lines.at(-1)!, re('die', 'exitCode=0, '));
  assert.equal(await ok(env, ['events', '--since', since, '--until', new Date(Date.now() + 1).toISOString(), '--filter', 'event=die', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Status}}']), 'container die ev-one die\n');
  const j = JSON.parse((await ok(env, ['events', '--since', since, '--until', new Date(Date.now() + 1).toISOString(), '--filter', 'event=start', '--format', 'json'])).trim());
  assert.deepEqual(Object.keys(j), ['status', 'id', 'from', 'Type', 'Action', 'Actor', 'scope', 'time', 'timeNano']);
  assert.equal(j.id, id);
  assert.equal(j.from, 'busybox:latest');
  assert.ok(Number.isInteger(j.timeNano) || typeof j.timeNano === 'number');
  assert.equal(await ok(env, ['events', '--since', '1h', '--until', '0s', '--filter', 'type=volume']), '');
  let r = await cli(env, ['events', '--since', 'yesterday']);
  assert.deepEqual([r.code, r.err], [1, 'failed to parse value as time or duration: "yesterday"\n']);
  r = await cli(env, ['events', '--until', '0s', '--filter', 'colour=red']);
  assert.deepEqual([r.code, r.err], [1, "Error response from daemon: invalid filter 'colour'\n"]);

  // Following: only events after the start (none of the earlier ones), until Ctrl-C. The
  // follower's start-up time is unknown, so volumes are made until it reports one.
  await ok(env, ['volume', 'create', 'ev-old']);
  const follower = spawnCli(env, ['events', '--filter', 'type=volume']);
  const closed = exitOf(follower);
  const fl = lineReader(follower);
  let made = 0;
  while (!fl.lines.length && made < 60) {
    await ok(env, ['volume', 'create', `ev-vol-${++made}`]);
    await new Promise((res) => setTimeout(res, 300));
  }
  const line1 = await fl.waitFor(/./);
  const k = Number(/^\S+ volume create ev-vol-(\d+) \(driver=local\)$/.exec(line1)?.[1]);
  assert.ok(k >= 1 && k <= made, `the first followed event is a new one: ${line1}`);
  await ok(env, ['volume', 'rm', 'ev-old']);
  await fl.waitFor(/^\S+ volume destroy ev-old \(driver=local\)$/);
  assert.deepEqual(fl.lines.map((l) => l.split(' ').slice(1).join(' ')), [
    ...Array.from({ length: made - k + 1 }, (_, i) => `volume create ev-vol-${k + i} (driver=local)`),
    'volume destroy ev-old (driver=local)',
  ], 'every event once, in order');
  follower.kill('SIGINT');
  assert.equal(await closed, 130);

  // --until in the future: replays from --since, follows, then ends by itself at the deadline.
  const t = Date.now();
  const deadline = Math.ceil((t + 8000) / 1000);
  const bounded = spawnCli(env, ['events', '--since', new Date(t).toISOString(), '--until', String(deadline), '--format', '{{.Action}} {{.Actor.ID}}']);
  const boundedExit = exitOf(bounded);
  const bl = lineReader(bounded);
  await ok(env, ['volume', 'create', 'ev-later']);
  await bl.waitFor(/^create ev-later$/);
  assert.equal(await boundedExit, 0);
  assert.ok(Date.now() >= deadline * 1000, 'it followed until the deadline');
  assert.deepEqual(bl.lines, ['create ev-later']);
}));
