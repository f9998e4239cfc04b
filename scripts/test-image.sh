#!/usr/bin/env bash
# CI test of the container image (scripts/build-image.sh), without running a container: the CI
# machine refuses crun's setrlimit, so the image's root is tried through chroot instead, as the
# image's user, in its working directory, with the image's environment, in private network, mount
# and PID namespaces (loopback only; /proc is mounted there and vanishes with the namespace):
#   - `wslat --version` is the package's version;
#   - an installed example (smoke.json, against the embedded server) passes and saves its
#     result under the working directory;
# then checks what podman made: `podman image inspect` and the OCI archive's own config both
# carry the entrypoint /usr/bin/wslat. The test image is removed from podman's storage at the end;
# the OCI archive stays in the output directory.
# Usage: scripts/test-image.sh [build-image.sh options]   (e.g. --deb FILE, --build-dir DIR)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "test-image.sh: debootstrap and chroot need root" >&2; exit 64; }
for arg in "$@"; do
  case $arg in -h | --help) echo "Usage: scripts/test-image.sh [scripts/build-image.sh options]"; exit 0 ;; esac
done

name=localhost/wslat-test
log=$(mktemp)
cleanup() {
  rm -f "$log"
  if [[ -n ${vols:-} ]]; then rm -rf "$vols"; fi
  if [[ -n ${root:-} ]]; then rmdir "$root/scenario" "$root/results" "$root/baseline" 2>/dev/null || true; fi
  if [[ -n ${ref:-} ]]; then podman image rm --force "$ref" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

step "build the image (scripts/build-image.sh $*)"
start=$SECONDS
scripts/build-image.sh --name "$name" "$@" | tee "$log"
echo "build-image.sh took $((SECONDS - start))s"
root=$(sed -n 's/^image root: \(.*\) ([0-9]* MiB)$/\1/p' "$log")
oci=$(sed -n 's/^OCI archive: \(.*\) ([0-9]* MiB)$/\1/p' "$log")
ref=$(sed -n 's/^image: //p' "$log")
[[ -d $root && -f $oci && -n $ref ]] || fail "build-image.sh did not print the root, archive and image"
version=${ref##*:}

# in_image COMMAND...: runs it in the image root as the image would (user 10001, /work, its ENV),
# in fresh network/mount/PID namespaces: only a loopback interface, /proc private to it.
in_image() {
  # shellcheck disable=SC2016  # expanded by the inner shell
  unshare --net --mount --pid --fork --mount-proc="$root/proc" \
    sh -c 'ip link set lo up && exec "$@"' sh \
    env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/work LANG=C.UTF-8 \
    /usr/sbin/chroot --userspec=10001:10001 "$root" sh -c 'cd /work && exec "$@"' sh "$@"
}
unshare --net --mount --pid --fork --mount-proc="$root/proc" true ||
  fail "unshare (network, mount and PID namespaces) is refused here; the chroot test needs it"

step "wslat --version in the image root"
got=$(in_image wslat --version)
echo "$got"
[[ $got == "wslat $version"* ]] || fail "wslat --version: '$got', expected wslat $version"

step "an installed example in the image root (embedded server, loopback only)"
rm -rf "$root/work/results"
in_image wslat run /usr/share/doc/wslat/examples/smoke.json ||
  fail "smoke.json did not pass in the image root (exit $?)"
saved=$(find "$root/work/results" -name '*.json' -user 10001 | wc -l)
[[ $saved == 1 ]] || fail "expected one result saved under /work/results by the image user, found $saved"
echo "ok: smoke.json passed; its result was saved under /work/results"
rm -rf "$root/work/results"
mounts=$(awk -v r="$root" 'index($2, r) == 1' /proc/self/mounts)
[[ -z $mounts ]] || fail "mounts left under the root: $mounts"

step "the Kubernetes Jobs' own commands (deploy/kubernetes) in the image root"
# What a pod would run: each Job's container args, taken from the manifest, through the image's
# /bin/sh as its user, the scenario, results and baseline volumes bind-mounted where the Jobs
# mount them; the target is `wslat serve` (with the chat welcome) in the same namespaces. The
# shards (JOB_COMPLETION_INDEX 0..3), then the merge Job against a baseline from an unsharded
# run. (kubectl, the registry and the cluster are not exercised here.)
job_args() {
  /usr/bin/python3 -c 'import sys, yaml
job = yaml.safe_load(open(sys.argv[1]))
print(job["spec"]["template"]["spec"]["containers"][0]["args"][0])' "$1"
}
shard_cmd=$(job_args deploy/kubernetes/wslat-shards.yaml)
merge_cmd=$(job_args deploy/kubernetes/wslat-merge.yaml)
vols=$(mktemp -d)
mkdir "$vols/scenario" "$vols/results" "$vols/baseline"
cp scenarios/chat.json "$vols/scenario/"
chmod -R a+rX "$vols"
chown 10001:10001 "$vols/results" "$vols/baseline"
mkdir "$root/scenario" "$root/results" "$root/baseline" # mount points, removed below
# shellcheck disable=SC2016  # expanded by the inner bash
unshare --net --mount --pid --fork --mount-proc="$root/proc" env -i PATH="$PATH" \
  root="$root" vols="$vols" shard_cmd="$shard_cmd" merge_cmd="$merge_cmd" bash -c '
  set -euo pipefail
  ip link set lo up
  for v in scenario results baseline; do mount --bind "$vols/$v" "$root/$v"; done
  pod() { # pod COMMAND [VAR=VALUE...]: COMMAND through the image sh, as the image would run it
    env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/work LANG=C.UTF-8 "${@:2}" \
      /usr/sbin/chroot --userspec=10001:10001 "$root" /bin/sh -c "cd /work && $1"
  }
  fifo=$vols/serve.out
  mkfifo "$fifo"
  pod "exec wslat serve --welcome '"'"'{\"type\":\"connection_established\"}'"'"'" >"$fifo" &
  read -r first <"$fifo"   # the server prints its URL first
  cat "$fifo" >/dev/null &
  url=$(grep -o "ws://[^ ]*" <<<"$first")
  echo "target: wslat serve on $url"
  quiet() { # quiet LABEL pod ARGS...: its output only when it fails
    "${@:2}" >"$vols/out" 2>&1 || { rc=$?; cat "$vols/out"; echo "$1: exit $rc"; return 1; }
    echo "$1: $(grep "^verdict:" "$vols/out" | tail -n 1)"
  }
  quiet "baseline (unsharded run)" pod "wslat run /scenario/chat.json --target $url --env production --no-save --format text --export-json /baseline/chat-golden-path.production.json"
  for i in 0 1 2 3; do
    quiet "shard Job, JOB_COMPLETION_INDEX=$i" pod "$shard_cmd" TARGET="$url" CHAT_TOKEN=not-used JOB_COMPLETION_INDEX=$i
  done
  quiet "merge Job" pod "$merge_cmd"
' || fail "a Kubernetes Job's command failed in the image root"
for f in shard-0.json shard-1.json shard-2.json shard-3.json merged.json junit.xml report.html summary.md; do
  [[ -s $vols/results/$f ]] || fail "the Jobs did not write /results/$f"
done
echo "ok: /results holds $(cd "$vols/results" && echo *)"
rmdir "$root/scenario" "$root/results" "$root/baseline"
rm -rf "$vols"

step "the image: podman image inspect, and the OCI archive's own config"
entry=$(podman image inspect --format '{{json .Config.Entrypoint}}' "$ref")
echo "podman image inspect $ref: Entrypoint $entry"
[[ $entry == '["/usr/bin/wslat"]' ]] || fail "entrypoint of $ref: $entry"
/usr/bin/python3 - "$oci" "$version" <<'EOF'
import json, sys, tarfile
oci, version = sys.argv[1], sys.argv[2]
with tarfile.open(oci) as t:
    def blob(digest):
        return json.load(t.extractfile("blobs/" + digest.replace(":", "/")))
    index = json.load(t.extractfile("index.json"))
    manifest = blob(index["manifests"][0]["digest"])
    config = blob(manifest["config"]["digest"])["config"]
labels = config.get("Labels", {})
print(f"{oci}: Entrypoint {config.get('Entrypoint')}, Cmd {config.get('Cmd')}, "
      f"User {config.get('User')}, WorkingDir {config.get('WorkingDir')}, "
      f"version label {labels.get('org.opencontainers.image.version')}, "
      f"{len(manifest['layers'])} layer(s)")
assert config.get("Entrypoint") == ["/usr/bin/wslat"], config
assert config.get("WorkingDir") == "/work", config
assert labels.get("org.opencontainers.image.version") == version, labels
EOF
echo
echo "test-image.sh: passed ($ref, $(du -k "$oci" | cut -f1) KiB OCI archive)"
