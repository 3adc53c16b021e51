#!/usr/bin/env bash
# test-fresh.sh -- the README's two commands, as written, on a bare Debian 12.
#
# The image is Debian 12 from debootstrap (scripts/build-base-image.sh, no registry)
# plus only git, make and ca-certificates. In a container of it, as root: `git clone`
# of the commit under test, then `make demo`, then `make test`. Fails if either
# fails. Nothing of the host's build is used: the clone comes from a bare repository
# holding just that commit's history, bind-mounted read-only.
#
# Where the host has Go in /usr/local/go it is mounted read-only at the same place,
# so deps.sh builds FerretDB as on a machine that has Go (the Go module proxy is
# reached with the host's CA bundle, mounted read-only as SSL_CERT_FILE); without it
# the MongoDB tests skip loudly, as the README says.
#
# The image is cached under a tag keyed by this script's and build-base-image.sh's
# hash, so a second run starts at the clone.
#
# Environment:
#   FRESH_COMMIT     commit to test (default HEAD; uncommitted changes are not tested)
#   FRESH_TIMEOUT    seconds for the container's work (default 1800)
#   FRESH_NO_GO=1    do not mount the host's Go toolchain
#   FRESH_REBUILD=1  rebuild the cached image
#   FRESH_KEEP=1     keep the container (prints how to remove it)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

log() { printf '%s\n' "test-fresh: $*"; }
die() { printf '%s\n' "test-fresh: error: $*" >&2; exit 1; }
t_start=$SECONDS

command -v docker >/dev/null 2>&1 || die "docker not found (make test-fresh needs a Docker engine)"
timeout 20 docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed)"

commit=$(git rev-parse --verify "${FRESH_COMMIT:-HEAD}^{commit}" 2>/dev/null) ||
    die "'${FRESH_COMMIT:-HEAD}' is not a commit of this repository"
if [ -z "${FRESH_COMMIT:-}" ] && [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    log "note: the worktree has uncommitted changes; they are not part of the test (it clones $commit)"
fi
TIMEOUT=${FRESH_TIMEOUT:-1800}
case $TIMEOUT in ''|*[!0-9]*) die "FRESH_TIMEOUT must be a number of seconds, got '$TIMEOUT'";; esac

# --- the image: debootstrap's Debian 12 + git, make, ca-certificates -------------
key=$(cat scripts/test-fresh.sh scripts/build-base-image.sh | sha256sum | cut -c1-12)
IMAGE=zcrawl-fresh:$key
if [ "${FRESH_REBUILD:-0}" = 1 ] || ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    t0=$SECONDS
    if [ "${FRESH_REBUILD:-0}" = 1 ]; then
        FORCE=1 scripts/build-base-image.sh || die "scripts/build-base-image.sh failed"
    else
        scripts/build-base-image.sh || die "scripts/build-base-image.sh failed"
    fi
    log "building $IMAGE: debian:bookworm (debootstrap minbase) + git make ca-certificates"
    prep=zcfresh-prep-$$
    docker rm -f "$prep" >/dev/null 2>&1
    if ! timeout -k 30 900 docker run --name "$prep" debian:bookworm sh -ec '
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends git make ca-certificates >/dev/null
            rm -rf /var/lib/apt/lists/*'; then
        docker rm -f "$prep" >/dev/null 2>&1
        die "installing git, make and ca-certificates into debian:bookworm failed"
    fi
    docker commit --change 'WORKDIR /root' --message "zcrawl test-fresh base ($key)" \
        "$prep" "$IMAGE" >/dev/null || { docker rm -f "$prep" >/dev/null 2>&1; die "docker commit failed"; }
    docker rm -f "$prep" >/dev/null 2>&1
    # Images of earlier versions of these scripts.
    docker image ls --format '{{.Repository}}:{{.Tag}}' zcrawl-fresh | grep -vxF "$IMAGE" |
        while read -r old; do docker image rm "$old" >/dev/null 2>&1 || true; done
    log "image $IMAGE built in $((SECONDS - t0)) s"
else
    log "using cached image $IMAGE"
fi

# --- the commit, as a bare repository to clone from ------------------------------
tmp=$(mktemp -d /tmp/zcrawl-fresh.XXXXXX)
name=zcfresh-$$
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "${FRESH_KEEP:-0}" = 1 ]; then
        log "kept container $name (docker rm -f $name removes it)"
    else
        docker rm -f "$name" >/dev/null 2>&1
    fi
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

git init -q --bare "$tmp/repo.git" || die "git init failed"
git push -q "$tmp/repo.git" "$commit:refs/heads/fresh" 'refs/tags/*:refs/tags/*' ||
    die "git push of $commit into the scratch repository failed"
git -C "$tmp/repo.git" symbolic-ref HEAD refs/heads/fresh || die "git symbolic-ref failed"

mounts=(-v "$tmp/repo.git:/src/repo.git:ro")
envs=()
if [ "${FRESH_NO_GO:-0}" != 1 ] && [ -x /usr/local/go/bin/go ]; then
    mounts+=(-v /usr/local/go:/usr/local/go:ro)
    ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
    if [ -r "$ca" ]; then
        mounts+=(-v "$(readlink -f "$ca"):/etc/ssl/host-ca.crt:ro")
        envs+=(-e SSL_CERT_FILE=/etc/ssl/host-ca.crt)
    fi
    log "host Go toolchain mounted read-only at /usr/local/go"
else
    log "no Go toolchain mounted: FerretDB is not built, the MongoDB tests will skip"
fi

# --- the README's two commands ------------------------------------------------------
# Root, as a user on a fresh machine would be (the README says: root or sudo). The
# network namespace test needs what root has on a machine: NET_ADMIN and SYS_ADMIN.
log "container $name: git clone of $commit, then make demo, then make test"
timeout -k 30 "$TIMEOUT" docker run --rm --name "$name" \
    --cap-add NET_ADMIN --cap-add SYS_ADMIN --security-opt apparmor=unconfined \
    "${mounts[@]}" "${envs[@]}" "$IMAGE" bash -c '
        t=$SECONDS
        say() { echo "== fresh: $*"; }
        git clone -q /src/repo.git zcrawl || { say "git clone failed"; exit 10; }
        cd zcrawl
        say "cloned $(git rev-parse --short HEAD); make demo"
        make demo; rc=$?
        say "make demo exited $rc after $((SECONDS - t)) s"
        [ $rc = 0 ] || exit 11
        t=$SECONDS
        make test; rc=$?
        say "make test exited $rc after $((SECONDS - t)) s"
        [ $rc = 0 ] || exit 12
        say "zcrawl --version: $(bin/zcrawl --version)"
    ' 2>&1 | tee "$tmp/run.log"
run_rc=${PIPESTATUS[0]}

took=$((SECONDS - t_start))
sed -n 's/^== fresh: \(make .* exited .*\)/test-fresh: \1/p' "$tmp/run.log"
case $run_rc in
    0)   log "PASS: make demo and make test on a bare Debian 12 ($commit, ${took} s in all)"; exit 0 ;;
    10)  log "FAIL: git clone of $commit in the container failed (${took} s)" ;;
    11)  log "FAIL: make demo failed on a bare Debian 12 ($commit, ${took} s)" ;;
    12)  log "FAIL: make test failed on a bare Debian 12 ($commit, ${took} s)" ;;
    124) log "FAIL: timed out after $TIMEOUT s (FRESH_TIMEOUT)" ;;
    *)   log "FAIL: the container ended with $run_rc (${took} s)" ;;
esac
exit 1
