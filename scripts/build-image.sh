#!/usr/bin/env bash
# Builds the wslat container image without a Docker daemon, from Debian parts only:
#   1. a `debootstrap --variant=minbase bookworm` root holding wslat's runtime libraries (read
#      from the .deb's Depends) and ca-certificates (wss:// targets are verified against them);
#   2. the wslat .deb (scripts/package.sh) installed into it with dpkg, an unprivileged user
#      `wslat` (uid/gid 10001) and a working directory /work it owns;
#   3. trimmed: no apt lists or caches, no docs, man pages or translations but wslat's (every
#      package keeps its copyright file), and a dpkg config that keeps it so;
#   4. `podman import` (ENTRYPOINT /usr/bin/wslat, CMD --help, USER wslat, WORKDIR /work, OCI
#      labels with version and git commit), then `podman save --format oci-archive`.
# Runs as root (debootstrap, chroot). Every run starts from an empty root, so it can be repeated;
# a mount left under the root (debootstrap killed half-way, say) is unmounted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'EOF'
Usage: scripts/build-image.sh [options]

Builds the wslat container image from a debootstrap'ed Debian 12 (minbase) root and the wslat
.deb, without a Docker daemon (debootstrap, dpkg, podman import/save). Run as root.

Options:
  --deb FILE        install this wslat .deb (default: build it: scripts/package.sh BUILD_DIR)
  --build-dir DIR   Release build directory for scripts/package.sh (default: build)
  --out DIR         output directory (default: BUILD_DIR/image); its rootfs/ is replaced
  --mirror URL      Debian mirror (default: the one apt uses for bookworm, from
                    /etc/apt/sources.list*; apt's Acquire::http::Proxy is honoured)
  --name NAME       image name (default: localhost/wslat); the tag is the package version
  --cache           reuse the debootstrap'ed base root from a tarball in
                    ${XDG_CACHE_HOME:-~/.cache}/wslat-image (made on the first such run; it is
                    keyed by mirror and package list, delete it to pick up Debian updates).
                    For developers; CI runs without it, from a fresh debootstrap.
  --root-only       stop after the root and its tarball (no podman)
  -h, --help        this text

Prints the paths it made at the end:
  OUT/rootfs/                          the image root (a directory; chroot into it)
  OUT/wslat-VERSION-rootfs.tar         the same root as imported (no /dev, /proc, /sys content)
  OUT/wslat-VERSION.oci.tar            the image as an OCI archive (podman save)
Push it with:  podman push oci-archive:OUT/wslat-VERSION.oci.tar docker://REGISTRY/wslat:VERSION
EOF
}

deb="" build_dir=build out="" mirror="" name=localhost/wslat cache=0 root_only=0
suite=bookworm
while (($#)); do
  case $1 in
    --deb) deb=${2:?--deb needs a FILE}; shift 2 ;;
    --build-dir) build_dir=${2:?--build-dir needs a DIR}; shift 2 ;;
    --out) out=${2:?--out needs a DIR}; shift 2 ;;
    --mirror) mirror=${2:?--mirror needs a URL}; shift 2 ;;
    --name) name=${2:?--name needs a NAME}; shift 2 ;;
    --cache) cache=1; shift ;;
    --root-only) root_only=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "build-image.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
done

die() { echo "build-image.sh: $*" >&2; exit "${2:-3}"; }
step() { printf '\n== %s\n' "$*"; }
timed() { # timed LABEL COMMAND...: runs it, records "LABEL: Ns", returns its status
  local start=$SECONDS rc=0
  "${@:2}" || rc=$?
  times+=("$1: $((SECONDS - start))s")
  return "$rc"
}
times=()

[[ $(id -u) == 0 ]] || die "debootstrap and chroot need root" 64
need=(debootstrap dpkg-deb tar)
((root_only)) || need+=(podman)
for tool in "${need[@]}"; do
  command -v "$tool" >/dev/null || die "$tool missing (apt-get install debootstrap podman)"
