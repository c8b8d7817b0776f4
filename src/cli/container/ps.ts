/** `berth ps` (and `container ls`): Docker's columns, filters, formats. */
import { imageStore } from '../../image/index.js';
import { checkHealthFilter, healthStatus, healthSuffix, ingestHealthEvents, humanDuration, reconcile, statusText, type EngineCore } from '../../engine/index.js';
import { parseFilters, type Container } from '../../engine/store/index.js';
import { bool, int, str, strs } from '../flags.js';
import { PS_ERRORS, formatItems, preflight } from '../image/format.js';
import { createdAt, humanSize } from '../image/common.js';
import { io, runEngineCommand, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'ps',
  usage: 'berth ps [OPTIONS]',
  description: 'List containers',
  args: [0, 0],
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all containers (default shows just running)' },
    { name: 'filter', short: 'f', type: 'strings', help: 'Filter output based on conditions provided' },
    { name: 'format', type: 'string', help: "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'" },
    { name: 'last', short: 'n', type: 'int', default: -1, help: 'Show n last created containers (includes all states)' },
    { name: 'latest', short: 'l', type: 'bool', help: 'Show the latest created container (includes all states)' },
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only display container IDs' },
    { name: 'size', short: 's', type: 'bool', help: 'Display total file sizes' },
  ],
};

const HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS',
  State: 'STATE', Status: 'STATUS', Size: 'SIZE', Names: 'NAMES', Labels: 'LABELS', Mounts: 'MOUNTS', Networks: 'NETWORKS',
  LocalVolumes: 'LOCAL VOLUMES',
};


function command(c: Container, noTrunc: boolean): string {
  const cfg = c.config as { Entrypoint?: string[] | null; Cmd?: string[] | null };
  let cmd = [...(cfg.Entrypoint ?? []), ...(cfg.Cmd ?? [])].join(' ');
  if (!noTrunc && [...cmd].length > 20) cmd = [...cmd].slice(0, 19).join('') + '…';
  return noTrunc ? JSON.stringify(cmd) : `"${cmd}"`;
}

export function rowOf(c: Container, noTrunc: boolean, size?: { rw: number; root: number }, health = '', ports = ''): Record<string, unknown> {
  const labels = Object.entries(c.labels).map(([k, v]) => `${k}=${v}`).sort().join(','); // sorted, as docker 28 prints them
  const image = c.image;
  return {
    Command: command(c, noTrunc),
    CreatedAt: createdAt(c.created),
    ID: noTrunc ? c.id : c.id.slice(0, 12),
    Image: noTrunc || !/^sha256:/.test(image) ? image : image.slice(7, 19),
    Labels: labels,
    LocalVolumes: String(c.volumes.length),
    Mounts: c.volumes.map((v) => (noTrunc ? v.name : v.name.slice(0, 15))).join(','),
    Names: c.name,
    Networks: String((c.hostConfig as { NetworkMode?: string }).NetworkMode ?? 'none'),
    Ports: ports,
    RunningFor: `${humanDuration(Date.now() - Date.parse(c.created))} ago`,
    Size: size ? `${humanSize(size.rw)} (virtual ${humanSize(size.root)})` : '0B',
    State: c.state.status,
    Status: statusText(c) + health,
  };
}

async function sizes(core: EngineCore, c: Container): Promise<{ rw: number; root: number }> {
  const { snapshotter } = await import('../../image/index.js');
  const snaps = await snapshotter(core.images);
  let rw = 0;
  try { rw = (await snaps.usage(c.snapshotKey)).size; } catch { /* gone */ }
  const img = await imageStore(core.images).get(c.imageId);
  return { rw, root: rw + (img?.size ?? 0) };
}

export async function run(argv: string[], name = 'ps'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const format = str(p, 'format');
    const blank = Object.fromEntries(Object.keys(HEADERS).map((k) => [k, '']));
    preflight(format, Object.defineProperty(blank, 'Label', { value: Object.assign(() => '', { params: ['string'] }) }), '*formatter.ContainerContext', PS_ERRORS);
    const filters = parseFilters(strs(p, 'filter'), 'list containers');
    const health = filters.health; // the monitor's state file, not the store, knows it
    delete filters.health;
    if (health) checkHealthFilter(health, 'list containers');
    const last = int(p, 'last');
    const limit = bool(p, 'latest') ? 1 : last > 0 ? last : undefined;
    const images = imageStore(core.images);
    const tagged = new Map<string, string>();
    if (filters.ancestor) {
      for (const a of filters.ancestor) {
        try { tagged.set(a, (await images.resolve(a, 'list containers')).record.id); } catch { /* no match */ }
      }
    }
    const list = core.store.containers.list({ all: bool(p, 'all'), limit, filters }, (v) => (tagged.has(v) ? [tagged.get(v)!] : []))
      .map((c) => reconcile(core, c))
      .filter((c) => { ingestHealthEvents(core, c); return !health || health.includes(healthStatus(core, c)); });
    if (bool(p, 'quiet')) {
      io.out.write(list.map((c) => (bool(p, 'no-trunc') ? c.id : c.id.slice(0, 12)) + '\n').join(''));
      return 0;
    }
    // Docker asks for sizes when the template uses .Size
    const withSize = bool(p, 'size') || /\.Size\b/.test(format);
    const rows: Record<string, unknown>[] = [];
    for (const c of list) {
      const row = rowOf(c, bool(p, 'no-trunc'), withSize ? await sizes(core, c) : undefined, healthSuffix(core, c), portsText(core, c));
      // Docker's ContainerContext method: {{.Label "key"}} is that label's value or ''
      Object.defineProperty(row, 'Label', { value: Object.assign((key: string) => c.labels[key] ?? '', { params: ['string'] }) });
      rows.push(row);
    }
    const table = `{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}${withSize ? '\t{{.Size}}' : ''}`;
    io.out.write(formatItems(format, rows, table, HEADERS, '*formatter.ContainerContext', PS_ERRORS));
    return 0;
  });
}

/** Docker's PORTS column: `0.0.0.0:8080->80/tcp, :::8080->80/tcp`, unpublished exposed ports as `80/tcp`. */
function portsText(core: EngineCore, c: Container): string {
  const running = c.state.status === 'running' || c.state.status === 'paused';
  const exposed = Object.keys((c.config as { ExposedPorts?: Record<string, unknown> }).ExposedPorts ?? {});
  const published = running ? core.store.networks.portsOf(c.id) : [];
  const out: string[] = [];
  const done = new Set<string>();
  for (const p of published) {
    const k = `${p.containerPort}/${p.proto}`;
    done.add(k);
    if (p.hostIp === '') out.push(`0.0.0.0:${p.hostPort}->${k}`, `:::${p.hostPort}->${k}`);
    else out.push(`${p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp}:${p.hostPort}->${k}`);
  }
  for (const k of exposed) if (!done.has(k)) out.push(k);
  return out.join(', ');
}
