//! The `Forwarder` handle in-process on loopback (no root): a bind failure
//! names the listener and leaves nothing bound; reload keeps server state;
//! snapshots; shutdown drains.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use parvis::forwarder::{Forwarder, ForwarderError};

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn config(a: u16, b: u16, servers: &str) -> parvis::config::Config {
    let text = format!(
        r#"
[[listener]]
name = "first"
bind = "127.0.0.1:{a}"
protocol = "tls"
default_backend = "be"

[[listener]]
name = "second"
bind = "127.0.0.1:{b}"
protocol = "http"
default_backend = "be"

[backend.be]
servers = [{servers}]
health = {{ interval = "100ms", timeout = "100ms", fall = 1, rise = 1 }}
"#
    );
    parvis::config::parse(&text).expect("valid config")
}

#[tokio::test]
async fn bind_failure_names_the_listener_and_leaves_nothing_bound() {
    let (a, taken) = (free_port(), TcpListener::bind("127.0.0.1:0").expect("bind"));
    let b = taken.local_addr().expect("addr").port();
    let err = Forwarder::start(&config(a, b, "\"127.0.0.1:9\""))
        .err()
        .expect("must fail");
    let ForwarderError::Bind { listener, addr, .. } = &err;
    assert_eq!(listener, "second");
    assert_eq!(*addr, SocketAddr::from(([127, 0, 0, 1], b)));
    TcpListener::bind(("127.0.0.1", a)).expect("first listener's port was released");
}

#[tokio::test]
async fn reload_keeps_remaining_servers_and_snapshots_report() {
    let (a, b) = (free_port(), free_port());
    let live = TcpListener::bind("127.0.0.1:0").expect("bind");
    let up = live.local_addr().expect("addr");
    let dead = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let fwd = Forwarder::start(&config(a, b, &format!("\"{up}\", \"{dead}\""))).expect("start");
    assert_eq!(fwd.listeners().len(), 2);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let status = fwd.backends();
    let servers = &status[0].servers;
    assert!(servers[0].up, "{servers:?}");
    assert!(
        !servers[1].up,
        "the refused server is marked down: {servers:?}"
    );
    // Reload: the dead server leaves, the second listener moves to a new port.
    let c = free_port();
    fwd.reload(&config(a, c, &format!("\"{up}\"")))
        .expect("reload");
    let status = fwd.backends();
    assert_eq!(status[0].servers.len(), 1);
    assert!(status[0].servers[0].up);
    let names: Vec<_> = fwd
        .listeners()
        .into_iter()
        .map(|(_, addr)| addr.port())
        .collect();
    assert!(names.contains(&c) && !names.contains(&b), "{names:?}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    TcpListener::bind(("127.0.0.1", b)).expect("removed listener's port released");
    assert!(fwd.connections().is_empty());
    assert_eq!(fwd.stats().active, 0);
    let started = std::time::Instant::now();
    fwd.shutdown(Duration::from_secs(5)).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "nothing to drain"
    );
}

/// Bytes are counted per direction: "in" is client → server, "out" is
/// server → client (before, "in" held both and "out" stayed 0).
#[tokio::test]
async fn server_bytes_are_split_by_direction() {
    use std::io::{Read, Write};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TcpListener::bind("127.0.0.1:0").expect("bind");
    let up = server.local_addr().expect("addr");
    let answer = vec![b'x'; 10_000];
    let body = answer.clone();
    // Every connection with a request head gets the answer (health probes
    // are not relayed, so they count no bytes).
    std::thread::spawn(move || {
        while let Ok((mut s, _)) = server.accept() {
            let body = body.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                if head.ends_with(b"\r\n\r\n") {
                    let _ = s.write_all(&body);
                }
            });
        }
    });
    let (a, b) = (free_port(), free_port());
    let fwd = Forwarder::start(&config(a, b, &format!("\"{up}\""))).expect("start");
    let request = b"GET / HTTP/1.1\r\nHost: app.example.org\r\n\r\n";
    let mut c = tokio::net::TcpStream::connect(("127.0.0.1", b))
        .await
        .expect("connect");
    c.write_all(request).await.expect("send");
    let mut got = Vec::new();
    c.read_to_end(&mut got).await.expect("read");
    assert_eq!(got.len(), answer.len());
    let mut servers = Vec::new();
    for _ in 0..50 {
        servers = fwd.backends()[0].servers.clone();
        if servers[0].bytes_out > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(servers[0].bytes_in, request.len() as u64, "{servers:?}");
    assert_eq!(servers[0].bytes_out, answer.len() as u64, "{servers:?}");
    fwd.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn server_bytes_move_while_the_connection_is_open() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (a, b) = (free_port(), free_port());
    let ingress = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let up = ingress.local_addr().expect("addr");
    let fwd = Forwarder::start(&config(a, b, &format!("\"{up}\""))).expect("start");
    // Health checks connect and close too: serve every connection, answer
    // the one that sends the request, and hold it open.
    let held = tokio::spawn(async move {
        loop {
            let (mut s, _) = ingress.accept().await.expect("accept");
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut seen = 0usize;
                while seen < 1000 {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen += n,
                    }
                }
                s.write_all(b"HTTP/1.1 200 OK\r\n\r\nhello")
                    .await
                    .expect("write");
                let _ = s.read(&mut buf).await;
            });
        }
    });
    let mut client = tokio::net::TcpStream::connect(("127.0.0.1", b))
        .await
        .expect("connect");
    let body = format!("POST / HTTP/1.1\r\nHost: x\r\n\r\n{}", "x".repeat(1000));
    client.write_all(body.as_bytes()).await.expect("send");
    let mut got = [0u8; 64];
    let n = client.read(&mut got).await.expect("answer");
    assert!(n > 0);
    // Before the fix this stayed 0 until the connection closed.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let bytes = loop {
        let s0 = &fwd.backends()[0].servers[0];
        let bytes = s0.bytes_in + s0.bytes_out;
        if bytes >= 1000 || std::time::Instant::now() > deadline {
            break bytes;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(fwd.connections().len(), 1, "the connection is still open");
    assert!(bytes >= 1000, "server bytes while open: {bytes}");
    drop(client);
    held.abort();
}
