/** Read-only use cases: `images` (list with filters), `image inspect` (Docker's JSON), `history`. */
import { usage } from '../lib/index.js';
import { chainIDs, SIZE_LABEL } from '../snapshots/index.js';
import { contentStore, imageStore, snapshotter, type ImageContext } from './context.js';
import { imageLabels, matchLabel } from './manage.js';
import type { HistoryEntry, ImageConfig } from './manifest.js';
import { familiarName, familiarString, parseReference } from './reference.js';
import type { ImageRecord } from './store.js';

export interface ImageRow {
  /** familiar repository name or `<none>` */
  repository: string;
  tag: string;
  /** repository digest (`sha256:…`) or `<none>` */
  digest: string;
  id: string;
  created: string;
  size: number;
  labels: Record<string, string>;
  record: ImageRecord;
  /** one of the image's names is this row (false for dangling `<none>:<none>`) */
  dangling: boolean;
}

export interface ListFilters {
  dangling?: boolean;
  label?: { key: string; value?: string; negate?: boolean }[];
  /** glob patterns on `name` or `name:tag` (familiar form), like Docker's reference filter */
  reference?: string[];
  before?: string;
  since?: string;
}

/** Parse Docker `--filter` strings (`dangling=true`, `label=k=v`, `reference=busy*`, `before=`, `since=`). */
export function parseListFilters(list: string[]): ListFilters {
  const f: ListFilters = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    const key = (eq < 0 ? item : item.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : item.slice(eq + 1);
    switch (key) {
      case 'dangling':
        if (!['true', 'false', '1', '0'].includes(value.toLowerCase())) throw usage('images', `invalid filter 'dangling=${value}'`);
        f.dangling = value === 'true' || value === '1';
        break;
      case 'label':
      case 'label!': {
        const i = value.indexOf('=');
        (f.label ??= []).push({ key: i < 0 ? value : value.slice(0, i), ...(i < 0 ? {} : { value: value.slice(i + 1) }), negate: key === 'label!' });
        break;
      }
      case 'reference':
        (f.reference ??= []).push(value);
        break;
      case 'before':
        f.before = value;
        break;
      case 'since':
        f.since = value;
        break;
      default:
        throw usage('images', `invalid filter '${key}'`);
    }
  }
  return f;
}

function glob(pattern: string, s: string): boolean {
  const re = new RegExp('^' + pattern.split('').map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('') + '$');
  return re.test(s);
}

/** `docker images`: one row per tag (and per untagged repository digest), dangling rows last. */
export async function listImages(ctx: ImageContext, filters: ListFilters = {}): Promise<ImageRow[]> {
  const images = imageStore(ctx);
  const records = await images.list();
  const tags = await images.tags();
  let before: number | undefined;
  let since: number | undefined;
  if (filters.before) before = Date.parse((await images.resolve(filters.before, 'images')).record.created);
  if (filters.since) since = Date.parse((await images.resolve(filters.since, 'images')).record.created);
  const rows: ImageRow[] = [];
  for (const r of records) {
    const labels = await imageLabels(ctx, r);
    const created = Date.parse(r.created);
    if (before !== undefined && !(created < before)) continue;
    if (since !== undefined && !(created > since)) continue;
    if (filters.label && !filters.label.every((l) => matchLabel(labels, l) !== !!l.negate)) continue;
    const mine = tags.filter((t) => t.id === r.id).map((t) => parseReference(t.name));
    const digestOf = (repo: string) => {
      const d = r.repoDigests.find((x) => x.startsWith(repo + '@'));
      return d ? d.slice(d.indexOf('@') + 1) : '<none>';
    };
    const base = { id: r.id, created: r.created, size: r.size, labels, record: r };
    const own: ImageRow[] = [];
    for (const t of mine) own.push({ ...base, repository: familiarName(t), tag: t.tag ?? '<none>', digest: digestOf(`${t.domain}/${t.path}`), dangling: false });
    for (const d of r.repoDigests) {
      const repo = d.slice(0, d.indexOf('@'));
      if (mine.some((t) => `${t.domain}/${t.path}` === repo)) continue;
      own.push({ ...base, repository: familiarName(parseReference(repo)), tag: '<none>', digest: d.slice(d.indexOf('@') + 1), dangling: false });
    }
    const dangling = own.length === 0;
    if (dangling) own.push({ ...base, repository: '<none>', tag: '<none>', digest: '<none>', dangling: true });
    if (filters.dangling !== undefined && filters.dangling !== dangling) continue;
    for (const row of own) {
      if (filters.reference?.length) {
        if (row.dangling) continue;
        const names = [row.repository, `${row.repository}:${row.tag}`];
        if (!filters.reference.some((p) => names.some((n) => glob(p, n)))) continue;
      }
      rows.push(row);
    }
  }
  return rows.sort((a, b) => Date.parse(b.created) - Date.parse(a.created) || a.repository.localeCompare(b.repository) || a.tag.localeCompare(b.tag));
}

