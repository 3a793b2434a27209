//! Where metadata comes from, in order: a folder given by the operator
//! (`--metadata DIR`), the config drive (a filesystem labelled `config-2`,
//! mounted read-only for the time of the read), the metadata service at
//! `169.254.169.254`. Does I/O (files, `mount`, TCP).

use std::ffi::OsStr;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{http, parse, Metadata, MetadataError};

/// The address of the OpenStack metadata service.
pub const SERVICE: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(169, 254, 169, 254)),
    80,
);

/// How long the metadata service gets for each document.
pub const SERVICE_TIMEOUT: Duration = Duration::from_secs(3);

/// The labels a config drive carries (vfat upper-cases it).
const DRIVE_LABELS: [&str; 2] = ["/dev/disk/by-label/config-2", "/dev/disk/by-label/CONFIG-2"];

/// Where the metadata was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A folder laid out like a config drive.
    Dir(PathBuf),
    /// The config drive, by block device.
    ConfigDrive(PathBuf),
    /// The metadata service.
    Service(SocketAddr),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Dir(d) => write!(f, "folder {}", d.display()),
            Source::ConfigDrive(d) => write!(f, "config drive {}", d.display()),
            Source::Service(a) => write!(f, "metadata service at {a}"),
        }
    }
}

/// Reads the metadata from `dir` when given, else from the config drive if
/// there is one, else from the metadata service. The first source present
/// decides: a broken config drive is an error, not a reason to ask the
/// service.
pub async fn discover(dir: Option<&Path>) -> Result<(Metadata, Source), MetadataError> {
    if let Some(dir) = dir {
        return Ok((read_dir(dir)?, Source::Dir(dir.to_path_buf())));
    }
    if let Some(device) = DRIVE_LABELS.iter().map(Path::new).find(|p| p.exists()) {
        let device = device.to_path_buf();
        let meta = tokio::task::spawn_blocking({
            let device = device.clone();
            move || read_config_drive(&device)
        })
        .await
        .map_err(|e| MetadataError::Mount {
            device: device.display().to_string(),
            detail: e.to_string(),
        })??;
        return Ok((meta, Source::ConfigDrive(device)));
    }
    let meta = read_service(SERVICE, SERVICE_TIMEOUT).await?;
    Ok((meta, Source::Service(SERVICE)))
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, MetadataError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(MetadataError::Read {
            file: path.display().to_string(),
            source,
        }),
    }
}

/// Reads `DIR/openstack/latest/{meta_data.json, network_data.json, user_data}`.
/// `meta_data.json` is required; the others may be missing.
pub fn read_dir(dir: &Path) -> Result<Metadata, MetadataError> {
    read_tree(dir, &dir.display().to_string())
}

fn read_tree(dir: &Path, origin: &str) -> Result<Metadata, MetadataError> {
    let latest = dir.join("openstack/latest");
    let meta_path = latest.join("meta_data.json");
    let meta = std::fs::read(&meta_path).map_err(|source| MetadataError::Read {
        file: format!("{origin}/openstack/latest/meta_data.json"),
        source,
    })?;
    let network = read_optional(&latest.join("network_data.json"))?;
    let user_data = read_optional(&latest.join("user_data"))?;
    parse(origin, &meta, network.as_deref(), user_data)
}

/// Mounts the config drive read-only in a private folder, reads it and
/// unmounts it again, whatever the read gave.
pub fn read_config_drive(device: &Path) -> Result<Metadata, MetadataError> {
    let mount_err = |detail: String| MetadataError::Mount {
        device: device.display().to_string(),
        detail,
    };
    let point = std::env::temp_dir().join(format!("parvis-config-drive-{}", std::process::id()));
    std::fs::create_dir_all(&point)
        .map_err(|e| mount_err(format!("cannot create {}: {e}", point.display())))?;
    let mounted = run(
        "mount",
        &[
            OsStr::new("-o"),
            OsStr::new("ro"),
            device.as_os_str(),
            point.as_os_str(),
        ],
    );
    if let Err(detail) = mounted {
        let _ = std::fs::remove_dir(&point);
        return Err(mount_err(detail));
    }
    let result = read_tree(&point, &format!("config drive {}", device.display()));
    let unmounted = run("umount", &[point.as_os_str()]);
    let _ = std::fs::remove_dir(&point);
    let meta = result?;
    unmounted.map_err(mount_err)?;
    Ok(meta)
}

fn run(program: &str, args: &[&OsStr]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The three documents as the metadata service sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDocs {
    /// `meta_data.json`.
    pub meta: Vec<u8>,
    /// `network_data.json` (`None`: 404).
    pub network: Option<Vec<u8>>,
    /// `user_data` (`None`: 404).
    pub user_data: Option<Vec<u8>>,
}

/// Fetches the three documents from the metadata service at `addr`,
/// unparsed (see [`read_service`]).
pub async fn fetch_service(addr: SocketAddr, timeout: Duration) -> Result<RawDocs, MetadataError> {
    let origin = format!("http://{addr}");
    let fetch = |name: &'static str| {
        let origin = origin.clone();
        async move {
            let path = format!("/openstack/latest/{name}");
            http::get(addr, &path, timeout)
                .await
                .map_err(|detail| MetadataError::Service {
                    url: format!("{origin}{path}"),
                    detail,
                })
        }
    };
    let meta = fetch("meta_data.json")
        .await?
        .ok_or_else(|| MetadataError::Service {
            url: format!("{origin}/openstack/latest/meta_data.json"),
            detail: "HTTP status 404 (expected 200)".into(),
        })?;
    let network = fetch("network_data.json").await?;
    let user_data = fetch("user_data").await?;
    Ok(RawDocs {
        meta,
        network,
        user_data,
    })
}

/// Reads the three documents from the metadata service at `addr`.
pub async fn read_service(addr: SocketAddr, timeout: Duration) -> Result<Metadata, MetadataError> {
    let docs = fetch_service(addr, timeout).await?;
    parse(
        &format!("http://{addr}"),
        &docs.meta,
        docs.network.as_deref(),
        docs.user_data,
    )
}
