//! `[ha] mode` and `[ha.neutron]`: the failover mode where the new master
//! asks Neutron to point the floating IP at its own port. Typing and the
//! checks that only concern the section. Pure.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::checker::Checker;
use super::types::Secret;

/// Default timeout of one API call.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Default period of the check of where the floating IP points.
const CHECK: Duration = Duration::from_secs(10);

/// How the floating IP follows the VRRP master.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HaMode {
    /// The floating IP points at the public VIP; gratuitous ARP moves it.
    #[default]
    Vrrp,
    /// The new master re-associates the floating IP with its own port
    /// through the Neutron API.
    Neutron,
}

/// The application credential's secret: inline, or a file (0600) read when
/// the daemon starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum CredentialSecret {
    /// `application_credential_secret = "..."`
    #[serde(serialize_with = "redacted")]
    Inline(Secret),
    /// `application_credential_secret_file = "/path"`
    File(PathBuf),
}

fn redacted<S: serde::Serializer>(_: &Secret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("***")
}

/// `[ha.neutron]`, typed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HaNeutron {
    /// Keystone v3, e.g. `https://keystone.example:5000/v3`.
    pub auth_url: String,
    /// Neutron's endpoint; `None`: the token's catalog (`network`).
    pub network_url: Option<String>,
    /// The region whose `network` endpoint the catalog gives.
    pub region: Option<String>,
    /// The application credential's id.
    pub credential_id: String,
    /// The application credential's secret.
    pub credential_secret: CredentialSecret,
    /// The floating IP's id.
    pub floating_ip: String,
    /// Each node's public port id, by node name.
    pub ports: BTreeMap<String, String>,
    /// PEM file of the CAs that sign the API's certificates; `None`: the
    /// system's bundle.
    pub ca_file: Option<PathBuf>,
    /// Timeout of one API call.
    pub timeout: Duration,
    /// How often each node asks Neutron where the floating IP points.
    pub check: Duration,
}

/// `[ha.neutron]` as written.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileHaNeutron {
    /// Keystone v3 URL.
    pub auth_url: Option<String>,
    /// Neutron's endpoint (else from the catalog).
    pub network_url: Option<String>,
    /// Region in the catalog.
    pub region: Option<String>,
    /// Application credential id.
    pub application_credential_id: Option<String>,
    /// Application credential secret, inline.
    pub application_credential_secret: Option<String>,
    /// Application credential secret, from this file (0600).
    pub application_credential_secret_file: Option<String>,
    /// The floating IP's id.
    pub floating_ip: Option<String>,
    /// Node name → its public port's id.
    #[serde(default)]
    pub ports: BTreeMap<String, String>,
    /// PEM CA bundle for the API's TLS.
    pub ca_file: Option<String>,
    /// Timeout of one call.
    pub timeout: Option<String>,
    /// Period of the floating IP check.
    pub check: Option<String>,
}

/// Types `mode` and `[ha.neutron]` against the names of the typed nodes.
pub(crate) fn neutron(
    c: &mut Checker,
    mode: Option<&str>,
    file: Option<&FileHaNeutron>,
    nodes: Option<[&str; 2]>,
) -> Option<(HaMode, Option<HaNeutron>)> {
    let mode = match mode {
        None | Some("vrrp") => HaMode::Vrrp,
        Some("neutron") => HaMode::Neutron,
        Some(other) => {
            c.err(
                "ha.mode",
                format!("{other:?} is not a mode: \"vrrp\" or \"neutron\""),
            );
            return None;
        }
    };
    match (mode, file) {
        (HaMode::Vrrp, None) => Some((mode, None)),
        (HaMode::Vrrp, Some(_)) => {
            c.err(
                "ha.neutron",
                "is only used with ha.mode = \"neutron\": set the mode or remove the section",
            );
            None
        }
        (HaMode::Neutron, None) => {
            c.err(
                "ha.neutron",
                "is required with ha.mode = \"neutron\": auth_url, application_credential_id and _secret, floating_ip, ports",
            );
            None
        }
        (HaMode::Neutron, Some(f)) => section(c, f, nodes).map(|n| (mode, Some(n))),
    }
}

