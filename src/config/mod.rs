//! The configuration: the operator's TOML file ([`FileConfig`]) is typed and
//! checked by [`validate`] into a [`Config`]. Pure, except [`load`] which
//! reads the file, and `limits.block_file`, which [`parse`] reads every time
//! (so each check and apply sees the file as it is now).
//!
//! Every problem names its key path (`route[2].hosts[0]`) and, where the
//! TOML text tells, its line.

mod backends;
mod blockfile;
mod bounds;
mod carry;
mod checker;
mod cross;
mod error;
mod file;
mod forwards;
mod ha;
mod ha_neutron;
mod host;
mod interfaces;
mod log;
mod model;
mod types;
mod validate;

use std::path::Path;

pub use blockfile::{BlockFile, MAX_BLOCK_FILE_BYTES, MAX_BLOCK_FILE_ENTRIES};
pub use error::{ConfigError, Problem};
pub use file::FileConfig;
pub use ha::{ADVERT as HA_ADVERT, SYNC_PORT as HA_SYNC_PORT};
pub use ha::{CONNTRACKD_PORT, DRAIN_PORT, VRRP_PROTO};
pub use ha_neutron::{CredentialSecret, FileHaNeutron, HaMode, HaNeutron};
pub use host::{check_host_name, HostPattern};
pub use log::{Log, Remote, RemoteTls};
pub use model::*;
pub use types::{
    canonical_ip, format_duration, parse_duration, Cidr, IfAddr, Mac, PortRange, Rate, RateUnit,
    Secret, REDACTED,
};
pub use validate::validate;

/// Parses and validates TOML text.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    if text.trim().is_empty() {
        return Err(ConfigError::one(
            "",
            "the config is empty: it needs at least a [[listener]] or a [[forward]]",
        ));
    }
    if let Err(e) = toml_edit::ImDocument::parse(text) {
        return Err(syntax_problem(text, &e));
    }
    let file: FileConfig = toml::from_str(text).map_err(|e| toml_problem(text, &e))?;
    validate(&file).map_err(|mut err| {
        error::locate(text, &mut err.problems);
        err.problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        err
    })
}

/// Reads, parses and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        use std::io::ErrorKind;
        let why = match e.kind() {
            ErrorKind::NotFound => "no such file".to_string(),
            ErrorKind::PermissionDenied => "permission denied".to_string(),
            ErrorKind::IsADirectory => "it is a directory".to_string(),
            ErrorKind::NotADirectory => "a part of the path is not a directory".to_string(),
            ErrorKind::InvalidData => "it is not UTF-8 text".to_string(),
            _ => e.to_string(),
        };
        ConfigError::one("", format!("cannot read {}: {why}", path.display()))
    })?;
    parse(&text)
}

/// A file that is not TOML at all: one problem with its line.
fn syntax_problem(text: &str, e: &toml_edit::TomlError) -> ConfigError {
    let first = e.message().lines().next().unwrap_or("syntax error").trim();
    ConfigError {
        problems: vec![Problem {
            path: String::new(),
            message: format!("not valid TOML: {first}"),
            line: e.span().map(|s| error::line_of(text, s.start)),
        }],
    }
}

/// Turns a serde error (unknown key, wrong type) into one problem with its
/// line and, found from the span, its key path.
fn toml_problem(text: &str, e: &toml::de::Error) -> ConfigError {
    let mut message = error::humanize(e.message());
    if message.is_empty() {
        message = "not a valid parvis config".to_string();
    }
    let span = e.span();
    let mut path = span
        .as_ref()
        .and_then(|s| error::path_at(text, s.start))
        .unwrap_or_default();
    if ["listener", "route", "forward"].contains(&path.as_str())
        && message.starts_with("expected an array")
    {
        message = format!("must be written [[{path}]] (one table per item), not [{path}]");
    }
    if path.starts_with("backend[") && message.starts_with("expected a table, found array") {
        path = "backend".into();
        message = "must be written [backend.NAME] (one table per backend), not [[backend]]".into();
    }
    // toml hands dates and times to serde as a table.
    let written = span
        .as_ref()
        .and_then(|s| text.get(s.clone()))
        .unwrap_or("");
    if message.ends_with("found table") && written.starts_with(|c: char| c.is_ascii_digit()) {
        message = message.replace("found table", &format!("found the date/time {written}"));
    }
    ConfigError {
        problems: vec![Problem {
            path,
            message,
            line: span.map(|s| error::line_of(text, s.start)),
        }],
    }
}

#[cfg(test)]
mod tests;
