#!/usr/bin/env bash
# make image: writes target/image/parvis.qcow2, the parvis appliance as a Nova
# image (Debian 12 minbase, extlinux on an MBR partition, serial console).
# Needs root. Reuses downloaded .debs between runs (target/image/cache).
#
# Environment:
#   PARVIS_MIRROR      Debian mirror (default: the host's deb.debian.org)
#   PARVIS_DISK_SIZE   virtual disk size (default 2G; grown to the flavor's disk at first boot)
#   PARVIS_SKIP_CARGO  set to 1 to use an existing target/release/parvis
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
out="$repo/target/image"
work="$out/work"
rootfs="$work/rootfs"
cache="$out/cache"
mirror=${PARVIS_MIRROR:-http://deb.debian.org/debian}
security=${PARVIS_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
disk_size=${PARVIS_DISK_SIZE:-2G}
mnt=""
loopdev=""

say() { printf 'image: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

cleanup() {
    if [[ -n "$mnt" ]] && mountpoint -q "$mnt"; then umount "$mnt" || true; fi
    if [[ -n "$loopdev" ]]; then losetup -d "$loopdev" || true; fi
}
trap cleanup EXIT

# The host tools, installed by name when missing (fresh machine, CI).
# The packages whose tools are missing, one a line (empty: all present).
missing_packages() {
    local pair
    for pair in mmdebstrap:mmdebstrap qemu-img:qemu-utils extlinux:extlinux \
        mkfs.ext4:e2fsprogs sfdisk:fdisk genisoimage:genisoimage mkfs.vfat:dosfstools; do
        command -v "${pair%%:*}" >/dev/null || echo "${pair##*:}"
    done
    [[ -f /usr/lib/syslinux/mbr/mbr.bin ]] || echo syslinux-common
}

# apt can remove a package and still exit 0 (qemu-system-x86 removing a
# backported qemu-utils): check each tool after installing, not apt's code.
ensure_host_packages() {
    local missing=()
    mapfile -t missing < <(missing_packages)
    ((${#missing[@]} == 0)) && return 0
    say "installing host packages: ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" || true
    mapfile -t missing < <(missing_packages)
    ((${#missing[@]} == 0)) && return 0
    say "tools still missing after installing: packages ${missing[*]}"
    return 1
}

build_binary() {
    if [[ "${PARVIS_SKIP_CARGO:-0}" != 1 ]]; then
        # Without the `lab` feature: the appliance carries neither the lab
        # nor the demo ingress (the developer's test bench).
        say "cargo build --release --no-default-features"
        (cd "$repo" && cargo build --release --no-default-features --bin parvis)
    fi
    local target_dir=${CARGO_TARGET_DIR:-$repo/target}
    binary="$target_dir/release/parvis"
    [[ -x "$binary" ]] || die "no release binary at $binary"
}

# Debian 12 minbase with what an appliance needs and nothing more.
bootstrap() {
    local packages=(
        linux-image-cloud-amd64 initramfs-tools systemd systemd-sysv udev dbus-broker
        openssh-server nftables iproute2 ca-certificates sudo systemd-timesyncd
        systemd-resolved e2fsprogs fdisk kmod zstd
        # [ha]: VRRP and connection-state sync, run and configured by parvis itself.
        keepalived conntrackd
    )
    rm -rf "$rootfs"
    mkdir -p "$rootfs" "$cache"
    say "mmdebstrap bookworm minbase ($mirror), cache $cache"
    mmdebstrap --variant=minbase --skip=essential/unlink \
        --include="$(IFS=,; echo "${packages[*]}")" \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        --dpkgopt='path-exclude=/usr/share/lintian/*' \
        --dpkgopt='path-exclude=/usr/share/bash-completion/*' \
        --dpkgopt='path-exclude=/usr/share/zsh/*' \
        --aptopt='APT::Install-Recommends "false"' \
        --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
        --setup-hook="sync-in $cache /var/cache/apt/archives/" \
        --customize-hook="sync-out /var/cache/apt/archives $cache" \
        bookworm "$rootfs" \
        "deb $mirror bookworm main" \
        "deb $mirror bookworm-updates main" \
        "deb $security bookworm-security main"
    rm -f "$cache"/lock
    rm -rf "$cache"/partial
}

# Our files, users and service enablement, on top of the bootstrapped tree.
customize() {
    local r=$rootfs
    install -D -m 0755 "$binary" "$r/usr/local/bin/parvis"
    install -D -m 0755 "$here/parvis-firstboot.sh" "$r/usr/local/sbin/parvis-firstboot"
    install -D -m 0755 "$here/extlinux-update.sh" "$r/usr/local/sbin/parvis-extlinux-update"
    install -D -m 0755 "$here/kernel-postinst-extlinux" "$r/etc/kernel/postinst.d/zz-parvis-extlinux"
    install -D -m 0644 "$here/parvis.service" "$r/etc/systemd/system/parvis.service"
    install -D -m 0644 "$here/parvis-firstboot.service" "$r/etc/systemd/system/parvis-firstboot.service"
    install -D -m 0644 "$here/parvis-metadata.service" "$r/etc/systemd/system/parvis-metadata.service"
    install -D -m 0644 "$here/parvis-banner.service" "$r/etc/systemd/system/parvis-banner.service"
    install -D -m 0644 "$here/parvis-growroot.service" "$r/etc/systemd/system/parvis-growroot.service"
    install -D -m 0644 "$here/nftables.conf" "$r/etc/nftables.conf"
    install -D -m 0644 "$here/nftables-override.conf" "$r/etc/systemd/system/nftables.service.d/parvis.conf"
    install -D -m 0644 "$here/sysctl.conf" "$r/etc/sysctl.d/60-parvis.conf"
    install -D -m 0644 "$here/journald.conf" "$r/etc/systemd/journald.conf.d/60-parvis.conf"
    install -D -m 0644 "$here/networkd.conf" "$r/etc/systemd/networkd.conf.d/60-parvis.conf"
    install -D -m 0644 "$here/dhcp-fallback.network" "$r/etc/systemd/network/90-parvis-dhcp.network"
    install -D -m 0644 "$here/sshd.conf" "$r/etc/ssh/sshd_config.d/60-parvis.conf"
    install -D -m 0644 "$here/ssh-override.conf" "$r/etc/systemd/system/ssh.service.d/parvis.conf"
    install -D -m 0644 "$repo/examples/parvis.toml" "$r/etc/parvis/parvis.example.toml"
    mkdir -p "$r/var/lib/parvis"

    printf 'LABEL=rootfs / ext4 defaults,noatime,errors=remount-ro 0 1\n' >"$r/etc/fstab"
    printf 'parvis\n' >"$r/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\tparvis\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"

    # The operator's login (keys from the metadata at first boot) and the
    # daemon's own unprivileged account.
    chroot "$r" useradd --create-home --shell /bin/bash --groups sudo parvis
    chroot "$r" usermod --password '*' parvis
    printf 'parvis ALL=(ALL) NOPASSWD:ALL\n' >"$r/etc/sudoers.d/parvis"
    chmod 0440 "$r/etc/sudoers.d/parvis"
    chroot "$r" useradd --system --no-create-home --home-dir /var/lib/parvis \
        --shell /usr/sbin/nologin _parvis
    chroot "$r" chown -R _parvis:_parvis /var/lib/parvis /etc/parvis

    chroot "$r" systemctl enable systemd-networkd.service systemd-resolved.service \
        systemd-timesyncd.service nftables.service ssh.service \
        parvis-firstboot.service parvis-growroot.service parvis-metadata.service parvis.service \
        parvis-banner.service
    chroot "$r" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service \
        e2scrub_all.timer 2>/dev/null || true
    # parvis renders their configs and runs them as its own children ([ha]).
    chroot "$r" systemctl mask keepalived.service conntrackd.service 2>/dev/null || true
    ln -sf /run/systemd/resolve/stub-resolv.conf "$r/etc/resolv.conf"

    # Per-instance identity is made at first boot, never baked into the image.
    rm -f "$r"/etc/ssh/ssh_host_*
    : >"$r/etc/machine-id"
    rm -f "$r/var/lib/dbus/machine-id"
    rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/log/*.log "$r"/tmp/*

    boot_trim
    chroot "$r" /usr/local/sbin/parvis-extlinux-update
}

# What a boot under emulation spent its time on and the appliance does not
# need (figures in image/README.md): a small
# initramfs with only the disk drivers a Nova flavor can give the root disk
# (15 MiB with MODULES=most: loaded by the firmware and unpacked at every
# boot), and kernel modules and mounts that nothing here uses.
boot_trim() {
    local r=$rootfs
    printf '%s\n' '# parvis: only the root disk drivers below (see /etc/initramfs-tools/modules).' \
        'MODULES=list' >"$r/etc/initramfs-tools/conf.d/parvis.conf"
    printf '%s\n' '# parvis: the disk buses Nova offers for the root disk (ext4 is built in).' \
        virtio_pci virtio_blk virtio_scsi sd_mod ata_piix ahci nvme >"$r/etc/initramfs-tools/modules"
    chroot "$r" update-initramfs -u -k all >/dev/null
    # No device mapper, loop devices, FUSE, DRM or EFI pstore on the appliance.
    chroot "$r" systemctl mask modprobe@dm_mod.service modprobe@loop.service modprobe@fuse.service \
        modprobe@drm.service modprobe@efi_pstore.service sys-kernel-debug.mount sys-kernel-tracing.mount \
        sys-fs-fuse-connections.mount dev-hugepages.mount systemd-pstore.service 2>/dev/null
    # No login prompts: nobody can log in on a console (no passwords; SSH
    # keys only); they would only take CPU from the boot.
    chroot "$r" systemctl mask getty@.service serial-getty@.service 2>/dev/null
    # Generators for what the appliance has not: encrypted, verity or
    # integrity volumes, GPT auto-mounts, hibernation, SysV scripts without a
    # unit, rc.local, offline updates.
    local g
    mkdir -p "$r/etc/systemd/system-generators"
    for g in cryptsetup gpt-auto hibernate-resume integritysetup veritysetup sysv rc-local system-update; do
        ln -sf /dev/null "$r/etc/systemd/system-generators/systemd-$g-generator"
    done
}

# One MBR partition at 1 MiB holding the ext4 root (label rootfs), extlinux in it.
make_disk() {
    local raw="$work/disk.raw" fs="$work/rootfs.ext4" bytes part_bytes mounted
    # mmdebstrap once left /proc mounted in the tree ("umount /proc failed",
    # target busy under load): mkfs.ext4 -d would copy it into the image.
    mounted=$(findmnt -rn -o TARGET | grep -F "$rootfs/" || true)
    [[ -z "$mounted" ]] || die "still mounted in $rootfs: $(tr '\n' ' ' <<<"$mounted")(umount them and run again)"
    bytes=$(numfmt --from=iec "$disk_size")
    part_bytes=$((bytes - 1048576))
    rm -f "$raw" "$fs"
    say "mkfs.ext4 -d ($(du -sh "$rootfs" | cut -f1) of files)"
    mkfs.ext4 -q -L rootfs -O ^64bit -E root_owner=0:0 -d "$rootfs" "$fs" "$((part_bytes / 1024))k"
    truncate -s "$bytes" "$raw"
    printf 'start=2048, type=83, bootable\n' | sfdisk --quiet --label dos "$raw"
    dd if="$fs" of="$raw" bs=1M seek=1 conv=notrunc,sparse status=none
    rm -f "$fs"
    loopdev=$(losetup --find --show --offset 1048576 --sizelimit "$part_bytes" "$raw")
    mnt="$work/mnt"
    mkdir -p "$mnt"
    mount "$loopdev" "$mnt"
    extlinux --install "$mnt/boot/extlinux" >/dev/null
    umount "$mnt"
    losetup -d "$loopdev"
    loopdev=""
    dd if=/usr/lib/syslinux/mbr/mbr.bin of="$raw" bs=440 count=1 conv=notrunc status=none
    say "qemu-img convert -c"
    qemu-img convert -c -O qcow2 "$raw" "$out/parvis.qcow2.tmp"
    mv "$out/parvis.qcow2.tmp" "$out/parvis.qcow2"
    rm -f "$raw"
}

main() {
    [[ $(id -u) == 0 ]] || die "run as root (mmdebstrap, loop devices, mount)"
    mkdir -p "$out" "$work"
    ensure_host_packages
    build_binary
    bootstrap
    customize
    make_disk
    local size
    size=$(stat -c %s "$out/parvis.qcow2")
    say "wrote $out/parvis.qcow2: $((size / 1048576)) MiB ($size bytes), virtual size $disk_size"
    ((size < 250 * 1048576)) || say "warning: over the 250 MiB target"
}

[[ "${BASH_SOURCE[0]}" != "$0" ]] || main "$@"
