/**
 * Output formatting like the docker CLI's `--format`: `table` (aligned columns, header rendered
 * from the same template), `json` (one object per line), or any Go template (src/lib/template,
 * with the docker CLI's functions). `\t` and `\n` escapes are turned into tabs and newlines, as
 * Docker does. Template errors are `template parsing error: template: …` usage errors (exit 1).
 */
import { usage } from '../../lib/index.js';
import { Template, TemplateError, dockerFuncs, formatValue, goStruct, headerFuncs } from '../../lib/template/index.js';

/** Header names Docker prints for a field. */
const HEADERS: Record<string, string> = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT', Size: 'SIZE', VirtualSize: 'VIRTUAL SIZE', CreatedBy: 'CREATED BY', Comment: 'COMMENT',
  SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS',
};

/** Go's default printing of a value (`[a b]`, `map[k:v]`, `<no value>`). */
export function goString(v: unknown): string {
  return v === undefined ? '<no value>' : formatValue(v);
}

const unescape = (f: string) => f.replace(/\\t/g, '\t').replace(/\\n/g, '\n');

const templateError = (e: unknown): never => {
  if (e instanceof TemplateError) throw usage('format', `template parsing error: ${e.message}`);
  throw e;
};

/** Parse a `--format` template (escapes already expanded) with the docker CLI's functions. */
export function parseFormat(text: string): Template {
  try { return Template.parse(text, { funcs: dockerFuncs }); } catch (e) { return templateError(e); }
}

function run(t: Template, obj: unknown): string {
  try { return t.execute(obj); } catch (e) { return templateError(e); }
}

/** Render a Go template against `obj` (`\t`/`\n` escapes expanded). */
export function renderTemplate(tpl: string, obj: unknown): string {
  return run(parseFormat(unescape(tpl)), obj);
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
  return f.startsWith('table') ? unescape(f.slice(5).trim()) : undefined;
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
export function formatItems(format: string, items: Record<string, unknown>[], defaultTable: string, headers: Record<string, string> = HEADERS, typeName?: string): string {
  const f = format.trim();
  if (f === 'json') return items.map((i) => JSON.stringify(i)).join('\n') + (items.length ? '\n' : '');
  const rows = typeName ? items.map((i) => goStruct(i, typeName)) : items;
  const table = tableTemplate(format, defaultTable);
  if (table !== undefined) {
    const t = parseFormat(table);
    const body = rows.map((i) => run(t, i) + '\n').join('');
    const text = renderHeader(t, table, headers) + '\n' + body;
    return alignColumns(text.slice(0, -1).split('\n').map((l) => l.split('\t')));
  }
  const t = parseFormat(unescape(f));
  return rows.map((i) => run(t, i) + '\n').join('');
}
