#!/usr/bin/env bash
# make image-test: boots target/image/parvis.qcow2 under qemu (TCG by default)
# with two virtio NICs (OpenStack-style MACs, internal first) and a config-2
# drive, in network namespaces this script makes, and checks it with real
# traffic:
#
#   client 198.51.100.10 ─ router (1:1 NAT 203.0.113.10 → 192.168.10.5) ─┐
#                                                  pv-<pid>-hv: br-pub ─ tap-pub ═ VM
#   ingress1 10.0.0.11, ingress2 10.0.0.12,                       br-int ─ tap-int ═ VM
#   server 10.0.0.20 ─ pv-<pid>-k8s bridge ────────────────────────┘
#
# qemu runs inside the "hv" namespace, where both taps live; nothing is made
# in the host's namespace. Needs root.
#
# Environment: PARVIS_ACCEL=tcg|kvm (default tcg; KVM hangs guests on some
# hosts), PARVIS_BOOT_TIMEOUT seconds (default 420), PARVIS_SMP (default 1),
# PARVIS_RNG=virtio|none (default virtio: a virtio-rng device, as Nova gives
# with hw_rng_model=virtio),
# PARVIS_IMAGE (default target/image/parvis.qcow2), PARVIS_IMAGE_TEST_KEEP (a
# folder to keep the serial logs in), PARVIS_IMAGE_TEST_SCENARIO:
#   full           (default) config drive with a valid parvis config: everything
#   bad-user-data  user data is an invalid config: boots, says why on the
#                  console, daemon on its safe default, only SSH open
#   no-drive       no config drive: DHCP (dnsmasq) and a metadata service at
#                  169.254.169.254 in the router namespace provide the same data;
#                  the service starts only after the VM's first attempt failed
#                  and the test saw that only SSH answers; then the config
#                  from the service must be in force (TLS, forward, admin UI)
#   upgrade        boots PARVIS_PREVIOUS_IMAGE (default
#                  target/image/parvis-main.qcow2), changes the config with
#                  `parvis apply`, takes `parvis export`, boots PARVIS_IMAGE as
#                  a new instance with the export as user data, checks config,
#                  history and traffic there (docs/upgrades.md)
# Every run prints the boot figures (image/test-timing.sh): readiness (SSH
# login and TLS through the floating IP) from qemu start, systemd-analyze,
# the first-boot steps.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
image=$(realpath -m "${PARVIS_IMAGE:-$repo/target/image/parvis.qcow2}")
accel=${PARVIS_ACCEL:-tcg}
boot_timeout=${PARVIS_BOOT_TIMEOUT:-420}
smp=${PARVIS_SMP:-1}
scenario=${PARVIS_IMAGE_TEST_SCENARIO:-full}
p="pv-$$"
ns_hv=$p-hv ns_router=$p-router ns_client=$p-client ns_k8s=$p-k8s
ns_ing1=$p-ing1 ns_ing2=$p-ing2 ns_server=$p-server
all_ns=("$ns_hv" "$ns_router" "$ns_client" "$ns_k8s" "$ns_ing1" "$ns_ing2" "$ns_server")
mac_public=fa:16:3e:4c:7a:15
mac_internal=fa:16:3e:0b:d2:61
floating=203.0.113.10
tmp=$(mktemp -d /tmp/parvis-image-test.XXXXXX)
serial=$tmp/serial.log
qemu_pid=""
peer_pids=()
t0=0
failed=0
passed=()
skipped=()

say() { printf 'image-test: %s\n' "$*" >&2; }

