//! The configuration: the operator's TOML file ([`FileConfig`]) is typed and
//! checked by [`validate`] into a [`Config`]. Pure, except [`load`] which
//! reads the file.
//!
//! Every problem names its key path (`route[2].hosts[0]`) and, where the
//! TOML text tells, its line.

mod cross;
mod error;
mod file;
mod model;
mod types;
mod validate;

use std::path::Path;

pub use error::{ConfigError, Problem};
pub use file::FileConfig;
pub use model::*;
pub use types::{
    canonical_ip, check_host_name, format_duration, parse_duration, Cidr, HostPattern, IfAddr, Mac,
    PortRange, Rate, RateUnit, Secret,
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
    let file: FileConfig = toml::from_str(text).map_err(|e| toml_problem(text, &e))?;
    validate(&file).map_err(|mut err| {
        error::locate(text, &mut err.problems);
        err.problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        err
    })
}

/// Reads, parses and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::one("", format!("cannot read {}: {e}", path.display())))?;
    parse(&text)
}

/// Turns a TOML/serde error into one problem with its line and key.
fn toml_problem(text: &str, e: &toml::de::Error) -> ConfigError {
    let mut message = e.message().trim().replace('\n', " ");
    if message.is_empty() {
        message = format!(
            "not valid TOML: {}",
            e.to_string().lines().next().unwrap_or("syntax error")
        );
    }
    let line = e.span().map(|s| error::line_of(text, s.start));
    ConfigError {
        problems: vec![Problem {
            path: String::new(),
            message,
            line,
        }],
    }
}
