//! HTTPS for the lab's Keystone/Neutron stand-in: a lab CA made on the
//! spot and a server certificate it signs for the router's public address,
//! so the "neutron" mode's TLS path (`ca_file`, certificate errors) runs
//! against a real TLS endpoint. Pure (key generation in memory).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::{LabError, ROUTER_PUBLIC};

/// A lab CA and the stand-in's TLS configuration.
#[derive(Clone)]
pub struct LabTls {
    /// The CA's certificate (PEM): what `ha.neutron.ca_file` must hold.
    pub ca_pem: String,
    /// The server side: a certificate for [`ROUTER_PUBLIC`] signed by the CA.
    pub server: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for LabTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabTls").finish_non_exhaustive()
    }
}

fn failed(e: impl std::fmt::Display) -> LabError {
    LabError::NotReady {
        command: "the stand-in's lab CA".into(),
        reason: e.to_string(),
    }
}

/// A CA named `name` (each call makes a new key: two calls give two CAs
/// that do not trust each other) and a server certificate it signs.
pub fn lab_tls(name: &str) -> Result<LabTls, LabError> {
    let ca_key = KeyPair::generate().map_err(failed)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(failed)?;
    let key = KeyPair::generate().map_err(failed)?;
    let mut leaf = CertificateParams::new(vec![ROUTER_PUBLIC.to_string()]).map_err(failed)?;
    leaf.distinguished_name
        .push(DnType::CommonName, ROUTER_PUBLIC.to_string());
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).map_err(failed)?;
    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone(), ca_cert.der().clone()];
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(failed)?
        .with_no_client_auth()
        .with_single_cert(chain, der)
        .map_err(failed)?;
    Ok(LabTls {
        ca_pem: ca_cert.pem(),
        server: Arc::new(server),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_lab_cas_differ_and_are_pem() {
        let (a, b) = (lab_tls("a").expect("a"), lab_tls("b").expect("b"));
        assert!(a.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_ne!(a.ca_pem, b.ca_pem);
    }
}
