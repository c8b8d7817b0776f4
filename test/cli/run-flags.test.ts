import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../src/lib/index.js';
import { parseRunArgs, runHelp, type RunCommand, type RunParse } from '../../src/cli/container/run-flags.js';

const env = (k: string) => ({ HOME: '/root', FOO: 'from-env' } as Record<string, string>)[k];
const parse = (argv: string[], command: RunCommand = 'run') => {
  const r: RunParse = parseRunArgs(command, argv, { cwd: '/work', env });
  assert.equal(r.kind, 'run');
  return r as Extract<RunParse, { kind: 'run' }>;
};
const split = (s: string) => s.split(' ');

// Each Docker invocation -> expected RunOptions fields (options) and CLI fields (cli).
const cases: Array<[string, Record<string, unknown>, Record<string, unknown>?]> = [
  ['busybox', {}, { image: 'busybox', args: [], detach: false, pull: 'missing', sigProxy: true, rm: false }],
  ['-it --rm -m 256m busybox sh', { tty: true, openStdin: true, memory: 256 * 1024 ** 2, cmd: ['sh'] }, { interactive: true, tty: true, rm: true, image: 'busybox', args: ['sh'] }],
  ['-dit busybox', { tty: true, openStdin: true }, { detach: true, interactive: true, tty: true }],
  ['-d --rm busybox sleep 10', { cmd: ['sleep', '10'] }, { detach: true, rm: true }],
  ['busybox ls -la --color', { cmd: ['ls', '-la', '--color'] }, { args: ['ls', '-la', '--color'] }],
  ['-t busybox -i', { tty: true, cmd: ['-i'] }, { interactive: false }],
  ['-- busybox echo', { cmd: ['echo'] }, { image: 'busybox' }],
  ['-i -- busybox -x', { openStdin: true, cmd: ['-x'] }],
  ['--name=web --name web2 busybox', {}, { name: 'web2' }],
  ['-e A=1 --env B=2 -eC=3 -e FOO -e NOPE busybox', { env: ['A=1', 'B=2', 'C=3', 'FOO=from-env', 'NOPE'] }],
  ['-w /app -u 1000:1000 --entrypoint /bin/sh --hostname h --domainname d.example busybox',
    { workdir: '/app', user: '1000:1000', entrypoint: '/bin/sh', hostname: 'h', domainname: 'd.example' }],
  ['--entrypoint= busybox', { entrypoint: '' }],
  ['-h myhost busybox', { hostname: 'myhost' }],
  ['-l a=1 --label b --label=c=x=y busybox', { labels: { a: '1', b: '', c: 'x=y' } }],
  ['--platform linux/amd64 --pull always -q busybox', {}, { platform: 'linux/amd64', pull: 'always', quiet: true }],
  ['--pull=never busybox', {}, { pull: 'never' }],
  ['--cidfile /tmp/cid --init --stop-signal SIGKILL --stop-timeout 3 busybox', { init: true, stopSignal: 'SIGKILL', stopTimeout: 3 }, { cidfile: '/tmp/cid' }],
  ['--init=false busybox', { init: false }],
  ['--detach-keys ctrl-x,x --sig-proxy=false busybox', {}, { detachKeys: 'ctrl-x,x', sigProxy: false }],
  ['--log-opt max-size=10m --log-opt max-file=3 busybox', {}, { logOpts: { maxSize: 10_000_000, maxFile: 3 } }],
  ['-v data:/data -v /host:/ro:ro,z -v /anon --volume ./rel:/rel busybox', { mounts: [
    { type: 'volume', source: 'data', target: '/data', readonly: false },
    { type: 'bind', source: '/host', target: '/ro', readonly: true, createMountpoint: true, selinuxLabel: 'z' },
    { type: 'volume', target: '/anon', readonly: false },
    { type: 'bind', source: '/work/rel', target: '/rel', readonly: false, createMountpoint: true },
  ] }],
  ['--mount type=bind,src=/a,dst=/b,readonly --mount type=tmpfs,dst=/t,tmpfs-size=1m --mount target=/v busybox', { mounts: [
    { type: 'bind', source: '/a', target: '/b', readonly: true },
    { type: 'tmpfs', target: '/t', readonly: false, tmpfsSize: 1024 * 1024 },
    { type: 'volume', target: '/v', readonly: false },
  ] }],
  ['--tmpfs /run --tmpfs /tmp:rw,size=64m --read-only --shm-size 128m busybox', { tmpfs: { '/run': '', '/tmp': 'rw,size=64m' }, readOnly: true, shmSize: 128 * 1024 ** 2 }],
  ['--volumes-from a --volumes-from b:ro busybox', {}, { volumesFrom: ['a', 'b:ro'] }],
  ['--network none --pid host --ipc shareable --uts host --cgroupns private --userns host busybox',
    { network: 'none', pid: 'host', ipc: 'shareable', uts: 'host', cgroupns: 'private', userns: 'host' }],
  ['--net host busybox', { network: 'host' }],
  ['--network container:abc --pid container:abc --ipc container:abc busybox', { network: 'container:abc', pid: 'container:abc', ipc: 'container:abc' }],
  ['-m 1g --memory-swap -1 --memory-reservation 512m --oom-kill-disable --oom-score-adj -500 busybox',
    { memory: 1024 ** 3, memorySwap: -1, memoryReservation: 512 * 1024 ** 2, oomKillDisable: true, oomScoreAdj: -500 }],
  ['--memory=64m --memory-swap=128m --memory-swappiness 0 busybox', { memory: 64 * 1024 ** 2, memorySwap: 128 * 1024 ** 2, memorySwappiness: 0 }],
  ['--cpus 1.5 --cpu-shares 512 --cpu-period 100000 --cpu-quota 50000 --cpuset-cpus 0-1 --cpuset-mems 0 busybox',
    { nanoCpus: 1_500_000_000, cpuShares: 512, cpuPeriod: 100000, cpuQuota: 50000, cpusetCpus: '0-1', cpusetMems: '0' }],
  ['-c 256 --pids-limit 64 --blkio-weight 300 busybox', { cpuShares: 256, pidsLimit: 64, blkioWeight: 300 }],
  ['--pids-limit=-1 busybox', { pidsLimit: -1 }],
  ['--device-read-bps /dev/sda:1mb --device-write-bps /dev/sda:2mb --device-read-iops /dev/sda:100 --device-write-iops /dev/sdb:200 busybox', {
    deviceReadBps: [{ path: '/dev/sda', rate: 1024 * 1024 }], deviceWriteBps: [{ path: '/dev/sda', rate: 2 * 1024 * 1024 }],
    deviceReadIops: [{ path: '/dev/sda', rate: 100 }], deviceWriteIops: [{ path: '/dev/sdb', rate: 200 }] }],
  ['--ulimit nofile=1024:2048 --ulimit nproc=10 --ulimit nofile=512 busybox', { ulimits: [{ name: 'nproc', soft: 10, hard: 10 }, { name: 'nofile', soft: 512, hard: 512 }] }],
  ['--privileged --cap-add NET_ADMIN --cap-add SYS_TIME --cap-drop ALL busybox', { privileged: true, capAdd: ['NET_ADMIN', 'SYS_TIME'], capDrop: ['ALL'] }],
  ['--security-opt seccomp=unconfined --security-opt no-new-privileges --security-opt label=disable busybox', { securityOpt: ['seccomp=unconfined', 'no-new-privileges', 'label=disable'] }],
  ['--device /dev/fuse --device /dev/sda:/dev/xvda:r --group-add audio --group-add 1234 --sysctl net.ipv4.ip_forward=1 busybox', {
    devices: [{ pathOnHost: '/dev/fuse', pathInContainer: '/dev/fuse', cgroupPermissions: 'rwm' }, { pathOnHost: '/dev/sda', pathInContainer: '/dev/xvda', cgroupPermissions: 'r' }],
    groupAdd: ['audio', '1234'], sysctls: { 'net.ipv4.ip_forward': '1' } }],
  ['-a stdout -a STDERR busybox', {}, { attach: ['stdout', 'stderr'] }],
  ['--restart always busybox', {}, { restart: 'always' }],
];

