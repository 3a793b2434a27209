# Sourced by image/test.sh: one function per scenario (scenario_<name>),
# each booting the VM and running its checks in order. The readiness point
# is awaited before the heavier checks so that they do not slow the boot
# they measure.
# shellcheck shell=bash

# No config drive: Neutron's DHCP and Nova's metadata service, in the router.
start_metadata_service() {
    ip -n "$ns_router" addr add 169.254.169.254/32 dev lo
    ip netns exec "$ns_router" dnsmasq --no-daemon --port=0 --interface=r-vm --bind-interfaces \
        --dhcp-range=192.168.10.5,192.168.10.5,255.255.255.0,1h --dhcp-host="$mac_public,192.168.10.5" \
        --dhcp-option=option:router,192.168.10.1 --dhcp-leasefile="$tmp/leases" --no-resolv --no-hosts \
        --pid-file= >"$tmp/dnsmasq.log" 2>&1 &
    peer_pids+=($!)
    # The service answers only once the VM said on its console that a first
    # attempt failed (the first boot must retry with backoff until it is
    # read) and the test has seen what is open before the metadata is read.
    (
        deadline=$(($(date +%s) + boot_timeout))
        until grep -qa 'metadata service: attempt 1 failed' "$serial" 2>/dev/null; do
            (($(date +%s) < deadline)) || exit 1
            sleep 1
        done
        probe_before_metadata >"$tmp/before-metadata" 2>&1
        exec ip netns exec "$ns_router" python3 -m http.server --bind 169.254.169.254 \
            --directory "$tmp/drive" 80
    ) >"$tmp/metadata.log" 2>&1 &
    peer_pids+=($!)
}

# What answers before the metadata (and with it the config) is read: SSH
# must (within 60 s: sshd may start a little after the first attempt), the
# listener, the admin port and the forward must time out. One line each.
probe_before_metadata() {
    local t port
    for t in $(seq 1 60); do
        in_ns "$ns_client" timeout 2 bash -c "exec 3<>/dev/tcp/$floating/22" 2>/dev/null && break
        sleep 1
    done
    if ((t < 60)); then echo "22 answers"; else echo "22 does not answer"; fi
    for port in 443 8443 7000; do
        (port_times_out "$port" && echo "$port times out") &
    done
    wait
    echo "probed at $(elapsed)s"
}

check_only_ssh_before_metadata() {
    local deadline=$(($(date +%s) + boot_timeout))
    until grep -q '^probed at' "$tmp/before-metadata" 2>/dev/null; do
        (($(date +%s) < deadline)) || { say "no probe before the metadata service started"; return 1; }
        sleep 1
    done
    say "before the metadata was read: $(tr '\n' ';' <"$tmp/before-metadata")"
    grep -qx '22 answers' "$tmp/before-metadata" && grep -qx '443 times out' "$tmp/before-metadata" &&
        grep -qx '8443 times out' "$tmp/before-metadata" && grep -qx '7000 times out' "$tmp/before-metadata"
}

# Waits for the prober's readiness point (SSH login works; and TLS answers
# unless the scenario has no config): nothing else loads the VM before.
wait_ready() {
    local deadline=$(($(date +%s) + boot_timeout))
    until [[ -s "$tmp/t/ssh" && (-s "$tmp/t/tls" || "$scenario" == bad-user-data) ]]; do
        qemu_alive || return 1
        (($(date +%s) < deadline)) || { say "not ready within ${boot_timeout}s"; return 1; }
        sleep 1
    done
    say "ready: SSH login works at $(milestone ssh), TLS answers at $(milestone tls) after qemu start"
    say "READY at $(ready_milestone || echo never)"
}

# The checks every booted scenario shares once SSH works.
common_checks() {
    check "SSH host key matches the console fingerprint" check_host_key_fingerprint
    check "no password or root login" check_ssh_no_password
    check "sudo, root disk grown" check_sudo_and_disk
}

# The daemon with a config in force: what traffic and the operator see.
daemon_checks() {
    check "daemon ready" check_daemon_ready
    check "TLS through the floating IP reaches an ingress with the client address" check_tls_via_floating_ip
    check "nftables forward" check_forward
    check "admin UI answers" check_admin_ui
    collect_guest_figures
}

scenario_full() {
    boot_vm "$image" "$tmp/config-2.iso"
    start_ready_prober
    check "first boot on the serial console" check_firstboot_console
    check "ready: SSH login works and TLS through the floating IP answers" wait_ready
    check "SSH with the injected key" check_ssh_key
    ((failed == 0)) || exit 1
    daemon_checks
    common_checks
    check "ports configured from network_data.json" check_ports_configured
    check "internal port reaches ingress1, ingress2 and the server" check_internal_reachable
    check "admin hash from user data in state_dir/admin.passwd" check_admin_hash
    check "closed ports time out" check_closed_ports
    check "parvis.service sandbox allows nft, sysctl, netlink; forbids the rest" check_daemon_sandbox
    check "a forwarded connection survives systemctl restart parvis; TLS answers again" check_restart_keeps_traffic
    check "systemctl reload fails on a refused config and succeeds on a good one" check_reload_tells_the_truth
    check "parvis status over SSH shows both ports by role" check_cli_status
    check "nftables: only table inet parvis, default drop" check_nft_table
    check "closed ports still time out" check_closed_ports
}

scenario_bad_user_data() {
    boot_vm "$image" "$tmp/config-2.iso"
    start_ready_prober
    check "invalid user data: reason on the console" check_bad_user_data_console
    check "ready: SSH login works" wait_ready
    check "SSH with the injected key" check_ssh_key
    ((failed == 0)) || exit 1
    common_checks
    check "ports configured from network_data.json" check_ports_configured
    check "internal port reaches ingress1, ingress2 and the server" check_internal_reachable
    check "closed ports time out" check_closed_ports
    check "parvis.service sandbox allows nft, sysctl, netlink; forbids the rest" check_daemon_sandbox
    check "no config installed: daemon on the safe default, reason in parvis status" check_no_daemon_config
    check "nftables: only the boot table (SSH only)" check_nft_table
    check "listener and admin ports time out too" check_service_ports_closed
}

# The metadata service instead of a drive. In order: only SSH answers until
# the metadata is read; then the config from its user data is in force.
scenario_no_drive() {
    boot_vm "$image"
    start_metadata_service
    start_ready_prober
    check "before the metadata is read: SSH answers; listener, admin port and forward time out" \
        check_only_ssh_before_metadata
    check "metadata service read (no config drive)" check_metadata_service_console
    check "ready: SSH login works and TLS through the floating IP answers" wait_ready
    check "SSH with the injected key" check_ssh_key
    ((failed == 0)) || exit 1
    check "config from the metadata service installed" check_metadata_config_installed
    daemon_checks
    common_checks
    check "admin hash from user data in state_dir/admin.passwd" check_admin_hash
    check "closed ports time out" check_closed_ports
    check "nftables: only table inet parvis, default drop" check_nft_table
}

# The file first boot installed is the metadata service's user data.
check_metadata_config_installed() {
    local got
    got=$(vm_ssh sudo -n cat /etc/parvis/parvis.toml) || return 1
    diff <(cat "$tmp/drive/openstack/latest/user_data") <(printf '%s\n' "$got") >&2
}
