//! The bench's probe of new TLS connections through the floating IP: a
//! real TLS client (rustls) in the client namespace sends `GET /` with the
//! demo host's SNI and counts an answer naming an ingress as a success.
//! In-process threads rather than a curl per attempt: twenty process
//! launches a second loaded the 2-core machine enough to delay the
//! nodes' own health loops. Does I/O.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parvis::lab::{DEMO_HOSTS, FLOATING_IP};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, Error, SignatureScheme};

/// Accepts any certificate (the demo ingresses' are self-signed); still
/// checks the handshake signatures.
#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The client config of every probe.
pub fn config() -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    Arc::new(cfg)
}

/// One new TLS request through the floating IP, 0.5 s per step at most.
/// Call it from a thread inside the client namespace.
pub fn probe(cfg: &Arc<ClientConfig>) -> bool {
    let limit = Duration::from_millis(500);
    let [host, _] = DEMO_HOSTS;
    let Ok(tcp) = TcpStream::connect_timeout(&(FLOATING_IP, 443).into(), limit) else {
        return false;
    };
    let _ = tcp.set_read_timeout(Some(limit));
    let _ = tcp.set_write_timeout(Some(limit));
    let Ok(name) = ServerName::try_from(host) else {
        return false;
    };
    let Ok(conn) = rustls::ClientConnection::new(cfg.clone(), name) else {
        return false;
    };
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if tls.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut body = Vec::new();
    let _ = tls.read_to_end(&mut body);
    String::from_utf8_lossy(&body).contains("ingress=")
}

/// Moves the calling thread into namespace `ns` (threads it starts
/// afterwards are in it too).
pub fn enter(ns: &str) -> Result<(), String> {
    let f = std::fs::File::open(format!("/run/netns/{ns}")).map_err(|e| e.to_string())?;
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| e.to_string())
}

/// New-connection prober: a [`probe`] starts every `every` in namespace
/// `ns`, each in its own thread (so one that waits for its timeout does not
/// delay the next); records each attempt's start and whether it succeeded.
/// Stops when dropped.
pub struct Prober {
    /// (start, success) of every attempt that ended, in the order they ended.
    pub tries: Arc<Mutex<Vec<(Instant, bool)>>>,
    stop: Arc<AtomicBool>,
}

impl Prober {
    /// Starts probing from namespace `ns`.
    pub fn start(ns: &str, every: Duration) -> Prober {
        let tries = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (o, s) = (tries.clone(), stop.clone());
        let ns = ns.to_string();
        std::thread::spawn(move || {
            enter(&ns).expect("client namespace");
            let cfg = config();
            while !s.load(Ordering::SeqCst) {
                let (o, cfg) = (o.clone(), cfg.clone());
                std::thread::spawn(move || {
                    let t = Instant::now();
                    let ok = probe(&cfg);
                    o.lock().unwrap_or_else(|e| e.into_inner()).push((t, ok));
                });
                std::thread::sleep(every);
            }
        });
        Prober { tries, stop }
    }

    /// The attempts so far, sorted by start.
    pub fn sorted(&self) -> Vec<(Instant, bool)> {
        let mut tries = self.tries.lock().unwrap_or_else(|e| e.into_inner()).clone();
        tries.sort_by_key(|t| t.0);
        tries
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
