#!/usr/bin/env bash
# A cgroup-v2-only Linux guest for the tests (QEMU, software emulation: no KVM needed).
#
#   scripts/cgroup2-vm.sh build           build kernel + initramfs + root filesystem once (cached)
#   scripts/cgroup2-vm.sh run WORKDIR     boot, run WORKDIR/cmd.sh in the guest, power off;
#                                         writes WORKDIR/out.txt (its output) and WORKDIR/rc.txt
#   scripts/cgroup2-vm.sh check           exit 0 when qemu & co are installed, else print why
#   scripts/cgroup2-vm.sh dir             the cache directory of the current inputs
#
# The guest: Debian 12's kernel booted as an ELF vmlinux (PVH), `cgroup_no_v1=all` (so v2 only),
# a debootstrap minbase root served read-only over 9p, tmpfs on /run /tmp /var/lib/berth-guest
# (overlayfs cannot use 9p as its upper layer), this repository read-only at /mnt/repo (its
# build, dist and node_modules included: node is the host's /usr/bin/node, copied in), and
# WORKDIR read-write at /mnt/work, an 8 MiB scratch disk /dev/vda (WORKDIR/disk.img). No network:
# images come in with `berth save`/`load`.
#
# The cache (BERTH_VM_CACHE, default /var/cache/berth-test/cgroup2-vm) holds one directory per
# key: the build's own code, the kernel package version and the node binary; a finished build has DONE.
# Timing under TCG: boot ≈ 4 s, each berth command 1-7 s: batch many commands per boot.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
cache_root="${BERTH_VM_CACHE:-/var/cache/berth-test/cgroup2-vm}"
mirror="${BERTH_VM_MIRROR:-http://deb.debian.org/debian}"
log() { printf 'cgroup2-vm: %s\n' "$*" >&2; }
die() { printf 'cgroup2-vm: error: %s\n' "$*" >&2; exit 1; }

MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_mmio netfs fscache 9pnet 9pnet_virtio 9p overlay virtio_blk"

missing_tools() {
  local t m=()
  for t in qemu-system-x86_64 debootstrap cpio busybox python3 apt-get dpkg-deb xz; do
    command -v "$t" >/dev/null 2>&1 || m+=("$t")
  done
  [ -f /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || m+=("busybox-static")
  printf '%s' "${m[*]}"
}

kernel_pkg() {
  apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1
}

cache_dir() {
  local kp key
  kp="$(kernel_pkg)"
  [ -n "$kp" ] || die "apt knows no linux-image-amd64 (apt-get update?)"
  # keyed by what the build uses: its own code, the kernel package and node
  key="$( { declare -f build write_initramfs_init write_cg2init; echo "$MODULES $kp"; sha256sum /usr/bin/node | cut -d' ' -f1; } | sha256sum | cut -c1-16)"
  printf '%s/%s\n' "$cache_root" "$key"
}

write_initramfs_init() {
  cat > "$1" <<EOF
#!/bin/busybox sh
B=/bin/busybox
\$B mount -t proc proc /proc
\$B mount -t sysfs sys /sys
\$B mount -t devtmpfs dev /dev
for m in $MODULES; do \$B insmod /lib/modules/\$m.ko || echo "initramfs: insmod \$m failed"; done
\$B mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose rootfs /newroot || { echo "initramfs: no root"; \$B poweroff -f; }
\$B umount /proc /sys
\$B mount --move /dev /newroot/dev 2>/dev/null || \$B umount /dev
exec \$B switch_root /newroot /sbin/cg2init
EOF
  chmod 755 "$1"
}

write_cg2init() {
  cat > "$1" <<'EOF'
#!/bin/busybox sh
# PID 1 of the guest: mounts, every controller enabled, run /mnt/work/cmd.sh, power off.
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B grep -q " /dev " /proc/mounts || $B mount -t devtmpfs dev /dev
$B mkdir -p /dev/pts /dev/shm
$B mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts /dev/pts
$B ln -sf pts/ptmx /dev/ptmx 2>/dev/null
for d in /run /tmp /dev/shm /var/lib/berth-guest /root; do $B mount -t tmpfs -o mode=1777 tmpfs $d; done
$B mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
for c in $($B cat /sys/fs/cgroup/cgroup.controllers); do
  echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || echo "cg2init: cannot enable $c"
done
$B hostname cg2vm
$B ip link set lo up 2>/dev/null || $B ifconfig lo up
$B mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 work /mnt/work || { echo "cg2init: no work share"; $B poweroff -f; }
$B mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro repo /mnt/repo || echo "cg2init: no repo share"
# a worktree's node_modules may be a symlink out of the repository: its target comes as "modules"
for a in $($B cat /proc/cmdline); do
  case "$a" in cg2vm.modules=*) $B mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro modules "${a#cg2vm.modules=}" || echo "cg2init: no modules share";; esac
done
cd /mnt/work
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
echo "cg2init: guest ready $($B cut -d' ' -f1 /proc/uptime)" > /dev/console
/bin/sh ./cmd.sh > out.txt 2>&1 < /dev/null
echo $? > rc.txt
$B sync
$B poweroff -f
EOF
  chmod 755 "$1"
}

