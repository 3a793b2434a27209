"""A TLS client that sends its ClientHello the hard way, then completes the
handshake and prints the HTTP answer.

usage: tls_client.py HOST PORT SNI MODE [PREFIX_HEX]
MODE: whole | bytes (one byte per TCP segment) | records:N (ClientHello
re-split into TLS records of N bytes) | big (ALPN list > 1500 bytes).
PREFIX_HEX: bytes sent first (a PROXY header)."""
import socket, ssl, sys, time

host, port, sni, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
prefix = bytes.fromhex(sys.argv[5]) if len(sys.argv) > 5 else b""

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if mode == "big":
    ctx.set_alpn_protocols(["http/1.1"] + ["p%03d-%s" % (i, "x" * 60) for i in range(40)])
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(incoming, outgoing, server_hostname=sni or None)
try:
    tls.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = outgoing.read()
if mode == "big":
    assert len(hello) > 1500, len(hello)

sock = socket.create_connection((host, port), 5)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
if prefix:
    sock.sendall(prefix)
if mode == "bytes":
    for b in hello:
        sock.send(bytes([b]))
        time.sleep(0.001)
elif mode.startswith("records:"):
    n = int(mode.split(":")[1])
    body = hello[5:]
    out = b""
    for i in range(0, len(body), n):
        part = body[i:i + n]
        out += bytes([22, 3, 1]) + len(part).to_bytes(2, "big") + part
    sock.sendall(out)
else:
    sock.sendall(hello)

def pump():
    data = sock.recv(65536)
    if not data:
        raise SystemExit("closed by peer during handshake")
    incoming.write(data)

while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        out = outgoing.read()
        if out:
            sock.sendall(out)
        pump()
sock.sendall(outgoing.read())
tls.write(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (sni or "x").encode())
sock.sendall(outgoing.read())
answer = b""
while True:
    try:
        chunk = tls.read(65536)
        if not chunk:
            break
        answer += chunk
    except ssl.SSLWantReadError:
        data = sock.recv(65536)
        if not data:
            break
        incoming.write(data)
    except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
        break
print(answer.decode(errors="replace").split("\r\n\r\n", 1)[-1].strip())
