/**
 * Output formatting like the docker CLI's `--format`: `table` (aligned columns), `json` (one
 * object per line), or a Go-template subset: `{{.Field}}`, `{{.A.B}}`, `{{json .}}`,
 * `{{json .Field}}`, `{{upper …}}`/`{{lower …}}`, `{{join .List ","}}`, `table` prefix for
 * a header, `\t` and `\n` escapes.
 */
import { usage } from '../../lib/index.js';

/** Header names Docker prints for a field. */
const HEADERS: Record<string, string> = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT', Size: 'SIZE', VirtualSize: 'VIRTUAL SIZE', CreatedBy: 'CREATED BY', Comment: 'COMMENT',
  SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS',
};

function lookup(obj: unknown, path: string): unknown {
  if (path === '.') return obj;
  let v: unknown = obj;
  for (const part of path.replace(/^\./, '').split('.')) {
    if (v === null || v === undefined || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** Go's default printing of a value (`[a b]`, `map[k:v]`, `<no value>`). */
export function goString(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (typeof v === 'object') return `map[${Object.keys(v as object).sort().map((k) => `${k}:${goString((v as Record<string, unknown>)[k])}`).join(' ')}]`;
  return String(v);
}

function evalExpr(expr: string, obj: unknown): string {
  const parts = expr.trim().match(/"[^"]*"|\S+/g) ?? [];
  const arg = (s: string | undefined): unknown => {
    if (s === undefined) throw usage('format', `template: missing argument in {{${expr}}}`);
    if (s.startsWith('"')) return s.slice(1, -1);
    if (s.startsWith('.')) return lookup(obj, s);
    throw usage('format', `template: function "${s}" not defined`);
  };
  const [fn, a1, a2] = parts;
  switch (fn) {
    case 'json': return JSON.stringify(arg(a1) ?? null);
    case 'upper': return String(arg(a1) ?? '').toUpperCase();
    case 'lower': return String(arg(a1) ?? '').toLowerCase();
    case 'join': return ((arg(a1) as unknown[]) ?? []).map(String).join(String(arg(a2)));
    case 'println': return String(arg(a1)) + '\n';
    default:
      if (fn?.startsWith('.') && parts.length === 1) return goString(arg(fn));
      throw usage('format', `template: can't evaluate {{${expr}}}`);
  }
}

/** Render a Go-template subset against `obj`. */
export function renderTemplate(tpl: string, obj: unknown): string {
  const t = tpl.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  return t.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_m, expr: string) => evalExpr(expr, obj));
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
 */
export function formatItems(format: string, items: Record<string, unknown>[], defaultTable: string, headers: Record<string, string> = HEADERS): string {
  const f = format.trim();
  if (f === 'json') return items.map((i) => JSON.stringify(i)).join('\n') + (items.length ? '\n' : '');
  if (f === '' || f === 'table' || f.startsWith('table ')) {
    const tpl = f.startsWith('table ') ? f.slice(6) : defaultTable;
    const cells = tpl.replace(/\\t/g, '\t').split('\t');
    const header = cells.map((c) => c.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_m, k: string) => headers[k] ?? HEADERS[k] ?? k.toUpperCase()).replace(/\{\{.*?\}\}/g, ''));
    const rows = [header, ...items.map((i) => cells.map((c) => renderTemplate(c, i)))];
    return alignColumns(rows);
  }
  return items.map((i) => renderTemplate(f, i)).join('\n') + (items.length ? '\n' : '');
}
