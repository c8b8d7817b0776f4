import { test } from 'node:test';
import assert from 'node:assert/strict';
import { helpText, parseFlags, type FlagSpec } from '../../src/cli/flags.js';
import { formatItems, renderTemplate } from '../../src/cli/image/format.js';
import { humanDuration, humanSize } from '../../src/cli/image/common.js';
import { ProgressPrinter, progressBar } from '../../src/cli/image/progress.js';

const specs: FlagSpec[] = [
  { name: 'all', short: 'a', type: 'bool', help: 'all' },
  { name: 'quiet', short: 'q', type: 'bool', help: 'quiet' },
  { name: 'interactive', short: 'i', type: 'bool', help: 'i' },
  { name: 'tty', short: 't', type: 'bool', help: 't' },
  { name: 'output', short: 'o', type: 'string', help: 'out' },
  { name: 'filter', short: 'f', type: 'strings', help: 'filter' },
  { name: 'count', short: 'n', type: 'int', help: 'n', default: 3 },
  { name: 'human', short: 'H', type: 'bool', default: true, help: 'h' },
];
const o = { command: 'berth test' };

test('long and short flags, values, repeats and combined bools', () => {
  const p = parseFlags(['-it', '--output=x.tar', 'arg1', '-f', 'a=1', '--filter', 'b=2', '-n5', '--human=false', 'arg2', '-qa'], specs, o);
  assert.deepEqual(p.args, ['arg1', 'arg2']);
  assert.equal(p.flags.interactive, true);
  assert.equal(p.flags.tty, true);
  assert.equal(p.flags.output, 'x.tar');
  assert.deepEqual(p.flags.filter, ['a=1', 'b=2']);
  assert.equal(p.flags.count, 5);
  assert.equal(p.flags.human, false);
  assert.equal(p.flags.quiet, true);
  assert.equal(p.flags.all, true);
  assert.ok(p.set.has('output') && !p.set.has('help'));
  const q = parseFlags(['-o', 'file', '-o=other', '-', '--', '-a', '--x'], specs, o);
  assert.equal(q.flags.output, 'other');
  assert.deepEqual(q.args, ['-', '-a', '--x']);
  assert.equal(q.flags.all, false);
  assert.equal(q.flags.count, 3, 'default');
  const r = parseFlags(['-q', 'image', '-a', 'cmd'], specs, { ...o, stopAtFirstArg: true });
  assert.deepEqual(r.args, ['image', '-a', 'cmd']);
  assert.equal(r.flags.all, false);
  assert.equal(parseFlags(['--help'], specs, o).flags.help, true);
  assert.equal(parseFlags(['-ioout'], specs, o).flags.output, 'out');
});

test('flag errors read like Docker\'s', () => {
  const err = (argv: string[], re: RegExp) => assert.throws(() => parseFlags(argv, specs, o), (e: Error & { kind?: string }) => {
    assert.equal(e.kind, 'usage');
    assert.match(e.message, re);
    assert.match(e.message, /See 'berth test --help'\./);
    return true;
  });
  err(['--foo'], /^unknown flag: --foo/);
  err(['-x'], /^unknown shorthand flag: 'x' in -x/);
  err(['-ax'], /^unknown shorthand flag: 'x' in -ax/);
  err(['--output'], /^flag needs an argument: --output/);
  err(['-o'], /^flag needs an argument: 'o' in -o/);
  err(['-n', 'abc'], /invalid argument "abc" for "-n, --count" flag/);
  err(['--all=maybe'], /invalid argument "maybe" for "-a, --all" flag/);
});

test('help text lists the options', () => {
  const h = helpText('berth test [OPTIONS]', 'Test things', specs);
  assert.match(h, /Usage:  berth test \[OPTIONS\]/);
  assert.match(h, /-o, --output string\s+out/);
  assert.match(h, /-f, --filter list\s+filter/);
  assert.match(h, /-n, --count int\s+n \(default 3\)/);
  assert.match(h, /--help\s+Print usage/);
});

