//! A TLS connection held open through the floating IP, for the HA tests'
//! drain and crash scenarios. Does I/O (a Python client in the client
//! namespace).

use std::process::Command;

use super::Pair;
use parvis::lab::{DEMO_HOSTS, FLOATING_IP};

/// A TLS connection through the floating IP to the SNI forwarder, held
/// open by a Python client in the client namespace: the handshake is done
/// at once (ClientHello routed, the ingress's TLS answered); the HTTP
/// request goes only when [`HeldTls::finish`] is called.
pub struct HeldTls {
    /// The client's local port (to find the connection on a node).
    pub port: u16,
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

const HELD_TLS: &str = r#"
import socket, ssl, sys
host, ip = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection((ip, 443), timeout=10), server_hostname=host)
print("connected", s.getsockname()[1], flush=True)
sys.stdin.readline()
try:
    s.sendall(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    print("answer " + data.decode(errors="replace").replace("\r\n", " | "), flush=True)
except Exception as e:
    print("error " + repr(e), flush=True)
"#;

impl HeldTls {
    /// Connects and completes the TLS handshake; panics if it fails.
    pub fn open(p: &Pair) -> HeldTls {
        use std::io::BufRead;
        let [host, _] = DEMO_HOSTS;
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                p.topo.client().name(),
                "python3",
                "-u",
                "-c",
                HELD_TLS,
            ])
            .args([host, &FLOATING_IP.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read");
        let port = line
            .trim()
            .strip_prefix("connected ")
            .and_then(|p| p.parse().ok());
        let Some(port) = port else {
            panic!("TLS handshake through the floating IP: {line:?}");
        };
        HeldTls { port, child, out }
    }

    /// Sends the request on the held connection; returns what came back
    /// (`answer ...` or `error ...`).
    pub fn finish(mut self) -> String {
        use std::io::{BufRead, Write};
        let mut stdin = self.child.stdin.take().expect("stdin");
        let _ = stdin.write_all(b"go\n");
        drop(stdin);
        let mut line = String::new();
        let _ = self.out.read_line(&mut line);
        let _ = self.child.wait();
        line.trim().to_string()
    }
}

impl Drop for HeldTls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
