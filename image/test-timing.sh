# Sourced by image/test.sh: where the boot spends its time, printed by every
# run. The readiness point is measured from qemu start by a prober that runs
# next to the checks:
#   "SSH login works"   first `ssh parvis@FLOATING true` that succeeds (tried
#                       every 0.5 s once the console says the key is installed)
#   "TLS answers"       first HTTPS answer from an ingress through the floating
#                       IP's listener (tried every 0.5 s from qemu start)
#   ready               the later of the two (SSH only when the scenario
#                       has no config, e.g. bad-user-data)
# The guest's side comes from systemd-analyze and the first-boot log.
# shellcheck shell=bash

# Host-side milestones, one file each under $tmp/t/, holding seconds since
# qemu start. Runs in the background until both are seen or the boot times out.
start_ready_prober() {
    rm -rf "$tmp/t"
    mkdir -p "$tmp/t"
    (
        local deadline=$(($(date +%s) + boot_timeout)) line
        while (($(date +%s) < deadline)); do
            if [[ ! -f "$tmp/t/kernel" ]] && grep -qa 'Linux version' "$serial" 2>/dev/null; then
                elapsed >"$tmp/t/kernel"
            fi
            if [[ ! -f "$tmp/t/tls" && "$scenario" != bad-user-data ]]; then
                line=$(in_ns "$ns_client" curl -sk --max-time 1 --resolve "app.example.org:443:$floating" \
                    https://app.example.org/ 2>/dev/null) && [[ "$line" == ingress* ]] && elapsed >"$tmp/t/tls"
            fi
            if [[ ! -f "$tmp/t/ssh" ]] && grep -qa 'SSH key(s) installed' "$serial" 2>/dev/null; then
                vm_ssh true 2>/dev/null && elapsed >"$tmp/t/ssh"
            fi
            [[ -f "$tmp/t/ssh" && (-f "$tmp/t/tls" || "$scenario" == bad-user-data) ]] && exit 0
            sleep 0.5
        done
    ) &
    peer_pids+=($!)
}

# "12.3s" or "not seen".
milestone() { if [[ -s "$tmp/t/$1" ]]; then printf '%ss' "$(cat "$tmp/t/$1")"; else printf 'not seen'; fi; }

# The readiness figures and the guest's own account of its boot.
print_boot_figures() {
    local ready=""
    if [[ -s "$tmp/t/ssh" ]]; then
        ready=$(cat "$tmp/t/ssh")
        if [[ "$scenario" != bad-user-data ]]; then
            [[ -s "$tmp/t/tls" ]] && ready=$(printf '%s\n%s\n' "$ready" "$(cat "$tmp/t/tls")" | sort -g | tail -n 1) ||
                ready=""
        fi
    fi
    say "boot figures (from qemu start, host clock; load: $(cut -d' ' -f1-3 /proc/loadavg)):"
    say "  firmware + bootloader + loading kernel and initramfs: first kernel line at $(milestone kernel)"
    say "  SSH login works at $(milestone ssh); TLS through the floating IP answers at $(milestone tls)"
    say "  READY at ${ready:-never}${ready:+s} (scenario $scenario)"
    if [[ -s "$tmp/guest-figures" ]]; then
        sed 's/^/image-test:   /' "$tmp/guest-figures" >&2
    else
        say "  (no figures from systemd-analyze in the VM)"
    fi
}

# The guest's account, taken once the boot is done (before any restart
# changes parvis.service's figures): systemd-analyze and the first-boot log.
collect_guest_figures() {
    local try
    for try in 1 2 3 4 5 6 7 8 9 10; do
        vm_ssh systemd-analyze time >/dev/null 2>&1 && break
        sleep 3
    done
    vm_ssh 'systemd-analyze time; echo "-- critical chain to parvis.service:";
        systemd-analyze critical-chain parvis.service --no-pager | tail -n +3;
        echo "-- slowest units:"; systemd-analyze blame --no-pager | head -n 12;
        echo "-- first boot steps:"; sudo -n grep -E " (first boot|took|done:)" /var/lib/parvis/firstboot.log;
        echo "-- the daemon'"'"'s start:"; sudo -n journalctl -b -u parvis.service -o short-monotonic --no-pager |
            grep -v "^-- " | head -n 8 | cut -c1-200' \
        >"$tmp/guest-figures" 2>&1 || true
}
