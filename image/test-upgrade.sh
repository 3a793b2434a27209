# Sourced by image/test.sh: the upgrade scenario, docs/upgrades.md's single
# node path between two images. Boots the previous image with the config
# drive, changes the config through the CLI (history has two versions), takes
# `parvis export`, powers the VM off and boots the new image on the same two
# ports with the export as user data and a new instance id, then checks the
# config, the history and the traffic on the new VM.
# shellcheck shell=bash

previous_image=$(realpath -m "${PARVIS_PREVIOUS_IMAGE:-$repo/target/image/parvis-main.qcow2}")
new_instance_id=2b4f6d80-3c5e-4a7f-8b9d-0e1f2a3b4c5d

# The change an operator makes on the old VM: a second forward.
upgrade_change() {
    local out
    out=$(vm_ssh 'set -e; sudo -n parvis export >/tmp/v1.toml
        { cat /tmp/v1.toml; printf "\n[[forward]]\nproto = \"tcp\"\nport = 7001\nto = \"10.0.0.20:7000\"\nmasquerade = true\n"; } >/tmp/v2.toml
        sudo -n parvis apply --config /tmp/v2.toml --comment "image-test: a second forward"' 2>&1) ||
        { say "parvis apply failed: $out"; return 1; }
    say "parvis apply: $(tr '\n' ' ' <<<"$out")"
    forward_answers 7001
}

forward_answers() {
    local out
    out=$(in_ns "$ns_client" timeout 10 socat -T5 - "TCP:$floating:$1" </dev/null) || return 1
    say "forward $1 said: $out"
    [[ "$out" == forward-ok* ]]
}

# History rows (VERSION first) without the header.
history_versions() { awk 'NR > 1 && $1 ~ /^[0-9]+$/ { print $1 }' <<<"$1"; }

# `parvis export` and `parvis history` of the old VM, kept on the host.
upgrade_export() {
    local n
    vm_ssh sudo -n parvis export >"$tmp/export.toml" && vm_ssh sudo -n parvis history >"$tmp/history-old.txt" ||
        return 1
    n=$(history_versions "$(cat "$tmp/history-old.txt")" | wc -l)
    say "old VM: $n version(s) in the history; export is $(wc -l <"$tmp/export.toml") lines"
    ((n >= 2)) && grep -q 'port = 7001' "$tmp/export.toml"
}

# docs/upgrades.md: check the export with the new release's binary first.
check_export_with_new_binary() {
    local out
    out=$("$repo/target/release/parvis" check --config "$tmp/export.toml" 2>&1) ||
        { say "parvis check refused the export: $out"; return 1; }
}

# Powers the old VM off (as an operator deleting the server would) and waits
# for qemu to exit.
upgrade_stop_old() {
    local t
    vm_ssh sudo -n systemctl poweroff >/dev/null 2>&1 || true
    for t in $(seq 1 120); do
        kill -0 "$qemu_pid" 2>/dev/null || break
        sleep 1
    done
    if kill -0 "$qemu_pid" 2>/dev/null; then
        say "old VM did not power off within 120 s; stopping qemu"
        kill "$qemu_pid"
    fi
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=""
}

# The new server's config drive: a new instance id, the export as user data
# (the admin hash comment line added when the export lacks it, as the doc says).
upgrade_new_drive() {
    local d=$tmp/drive/openstack/latest hash
    hash=$(sed -n 's/^# parvis-admin-hash: //p' "$d/user_data")
    sed -i "s/\"uuid\": \"[^\"]*\"/\"uuid\": \"$new_instance_id\"/" "$d/meta_data.json"
    if grep -q '^# parvis-admin-hash: ' "$tmp/export.toml"; then
        say "the export carries the admin hash line of the first user data"
        cp "$tmp/export.toml" "$d/user_data"
    else
        say "the export has no admin hash line: added, as docs/upgrades.md says"
        { printf '# parvis-admin-hash: %s\n' "$hash"; cat "$tmp/export.toml"; } >"$d/user_data"
    fi
    genisoimage -quiet -o "$tmp/config-2-new.iso" -V config-2 -r -J "$tmp/drive"
}

# The new VM runs the exported config: its own export gives back the same
# text (the hash comment line aside).
check_upgrade_config() {
    local now
    now=$(vm_ssh sudo -n parvis export) || return 1
    diff <(grep -v '^# parvis-admin-hash: ' "$tmp/export.toml") <(grep -v '^# parvis-admin-hash: ' <<<"$now") >&2
}

# What docs/upgrades.md promises: the history starts again at version 1,
# with the exported text; the old history is the file saved before.
check_upgrade_history() {
    local h versions
    h=$(vm_ssh sudo -n parvis history) || return 1
    say "new VM's history: $(tr '\n' ' ' <<<"$h" | tr -s ' ')"
    versions=$(history_versions "$h" | tr '\n' ' ')
    [[ "$versions" == "1 " ]]
}

check_upgrade_new_instance() {
    grep -qa "parvis-firstboot: done: instance $new_instance_id provisioned" "$serial" &&
        [[ "$(vm_ssh sudo -n cat /var/lib/parvis/.firstboot-done)" == "$new_instance_id" ]]
}

scenario_upgrade() {
    [[ -f "$previous_image" ]] || { say "no previous image at $previous_image (PARVIS_PREVIOUS_IMAGE)"; exit 1; }
    say "upgrade: previous image $previous_image, new image $image"
    boot_vm "$previous_image" "$tmp/config-2.iso"
    start_ready_prober
    check "old image: ready (SSH login works, TLS answers)" wait_ready
    check "old image: SSH with the injected key" check_ssh_key
    check "old image: daemon ready" check_daemon_ready
    ((failed == 0)) || exit 1
    check "old image: TLS through the floating IP" check_tls_via_floating_ip
    check "old image: a change through parvis apply (second forward answers)" upgrade_change
    check "old image: parvis export and history (2 versions)" upgrade_export
    if [[ -x "$repo/target/release/parvis" ]]; then
        check "the export passes parvis check of the new release" check_export_with_new_binary
    else
        skip "parvis check of the export" "no $repo/target/release/parvis on the host"
    fi
    ((failed == 0)) || exit 1
    upgrade_stop_old
    upgrade_new_drive
    serial=$tmp/serial-new.log
    boot_vm "$image" "$tmp/config-2-new.iso"
    start_ready_prober
    check "new image: first boot as a new instance" check_firstboot_console
    check "new image: ready (SSH login works, TLS answers)" wait_ready
    check "new image: SSH with the injected key" check_ssh_key
    check "new image: daemon ready" check_daemon_ready
    collect_guest_figures
    check "new image: provisioned for the new instance id" check_upgrade_new_instance
    check "new image: parvis export gives back the exported config" check_upgrade_config
    check "new image: history starts at version 1 (docs/upgrades.md)" check_upgrade_history
    check "new image: admin hash carried" check_admin_hash
    check "new image: TLS through the floating IP reaches an ingress" check_tls_via_floating_ip
    check "new image: first forward (7000)" check_forward
    check "new image: forward added on the old image (7001)" forward_answers 7001
    check "new image: nftables: only table inet parvis, default drop" check_nft_table
}
