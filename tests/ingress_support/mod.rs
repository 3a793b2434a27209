//! Helpers shared by the last-hop tests: a host that forges PROXY headers,
//! TLS requests after a header, and waiting for access-log lines.
//!
//! Does I/O: python3 clients inside namespaces, log files.
#![allow(dead_code)] // each test binary uses its own subset

use std::net::{Ipv4Addr, SocketAddr};

use parvis::lab::receiver::Receiver;
use parvis::lab::Ns;
use ppp::v2::{Builder, Command as PpCommand, Protocol, Version};

use crate::e2e_support::{eventually, run_with_input};

/// Another host on the Kubernetes network: a pod that should not be able to
/// claim a client address.
pub const INTRUDER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 50);
/// The address the intruder claims to be relaying for.
pub const CLAIM: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 66);

/// A PROXY `ver` header claiming [`CLAIM`]`:40000` towards `to`.
pub fn forged_header(ver: &str, to: SocketAddr) -> Vec<u8> {
    let from: SocketAddr = (CLAIM, 40000).into();
    if ver == "v1" {
        return format!("PROXY TCP4 {CLAIM} {} 40000 {}\r\n", to.ip(), to.port()).into_bytes();
    }
    Builder::with_addresses(
        Version::Two | PpCommand::Proxy,
        Protocol::Stream,
        (from, to),
    )
    .write_tlv(0x02, b"forged.example.org")
    .and_then(Builder::build)
    .expect("v2 header")
}

/// The access-log line holding `needle`, waiting up to 5 s for it.
pub fn log_line(server: &Receiver, needle: &str) -> String {
    let mut found = None;
    let seen = eventually(5, || {
        found = server
            .access_log()
            .lines()
            .find(|l| l.contains(needle))
            .map(str::to_owned);
        found.is_some()
    });
    assert!(
        seen,
        "{}: no access-log line with {needle:?} in {}:\n{}\nerrors:\n{}",
        server.kind().program(),
        server.dir().display(),
        server.access_log(),
        server.error_log()
    );
    found.unwrap_or_default()
}

/// From `ns`: connect to `addr`, send `header`, then TLS with `sni` and one
/// GET; returns the whole answer, or `ERROR: ...` if the server refused.
pub fn tls_get(ns: &Ns, addr: SocketAddr, header: &[u8], sni: &str) -> String {
    let script = format!(
        "import socket, ssl, sys\n\
         try:\n\
         \x20   s = socket.create_connection(('{ip}', {port}), timeout=5)\n\
         \x20   s.sendall(sys.stdin.buffer.read())\n\
         \x20   ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
         \x20   t = ctx.wrap_socket(s, server_hostname='{sni}')\n\
         \x20   t.sendall(b'GET / HTTP/1.1\\r\\nHost: {sni}\\r\\nConnection: close\\r\\n\\r\\n')\n\
         \x20   data = b''\n\
         \x20   while True:\n\
         \x20       chunk = t.recv(4096)\n\
         \x20       if not chunk: break\n\
         \x20       data += chunk\n\
         \x20   sys.stdout.write(data.decode())\n\
         except Exception as e:\n\
         \x20   sys.stdout.write('ERROR: %r' % e)\n",
        ip = addr.ip(),
        port = addr.port(),
    );
    run_with_input(ns, &["/usr/bin/python3", "-c", &script], header)
}
