import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  flagError, parseCpus, parseDevice, parseEnv, parseEnvFile, parseLabel, parseLabelFile, parseMemorySwap, parseMount, parseSecurityOpt,
  parseSize, parseSysctl, parseThrottleBps, parseThrottleIops, parseTmpfs, parseUlimit, parseVolume, parseWeightDevice,
} from '../../src/engine/spec/index.js';

const fails = (fn: () => unknown, message: string, kind = 'usage') =>
  assert.throws(fn, (e: any) => { assert.equal(e.kind, kind); assert.equal(e.message, message); return true; });

test('sizes (go-units RAMInBytes)', () => {
  assert.equal(parseSize('64m'), 64 * 1024 * 1024);
  assert.equal(parseSize('1g'), 1024 ** 3);
  assert.equal(parseSize('1GiB'), 1024 ** 3);
  assert.equal(parseSize('10 KB'), 10240);
  assert.equal(parseSize('1.5k'), 1536);
  assert.equal(parseSize('512'), 512);
  assert.equal(parseSize('100b'), 100);
  fails(() => parseSize('x'), "invalid size: 'x'");
  fails(() => parseSize('1x'), "invalid suffix: 'x'");
  fails(() => parseSize('1mbb'), "invalid suffix: 'mbb'");
  fails(() => parseSize('1mx'), "invalid suffix: 'mx'");
  assert.equal(parseMemorySwap('-1'), -1);
  assert.equal(flagError('--memory', 'x', new Error("invalid size: 'x'")).message, 'invalid argument "x" for "--memory" flag: invalid size: \'x\'');
});

test('--cpus as exact nano-CPUs', () => {
  assert.equal(parseCpus('1.5'), 1_500_000_000);
  assert.equal(parseCpus('0.01'), 10_000_000);
  assert.equal(parseCpus('2'), 2e9);
  assert.equal(parseCpus('1/4'), 250_000_000);
  assert.equal(parseCpus('1e-3'), 1_000_000);
  fails(() => parseCpus('0.0000000001'), 'value is too precise');
  fails(() => parseCpus('abc'), 'failed to parse abc as a rational number');
});

test('--ulimit', () => {
  assert.deepEqual(parseUlimit('nofile=1024:2048'), { name: 'nofile', soft: 1024, hard: 2048 });
  assert.deepEqual(parseUlimit('nproc=100'), { name: 'nproc', soft: 100, hard: 100 });
  assert.deepEqual(parseUlimit('core=-1'), { name: 'core', soft: -1, hard: -1 });
  fails(() => parseUlimit('nofile'), 'invalid ulimit argument: nofile');
  fails(() => parseUlimit('as=1'), 'invalid ulimit type: as');
  fails(() => parseUlimit('nofile=2048:1024'), 'ulimit soft limit must be less than or equal to hard limit: 2048 > 1024');
  fails(() => parseUlimit('nofile=1:2:3'), 'too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`');
});

test('--device', () => {
  assert.deepEqual(parseDevice('/dev/fuse'), { pathOnHost: '/dev/fuse', pathInContainer: '/dev/fuse', cgroupPermissions: 'rwm' });
  assert.deepEqual(parseDevice('/dev/sda:/dev/xvda'), { pathOnHost: '/dev/sda', pathInContainer: '/dev/xvda', cgroupPermissions: 'rwm' });
  assert.deepEqual(parseDevice('/dev/sda:r'), { pathOnHost: '/dev/sda', pathInContainer: '/dev/sda', cgroupPermissions: 'r' });
  assert.deepEqual(parseDevice('/dev/sda:/dev/xvda:rw'), { pathOnHost: '/dev/sda', pathInContainer: '/dev/xvda', cgroupPermissions: 'rw' });
  fails(() => parseDevice('/dev/sda:/dev/xvda:rwx'), 'bad mode specified: rwx');
  fails(() => parseDevice('/a:/b:r:w'), 'bad format for path: /a:/b:r:w');
  fails(() => parseDevice('/dev/sda:xvda'), 'xvda is not an absolute path');
});

test('blkio device values', () => {
  assert.deepEqual(parseThrottleBps('/dev/sda:1mb'), { path: '/dev/sda', rate: 1 << 20 });
  assert.deepEqual(parseThrottleIops('/dev/sda:1000'), { path: '/dev/sda', rate: 1000 });
  assert.deepEqual(parseWeightDevice('/dev/sda:200'), { path: '/dev/sda', weight: 200 });
  fails(() => parseThrottleBps('sda:1mb'), 'bad format for device path: sda:1mb');
  fails(() => parseThrottleIops('/dev/sda:1k'), 'invalid rate for device: /dev/sda:1k. The correct format is <device-path>:<number>. Number must be a positive integer');
  fails(() => parseWeightDevice('/dev/sda:5'), 'invalid weight for device: /dev/sda:5');
});

