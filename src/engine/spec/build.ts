/**
 * buildSpec: an image config plus Docker run/create options -> the OCI runtime spec dockerd would
 * hand to runc (moby daemon/oci_linux.go createSpec, in its order: common options, cgroups,
 * resources, sysctls, devices, rlimits, user, namespaces, capabilities, seccomp, mounts,
 * AppArmor, OOM score). The result is validated against the runtime-spec schema.
 */
import { posix } from 'node:path';
import { BerthError } from '../../lib/index.js';
import { dockerDefaultSpec, validateConfig, type ImageConfig, type Spec } from '../../oci/index.js';
import { daemonEnv, effectiveConfig } from './config.js';
import { applyMounts } from './mounts.js';
import { applyNamespaces, applySysctls } from './namespaces.js';
import { applyResources } from './resources.js';
import { applyDevices, applySecurity, hostMaskedPaths, parseSecurityOpts } from './security.js';
import type { EffectiveConfig, RunOptions, SpecContext } from './types.js';
import { resolveUserHome } from './user.js';

/** Annotation carrying the stop signal (image-spec conversion.md's key for Config.StopSignal). */
export const STOP_SIGNAL_ANNOTATION = 'org.opencontainers.image.stopSignal';
export const DEFAULT_INIT_IN_CONTAINER = '/sbin/docker-init';

export interface BuiltSpec {
  spec: Spec;
  /** The merged container config (for the engine's records and `inspect`). */
  config: EffectiveConfig;
}

/** Build and validate the spec; also returns the merged config. */
export function buildSpecAndConfig(image: ImageConfig, opts: RunOptions, ctx: SpecContext): BuiltSpec {
  if (!ctx.rootfs.startsWith('/')) throw new BerthError({ kind: 'invalid', op: 'create container', message: `create container: rootfs ${ctx.rootfs} is not an absolute path` });
  const cfg = effectiveConfig(image, opts, ctx);
  const sec = parseSecurityOpts(opts.securityOpt);
  const spec = dockerDefaultSpec(ctx.maskedPaths ?? hostMaskedPaths());
  const proc = spec.process!;

  // withCommonOptions
  spec.root = { path: ctx.rootfs, readonly: !!opts.readOnly };
  proc.args = [...cfg.args];
  const pid = opts.pid ?? '';
  if (opts.init && pid !== 'host' && !pid.startsWith('container:')) {
    if (!ctx.initPath) throw new BerthError({ kind: 'invalid', op: 'create container', message: 'create container: --init: no init binary is configured' });
    const inside = ctx.initInContainer ?? DEFAULT_INIT_IN_CONTAINER;
    proc.args = [inside, '--', ...cfg.args];
    spec.mounts!.push({ destination: inside, type: 'bind', source: ctx.initPath, options: ['bind', 'ro'] });
  }
  proc.cwd = cfg.workingDir || '/';
  proc.env = daemonEnv(cfg.env, cfg.hostname, cfg.tty);
  proc.terminal = cfg.tty;
  if (cfg.tty && opts.consoleSize) proc.consoleSize = { height: opts.consoleSize[0], width: opts.consoleSize[1] };
  spec.hostname = cfg.hostname;

  // withCgroups, WithResources, rlimits, OOM score
  spec.linux!.cgroupsPath = posix.join(opts.cgroupParent || ctx.cgroupParent, ctx.id);
  applyResources(spec, opts, ctx);
  applyDevices(spec, opts, ctx);
  const who = resolveUserHome(ctx.rootfs, cfg.user, opts.groupAdd, ctx.readFile);
  proc.user = who.user;
  // Docker sets HOME from the user's passwd entry (else /) unless the config has one.
  if (!proc.env.some((e) => e.startsWith('HOME='))) proc.env.push(`HOME=${who.home || '/'}`);
  applyNamespaces(spec, opts, ctx);
  applySysctls(spec, opts, cfg.domainname);
  applySecurity(spec, opts, ctx, sec);
  applyMounts(spec, opts, ctx);

  spec.annotations = { [STOP_SIGNAL_ANNOTATION]: cfg.stopSignal };
  validateConfig(spec);
  return { spec, config: cfg };
}

/** The OCI runtime spec for a container of `image` run with `opts` (see buildSpecAndConfig). */
export function buildSpec(image: ImageConfig, opts: RunOptions, ctx: SpecContext): Spec {
  return buildSpecAndConfig(image, opts, ctx).spec;
}
