#!/bin/bash
# parvis-firstboot: provisions the appliance from OpenStack metadata, without
# cloud-init. Everything it says goes to the serial console (the unit's
# StandardOutput=journal+console) and to /var/lib/parvis/firstboot.log.
#
#   parvis-firstboot drive    every boot, before networking (parvis-firstboot.service):
#                             read the config-2 drive; for an instance not yet
#                             provisioned here: host keys, network config, metadata
#   parvis-firstboot grow     every boot, once the daemon is ready (parvis-growroot.service):
#                             grow the root partition and ext4 to the disk
#   parvis-firstboot service  when there was no drive (parvis-metadata.service):
#                             wait for DHCP, fetch http://169.254.169.254/openstack/latest/
#                             (`parvis firstboot fetch`: retried with backoff until
#                             it answers on a first boot), then the same
#   parvis-firstboot banner   after the daemon is ready: the admin URL on the console
#
# "Provisioned" is keyed on the instance id (meta_data.json's uuid), as
# cloud-init does: /var/lib/parvis/.firstboot-done holds the id it was done
# for, and is written only once the metadata was read. A disk that comes from
# a snapshot of another appliance (another id) gets new SSH host keys, a new
# admin certificate and new state (history, tokens, password hash).
# Every JSON value is read by parvis (`parvis firstboot fact ...`), never by
# a second parser here.
#
# User data is a parvis config (TOML). An admin password hash may ride along
# as a TOML comment line:   # parvis-admin-hash: $argon2id$v=19$m=...
set -uo pipefail

# PARVIS_FIRSTBOOT_ROOT, PARVIS_BIN, PARVIS_DAEMON_USER, PARVIS_ADMIN_USER,
# PARVIS_METADATA_SERVICE and PARVIS_FETCH_FIRST_DELAY_MS exist for the
# test that runs these functions against a temporary root (tests/firstboot.rs).
root=${PARVIS_FIRSTBOOT_ROOT:-}
parvis=${PARVIS_BIN:-/usr/local/bin/parvis}
daemon_user=${PARVIS_DAEMON_USER:-_parvis}
state=$root/var/lib/parvis
meta_root=$state/metadata
meta=$meta_root/openstack/latest
flag_dir=$root/run/parvis-firstboot
config=$root/etc/parvis/parvis.toml
done_file=$state/.firstboot-done
service_addr=${PARVIS_METADATA_SERVICE:-169.254.169.254:80}
networkd_dir=$root/etc/systemd/network
admin_user=${PARVIS_ADMIN_USER:-parvis}
log_file=$state/firstboot.log

say() {
    printf 'parvis-firstboot: %s\n' "$*"
    printf '%s %s\n' "$(date -u +%FT%TZ)" "$*" >>"$log_file" 2>/dev/null || true
}