cleanup() {
    local rc=$? pid ns
    [[ -n "$qemu_pid" ]] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
    for pid in "${peer_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for ns in "${all_ns[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    if ((rc != 0)) && [[ -s "$serial" ]]; then
        say "---- serial console log ----"
        cat "$serial" >&2
        say "---- end of serial console log ----"
    fi
    [[ -n "${PARVIS_IMAGE_TEST_KEEP:-}" ]] && mkdir -p "$PARVIS_IMAGE_TEST_KEEP" &&
        cp "$tmp"/serial*.log "$PARVIS_IMAGE_TEST_KEEP"/ 2>/dev/null
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

host_commands=(qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils genisoimage:genisoimage
    ssh:openssh-client ssh-keygen:openssh-client haproxy:haproxy socat:socat curl:curl openssl:openssl
    dnsmasq:dnsmasq-base python3:python3)

# The packages whose commands are missing, one a line (empty: all present).
missing_packages() {
    local pair
    for pair in "${host_commands[@]}"; do
        command -v "${pair%%:*}" >/dev/null || echo "${pair##*:}"
    done | sort -u
}

# apt's exit code is no proof: installing qemu-system-x86 can remove a
# backported qemu-utils and still exit 0. Check each command afterwards.
ensure_host_packages() {
    local missing=() v
    mapfile -t missing < <(missing_packages)
    ((${#missing[@]} == 0)) && return 0
    say "installing host packages: ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" || true
    mapfile -t missing < <(missing_packages)
    ((${#missing[@]} == 0)) && return 0
    # A backported qemu-utils (newer than bookworm's qemu-system-x86 allows)
    # blocks the install or is removed by it: take both from the same release.
    v=$(apt-cache policy qemu-system-x86 | awk '/Candidate:/ { print $2 }')
    say "still missing: ${missing[*]}; retrying with qemu-utils=$v to match qemu-system-x86"
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends --allow-downgrades \
        "${missing[@]}" qemu-system-x86 "qemu-utils=$v" || true
    mapfile -t missing < <(missing_packages)
    ((${#missing[@]} == 0)) && return 0
    say "commands still missing after installing: packages ${missing[*]}"
    return 1
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

veth() { # veth NS_A NAME_A NS_B NAME_B
    ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
    ip -n "$1" link set "$2" up
    ip -n "$3" link set "$4" up
}

make_topology() {
    local ns
    for ns in "${all_ns[@]}"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
    # Hypervisor: two bridges, each with a tap for the VM and a veth onward.
    for b in pub int; do
        ip -n "$ns_hv" link add "br-$b" type bridge
        ip -n "$ns_hv" link set "br-$b" up
        ip -n "$ns_hv" tuntap add "tap-$b" mode tap
        ip -n "$ns_hv" link set "tap-$b" master "br-$b" up
    done
    veth "$ns_hv" up-pub "$ns_router" r-vm
    ip -n "$ns_hv" link set up-pub master br-pub
    veth "$ns_router" r-cl "$ns_client" c0
    ip -n "$ns_router" addr add 192.168.10.1/24 dev r-vm
    ip -n "$ns_router" addr add 198.51.100.1/24 dev r-cl
    ip -n "$ns_client" addr add 198.51.100.10/24 dev c0
    ip -n "$ns_client" route add default via 198.51.100.1
    in_ns "$ns_router" sysctl -qw net.ipv4.ip_forward=1
    in_ns "$ns_router" nft -f - <<NFT
table ip floating {
    chain pre { type nat hook prerouting priority dstnat; ip daddr $floating dnat to 192.168.10.5; }
    chain post { type nat hook postrouting priority srcnat; ip saddr 192.168.10.5 snat to $floating; }
}
NFT
    # The Kubernetes side: a bridge, the VM's internal port and three hosts.
    ip -n "$ns_k8s" link add br0 type bridge
    ip -n "$ns_k8s" link set br0 up
    veth "$ns_hv" up-int "$ns_k8s" k-vm
    ip -n "$ns_hv" link set up-int master br-int
    ip -n "$ns_k8s" link set k-vm master br0
    local i=0 host addr
    for host in "$ns_ing1:10.0.0.11" "$ns_ing2:10.0.0.12" "$ns_server:10.0.0.20"; do
        i=$((i + 1))
        ns=${host%%:*} addr=${host##*:}
        veth "$ns" eth0 "$ns_k8s" "k-h$i"
        ip -n "$ns_k8s" link set "k-h$i" master br0
        ip -n "$ns" addr add "$addr/24" dev eth0
        ip -n "$ns" route add default via 10.0.0.1
    done
}

start_peers() {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=app.example.org \
        -keyout "$tmp/ingress.key" -out "$tmp/ingress.crt" 2>/dev/null
    cat "$tmp/ingress.crt" "$tmp/ingress.key" >"$tmp/ingress.pem"
    local n addr ns
    for n in 1 2; do
        addr=10.0.0.1$n ns=$p-ing$n
        cat >"$tmp/haproxy$n.cfg" <<CFG
global
  maxconn 1000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend tls
  bind $addr:443 accept-proxy ssl crt $tmp/ingress.pem
  http-request return status 200 content-type text/plain lf-string "ingress$n ci=%[src] sni=%[ssl_fc_sni] auth=%[fc_pp_authority]\n"
frontend plain
  bind $addr:80 accept-proxy
  http-request return status 200 content-type text/plain lf-string "ingress$n ci=%[src] host=%[req.hdr(host)]\n"
CFG
        ip netns exec "$ns" haproxy -db -f "$tmp/haproxy$n.cfg" >"$tmp/haproxy$n.log" 2>&1 &
        peer_pids+=($!)
    done
    ip netns exec "$ns_server" socat TCP-LISTEN:7000,bind=10.0.0.20,fork,reuseaddr \
        SYSTEM:'echo forward-ok peer=$SOCAT_PEERADDR; exec cat' >"$tmp/socat.log" 2>&1 &
    peer_pids+=($!)
}

# The config drive Nova would attach: meta_data.json, network_data.json, user_data.
make_config_drive() {
    local d=$tmp/drive/openstack/latest
    mkdir -p "$d"
    ssh-keygen -q -t ed25519 -N '' -C image-test -f "$tmp/id"
    cat >"$d/meta_data.json" <<JSON
{"uuid": "7d9c0a5e-1f3b-4a8e-9d2c-3b5e6f708192", "name": "edge-test", "hostname": "edge-test.novalocal",
 "availability_zone": "nova", "launch_index": 0, "project_id": "0f1e2d3c",
 "public_keys": {"image-test": "$(cat "$tmp/id.pub")"},
 "keys": [{"name": "image-test", "type": "ssh", "data": "$(cat "$tmp/id.pub")"}],
 "devices": [
   {"type": "nic", "bus": "pci", "address": "0000:00:03.0", "mac": "$mac_internal", "tags": ["internal"]},
   {"type": "nic", "bus": "pci", "address": "0000:00:04.0", "mac": "$mac_public", "tags": ["public"]}]}
JSON
    cat >"$d/network_data.json" <<JSON
{"links": [
   {"id": "tap0b2d61aa", "type": "ovs", "vif_id": "0b2d61aa", "ethernet_mac_address": "$mac_internal", "mtu": 1450},
   {"id": "tap4c7a15bb", "type": "ovs", "vif_id": "4c7a15bb", "ethernet_mac_address": "$mac_public", "mtu": 1450}],
 "networks": [
   {"id": "network0", "type": "ipv4", "link": "tap0b2d61aa", "ip_address": "10.0.0.1", "netmask": "255.255.255.0",
    "routes": [], "network_id": "k8s", "services": []},
   {"id": "network1", "type": "ipv4", "link": "tap4c7a15bb", "ip_address": "192.168.10.5", "netmask": "255.255.255.0",
    "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "192.168.10.1"}],
    "network_id": "public", "services": [{"type": "dns", "address": "192.168.10.1"}]}],
 "services": [{"type": "dns", "address": "192.168.10.1"}]}
JSON
    cat >"$d/user_data" <<'TOML'
# parvis-admin-hash: $argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$Zb7vVwF4s3qQ1m9Yb0Qx1Vt6m1x6A8m8cM0c2y5b0bE
[appliance]
name = "edge-test"

[interfaces.public]

[interfaces.internal]

[admin]
listen = "0.0.0.0:8443"
allow = ["198.51.100.0/24"]

[[listener]]
name = "https"
bind = "0.0.0.0:443"
protocol = "tls"
default_backend = "ingress-https"

[backend.ingress-https]
servers = ["10.0.0.11:443", "10.0.0.12:443"]
proxy_protocol = "v2"
balance = "round-robin"

[[forward]]
proto = "tcp"
port = 7000
to = "10.0.0.20:7000"
masquerade = true
TOML
    if [[ "$scenario" == bad-user-data ]]; then
        cat >"$d/user_data" <<'TOML'
[admin]
listen = "0.0.0.0:8443"
allow = ["not-an-address"]

[[listener]]
name = "https"
bind = "0.0.0.0:443"
protocol = "tls"
TOML
    fi
    genisoimage -quiet -o "$tmp/config-2.iso" -V config-2 -r -J "$tmp/drive"
}

# boot_vm IMAGE [ISO]: starts the VM and waits until its kernel runs /init.
# A kernel that panics in its timer check (an image without no_timer_check,
# under TCG on a loaded host) is booted once more, and the test says so.
boot_vm() {
    local try
    for try in 1 2; do
        start_qemu "$@"
        kernel_started && return 0
        ((try == 1)) && grep -qa "IO-APIC + timer doesn't work" "$serial" || return 1
        say "the kernel panicked in its timer check (emulator too slow): booting once more"
        wait "$qemu_pid" 2>/dev/null || true
        : >"$serial"
    done
}

# Waits for the kernel to run /init (0) or qemu to exit (1); stamps the
# first kernel line as a milestone.
kernel_started() {
    rm -rf "$tmp/t"
    mkdir -p "$tmp/t"
    until grep -qa 'Run /init as init process' "$serial" 2>/dev/null; do
        [[ -f "$tmp/t/kernel" ]] || ! grep -qa 'Linux version' "$serial" 2>/dev/null || stamp >"$tmp/t/kernel"
        kill -0 "$qemu_pid" 2>/dev/null || return 1
        sleep 0.5
    done
    [[ -f "$tmp/t/kernel" ]] || stamp >"$tmp/t/kernel"
}

# start_qemu IMAGE [ISO]: a fresh 3G overlay on IMAGE, the config drive ISO if given.
start_qemu() {
    local base=$1 iso=${2:-} disk
    disk=$(mktemp "$tmp/disk-XXXX.qcow2")
    qemu-img create -q -f qcow2 -b "$base" -F qcow2 "$disk" 3G
    local accel_opt=(-accel tcg)
    [[ "$accel" == kvm ]] && accel_opt=(-accel kvm -cpu host)
    # Nova's virtio-rng (image property hw_rng_model=virtio); KVM guests also
    # have the host CPU's RDRAND, which TCG's default CPU lacks. Without
    # either, early boot waits for the kernel's jitter entropy.
    local rng_opt=(-device virtio-rng-pci,addr=5)
    [[ "${PARVIS_RNG:-virtio}" == none ]] && rng_opt=()
    local drive_opt=()
    [[ -z "$iso" ]] || drive_opt=(-drive "file=$iso,media=cdrom,if=ide,readonly=on")
    say "booting $base (scenario $scenario, accel $accel, rng ${PARVIS_RNG:-virtio}, overlay 3G, serial log $serial)"
    t0=$(date +%s.%N)
    # Internal NIC first on the PCI bus: names alone would get the roles wrong.
    ip netns exec "$ns_hv" qemu-system-x86_64 "${accel_opt[@]}" -m 1024 -smp "$smp" \
        -display none -monitor none -serial "file:$serial" -no-reboot \
        -drive "file=$disk,if=virtio,format=qcow2" \
        "${drive_opt[@]}" \
        -netdev tap,id=n0,ifname=tap-int,script=no,downscript=no \
        -device "virtio-net-pci,netdev=n0,mac=$mac_internal,romfile=,addr=3" \
        -netdev tap,id=n1,ifname=tap-pub,script=no,downscript=no \
        -device "virtio-net-pci,netdev=n1,mac=$mac_public,romfile=,addr=4" \
        "${rng_opt[@]}" \
        >"$tmp/qemu.log" 2>&1 &
    qemu_pid=$!
}

elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

qemu_alive() {
    kill -0 "$qemu_pid" 2>/dev/null && return 0
    say "qemu exited: $(cat "$tmp/qemu.log")"
    return 1
}

# Waits until PATTERN shows on the serial console.
wait_serial() {
    local pattern=$1 deadline=$(($(date +%s) + boot_timeout))
    while ! grep -qa -- "$pattern" "$serial" 2>/dev/null; do
        qemu_alive || return 1
        (($(date +%s) < deadline)) || { say "timed out waiting for '$pattern' on the console"; return 1; }
        sleep 1
    done
}

vm_ssh() {
    in_ns "$ns_client" ssh -q -i "$tmp/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o ConnectTimeout=15 -o BatchMode=yes "parvis@$floating" "$@"
}

check() { # check NAME FUNCTION: runs one check, records the result
    local name=$1
    shift
    if "$@"; then
        passed+=("$name")
        say "PASS $name"
    else
        failed=$((failed + 1))
        say "FAIL $name"
    fi
}

skip() { skipped+=("$1: $2"); say "SKIP $1 ($2)"; }

# The checks, one function each.
# shellcheck source=image/test-checks.sh
source "$here/test-checks.sh"
# shellcheck source=image/test-timing.sh
source "$here/test-timing.sh"
# shellcheck source=image/test-scenarios.sh
source "$here/test-scenarios.sh"
# shellcheck source=image/test-upgrade.sh
source "$here/test-upgrade.sh"

main() {
    [[ $(id -u) == 0 ]] || { say "run as root"; exit 1; }
    [[ -f "$image" ]] || { say "no image at $image (make image)"; exit 1; }
    case "$scenario" in full | bad-user-data | no-drive | upgrade) ;; *) say "unknown scenario $scenario"; exit 2 ;; esac
    ensure_host_packages
    make_topology
    start_peers
    make_config_drive
    "scenario_${scenario//-/_}"
    [[ -s "$tmp/guest-figures" ]] || collect_guest_figures
    say "scenario $scenario: all checks done $(elapsed)s after qemu start"
    print_boot_figures
    say "what the console said:"
    grep -a -E 'parvis-firstboot: |parvis: ready|SSH HOST KEY|SHA256:' "$serial" | sed 's/^\[[ 0-9.]*\] //' >&2 || true
    say "passed ${#passed[@]}, failed $failed, skipped ${#skipped[@]}"
    local s
    for s in "${skipped[@]}"; do say "  skipped: $s"; done
    ((failed == 0))
}

main "$@"
