/**
 * docker-compose 1.29 (docker-py underneath) against `berth serve` in a throwaway network
 * namespace: a two-service app of busybox images — httpd with a published port and a named
 * volume, a client reaching it by service name on a user network — then exec, logs, restart and
 * `down -v`, which must leave no container, network or volume behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotServeNet, withNsServer } from './netns-serve.js';

const COMPOSE = '/usr/bin/docker-compose';
const skip = cannotServeNet() ?? (existsSync(COMPOSE) ? undefined : `no docker-compose at ${COMPOSE} (apt-get install docker-compose)`);

const YML = `version: "3.7"
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo web-started; mkdir -p /www; echo hello-from-web > /www/index.html; exec httpd -f -p 80 -h /www"]
    ports: ["18080:80"]
    volumes: ["data:/data"]
    networks: [appnet]
    stop_grace_period: 1s
  client:
    image: busybox
    command: ["sleep", "3600"]
    networks: [appnet]
    depends_on: [web]
    stop_grace_period: 1s
networks:
  appnet: {}
volumes:
  data: {}
`;

test('docker-compose 1.29: up, service DNS, published port, volume, exec, logs, restart, down -v', { skip, timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-compose-'));
  writeFileSync(join(dir, 'docker-compose.yml'), YML);
  try {
    await withNsServer(async (s) => {
      // the host side of a published port: an address of the namespace other than loopback
      s.sh(['ip', 'link', 'add', 'h0', 'type', 'veth', 'peer', 'name', 'h1']);
      s.sh(['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'h0']);
      for (const l of ['h0', 'h1']) s.sh(['ip', 'link', 'set', l, 'up']);
      const compose = async (args: string[], timeoutMs = 120_000) => {
        const r = await s.client([COMPOSE, '-p', 'bt', ...args], { cwd: dir, timeoutMs });
        assert.equal(r.code, 0, `docker-compose ${args.join(' ')}: exit ${r.code}\n${r.err}\n${r.out}\nserver:\n${s.serverLog().slice(-3000)}`);
        return r;
      };
      await compose(['up', '-d']);
      const ps = await s.docker(['ps', '--filter', 'label=com.docker.compose.project=bt', '--format', '{{.Names}} {{.State}}']);
      assert.deepEqual(ps.out.trim().split('\n').sort(), ['bt_client_1 running', 'bt_web_1 running']);
      const nets = await s.docker(['network', 'ls', '--filter', 'label=com.docker.compose.project=bt', '--format', '{{.Name}}']);
      assert.equal(nets.out.trim(), 'bt_appnet');
      const vols = await s.docker(['volume', 'ls', '--filter', 'label=com.docker.compose.project=bt', '--format', '{{.Name}}']);
      assert.equal(vols.out.trim(), 'bt_data');

      // the published port, answered from the "host"
      let page = '';
      for (let i = 0; i < 30 && page !== 'hello-from-web\n'; i++) {
        page = s.sh(['curl', '-s', '--max-time', '2', 'http://10.77.0.1:18080/'], { allowFail: true });
        if (page !== 'hello-from-web\n') await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(page, 'hello-from-web\n');

      // service-name DNS on the user network, through exec
      const viaDns = await compose(['exec', '-T', 'client', 'timeout', '5', 'wget', '-q', '-O', '-', 'http://web/']);
      assert.equal(viaDns.out, 'hello-from-web\n');

      // the named volume keeps its data across a restart
      await compose(['exec', '-T', 'web', 'sh', '-c', 'echo 42 > /data/count']);
      await compose(['restart', 'web']);
      const count = await compose(['exec', '-T', 'web', 'cat', '/data/count']);
      assert.equal(count.out, '42\n');
      const mp = (await s.docker(['volume', 'inspect', '--format', '{{.Mountpoint}}', 'bt_data'])).out.trim();
      assert.equal(s.sh(['cat', join(mp, 'count')]), '42\n');

      const logs = await compose(['logs', '--no-color', 'web']);
      assert.equal(logs.out.match(/web-started/g)?.length, 2, logs.out);

      await compose(['down', '-v']);
      const left = await s.docker(['ps', '-a', '-q', '--filter', 'label=com.docker.compose.project=bt']);
      assert.equal(left.out.trim(), '');
      assert.deepEqual((await s.docker(['network', 'ls', '--format', '{{.Name}}'])).out.trim().split('\n'), ['host', 'none']);
      assert.equal((await s.docker(['volume', 'ls', '-q'])).out.trim(), '');
      assert.doesNotMatch(s.sh(['ip', 'link']), /br-/);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
