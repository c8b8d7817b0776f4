#!/usr/bin/env bash
# The main job on a fresh machine, offline: set up, build a busybox image from Debian's
# busybox-static, and use it as a user would — `berth run`, a detached web server on a published
# port answered by curl, logs, exec, stats, rm — then the raw OCI runtime on a bundle.
# Run as root:  bash scripts/demo.sh
# The demo keeps its own data and run roots (BERTH_DEMO_DIR, default /tmp/berth-demo) and
# removes what it made; the default bridge `berth0` and berth's nftables table stay, as docker0 does.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
bash scripts/setup.sh
dir=${BERTH_DEMO_DIR:-/tmp/berth-demo}
export BERTH_ROOT="$dir/data" BERTH_RUN_ROOT="$dir/run"
berth="$PWD/dist/berth"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

if [ -d "$dir/data" ]; then "$berth" rm -f demo-web >/dev/null 2>&1 || true; fi
rm -rf "$dir"
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/tmp" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" "$dir/rootfs/www"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$dir/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/rootfs/etc/passwd"
echo 'root:x:0:' > "$dir/rootfs/etc/group"
echo '<h1>hello from a berth container</h1>' > "$dir/rootfs/www/index.html"

step "tar -C rootfs -c . | berth import --change 'CMD [\"sh\"]' - busybox"
tar -C "$dir/rootfs" -c . | "$berth" import --change 'CMD ["sh"]' --change 'ENV PATH=/bin' - busybox:latest
step 'berth run --rm busybox sh -c "echo hello from $(hostname); ip -4 -o addr show eth0"'
"$berth" run --rm busybox sh -c 'echo "hello from $(hostname), pid $$"; ip -4 -o addr show eth0'
step 'berth run -d --name demo-web -p 127.0.0.1::80 busybox httpd -f -v -p 80 -h /www'
"$berth" run -d --name demo-web -p 127.0.0.1::80 busybox httpd -f -v -p 80 -h /www
step 'berth port demo-web 80'
addr=$("$berth" port demo-web 80)
echo "$addr"
step "curl -s http://$addr/"
for _ in $(seq 1 50); do curl -fs "http://$addr/" && break; sleep 0.1; done
step 'berth ps'
"$berth" ps
step 'berth logs demo-web'
"$berth" logs demo-web
step 'berth exec demo-web ps'
"$berth" exec demo-web ps
step 'berth stats --no-stream demo-web'
"$berth" stats --no-stream demo-web
step 'berth rm -f demo-web'
"$berth" rm -f demo-web

# The same image as an OCI bundle, run by berth-runtime (runc's command line).
rt="$PWD/dist/berth-runtime"
step 'berth-runtime spec && berth-runtime run -b BUNDLE berth-demo'
(cd "$dir" && "$rt" spec)
node -e '
  const fs = require("fs"); const f = process.argv[1]; const c = JSON.parse(fs.readFileSync(f, "utf8"));
  c.process.args = ["sh", "-c", "echo \"hello from berth-runtime: $(hostname), pid $$, $(id)\""]; c.process.terminal = false;
  c.hostname = "berth-demo"; fs.writeFileSync(f, JSON.stringify(c, null, 2));
' "$dir/config.json"
"$rt" run -b "$dir" "berth-demo-$$"
