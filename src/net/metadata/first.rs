//! First boot: the user data may hold a whole parvis config, which becomes
//! the first config version. Without one, a safe default keeps the
//! appliance closed until an operator sets `admin.allow` from the console.
//! Pure.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Admin, Appliance, Config, Egress, Interfaces, Limits, Port, PortSelector};

use super::Metadata;

/// The first configuration and why it was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstConfig {
    /// The config to run.
    pub config: Config,
    /// The TOML text when it came from user data (the first config version
    /// to store); `None` for the safe default, which has no file form.
    pub text: Option<String>,
    /// One line for the log: where the config came from, or why the safe
    /// default was used.
    pub reason: String,
}

impl FirstConfig {
    /// True when the safe default is in force.
    pub fn is_safe_default(&self) -> bool {
        self.text.is_none()
    }
}

/// Takes the user data as the first config if it is a valid parvis config;
/// otherwise the [`safe_default`], with the reason.
pub fn first_config(meta: &Metadata) -> FirstConfig {
    let why = match meta.user_data.as_deref() {
        None => "there is no user data".to_string(),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Err(_) => "the user data is not UTF-8 text".to_string(),
            Ok(text) => match user_data_kind(text) {
                Some(kind) => format!("the user data is {kind}, not a parvis config"),
                None => match crate::config::parse(text) {
                    Ok(config) => {
                        return FirstConfig {
                            config,
                            text: Some(text.to_string()),
                            reason: "first config taken from the user data".into(),
                        }
                    }
                    Err(e) => format!(
                        "the user data is not a valid parvis config: {}",
                        e.to_string().replace('\n', "; ")
                    ),
                },
            },
        },
    };
    FirstConfig {
        config: safe_default(Some(meta)),
        text: None,
        reason: format!(
            "{why}; running the safe default: all inbound traffic denied, SSH and the admin port \
             reachable from nowhere until admin.allow is set from the console"
        ),
    }
}

/// Recognises user data meant for cloud-init rather than parvis.
fn user_data_kind(text: &str) -> Option<&'static str> {
    let head = text.trim_start();
    if head.starts_with("#cloud-config") {
        Some("a cloud-init #cloud-config document")
    } else if head.starts_with("#!") {
        Some("a script")
    } else if head.starts_with("Content-Type: multipart") {
        Some("a MIME multipart document")
    } else {
        None
    }
}

/// The safe default: no listener, no forward, `admin.allow` empty (so the
/// firewall lets nothing in but established traffic), defaults elsewhere.
/// It is built directly rather than parsed because the file schema asks for
/// at least one listener or forward, which this config deliberately lacks.
/// When the metadata tags a `public` and an `internal` NIC, the ports are
/// taken over by tag (so the metadata's static addresses apply); otherwise
/// links are left alone.
pub fn safe_default(meta: Option<&Metadata>) -> Config {
    let name = meta
        .and_then(|m| m.meta.hostname.as_deref().or(m.meta.name.as_deref()))
        .map(appliance_name)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "parvis".to_string());
    let tagged = |role: &str| meta.is_some_and(|m| m.tagged(role).len() == 1);
    let by_tag = || Port {
        select: PortSelector::Tag,
        address: None,
        gateway: None,
        mtu: None,
        routes: Vec::new(),
    };
    let interfaces = (tagged("public") && tagged("internal")).then(|| Interfaces {
        public: Some(by_tag()),
        internal: Some(by_tag()),
    });
    Config {
        appliance: Appliance {
            name,
            state_dir: PathBuf::from("/var/lib/parvis"),
            max_connections: 20_000,
        },
        interfaces,
        admin: Admin {
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            allow: Vec::new(),
            tls: None,
            ssh_port: 22,
        },
        limits: Limits {
            conn_rate: None,
            conn_burst: 0,
            conn_max: None,
            ban: Duration::ZERO,
            ipv6_prefix: crate::config::DEFAULT_IPV6_PREFIX,
            meter_size: crate::config::DEFAULT_METER_SIZE,
            block: Vec::new(),
            block_file: None,
        },
        listeners: Vec::new(),
        routes: Vec::new(),
        backends: Default::default(),
        forwards: Vec::new(),
        egress: Egress::default(),
        metrics: None,
        ha: None,
        log: crate::config::Log::default(),
    }
}

/// A Nova host name as an appliance name (1-63 printable characters).
fn appliance_name(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_control()).take(63).collect()
}
