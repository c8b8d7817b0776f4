/**
 * lib/template: Go's text/template semantics (as documented for text/template and fmt), the docker
 * CLI's functions, and Go's error texts. Outputs marked (docker 28), and every error text here,
 * were checked against the docker 28.2.2 CLI (`docker version --format`, `docker ps --format`),
 * which runs Go's own text/template.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Template, TemplateError, dockerFuncs, goStruct, headerFuncs, sprintf } from '../../src/lib/template/index.js';
import { BerthError } from '../../src/lib/index.js';

const data = {
  Name: 'web', N: 3, Zero: 0, F: 1.5, T: true, Nil: null, Empty: '', List: ['a', 'b', 'c'], None: [] as string[],
  Map: { b: 2, a: 1, c: 3 }, EmptyMap: {}, Labels: { 'com.x': 'y', app: 'db' },
  Nested: { Inner: { Value: 'deep', List: [{ K: 'k1' }, { K: 'k2' }] } },
  Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] },
};

const render = (tpl: string, d: unknown = data) => Template.parse(tpl, { funcs: dockerFuncs }).execute(d);

/** [template, expected output] on `data`. */
const ok: [string, string][] = [
  // actions, fields, printing of values
  ['plain text', 'plain text'],
  ['{{.Name}}', 'web'],
  ['{{.Nested.Inner.Value}}', 'deep'],
  ['{{.List}} {{.None}} {{.Map}} {{.EmptyMap}}', '[a b c] [] map[a:1 b:2 c:3] map[]'],
  ['{{.Missing}}|{{.Missing.Deeper}}|{{.Nil}}', '<no value>|<no value>|<nil>'],
  ['{{.N}} {{.F}} {{.T}} {{.Empty}}|', '3 1.5 true |'],
  ['{{.Nested.Inner.List}}', '[map[K:k1] map[K:k2]]'],
  ['{{(index .Nested.Inner.List 1).K}}', 'k2'],
  ['{{(.Nested).Inner.Value}}', 'deep'],
  ['{{$}}', '{{$}}'.length ? render('{{.}}') : ''],
  // literals (docker 28)
  ["{{1e6}} {{1.0}} {{0x10}} {{'a'}} {{1_000}} {{-0.5}} {{.5}}", '1e+06 1 16 97 1000 -0.5 0.5'],
  ['{{0b101}} {{0o17}} {{017}} {{+5}} {{1e-2}}', '5 15 15 5 0.01'],
  ['{{"\\x41\\101\\u00e9|"}}{{`a\\nb`}}', 'AAé|a\\nb'],
  ['{{true}} {{false}} {{print nil}}', 'true false <nil>'],
  // variables
  ['{{$x := 1}}{{$x}}{{$x = 2}}{{$x}}', '12'],
  ['{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}', '2'],
  ['{{$x := 1}}{{if true}}{{$x := 2}}{{end}}{{$x}}', '1'],
  ['{{with $x := "a"}}{{$x}}{{.}}{{end}}', 'aa'],
  ['{{range .List}}{{$.Name}}{{end}}', 'webwebweb'],
  ['{{$n := .Nested}}{{$n.Inner.Value}}', 'deep'],
  // if / else if / else, truth
  ['{{if .N}}y{{else}}n{{end}}', 'y'],
  ['{{if .Zero}}a{{else if .Empty}}b{{else if .None}}c{{else if .EmptyMap}}d{{else if .Nil}}e{{else if .Missing}}f{{else}}g{{end}}', 'g'],
  ['{{if .List}}a{{end}}{{if .Map}}b{{end}}{{if .T}}c{{end}}{{if .F}}d{{end}}', 'abcd'],
  ['{{if and .N .T}}a{{end}}{{if or .Zero .Empty}}b{{else}}c{{end}}{{if not .None}}d{{end}}', 'acd'],
  // with
  ['{{with .Nested.Inner}}{{.Value}}{{end}}', 'deep'],
  ['{{with .Empty}}x{{else}}none{{end}}', 'none'],
  ['{{with 0}}a{{else with 1}}b{{.}}{{end}}', 'b1'],
  // range
  ['{{range .List}}[{{.}}]{{end}}', '[a][b][c]'],
  ['{{range $i, $v := .List}}{{$i}}={{$v}},{{end}}', '0=a,1=b,2=c,'],
  ['{{range $v := .List}}{{$v}}{{end}}', 'abc'],
  ['{{range $k, $v := .Map}}{{$k}}:{{$v}} {{end}}', 'a:1 b:2 c:3 '],
  ['{{range .Map}}{{.}}{{end}}', '123'],
  ['{{range .None}}x{{else}}empty{{end}}', 'empty'],
  ['{{range .Missing}}x{{else}}nothing{{end}}', 'nothing'],
  ['{{range $i, $v := .List}}{{if eq $i 1}}{{continue}}{{end}}{{if eq $i 2}}{{break}}{{end}}{{$v}}{{end}}', 'a'],
  ['{{range 3}}{{.}}{{end}}', '012'],
  ['{{range $i := 2}}{{$i}}{{end}}', '01'],
  ['{{range $p, $b := .Ports}}{{$p}} -> {{(index $b 0).HostPort}}{{end}}', '80/tcp -> 8080'],
  ['{{range .Nested.Inner.List}}{{.K}} {{end}}', 'k1 k2 '],
  // define / template / block
  ['{{define "t"}}T({{.}}){{end}}{{template "t" .N}}{{template "t"}}', 'T(3)T(<no value>)'],
  ['{{block "b" .Name}}B:{{.}}{{end}}', 'B:web'],
  ['{{define "r"}}{{if .}}{{len .}}{{template "r" slice . 1}}{{end}}{{end}}{{template "r" .List}}', '321'],
  // comments and trimming
  ['{{/* a comment */}}x', 'x'],
  ['a {{- /* x */ -}} b', 'ab'],
  ['a  {{- .N -}}  b', 'a3b'],
  ['a {{- /* x */}} b {{/* y */ -}} c', 'a b c'],
  ['{{-3}} {{- 3}}', '-33'],
  ['{{.N -}}\n\n x', '3x'],
  // pipelines
  ['{{.Name | printf "%q"}}', '"web"'],
  ['{{3 | printf "%d-%d" 4}}', '4-3'],
  ['{{"a" | printf "%s-%s" "b"}}', 'b-a'],
  ['{{.List | len}}', '3'],
  ['{{print (print 1) 2}}', '12'],
  ['{{.Missing | print}}', '<nil>'],
  // builtins (docker 28 where marked in the file comment)
  ['{{len .List}} {{len .Map}} {{len "héllo"}}', '3 3 6'],
  ['{{index .List 1}} {{index .Map "b"}} {{index .Labels "com.x"}}|{{index .Labels "nope"}}|{{index .Map "nope"}}', 'b 2 y||<no value>'],
  ['{{index .Ports "80/tcp" 0 | printf "%v"}}', 'map[HostIp:0.0.0.0 HostPort:8080]'],
  ['{{slice .List 1}} {{slice .List 1 2}} {{slice "hello" 1 3}} {{slice .List}}', '[b c] [b] el [a b c]'],
  ['{{and 1 0 2}} {{and 1 2}} {{or 0 "" "z"}} {{or 0 ""}}|', '0 2 z |'],
  ['{{not 0}} {{not "x"}}', 'true false'],
  ['{{eq .N 3}} {{eq .Name "web"}} {{eq 1 2 3 1}} {{ne 1 2}} {{eq .Nil nil}} {{eq .Missing .Nil}}', 'true true true true true true'],
  ['{{lt "a" "b"}} {{le 2 2}} {{gt 3 1}} {{ge 1 2}} {{lt 1 1.5}}', 'true true true false true'],
  ['{{print 1 2 "a" 3 4.5 true nil}}', '1 2a3 4.5 true <nil>'],
  ['{{println}}|{{println 1 2}}|{{print}}|{{print "a" 1 2 "b"}}', '\n|1 2\n||a1 2b'],
  ['{{html "<\\"&\'>"}} {{html 1 "a" 2}}', '&lt;&#34;&amp;&#39;&gt; 1a2'],
  ['{{js "<a href=\\"x\\">é"}}', '\\u003Ca href\\u003D\\"x\\"\\u003Eé'],
  ['{{urlquery "a b/c?d=é"}}', 'a+b%2Fc%3Fd%3D%C3%A9'],
  // printf verbs (docker 28)
  ['{{printf "%v|%.3g|%g|%e|%08.3f|%+d|%x|%X|%o|%b|%c|%U|%q" 1e6 3.14159 0.00001234 1234.5678 -3.14159 5 "hi" -255 8 5 65 9731 65}}',
    "1e+06|3.14|1.234e-05|1.234568e+03|-003.142|+5|6869|-FF|10|101|A|U+2603|'A'"],
  ['{{printf "%5s|%-5s|%.2s|%5.1f|%-8v|" "ab" "ab" "abcdef" 3.14159 true}}', '   ab|ab   |ab|  3.1|true    |'],
  ['{{printf "%T %T %T %T %T" 1 1.5 "s" true nil}}', 'int float64 string bool <nil>'],
  ['{{printf "%d %s"}}|{{printf "%z" 3}}|{{printf "%s" 3}}|{{printf "%d" "x"}}|{{printf "%d" 1 2}}', '%!d(MISSING) %!s(MISSING)|%!z(int=3)|%!s(int=3)|%!d(string=x)|1%!(EXTRA int=2)'],
  ['{{printf "%[2]d %[1]d" 1 2}} {{printf "%*d|%-*d|" 5 1 4 2}}', '2 1     1|2   |'],
  ['{{printf "%v %v %v %v" 123456.0 1234567.0 0.0001 0.00001}}', '123456 1.234567e+06 0.0001 1e-05'],
  ['{{printf "%g %G %.0f %.1e %#g" 100000.0 1e-7 2.5 12345.0 1.0}}', '100000 1E-07 2 1.2e+04 1.00000'],
  ['{{printf "%.0f %.0f %.0f %.0f" 0.5 1.5 2.5 -0.5}}', '0 2 2 -0'],
  ['{{printf "%q %+q %#q %x % x" "héllo\\n" "é" "raw" "hé" "ab"}}', '"héllo\\n" "\\u00e9" `raw` 68c3a9 61 62'],
  ['{{printf "%5t|%v|%08d|%-08d|%+.2e" true -0.0 -42 42 12345.678}}', ' true|-0|-0000042|42      |+1.23e+04'],
  ['{{printf "%x %X %o %#x %#o" 255 255 8 255 8}}', 'ff FF 10 0xff 010'],
  ['{{printf "%6.2f%%" 12.3456}}', ' 12.35%'],
  ['{{printf "%v|%+v|%s|%d" .Map .Map .List .List}}', 'map[a:1 b:2 c:3]|map[a:1 b:2 c:3]|[a b c]|[%!d(string=a) %!d(string=b) %!d(string=c)]'],
  ['{{printf "%-10s|%10s|" "héllo" "héllo"}}', 'héllo     |     héllo|'],
  ['{{printf "|%#05.0d|%+0Xx%+0.3T" 0 0 false}}', '|     |+0xboo'],
  ['{{printf "%+.4s|%+0v|%#v" 1e6 12345.678 "q"}}', '%!s(float64=+1e+06)|12345.678|"q"'],
  ['{{printf "x%+07s|%3F% s" 1 12345.678 255}}', 'x%!s(int=+000001)|12345.678000%!s(int= 255)'],
  ['{{printf "%.2x|%-3c|%q" "héllo" -255 300}}', '68c3|\uFFFD  |\'Ĭ\''],
  // docker CLI functions
  ['{{json .Map}} {{json .List}} {{json .Name}} {{json nil}} {{json "a<b>&"}}', '{"b":2,"a":1,"c":3} ["a","b","c"] "web" null "a<b>&"'],
  ['{{join .List ", "}} {{split "a,b,,c" ","}} {{split "abc" ""}}', 'a, b, c [a b  c] [a b c]'],
  ['{{range split "x:y" ":"}}<{{.}}>{{end}}', '<x><y>'],
  ['{{title "hello wORLD foo-bar"}} {{lower "ÀB"}} {{upper "àb"}}', 'Hello WORLD Foo-Bar àb ÀB'],
  ['{{pad "" 1 1}}|{{pad "a" 1 2}}|{{truncate "abcdef" 3}}|{{truncate "ab" 2}}|{{truncate "ab" 3}}', '| a  |abc|ab|ab'],
  ['{{.Name | upper | printf "%s!"}}', 'WEB!'],
];

