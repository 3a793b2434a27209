//! The admin port's certificate: the operator's files, or a self-signed
//! pair made at first start and kept in `state_dir` (`admin.crt`,
//! `admin.key`, mode 0600), served through a resolver that a change can
//! swap while the port runs ([`CertSwap`]). Does I/O (reads and writes
//! those files).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

use super::AdminError;

/// Where the admin certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// PEM files given by the operator (`admin.tls_cert`, `admin.tls_key`).
    Files {
        /// Certificate chain, PEM.
        cert: PathBuf,
        /// Private key, PEM.
        key: PathBuf,
    },
    /// Self-signed, made once and kept in `state_dir`.
    SelfSigned,
}

impl TlsSource {
    /// From `Config::admin.tls`.
    pub fn from_config(tls: &Option<(PathBuf, PathBuf)>) -> Self {
        match tls {
            Some((cert, key)) => TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            None => TlsSource::SelfSigned,
        }
    }
}

/// A ready server configuration and what to tell the operator about it.
pub struct TlsReady {
    /// For the acceptor; its certificate comes from `certs`.
    pub config: Arc<rustls::ServerConfig>,
    /// The certificate served, swappable while the port runs.
    pub certs: Arc<CertSwap>,
    /// SHA-256 of the leaf certificate (DER), `AB:CD:...`.
    pub fingerprint: String,
    /// The certificate file in use.
    pub cert_path: PathBuf,
    /// True when this start made a new self-signed certificate.
    pub generated: bool,
}

/// A certificate and key read from their files, checked to match.
pub struct Loaded {
    key: Arc<CertifiedKey>,
    /// SHA-256 of the leaf certificate, `AB:CD:...`.
    pub fingerprint: String,
    /// The certificate file.
    pub cert_path: PathBuf,
    /// True when this load made a new self-signed certificate.
    pub generated: bool,
}

/// The admin port's certificate resolver: every new handshake takes the
/// certificate stored last ([`CertSwap::store`]); open connections keep
/// theirs.
#[derive(Debug)]
pub struct CertSwap {
    current: ArcSwap<CertifiedKey>,
    fingerprint: ArcSwap<String>,
}

impl CertSwap {
    /// Serves `loaded` from now on.
    pub fn store(&self, loaded: Loaded) {
        self.current.store(loaded.key);
        self.fingerprint.store(Arc::new(loaded.fingerprint));
    }

    /// SHA-256 of the certificate served now, `AB:CD:...`.
    pub fn fingerprint(&self) -> String {
        self.fingerprint.load().to_string()
    }
}

impl ResolvesServerCert for CertSwap {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads (or, self-signed, makes once) the certificate and key of `source`
/// and checks that they belong together.
pub fn load(source: &TlsSource, state_dir: &Path) -> Result<Loaded, AdminError> {
    let (cert_path, key_path, generated) = match source {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone(), false),
        TlsSource::SelfSigned => {
            let cert = state_dir.join("admin.crt");
            let key = state_dir.join("admin.key");
            let generated = if cert.exists() && key.exists() {
                false
            } else {
                generate(&cert, &key, state_dir)?;
                true
            };
            (cert, key, generated)
        }
    };
    let certs = read_certs(&cert_path)?;
    let key = read_key(&key_path)?;
    let fingerprint = certs
        .first()
        .map(|c| fingerprint(c.as_ref()))
        .unwrap_or_default();
    let key = CertifiedKey::from_der(certs, key, &provider()).map_err(|e| AdminError::Tls {
        path: cert_path.clone(),
        message: format!("{e} (with the key {})", key_path.display()),
    })?;
    Ok(Loaded {
        key: Arc::new(key),
        fingerprint,
        cert_path,
        generated,
    })
}