done

# The Debian mirror apt uses for $suite: deb822 .sources first, then one-line sources.list.
apt_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk -v suite="$suite" 'BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; ok = 0; deb = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris); split(uris, u, /[ \t]+/) }
          if ($i ~ /^Suites:/ && (" " $i " ") ~ (" " suite " ")) ok = 1
          if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
          if ($i ~ /^Enabled:[ \t]*no/) ok = 0
        }
        if (ok && deb && uris != "") { print u[1]; exit }
      }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed -n -E "s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+${suite}[[:space:]].*/\2/p"
}
if [[ -z $mirror ]]; then
  mirror=$(apt_mirror | head -n 1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi
# debootstrap fetches with wget, which reads http_proxy; take apt's proxy if one is configured.
if [[ -z ${http_proxy:-} ]]; then
  eval "$(apt-config shell http_proxy Acquire::http::Proxy)"
  [[ -n ${http_proxy:-} ]] && export http_proxy
fi

step "the wslat package"
if [[ -z $deb ]]; then
  start=$SECONDS
  deb=$(scripts/package.sh "$build_dir" | tail -n 1)
  times+=("package: $((SECONDS - start))s")
fi
[[ -f $deb ]] || die "--deb $deb: no such file" 64
deb=$(realpath "$deb")
[[ $(dpkg-deb -f "$deb" Package) == wslat ]] || die "$deb is not the wslat package" 64
version=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg-deb -f "$deb" Architecture)
echo "$deb: wslat $version ($arch)"
# Runtime dependencies, from the package itself (dpkg-shlibdeps wrote them): "a (>= 1), b | c"
# -> "a,b" (the first of alternatives). ca-certificates: wss:// targets are verified against it.
depends=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g' |
  grep -v '^$' | sort -u | paste -sd, -)
include="$depends,ca-certificates"
echo "runtime packages: $include"

out=${out:-$build_dir/image}
mkdir -p "$out"
out=$(realpath "$out")
root=$out/rootfs
[[ $root != / && -n $root ]] || die "refusing to use / as the image root"

# Unmount whatever is mounted at or under the root (deepest first); on exit, success or failure.
unmount_root() {
  local m
  awk -v r="$root" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount "$m" || umount -l "$m"; done
}
trap unmount_root EXIT
trap 'exit 130' INT TERM

step "a fresh root: debootstrap --variant=minbase $suite ($mirror)"
unmount_root
rm -rf --one-file-system "$root"
cache_dir=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/wslat-image
key=$(printf '%s\n' "$suite" "$mirror" "$include" "$arch" | sha256sum | cut -c1-16)
base_tar=$cache_dir/base-$suite-$arch-$key.tar
if ((cache)) && [[ -f $base_tar ]]; then
  echo "from the cache: $base_tar"
  mkdir -p "$root"
  timed "debootstrap (from the cache)" tar -C "$root" --numeric-owner -xpf "$base_tar"
else
  log=$out/debootstrap.log
  if ! timed debootstrap debootstrap --variant=minbase --arch="$arch" --include="$include" \
    "$suite" "$root" "$mirror" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "debootstrap failed (whole log: $log)"
  fi
  echo "ok ($(grep -c '^I: Unpacking [^ ]*\.\.\.$' "$log") packages; log: $log)"
  if ((cache)); then
    mkdir -p "$cache_dir"
    tar -C "$root" --numeric-owner -cpf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
    echo "cached: $base_tar"
  fi
fi

step "install the package, add the user"
install -m 0644 "$deb" "$root/tmp/wslat.deb"
timed install chroot "$root" dpkg -i /tmp/wslat.deb
rm -f "$root/tmp/wslat.deb"
chroot "$root" groupadd --system -K SYS_GID_MAX=10001 --gid 10001 wslat
chroot "$root" useradd --system -K SYS_UID_MAX=10001 --uid 10001 --gid 10001 --home-dir /work --no-create-home \
  --shell /usr/sbin/nologin --comment "wslat" wslat
