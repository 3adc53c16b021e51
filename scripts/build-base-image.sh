#!/bin/sh
# build-base-image.sh -- build debian:bookworm and debian:bookworm-slim offline.
#
# No container registry is needed: the root filesystem comes from debootstrap
# (minbase variant) against the same Debian mirror apt uses, and is imported
# with `docker import`. Idempotent: tags that already exist are left alone
# (FORCE=1 rebuilds them). The rootfs is cached under deploy/rootfs/.
#
# Environment:
#   MIRROR      Debian mirror (default: the first deb.debian.org-style URI in
#               /etc/apt/sources.list{,.d/*}, else http://deb.debian.org/debian)
#   SECURITY_MIRROR  the security archive for the image's sources.list (default:
#               the host's debian-security URI, if any; empty: none)
#   SUITE       default bookworm
#   ROOTFS_DIR  default <repo>/deploy/rootfs
#   FORCE=1     rebuild even when the tags exist
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
SUITE=${SUITE:-bookworm}
ROOTFS_DIR=${ROOTFS_DIR:-$here/deploy/rootfs}
FULL_TAG=debian:$SUITE
SLIM_TAG=debian:$SUITE-slim
FORCE=${FORCE:-0}

log() { printf '%s\n' "build-base-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v docker >/dev/null 2>&1 || die "docker not found"
docker info >/dev/null 2>&1 || die "docker engine does not answer"

have_tag() { docker image inspect "$1" >/dev/null 2>&1; }

if [ "$FORCE" != 1 ] && have_tag "$FULL_TAG" && have_tag "$SLIM_TAG"; then
    log "$FULL_TAG and $SLIM_TAG exist, nothing to do (FORCE=1 rebuilds)"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "debootstrap needs root"

# The mirror apt already uses: one-line or deb822 sources, first Debian URI.
find_mirror() {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
             /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk '
            /^[[:space:]]*#/ { next }
            /^deb[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; break } }
            /^URIs:/ { for (i = 2; i <= NF; i++) print $i }
        ' "$f"
    done | grep -E "$1" | head -n 1
}
MIRROR=${MIRROR:-$(find_mirror '/debian/?$')}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR-$(find_mirror '/debian-security/?$')}

if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >/dev/null ||
        { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >/dev/null; } ||
        die "cannot install debootstrap"
fi

full=$ROOTFS_DIR/$SUITE

# A debootstrap that died leaves proc/sys mounted inside its target: unmount
# them (deepest first) before anything is deleted or archived.
umount_under() {
    awk -v d="$1/" 'index($2 "/", d) == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
stamp=$full/.zcrawl-debootstrap-done
if [ ! -f "$stamp" ]; then
    log "debootstrap --variant=minbase $SUITE $full $MIRROR"
    umount_under "$full"
    rm -rf --one-file-system "$full"
    mkdir -p "$full"
    t0=$(date +%s)
    if ! debootstrap --variant=minbase "$SUITE" "$full" "$MIRROR" >"$ROOTFS_DIR/debootstrap-$SUITE.log" 2>&1; then
        umount_under "$full"
        die "debootstrap failed, see $ROOTFS_DIR/debootstrap-$SUITE.log"
    fi
    umount_under "$full"
    # Image hygiene (the same things the official images do).
    # Do not start services inside the image at package install time.
    printf '#!/bin/sh\nexit 101\n' >"$full/usr/sbin/policy-rc.d"
    chmod 755 "$full/usr/sbin/policy-rc.d"
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
        >"$full/etc/apt/apt.conf.d/99zcrawl-norecommends"
    # Keep the downloaded .debs out of image layers.
    printf 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\nAPT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n' \
        >"$full/etc/apt/apt.conf.d/docker-clean"
    chroot "$full" apt-get clean >/dev/null 2>&1 || true
    rm -rf "$full"/var/lib/apt/lists/* "$full"/var/cache/apt/*.bin "$full"/var/log/*.log \
        "$full"/var/log/apt/* "$full"/tmp/* "$full"/var/tmp/*
    : >"$full/etc/hostname"
    : >"$full/etc/resolv.conf"
    touch "$stamp"
    log "debootstrap took $(( $(date +%s) - t0 ))s"
else
    log "using cached rootfs $full"
    umount_under "$full"
fi

# The image's apt sources: the same mirror, plus -updates and the security
# archive when the host's sources name one.
{
    printf 'deb %s %s main\n' "$MIRROR" "$SUITE"
    printf 'deb %s %s-updates main\n' "$MIRROR" "$SUITE"
    if [ -n "$SECURITY_MIRROR" ]; then
        printf 'deb %s %s-security main\n' "$SECURITY_MIRROR" "$SUITE"
    fi
} >"$full/etc/apt/sources.list"

# Conventional image config for a Debian base.
docker_import() { # docker_import TAG MESSAGE < tar; drops the image it replaces
    prev=$(docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true)
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        --message "$2" - "$1" >/dev/null || return 1
    # The old image, now untagged, unless a container or another tag still uses it.
    if [ -n "$prev" ] && [ "$prev" != "$(docker image inspect --format '{{.Id}}' "$1")" ]; then
        docker image rm "$prev" >/dev/null 2>&1 || true
    fi
}

# docker import needs the tar stream from the rootfs' own top; the stamp stays out.
if [ "$FORCE" = 1 ] || ! have_tag "$FULL_TAG"; then
    log "importing $FULL_TAG"
    tar --numeric-owner --exclude=./.zcrawl-debootstrap-done -C "$full" -c . |
        docker_import "$FULL_TAG" "debootstrap --variant=minbase $SUITE $MIRROR" ||
        die "docker import $FULL_TAG failed"
fi

# The slim flavour: the same rootfs without docs, man pages and most locales,
# with a dpkg filter so later installs stay trimmed too (as debuerreotype does).
if [ "$FORCE" = 1 ] || ! have_tag "$SLIM_TAG"; then
    slim=$ROOTFS_DIR/$SUITE-slim
    log "trimming into $slim"
    rm -rf --one-file-system "$slim"
    cp -a "$full" "$slim"
    rm -f "$slim/.zcrawl-debootstrap-done"
    cat >"$slim/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    find "$slim/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    find "$slim/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf "$slim"/usr/share/man/* "$slim"/usr/share/info/* "$slim"/usr/share/groff/* \
        "$slim"/usr/share/lintian/* "$slim"/usr/share/linda/*
    find "$slim/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias \
        -exec rm -rf {} + 2>/dev/null || true
    log "importing $SLIM_TAG"
    tar --numeric-owner -C "$slim" -c . |
        docker_import "$SLIM_TAG" "debootstrap --variant=minbase $SUITE $MIRROR (slim)" ||
        die "docker import $SLIM_TAG failed"
    rm -rf --one-file-system "$slim"
fi

docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' |
    grep -E "^debian:$SUITE(-slim)? " >&2 || true
log "done"
