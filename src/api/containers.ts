/** The container routes: create, start, stop, kill, restart, wait, inspect, list, delete, logs. */
import type { ServerResponse } from 'node:http';
import {
  createContainer, inspectContainer, statusText, killContainer, listView, readLogs, reconcile, removeContainer, restartContainer, startContainer,
  stopContainer, type EngineCore,
} from '../engine/index.js';
import type { NetworkMemo } from '../engine/index.js';
import type { Container } from '../engine/store/index.js';
import { createRequest } from './create.js';
import { ApiError, frame, qBool, qInt, readJSON, sendEmpty, sendJSON, type ApiContext } from './http.js';
import { connectPending } from './attach.js';

const get = (core: EngineCore, ref: string): Container => reconcile(core, core.store.containers.get(ref));
const isRunning = (c: Container) => c.state.status === 'running' || c.state.status === 'paused' || c.state.status === 'restarting';


export function summary(core: EngineCore, c: Container, healthSuffix = '', memo?: NetworkMemo): Record<string, unknown> {
  const v = listView(core, c, memo); // inspect's fields a row shows, without the rest of inspect
  const ports: unknown[] = [];
  for (const [k, binds] of Object.entries(v.ports as Record<string, { HostIp: string; HostPort: string }[] | null>)) {
    const [port, type = 'tcp'] = k.split('/');
    if (!binds) { ports.push({ PrivatePort: Number(port), Type: type }); continue; }
    for (const b of binds) ports.push({ IP: b.HostIp || '0.0.0.0', PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type });
  }
  const cmd = [v.path, ...v.args].filter((x) => x !== undefined && x !== '').join(' ');
  return {
    Id: c.id, Names: [`/${c.name}`], Image: c.image, ImageID: c.imageId, Command: cmd,
    Created: Math.floor(Date.parse(c.created) / 1000), Ports: ports, Labels: c.labels ?? {},
    State: c.state.status, Status: statusText(c) + healthSuffix, HostConfig: { NetworkMode: v.networkMode },
    NetworkSettings: { Networks: v.networks }, Mounts: v.mounts,
  };
}

export async function create(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const body = await readJSON<Record<string, unknown>>(ctx.req);
  const warnings: string[] = [];
  const req = createRequest(body, q.get('name') ?? undefined, q.get('platform') ?? undefined);
  const c = await createContainer(ctx.core, { ...req, onWarning: (m) => warnings.push(m) });
  sendJSON(res, 201, { Id: c.id, Warnings: warnings });
}

export async function start(ctx: ApiContext, res: ServerResponse, id: string): Promise<void> {
  const c = get(ctx.core, id);
  if (isRunning(c)) return sendEmpty(res, 304);
  const firstRun = !c.state.startedAt || c.state.startedAt.startsWith('0001-');
  await connectPending(ctx.core, c.id, async (attach) => (await startContainer(ctx.core, c.id, attach ? { attach } : {})).attach, firstRun);
  sendEmpty(res, 204);
}

export async function stop(ctx: ApiContext, res: ServerResponse, id: string, q: URLSearchParams): Promise<void> {
  const c = get(ctx.core, id);
  if (!isRunning(c)) return sendEmpty(res, 304);
  await stopContainer(ctx.core, c.id, qInt(q, 't'), q.get('signal') || undefined);
  sendEmpty(res, 204);
}

const signalName = (s: string): string => (/^\d+$/.test(s) ? s : s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`);

export async function kill(ctx: ApiContext, res: ServerResponse, id: string, q: URLSearchParams): Promise<void> {
  const c = get(ctx.core, id);
  if (!isRunning(c)) throw new ApiError(409, `cannot kill container: ${id}: container ${c.id} is not running`);
  await killContainer(ctx.core, c.id, signalName(q.get('signal') || 'KILL'));
  sendEmpty(res, 204);
}

export async function restart(ctx: ApiContext, res: ServerResponse, id: string, q: URLSearchParams): Promise<void> {
  await restartContainer(ctx.core, get(ctx.core, id).id, qInt(q, 't'));
  sendEmpty(res, 204);
}

export { wait } from './containers-wait.js';

export function inspect(ctx: ApiContext, res: ServerResponse, id: string): void {
  sendJSON(res, 200, inspectContainer(ctx.core, get(ctx.core, id)));
}

export { list } from './containers-list.js';

export async function remove(ctx: ApiContext, res: ServerResponse, id: string, q: URLSearchParams): Promise<void> {
  const c = get(ctx.core, id);
  if (isRunning(c) && !qBool(q, 'force')) {
    throw new ApiError(409, `cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`);
  }
  await removeContainer(ctx.core, c.id, { force: qBool(q, 'force'), volumes: qBool(q, 'v'), link: qBool(q, 'link') });
  sendEmpty(res, 204);
}

const since = (v: string | null): bigint | undefined => {
  if (!v || v === '0') return undefined;
  const [s, frac = ''] = v.split('.');
  return BigInt(s!) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
};

/** `/logs`: multiplexed frames without a tty, raw bytes with one; `follow` ends when the container stops. */
export async function logs(ctx: ApiContext, res: ServerResponse, id: string, q: URLSearchParams): Promise<void> {
  const c = get(ctx.core, id);
  const stdout = qBool(q, 'stdout');
  const stderr = qBool(q, 'stderr');
  if (!stdout && !stderr) throw new ApiError(400, 'Bad parameters: you must choose at least one stream');
  const tty = !!(c.config as { Tty?: boolean }).Tty;
  const tail = q.get('tail');
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  res.writeHead(200, { 'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
  res.flushHeaders();
  const ts = qBool(q, 'timestamps');
  for await (const e of readLogs(ctx.core, c, {
    follow: qBool(q, 'follow'), stdout, stderr, signal: abort.signal,
    tail: tail && tail !== 'all' ? Number(tail) : undefined, since: since(q.get('since')), until: since(q.get('until')),
  })) {
    const text = ts ? `${e.time.replace(/\.(\d+)Z$/, (_m, f: string) => `.${f.padEnd(9, '0').slice(0, 9)}Z`)} ${e.log}` : e.log;
    const data = Buffer.from(text);
    res.write(tty ? data : frame(e.stream === 'stderr' ? 2 : 1, data));
  }
  res.end();
}
