//! `GET /api/v1/export`, served on the control socket only (root): the
//! running config's text exactly as applied, secrets included, so that a
//! new VM can take it as user data; with the keys of the secrets it holds
//! and the files it only names, for the CLI's warning. The admin port never
//! routes it: the UI's download and its API (`/config`) stay redacted.
//! No I/O of its own.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{ApiError, Control};

/// The export: a complete, re-importable config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportView {
    /// The running version's number.
    pub version: u64,
    /// Its TOML text, byte for byte, secrets included.
    pub text: String,
    /// The keys whose secret value the text holds (`ha.key`, ...).
    pub secrets: Vec<String>,
    /// The files the config names but the text does not hold.
    pub files: Vec<NamedFile>,
}

/// A file a config names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedFile {
    /// The key naming it (`ha.key_file`).
    pub key: String,
    /// Its path.
    pub path: String,
}

/// The handler (state: the daemon).
pub(super) async fn export(
    State(c): State<Arc<dyn Control>>,
) -> Result<Json<ExportView>, ApiError> {
    c.export()
        .map(Json)
        .ok_or_else(|| ApiError::unavailable("no config is running yet: nothing to export"))
}
