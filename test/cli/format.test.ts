/**
 * `--format` / `-f` through the real CLI: Go templates whole (range, index, printf, json, the
 * docker CLI's functions), ps's {{.Label "k"}}, table headers rendered from the template, and bad
 * templates as one line of Docker's text with Docker's exit status (docker 28: ps 1; inspect,
 * info, version: 64 for a template that does not parse, 1 for one that fails to run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cannotRun, withCli } from './run-util.js';

const skip = cannotRun();

test('format: ps, inspect, images, volume ls run full Go templates', { skip }, () => withCli(async (c) => {
  await c.ok(['create', '--name', 'fmt1', '--label', 'com.example.some-key=v1', '--label', 'app=db', 'busybox', 'true']);
  const ps = (f: string) => c.ok(['ps', '-a', '--format', f]);
  assert.equal(await ps('{{.Label "app"}}|{{.Label "nope"}}|{{.Label "com.example.some-key"}}'), 'db||v1');
  const each = await ps('{{range $i, $l := split .Labels ","}}{{if $i}} {{end}}[{{$l}}]{{end}}');
  assert.deepEqual(each.split(' ').sort(), ['[app=db]', '[com.example.some-key=v1]']);
  assert.equal(await ps('{{if eq .State "created"}}{{.Names | upper}}{{else}}?{{end}} {{printf "%-6s|%.3s" .Names .ID}}'),
    `FMT1 fmt1  |${(await ps('{{.ID}}')).slice(0, 3)}`);
  assert.equal(await ps('{{json .Names}} {{len .Names}} {{pad .State 1 1}}|{{truncate .Names 2}}'), '"fmt1" 4  created |fm');
  // table: the header comes from the same template (Docker's header names, Label's last segment)
  assert.deepEqual((await ps('table {{.Names}}\\t{{.Label "com.example.some-key"}}\\t{{upper .State}}')).split('\n'),
    ['NAMES     some key   STATE', 'fmt1      v1         CREATED']);
  assert.equal(await ps('{{.Names}}\\t{{.State}}'), 'fmt1\tcreated', '\\t is a tab, as in Docker');

  const insp = (f: string) => c.ok(['inspect', '-f', f, 'fmt1']);
  assert.equal(await insp('{{index .Config.Labels "app"}}|{{index .Config.Labels "nope"}}|'), 'db||');
  assert.equal(await insp('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}'), 'app=db;com.example.some-key=v1;');
  assert.deepEqual(JSON.parse(await insp('{{json .Config.Labels}}')), { app: 'db', 'com.example.some-key': 'v1' });
  assert.equal(await insp('{{with .State}}{{.Status}} {{.ExitCode}} {{.Running}}{{end}} {{slice .Id 0 12 | len}}'), 'created 0 false 12');
  assert.equal(await insp('{{if not .State.Running}}stopped{{end}}{{/* a comment */}}{{- " " -}} {{.Name}}'), 'stopped /fmt1');
  assert.equal(await c.ok(['inspect', '-f', '{{.Name}}', 'fmt1', 'fmt1']), '/fmt1\n/fmt1');

  assert.equal(await c.ok(['images', '--format', '{{.Repository}}:{{.Tag}} {{if .ID}}id{{end}}']), 'busybox:latest id');
  assert.equal(await c.ok(['image', 'inspect', '-f', '{{index .RepoTags 0}} {{.Os}}', 'busybox']), 'busybox:latest linux');
  await c.ok(['volume', 'create', '--label', 'tier=gold', 'fmtvol']);
  assert.equal(await c.ok(['volume', 'ls', '--format', '{{.Name}} {{.Label "tier"}}', '-f', 'name=fmtvol']), 'fmtvol gold');
  assert.equal(await c.ok(['volume', 'inspect', '-f', '{{.Labels.tier}} {{.Driver}}', 'fmtvol']), 'gold local');
  assert.match(await c.ok(['version', '--format', '{{printf "%s/%s" .Server.Os .Server.Arch}}']), /^linux\/\w+$/);
}));

test('format: a bad template is one line of Docker\'s text and Docker\'s exit status, no stack', { skip }, () => withCli(async (c) => {
  await c.ok(['create', '--name', 'fmt2', 'busybox', 'true']);
  const cases: [string[], number, string][] = [
    [['ps', '-a', '--format', '{{.Foo}}'], 1, 'failed to execute template: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.ContainerContext'],
    // checked before listing (nothing runs here), on the raw format: positions count "table "
    [['ps', '--format', '{{.Foo}}'], 1, 'failed to execute template: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.ContainerContext'],
    [['ps', '--format', 'table {{.Names}}\\t{{.Foo}}'], 1, 'failed to execute template: template: :1:20: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.ContainerContext'],
    [['ps', '-a', '--format', '{{.Names'], 1, 'failed to parse template: template: :1: unclosed action'],
    [['ps', '-a', '--format', 'table {{.Names}}\\t{{nope .ID}}'], 1, 'failed to parse template: template: :1: function "nope" not defined'],
    [['images', '--format', '{{.Foo}}'], 1, 'template parsing error: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.imageContext'],
    [['inspect', '-f', '{{foo}}', 'fmt2'], 64, 'template parsing error: template: :1: function "foo" not defined'],
    [['inspect', '-f', '{{foo}}', 'no-such-thing'], 64, 'template parsing error: template: :1: function "foo" not defined'],
    [['inspect', '-f', '{{.Foo}}', 'fmt2'], 1, 'template parsing error: template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"'],
    [['inspect', '-f', '{{index .Config.Cmd 5}}', 'fmt2'], 1, 'template parsing error: template: :1:2: executing "" at <index .Config.Cmd 5>: error calling index: index out of range: 5'],
    [['image', 'inspect', '-f', '{{if}}', 'busybox'], 64, 'template parsing error: template: :1: missing value for if'],
    [['version', '--format', '{{.Client.Version'], 64, 'template parsing error: template: version:1: unclosed action'],
    [['info', '--format', '{{range .}}{{break}}{{end}}{{break}}'], 64, 'template parsing error: template: :1: {{break}} outside {{range}}'],
  ];
  for (const [args, code, line] of cases) {
    const r = await c.berth(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.err, line + '\n', args.join(' '));
    assert.equal(r.out, '', `${args.join(' ')} printed nothing`);
  }
}));
