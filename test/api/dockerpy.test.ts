/**
 * docker-py 7 (the python3 `docker` package) against a real `berth serve`: test/api/dockerpy_check.py
 * asserts on each answer (system, containers, exec, images with build, networks, volumes; pull from
 * a registry) and prints a summary checked here again. The main part runs in a throwaway network
 * namespace (user networks make bridges); the pull part beside a local registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { push, tag } from '../../src/image/index.js';
import { haveRegistry, startRegistry } from '../helpers/registry.js';
import { cannotServeNet, withNsServer } from './netns-serve.js';
import { cannotServe, withServer } from './util.js';

const SCRIPT = fileURLToPath(new URL('../../../test/api/dockerpy_check.py', import.meta.url));

function noDockerPy(): string | undefined {
  if (!existsSync(SCRIPT)) return `no ${SCRIPT}`;
  const r = spawnSync('python3', ['-c', 'import docker, sys; sys.exit(0 if int(docker.__version__.split(".")[0]) >= 7 else 1)']);
  return r.status === 0 ? undefined : 'no docker-py 7 (python3 docker package)';
}

function summaryOf(r: { code: number | null; out: string; err: string }): Record<string, any> {
  assert.equal(r.code, 0, `dockerpy_check.py failed:\n${r.err}\n${r.out}`);
  return JSON.parse(r.out.trim().split('\n').at(-1)!);
}

test('docker-py: ping/version/info/df, containers, exec_run, wait, images build/tag/remove, networks, volumes', { skip: cannotServeNet() ?? noDockerPy(), timeout: 300_000 }, async () => {
  await withNsServer(async (s) => {
    const r = await s.client(['python3', SCRIPT, 'main'], { timeoutMs: 240_000 });
    const sum = summaryOf(r);
    assert.equal(sum.system.api, '1.47');
    assert.deepEqual(sum.system.df_keys, ['Containers', 'Images', 'LayersSize', 'Volumes']);
    assert.equal(sum.containers.exec_code, 4);
    assert.match(sum.images.built, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(sum.images.tags, ['pybuilt:1']);
    assert.match(sum.networks.ip, /^10\.77\.0\.\d+$/);
    assert.ok(sum.volumes.mountpoint.startsWith(s.root), `${sum.volumes.mountpoint} under the data root ${s.root}`);
    // what the server saw, checked from our side
    const names = JSON.parse((await s.http('GET', '/containers/json?all=1')).body) as unknown[];
    assert.deepEqual(names, [], 'every container the script made is gone');
    const img = JSON.parse((await s.http('GET', '/images/pybuilt:1/json')).body);
    assert.equal(img.Id, sum.images.built);
    assert.equal(img.Config.Labels.by, 'docker-py');
  });
});

test('docker-py: pull from a registry, a missing repository is a 404', { skip: cannotServe() ?? noDockerPy() ?? (haveRegistry() ? undefined : 'no docker-registry'), timeout: 120_000 }, async () => {
  const reg = await startRegistry();
  try {
    await withServer(async (s) => {
      const ref = `${reg.host}/py/bb:1`;
      await tag(s.core.images, 'busybox:latest', ref);
      await push(s.core.images, ref);
      assert.equal((await s.docker(['rmi', ref])).code, 0);
      const r = spawnSync('python3', [SCRIPT, 'pull', ref], { env: { PATH: process.env.PATH, DOCKER_HOST: `unix://${s.socket}` }, encoding: 'utf8', timeout: 90_000 });
      const sum = summaryOf({ code: r.status, out: r.stdout, err: r.stderr });
      assert.equal(sum.pull.id, JSON.parse((await s.http('GET', '/images/busybox/json')).body).Id);
      assert.equal((await s.http('GET', `/images/${ref}/json`)).status, 404, 'the script removed what it pulled');
    });
  } finally {
    await reg.stop();
  }
});