fn section(c: &mut Checker, f: &FileHaNeutron, nodes: Option<[&str; 2]>) -> Option<HaNeutron> {
    let auth_url = url(c, "ha.neutron.auth_url", f.auth_url.as_deref(), true);
    let network_url = match &f.network_url {
        None => Some(None),
        Some(u) => url(c, "ha.neutron.network_url", Some(u), false).map(Some),
    };
    let credential_id = id(
        c,
        "ha.neutron.application_credential_id",
        f.application_credential_id.as_deref(),
    );
    let credential_secret = secret(c, f);
    let floating_ip = id(c, "ha.neutron.floating_ip", f.floating_ip.as_deref());
    let ports = ports(c, &f.ports, nodes);
    let ca_file = match &f.ca_file {
        None => Some(None),
        Some(p) => absolute(c, "ha.neutron.ca_file", p).map(Some),
    };
    let timeout = bounded(c, "ha.neutron.timeout", f.timeout.as_ref(), TIMEOUT);
    let check = bounded(c, "ha.neutron.check", f.check.as_ref(), CHECK);
    Some(HaNeutron {
        auth_url: auth_url?,
        network_url: network_url?,
        region: f.region.clone(),
        credential_id: credential_id?,
        credential_secret: credential_secret?,
        floating_ip: floating_ip?,
        ports: ports?,
        ca_file: ca_file?,
        timeout: timeout?,
        check: check?,
    })
}

fn url(c: &mut Checker, path: &str, v: Option<&str>, required: bool) -> Option<String> {
    let Some(v) = v else {
        if required {
            c.err(
                path,
                "is required: Keystone's v3 URL, e.g. \"https://keystone.example:5000/v3\"",
            );
        }
        return None;
    };
    let ok = match crate::ha::neutron_http::Url::parse(v) {
        Ok(_) => true,
        Err(e) => {
            c.err(path, e.to_string());
            false
        }
    };
    ok.then(|| v.trim_end_matches('/').to_string())
}

fn id(c: &mut Checker, path: &str, v: Option<&str>) -> Option<String> {
    let Some(v) = v else {
        c.err(
            path,
            "is required (an OpenStack id, as `openstack ... show` prints it)",
        );
        return None;
    };
    let ok =
        !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !ok {
        c.err(
            path,
            format!("{v:?} is not an OpenStack id (1-64 letters, digits or '-')"),
        );
        return None;
    }
    Some(v.to_string())
}

fn secret(c: &mut Checker, f: &FileHaNeutron) -> Option<CredentialSecret> {
    let path = "ha.neutron.application_credential_secret";
    match (
        &f.application_credential_secret,
        &f.application_credential_secret_file,
    ) {
        (Some(_), Some(_)) => {
            c.err(path, "give either application_credential_secret or application_credential_secret_file, not both");
            None
        }
        (None, None) => {
            c.err(path, "is required (or application_credential_secret_file naming a 0600 file that holds it)");
            None
        }
        (Some(s), None) => {
            if let Some(why) = super::types::redacted_problem(s) {
                c.err(path, why);
                return None;
            }
            if s.trim().is_empty() || s.chars().any(char::is_control) {
                c.err(path, "must be printable characters (the secret `openstack application credential create` printed)");
                return None;
            }
            Some(CredentialSecret::Inline(Secret(s.trim().to_string())))
        }
        (None, Some(p)) => absolute(c, &format!("{path}_file"), p).map(CredentialSecret::File),
    }
}

fn absolute(c: &mut Checker, path: &str, v: &str) -> Option<PathBuf> {
    let p = PathBuf::from(v);
    if !p.is_absolute() {
        c.err(path, format!("{v:?} must be an absolute path"));
        return None;
    }
    Some(p)
}

fn ports(
    c: &mut Checker,
    ports: &BTreeMap<String, String>,
    nodes: Option<[&str; 2]>,
) -> Option<BTreeMap<String, String>> {
    let nodes = nodes?;
    let mut ok = true;
    for n in nodes {
        if !ports.contains_key(n) {
            c.err(
                "ha.neutron.ports",
                format!(
                    "has no port for node {:?}: give `{} = \"<its public port id>\"`",
                    n, n
                ),
            );
            ok = false;
        }
    }
    for (name, port) in ports {
        let at = format!("ha.neutron.ports.{name}");
        if !nodes.contains(&name.as_str()) {
            c.err(&at, format!("{name:?} is not the name of an [[ha.node]]"));
            ok = false;
        } else if id(c, &at, Some(port)).is_none() {
            ok = false;
        }
    }
    if ok
        && ports
            .values()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            != ports.len()
    {
        c.err(
            "ha.neutron.ports",
            "both nodes name the same port: each node has its own public port",
        );
        ok = false;
    }
    ok.then(|| ports.clone())
}

