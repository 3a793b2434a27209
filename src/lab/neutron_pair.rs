//! The pair's config in the "neutron" failover mode (`parvis lab --ha
//! --neutron`): the Keystone/Neutron stand-in runs in the router's
//! namespace and the floating IP's NAT targets a node's own public address
//! (never the VIP), so only an API call moves the traffic. The config text
//! is pure; writing the secret file does I/O.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::neutron::{self, StandIn};
use super::pair::config_bound;
use super::LabError;

/// The secret file's name in the lab's folder (mode 0600).
pub const SECRET_FILE: &str = "app-cred.secret";

/// The pair's config in the "neutron" mode: `mode = "neutron"`, an
/// `[ha.neutron]` section naming the stand-in, and listeners on every
/// address (traffic arrives at the node's own address, not the VIP).
/// `secret_file`: the credential's secret in a file rather than inline.
pub fn neutron_config(state_dir: &Path, advert: Duration, secret_file: Option<&Path>) -> String {
    let text = config_bound(state_dir, advert, Ipv4Addr::UNSPECIFIED).replacen(
        "\n[[ha.node]]",
        "mode = \"neutron\"\n\n[[ha.node]]",
        1,
    );
    let secret = match secret_file {
        Some(p) => format!("application_credential_secret_file = \"{}\"", p.display()),
        None => format!(
            "application_credential_secret = \"{}\"",
            neutron::CREDENTIAL_SECRET
        ),
    };
    let ports: String = neutron::ports()
        .iter()
        .map(|(n, p)| format!("{n} = \"{p}\"\n"))
        .collect();
    format!(
        "{text}\n[ha.neutron]\nauth_url = \"{auth}\"\napplication_credential_id = \"{id}\"\n{secret}\n\
         floating_ip = \"{fip}\"\ncheck = \"2s\"\ntimeout = \"5s\"\n\n[ha.neutron.ports]\n{ports}",
        auth = StandIn::auth_url(),
        id = neutron::CREDENTIAL_ID,
        fip = neutron::FIP_ID,
    )
}

/// Writes the stand-in's secret to `dir/SECRET_FILE`, mode 0600.
pub fn write_secret(dir: &Path) -> Result<PathBuf, LabError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(SECRET_FILE);
    let io = |e: std::io::Error| LabError::NotReady {
        command: format!("write {}", path.display()),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let _ = std::fs::remove_file(&path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io)?;
    writeln!(f, "{}", neutron::CREDENTIAL_SECRET).map_err(io)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_neutron_lab_config_is_valid_and_binds_every_address() {
        let text = neutron_config(Path::new("/var/lib/parvis"), Duration::from_secs(1), None);
        let cfg = crate::config::parse(&text).expect("valid");
        let ha = cfg.ha.expect("[ha]");
        assert_eq!(ha.mode, crate::config::HaMode::Neutron);
        let n = ha.neutron.expect("[ha.neutron]");
        assert_eq!(n.ports.len(), 2);
        assert!(cfg.listeners.iter().all(|l| l.bind.ip().is_unspecified()));
        assert!(!format!("{n:?}").contains(neutron::CREDENTIAL_SECRET));
        let file = neutron_config(
            Path::new("/x"),
            Duration::from_secs(1),
            Some(Path::new("/etc/s")),
        );
        assert!(!file.contains(neutron::CREDENTIAL_SECRET), "{file}");
    }
}
