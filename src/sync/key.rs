//! The pair's identity on the sync channel, derived from `ha.key`: an
//! Ed25519 key pair (HKDF-SHA256 of the key → seed → PKCS#8), and one
//! self-signed certificate built deterministically from it, so both nodes
//! hold the same certificate and each pins exactly that one (see
//! [`super::verify`]). Pure (no I/O) apart from [`read_key`].

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use ring::hkdf;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, ServerConfig};

use super::verify::Pinned;
use super::SyncError;
use crate::config::HaKey;

/// HKDF salt: names the purpose, so the same `ha.key` used elsewhere
/// (keepalived's auth, say) never yields this key pair.
const SALT: &[u8] = b"parvis ha sync v1";
/// HKDF info for the Ed25519 seed.
const INFO: &[u8] = b"ed25519 seed";
/// RFC 8410 PKCS#8 v1 prefix of an Ed25519 private key; the 32-byte seed follows.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// The name in the certificate (never checked: the certificate is pinned).
pub const CERT_NAME: &str = "parvis-ha";
/// Shortest key accepted from a key file, as for an inline key.
const KEY_MIN: usize = 16;

/// The pair's TLS identity: the certificate both nodes present and pin,
/// and its private key. `Debug` prints `***`.
#[derive(Clone)]
pub struct Identity {
    cert: CertificateDer<'static>,
    pkcs8: Vec<u8>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl Identity {
    /// Derives the identity from the shared secret. The same secret gives
    /// the same certificate, byte for byte, on both nodes.
    pub fn derive(secret: &str) -> Result<Identity, SyncError> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(secret.as_bytes());
        let mut seed = [0u8; 32];
        prk.expand(&[INFO], Len(32))
            .and_then(|okm| okm.fill(&mut seed))
            .map_err(|_| SyncError::Key("HKDF expansion failed".into()))?;
        let mut pkcs8 = PKCS8_PREFIX.to_vec();
        pkcs8.extend_from_slice(&seed);
        let key_pair = rcgen::KeyPair::try_from(pkcs8.as_slice())
            .map_err(|e| SyncError::Key(format!("Ed25519 key: {e}")))?;
        let mut params = rcgen::CertificateParams::new(vec![CERT_NAME.to_string()])
            .map_err(|e| SyncError::Key(e.to_string()))?;
        // Fixed serial and dates (rcgen's defaults: 1975 to 4096): the
        // certificate must not depend on when or where it is made.
        params.serial_number = Some(rcgen::SerialNumber::from(1u64));
        params.not_before = rcgen::date_time_ymd(1975, 1, 1);
        params.not_after = rcgen::date_time_ymd(4096, 1, 1);
        let cert = params
            .self_signed(&key_pair)
            .map_err(|e| SyncError::Key(e.to_string()))?;
        Ok(Identity {
            cert: cert.der().clone(),
            pkcs8,
        })
    }

    /// The certificate (DER), the one value both sides pin.
    pub fn cert(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.pkcs8.clone()))
    }

    /// The server side: TLS 1.3 only, a client certificate required and
    /// accepted only if it is the pinned one.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, SyncError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let pinned = Arc::new(Pinned::new(self.cert.clone(), provider.clone()));
        let cfg = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls)?
            .with_client_cert_verifier(pinned)
            .with_single_cert(vec![self.cert.clone()], self.key())
            .map_err(tls)?;
        Ok(Arc::new(cfg))
    }

    /// The client side: TLS 1.3 only, presents the certificate, accepts
    /// only a server that presents the pinned one.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, SyncError> {
        self.client_config_pinning(self.cert.clone())
    }

    /// A client presenting this identity and accepting only `server`
    /// (tests: a client that knows the pair's certificate but not its key).
    pub(crate) fn client_config_pinning(
        &self,
        server: CertificateDer<'static>,
    ) -> Result<Arc<ClientConfig>, SyncError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let pinned = Arc::new(Pinned::new(server, provider.clone()));
        let cfg = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls)?
            .dangerous()
            .with_custom_certificate_verifier(pinned)
            .with_client_auth_cert(vec![self.cert.clone()], self.key())
            .map_err(tls)?;
        Ok(Arc::new(cfg))
    }
}

fn tls(e: rustls::Error) -> SyncError {
    SyncError::Key(e.to_string())
}

/// The shared secret of `key`: inline, or the first line of the key file.
pub fn read_key(key: &HaKey) -> Result<String, SyncError> {
    match key {
        HaKey::Inline(secret) => Ok(secret.0.clone()),
        HaKey::File(path) => read_key_file(path),
    }
}

fn read_key_file(path: &Path) -> Result<String, SyncError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SyncError::Key(format!("ha.key_file {}: {e}", path.display())))?;
    let key = text.trim();
    if key.len() < KEY_MIN || key.chars().any(char::is_control) {
        return Err(SyncError::Key(format!(
            "ha.key_file {}: the key must be one line of at least {KEY_MIN} printable characters",
            path.display()
        )));
    }
    Ok(key.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_certificate_other_key_other_certificate() {
        let a = Identity::derive("0123456789abcdef-pair").unwrap();
        let b = Identity::derive("0123456789abcdef-pair").unwrap();
        let c = Identity::derive("0123456789abcdef-other").unwrap();
        assert_eq!(a.cert(), b.cert());
        assert_ne!(a.cert(), c.cert());
        assert_eq!(format!("{a:?}"), "***");
        assert!(a.server_config().is_ok() && a.client_config().is_ok());
    }

    #[test]
    fn key_file_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ha.key");
        std::fs::write(&p, "0123456789abcdef0123\n").unwrap();
        assert_eq!(
            read_key(&HaKey::File(p.clone())).unwrap(),
            "0123456789abcdef0123"
        );
        std::fs::write(&p, "short\n").unwrap();
        let e = read_key(&HaKey::File(p)).unwrap_err().to_string();
        assert!(e.contains("at least 16"), "{e}");
        assert!(!e.contains("short"), "the key must not be shown: {e}");
    }
}
