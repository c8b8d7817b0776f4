/** `berth system df [OPTIONS]`: disk usage of images, containers, local volumes and build cache. */
import { usage } from '../../lib/index.js';
import { diskUsage, type DiskUsage } from '../../engine/index.js';
import { bool, str } from '../flags.js';
import { io, runEngineCommand, type CommandSpec } from '../container/common.js';
import { rowOf } from '../container/ps.js';
import { humanSize, shortId, since } from '../image/common.js';
import { formatItems } from '../image/format.js';
import { humanSize4, sortedKeys } from './common.js';

export const spec: CommandSpec = {
  name: 'system df',
  usage: 'berth system df [OPTIONS]',
  description: 'Show berth disk usage',
  args: [0, 0],
  flags: [
    { name: 'format', type: 'string', help: "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template" },
    { name: 'verbose', short: 'v', type: 'bool', help: 'Show detailed information on space usage' },
  ],
};

const HEADERS: Record<string, string> = {
  Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE',
  Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE',
  Containers: 'CONTAINERS', Image: 'IMAGE', Command: 'COMMAND', LocalVolumes: 'LOCAL VOLUMES', RunningFor: 'CREATED', Status: 'STATUS',
  Names: 'NAMES', Name: 'VOLUME NAME', Links: 'LINKS', CacheType: 'CACHE TYPE', LastUsedSince: 'LAST USED', UsageCount: 'USAGE', Shared: 'SHARED',
};

const SUMMARY = '{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const IMAGES = '{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}';
const CONTAINERS = '{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}';
const VOLUMES = '{{.Name}}\t{{.Links}}\t{{.Size}}';
const BUILD_CACHE = '{{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}';

const ACTIVE = ['running', 'paused', 'restarting'];

/** `SIZE (N%)` as Docker's Reclaimable column (no percentage of nothing). */
function reclaimable(bytes: number, total: number): string {
  return total > 0 ? `${humanSize4(bytes)} (${Math.floor((bytes * 100) / total)}%)` : humanSize4(bytes);
}

/** The four summary rows (Docker's diskUsage contexts). */
export function summaryRows(du: DiskUsage): Record<string, string>[] {
  const usedImages = du.Images.filter((i) => i.Containers > 0).reduce((t, i) => t + i.Size - i.SharedSize, 0);
  const ctrTotal = du.Containers.reduce((t, c) => t + c.SizeRw, 0);
  const ctrFree = du.Containers.filter((c) => !ACTIVE.includes(c.container.state.status)).reduce((t, c) => t + c.SizeRw, 0);
  const volTotal = du.Volumes.reduce((t, v) => t + v.Size, 0);
  const volFree = du.Volumes.filter((v) => v.RefCount === 0).reduce((t, v) => t + v.Size, 0);
  // berth's "build cache": ingests (blobs being written or left by killed pulls, commits, loads)
  const cacheTotal = du.BuildCache.reduce((t, b) => t + b.Size, 0);
  const cacheFree = du.BuildCache.filter((b) => !b.InUse).reduce((t, b) => t + b.Size, 0);
  const row = (Type: string, total: number, active: number, size: number, recl: string) =>
    sortedKeys({ Type, TotalCount: String(total), Active: String(active), Size: humanSize4(size), Reclaimable: recl });
  return [
    row('Images', du.Images.length, du.Images.filter((i) => i.Containers > 0).length, du.LayersSize, reclaimable(du.LayersSize - usedImages, du.LayersSize)),
    row('Containers', du.Containers.length, du.Containers.filter((c) => ACTIVE.includes(c.container.state.status)).length, ctrTotal, reclaimable(ctrFree, ctrTotal)),
    row('Local Volumes', du.Volumes.length, du.Volumes.filter((v) => v.RefCount > 0).length, volTotal, reclaimable(volFree, volTotal)),
    row('Build Cache', du.BuildCache.length, du.BuildCache.filter((b) => b.InUse).length, cacheTotal, reclaimable(cacheFree, cacheTotal)),
  ];
}

function verboseItems(du: DiskUsage) {
  return {
    Images: du.Images.map((i) => sortedKeys({
      Containers: String(i.Containers), CreatedAt: i.Created, CreatedSince: since(i.Created), ID: shortId(i.Id),
      Repository: i.Repository, SharedSize: humanSize(i.SharedSize), Size: humanSize(i.Size), Tag: i.Tag,
      UniqueSize: humanSize(i.Size - i.SharedSize), VirtualSize: humanSize(i.Size),
    })),
    Containers: du.Containers.map((c) => sortedKeys({ ...rowOf(c.container, false), Size: humanSize(c.SizeRw) })),
    Volumes: du.Volumes.map((v) => sortedKeys({
      Driver: v.volume.driver, Links: String(v.RefCount), Mountpoint: v.volume.mountpoint, Name: v.volume.name, Scope: 'local', Size: humanSize4(v.Size),
    })),
    BuildCache: du.BuildCache.map((b) => sortedKeys({
      CacheType: b.CacheType, CreatedSince: since(b.LastUsedAt), Description: b.Description ?? 'interrupted or running blob write', ID: b.ID,
      InUse: String(b.InUse), LastUsedSince: since(b.LastUsedAt), Shared: 'false', Size: humanSize(b.Size), UsageCount: '0',
    })) as Record<string, unknown>[],
  };
}

export function run(argv: string[], name = 'system df'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const format = str(p, 'format').trim();
    const verbose = bool(p, 'verbose');
    if (verbose && format !== '' && format !== 'table' && format !== 'json') {
      throw usage('system df', `the --format option only accepts "table" and "json" together with --verbose`);
    }
    const du = await diskUsage(core);
    if (!verbose) {
      io.out.write(formatItems(format, summaryRows(du), SUMMARY, HEADERS, '*formatter.diskUsageImagesContext'));
      return;
    }
    const items = verboseItems(du);
    if (format === 'json') {
      io.out.write(JSON.stringify(items) + '\n');
      return;
    }
    const table = (tpl: string, rows: Record<string, unknown>[], id = 'IMAGE ID') => formatItems('', rows, tpl, { ...HEADERS, ID: id });
    io.out.write([
      'Images space usage:\n\n', table(IMAGES, items.Images),
      '\nContainers space usage:\n\n', table(CONTAINERS, items.Containers, 'CONTAINER ID'),
      '\nLocal Volumes space usage:\n\n', table(VOLUMES, items.Volumes),
      `\nBuild cache usage: ${humanSize4(du.BuildCache.reduce((t, b) => t + b.Size, 0))}\n\n`, table(BUILD_CACHE, items.BuildCache, 'CACHE ID'),
    ].join(''));
  });
}
