/**
 * The Dockerfile parser, the shell lexer and .dockerignore: small table-driven cases whose
 * expected values follow BuildKit (frontend/dockerfile/parser, shell/lex.go) and
 * moby/patternmatcher, including their error messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile, DockerfileError } from '../../src/build/parser.js';
import { toDockerfile } from '../../src/build/instructions.js';
import { expandWord, expandWords } from '../../src/build/lex.js';
import { PatternMatcher, readIgnore } from '../../src/build/dockerignore.js';

const env = new Map(Object.entries({ V: 'value', E: '', P: '/usr/local/bin/app.tar.gz', S: 'a b  c', X: 'xx' }));

test('lexer: expansions as BuildKit', () => {
  const cases: Array<[string, string]> = [
    ['$V', 'value'], ['${V}', 'value'], ['a${V}b', 'avalueb'], ['$U', ''], ['${U}', ''],
    ['${V:-d}', 'value'], ['${U:-d}', 'd'], ['${E:-d}', 'd'], ['${E-d}', ''], ['${U-d}', 'd'],
    ['${V:+x}', 'x'], ['${E:+x}', ''], ['${E+x}', 'x'], ['${U+x}', ''],
    ['${P#*/}', 'usr/local/bin/app.tar.gz'], ['${P##*/}', 'app.tar.gz'], ['${P%.*}', '/usr/local/bin/app.tar'], ['${P%%.*}', '/usr/local/bin/app'],
    ['${P/local/opt}', '/usr/opt/bin/app.tar.gz'], ['${X/x/y}', 'yx'], ['${X//x/y}', 'yy'], ['${P/#nomatch/z}', '/usr/local/bin/app.tar.gz'],
    ["'$V'", '$V'], ['"$V"', 'value'], ['"${V}x"', 'valuex'], ['\\$V', '$V'], ['"\\$V"', '$V'], ['"a\\b"', 'a\\b'], ['a\\ b', 'a b'],
    ['$', '$'], ['a$', 'a$'], ['$1', ''], ['${U:-$V}', 'value'], ['${U:-"q w"}', 'q w'], ["'a'\"b\"c", 'abc'], ['${V:?boom}', 'value'],
  ];
  for (const [input, want] of cases) assert.equal(expandWord(input, env), want, input);
  assert.equal(expandWord('`$V', env, { escape: '`' }), '$V');
  assert.equal(expandWord('"x" $V', env, { rawQuotes: true }), '"x" value');
});

test('lexer: word splitting of unquoted expansions only', () => {
  assert.deepEqual(expandWords('$S "$S" x', env), ['a', 'b', 'c', 'a b  c', 'x']);
  assert.deepEqual(expandWords("a 'b c'  d\\ e", env), ['a', 'b c', 'd e']);
});

