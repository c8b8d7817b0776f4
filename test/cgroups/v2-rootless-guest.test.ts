/**
 * Rootless berth with a delegated cgroup v2 subtree (issue 17), in the cgroup-v2-only QEMU guest of
 * scripts/cgroup2-vm.sh (one boot, one batch). The guest has no systemd: the batch does what
 * systemd's Delegate=yes does for user@UID.service (the directory and its cgroup.procs,
 * cgroup.subtree_control and cgroup.threads chowned to the user, controllers enabled in the
 * ancestors) and runs berth as a uid without a passwd entry (the single-id mapping) whose shell is
 * moved into it. Checked: `info` says cgroupfs, the limits reach the container's cgroup files (seen
 * inside and on the host, under <delegated>/berth.slice/<id>), `--cpuset-cpus` (cpuset not
 * delegated) is refused, an OOM kill is seen, stats, update and exec work, rm leaves nothing; a
 * second user whose cgroup is not delegated gets the refusal and still runs containers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharesToWeight } from '../../src/cgroups/index.js';
import { withCli } from '../cli/run-util.js';
import { guestMissing, withGuestBatch } from './guest-util.js';

const skip = guestMissing();

/** `@@ NAME` before each command's output, `@@ rc=N` after it. U: delegated; V: not. */
const BATCH = String.raw`
set -u
export BERTH_NO_WORKER=1 BERTH_BRIDGE=none
export B=/mnt/repo/dist/berth U=4321 V=4322
export D=/sys/fs/cgroup/user.slice/user-4321.slice/user@4321.service S=/sys/fs/cgroup/user.slice/user-4322.slice/session-1.scope
t() { n=$1; shift; echo "@@ $n"; "$@" 2>&1; echo "@@ rc=$?"; }
# systemd's Delegate=yes for user@4321.service (cpu memory pids, systemd's default set), by hand
mkdir -p "$D" "$S"
echo "+cpu +memory +pids" > /sys/fs/cgroup/user.slice/cgroup.subtree_control
echo "+cpu +memory +pids" > /sys/fs/cgroup/user.slice/user-4321.slice/cgroup.subtree_control
chown $U:$U "$D" "$D/cgroup.procs" "$D/cgroup.subtree_control" "$D/cgroup.threads"
for u in $U $V; do mkdir -p /tmp/h$u /tmp/r$u; chown $u:$u /tmp/h$u /tmp/r$u; chmod 700 /tmp/r$u; done
cp /mnt/work/busybox.tar /tmp/busybox.tar; chmod 644 /tmp/busybox.tar
# as user $1 in cgroup $2 (the delegated root, or its init leaf once berth moved its processes there)
as() { sh -c 'echo $$ > "$2/cgroup.procs" 2>/dev/null || echo $$ > "$2/init/cgroup.procs" || exit 99; exec setpriv --reuid=$1 --regid=$1 --clear-groups env HOME=/tmp/h$1 XDG_RUNTIME_DIR=/tmp/r$1 sh -c "$3"' sh "$@"; }
u() { as $U "$D" "$1"; }
v() { as $V "$S" "$1"; }
t own u 'cat /proc/self/cgroup; id -u'
t info u '$B info --format "{{.CgroupDriver}} {{.CgroupVersion}}"'
t load u '$B load -q -i /tmp/busybox.tar'
t inside u '$B run --rm --network none -m 64m --cpus 0.5 --pids-limit 50 --cpu-shares 512 busybox sh -c "cat /proc/self/cgroup; cd /sys/fs/cgroup; for f in memory.max cpu.max pids.max cpu.weight; do echo \"\$f: \$(cat \$f)\"; done"'
t delegated sh -c 'cat $D/cgroup.subtree_control $D/init/cgroup.type'
t cpuset u '$B run --rm --network none --cpuset-cpus 0 busybox true'
t detach u '$B run -d --name lim --network none -m 48m --pids-limit 20 busybox sleep 300 >/dev/null && $B inspect -f "{{.Id}}" lim'
t host sh -c 'for d in $D/berth.slice/*/; do basename $d; cat $d/memory.max $d/pids.max; wc -l < $d/cgroup.procs; done'
t stats u '$B stats --no-stream --format "{{.MemUsage}} {{.PIDs}}" lim'
t update u '$B update -m 96m --pids-limit 30 lim >/dev/null && $B exec lim sh -c "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /proc/self/cgroup"'
t pidslimit u '$B run --rm --network none --pids-limit 5 busybox sh -c "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done 2>&1; wait" | grep -c -i "fork\|resource"'
t oom u '$B run --name oom --network none -m 16m --memory-swap 16m busybox sh -c "x=aaaaaaaa; while :; do x=\$x\$x; done" >/dev/null 2>&1; $B inspect -f "{{.State.OOMKilled}} {{.State.ExitCode}}" oom'
t rm u '$B rm -f lim oom'
t left sh -c 'find $D/berth.slice -mindepth 1 -type d | wc -l; find $D -mindepth 1 -type d | sed "s|^$D||" | sort'
t vown v 'cat /proc/self/cgroup'
t vinfo v '$B info --format "{{.CgroupDriver}} {{.CgroupVersion}}"'
t vload v '$B load -q -i /tmp/busybox.tar'
t vlimit v '$B run --rm --network none -m 16m busybox true'
t vpids v '$B run --rm --network none --pids-limit 10 busybox true'
t vrun v '$B run --rm --network none busybox echo runs'
`;

