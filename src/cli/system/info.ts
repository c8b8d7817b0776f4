/** `berth info [OPTIONS]` (also `system info`): Docker's layout, Client then Server. */
import { systemInfo } from '../../engine/index.js';
import { str } from '../flags.js';
import { io, printErr, runEngineCommand, type CommandSpec } from '../container/common.js';
import { bytesSize, formatOne } from './common.js';

export const spec: CommandSpec = {
  name: 'info',
  usage: 'berth info [OPTIONS]',
  description: 'Display system-wide information',
  args: [0, 0],
  flags: [{ name: 'format', short: 'f', type: 'string', help: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template" }],
};

type Info = Record<string, unknown> & {
  DriverStatus: [string, string][]; Plugins: { Volume: string[]; Network: string[]; Log: string[] };
  SecurityOptions: string[]; Runtimes: Record<string, unknown>; Swarm: { LocalNodeState: string };
  RegistryConfig: { InsecureRegistryCIDRs: string[]; IndexConfigs: Record<string, { Name: string; Secure: boolean }>; Mirrors: string[] };
};

export function clientInfo(version: string): Record<string, unknown> {
  return { Debug: false, Version: version, Context: 'default', Plugins: [], Warnings: null };
}

/** The text of `info` (Docker's prettyPrintInfo, for what berth has). */
export function prettyInfo(client: Record<string, unknown>, i: Info | null): string {
  const out: string[] = ['Client:', ` Version:    ${client.Version}`, ` Context:    ${client.Context}`, ` Debug Mode: ${client.Debug}`, '', 'Server:'];
  if (!i) return out.join('\n') + '\n\n';
  const line = (k: string, v: unknown) => out.push(`${k} ${v}`);
  const nonEmpty = (k: string, v: unknown) => { if (v !== '' && v !== undefined && v !== null) line(k, v); };
  line(' Containers:', i.Containers);
  line('  Running:', i.ContainersRunning);
  line('  Paused:', i.ContainersPaused);
  line('  Stopped:', i.ContainersStopped);
  line(' Images:', i.Images);
  nonEmpty(' Server Version:', i.ServerVersion);
  nonEmpty(' Storage Driver:', i.Driver);
  for (const [k, v] of i.DriverStatus) out.push(`  ${k}: ${v}`);
  line(' Logging Driver:', i.LoggingDriver);
  line(' Cgroup Driver:', i.CgroupDriver);
  nonEmpty(' Cgroup Version:', i.CgroupVersion);
  out.push(' Plugins:');
  line('  Volume:', i.Plugins.Volume.join(' '));
  line('  Network:', i.Plugins.Network.join(' '));
  line('  Log:', i.Plugins.Log.join(' '));
  line(' Swarm:', i.Swarm.LocalNodeState);
  line(' Runtimes:', Object.keys(i.Runtimes).join(' '));
  line(' Default Runtime:', i.DefaultRuntime);
  nonEmpty(' Init Binary:', i.InitBinary);
  if (i.SecurityOptions.length) {
    out.push(' Security Options:');
    for (const so of i.SecurityOptions) {
      const kv = Object.fromEntries(so.split(',').map((p) => p.split('=', 2) as [string, string]));
      out.push(`  ${kv.name}`);
      if (kv.profile) out.push(`   Profile: ${kv.profile}`);
    }
  }
  nonEmpty(' Kernel Version:', i.KernelVersion);
  nonEmpty(' Operating System:', i.OperatingSystem);
  nonEmpty(' OSType:', i.OSType);
  nonEmpty(' Architecture:', i.Architecture);
  line(' CPUs:', i.NCPU);
  line(' Total Memory:', bytesSize(i.MemTotal as number));
  nonEmpty(' Name:', i.Name);
  nonEmpty(' ID:', i.ID);
  line(' Docker Root Dir:', i.DockerRootDir);
  line(' Debug Mode:', i.Debug);
  nonEmpty(' HTTP Proxy:', i.HttpProxy);
  nonEmpty(' HTTPS Proxy:', i.HttpsProxy);
  nonEmpty(' No Proxy:', i.NoProxy);
  line(' Experimental:', i.ExperimentalBuild);
  const insecure = [...Object.values(i.RegistryConfig.IndexConfigs).filter((r) => !r.Secure).map((r) => r.Name), ...i.RegistryConfig.InsecureRegistryCIDRs];
  if (insecure.length) out.push(' Insecure Registries:', ...insecure.map((r) => `  ${r}`));
  if (i.RegistryConfig.Mirrors.length) out.push(' Registry Mirrors:', ...i.RegistryConfig.Mirrors.map((m) => `  ${m}`));
  line(' Live Restore Enabled:', i.LiveRestoreEnabled);
  return out.join('\n') + '\n\n';
}

export function run(argv: string[], name = 'info'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const { VERSION } = await import('../commands.js');
    const client = clientInfo(VERSION);
    const f = str(p, 'format');
    let info: Info;
    try {
      info = await systemInfo(core, VERSION) as Info;
    } catch (e) {
      if (f) throw e;
      // Docker's layout when the server part fails: the client section, then the error.
      io.out.write(prettyInfo(client, null).replace(/\n\n$/, '\n') + `ERROR: ${(e as Error).message}\n`);
      printErr('errors pretty printing info');
      return 1;
    }
    if (f) {
      const out = formatOne(f, { ...info, ClientInfo: client });
      if (typeof out === 'number') return out;
      io.out.write(out);
    } else io.out.write(prettyInfo(client, info));
  });
}
