#!/usr/bin/env bash
# The main job on a fresh machine, offline: set up, build a busybox bundle from Debian's
# busybox-static, and run it with berth-runtime. Run as root:  bash scripts/demo.sh [command...]
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
bash scripts/setup.sh
dir=${BERTH_DEMO_DIR:-/tmp/berth-demo}
rm -rf "$dir"
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/tmp" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$dir/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/rootfs/etc/passwd"
echo 'root:x:0:' > "$dir/rootfs/etc/group"
rt="$PWD/dist/berth-runtime"
(cd "$dir" && "$rt" spec)
if [ "$#" -eq 0 ]; then set -- sh -c 'echo "hello from a berth container: $(hostname), pid $$, $(id)"; ls /'; fi
node -e '
  const fs = require("fs"); const f = process.argv[1]; const c = JSON.parse(fs.readFileSync(f, "utf8"));
  c.process.args = process.argv.slice(2); c.process.terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  c.hostname = "berth-demo"; fs.writeFileSync(f, JSON.stringify(c, null, 2));
' "$dir/config.json" "$@"
exec "$rt" run -b "$dir" "berth-demo-$$"
