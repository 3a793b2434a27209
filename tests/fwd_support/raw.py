"""Sends raw bytes and reports how the connection ended.

usage: raw.py HOST PORT HEX  ->  prints "eof SECONDS NBYTES" or "reset SECONDS"."""
import socket, sys, time

sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)
sock.settimeout(15)
start = time.monotonic()
if sys.argv[3]:
    sock.sendall(bytes.fromhex(sys.argv[3]))
got = 0
try:
    while True:
        data = sock.recv(65536)
        if not data:
            break
        got += len(data)
    print("eof %.2f %d" % (time.monotonic() - start, got))
except ConnectionResetError:
    print("reset %.2f" % (time.monotonic() - start))
