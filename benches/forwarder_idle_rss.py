#!/usr/bin/env python3
"""Resident memory of the forwarder with N idle established connections
(each sent a real ClientHello and was forwarded), in throwaway namespaces
(root). Prints parvis's and HAProxy's VmRSS. Not a test.

usage: forwarder_idle_rss.py PATH/TO/parvis [N]"""
import os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(__file__))
# The open-files limit here is 20,000 and cannot be raised: parvis needs two per connection.
import forwarder_throughput as t  # noqa: E402  (topology and hello helpers)

N = int(sys.argv[2]) if len(sys.argv) > 2 else 9000

SERVER = """
import asyncio
async def hold(r, w):
    await r.read(65536)
    await asyncio.sleep(3600)
async def main():
    s = await asyncio.start_server(hold, '10.0.0.11', 5000, backlog=4096)
    await s.serve_forever()
asyncio.run(main())
"""

CLIENT = """
import asyncio, sys
host, port, n, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), bytes.fromhex(sys.argv[4])
async def one(keep):
    r, w = await asyncio.open_connection(host, port)
    w.write(h); await w.drain(); keep.append(w)
async def main():
    keep = []
    for i in range(0, n, 500):
        await asyncio.gather(*(one(keep) for _ in range(min(500, n - i))))
    print("open", len(keep), flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(port, pid, h):
    c = subprocess.Popen(["ip", "netns", "exec", t.NS["c"], "python3", "-c", CLIENT, "192.168.10.5", str(port), str(N), h],
                         stdout=subprocess.PIPE, text=True)
    line = c.stdout.readline().strip()
    time.sleep(2)
    out = rss(pid)
    c.kill()
    c.wait()
    return line, out


def main():
    t.topology()
    tmp = tempfile.mkdtemp()
    kids = []
    try:
        kids.append(subprocess.Popen(["ip", "netns", "exec", t.NS["b"], "python3", "-c", SERVER]))
        cfg = os.path.join(tmp, "p.toml")
        open(cfg, "w").write('[[listener]]\nname = "https"\nbind = "192.168.10.5:443"\nprotocol = "tls"\n'
                             'default_backend = "b"\n[backend.b]\nservers = ["10.0.0.11:5000"]\nproxy_protocol = "v2"\n')
        p = subprocess.Popen(["ip", "netns", "exec", t.NS["a"], sys.argv[1], "serve", "--config", cfg], stderr=subprocess.DEVNULL)
        kids.append(p)
        hcfg = os.path.join(tmp, "h.cfg")
        open(hcfg, "w").write("global\n  maxconn 9100\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 1h\n"
                              "  timeout server 1h\nfrontend f\n  bind 192.168.10.5:444\n  tcp-request inspect-delay 5s\n"
                              "  tcp-request content accept if { req.ssl_hello_type 1 }\n  default_backend b\n"
                              "backend b\n  server s 10.0.0.11:5000 send-proxy-v2\n")
        h = subprocess.Popen(["ip", "netns", "exec", t.NS["a"], "haproxy", "-db", "-f", hcfg], stderr=subprocess.DEVNULL)
        kids.append(h)
        time.sleep(1.5)
        hello = t.hello().hex()
        print(f"idle connections: {N}")
        print(f"parvis  RSS before {rss(p.pid):7.1f} MiB", end="")
        got, mib = measure(443, p.pid, hello)
        print(f"  with {got}: {mib:7.1f} MiB")
        print(f"haproxy RSS before {rss(h.pid):7.1f} MiB", end="")
        got, mib = measure(444, h.pid, hello)
        print(f"  with {got}: {mib:7.1f} MiB")
    finally:
        for k in kids:
            k.kill()
            k.wait()
        for ns in t.NS.values():
            subprocess.run(["ip", "netns", "del", ns])


main()
