//! The OpenStack metadata service as a lab peer: a host `md` linked to the
//! appliance by its own veth (`md0` in the appliance at 169.254.0.2/16),
//! answering at 169.254.169.254:80 with the files of a folder, as Nova's
//! metadata service does for `openstack/latest/*.json`. Does I/O (`ip`,
//! a Python HTTP server).

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Stdio;

use super::wire::veth;
use super::{ChildGuard, LabError, Ns, Topology};

/// The metadata service's address.
pub const METADATA_ADDR: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// The appliance's own link-local address on `md0`.
pub const METADATA_LINK: Ipv4Addr = Ipv4Addr::new(169, 254, 0, 2);
/// The appliance's link to the service.
pub const METADATA_PORT: &str = "md0";

/// The running service; dropping it stops the server and removes its host.
#[derive(Debug)]
pub struct MetadataService {
    // The server before its namespace.
    _server: ChildGuard,
    host: Ns,
}

impl MetadataService {
    /// The service's host namespace.
    pub fn host(&self) -> &Ns {
        &self.host
    }
}

impl Topology {
    /// Adds the metadata service serving `dir` (a tree holding
    /// `openstack/latest/meta_data.json` ...) on a link of its own to the
    /// appliance. It may take a moment to listen: wait for the port.
    pub fn attach_metadata(&self, dir: &Path) -> Result<MetadataService, LabError> {
        let prefix = self.client().name().trim_end_matches("client");
        let host = Ns::create(&format!("{prefix}md"))?;
        let app = self.appliance();
        veth(app, METADATA_PORT, &host, "md-p")?;
        app.ip(&[
            "addr",
            "add",
            &format!("{METADATA_LINK}/16"),
            "dev",
            METADATA_PORT,
        ])?;
        app.ip(&["link", "set", METADATA_PORT, "up"])?;
        host.ip(&["addr", "add", &format!("{METADATA_ADDR}/16"), "dev", "md-p"])?;
        host.ip(&["link", "set", "md-p", "up"])?;
        let mut server = host.command("python3");
        server
            .args(["-m", "http.server", "80", "--bind"])
            .arg(METADATA_ADDR.to_string())
            .arg("--directory")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Ok(MetadataService {
            _server: ChildGuard::spawn(server)?,
            host,
        })
    }
}
