//! What an export of a config holds besides plain settings: the secrets
//! written inline in its text ([`Config::inline_secrets`]) and the files it
//! only names ([`Config::named_files`]), which a new VM needs copied
//! because they are not in the text. Pure.

use std::path::PathBuf;

use super::{Config, CredentialSecret, HaKey};

impl Config {
    /// The keys whose secret value is written in the text itself (an
    /// export holds them): `ha.key`, `ha.neutron.application_credential_secret`.
    pub fn inline_secrets(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if let Some(ha) = &self.ha {
            if matches!(ha.key, HaKey::Inline(_)) {
                out.push("ha.key");
            }
            let inline =
                |n: &super::HaNeutron| matches!(n.credential_secret, CredentialSecret::Inline(_));
            if ha.neutron.as_ref().is_some_and(inline) {
                out.push("ha.neutron.application_credential_secret");
            }
        }
        out
    }

    /// The files the config names, with their keys: not in its text, so a
    /// VM rebuilt from an export needs them copied (or the key changed).
    pub fn named_files(&self) -> Vec<(&'static str, PathBuf)> {
        let mut out = Vec::new();
        if let Some((cert, key)) = &self.admin.tls {
            out.push(("admin.tls_cert", cert.clone()));
            out.push(("admin.tls_key", key.clone()));
        }
        if let Some(f) = &self.limits.block_file {
            out.push(("limits.block_file", f.path.clone()));
        }
        if let Some(tls) = self.log.remote.as_ref().and_then(|r| r.tls.as_ref()) {
            out.push(("log.ca", tls.ca.clone()));
        }
        if let Some(ha) = &self.ha {
            if let HaKey::File(p) = &ha.key {
                out.push(("ha.key_file", p.clone()));
            }
            if let Some(n) = &ha.neutron {
                if let CredentialSecret::File(p) = &n.credential_secret {
                    out.push(("ha.neutron.application_credential_secret_file", p.clone()));
                }
                if let Some(ca) = &n.ca_file {
                    out.push(("ha.neutron.ca_file", ca.clone()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_and_files_are_named_by_their_keys() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/config/valid/ha-pair.toml"
        ))
        .unwrap_or_default();
        let cfg = crate::config::parse(&text).expect("valid fixture");
        assert_eq!(cfg.inline_secrets(), ["ha.key"]);
        assert!(cfg.named_files().is_empty(), "{:?}", cfg.named_files());
        let plain = "[[forward]]\nproto = \"tcp\"\nport = 2222\nto = \"10.0.0.20:22\"\n";
        let cfg = crate::config::parse(plain).expect("valid");
        assert!(cfg.inline_secrets().is_empty());
    }
}