test('templates, tables and JSON lines', () => {
  const items = [{ Repository: 'busybox', Tag: 'latest', ID: 'abc', Size: '1MB', List: ['a', 'b'], Nested: { K: 'v' } }, { Repository: 'x', Tag: '<none>', ID: 'def', Size: '10kB', List: [], Nested: { K: 'w' } }];
  assert.equal(renderTemplate('{{.Repository}}:{{.Tag}}', items[0]), 'busybox:latest');
  assert.equal(renderTemplate('{{json .Nested}} {{.Nested.K}} {{.List}} {{join .List ","}} {{upper .Tag}}', items[0]), '{"K":"v"} v [a b] a,b LATEST');
  assert.equal(formatItems('{{.ID}}', items, ''), 'abc\ndef\n');
  assert.equal(formatItems('table {{.Repository}}\\t{{.ID}}', items, ''), 'REPOSITORY   IMAGE ID\nbusybox      abc\nx            def\n');
  assert.equal(formatItems('', items, '{{.Repository}}\t{{.Tag}}\t{{.Size}}'), 'REPOSITORY   TAG       SIZE\nbusybox      latest    1MB\nx            <none>    10kB\n');
  const lines = formatItems('json', items, '').trim().split('\n');
  assert.deepEqual(JSON.parse(lines[1]!).ID, 'def');
  assert.throws(() => renderTemplate('{{nosuch .X}}', {}), /not defined|can't evaluate/);
});

test('human sizes and durations follow docker/go-units', () => {
  assert.equal(humanSize(0), '0B');
  assert.equal(humanSize(999), '999B');
  assert.equal(humanSize(4_261_234), '4.26MB');
  assert.equal(humanSize(1_000_000_000), '1GB');
  assert.equal(humanSize(12_345, 4), '12.35kB');
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(30_000), '30 seconds');
  assert.equal(humanDuration(90_000), 'About a minute');
  assert.equal(humanDuration(3 * 3600_000), '3 hours');
  assert.equal(humanDuration(3 * 86400_000), '3 days');
  assert.equal(humanDuration(20 * 86400_000), '2 weeks');
  assert.equal(humanDuration(100 * 86400_000), '3 months');
  assert.equal(humanDuration(800 * 86400_000), '2 years');
});

function sink(isTTY: boolean): { out: NodeJS.WritableStream & { isTTY: boolean }; text: () => string } {
  let buf = '';
  const out = { isTTY, write: (s: string) => { buf += s; return true; } } as unknown as NodeJS.WritableStream & { isTTY: boolean };
  return { out, text: () => buf };
}

test('progress: plain lines without a terminal, redrawn lines with bars on one', () => {
  const plain = sink(false);
  const p = new ProgressPrinter(plain.out);
  p.handle({ id: 'latest', status: 'Pulling from library/busybox' });
  p.handle({ id: 'aaaaaaaaaaaa', status: 'Pulling fs layer' });
  p.handle({ id: 'aaaaaaaaaaaa', status: 'Downloading', current: 10, total: 100 });
  p.handle({ id: 'aaaaaaaaaaaa', status: 'Downloading', current: 20, total: 100 });
  p.handle({ id: 'aaaaaaaaaaaa', status: 'Pull complete' });
  p.handle({ id: '', status: 'Digest: sha256:x' });
  assert.equal(plain.text(), 'latest: Pulling from library/busybox\naaaaaaaaaaaa: Pulling fs layer\naaaaaaaaaaaa: Pull complete\nDigest: sha256:x\n');

  const tty = sink(true);
  const t = new ProgressPrinter(tty.out, { throttleMs: 0 });
  t.handle({ id: 'aaaaaaaaaaaa', status: 'Pulling fs layer' });
  t.handle({ id: 'bbbbbbbbbbbb', status: 'Pulling fs layer' });
  t.handle({ id: 'aaaaaaaaaaaa', status: 'Downloading', current: 500_000, total: 1_000_000 });
  const s = tty.text();
  assert.match(s, /\x1b\[2KPulling fs layer|aaaaaaaaaaaa: Pulling fs layer\n/);
  assert.ok(s.includes('\x1b[2A'), 'moves up two lines to the first layer');
  assert.ok(s.includes('aaaaaaaaaaaa: Downloading [========================>                         ]  500kB/1MB'), s);
  assert.equal(progressBar(1, 1), `[${'='.repeat(50)}]`);
  assert.equal(progressBar(0, 10), `[${' '.repeat(50)}]`);
});