fn bounded(c: &mut Checker, path: &str, v: Option<&String>, default: Duration) -> Option<Duration> {
    let Some(v) = v else {
        return Some(default);
    };
    let d = super::types::parse_duration(v)
        .map_err(|e| c.err(path, e))
        .ok()?;
    if d < Duration::from_millis(100) || d > Duration::from_secs(3600) {
        c.err(path, format!("{v:?} is out of range: 100ms-1h"));
        return None;
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    const PAIR: &str = "[appliance]\nname = \"e\"\n[admin]\nlisten = \"0.0.0.0:8443\"\nallow = [\"198.51.100.0/24\"]\n[[forward]]\nproto = \"tcp\"\nport = 2222\nto = \"10.0.0.20:22\"\n\
        [ha]\nvrid = 51\nvip_public = \"192.168.10.4/24\"\nvip_internal = \"10.0.0.1/24\"\n\
        key = \"0123456789abcdef0123456789abcdef\"\nMODE\n\
        [[ha.node]]\nname = \"a\"\naddress = \"10.0.0.2\"\npriority = 200\n\
        [[ha.node]]\nname = \"b\"\naddress = \"10.0.0.3\"\npriority = 100\n";
    const NEUTRON: &str = "[ha.neutron]\nauth_url = \"https://keystone.example:5000/v3/\"\n\
        application_credential_id = \"0c2f5d1e\"\napplication_credential_secret = \"s3cret\"\n\
        floating_ip = \"5b7e0d6a-4c1f\"\nports = { a = \"port-a\", b = \"port-b\" }\n";

    fn problems(mode: &str, section: &str) -> String {
        let text = format!("{}{section}", PAIR.replace("MODE", mode));
        match crate::config::parse(&text) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_neutron_mode_is_typed() {
        let text = format!("{}{NEUTRON}", PAIR.replace("MODE", "mode = \"neutron\""));
        let ha = crate::config::parse(&text)
            .expect("valid")
            .ha
            .expect("[ha]");
        assert_eq!(ha.mode, super::HaMode::Neutron);
        let n = ha.neutron.expect("section");
        assert_eq!(n.auth_url, "https://keystone.example:5000/v3");
        assert_eq!(n.ports.get("b").map(String::as_str), Some("port-b"));
        assert_eq!(n.check, super::CHECK);
        assert!(!format!("{n:?}").contains("s3cret"));
        let vrrp = crate::config::parse(&PAIR.replace("MODE", "")).expect("valid");
        assert_eq!(vrrp.ha.expect("[ha]").mode, super::HaMode::Vrrp);
    }

    #[test]
    fn mistakes_name_the_key() {
        let e = problems("mode = \"carp\"", "");
        assert!(
            e.contains("ha.mode") && e.contains("\"vrrp\" or \"neutron\""),
            "{e}"
        );
        let e = problems("mode = \"neutron\"", "");
        assert!(e.contains("ha.neutron") && e.contains("is required"), "{e}");
        let e = problems("", NEUTRON);
        assert!(e.contains("ha.neutron") && e.contains("only used"), "{e}");
        let n = "mode = \"neutron\"";
        let e = problems(n, &NEUTRON.replace("b = \"port-b\"", "c = \"port-c\""));
        assert!(
            e.contains("no port for node \"b\"") && e.contains("\"c\" is not the name"),
            "{e}"
        );
        let e = problems(n, &NEUTRON.replace("port-b", "port-a"));
        assert!(e.contains("the same port"), "{e}");
        let e = problems(
            n,
            &NEUTRON.replace("https://keystone.example:5000/v3/", "keystone:5000"),
        );
        assert!(
            e.contains("ha.neutron.auth_url") && e.contains("https://"),
            "{e}"
        );
        let e = problems(
            n,
            &format!("{NEUTRON}application_credential_secret_file = \"/etc/x\"\n"),
        );
        assert!(e.contains("not both"), "{e}");
        let e = problems(
            n,
            &NEUTRON.replace(
                "application_credential_secret = \"s3cret\"",
                "application_credential_secret_file = \"rel\"",
            ),
        );
        assert!(e.contains("absolute path"), "{e}");
        let e = problems(n, &format!("{NEUTRON}timeout = \"99999h\"\n"));
        assert!(
            e.contains("ha.neutron.timeout") && e.contains("out of range"),
            "{e}"
        );
        let e = problems(n, &NEUTRON.replace("5b7e0d6a-4c1f", "../../x"));
        assert!(e.contains("ha.neutron.floating_ip"), "{e}");
    }

    /// A redacted export's masks are refused, each naming its key, instead
    /// of being taken as the secret.
    #[test]
    fn masked_secrets_are_refused_naming_the_key() {
        let mask = crate::config::REDACTED;
        let n = "mode = \"neutron\"";
        let e = problems(n, &NEUTRON.replace("s3cret", mask));
        assert!(
            e.contains("ha.neutron.application_credential_secret") && e.contains("masked"),
            "{e}"
        );
        let pair = PAIR
            .replace("0123456789abcdef0123456789abcdef", mask)
            .replace("MODE", "");
        let e = crate::config::parse(&pair)
            .expect_err("masked key")
            .to_string();
        assert!(e.contains("ha.key") && e.contains("parvis export"), "{e}");
    }
}