for (const [line, options, cli] of cases) {
  test(`berth run ${line}`, () => {
    const r = parse(split(line));
    for (const [k, v] of Object.entries(options)) assert.deepEqual((r.options as Record<string, unknown>)[k], v, k);
    for (const [k, v] of Object.entries(cli ?? {})) assert.deepEqual((r.cli as unknown as Record<string, unknown>)[k], v, k);
  });
}

test('options not given stay unset', () => {
  const r = parse(['busybox']);
  assert.deepEqual(r.options, {});
  assert.deepEqual(r.cli.logOpts, {});
  assert.equal(r.cli.restart, 'no');
});

test('create takes the same options and no -d / --sig-proxy / --detach-keys', () => {
  const r = parse(split('--name c1 -t busybox'), 'create');
  assert.equal(r.cli.name, 'c1');
  assert.equal(r.options.tty, true);
  assert.equal(r.cli.detach, false);
  assertErr(() => parseRunArgs('create', split('-d busybox')), "unknown shorthand flag: 'd' in -d\nSee 'berth create --help'.", 'usage');
  assertErr(() => parseRunArgs('create', split('--sig-proxy=false busybox')), "unknown flag: --sig-proxy\nSee 'berth create --help'.", 'usage');
});

test('--env-file and --label-file come before -e / -l', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-runflags-'));
  try {
    writeFileSync(join(dir, 'env'), '# comment\nA=file\nFOO\n\nB=2\n');
    writeFileSync(join(dir, 'labels'), 'x=1\ny=2\n');
    const r = parseRunArgs('run', ['--env-file', join(dir, 'env'), '-e', 'A=flag', '--label-file', join(dir, 'labels'), '-l', 'y=3', 'busybox'], { env });
    assert.equal(r.kind, 'run');
    if (r.kind !== 'run') return;
    assert.deepEqual(r.options.env, ['A=file', 'FOO=from-env', 'B=2', 'A=flag']);
    assert.deepEqual(r.options.labels, { x: '1', y: '3' });
    const missing = join(dir, 'nope');
    assertErr(() => parseRunArgs('run', ['--env-file', missing, 'busybox']), `berth: open ${missing}: no such file or directory\n\nRun 'berth run --help' for more information`, 'usage');
    writeFileSync(join(dir, 'prof.json'), '{ "defaultAction": "SCMP_ACT_ALLOW" }');
    const s = parseRunArgs('run', ['--security-opt', `seccomp=${join(dir, 'prof.json')}`, 'busybox']);
    assert.deepEqual(s.kind === 'run' && s.options.securityOpt, ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--help prints Docker-style usage', () => {
  const r = parseRunArgs('run', ['--help']);
  assert.equal(r.kind, 'help');
  const text = (r as { text: string }).text;
  assert.match(text, /^\nUsage: {2}berth run \[OPTIONS\] IMAGE \[COMMAND\] \[ARG\.\.\.\]\n\nCreate and run a new container from an image\n/);
  assert.match(text, /\n {2}-m, --memory bytes +Memory limit\n/);
  assert.match(text, /\n {2}-d, --detach +Run container/);
  assert.match(text, /--pull string +Pull image before running \("always", "missing", "never"\) \(default "missing"\)/);
  assert.ok(!/--net /.test(text), 'hidden --net');
  assert.ok(!runHelp('create').includes('--detach'));
  // after the image, --help is the command's
  assert.deepEqual(parse(['busybox', '--help']).cli.args, ['--help']);
});

function assertErr(f: () => unknown, message: string, kind: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof BerthError, String(e));
    assert.equal(e.message, message);
    assert.equal(e.kind, kind);
    return true;
  });
}