test('template: Go text/template semantics on maps, slices and values', () => {
  for (const [tpl, want] of ok) assert.equal(render(tpl), want, tpl);
});

/** [template, data, Go's error text]. */
const execErrors: [string, unknown, string][] = [
  ['{{.Name.X}}', data, 'template: :1:7: executing "" at <.Name.X>: can\'t evaluate field X in type string'],
  ['{{.Nil.X}}', data, 'template: :1:6: executing "" at <.Nil.X>: nil pointer evaluating interface {}.X'],
  ['{{index .List 5}}', data, 'template: :1:2: executing "" at <index .List 5>: error calling index: index out of range: 5'],
  ['{{index .List "a"}}', data, 'template: :1:2: executing "" at <index .List "a">: error calling index: cannot index slice/array with type string'],
  ['{{index nil 1}}', data, 'template: :1:2: executing "" at <index nil 1>: error calling index: index of untyped nil'],
  ['{{slice "abc" 2 1}}', data, 'template: :1:2: executing "" at <slice "abc" 2 1>: error calling slice: invalid slice index: 2 > 1'],
  ['{{len 3}}', data, 'template: :1:2: executing "" at <len 3>: error calling len: len of type int'],
  ['{{len .Nil}}', data, 'template: :1:2: executing "" at <len .Nil>: error calling len: len of nil pointer'],
  ['{{upper 3}}', data, 'template: :1:8: executing "" at <3>: expected string; found 3'],
  ['{{upper .N}}', data, 'template: :1:8: executing "" at <.N>: wrong type for value; expected string; got int'],
  ['{{upper nil}}', data, 'template: :1:8: executing "" at <nil>: cannot assign nil to string'],
  ['{{pad "a" "b" 1}}', data, 'template: :1:10: executing "" at <"b">: expected integer; found "b"'],
  ['{{pad "a" 1.5 1}}', data, 'template: :1:10: executing "" at <1.5>: expected integer; found 1.5'],
  ['{{call .Name}}', data, 'template: :1:2: executing "" at <call .Name>: error calling call: non-function .Name of type string'],
  ['{{.Map | len 1}}', data, 'template: :1:9: executing "" at <len>: wrong number of args for len: want 1 got 2'],
  ['{{$x = 1}}', data, 'template: :1:7: executing "" at <1>: undefined variable: $x'],
  ['{{index 1 1}}', data, 'template: :1:2: executing "" at <index 1 1>: error calling index: can\'t index item of type int'],
  ['{{printf}}', data, 'template: :1:2: executing "" at <printf>: wrong number of args for printf: want at least 1 got 0'],
  ['{{upper "a" "b"}}', data, 'template: :1:2: executing "" at <upper>: wrong number of args for upper: want 1 got 2'],
  ['{{eq "a" 1}}', data, 'template: :1:2: executing "" at <eq "a" 1>: error calling eq: incompatible types for comparison'],
  ['{{lt true false}}', data, 'template: :1:2: executing "" at <lt true false>: error calling lt: invalid type for comparison'],
  ['{{eq .List .List}}', data, 'template: :1:2: executing "" at <eq .List .List>: error calling eq: non-comparable type [a b c]: []string'],
  ['{{nil}}', data, 'template: :1:2: executing "" at <nil>: nil is not a command'],
  ['{{1 2}}', data, 'template: :1:2: executing "" at <1>: can\'t give argument to non-function 1'],
  ['{{range "abc"}}{{end}}', data, 'template: :1:8: executing "" at <"abc">: range can\'t iterate over abc'],
  ['{{range $i, $v := 3}}{{end}}', data, 'template: :1:18: executing "" at <3>: can\'t use 3 to iterate over more than one variable'],
  ['{{template "nope"}}', data, 'template: :1:11: executing "" at <{{template "nope"}}>: template "nope" not defined'],
  ['{{define "d"}}{{.X.Y}}{{end}}\n  {{template "d" .Name}}', data, 'template: :1:18: executing "d" at <.X.Y>: can\'t evaluate field X in type string'],
  ['line1\nline2 {{.N.Z}}', data, 'template: :2:10: executing "" at <.N.Z>: can\'t evaluate field Z in type int'],
  ['{{.Name "x"}}', data, 'template: :1:2: executing "" at <.Name>: Name is not a method but has arguments'],
  ['{{define "r"}}{{template "r" .}}{{end}}{{template "r" 1}}', data, 'template: :1:25: executing "r" at <{{template "r" .}}>: exceeded maximum template depth (1000)'],
];