/// Loads (or makes) the certificate and builds the rustls configuration.
pub fn prepare(source: &TlsSource, state_dir: &Path) -> Result<TlsReady, AdminError> {
    let loaded = load(source, state_dir)?;
    let (fingerprint, cert_path, generated) = (
        loaded.fingerprint.clone(),
        loaded.cert_path.clone(),
        loaded.generated,
    );
    let certs = Arc::new(CertSwap {
        current: ArcSwap::new(loaded.key),
        fingerprint: ArcSwap::from_pointee(loaded.fingerprint),
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| AdminError::Tls {
            path: cert_path.clone(),
            message: e.to_string(),
        })?
        .with_no_client_auth()
        .with_cert_resolver(certs.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsReady {
        config: Arc::new(config),
        certs,
        fingerprint,
        cert_path,
        generated,
    })
}

/// `AB:CD:...`: SHA-256 of DER bytes, the form browsers show.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

fn generate(cert_path: &Path, key_path: &Path, state_dir: &Path) -> Result<(), AdminError> {
    std::fs::create_dir_all(state_dir).map_err(|e| AdminError::Io {
        path: state_dir.to_path_buf(),
        source: e,
    })?;
    let host = hostname();
    let names = vec![host, "parvis".to_string(), "localhost".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| AdminError::Tls {
        path: cert_path.to_path_buf(),
        message: format!("cannot make a self-signed certificate: {e}"),
    })?;
    write_private(key_path, certified.key_pair.serialize_pem().as_bytes())?;
    write_private(cert_path, certified.cert.pem().as_bytes())?;
    Ok(())
}

/// Writes a file with mode 0600 through a temporary name, then renames it.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AdminError> {
    crate::api::tokens::write_private(path, bytes).map_err(|source| AdminError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "parvis-admin".to_string())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, AdminError> {
    let pem = std::fs::read(path).map_err(|e| AdminError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut pem.as_slice()).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(c),
        Ok(_) => Err(tls_err(path, "no certificate in the file")),
        Err(e) => Err(tls_err(path, &e.to_string())),
    }
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, AdminError> {
    let pem = std::fs::read(path).map_err(|e| AdminError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    match rustls_pemfile::private_key(&mut pem.as_slice()) {
        Ok(Some(k)) => Ok(k),
        Ok(None) => Err(tls_err(path, "no private key in the file")),
        Err(e) => Err(tls_err(path, &e.to_string())),
    }
}

fn tls_err(path: &Path, message: &str) -> AdminError {
    AdminError::Tls {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn self_signed_is_made_once_with_a_private_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = prepare(&TlsSource::SelfSigned, dir.path()).unwrap();
        assert!(first.generated);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        let mode = std::fs::metadata(dir.path().join("admin.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = prepare(&TlsSource::SelfSigned, dir.path()).unwrap();
        assert!(!second.generated);
        assert_eq!(first.fingerprint, second.fingerprint);
    }

    #[test]
    fn missing_files_name_the_path() {
        let src = TlsSource::Files {
            cert: "/nonexistent/c.pem".into(),
            key: "/nonexistent/k.pem".into(),
        };
        let err = prepare(&src, Path::new("/tmp")).err().unwrap().to_string();
        assert!(err.contains("/nonexistent/c.pem"), "{err}");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_and_a_swap_changes_what_is_served() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let first = prepare(&TlsSource::SelfSigned, a.path()).unwrap();
        let other = load(&TlsSource::SelfSigned, b.path()).unwrap();
        let mixed = TlsSource::Files {
            cert: a.path().join("admin.crt"),
            key: b.path().join("admin.key"),
        };
        let err = load(&mixed, a.path()).err().unwrap().to_string();
        assert!(
            err.contains("admin.crt") && err.contains("with the key"),
            "{err}"
        );
        assert_eq!(first.certs.fingerprint(), first.fingerprint);
        let fp = other.fingerprint.clone();
        assert_ne!(fp, first.fingerprint);
        first.certs.store(other);
        assert_eq!(first.certs.fingerprint(), fp);
    }
}
