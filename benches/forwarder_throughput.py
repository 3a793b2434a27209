#!/usr/bin/env python3
"""Bulk throughput through the forwarder vs HAProxy vs direct, in throwaway
namespaces (root). Prints a table. Not a test: figures depend on the machine.

usage: forwarder_throughput.py PATH/TO/parvis [MB_PER_CONN] [CONNS...]

client (198.51.100.10) -- appliance (192.168.10.5 | 10.0.0.1) -- backend
(10.0.0.11). The client sends a real ClientHello (SNI bulk.example.org) and
reads MB_PER_CONN megabytes the backend sends back (download direction)."""
import os, socket, ssl, subprocess, sys, tempfile, time

PID = os.getpid()
NS = {k: f"pv-{PID}-{k}" for k in ("c", "a", "b")}
PARVIS = sys.argv[1]
MB = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
CONNS = [int(x) for x in sys.argv[3:]] or [1, 8]
CHUNK = b"\0" * (1 << 20)


def sh(*args):
    subprocess.run(args, check=True, capture_output=True)


def topology():
    for ns in NS.values():
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "link", "add", "bc0", "netns", NS["c"], "type", "veth", "peer", "ba0", "netns", NS["a"])
    sh("ip", "link", "add", "ba1", "netns", NS["a"], "type", "veth", "peer", "bb0", "netns", NS["b"])
    for ns, dev, addrs in [(NS["c"], "bc0", ["198.51.100.10/24"]), (NS["a"], "ba0", ["198.51.100.1/24", "192.168.10.5/24"]),
                           (NS["a"], "ba1", ["10.0.0.1/24"]), (NS["b"], "bb0", ["10.0.0.11/24"])]:
        for a in addrs:
            sh("ip", "-n", ns, "addr", "add", a, "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
    sh("ip", "-n", NS["c"], "route", "add", "192.168.10.0/24", "via", "198.51.100.1")
    sh("ip", "-n", NS["c"], "route", "add", "10.0.0.0/24", "via", "198.51.100.1")
    sh("ip", "-n", NS["b"], "route", "add", "default", "via", "10.0.0.1")
    sh("ip", "netns", "exec", NS["a"], "sysctl", "-qw", "net.ipv4.ip_forward=1")


def hello():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="bulk.example.org")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


SERVER = f"""
import socket, os
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('10.0.0.11', 5000)); s.listen(512)
chunk = b'\\0' * (1 << 20)
while True:
    c, _ = s.accept()
    if os.fork() == 0:
        c.recv(65536)
        for _ in range({MB}): c.sendall(chunk)
        c.close(); os._exit(0)
    c.close()
"""

CLIENT = """
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
h = bytes.fromhex(sys.argv[4])
s = socket.create_connection((host, port)); s.sendall(h)
buf = bytearray(1 << 20); got = 0
while True:
    k = s.recv_into(buf)
    if not k: break
    got += k
print(got)
"""


def run_clients(port, host, n):
    h = hello().hex()
    start = time.monotonic()
    procs = [subprocess.Popen(["ip", "netns", "exec", NS["c"], "python3", "-c", CLIENT, host, str(port), str(n), h],
                              stdout=subprocess.PIPE) for _ in range(n)]
    total = sum(int(p.communicate()[0] or 0) for p in procs)
    took = time.monotonic() - start
    return total * 8 / took / 1e9, total


def main():
    topology()
    tmp = tempfile.mkdtemp()
    children = []
    try:
        children.append(subprocess.Popen(["ip", "netns", "exec", NS["b"], "python3", "-c", SERVER]))
        cfg = os.path.join(tmp, "p.toml")
        open(cfg, "w").write("""
[[listener]]
name = "https"
bind = "192.168.10.5:443"
protocol = "tls"
default_backend = "bulk"
[backend.bulk]
servers = ["10.0.0.11:5000"]
proxy_protocol = "off"
""")
        children.append(subprocess.Popen(["ip", "netns", "exec", NS["a"], PARVIS, "serve", "--config", cfg],
                                         stderr=subprocess.DEVNULL))
        hcfg = os.path.join(tmp, "h.cfg")
        open(hcfg, "w").write("""
global
  maxconn 2000
defaults
  mode tcp
  timeout connect 2s
  timeout client 60s
  timeout server 60s
frontend f
  bind 192.168.10.5:444
  tcp-request inspect-delay 5s
  tcp-request content accept if { req.ssl_hello_type 1 }
  use_backend b if { req.ssl_sni -i bulk.example.org }
backend b
  server s 10.0.0.11:5000
""")
        children.append(subprocess.Popen(["ip", "netns", "exec", NS["a"], "haproxy", "-db", "-f", hcfg],
                                         stderr=subprocess.DEVNULL))
        time.sleep(1.5)
        print(f"bulk download, {MB} MiB per connection, Gbit/s")
        print(f"{'conns':>6} {'direct':>8} {'parvis':>8} {'haproxy':>8}")
        for n in CONNS:
            d, _ = run_clients(5000, "10.0.0.11", n)
            p, _ = run_clients(443, "192.168.10.5", n)
            h, _ = run_clients(444, "192.168.10.5", n)
            print(f"{n:>6} {d:>8.2f} {p:>8.2f} {h:>8.2f}")
    finally:
        for c in children:
            c.kill()
            c.wait()
        for ns in NS.values():
            subprocess.run(["ip", "netns", "del", ns])


main()
