/**
 * The library API: `import { Engine } from 'berth'`. The same use cases as the CLI, as typed
 * async functions. Containers run under their own monitors, so an Engine may be closed (and its
 * process exit) while they run.
 */
import type { Readable } from 'node:stream';
import { type PullOptions, type PullResult } from '../image/index.js';
import { pullImage } from './images.js';
import type { JsonLogEntry } from '../sys/index.js';
import {
  createContainer, EngineCore, execInContainer, inspectContainer, killContainer, readLogs, reconcile, removeContainer,
  runContainer, startContainer, stopContainer, waitContainer, type CreateRequest, type ExecRequest, type LogsOptions,
  type RemoveOptions, type RunRequest, type RunResult,
} from './containers/index.js';
import type { EngineOptions } from './options.js';
import type { Container, ListOptions } from './store/index.js';

export class Engine {
  readonly core: EngineCore;

  constructor(options: EngineOptions = {}) {
    this.core = new EngineCore(options);
  }

  /** Pull an image from its registry. */
  pull(ref: string, opts: PullOptions = {}): Promise<PullResult> {
    return pullImage({ images: this.core.images, events: this.core.store.events }, ref, opts);
  }

  /** Create a container (status created); pulls the image when missing (policy `pull`). */
  create(req: CreateRequest): Promise<Container> {
    return createContainer(this.core, req);
  }

  async start(ref: string): Promise<Container> {
    return (await startContainer(this.core, ref)).container;
  }

  /** Create, start and (unless detached) wait: the exit code and the output. */
  run(req: RunRequest): Promise<RunResult> {
    return runContainer(this.core, req);
  }

  /** Stop signal, then SIGKILL after `timeout` seconds. */
  async stop(ref: string, timeout?: number): Promise<void> {
    await stopContainer(this.core, ref, timeout);
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    await killContainer(this.core, ref, signal);
  }

  /** Wait until the container is not running; its exit code. */
  wait(ref: string): Promise<number> {
    return waitContainer(this.core, ref);
  }

  /** Log entries as an async iterable (`follow` keeps it open while the container runs). */
  logs(ref: string, opts: LogsOptions = {}): AsyncGenerator<JsonLogEntry> {
    return readLogs(this.core, reconcile(this.core, this.core.store.containers.get(ref)), opts);
  }

  /** Run a command in a running container; output is collected unless `stdio` says otherwise. */
  async exec(ref: string, cmd: string[], opts: Omit<ExecRequest, 'cmd'> & { stdin?: Readable | string } = {}): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const exitCode = await execInContainer(this.core, ref, {
      ...opts, cmd, stdio: opts.stdio ?? [opts.stdin !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      onSpawn: (child) => {
        child.stdout?.on('data', (d: Buffer) => out.push(d));
        child.stderr?.on('data', (d: Buffer) => err.push(d));
        if (child.stdin && opts.stdin !== undefined) {
          if (typeof opts.stdin === 'string') child.stdin.end(opts.stdin);
          else opts.stdin.pipe(child.stdin);
        }
      },
    });
    return { exitCode, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
  }

  /** Docker's ContainerJSON. */
  inspect(ref: string): Record<string, unknown> {
    return inspectContainer(this.core, reconcile(this.core, this.core.store.containers.get(ref)));
  }

  list(opts: ListOptions = {}): Container[] {
    return this.core.store.containers.list(opts).map((c) => reconcile(this.core, c));
  }

  async remove(ref: string, opts: RemoveOptions = {}): Promise<void> {
    await removeContainer(this.core, ref, opts);
  }

  close(): Promise<void> {
    return this.core.close();
  }
}
