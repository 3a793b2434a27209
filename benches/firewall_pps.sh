#!/bin/bash
# Packets/s through a parvis DNAT rule vs plain routing, iperf3 UDP 64-byte datagrams.
# Usage (root): benches/firewall_pps.sh target/debug/parvis  — needs iperf3 (apt-get install -y iperf3).
# The sender is usually the bottleneck on a small machine: read the figures with the load average.
set -e; PARVIS=$1
P=$$; C=pv-$P-ppc; A=pv-$P-ppa; S=pv-$P-pps
trap 'kill $SRV 2>/dev/null; rm -f /tmp/pv-$P-*; for n in $C $A $S; do ip netns del $n 2>/dev/null; done' EXIT
for n in $C $A $S; do ip netns add $n; ip -n $n link set lo up; done
ip -n $C link add c0 type veth peer name pub0 netns $A
ip -n $S link add s0 type veth peer name int0 netns $A
ip -n $C addr add 198.51.100.10/24 dev c0; ip -n $A addr add 192.168.10.5/24 dev pub0
ip -n $A addr add 10.0.0.1/24 dev int0; ip -n $S addr add 10.0.0.20/24 dev s0
for x in "$C c0" "$A pub0" "$A int0" "$S s0"; do set -- $x; ip -n $1 link set $2 up; done
ip -n $C route add default dev c0; ip -n $C route add 10.0.0.0/24 via 192.168.10.5 dev c0 onlink; ip -n $A route add 198.51.100.0/24 dev pub0
ip -n $S route add default via 10.0.0.1
ip netns exec $A sysctl -qw net.ipv4.ip_forward=1
ip netns exec $S iperf3 -s -D -p 5201 --pidfile /tmp/pv-$P-iperf.pid; sleep 0.5; SRV=$(cat /tmp/pv-$P-iperf.pid)
pps() { ip netns exec $C iperf3 -c $1 -p 5201 -u -b 0 -l 64 -t 5 --json | python3 -c '
import json,sys; d=json.load(sys.stdin); e=d.get("end",{}); s=e.get("sum") or e.get("sum_received") or {}; s or print(d.get("error"),list(e),file=sys.stderr)
print(int((s["packets"]-s["lost_packets"])/s["seconds"]))'; }
R=$(pps 10.0.0.20)
cat > /tmp/pv-$P-pps.toml <<T
[[forward]]
proto = "tcp"
port = 5201
to = "10.0.0.20:5201"
[[forward]]
proto = "udp"
port = 5201
to = "10.0.0.20:5201"
T
ip netns exec $A "$PARVIS" firewall apply --config /tmp/pv-$P-pps.toml >/dev/null
D=$(pps 192.168.10.5)
R2=$(ip netns exec $A nft delete table inet parvis; pps 10.0.0.20)
echo "routed (no table): $R pps, again $R2 pps; DNAT through table inet parvis: $D pps"