build() {
  local m; m="$(missing_tools)"
  [ -z "$m" ] || die "missing: $m (scripts/setup.sh installs them)"
  local dir; dir="$(cache_dir)"
  if [ -f "$dir/DONE" ]; then printf '%s\n' "$dir"; return 0; fi
  local kp; kp="$(kernel_pkg)"
  log "building $dir ($kp)"
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  local t="$dir.tmp"
  # kernel
  (cd "$t" && apt-get download -qq "$kp" >/dev/null)
  mkdir -p "$t/kpkg"
  dpkg-deb -x "$t"/linux-image-*.deb "$t/kpkg"
  local ver; ver="$(ls "$t/kpkg/lib/modules")"
  python3 - "$t/kpkg/boot/vmlinuz-$ver" "$t/vmlinux" <<'PY'
import lzma, sys
data = open(sys.argv[1], 'rb').read()
i = data.find(b'\xfd7zXZ\x00')
if i < 0: sys.exit('no XZ stream in the bzImage')
out = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[i:])
if out[:4] != b'\x7fELF': sys.exit('the decompressed kernel is not an ELF file')
open(sys.argv[2], 'wb').write(out)
PY
  # initramfs: static busybox, the modules (flat), /init
  local ir="$t/initramfs"
  mkdir -p "$ir"/{bin,dev,proc,sys,newroot,lib/modules}
  cp /bin/busybox "$ir/bin/busybox"
  for m in $MODULES; do
    local f; f="$(find "$t/kpkg/lib/modules/$ver" -name "$m.ko*" | head -n1)"
    [ -n "$f" ] || die "kernel $ver has no module $m"
    case "$f" in
      *.xz) xz -dc "$f" > "$ir/lib/modules/$m.ko" ;;
      *.zst) zstd -qdc "$f" > "$ir/lib/modules/$m.ko" ;;
      *) cp "$f" "$ir/lib/modules/$m.ko" ;;
    esac
  done
  write_initramfs_init "$ir/init"
  (cd "$ir" && find . | cpio -o -H newc --quiet | gzip -9) > "$t/initramfs.gz"
  # root filesystem
  local rf="$t/rootfs"
  debootstrap --variant=minbase bookworm "$rf" "$mirror" > "$t/debootstrap.log" 2>&1 ||
    { tail -n 20 "$t/debootstrap.log" >&2; die "debootstrap failed"; }
  # (the modules the guest needs are loaded by the initramfs: the root has none)
  cp /bin/busybox "$rf/bin/busybox"
  cp /usr/bin/node "$rf/usr/bin/node"
  mkdir -p "$rf/mnt/work" "$rf/mnt/repo" "$rf/var/lib/berth-guest"
  write_cg2init "$rf/sbin/cg2init"
  rm -rf "$rf/var/cache/apt/archives"/*.deb "$t/kpkg" "$t"/*.deb
  touch "$t/DONE"
  rm -rf "$dir"
  mv "$t" "$dir"
  log "built $dir"
  printf '%s\n' "$dir"
}

run() {
  local work="${1:?usage: cgroup2-vm.sh run WORKDIR}"
  work="$(cd "$work" && pwd)"
  [ -f "$work/cmd.sh" ] || die "$work/cmd.sh is missing"
  local dir; dir="$(build)"
  rm -f "$work/out.txt" "$work/rc.txt"
  # a small block device (/dev/vda) for the tests of device throttles (io.max)
  [ -f "$work/disk.img" ] || truncate -s 8M "$work/disk.img"
  local mem="${BERTH_VM_MEM:-1536}" limit="${BERTH_VM_TIMEOUT:-900}"
  local nm extra=() append=""
  nm="$(readlink -f "$here/node_modules" || true)"
  if [ -L "$here/node_modules" ] && [ -d "$nm" ]; then
    mkdir -p "$dir/rootfs$nm" # its mount point, at the same path as on the host
    extra=(-fsdev "local,id=moddev,path=$nm,security_model=none,multidevs=remap,readonly=on" -device virtio-9p-pci,fsdev=moddev,mount_tag=modules)
    append=" cg2vm.modules=$nm"
  fi
  timeout --signal=KILL "$limit" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 1 -m "$mem" \
    -machine pc -nographic -no-reboot -kernel "$dir/vmlinux" -initrd "$dir/initramfs.gz" \
    -append "console=ttyS0 panic=-1 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 quiet mitigations=off tsc=reliable$append" \
    -fsdev "local,id=rootdev,path=$dir/rootfs,security_model=none,multidevs=remap,readonly=on" \
    -device virtio-9p-pci,fsdev=rootdev,mount_tag=rootfs \
    -fsdev "local,id=repodev,path=$here,security_model=none,multidevs=remap,readonly=on" \
    -device virtio-9p-pci,fsdev=repodev,mount_tag=repo \
    -virtfs "local,path=$work,mount_tag=work,security_model=none,id=work" \
    -drive "if=virtio,format=raw,file=$work/disk.img" "${extra[@]}" \
    > "$work/console.txt" 2>&1 < /dev/null || true
  [ -f "$work/rc.txt" ] || { tail -n 30 "$work/console.txt" >&2; die "the guest did not finish (see $work/console.txt)"; }
  return "$(cat "$work/rc.txt")"
}

case "${1:-}" in
  build) build ;;
  run) shift; run "$@" ;;
  dir) cache_dir ;;
  check) m="$(missing_tools)"; [ -z "$m" ] || { printf 'missing: %s\n' "$m"; exit 1; } ;;
  *) echo "usage: $0 build | run WORKDIR | check | dir" >&2; exit 2 ;;
esac