test('--mount', () => {
  assert.deepEqual(parseMount('type=bind,source=/a,target=/b,readonly'), { type: 'bind', source: '/a', target: '/b', readonly: true });
  assert.deepEqual(parseMount('type=bind,src=/a,dst=/b,ro=false,bind-propagation=rshared'), { type: 'bind', source: '/a', target: '/b', readonly: false, propagation: 'rshared' });
  assert.deepEqual(parseMount('source=data,target=/data,volume-nocopy,volume-opt=o=1'), { type: 'volume', source: 'data', target: '/data', readonly: false, noCopy: true, volumeOptions: { o: '1' } });
  assert.deepEqual(parseMount('type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=700'), { type: 'tmpfs', target: '/t', readonly: false, tmpfsSize: 1 << 20, tmpfsMode: 0o700 });
  assert.deepEqual(parseMount('type=bind,"source=/a,b",target=/c').source, '/a,b');
  assert.equal(parseMount('type=bind,source=./x,target=/c', '/cwd').source, '/cwd/x');
  fails(() => parseMount('type=bind,source=/a'), 'target is required');
  fails(() => parseMount('type=bind,bogus'), "invalid field 'bogus' must be a key=value pair");
  fails(() => parseMount('type=bind,foo=bar,target=/x'), "unexpected key 'foo' in 'foo=bar'");
  fails(() => parseMount('type=tmpfs,target=/x,volume-nocopy'), "cannot mix 'volume-*' options with mount type 'tmpfs'");
  fails(() => parseMount('type=bind,source=/a,target=/b,bind-recursive=writable'), "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction");
  fails(() => parseMount('type=bind,target=/b'), 'invalid mount config for type "bind": field Source must not be empty', 'invalid');
  fails(() => parseMount('type=bind,source=/a,target=b'), 'invalid mount config for type "bind": invalid mount path: \'b\' mount path must be absolute', 'invalid');
  fails(() => parseMount('type=bind,source=/a,target=/'), 'invalid mount config for type "bind": invalid specification: destination can\'t be \'/\'', 'invalid');
});

test('-v', () => {
  assert.deepEqual(parseVolume('/data'), { type: 'volume', target: '/data', readonly: false });
  assert.deepEqual(parseVolume('/src:/dst:ro,z'), { type: 'bind', source: '/src', target: '/dst', readonly: true, createMountpoint: true, selinuxLabel: 'z' });
  assert.deepEqual(parseVolume('vol:/dst:nocopy,rshared'), { type: 'volume', source: 'vol', target: '/dst', readonly: false, propagation: 'rshared', noCopy: true });
  assert.equal(parseVolume('./rel:/dst', '/cwd').source, '/cwd/rel');
  fails(() => parseVolume('/dst:ro'), "invalid volume specification: '/dst:ro'", 'invalid');
  fails(() => parseVolume('/a:/b:ro,rw'), 'invalid mode: ro,rw', 'invalid');
  fails(() => parseVolume('a:b:c:d'), "invalid volume specification: 'a:b:c:d'", 'invalid');
  fails(() => parseVolume('/a:rel'), "invalid volume specification: '/a:rel': invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute", 'invalid');
  assert.throws(() => parseVolume('b@d:/x'), /includes invalid characters for a local volume name/);
});

test('--tmpfs, --sysctl, -e, -l, env and label files', () => {
  assert.deepEqual(parseTmpfs('/run:rw,size=64m'), ['/run', 'rw,size=64m']);
  assert.deepEqual(parseTmpfs('/tmp'), ['/tmp', '']);
  assert.deepEqual(parseSysctl('net.ipv4.ip_forward=1'), ['net.ipv4.ip_forward', '1']);
  assert.deepEqual(parseSysctl('kernel.sem=1 2 3=4'), ['kernel.sem', '1 2 3=4']);
  assert.equal(parseEnv('A=1'), 'A=1');
  assert.equal(parseEnv('HOME', (k) => (k === 'HOME' ? '/root' : undefined)), 'HOME=/root');
  assert.equal(parseEnv('UNSET_X'), 'UNSET_X');
  fails(() => parseEnv('=x'), 'invalid environment variable: =x');
  assert.deepEqual(parseLabel('a=b=c'), ['a', 'b=c']);
  assert.deepEqual(parseLabel('flag'), ['flag', '']);
  const env = '\uFEFF# comment\n  A=1\nB= spaced \n\nC\nD\r\n';
  assert.deepEqual(parseEnvFile(env, 'f', (k) => (k === 'C' ? 'from-env' : undefined)), ['A=1', 'B= spaced ', 'C=from-env', 'D']);
  fails(() => parseEnvFile('BAD KEY=1'), "poorly formatted environment: variable 'BAD KEY' contains whitespaces");
  fails(() => parseEnvFile('=1'), "poorly formatted environment: no variable name on line '=1'");
  assert.deepEqual(parseLabelFile('a=1\n# x\nb\n'), { a: '1', b: '' });
});

test('--security-opt seccomp=FILE is read and compacted', () => {
  const files: Record<string, string> = { '/p.json': '{\n  "defaultAction": "SCMP_ACT_ALLOW"\n}\n', '/bad.json': '{' };
  const read = (p: string) => { if (!(p in files)) throw new Error('no such file'); return files[p]; };
  assert.equal(parseSecurityOpt('seccomp=/p.json', read), 'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}');
  assert.equal(parseSecurityOpt('seccomp=unconfined', read), 'seccomp=unconfined');
  assert.equal(parseSecurityOpt('no-new-privileges', read), 'no-new-privileges');
  assert.throws(() => parseSecurityOpt('seccomp=/nope', read), /opening seccomp profile \(\/nope\) failed/);
  assert.throws(() => parseSecurityOpt('seccomp=/bad.json', read), /compacting json for seccomp profile \(\/bad.json\) failed/);
});