test('cgroup v2 guest, rootless: a delegated subtree gives containers their limits; without one they are refused', { skip, timeout: 40 * 60_000 }, () => withCli((c) => withGuestBatch(c, 'cgroup v2 guest (rootless)', BATCH, ({ get, ok, refused }) => {
    assert.equal(ok('own'), '0::/user.slice/user-4321.slice/user@4321.service\n4321\n');
    assert.equal(ok('info').trim(), 'cgroupfs 2');
    ok('load');
    // inside: its own cgroup namespace, the limits in its cgroup files
    const lim = Object.fromEntries(ok('inside').split('\n').filter((l) => l.includes(': ')).map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2).trim()]));
    assert.match(get('inside').text, /^0::\/$/m);
    assert.equal(lim['memory.max'], String(64 * 1024 * 1024));
    assert.equal(lim['cpu.max'], '50000 100000');
    assert.equal(lim['pids.max'], '50');
    assert.equal(lim['cpu.weight'], String(sharesToWeight(512)));
    // the delegated root's processes moved to its init leaf, so that it could enable its controllers
    const [ctl, type] = ok('delegated').trim().split('\n');
    assert.deepEqual(ctl!.split(' ').sort(), ['cpu', 'memory', 'pids']);
    assert.equal(type, 'domain', 'the init leaf is a valid domain (moved before any controller was enabled)');
    refused('cpuset', /--cpuset-cpus: Your kernel does not support cpuset.*the cpuset controller is not delegated/);
    const id = ok('detach').trim();
    assert.equal(ok('host').trim().split('\n').join(' '), `${id} ${48 * 1024 * 1024} 20 1`, 'on the host: <delegated>/berth.slice/<id>');
    assert.match(ok('stats'), /\/ 48MiB 1\b/);
    assert.equal(ok('update').trim(), `${96 * 1024 * 1024}\n30\n0::/`);
    assert.ok(Number(ok('pidslimit').trim()) >= 1, 'forks beyond --pids-limit fail');
    assert.equal(ok('oom').trim(), 'true 137');
    ok('rm');
    const left = ok('left').trim().split('\n');
    assert.equal(left[0], '0', `no cgroup left in berth.slice: ${left.join(' ')}`);
    assert.deepEqual(left.slice(1), ['/berth.slice', '/init'], 'the delegated root holds berth.slice (empty) and the init leaf');
    // the second user: its cgroup is root's; limits refused with Docker's message, the rest runs
    assert.equal(ok('vown').trim(), '0::/user.slice/user-4322.slice/session-1.scope');
    assert.equal(ok('vinfo').trim(), 'none 2');
    ok('vload');
    refused('vlimit', /-m\/--memory: Your kernel does not support memory limit capabilities or the cgroup is not mounted \(rootless: .*not delegated to uid 4322/);
    refused('vpids', /--pids-limit: Your kernel does not support pids limit capabilities/);
    assert.equal(ok('vrun').trim(), 'runs');
})));
