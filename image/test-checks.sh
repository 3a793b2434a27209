# Sourced by image/test.sh: the checks, each a function that returns
# non-zero on failure. They use test.sh's variables (namespaces, $tmp,
# $serial, MACs, $floating) and helpers (vm_ssh, in_ns, wait_serial, say).
# shellcheck shell=bash

check_firstboot_console() {
    wait_serial 'parvis-firstboot: done' || return 1
    grep -qa 'BEGIN SSH HOST KEY FINGERPRINTS' "$serial" &&
        grep -qa 'parvis-firstboot: config drive .* read into' "$serial" &&
        grep -qa 'parvis-firstboot: hostname edge-test' "$serial" &&
        grep -qa "parvis-firstboot: port $mac_public (tap4c7a15bb, public): 192.168.10.5/24" "$serial" &&
        grep -qa 'parvis-firstboot: 1 SSH key(s) installed for user parvis' "$serial" &&
        grep -qa 'parvis-firstboot: parvis config from user data installed' "$serial"
}

# The reason is on the console, with the key path `parvis check` names.
check_bad_user_data_console() {
    wait_serial 'parvis-firstboot: done' || return 1
    grep -qa 'user data is not a valid parvis config' "$serial" &&
        grep -qa 'parvis-firstboot:   .*admin.allow' "$serial"
}

# No config installed: the daemon runs the safe default (SSH only, admin UI
# on loopback) and says why in `parvis status`.
check_no_daemon_config() {
    local state status
    vm_ssh test ! -e /etc/parvis/parvis.toml || { say "a config was installed"; return 1; }
    state=$(vm_ssh systemctl is-active parvis) || true
    say "parvis.service: $state"
    [[ "$state" == active ]] || return 1
    status=$(vm_ssh sudo parvis status 2>&1) || {
        say "parvis status failed: $status"
        vm_ssh 'sudo ls -la /run/parvis/; sudo ss -xlp | grep -i parvis; sudo cat /proc/$(pidof parvis)/mountinfo | grep -E " /run( |/)"; sudo ls -la /proc/$(pidof parvis)/root/run/parvis/' || true
        return 1
    }
    say "parvis status: $(grep -m1 'safe default' <<<"$status")"
    grep -q 'safe default' <<<"$status" || { say "$status"; return 1; }
}

check_metadata_service_console() {
    wait_serial 'parvis-firstboot: parvis config from user data installed' || return 1
    grep -qa 'parvis-firstboot: metadata service: attempt 1 failed' "$serial" &&
        grep -qa 'parvis-firstboot: metadata service read after' "$serial" &&
        grep -qa 'parvis-firstboot: metadata service read into' "$serial" &&
        grep -qa 'parvis-firstboot: no config drive' "$serial" &&
        grep -qa 'parvis-firstboot: hostname edge-test' "$serial" &&
        grep -qa 'parvis-firstboot: 1 SSH key(s) installed for user parvis' "$serial"
}

check_ssh_key() {
    local deadline=$(($(date +%s) + boot_timeout))
    until vm_ssh true 2>/dev/null; do
        qemu_alive || return 1
        (($(date +%s) < deadline)) || { say "no SSH login within ${boot_timeout}s"; return 1; }
        sleep 3
    done
    say "SSH login with the injected key after $(elapsed)s"
    [[ "$(vm_ssh hostname)" == edge-test ]] || { say "hostname is not edge-test"; return 1; }
}

# The host key the client sees is one of those printed on the serial console.
check_host_key_fingerprint() {
    local fp
    fp=$(in_ns "$ns_client" ssh-keyscan -t ed25519 "$floating" 2>/dev/null | ssh-keygen -lf - | awk '{print $2}')
    [[ -n "$fp" ]] && grep -qa -- "$fp" "$serial"
}

check_ssh_no_password() {
    # Password and root logins are refused outright.
    ! in_ns "$ns_client" ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o BatchMode=yes -o PubkeyAuthentication=no -o ConnectTimeout=5 "parvis@$floating" true 2>/dev/null &&
        ! in_ns "$ns_client" ssh -i "$tmp/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
            -o BatchMode=yes -o ConnectTimeout=5 "root@$floating" true 2>/dev/null
}

check_sudo_and_disk() {
    local size state t
    vm_ssh sudo -n true || { say "sudo without password fails"; return 1; }
    # parvis-growroot.service grows the disk once the daemon is ready.
    for t in $(seq 1 60); do
        state=$(vm_ssh systemctl show -p LoadState -p ActiveState --value parvis-growroot.service | tr '\n' ' ')
        [[ "$state" == "loaded activating "* || "$state" == "loaded inactive "* ]] || break
        sleep 2
    done
    size=$(vm_ssh df -B1M --output=size / | tail -n 1 | tr -d ' ')
    say "root filesystem: ${size} MiB on a 3 GiB disk"
    ((size > 2500)) || { say "root filesystem was not grown"; return 1; }
}

