//! The control socket: the same JSON API as the admin port, without login
//! or CSRF (the socket is mode 0600, root only), on a Unix socket
//! (default [`DEFAULT_SOCKET`]); and the client the CLI uses
//! ([`client`], [`cli`], [`connlog`]). Does I/O (the socket).

pub mod cli;
pub mod client;
pub mod connlog;
pub mod export;
pub mod ha;
pub mod token;

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::net::UnixListener;

use crate::api::{Author, AuthorKind, Control};

/// Where the daemon listens and the CLI asks by default.
pub const DEFAULT_SOCKET: &str = "/run/parvis/control.sock";
/// Largest request body on the socket: the socket is root-only, and it
/// must take any config `parvis check` accepts (1 MiB refused a 1.1 MB
/// config with "length limit exceeded").
pub const BODY_LIMIT: usize = 64 << 20;

/// Control socket and client failures.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Nothing listens on the socket.
    #[error("parvis is not running (no control socket at {})", path.display())]
    NotRunning {
        /// The socket path tried.
        path: PathBuf,
    },
    /// Another daemon answers on the socket.
    #[error("{}: another parvis daemon is already listening there", path.display())]
    InUse {
        /// The socket path.
        path: PathBuf,
    },
    /// A file or socket operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP exchange over the socket failed.
    #[error("control socket: {0}")]
    Http(String),
    /// The daemon refused the request.
    #[error("{message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The daemon's message.
        message: String,
    },
    /// Bad input on the command line (unreadable file, ...).
    #[error("{0}")]
    Input(String),
}

impl ControlError {
    /// The process exit code: 2 for bad input (including a config the
    /// daemon refused as invalid), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            ControlError::Input(_) => 2,
            ControlError::Api { status, .. } if *status == 400 || *status == 422 => 2,
            _ => 1,
        }
    }
}

/// The header in which the CLI names the SSH client it runs for.
pub const SOURCE_HEADER: &str = "x-parvis-ssh-client";

/// The socket's router: `/api/v1` (with `/export`, which the admin port
/// does not have) with the author set to the CLI, and the
/// SSH client's address (sent by the CLI from `SSH_CONNECTION`) as its
/// source, so the lock-out safety net covers applies made over SSH. The
/// socket is root-only: whoever can write to it is trusted to say this.
pub fn router(control: Arc<dyn Control>) -> Router {
    Router::new()
        .nest("/api/v1", crate::api::json::socket_router(control))
        .layer(axum::middleware::from_fn(cli_author))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

async fn cli_author(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let source_addr = req
        .headers()
        .get(SOURCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .map(crate::config::canonical_ip);
    req.extensions_mut().insert(Author {
        kind: AuthorKind::Cli,
        source_addr,
    });
    next.run(req).await
}

/// The SSH client's address from `SSH_CONNECTION` ("client port server
/// port") or `SSH_CLIENT` ("client port port"), if the CLI runs over SSH.
pub fn ssh_client() -> Option<std::net::IpAddr> {
    ["SSH_CONNECTION", "SSH_CLIENT"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find_map(|v| v.split_whitespace().next()?.parse().ok())
}

/// Binds the socket: creates the parent folder, removes a stale socket
/// (refuses if a daemon still answers on it), sets mode 0600.
pub async fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    let io = |e| ControlError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            std::fs::create_dir_all(parent).map_err(io)?;
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
    }
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(ControlError::InUse {
                path: path.to_path_buf(),
            });
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(listener)
}

/// Serves the control API on `path` until `shutdown`, then removes the socket.
pub async fn serve(
    path: &Path,
    control: Arc<dyn Control>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ControlError> {
    let listener = bind(path).await?;
    tracing::info!(socket = %path.display(), "control socket listening");
    let result = axum::serve(listener, router(control))
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = std::fs::remove_file(path);
    result.map_err(|e| ControlError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}
