//! `parvis export`: the running config as a complete, re-importable text —
//! secrets included, since the only use of an export is a VM rebuilt from
//! it and a masked key cannot rejoin the pair — with a warning on stderr
//! naming the secrets it holds and the files it only names. `--redact`
//! gives the masked text the UI shows instead; `--output FILE` writes a
//! file of mode 0600. Does I/O (the socket, the file, stderr).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hyper::Method;
use serde_json::json;

use super::client::call;
use super::ControlError;
use crate::api::export::ExportView;
use crate::api::json::ConfigText;

/// `parvis export`'s own options.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ExportArgs {
    /// Mask the secrets (`ha.key`, the Neutron credential) as the UI does:
    /// a text to show or share, which a new node refuses as its config.
    #[arg(long)]
    pub redact: bool,
    /// Write the text to FILE (mode 0600) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `parvis export`; returns what to print on stdout.
pub async fn run(socket: &Path, args: &ExportArgs, json: bool) -> Result<String, ControlError> {
    let view = if args.redact {
        let c: ConfigText = call(socket, Method::GET, "/config", None).await?;
        ExportView {
            version: c.version,
            text: c.text,
            secrets: Vec::new(),
            files: Vec::new(),
        }
    } else {
        call(socket, Method::GET, "/export", None).await?
    };
    let body = if json {
        let mut s = serde_json::to_string_pretty(&json!(view)).unwrap_or_default();
        s.push('\n');
        s
    } else {
        view.text.clone()
    };
    for line in warnings(&view) {
        eprintln!("parvis export: {line}");
    }
    match &args.output {
        None => Ok(body),
        Some(path) => {
            write_private(path, &body)?;
            Ok(format!(
                "version {} written to {} (mode 0600)\n",
                view.version,
                path.display()
            ))
        }
    }
}

/// What the operator must know about this export (one line each).
pub fn warnings(view: &ExportView) -> Vec<String> {
    let mut out = Vec::new();
    if !view.secrets.is_empty() {
        out.push(format!(
            "WARNING: this text holds secrets ({}): keep it as you keep the pair's key; \
             `--redact` gives a copy to show (which no node accepts as its config)",
            view.secrets.join(", ")
        ));
    }
    for f in &view.files {
        out.push(format!(
            "{} names {}, which is not in the text: copy it to the new VM",
            f.key, f.path
        ));
    }
    out
}

/// Writes `text` to `path` readable by its owner only (an existing file's
/// mode is narrowed to 0600 before anything is written; a symbolic link
/// is refused).
fn write_private(path: &Path, text: &str) -> Result<(), ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
        .map_err(io)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::export::NamedFile;

    #[test]
    fn a_file_is_written_0600_even_over_a_wider_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("export.toml");
        std::fs::write(&path, "old").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_private(&path, "key = \"s\"\n").expect("written");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "key = \"s\"\n"
        );
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&path, &link).expect("symlink");
        assert!(write_private(&link, "x").is_err(), "a symlink is refused");
    }

    #[test]
    fn the_warning_names_secrets_and_files() {
        let view = ExportView {
            version: 3,
            text: String::new(),
            secrets: vec!["ha.key".into()],
            files: vec![NamedFile {
                key: "admin.tls_cert".into(),
                path: "/etc/parvis/cert.pem".into(),
            }],
        };
        let w = warnings(&view).join("\n");
        assert!(w.contains("WARNING") && w.contains("ha.key"), "{w}");
        assert!(
            w.contains("admin.tls_cert names /etc/parvis/cert.pem"),
            "{w}"
        );
        let none = ExportView {
            secrets: Vec::new(),
            files: Vec::new(),
            ..view
        };
        assert!(warnings(&none).is_empty());
    }
}
