//! The channel on loopback: the pair's key gets an answer; a wrong key,
//! no certificate at all, or a wrong server is refused before any request
//! is read or any answer is sent.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::sync::key::Identity;
use crate::sync::wire::NodeState;

const KEY: &str = "0123456789abcdef-the-pair";
const WRONG: &str = "0123456789abcdef-an-intruder";

#[derive(Default)]
struct Counting(AtomicUsize);

impl Handler for Counting {
    async fn handle(&self, _req: Request) -> Response {
        self.0.fetch_add(1, Ordering::SeqCst);
        Response::State(NodeState {
            name: "secret-state".into(),
            ..NodeState::default()
        })
    }
}

async fn server(key: &str) -> (SocketAddr, Arc<Counting>, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = Identity::derive(key).unwrap().server_config().unwrap();
    let handler = Arc::new(Counting::default());
    let token = CancellationToken::new();
    let peer = "127.0.0.1".parse().unwrap();
    tokio::spawn(serve(listener, tls, peer, handler.clone(), token.clone()));
    (addr, handler, token)
}

fn client(addr: SocketAddr, key: &str) -> Client {
    let tls = Identity::derive(key).unwrap().client_config().unwrap();
    Client::new(addr, None, tls)
}

#[tokio::test]
async fn the_pairs_key_gets_an_answer() {
    let (addr, handler, token) = server(KEY).await;
    let out = client(addr, KEY)
        .ask(&Request::List, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        matches!(out, Response::State(ref s) if s.name == "secret-state"),
        "{out:?}"
    );
    assert_eq!(handler.0.load(Ordering::SeqCst), 1);
    token.cancel();
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_learns_nothing() {
    let (addr, handler, token) = server(KEY).await;
    let err = client(addr, WRONG)
        .ask(&Request::List, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SyncError::Handshake(_) | SyncError::Io(_)),
        "{err:?}"
    );
    // A client that knows the pair's (public) certificate but not its key:
    // the server refuses its own certificate.
    let pair = Identity::derive(KEY).unwrap().cert().clone();
    let tls = Identity::derive(WRONG)
        .unwrap()
        .client_config_pinning(pair)
        .unwrap();
    let err = Client::new(addr, None, tls)
        .ask(&Request::List, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::Io(_) | SyncError::Handshake(_) | SyncError::Protocol(_)
        ),
        "{err:?}"
    );
    // A server with the wrong key is refused by a client with the right one.
    let (other, other_handler, other_token) = server(WRONG).await;
    let err = client(other, KEY)
        .ask(&Request::List, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Handshake(_)), "{err:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        handler.0.load(Ordering::SeqCst),
        0,
        "no request was handled"
    );
    assert_eq!(other_handler.0.load(Ordering::SeqCst), 0);
    token.cancel();
    other_token.cancel();
}

#[tokio::test]
async fn no_certificate_or_plain_tcp_gets_nothing() {
    let (addr, handler, token) = server(KEY).await;
    // TLS without a client certificate.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cert = Identity::derive(KEY).unwrap().cert().clone();
    let pinned = Arc::new(crate::sync::verify::Pinned::new(cert, provider.clone()));
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(pinned)
        .with_no_client_auth();
    let anon = Client {
        peer: addr,
        local: None,
        connector: TlsConnector::from(Arc::new(tls)),
    };
    let err = anon
        .ask(&Request::List, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::Io(_) | SyncError::Handshake(_) | SyncError::Protocol(_)
        ),
        "{err:?}"
    );
    // Plain TCP speaking the wire format: the server waits for a TLS
    // ClientHello, rejects it, and sends no state.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    crate::sync::wire::write(&mut tcp, &Request::List)
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), tcp.read_to_end(&mut got)).await;
    assert!(
        !String::from_utf8_lossy(&got).contains("secret-state"),
        "{got:?}"
    );
    let _ = tcp.shutdown().await;
    assert_eq!(handler.0.load(Ordering::SeqCst), 0);
    token.cancel();
}

#[tokio::test]
async fn only_the_peers_address_is_served() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = Identity::derive(KEY).unwrap().server_config().unwrap();
    let handler = Arc::new(Counting::default());
    let token = CancellationToken::new();
    let peer = "10.0.0.3".parse().unwrap();
    tokio::spawn(serve(listener, tls, peer, handler.clone(), token.clone()));
    let out = client(addr, KEY)
        .ask(&Request::List, Duration::from_secs(5))
        .await;
    assert!(out.is_err(), "{out:?}");
    assert_eq!(handler.0.load(Ordering::SeqCst), 0);
    token.cancel();
}
