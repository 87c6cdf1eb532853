#!/usr/bin/env bash
# Builds Polly's container image with no registry and no base image: a root filesystem assembled from
# this machine's Node and storage tools (each with the shared libraries `ldd` names), the compiled app
# (dist/, web/dist/, bin/) and its production node_modules (the non-dev entries of package-lock.json),
# imported with `docker import`. One image serves both halves: `polly server` (the controller, CSI
# Identity + Controller) and `polly agent` (the CSI node plugin / Docker volume plugin), which needs the
# mount, loop-device and mkfs tools copied in here.
#
#   deploy/image/build.sh [--tag polly:VERSION] [--tar FILE] [--no-import]
#
# Run it after `npm ci` (which builds dist/ and web/dist/). The docker CLI honours DOCKER_HOST. --tar
# also keeps the root filesystem tarball (`docker import FILE TAG` elsewhere); to load the image into
# containerd on a Kubernetes node: `docker save polly:VERSION | ctr -n k8s.io images import -`.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
version=$(node -p "require('$root/package.json').version")
tag="polly:$version"
tar_out=""
do_import=1

die() { printf 'build-image: %s\n' "$*" >&2; exit 1; }
while (($#)); do
  case $1 in
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --tar) tar_out=${2:?--tar needs a file}; shift 2 ;;
    --no-import) do_import=0; shift ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
((do_import)) || [[ -n $tar_out ]] || die "--no-import without --tar builds nothing"
[[ -f $root/dist/cli/main.js && -f $root/web/dist/index.html ]] || die "dist/ or web/dist/ is missing: run npm ci (or npm run build && npm run build:web) first"
[[ -d $root/node_modules ]] || die "node_modules/ is missing: run npm ci first"

work=$(mktemp -d "${TMPDIR:-/tmp}/polly-image-XXXXXX")
trap 'rm -rf "$work"' EXIT
fs=$work/rootfs
mkdir -p "$fs"/{usr/local/bin,usr/bin,usr/sbin,bin,sbin,etc/ssl/certs,opt/polly,var/lib/polly,run,csi,root}
install -d -m 1777 "$fs/tmp"

# A binary and the shared libraries it loads, at the same paths as here.
copy_libs() {
  local lib
  # `ldd` prints "name => /path (addr)" and the loader as "/lib64/ld-… (addr)"; static binaries print nothing useful.
  for lib in $(ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
    [[ -e $fs$lib ]] || { mkdir -p "$fs$(dirname "$lib")"; cp -L "$lib" "$fs$lib"; }
  done
}
copy_tool() { # NAME DEST-DIR: the tool found on PATH (symlinks resolved), or a failure naming its package
  local src
  src=$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v "$1") || die "$1 is not installed (apt-get install $3)"
  cp -L "$src" "$fs$2/$1"
  copy_libs "$src"
}

# Node (the runtime of both halves).
copy_tool node /usr/local/bin nodejs
# A shell and the small utilities (busybox-static: no libraries).
copy_tool busybox /bin busybox-static
for applet in sh env cat ls mkdir rm mv df ln sleep kill ps grep sed awk find stat chmod chown touch true false head tail wc tr id hostname; do
  ln -sf busybox "$fs/bin/$applet"
done
ln -sf ../../bin/env "$fs/usr/bin/env"
# What the agent and the drivers run (util-linux, mount, e2fsprogs, xfsprogs, btrfs-progs, coreutils).
for t in mount umount losetup blockdev blkid findmnt nsenter; do copy_tool "$t" /usr/bin util-linux; done
for t in mkfs.ext4 e2fsck resize2fs dumpe2fs; do copy_tool "$t" /usr/sbin e2fsprogs; done
for t in mkfs.xfs xfs_growfs; do copy_tool "$t" /usr/sbin xfsprogs; done
copy_tool btrfs /usr/bin btrfs-progs
# GNU cp and du: the local driver clones with `cp -a --reflink=auto --sparse=always` and sizes with `du -sb`.
for t in cp du; do copy_tool "$t" /usr/bin coreutils; done

# Files a process expects to find.
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$fs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$fs/etc/group"
printf 'hosts: files dns\n' >"$fs/etc/nsswitch.conf"
[[ -f /etc/ssl/certs/ca-certificates.crt ]] && cp /etc/ssl/certs/ca-certificates.crt "$fs/etc/ssl/certs/"
[[ -f /etc/mke2fs.conf ]] && cp /etc/mke2fs.conf "$fs/etc/"

# The app: compiled JavaScript without source maps, the dashboard, and production dependencies only.
app=$fs/opt/polly
cp "$root/package.json" "$root/package-lock.json" "$app/"
mkdir -p "$app/bin" "$app/web"
cp "$root/bin/polly.js" "$app/bin/"
ln -s /opt/polly/bin/polly.js "$fs/usr/local/bin/polly"   # `polly …` in `docker exec` (#!/usr/bin/env node)
(cd "$root" && tar --exclude='*.map' -cf - dist) | tar -C "$app" -xf -
cp -r "$root/web/dist" "$app/web/dist"
node - "$root" "$app" <<'EOF'
// The production closure from package-lock.json: every installed package not marked dev. A package is
// copied with everything under it, so a nested path whose parent was copied is skipped.
const { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const [root, app] = process.argv.slice(2);
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const paths = Object.entries(lock.packages)
  .filter(([path, meta]) => path.startsWith('node_modules/') && !meta.dev && !meta.link)
  .map(([path]) => path)
  .filter((path) => existsSync(join(root, path))) // an optional dependency for another platform
  .sort();
const copied = [];
for (const path of paths) {
  if (copied.some((parent) => path.startsWith(`${parent}/`))) continue;
  cpSync(join(root, path), join(app, path), { recursive: true, verbatimSymlinks: true });
  copied.push(path);
}
// better-sqlite3 was compiled here: the image needs its addon, not the sources and objects (30 MB).
const sqlite = join(app, 'node_modules/better-sqlite3');
if (existsSync(sqlite)) {
  const addon = readFileSync(join(sqlite, 'build/Release/better_sqlite3.node'));
  for (const dir of ['deps', 'src', 'build']) rmSync(join(sqlite, dir), { recursive: true, force: true });
  mkdirSync(join(sqlite, 'build/Release'), { recursive: true });
  writeFileSync(join(sqlite, 'build/Release/better_sqlite3.node'), addon, { mode: 0o755 });
}
process.stderr.write(`build-image: ${paths.length} production packages\n`);
EOF

(cd "$fs" && tar --numeric-owner --owner=0 --group=0 -cf "$work/rootfs.tar" .)
if [[ -n $tar_out ]]; then cp "$work/rootfs.tar" "$tar_out"; fi
if ((do_import)); then
  docker import \
    --change 'ENTRYPOINT ["/usr/local/bin/node", "/opt/polly/bin/polly.js"]' \
    --change 'CMD ["server"]' \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin' \
    --change 'ENV POLLY_DATA_DIR=/var/lib/polly' \
    --change 'ENV POLLY_LISTEN=0.0.0.0:7978' \
    --change 'WORKDIR /var/lib/polly' \
    --change 'EXPOSE 7978' \
    --change "LABEL org.opencontainers.image.title=polly org.opencontainers.image.version=$version" \
    --message "polly $version" \
    "$work/rootfs.tar" "$tag" >/dev/null
  size=$(du -sh "$work/rootfs.tar" | cut -f1)
  printf 'build-image: built %s (%s)\n' "$tag" "$size"
fi