const SEE = "\nSee 'berth run --help'.";
const errors: Array<[string, string, string?]> = [
  ['--foo busybox', 'unknown flag: --foo' + SEE],
  ['-y busybox', "unknown shorthand flag: 'y' in -y" + SEE],
  ['-p 80/xyz busybox', 'berth: invalid proto: xyz.' + SEE],
  ['-itx busybox', "unknown shorthand flag: 'x' in -itx" + SEE],
  ['', `"berth run" requires at least 1 argument.${SEE}\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate and run a new container from an image`],
  ['-it', `"berth run" requires at least 1 argument.${SEE}\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate and run a new container from an image`],
  ['--name', 'flag needs an argument: --name' + SEE],
  ['-m x busybox', `invalid argument "x" for "-m, --memory" flag: invalid size: 'x'` + SEE],
  ['--memory=1q busybox', `invalid argument "1q" for "-m, --memory" flag: invalid suffix: 'q'` + SEE],
  ['--memory-swap abc busybox', `invalid argument "abc" for "--memory-swap" flag: invalid size: 'abc'` + SEE],
  ['--shm-size -1 busybox', `invalid argument "-1" for "--shm-size" flag: invalid size: '-1'` + SEE],
  ['--cpus abc busybox', `invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number` + SEE],
  ['--cpu-shares x busybox', `invalid argument "x" for "-c, --cpu-shares" flag: strconv.ParseInt: parsing "x": invalid syntax` + SEE],
  ['--blkio-weight -5 busybox', `invalid argument "-5" for "--blkio-weight" flag: strconv.ParseUint: parsing "-5": invalid syntax` + SEE],
  ['--blkio-weight 70000 busybox', `invalid argument "70000" for "--blkio-weight" flag: strconv.ParseUint: parsing "70000": value out of range` + SEE],
  ['--pids-limit ten busybox', `invalid argument "ten" for "--pids-limit" flag: strconv.ParseInt: parsing "ten": invalid syntax` + SEE],
  ['--ulimit nofile busybox', `invalid argument "nofile" for "--ulimit" flag: invalid ulimit argument: nofile` + SEE],
  ['--ulimit bogus=1 busybox', `invalid argument "bogus=1" for "--ulimit" flag: invalid ulimit type: bogus` + SEE],
  ['-e =x busybox', `invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x` + SEE],
  ['-l =x busybox', `invalid argument "=x" for "-l, --label" flag: invalid label '=x': empty name` + SEE],
  ['--device-read-bps /dev/sda busybox', `invalid argument "/dev/sda" for "--device-read-bps" flag: bad format: /dev/sda` + SEE],
  ['--mount type=bind busybox', `invalid argument "type=bind" for "--mount" flag: target is required` + SEE],
  ['-t=maybe busybox', `invalid argument "maybe" for "-t, --tty" flag: strconv.ParseBool: parsing "maybe": invalid syntax` + SEE],
  ['-a stdbad busybox', `invalid argument "stdbad" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR` + SEE],
  ['--pull sometimes busybox', `berth: invalid pull option: 'sometimes': must be one of "always", "missing" or "never".` + SEE],
  ['--pid bogus busybox', 'berth: --pid: invalid PID mode.' + SEE],
  ['--uts private busybox', 'berth: --uts: invalid UTS mode.' + SEE],
  ['--cgroupns bogus busybox', 'berth: --cgroupns: invalid CGROUP mode.' + SEE],
  ['--userns bogus busybox', 'berth: --userns: invalid USER mode.' + SEE],
  ['--memory-swappiness 101 busybox', 'berth: invalid value: 101. Valid memory swappiness range is 0-100.' + SEE],
  ['--rm --restart always busybox', 'berth: Conflicting options: --restart and --rm.' + SEE],
  ['--restart on-failure:x busybox', 'berth: invalid restart policy format: maximum retry count must be an integer.' + SEE],
  ['--restart :3 busybox', 'berth: invalid restart policy format: no policy provided before colon.' + SEE],
  ['-d -a stdout busybox', 'berth: Conflicting options: -a and -d.' + SEE],
  ['--device /dev/sda:/dev/b:rwx busybox', 'berth: bad mode specified: rwx.' + SEE],
  ['--security-opt seccomp=/nonexistent/p.json busybox', `berth: opening seccomp profile (/nonexistent/p.json) failed: ENOENT: no such file or directory, open '/nonexistent/p.json'.` + SEE],
  // checked by the daemon in Docker: kind 'invalid', the caller prints them as engine errors (exit 125)
  ['-v :/x busybox', "invalid volume specification: ':/x'", 'invalid'],
  ['-v rel/dir busybox', "invalid volume specification: 'rel/dir': invalid mount config for type \"volume\": invalid mount path: 'rel/dir' mount path must be absolute", 'invalid'],
  ['--tmpfs run busybox', `invalid mount config for type "tmpfs": invalid mount path: 'run' mount path must be absolute`, 'invalid'],
  ['--mount type=bind,dst=/x busybox', 'invalid mount config for type "bind": field Source must not be empty', 'invalid'],
  ['--ipc bogus busybox', 'invalid IPC mode: bogus', 'invalid'],
  ['--name -bad busybox', 'Invalid container name (-bad), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed', 'invalid'],
  ['--detach-keys ctrl-1 busybox', 'Invalid detach keys (ctrl-1) provided', 'invalid'],
  ['--log-opt max-size=0 busybox', 'max-size must be a positive number', 'invalid'],
  ['--log-opt max-size=1x busybox', "invalid suffix: 'x'", 'invalid'],
  ['--log-opt max-file=0 busybox', 'max-file cannot be less than 1', 'invalid'],
  ['--log-opt compress=true busybox', "unknown log opt 'compress' for json-file log driver", 'invalid'],
  ['--restart sometimes busybox', "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", 'invalid'],
  ['--restart on-failure:-1 busybox', 'invalid restart policy: maximum retry count cannot be negative', 'invalid'],
  ['--restart always:3 busybox', "invalid restart policy: maximum retry count can only be used with 'on-failure'", 'invalid'],
];

for (const [line, message, kind] of errors) {
  test(`error: berth run ${line}`, () => {
    assertErr(() => parseRunArgs('run', line ? split(line) : [], { env }), message, kind ?? 'usage');
  });
}

test('create errors name create', () => {
  assertErr(() => parseRunArgs('create', []), `"berth create" requires at least 1 argument.\nSee 'berth create --help'.\n\nUsage:  berth create [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate a new container`, 'usage');
});