test('template: execution errors carry Go\'s location, context and message', () => {
  for (const [tpl, d, want] of execErrors) {
    assert.throws(() => render(tpl, d), (e: unknown) => {
      assert.ok(e instanceof TemplateError && e instanceof BerthError, tpl);
      assert.equal(e.message, want, tpl);
      assert.equal(e.kind, 'usage');
      return true;
    }, tpl);
  }
});

/** [template, parse error] (docker 28's `template parsing error: …` text without that prefix, name ''). */
const parseErrors: [string, string][] = [
  ['{{foo}}', 'function "foo" not defined'],
  ['{{.A', 'unclosed action'],
  ['x\n{{if .A}}', 'unexpected EOF'],
  ['{{end}}', 'unexpected {{end}}'],
  ['{{else}}', 'unexpected {{else}}'],
  ['{{$u}}', 'undefined variable "$u"'],
  ['{{}}', 'missing value for command'],
  ['{{(.A}}', 'unclosed left paren'],
  ['{{.A)}}', 'unexpected right paren'],
  ['{{"abc}}', 'unterminated quoted string'],
  ['{{`abc}}', 'unterminated raw quoted string'],
  ["{{'ab'}}", "malformed character constant: 'ab'"],
  ['{{@}}', 'unexpected "@" in command'],
  ['{{1x}}', 'bad number syntax: "1x"'],
  ['{{.A"b"}}', 'bad character U+0022 \'"\''],
  ['{{range $i, $v, $w := .}}{{end}}', 'too many declarations in range'],
  ['{{$a, $b := 1}}', 'too many declarations in command'],
  ['{{if}}{{end}}', 'missing value for if'],
  ['{{template .A}}', 'unexpected ".A" in template clause'],
  ['{{break}}', '{{break}} outside {{range}}'],
  ['{{range .}}{{else}}{{break}}{{end}}', '{{break}} outside {{range}}'],
  ['{{continue 1}}', 'unexpected "1" in {{continue}}'],
  ['{{/* unclosed', 'unclosed comment'],
  ['{{/* a */ x}}', 'comment ends before closing delimiter'],
  ['{{"a" | 1}}', 'non executable command in pipeline stage 2'],
  ['{{1.2.3}}', 'unexpected ".3" in operand'],
  ['{{.A.}}', 'unexpected <.> in operand'],
  ['{{"\\q"}}', 'invalid syntax'],
  ['{{nil.A}}', 'unexpected . after term "nil"'],
  ['{{if 1}}{{else}}{{else}}{{end}}', 'expected end; found {{else}}'],
  ['{{define "a"}}x{{end}}{{define "a"}}y{{end}}', 'template: multiple definition of template "a"'],
  ['{{- -}}', 'illegal number syntax: "-"'],
  ['{{0x}}', 'illegal number syntax: "0x"'],
  ['{{block "x"}}{{end}}', 'missing value for block clause'],
  ['{{if 1}}{{else range}}{{end}}', 'unexpected <range> in else'],
];

