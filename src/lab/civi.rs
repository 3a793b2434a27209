//! The lab's last hop of the kind parishes run: Apache httpd with
//! mod_remoteip behind `civi.example.org`, configured from
//! `docs/ingress/apache.conf`, on ingress1 port 8443, reached from parvis
//! with PROXY v2. Optional: without Apache the lab runs without it.
//!
//! Does I/O through [`receiver::start`].

use std::net::SocketAddr;
use std::path::Path;

use super::receiver::{self, Kind, Params, Receiver};
use super::{Topology, APPLIANCE_INTERNAL, FLOATING_IP, INGRESS};

/// The demo host name Apache answers for.
pub const CIVI_HOST: &str = "civi.example.org";
/// Where Apache listens for parvis.
pub const CIVI_PORT: u16 = 8443;

/// Apache's address on ingress1.
pub fn civi_addr() -> SocketAddr {
    (INGRESS[0], CIVI_PORT).into()
}

/// The route and backend added to the lab's config when Apache runs.
pub fn civi_config() -> String {
    format!(
        "\n# Apache httpd (mod_remoteip) on ingress1, from docs/ingress/apache.conf\n\
         [[route]]\nlistener = \"https\"\nhosts = [\"{CIVI_HOST}\"]\nbackend = \"civi\"\n\n\
         [backend.civi]\nservers = [\"{}\"]\nproxy_protocol = \"v2\"\n",
        civi_addr()
    )
}

/// Starts Apache in ingress1 with its files in `dir`; `Err` carries the
/// reason to print when Apache is missing or does not start.
pub fn start_civi(topo: &Topology, dir: &Path) -> Result<Receiver, String> {
    if Kind::Apache.installed().is_none() {
        return Err(format!(
            "Apache httpd is not installed (apt-get install {}): {CIVI_HOST} is left out",
            Kind::Apache.package()
        ));
    }
    let params = Params {
        listen: civi_addr(),
        name: CIVI_HOST.into(),
        parvis: format!("{APPLIANCE_INTERNAL}/32"),
        dir: dir.to_path_buf(),
        upstream: None,
    };
    receiver::start(Kind::Apache, topo.ingress(0), &params)
        .map_err(|e| format!("Apache httpd did not start ({e}): {CIVI_HOST} is left out"))
}

/// The lines `parvis lab` prints about Apache: a curl command and its log.
pub fn civi_notes(topo: &Topology, apache: &Result<Receiver, String>) -> String {
    match apache {
        Ok(r) => format!(
            "\nApache httpd (mod_remoteip, docs/ingress/apache.conf) answers for {CIVI_HOST}:\n\
             \x20 ip netns exec {c} curl -sk --resolve {CIVI_HOST}:443:{FLOATING_IP} https://{CIVI_HOST}/\n\
             \x20 tail -f {log}      (its own access log: client=198.51.100.10 peer={APPLIANCE_INTERNAL})\n",
            c = topo.client().name(),
            log = receiver::render::access_log(r.dir()).display(),
        ),
        Err(reason) => format!("\n{reason}\n"),
    }
}