const CONFIG_DEFAULTS = {
  Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false,
  Tty: false, OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null,
  WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null,
};

/** `docker image inspect`: Docker's JSON shape for one image. */
export async function inspect(ctx: ImageContext, input: string): Promise<Record<string, unknown>> {
  const images = imageStore(ctx);
  const { record: r } = await images.resolve(input, 'inspect');
  const config = await contentStore(ctx).readJSON<ImageConfig>(r.config.digest);
  const tags = (await images.tagsOf(r.id)).map((t) => familiarString(parseReference(t)));
  const repoDigests = r.repoDigests.map((d) => {
    const at = d.indexOf('@');
    return `${familiarName(parseReference(d.slice(0, at)))}@${d.slice(at + 1)}`;
  });
  const snaps = await snapshotter(ctx);
  const chains = chainIDs(r.diffIDs);
  let graph: Record<string, string> = {};
  const top = chains.at(-1);
  if (top && snaps.stat(top)) {
    const dirs = snaps.layerDirs(top);
    graph = { UpperDir: dirs[0] ?? '', ...(dirs.length > 1 ? { LowerDir: dirs.slice(1).join(':') } : {}) };
  }
  const out: Record<string, unknown> = {
    Id: r.id,
    RepoTags: tags,
    RepoDigests: repoDigests,
    Parent: '',
    Comment: config.comment ?? '',
    Created: config.created ?? r.created,
    DockerVersion: config.docker_version ?? '',
    Author: config.author ?? '',
    Config: { ...CONFIG_DEFAULTS, ...(config.config ?? {}) },
    Architecture: config.architecture,
    ...(config.variant ? { Variant: config.variant } : {}),
    Os: config.os,
    ...(config['os.version'] ? { OsVersion: config['os.version'] } : {}),
    Size: r.size,
    GraphDriver: { Data: graph, Name: snaps.driver.name === 'overlay' ? 'overlay2' : 'vfs' },
    RootFS: { Type: config.rootfs.type || 'layers', Layers: r.diffIDs },
    Metadata: { LastTagTime: r.added },
    Descriptor: { mediaType: r.manifest.mediaType, digest: r.manifest.digest, size: r.manifest.size },
  };
  return out;
}

export interface HistoryRow {
  id: string;
  created: string;
  createdBy: string;
  size: number;
  comment: string;
  tags: string[];
}

/** `docker history`: the config's history, newest first, with layer sizes. */
export async function history(ctx: ImageContext, input: string): Promise<HistoryRow[]> {
  const images = imageStore(ctx);
  const { record: r } = await images.resolve(input, 'history');
  const config = await contentStore(ctx).readJSON<ImageConfig>(r.config.digest);
  const snaps = await snapshotter(ctx);
  const chains = chainIDs(r.diffIDs);
  const sizes = chains.map((c) => Number(snaps.stat(c)?.labels[SIZE_LABEL] ?? 0));
  const hist: HistoryEntry[] = config.history?.length ? config.history : r.diffIDs.map(() => ({ created: config.created, created_by: '' }));
  const rows: HistoryRow[] = [];
  let layer = 0;
  for (const h of hist) {
    const size = h.empty_layer ? 0 : sizes[layer++] ?? 0;
    rows.push({ id: '<missing>', created: h.created ?? '', createdBy: h.created_by ?? '', size, comment: h.comment ?? '', tags: [] });
  }
  rows.reverse();
  if (rows[0]) {
    rows[0].id = r.id;
    rows[0].tags = (await images.tagsOf(r.id)).map((t) => familiarString(parseReference(t)));
  }
  return rows;
}