test('template: parse errors are Go\'s', () => {
  for (const [tpl, want] of parseErrors) {
    const line = tpl.startsWith('x\n') ? 2 : 1;
    assert.throws(() => Template.parse(tpl, { funcs: dockerFuncs }), (e: unknown) => e instanceof TemplateError && e.message === `template: :${line}: ${want}`, tpl);
  }
  assert.throws(() => Template.parse('{{json .}}'), /function "json" not defined/, 'docker functions only when given');
  assert.throws(() => Template.parse('{{.X', { name: 'ps' }), { message: 'template: ps:1: unclosed action' });
});

test('template: structs (goStruct, classes) error on missing fields; methods take arguments', () => {
  const row = goStruct({ ID: 'abc', Names: 'web', Labels: 'a=b' }, '*formatter.ContainerContext');
  Object.defineProperty(row, 'Label', { value: (k: string) => (k === 'a' ? 'b' : '') });
  assert.equal(render('{{.ID}} {{.Label "a"}}|{{.Label "z"}}|{{"a" | .Label}}', row), 'abc b||b');
  assert.equal(render('{{.}} {{printf "%+v" .}}', row), '{abc web a=b} {ID:abc Names:web Labels:a=b}');
  assert.equal(render('{{json .}}', row), '{"ID":"abc","Names":"web","Labels":"a=b"}', 'methods are not data');
  assert.throws(() => render('{{.Foo}}', row), { message: 'template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.ContainerContext' });
  assert.throws(() => render('{{.ID "x"}}', row), { message: 'template: :1:2: executing "" at <.ID>: ID has arguments but cannot be invoked as function' });
  assert.throws(() => render('{{.Label}}', row), { message: 'template: :1:2: executing "" at <.Label>: wrong number of args for Label: want 1 got 0' });
  class Point { constructor(readonly X: number, readonly Y: number) {} Sum(): number { return this.X + this.Y; } }
  assert.equal(render('{{.X}},{{.Y}}={{.Sum}} {{.}}', new Point(1, 2)), '1,2=3 {1 2}');
  assert.throws(() => render('{{.Z}}', new Point(1, 2)), /can't evaluate field Z in type Point/);
  assert.throws(() => render('{{.toString}}', new Point(1, 2)), /can't evaluate field toString in type Point/, 'no Object.prototype members');
  assert.equal(render('{{.constructor}}', {}), '<no value>');
  // a method that throws: Go's "error calling"
  const bad = goStruct({ Boom: () => { throw new Error('kaboom'); } }, 'T');
  assert.throws(() => render('{{.Boom}}', bad), { message: 'template: :1:2: executing "" at <.Boom>: error calling Boom: kaboom' });
  // call
  assert.equal(render('{{call .F 2 3}}', { F: (a: number, b: number) => a * b }), '6');
  assert.throws(() => render('{{call .F}}', { F: 1 }), /error calling call: non-function .F of type int/);
  assert.throws(() => render('{{.F}}', { F: () => 1 }), /at <\{\{\.F\}\}>: can't print \{\{\.F\}\} of type func$/, 'a function in a map is a value, not a method');
  assert.throws(() => render('{{.F 1}}', { F: () => 1 }), /F is not a method but has arguments/);
});

test('template: header functions leave header text alone; named templates run by name', () => {
  const t = Template.parse('{{json .Labels}}|{{upper .Name}}|{{truncate .ID 3}}|{{join .Names ","}}', { funcs: dockerFuncs });
  assert.equal(t.execute({ Labels: 'LABELS', Name: 'NAME', ID: 'CONTAINER ID', Names: 'NAMES' }, { funcs: headerFuncs }), 'LABELS|NAME|CONTAINER ID|NAMES');
  const two = Template.parse('{{define "a"}}A{{.}}{{end}}root', {});
  assert.deepEqual(two.templates().sort(), ['', 'a']);
  assert.equal(two.execute(1), 'root');
  assert.equal(two.execute(1, { template: 'a' }), 'A1');
  const partial = Template.parse('ok {{.A}} then {{.A.B.C}} never').executePartial({ A: 1 });
  assert.equal(partial.output, 'ok 1 then ');
  assert.ok(partial.error instanceof TemplateError);
});

test('template: sprintf corner cases', () => {
  assert.equal(sprintf('%05.1f|%+.3e|%10.4g|%-6d|', [3.14159, 1234.5, 0.000123456, -7]), '003.1|+1.234e+03| 0.0001235|-7    |');
  assert.equal(sprintf('%3c|%-4q|%08b', [65, 66, 5]), '  A|\'B\' |00000101');
  assert.equal(sprintf('%s %v', [['a', 'b'], { k: ['x'] }]), '[a b] map[k:[x]]');
  assert.equal(sprintf('%!', []), '%!!(NOVERB)'.replace('!(NOVERB)', '!(MISSING)'));
  assert.equal(sprintf('%.2f %.3f %.1f', [1.005, 2.0005, 0.25]), '1.00 2.001 0.2');
  assert.equal(sprintf('%e %g', [0, 0]), '0.000000e+00 0');
});

/** A tiny deterministic PRNG (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('template: fuzz — garbled templates only ever throw TemplateError', () => {
  const pieces = ['{{', '}}', '{{-', '-}}', ' ', '.', '.A', '.List', '$', '$x', ':=', '=', '|', '(', ')', '"s"', '`r`', "'c'", '1', '-2', '1.5e3',
    'if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue', 'nil', 'true', 'index', 'len', 'slice', 'printf',
    '"%v %d %5.2f %q %x"', 'json', 'join', 'split', 'eq', 'lt', 'and', 'or', 'not', ',', '/*', '*/', '\n', 'text', '"', '\\', '@', '\u00e9', '.Map', '.Nil', '$.N'];
  const r = rng(20261206);
  let parsed = 0, ran = 0;
  for (let i = 0; i < 4000; i++) {
    let tpl = '';
    const n = 1 + Math.floor(r() * 14);
    for (let k = 0; k < n; k++) tpl += pieces[Math.floor(r() * pieces.length)]!;
    if (r() < 0.1) tpl = tpl.slice(0, Math.floor(r() * tpl.length)); // cut anywhere
    try {
      const t = Template.parse(tpl, { funcs: dockerFuncs });
      parsed++;
      const out = t.execute(data);
      assert.equal(typeof out, 'string');
      ran++;
    } catch (e) {
      if (!(e instanceof TemplateError)) assert.fail(`${JSON.stringify(tpl)} threw ${(e as Error)?.stack ?? e}`);
      assert.match(e.message, /^template: /, tpl);
      assert.doesNotMatch(e.message, /\n\s+at /, 'no stack in the message');
    }
  }
  assert.ok(parsed > 100 && ran > 50, `parsed ${parsed}, ran ${ran}`);
});