check_ports_configured() {
    local addrs routes links
    addrs=$(vm_ssh ip -o addr show) && routes=$(vm_ssh ip route show default) &&
        links=$(vm_ssh ip -o link show) || return 1
    grep -q '192.168.10.5/24' <<<"$addrs" && grep -q '10.0.0.1/24' <<<"$addrs" &&
        grep -q 'via 192.168.10.1' <<<"$routes" &&
        [[ "$(grep "$mac_public" <<<"$links")" == *"mtu 1450"* ]]
}

# The admin hash from the user data's comment line, where the daemon reads it.
check_admin_hash() {
    local want got
    want=$(sed -n 's/^# parvis-admin-hash: //p' "$tmp/drive/openstack/latest/user_data")
    got=$(vm_ssh sudo -n cat /var/lib/parvis/admin.passwd) || return 1
    [[ -n "$want" && "$got" == "$want" ]]
}

# The VM reaches the ingress nodes and the forward's server over its
# internal port (the path the daemon will use).
check_internal_reachable() {
    vm_ssh timeout 10 bash -c 'exec 3<>/dev/tcp/10.0.0.11/443 && exec 4<>/dev/tcp/10.0.0.12/443 &&
        exec 5<>/dev/tcp/10.0.0.20/7000'
}

# One table only, ours; it denies inbound by default.
check_nft_table() {
    local tables input
    tables=$(vm_ssh sudo -n nft list tables) && input=$(vm_ssh sudo -n nft list chain inet parvis input) ||
        return 1
    say "nft tables in the VM: $(tr '\n' ' ' <<<"$tables")"
    [[ "$tables" == "table inet parvis" ]] && grep -q 'policy drop' <<<"$input"
}

# A closed port must time out (dropped), not answer and not reset.
port_times_out() {
    local rc=0
    in_ns "$ns_client" timeout 3 bash -c "exec 3<>/dev/tcp/$floating/$1" 2>/dev/null || rc=$?
    ((rc == 124)) || { say "port $1: expected a timeout, got exit $rc"; return 1; }
}

check_closed_ports() {
    local port
    for port in 23 25 3306 8080 9108 10250; do port_times_out "$port" || return 1; done
}

check_service_ports_closed() {
    local port
    for port in 443 8443 7000; do port_times_out "$port" || return 1; done
}

# What the daemon does, run in parvis.service's own sandbox (its [Service]
# hardening lines handed to systemd-run): nft, a net sysctl, rtnetlink, its
# writable paths; and what the sandbox must forbid.
check_daemon_sandbox() {
    local out
    out=$(vm_ssh sudo -n bash -s <<'PROBE'
set -eu
cat >/run/parvis-probe.sh <<'INNER'
set -eu
echo "user $(id -un)"
printf 'table inet parvis-probe {\n chain c {\n  type filter hook input priority 10; policy accept;\n }\n}\n' | nft -f -
nft delete table inet parvis-probe && echo "nft ok"
echo 2 >/proc/sys/net/ipv4/conf/all/rp_filter && echo "sysctl ok"
ip link set dev lo mtu 65536 && echo "netlink ok"
touch /var/lib/parvis/.probe /etc/parvis/.probe && rm /var/lib/parvis/.probe /etc/parvis/.probe && echo "state ok"
if touch /usr/.probe 2>/dev/null; then echo "usr WRITABLE"; else echo "usr read-only"; fi
if cat /etc/shadow >/dev/null 2>&1; then echo "shadow READABLE"; else echo "shadow unreadable"; fi
INNER
chmod 0644 /run/parvis-probe.sh
# Not RuntimeDirectory=: when this transient unit ends, systemd would remove
# the running daemon's /run/parvis (and with it the control socket).
props=()
while IFS= read -r line; do props+=(-p "$line"); done < <(sed -n '/^\[Service\]/,/^\[Install\]/p' \
    /etc/systemd/system/parvis.service | grep -E '^(User|Group|CapabilityBoundingSet|AmbientCapabilities|NoNewPrivileges|Protect[A-Za-z]*|Private[A-Za-z]*|Restrict[A-Za-z]*|LockPersonality|MemoryDenyWriteExecute|RemoveIPC|SystemCall[A-Za-z]*|ReadWritePaths|StateDirectory|UMask)=')
systemd-run --wait --pipe --quiet --collect "${props[@]}" /bin/bash /run/parvis-probe.sh
rm -f /run/parvis-probe.sh
PROBE
    ) || { say "sandbox probe failed: $out"; return 1; }
    say "sandbox probe: $(tr '\n' ';' <<<"$out")"
    [[ "$out" == *"user _parvis"* && "$out" == *"nft ok"* && "$out" == *"sysctl ok"* &&
        "$out" == *"netlink ok"* && "$out" == *"state ok"* && "$out" == *"usr read-only"* &&
        "$out" == *"shadow unreadable"* ]]
}