install -d -o 10001 -g 10001 -m 0755 "$root/work"

step "trim: no apt lists or caches, no docs, man pages or translations but wslat's"
before=$(du -sk --one-file-system "$root" | cut -f1)
# Later dpkg installs in the image keep to the same rule (as Debian's slim images do).
cat >"$root/etc/dpkg/dpkg.cfg.d/wslat-image" <<'EOF'
# wslat image: no documentation but wslat's and the copyright files (scripts/build-image.sh)
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-include /usr/share/doc/wslat/*
path-exclude /usr/share/man/*
path-include /usr/share/man/man1/wslat.1.gz
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
find "$root/usr/share/doc" -mindepth 2 ! -path "$root/usr/share/doc/wslat/*" ! -name copyright \
  ! -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$root/usr/share/man" -mindepth 1 ! -path '*/man1/wslat.1.gz' ! -type d -delete
find "$root/usr/share/man" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/info/* "$root"/usr/share/lintian/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/var/log/* "$root"/tmp/* "$root"/root/.bash_history
mkdir -p "$root/var/lib/apt/lists/partial" "$root/var/cache/apt/archives/partial"
# resolv.conf and hostname are supplied by the container runtime; don't ship this machine's.
: >"$root/etc/resolv.conf"
echo wslat >"$root/etc/hostname"
after=$(du -sk --one-file-system "$root" | cut -f1)
echo "root: $((before / 1024)) MiB -> $((after / 1024)) MiB"

step "the root as a tarball (what podman imports)"
rootfs_tar=$out/wslat-$version-rootfs.tar
# /dev, /proc, /sys stay as empty directories: the runtime mounts them.
timed tarball tar -C "$root" --numeric-owner --one-file-system -cpf "$rootfs_tar.tmp" \
  --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' .
mv "$rootfs_tar.tmp" "$rootfs_tar"
ls -l "$rootfs_tar"

oci=""
if ((!root_only)); then
  step "podman import, podman save --format oci-archive"
  ref=$name:$version
  revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  changes=(
    --change 'ENTRYPOINT ["/usr/bin/wslat"]'
    --change 'CMD ["--help"]'
    --change 'USER 10001:10001'
    --change 'WORKDIR /work'
    --change 'ENV LANG=C.UTF-8'
    --change "LABEL org.opencontainers.image.title=wslat"
    --change "LABEL org.opencontainers.image.description=\"WebSocket latency measurement (wslat run|compare|merge|serve)\""
    --change "LABEL org.opencontainers.image.version=$version"
    --change "LABEL org.opencontainers.image.revision=$revision"
    --change "LABEL org.opencontainers.image.created=$created"
    --change "LABEL org.opencontainers.image.base.name=debian:$suite-minbase"
  )
  podman image rm --force "$ref" >/dev/null 2>&1 || true
  timed import podman import --quiet "${changes[@]}" --message "wslat $version ($revision)" \
    "$rootfs_tar" "$ref" >/dev/null
  oci=$out/wslat-$version.oci.tar
  rm -f "$oci"
  timed save podman save --quiet --format oci-archive -o "$oci" "$ref"
  podman image inspect --format '{{.Config.Entrypoint}} {{.Config.Cmd}} user={{.Config.User}} workdir={{.Config.WorkingDir}}' "$ref"
  ls -l "$oci"
fi

step "done"
printf '  %s\n' "${times[@]}"
echo "image root: $root ($((after / 1024)) MiB)"
echo "rootfs tarball: $rootfs_tar ($(($(stat -c %s "$rootfs_tar") / 1048576)) MiB)"
if [[ -n $oci ]]; then
  echo "image: $ref"
  echo "OCI archive: $oci ($(($(stat -c %s "$oci") / 1048576)) MiB)"
  echo "push: podman push oci-archive:$oci docker://REGISTRY/wslat:$version"
fi
