//! The connection log's remote collector over TLS (RFC 5425), on loopback
//! with certificates made here: frames reach a collector whose certificate
//! the configured CA signs for `server_name`, none reach one that does not
//! match, and a collector that accepts TCP but never answers the handshake
//! holds up neither `record` nor the log's own ring.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use parvis::forwarder::accounting::Finished;
use parvis::forwarder::log::{ConnLog, Entry, Filter};
use parvis::forwarder::EndReason;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A CA (PEM) and a TLS acceptor for `collector.test` signed by it.
fn certificates() -> (String, tokio_rustls::TlsAcceptor) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["collector.test".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    (ca.pem(), tokio_rustls::TlsAcceptor::from(Arc::new(server)))
}

/// A TLS collector on loopback: every decrypted byte goes to the channel.
async fn collector(acceptor: tokio_rustls::TlsAcceptor) -> (u16, mpsc::UnboundedReceiver<u8>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return; // a client that does not trust us
                };
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = tls.read(&mut buf).await {
                    for b in &buf[..n] {
                        let _ = tx.send(*b);
                    }
                }
            });
        }
    });
    (port, rx)
}

fn config(port: u16, ca: &std::path::Path, name: &str) -> parvis::config::Config {
    let text = format!(
        "[log]\nremote = \"127.0.0.1:{port}\"\ntls = true\nca = \"{}\"\nserver_name = \"{name}\"\n\n\
         [[forward]]\nport = 2222\nto = \"10.0.0.5\"\n",
        ca.display()
    );
    parvis::config::parse(&text).unwrap()
}

fn entry(host: &str, n: u64) -> Entry {
    Entry {
        finished: Finished {
            id: format!("0badcafe-{n:x}"),
            started_ms: 1_764_583_200_000 + n,
            listener: "https".into(),
            client: "198.51.100.7:40000".parse().unwrap(),
            host: Some(host.into()),
            alpn: None,
            route: Some("route[0]".into()),
            backend: Some("ingress".into()),
            server: Some("10.0.0.11:443".parse().unwrap()),
            bytes_in: 517,
            bytes_out: 4096,
            duration_ms: 12,
            ttfb_ms: Some(3),
            end: EndReason::ClientClosed,
        },
        tls: true,
    }
}

/// What the collector received within `wait`, as text.
async fn received(rx: &mut mpsc::UnboundedReceiver<u8>, want: &str, wait: Duration) -> String {
    let until = Instant::now() + wait;
    let mut got = Vec::new();
    while Instant::now() < until && !String::from_utf8_lossy(&got).contains(want) {
        match tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            Ok(Some(b)) => got.push(b),
            Ok(None) => break,
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_reach_a_verified_tls_collector_only() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_pem, acceptor) = certificates();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let (port, mut rx) = collector(acceptor).await;

    let log = ConnLog::start(&config(port, &ca, "collector.test"));
    log.record(entry("tls-collector.example.org", 1));
    let got = received(&mut rx, "end=client_closed", Duration::from_secs(10)).await;
    assert!(
        got.contains(" <134>1 "),
        "an RFC 5424 frame with its octet count: {got:?}"
    );
    assert!(got.contains("sni=tls-collector.example.org"), "{got:?}");
    assert!(got.contains("id=0badcafe-1 "), "{got:?}");

    // The same collector under a name its certificate does not carry:
    // the handshake fails, nothing is sent in the clear.
    let wrong = ConnLog::start(&config(port, &ca, "other.test"));
    wrong.record(entry("wrong-name.example.org", 2));
    let got = received(&mut rx, "wrong-name", Duration::from_secs(3)).await;
    assert!(
        !got.contains("wrong-name"),
        "sent to an unverified collector: {got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_tls_collector_blocks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_pem, _) = certificates();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    // Accepts TCP, never answers the ClientHello, never reads.
    let stalled = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = stalled.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = stalled.accept().await {
            open.push(s);
        }
    });

    let log = ConnLog::start(&config(port, &ca, "collector.test"));
    tokio::time::sleep(Duration::from_millis(300)).await; // the handshake hangs
    let n = 6000_u64; // more than the collector's queue (4096)
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for i in 0..n {
        let t = Instant::now();
        log.record(entry(&format!("h{i}.example.org"), i));
        slowest = slowest.max(t.elapsed());
    }
    let total = started.elapsed();
    println!("{n} records with a stalled collector: {total:?} in all, slowest {slowest:?}");
    // `record` only queues (a single call may still be preempted on a
    // loaded machine, so the bound is on the whole run).
    assert!(total < Duration::from_secs(1), "{total:?}");
    // The writer went on: the newest record is in the ring.
    let last = format!("h{}.example.org", n - 1);
    let filter = Filter {
        host: last.clone(),
        ..Filter::default()
    };
    let until = Instant::now() + Duration::from_secs(5);
    while log.recent(&filter, 10).is_empty() {
        assert!(Instant::now() < until, "{last} never reached the ring");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        log.dropped() > 0,
        "frames beyond the queue are dropped and counted"
    );
    held.abort();
}