# Grows the root partition to the end of its disk and ext4 with it, online
# (growpart's job with sfdisk). Every boot, in a unit of its own once the
# daemon is ready (parvis-growroot.service): a flavor resize is taken at the
# next boot, and a first boot does not wait for it. Quiet when there is
# nothing to do.
grow_root() {
    local src dev name partno disk end disk_size
    src=$(findmnt -no SOURCE /) || return 0
    dev=$(readlink -f "$src")
    name=${dev##*/}
    [[ -r /sys/class/block/$name/partition ]] || { say "root $dev is not a partition, not growing"; return 0; }
    partno=$(cat "/sys/class/block/$name/partition")
    disk=/dev/$(basename "$(readlink -f "/sys/class/block/$name/..")")
    end=$(($(cat "/sys/class/block/$name/start") + $(cat "/sys/class/block/$name/size")))
    disk_size=$(cat "/sys/class/block/${disk##*/}/size")
    # Less than 1 MiB (2048 sectors) left: the partition already fills the disk.
    ((disk_size - end >= 2048)) || return 0
    if ! echo ', +' | sfdisk --quiet --no-reread --no-tell-kernel -N "$partno" "$disk" >/dev/null 2>&1; then
        say "could not grow partition $partno of $disk"
        return 0
    fi
    partx --update --nr "$partno" "$disk" 2>/dev/null || say "the kernel did not take the new size of $disk$partno"
    if (($(cat "/sys/class/block/$name/size") + $(cat "/sys/class/block/$name/start") > end)); then
        resize2fs "$dev" >/dev/null 2>&1
        say "root filesystem grown to $(df -h --output=size / | tail -n 1 | tr -d ' ')"
    fi
}

# The host key types sshd offers (image/sshd.conf's HostKey lines). No RSA:
# a 3072-bit key was the slowest step of a first boot under emulation, and
# every OpenSSH client since 6.5 (2014) takes ed25519 (ECDSA since 5.7).
host_key_types=(ed25519 ecdsa)

host_keys() {
    local t f
    mkdir -p "$root/etc/ssh"
    for t in "${host_key_types[@]}"; do
        f=$root/etc/ssh/ssh_host_${t}_key
        [[ -f "$f" ]] || ssh-keygen -q -t "$t" -N '' -C "root@parvis" -f "$f" </dev/null >/dev/null
    done
    echo "-----BEGIN SSH HOST KEY FINGERPRINTS-----"
    for f in "$root"/etc/ssh/ssh_host_*_key.pub; do ssh-keygen -lf "$f"; done
    echo "-----END SSH HOST KEY FINGERPRINTS-----"
}

now_ms() { date +%s%3N; }

# Runs a step and says how long it took (the image test prints these lines
# with the boot figures).
timed() {
    local name=$1 start rc
    shift
    start=$(now_ms)
    "$@"
    rc=$?
    say "$name took $(($(now_ms) - start)) ms"
    return "$rc"
}

# The config drive: ISO 9660 or VFAT labelled config-2, mounted read-only.
read_drive() {
    local dev mnt
    udevadm settle --timeout=20 >/dev/null 2>&1 || true
    dev=$(blkid -t LABEL=config-2 -o device 2>/dev/null | head -n 1)
    [[ -n "$dev" ]] || dev=$(blkid -t LABEL=CONFIG-2 -o device 2>/dev/null | head -n 1)
    [[ -n "$dev" ]] || return 1
    mnt=$(mktemp -d)
    if ! mount -o ro "$dev" "$mnt"; then
        say "config drive $dev does not mount"
        rmdir "$mnt"
        return 1
    fi
    rm -rf "$meta"
    mkdir -p "$meta"
    cp -r "$mnt/openstack/latest/." "$meta/" 2>/dev/null
    umount "$mnt"
    rmdir "$mnt"
    [[ -s "$meta/meta_data.json" ]] || { say "config drive $dev has no openstack/latest/meta_data.json"; return 1; }
    say "config drive $dev read into $meta"
}

# The metadata service, read by parvis: retried with backoff (each failure
# on the console) until it answers when $1 is 0, else at most $1 attempts.
read_service() {
    local attempts=$1 line rc
    if [[ -z "${PARVIS_METADATA_SERVICE:-}" ]]; then
        /lib/systemd/systemd-networkd-wait-online --any --ipv4 --timeout=60 >/dev/null 2>&1 ||
            say "no DHCP address within 60 s; trying the metadata service anyway"
    fi
    mkdir -p "$meta_root"
    "$parvis" firstboot fetch --out "$meta_root" --service "$service_addr" \
        --attempts "$attempts" --first-delay-ms "${PARVIS_FETCH_FIRST_DELAY_MS:-1000}" 2>&1 |
        while IFS= read -r line; do say "$line"; done
    rc=${PIPESTATUS[0]}
    ((rc == 0)) || { say "metadata service $service_addr not read"; return 1; }
    say "metadata service read into $meta"
}

# The networkd files are rendered by parvis from the parsed
# network_data.json: every address, prefix, MAC and MTU is checked there, so
# a value cannot add lines or directives. Refused metadata: DHCP everywhere.
network_files() {
    local nd=$meta/network_data.json out line
    rm -f "$networkd_dir"/10-parvis-*.network
    [[ -s "$nd" ]] || { say "no network_data.json: DHCP on every port"; return 0; }
    if out=$("$parvis" firstboot networkd --metadata "$meta_root" --out "$networkd_dir" 2>&1); then
        while IFS= read -r line; do [[ -n "$line" ]] && say "$line"; done <<<"$out"
    else
        rm -f "$networkd_dir"/10-parvis-*.network
        say "network_data.json refused, DHCP on every port instead:"
        while IFS= read -r line; do say "  $line"; done <<<"$out"
    fi
}

set_hostname() {
    local name
    name=$("$parvis" firstboot fact hostname --metadata "$meta_root" 2>/dev/null)
    [[ -n "$name" ]] || return 0
    printf '%s\n' "$name" >"$root/etc/hostname"
    [[ -n "$root" ]] || hostname "$name"
    [[ -f "$root/etc/hosts" ]] && sed -i "s/^127\.0\.1\.1.*/127.0.1.1\t$name/" "$root/etc/hosts"
    say "hostname $name"
}

install_keys() {
    local home ssh_dir keys count
    home=$(getent passwd "$admin_user" | cut -d: -f6)
    [[ -n "$home" ]] || { say "no user $admin_user: no SSH key installed"; return 0; }
    ssh_dir=$root$home/.ssh
    keys=$("$parvis" firstboot fact ssh-keys --metadata "$meta_root" 2>/dev/null)
    count=$(printf '%s' "$keys" | grep -c . || true)
    if ((count == 0)); then
        say "no SSH public key in the metadata: SSH login is impossible until one is added"
        return 0
    fi
    install -d -m 0700 -o "$admin_user" -g "$admin_user" "$ssh_dir"
    printf '%s\n' "$keys" >"$ssh_dir/authorized_keys"
    chown "$admin_user:$admin_user" "$ssh_dir/authorized_keys"
    chmod 0600 "$ssh_dir/authorized_keys"
    say "$count SSH key(s) installed for user $admin_user"
}

# User data: a parvis config (validated with `parvis check`), optionally
# carrying the admin password hash in a comment line. The hash goes to the
# state_dir of the config only once that config passed the check and only
# if the daemon may own that folder (parvis firstboot state-dir); else to
# the default state folder. Nothing else is created or re-owned.
apply_user_data() {
    local ud=$meta/user_data candidate report hash state_dir valid=false
    [[ -s "$ud" ]] || { say "no user data: no parvis config yet (inbound stays closed except SSH)"; return 0; }
    if head -c 2 "$ud" | grep -q $'\x1f\x8b' || head -n 1 "$ud" | grep -qE '^(#!|#cloud-config|Content-Type:)'; then
        say "user data is not a parvis config (script, cloud-config or MIME); ignored"
        return 0
    fi
    mkdir -p "${config%/*}"
    candidate=$(mktemp "${config%/*}/.user-data.XXXXXX")
    cp "$ud" "$candidate"
    if report=$("$parvis" check --config "$candidate" 2>&1); then
        install -m 0640 -o root -g "$daemon_user" "$candidate" "$config"
        valid=true
        say "parvis config from user data installed in $config"
    else
        say "user data is not a valid parvis config; keeping the previous one. parvis check says:"
        printf '%s\n' "$report" | while IFS= read -r line; do say "  $line"; done
    fi
    rm -f "$candidate"
    hash=$(sed -n 's/^#[[:space:]]*parvis-admin-hash:[[:space:]]*\(\$argon2id\$[^[:space:]]*\).*$/\1/p' "$ud" | head -n 1)
    [[ -n "$hash" ]] || return 0
    state_dir=$state
    if [[ $valid == true ]]; then
        if ! state_dir=$("$parvis" firstboot state-dir --config "$config" --base "$state" 2>&1); then
            say "admin password hash not stored: $state_dir"
            return 0
        fi
    fi
    # Below $state only (checked above): ours to create and give away.
    install -d -m 0750 -o "$daemon_user" -g "$daemon_user" "$state_dir"
    (umask 077 && printf '%s\n' "$hash" >"$state_dir/admin.passwd")
    chown "$daemon_user:$daemon_user" "$state_dir/admin.passwd"
    say "admin password hash from user data stored in $state_dir/admin.passwd"
}

apply_metadata() {
    set_hostname
    install_keys
    apply_user_data
    chown -R "$daemon_user:$daemon_user" "$meta_root"
}

# A disk first provisioned for another instance (a snapshot of another
# appliance): its SSH host keys, admin certificate and state are that
# appliance's. Remove them; host_keys and the daemon make new ones. The
# config file stays (user data replaces it when it holds a valid config).
new_identity() {
    rm -f "$root"/etc/ssh/ssh_host_*
    find "$state" -mindepth 1 -maxdepth 1 ! -name metadata ! -name firstboot.log \
        -exec rm -rf {} +
}

# After the metadata was read: provision this instance unless it already
# was (same instance id), then record the id. Returns 1 when there was
# nothing to do.
provision() {
    local id old
    id=$("$parvis" firstboot fact id --metadata "$meta_root" 2>/dev/null) || id=""
    [[ -n "$id" ]] || say "meta_data.json has no instance id (uuid)"
    if [[ -f "$done_file" ]]; then
        old=$(cat "$done_file")
        if [[ "$old" == "$id" ]]; then
            say "instance ${id:-without id} already provisioned on this disk"
            return 1
        fi
        say "instance id changed (${old:-none} -> ${id:-none}): this disk comes from another appliance; new SSH host keys, admin certificate and state"
        new_identity
        timed "host keys" host_keys
        # sshd may already run with the old keys (the metadata service is
        # read after the network is up): restart it on the new ones.
        [[ -n "$root" ]] || systemctl --no-block try-restart ssh.service 2>/dev/null || true
    fi
    timed "host keys" host_keys
    timed "network files" network_files
    timed "hostname, SSH keys, user data" apply_metadata
    printf '%s\n' "$id" >"$done_file"
    say "done: instance ${id:-without id} provisioned"
}

banner() {
    local listen port addr="" dev
    listen=$(awk -F'"' '/^[[:space:]]*\[/ { admin = ($0 ~ /^[[:space:]]*\[admin\]/) }
        admin && /^[[:space:]]*listen[[:space:]]*=/ { print $2; exit }' "$config" 2>/dev/null)
    port=${listen##*:}
    port=${port:-8443}
    # The public port is the one with the default route.
    dev=$(ip -4 route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
    [[ -n "$dev" ]] && addr=$(ip -4 -o addr show dev "$dev" scope global | awk '{ print $4 }' | cut -d/ -f1 | head -n 1)
    if [[ -f "$config" ]]; then
        printf 'parvis: ready; admin UI https://%s:%s/ (through the floating IP from admin.allow)\n' "${addr:-ADDRESS}" "$port" >/dev/console
    else
        printf 'parvis: ready on the safe default (no config): SSH only; admin UI on 127.0.0.1:%s through an SSH tunnel\n' "$port" >/dev/console
    fi
    local crt fp
    for crt in /etc/parvis/*.crt /var/lib/parvis/*.crt /var/lib/parvis/*/*.crt; do
        [[ -f "$crt" ]] || continue
        # SHA-256 of the first certificate's DER: what browsers show.
        fp=$(awk '/-END CERTIFICATE-/ { exit } f { print } /-BEGIN CERTIFICATE-/ { f = 1 }' "$crt" |
            base64 -d 2>/dev/null | sha256sum | cut -c1-64 | tr a-f A-F | sed 's/../&:/g; s/:$//')
        printf 'parvis: admin certificate %s SHA256 %s\n' "$crt" "$fp" >/dev/console
    done
}

main() {
    mkdir -p "$state" "$flag_dir"
    case "${1:-drive}" in
    drive)
        [[ -f "$done_file" ]] || say "first boot"
        if timed "reading the config drive" read_drive; then
            provision || true
        else
            # SSH needs host keys before it starts, whatever the service says later.
            [[ -f "$done_file" ]] || timed "host keys" host_keys
            say "no config drive: the metadata service will be read once DHCP is up"
            touch "$flag_dir/need-metadata-service"
        fi
        ;;
    service)
        # A first boot waits for the metadata as long as it takes; a reboot
        # of a provisioned disk does not hold the start for long.
        local attempts=0
        [[ -f "$done_file" ]] && attempts=4
        if timed "reading the metadata service" read_service "$attempts"; then
            provision || true
        elif [[ ! -f "$done_file" ]]; then
            return 1
        fi
        ;;
    grow) timed "growing the root disk" grow_root ;;
    banner) banner ;;
    *) echo "usage: parvis-firstboot drive|service|grow|banner" >&2; exit 2 ;;
    esac
}

# Sourced by the test: only the functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
