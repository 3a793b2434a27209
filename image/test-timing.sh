# Sourced by image/test.sh: where the boot spends its time, printed by every
# run. The readiness point is measured from qemu start by a prober that runs
# next to the checks:
#   "SSH login works"   first `ssh parvis@FLOATING true` that succeeds (tried
#                       every 0.5 s once the console says the key is installed)
#   "TLS answers"       first HTTPS answer from an ingress through the floating
#                       IP's listener (tried every 0.5 s from qemu start)
#   ready               the later of the two (SSH only when the scenario
#                       has no config, e.g. bad-user-data)
# Each milestone also records the CPU time qemu had used by then: on a
# shared host the wall time depends on the load (a loaded host gives qemu a
# fraction of a core), the CPU time less so (it still varied by a quarter
# between runs of one image here); an idle host boots in about the CPU time
# plus the guest's own waits. The guest's side comes from
# systemd-analyze (the guest's clock, which drifts under TCG on a loaded
# host) and the first-boot log.
# shellcheck shell=bash

# "ELAPSED QEMU_CPU" in seconds, for a milestone file.
stamp() {
    local ticks
    ticks=$(getconf CLK_TCK)
    printf '%s %s\n' "$(elapsed)" "$(awk -v t="$ticks" '{ printf "%.1f", ($14 + $15) / t }' "/proc/$qemu_pid/stat" 2>/dev/null)"
}

# Host-side milestones, one file each under $tmp/t/ (made by boot_vm, which
# stamps the kernel's first line), holding seconds since qemu start. Runs in
# the background until both are seen or the boot times out.
start_ready_prober() {
    (
        local deadline=$(($(date +%s) + boot_timeout)) line
        while (($(date +%s) < deadline)); do
            if [[ ! -f "$tmp/t/tls" && "$scenario" != bad-user-data ]]; then
                line=$(in_ns "$ns_client" curl -sk --max-time 1 --resolve "app.example.org:443:$floating" \
                    https://app.example.org/ 2>/dev/null) && [[ "$line" == ingress* ]] && stamp >"$tmp/t/tls"
            fi
            if [[ ! -f "$tmp/t/ssh" ]] && grep -qa 'SSH key(s) installed' "$serial" 2>/dev/null; then
                vm_ssh true 2>/dev/null && stamp >"$tmp/t/ssh"
            fi
            [[ -f "$tmp/t/ssh" && (-f "$tmp/t/tls" || "$scenario" == bad-user-data) ]] && exit 0
            sleep 0.5
        done
    ) &
    peer_pids+=($!)
}

# "12.3s (qemu CPU 10.1s)" or "not seen".
milestone() {
    local wall cpu
    [[ -s "$tmp/t/$1" ]] || { printf 'not seen'; return; }
    read -r wall cpu <"$tmp/t/$1"
    printf '%ss (qemu CPU %ss)' "$wall" "${cpu:-?}"
}

# The readiness point: the later of SSH and TLS (SSH alone without a config).
ready_milestone() {
    local last=ssh a b
    [[ -s "$tmp/t/ssh" ]] || return 1
    if [[ "$scenario" != bad-user-data ]]; then
        [[ -s "$tmp/t/tls" ]] || return 1
        read -r a _ <"$tmp/t/ssh"
        read -r b _ <"$tmp/t/tls"
        awk -v a="$a" -v b="$b" 'BEGIN { exit !(b > a) }' && last=tls
    fi
    milestone "$last"
}

# The readiness figures and the guest's own account of its boot.
print_boot_figures() {
    say "boot figures (from qemu start, host clock; load: $(cut -d' ' -f1-3 /proc/loadavg)):"
    say "  firmware + bootloader + loading kernel and initramfs: first kernel line at $(milestone kernel)"
    say "  SSH login works at $(milestone ssh); TLS through the floating IP answers at $(milestone tls)"
    say "  READY at $(ready_milestone || echo never) (scenario $scenario)"
    if [[ -s "$tmp/guest-figures" ]]; then
        sed 's/^/image-test:   /' "$tmp/guest-figures" >&2
    else
        say "  (no figures from systemd-analyze in the VM)"
    fi
}

# The guest's account, taken once the boot is done (before any restart
# changes parvis.service's figures): systemd-analyze, how busy the guest's
# CPU was, the first-boot steps and the daemon's log. (Not CPU time by unit:
# on a loaded host the guest charges the time qemu was descheduled to
# whatever ran, and the figures were nonsense.)
collect_guest_figures() {
    local try
    for try in 1 2 3 4 5 6 7 8 9 10; do
        vm_ssh systemd-analyze time >/dev/null 2>&1 && break
        sleep 3
    done
    vm_ssh sudo -n bash -s >"$tmp/guest-figures" 2>&1 <<'GUEST' || true
systemd-analyze time
echo "-- critical chain to parvis.service:"
systemd-analyze critical-chain parvis.service --no-pager | tail -n +3
echo "-- slowest units (wall time):"
systemd-analyze blame --no-pager | head -n 12
awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8; all = busy + $5 + $6
    printf "-- guest CPU since boot: %.0f%% busy, %.0f%% iowait\n", 100 * busy / all, 100 * $6 / all }' /proc/stat
echo "-- first boot steps:"
grep -E " (first boot|took|done:)" /var/lib/parvis/firstboot.log
echo "-- the daemon's start:"
journalctl -b -u parvis.service -o short-monotonic --no-pager | grep -v '^-- ' | head -n 8 | cut -c1-200
GUEST
}
