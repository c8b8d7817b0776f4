/**
 * Output formatting like the docker CLI's `--format`: `table` (aligned columns, header rendered
 * from the same template), `json` (one object per line), or any Go template (src/lib/template,
 * with the docker CLI's functions). `\t` and `\n` escapes are turned into tabs and newlines, as
 * Docker does. Template errors are usage errors with the docker CLI's text for the command
 * (`template parsing error: template: :1:2: executing "" at <.Foo>: …`), exit 1; inspect, info
 * and version print a parse error and exit 64 before doing anything, as Docker does.
 */
import { usage } from '../../lib/index.js';
import { printErr } from './common.js';
import { Template, TemplateError, dockerFuncs, goStruct, headerFuncs } from '../../lib/template/index.js';

/** Header names Docker prints for a field. */
const HEADERS: Record<string, string> = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT', Size: 'SIZE', VirtualSize: 'VIRTUAL SIZE', CreatedBy: 'CREATED BY', Comment: 'COMMENT',
  SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS',
};

const unescape = (f: string) => f.replace(/\\t/g, '\t').replace(/\\n/g, '\n');

/** How a command words template errors (the docker CLI differs by command). */
export interface TemplateErrorText { parse: string; exec: string }
/** Most list commands (images, history, volume ls, stats, system df) and inspect. */
export const DOCKER_ERRORS: TemplateErrorText = { parse: 'template parsing error: ', exec: 'template parsing error: ' };
/** `docker ps` (docker 28). */
export const PS_ERRORS: TemplateErrorText = { parse: 'failed to parse template: ', exec: 'failed to execute template: ' };

const templateError = (e: unknown, prefix: string, code: string): never => {
  if (e instanceof TemplateError) throw Object.assign(usage('format', prefix + e.message), { code });
  throw e;
};

/** Parse a `--format` template (escapes already expanded) with the docker CLI's functions. */
export function parseFormat(text: string, errors = DOCKER_ERRORS, name = ''): Template {
  try { return Template.parse(text, { funcs: dockerFuncs, name }); } catch (e) { return templateError(e, errors.parse, 'TEMPLATE_PARSE'); }
}

/** Run a parsed template; an error is a usage error worded as `errors.exec`. */
export function runFormat(t: Template, obj: unknown, errors = DOCKER_ERRORS, missingKey?: 'error'): string {
  try { return t.execute(obj, { missingKey }); } catch (e) { return templateError(e, errors.exec, 'TEMPLATE_EXEC'); }
}

/** Render a Go template against `obj` (`\t`/`\n` escapes expanded). */
export function renderTemplate(tpl: string, obj: unknown, errors = DOCKER_ERRORS): string {
  return runFormat(parseFormat(unescape(tpl), errors), obj, errors);
}

/**
 * Parse the template of inspect, info, version, events: on a bad one, print Docker's message
 * (`template parsing error: …`) and return the exit status, 64, to return before doing anything.
 */
export function parseOrStatus(text: string, name = '', prefix = 'template parsing error: '): Template | number {
  try {
    return Template.parse(text, { funcs: dockerFuncs, name });
  } catch (e) {
    if (!(e instanceof TemplateError)) throw e;
    printErr(prefix + e.message);
    return 64;
  }
}

/**
 * `inspect -f`: each object on its own line. Docker runs the template on the raw JSON when the
 * typed object fails, with missingkey=error: a missing key is `map has no entry for key "Foo"`.
 */
export function renderInspect(t: Template, items: unknown[]): string {
  return items.map((i) => runFormat(t, i, DOCKER_ERRORS, 'error') + '\n').join('');
}

/**
 * The header line of a `table` template: the template run on a map of field → header name
 * with the docker CLI's header functions; like Docker, an error ends the header where it stops.
 */
export function renderHeader(t: Template, tplText: string, headers: Record<string, string>): string {
  const ctx: Record<string, unknown> = {};
  for (const m of tplText.matchAll(/\.([A-Za-z_]\w*)/g)) ctx[m[1]!] = headers[m[1]!] ?? HEADERS[m[1]!] ?? m[1]!.toUpperCase();
  for (const [k, v] of Object.entries(headers)) ctx[k] = v;
  // Docker's SubHeaderContext.Label: the header of {{.Label "com.example.some-key"}} is "some key"
  Object.defineProperty(ctx, 'Label', { value: (name: string) => String(name).split('.').pop()!.replace(/[-_]/g, ' ') });
  return t.executePartial(goStruct(ctx, 'formatter.SubHeaderContext'), { funcs: headerFuncs }).output;
}

/** Split a `table` format: the template text (escapes expanded) or undefined when not a table. */
export function tableTemplate(format: string, defaultTable: string): string | undefined {
  const f = format.trim();
  if (f === '' || f === 'table') return unescape(defaultTable);
  // Docker: a table is a format that starts with "table" (not after spaces)
  return format.startsWith('table') ? unescape(f.slice(5).trim()) : undefined;
}

/**
 * docker ps's check before listing: the raw `--format` (a `table` prefix is text then) is run on
 * an empty row, so a bad template fails even when nothing is listed.
 */
export function preflight(format: string, blank: object, typeName: string, errors: TemplateErrorText): void {
  if (!format) return;
  runFormat(parseFormat(format, errors), goStruct(blank, typeName), errors);
}

/** Align tab-separated rows into columns separated by three spaces (like Go's tabwriter). */
export function alignColumns(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { if (i < r.length - 1) widths[i] = Math.max(widths[i] ?? 0, [...c].length); });
  // Go's tabwriter as the docker CLI sets it up: minimum cell width 10, padding 3.
  return rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c + ' '.repeat(Math.max(10, (widths[i] ?? 0) + 3) - [...c].length) : c)).join('').trimEnd()).join('\n') + (rows.length ? '\n' : '');
}

/**
 * Print `items` with a `--format` value: '' or 'table' → `defaultTable`; 'json' → JSON lines;
 * 'table TEMPLATE' → header + aligned rows; otherwise one rendered template per item.
 * With `typeName`, items are Go structs of that type: a field they lack is an error, as in Docker.
 */
export function formatItems(format: string, items: Record<string, unknown>[], defaultTable: string, headers: Record<string, string> = HEADERS, typeName?: string, errors = DOCKER_ERRORS): string {
  const f = format.trim();
  if (f === 'json') return items.map((i) => JSON.stringify(i)).join('\n') + (items.length ? '\n' : '');
  const rows = typeName ? items.map((i) => goStruct(i, typeName)) : items;
  const table = tableTemplate(format, defaultTable);
  if (table !== undefined) {
    const t = parseFormat(table, errors);
    const body = rows.map((i) => runFormat(t, i, errors) + '\n').join('');
    const text = renderHeader(t, table, headers) + '\n' + body;
    return alignColumns(text.slice(0, -1).split('\n').map((l) => l.split('\t')));
  }
  const t = parseFormat(unescape(f), errors);
  return rows.map((i) => runFormat(t, i, errors) + '\n').join('');
}