test('lexer: errors as BuildKit', () => {
  const cases: Array<[string, RegExp]> = [
    ['${V', /missing '}'/], ['${}', /bad substitution/], ['${:x}', /bad substitution/], ["'abc", /matching single-quote/],
    ['"abc', /matching double-quote/], ['${U:?}', /U: is not allowed to be unset/], ['${E:?}', /E: is not allowed to be empty/],
    ['${U?gone}', /U: gone/], ['${V:#x}', /unsupported modifier \(:#\)/], ['${V^x}', /unsupported modifier \(\^\)/],
  ];
  for (const [input, re] of cases) assert.throws(() => expandWord(input, env), re, input);
});

const parse = (text: string) => parseDockerfile(text, 'Dockerfile');

test('parser: continuations, comments, directives, forms', () => {
  const p = parse([
    '# syntax=docker/dockerfile:1', '# escape=`', '', 'FROM busybox AS Build', 'RUN echo a `', '  # a comment inside', '', '  && echo b',
    'CMD ["sh", "-c", "x"]', 'ENTRYPOINT [bad json', 'ENV A=1 B="two words" C=\'3\'', 'ENV OLD  legacy value', 'LABEL "k"="v" x=y',
    'COPY --chown=1:2 --chmod=644 a b /dst/', 'HEALTHCHECK --interval=5s CMD ["true"]', 'ONBUILD RUN touch x', 'ARG A B=c', 'EXPOSE 80/tcp 53/udp',
  ].join('\n'));
  assert.equal(p.directives.escape, '`');
  assert.equal(p.directives.syntax, 'docker/dockerfile:1');
  const [from, run, cmd, ep, env1, env2, label, copy, hc, ob, arg, expose] = p.nodes;
  assert.deepEqual(from!.args, ['busybox', 'AS', 'Build']);
  assert.equal(run!.args[0], 'echo a   && echo b');
  assert.equal(run!.line, 5);
  assert.ok(p.warnings.some((w) => /empty continuation/.test(w)));
  assert.deepEqual([cmd!.json, cmd!.args], [true, ['sh', '-c', 'x']]);
  assert.deepEqual([ep!.json, ep!.args], [false, ['[bad json']]);
  assert.deepEqual(env1!.args, ['A', '1', 'B', '"two words"', 'C', "'3'"]);
  assert.deepEqual(env2!.args, ['OLD', 'legacy value']);
  assert.deepEqual(label!.args, ['"k"', '"v"', 'x', 'y']);
  assert.deepEqual([copy!.flags, copy!.args], [['--chown=1:2', '--chmod=644'], ['a', 'b', '/dst/']]);
  assert.deepEqual([hc!.flags, hc!.args, hc!.json], [['--interval=5s'], ['CMD', 'true'], true]);
  assert.equal(ob!.next!.cmd, 'run');
  assert.deepEqual(arg!.args, ['A', 'B=c']);
  assert.deepEqual(expose!.args, ['80/tcp', '53/udp']);
  const df = toDockerfile(p);
  assert.equal(df.stages[0]!.name, 'build');
  assert.equal(df.stages[0]!.instructions.find((i) => i.name === 'COPY')!.flags.chown, '1:2');
});

test('parser: directives end at the first other line; a later one is a comment', () => {
  const p = parse('FROM x\n# escape=`\nRUN a \\\n b');
  assert.equal(p.directives.escape, '\\');
  assert.equal(p.nodes[1]!.args[0], 'a  b');
  assert.equal(parse('# unknown=1\n# escape=`\nFROM x').directives.escape, '\\');
});

test('parser: heredocs', () => {
  const p = parse([
    'FROM x', 'RUN <<EOF', 'echo one', 'echo $HOME', 'EOF', 'RUN cat <<A <<-"B" > /f', 'a line', 'A', '\tb line', '\tB',
    'COPY <<one <<two /dst/', 'first', 'one', 'second $X', 'two', 'RUN ["sh", "-c", "cat <<EOF"]', 'RUN echo "<<NOT"',
  ].join('\n'));
  const [, r1, r2, c, j, q] = p.nodes;
  assert.deepEqual(r1!.heredocs.map((h) => [h.name, h.content, h.expand, h.chomp]), [['EOF', 'echo one\necho $HOME\n', true, false]]);
  assert.deepEqual(r2!.heredocs.map((h) => [h.name, h.content, h.expand, h.chomp]), [['A', 'a line\n', true, false], ['B', '\tb line\n', false, true]]);
  assert.deepEqual(c!.heredocs.map((h) => h.name), ['one', 'two']);
  assert.equal(j!.heredocs.length, 0);
  assert.equal(q!.heredocs.length, 0);
  const df = toDockerfile(p);
  const copy = df.stages[0]!.instructions[2]!;
  assert.deepEqual(copy.contents, [{ path: 'one', data: 'first\n', expand: true }, { path: 'two', data: 'second $X\n', expand: true }]);
  assert.deepEqual(copy.args, ['/dst/']);
  const chomped = toDockerfile(parse('FROM x\nCOPY <<-E /f\n\t\tx\n\tE')).stages[0]!.instructions[0]!;
  assert.equal(chomped.contents[0]!.data, 'x\n');
});

test('parser and instructions: errors name file, line and instruction', () => {
  const cases: Array<[string, RegExp]> = [
    ['FROM x\nRUNN echo', /^Dockerfile:2: dockerfile parse error on line 2: unknown instruction: RUNN$/],
    ['# escape=x\nFROM x', /invalid escape token 'x' does not match ` or \\/],
    ['# escape=\\\n# escape=`\nFROM x', /only one escape parser directive can be used/],
    ['FROM x\nRUN <<EOF\nno end', /Dockerfile:2: .*unterminated heredoc/],
    ['FROM x\nCOPY a', /COPY requires at least two arguments, but only one was provided/],
    ['FROM x\nCOPY --bogus=1 a b', /unknown flag: bogus/],
    ['FROM x\nCOPY --from a b', /missing a value on flag: from/],
    ['FROM x\nCOPY --from=a --from=b a b', /duplicate flag specified: from/],
    ['FROM x\nCOPY --link=maybe a b', /expecting boolean value for flag link, not: maybe/],
    ['FROM x\nENV A', /ENV must have two arguments/],
    ['FROM x\nENV A=1 B', /can't find = in "B"/],
    ['FROM x\nSHELL sh -c', /SHELL requires the arguments to be in JSON form/],
    ['FROM x\nCMD [1, 2]', /arrays must be comprised of strings only/],
    ['FROM x\nWORKDIR', /WORKDIR requires exactly one argument/],
    ['FROM x y', /FROM requires either one or three arguments/],
    ['FROM x AS 1st', /invalid name for build stage/],
    ['FROM x AS a\nFROM y AS A', /duplicate stage name "a"/],
    ['FROM x\nONBUILD ONBUILD RUN x', /chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed/],
    ['FROM x\nONBUILD FROM y', /FROM isn't allowed as an ONBUILD trigger/],
    ['RUN x', /Dockerfile:1: no build stage in current context/],
    ['FROM x\nCOPY <<EOF <<EOF2', /unterminated heredoc|cannot accept a heredoc as a destination/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => toDockerfile(parse(text)), (e: unknown) => {
      assert.ok(e instanceof DockerfileError, `${text}: ${String(e)}`);
      assert.match(e.message, re, text);
      return true;
    });
  }
});

test('.dockerignore: Go pattern rules, ** and ! exceptions', () => {
  const pats = readIgnore('# comment\n/node_modules\n*.log\n!keep.log\n**/tmp\ndocs/**/*.md\n!docs/README.md\n  \nsub/\n');
  assert.deepEqual(pats, ['node_modules', '*.log', '!keep.log', '**/tmp', 'docs/**/*.md', '!docs/README.md', 'sub']);
  const m = new PatternMatcher(pats);
  const cases: Array<[string, boolean]> = [
    ['node_modules', true], ['node_modules/x/y.js', true], ['a.log', true], ['keep.log', false], ['dir/a.log', false],
    ['tmp', true], ['a/b/tmp', true], ['a/b/tmp/f', true], ['docs/x.md', true], ['docs/a/b/y.md', true], ['docs/README.md', false],
    ['docs/x.txt', false], ['sub/f', true], ['subx', false], ['src/main.ts', false],
  ];
  for (const [f, want] of cases) assert.equal(m.matches(f), want, f);
  const q = new PatternMatcher(['a?c', '[x-z]*', 'l\\*t']);
  assert.deepEqual(['abc', 'a/c', 'yes', 'l*t', 'lot'].map((f) => q.matches(f)), [true, false, true, true, false]);
  assert.throws(() => new PatternMatcher(['!']), /illegal exclusion pattern/);
});