daemon_supports_serve() {
    vm_ssh /usr/local/bin/parvis serve --help >/dev/null 2>&1
}

check_daemon_ready() {
    wait_serial 'parvis: ready' || return 1
    say "daemon ready (console banner) $(elapsed)s after qemu start"
    vm_ssh systemctl is-active --quiet parvis
}

check_tls_via_floating_ip() {
    local out
    out=$(in_ns "$ns_client" curl -sk --max-time 10 --resolve "app.example.org:443:$floating" \
        https://app.example.org/) || { say "curl through $floating:443 failed"; return 1; }
    say "ingress said: $out"
    [[ "$out" == ingress[12]" ci=198.51.100.10 sni=app.example.org"* ]]
}

check_forward() {
    local out
    out=$(in_ns "$ns_client" timeout 10 socat -T5 - "TCP:$floating:7000" </dev/null) || return 1
    say "forward said: $out"
    [[ "$out" == forward-ok* ]]
}

# An operator restarting the daemon expects traffic to go on: the unit keeps
# the nftables table across a stop, so a forwarded connection opened before
# `systemctl restart parvis` still carries data after it (the server echoes
# with `cat`), and TLS through the floating IP answers again (time measured).
check_restart_keeps_traffic() {
    local fifo="$tmp/held.in" line t start
    rm -f "$fifo" && mkfifo "$fifo"
    in_ns "$ns_client" socat -T60 - "TCP:$floating:7000" <"$fifo" >"$tmp/held.out" 2>&1 &
    local held=$!
    exec 7>"$fifo"
    for t in 1 2 3 4 5 6 7 8 9 10; do
        grep -q forward-ok "$tmp/held.out" && break
        sleep 1
    done
    grep -q forward-ok "$tmp/held.out" || { say "held connection: no greeting"; exec 7>&-; kill "$held"; return 1; }
    start=$(date +%s.%N)
    vm_ssh sudo -n systemctl restart parvis || { say "systemctl restart failed"; exec 7>&-; kill "$held"; return 1; }
    echo still-here >&7
    for t in 1 2 3 4 5 6 7 8 9 10; do
        grep -q still-here "$tmp/held.out" && break
        sleep 1
    done
    exec 7>&-
    wait "$held" 2>/dev/null || true
    grep -q still-here "$tmp/held.out" || { say "held connection did not carry data after the restart: $(cat "$tmp/held.out")"; return 1; }
    for t in $(seq 1 60); do
        line=$(in_ns "$ns_client" curl -sk --max-time 2 --resolve "app.example.org:443:$floating" \
            https://app.example.org/ 2>/dev/null) && [[ "$line" == ingress* ]] && break
        sleep 0.5
    done
    [[ "$line" == ingress* ]] || { say "TLS did not answer again after the restart"; return 1; }
    say "TLS answered again $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s after systemctl restart began"
}

# `systemctl reload parvis` runs `parvis apply` and waits for its answer: a
# config the daemon refuses makes the reload fail (systemctl exits non-zero)
# and changes nothing; the file put back, a reload succeeds and TLS answers.
check_reload_tells_the_truth() {
    local out
    vm_ssh sudo -n cp /etc/parvis/parvis.toml /var/tmp/parvis-good.toml || return 1
    vm_ssh "printf '\n[[forward]]\nproto = \"tcp\"\nport = 99999\nto = \"10.0.0.20:99999\"\n' | sudo -n tee -a /etc/parvis/parvis.toml >/dev/null" || return 1
    if out=$(vm_ssh sudo -n systemctl reload parvis 2>&1); then
        say "reload of a refused config said success: $out"
        vm_ssh sudo -n cp /var/tmp/parvis-good.toml /etc/parvis/parvis.toml
        return 1
    fi
    say "reload of a bad config failed as it should: $(tr '\n' ' ' <<<"$out" | cut -c1-160)"
    vm_ssh sudo -n cp /var/tmp/parvis-good.toml /etc/parvis/parvis.toml || return 1
    out=$(vm_ssh sudo -n systemctl reload parvis 2>&1) || { say "reload of the good config failed: $out"; return 1; }
    check_tls_via_floating_ip
}

check_admin_ui() {
    local code
    code=$(in_ns "$ns_client" curl -sk --max-time 10 -o /dev/null -w '%{http_code}' \
        "https://$floating:8443/api/v1/status") || return 1
    say "admin API without a session: HTTP $code"
    [[ "$code" == 401 ]]
}


# The CLI an operator uses over SSH: both ports with their roles.
check_cli_status() {
    local status
    status=$(vm_ssh sudo parvis status 2>&1) || { say "parvis status failed: $status"; return 1; }
    say "parvis status: $(tr '\n' ' ' <<<"$status" | tr -s ' ' | cut -c1-200)"
    grep -q '^public ' <<<"$status" && grep -q '^internal ' <<<"$status"
}
