//! HAProxy as a reporting peer on the lab's two ingress nodes: each
//! `accept-proxy` frontend answers every request with what the PROXY header
//! and the TLS handshake told it (`srv=ingress1 ci=<client> sni=<name>
//! auth=<authority>`), so a test reads back what parvis sent. The lab's
//! optional HAProxy peer for the forwarder suites; the operator's
//! templates are [`super::receiver`]'s. Does I/O (files, `openssl`,
//! `haproxy`); the config text is pure.

use std::fs::File;
use std::path::Path;
use std::process::Stdio;

use super::receiver::{render, self_signed};
use super::{ChildGuard, LabError, Topology, INGRESS};

/// The TLS frontend (`ci`, `sni`, `auth`).
pub const TLS_PORT: u16 = 443;
/// The plain HTTP frontend (`ci`, `host`).
pub const HTTP_PORT: u16 = 80;
/// The TLS frontend that reports PROXY v2 TLVs (`uid`, `auth`).
pub const TLV_PORT: u16 = 8443;

/// The reporting HAProxy config of ingress node `tag` on `ip`, with the
/// certificate and key in `pem`.
pub fn haproxy_config(tag: &str, ip: std::net::Ipv4Addr, pem: &Path) -> String {
    format!(
        r#"global
  maxconn 2000
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend tls
  bind {ip}:{TLS_PORT} accept-proxy ssl crt {pem}
  http-request return status 200 content-type text/plain lf-string "srv={tag} ci=%[src] sni=%[ssl_fc_sni] auth=%[fc_pp_authority]\n"
frontend plain
  bind {ip}:{HTTP_PORT} accept-proxy
  http-request return status 200 content-type text/plain lf-string "srv={tag} ci=%[src] host=%[req.hdr(host)]\n"
frontend tlvs
  bind {ip}:{TLV_PORT} accept-proxy ssl crt {pem}
  http-request return status 200 content-type text/plain lf-string "srv={tag} ci=%[src] uid=%[fc_pp_unique_id] auth=%[fc_pp_authority]\n"
"#,
        pem = pem.display()
    )
}

/// Starts the reporting HAProxy on both ingress nodes (`ingress1` on
/// `INGRESS[0]`, `ingress2` on `INGRESS[1]`), its files and its output
/// (`ingress1.log`, `ingress2.log`) in `dir`; returns once both listen,
/// as `(tag, process)` pairs.
pub fn start_reporters(topo: &Topology, dir: &Path) -> Result<Vec<(String, ChildGuard)>, LabError> {
    std::fs::create_dir_all(dir).map_err(|e| io_error(format!("mkdir {}", dir.display()), e))?;
    self_signed(dir, "ingress")?;
    let mut out = Vec::new();
    for (i, ns) in topo.ingresses().iter().enumerate() {
        let tag = format!("ingress{}", i + 1);
        let file = dir.join(format!("{tag}.cfg"));
        let text = haproxy_config(&tag, INGRESS[i], &render::pem(dir));
        std::fs::write(&file, text)
            .map_err(|e| io_error(format!("write {}", file.display()), e))?;
        let log_path = dir.join(format!("{tag}.log"));
        let log = File::create(&log_path)
            .map_err(|e| io_error(format!("create {}", log_path.display()), e))?;
        let err = log
            .try_clone()
            .map_err(|e| io_error(format!("dup {}", log_path.display()), e))?;
        let mut cmd = ns.command("haproxy");
        cmd.arg("-db")
            .arg("-f")
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err));
        let mut child = ChildGuard::spawn(cmd)?;
        ns.wait_listening(&mut child, TLS_PORT)
            .map_err(|reason| LabError::NotReady {
                command: format!("haproxy on {tag}"),
                reason,
            })?;
        out.push((tag, child));
    }
    Ok(out)
}

fn io_error(what: String, e: std::io::Error) -> LabError {
    LabError::NotReady {
        command: what,
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_frontend_reports_what_parvis_sent() {
        let text = haproxy_config("ingress2", INGRESS[1], Path::new("/x/both.pem"));
        assert!(text.contains("bind 10.0.0.12:443 accept-proxy ssl crt /x/both.pem\n"));
        assert!(text.contains("bind 10.0.0.12:80 accept-proxy\n"));
        assert!(text.contains("\"srv=ingress2 ci=%[src] sni=%[ssl_fc_sni] auth="));
        assert!(text.contains("uid=%[fc_pp_unique_id]"));
    }
}
