//! The configuration files of a receiver: the operator's snippet from the
//! template in `docs/ingress/` (the text `docs/ingress.md` shows) with its
//! placeholders filled in, and the few lines around it that run the server
//! in the foreground from a private folder. Pure: strings in, strings out.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::Kind;

/// What a receiver's configuration is filled in with.
#[derive(Debug, Clone)]
pub struct Params {
    /// Where the server listens for parvis (`10.0.0.11:8443`).
    pub listen: SocketAddr,
    /// The host name its certificate and `ServerName` carry.
    pub name: String,
    /// The one prefix allowed to send PROXY headers: parvis's internal
    /// address as a CIDR (`10.0.0.1/32`).
    pub parvis: String,
    /// The private folder for its config, certificate, logs and pid file.
    pub dir: PathBuf,
    /// Where a passthrough receiver (Traefik) sends connections on, with a
    /// PROXY v2 header; `None` for servers that answer themselves.
    pub upstream: Option<SocketAddr>,
}

/// A template still holding a placeholder after rendering: the template and
/// this code disagree.
#[derive(Debug, thiserror::Error)]
#[error("{template}: placeholder {placeholder} has no value")]
pub struct Unfilled {
    /// The template's path in the repository.
    pub template: &'static str,
    /// The placeholder left, `@NAME@`.
    pub placeholder: String,
}

/// Paths inside a receiver's folder.
pub fn cert(dir: &Path) -> PathBuf {
    dir.join("cert.pem")
}
/// The private key next to [`cert`].
pub fn key(dir: &Path) -> PathBuf {
    dir.join("key.pem")
}
/// Certificate and key in one file (HAProxy's `crt`).
pub fn pem(dir: &Path) -> PathBuf {
    dir.join("both.pem")
}
/// The server's own access log.
pub fn access_log(dir: &Path) -> PathBuf {
    dir.join("access.log")
}
/// The operator's snippet, rendered.
pub fn site(kind: Kind) -> &'static str {
    match kind {
        Kind::Apache => "site.conf",
        Kind::Nginx => "site.conf",
        Kind::Haproxy => "site.cfg",
        Kind::Traefik => "dynamic.yml",
    }
}
/// The main file that runs the server and includes the snippet.
pub fn main_file(kind: Kind) -> &'static str {
    match kind {
        Kind::Apache => "httpd.conf",
        Kind::Nginx => "nginx.conf",
        Kind::Haproxy => "global.cfg",
        Kind::Traefik => "traefik.yml",
    }
}

/// Every file `kind` runs from, `(name in the folder, text)`: its rendered
/// templates and, for the servers whose snippet is a part of a whole, the
/// main configuration around it.
pub fn files(kind: Kind, p: &Params) -> Result<Vec<(&'static str, String)>, Unfilled> {
    let templates = kind.templates();
    let mut out = Vec::new();
    match kind {
        Kind::Traefik => {
            for ((path, text), name) in templates.iter().zip(["traefik.yml", "dynamic.yml"]) {
                out.push((name, fill(path, text, p)?));
            }
        }
        _ => {
            for (path, text) in templates {
                out.push((site(kind), fill(path, text, p)?));
            }
            out.push((main_file(kind), main_config(kind, &p.dir)));
        }
    }
    Ok(out)
}

/// `kind`'s main template, filled in (see [`fill`]).
pub fn snippet(kind: Kind, p: &Params) -> Result<String, Unfilled> {
    let (path, text) = kind.templates()[0];
    fill(path, text, p)
}

/// `text` (the template at `template`) with `@LISTEN@`, `@NAME@`,
/// `@PARVIS@`, `@CERT@`, `@KEY@`, `@PEM@`, `@LOG@`, `@DYNAMIC@` and
/// `@UPSTREAM@` replaced; a placeholder without a value is an error.
pub fn fill(template: &'static str, text: &str, p: &Params) -> Result<String, Unfilled> {
    let path = |f: PathBuf| f.display().to_string();
    let upstream = p.upstream.map(|a| a.to_string());
    let values = [
        ("@LISTEN@", p.listen.to_string()),
        ("@NAME@", p.name.clone()),
        ("@PARVIS@", p.parvis.clone()),
        ("@CERT@", path(cert(&p.dir))),
        ("@KEY@", path(key(&p.dir))),
        ("@PEM@", path(pem(&p.dir))),
        ("@LOG@", path(access_log(&p.dir))),
        ("@DYNAMIC@", path(p.dir.join("dynamic.yml"))),
    ];
    let mut text = text.to_owned();
    for (from, to) in &values {
        text = text.replace(from, to);
    }
    if let Some(upstream) = upstream {
        text = text.replace("@UPSTREAM@", &upstream);
    }
    match leftover(&text) {
        Some(placeholder) => Err(Unfilled {
            template,
            placeholder,
        }),
        None => Ok(text),
    }
}

/// The first `@WORD@` (capitals and `_`) left in `text`.
fn leftover(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(start) = rest.find('@') {
        let after = &rest[start + 1..];
        let word_len = after
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .unwrap_or(after.len());
        if word_len > 0 && after[word_len..].starts_with('@') {
            return Some(format!("@{}@", &after[..word_len]));
        }
        rest = after;
    }
    None
}

/// The main configuration that runs `kind` in the foreground from `dir`
/// and includes the rendered snippet.
pub fn main_config(kind: Kind, dir: &Path) -> String {
    let d = dir.display();
    match kind {
        Kind::Apache => {
            let m = "/usr/lib/apache2/modules";
            let modules = [
                ("mpm_event", "mod_mpm_event"),
                ("authz_core", "mod_authz_core"),
                ("remoteip", "mod_remoteip"),
                ("ssl", "mod_ssl"),
                ("include", "mod_include"),
                ("dir", "mod_dir"),
            ]
            .iter()
            .map(|(name, file)| format!("LoadModule {name}_module {m}/{file}.so\n"))
            .collect::<String>();
            format!(
                "ServerRoot {d}\nPidFile {d}/httpd.pid\nDefaultRuntimeDir {d}\n\
                 ErrorLog {d}/error.log\nLogLevel warn\n{modules}\
                 ServerName localhost\nUser www-data\nGroup www-data\n\
                 DocumentRoot {d}/www\n<Directory {d}/www>\n    Options +Includes\n\
                 \x20   SetOutputFilter INCLUDES\n    DirectoryIndex index.html\n\
                 \x20   Require all granted\n</Directory>\nInclude {d}/site.conf\n"
            )
        }
        Kind::Nginx => format!(
            "daemon off;\nworker_processes 1;\nuser root;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\n\
             http {{\n    access_log off;\n    client_body_temp_path {d}/body;\n\
             \x20   proxy_temp_path {d}/proxy;\n    fastcgi_temp_path {d}/fastcgi;\n\
             \x20   uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n\
             \x20   include {d}/site.conf;\n}}\n"
        ),
        // Traefik's static configuration is a template of its own.
        Kind::Haproxy | Kind::Traefik => {
            "global\n    log stdout format raw local0\n    maxconn 1000\n\
             defaults\n    log global\n    mode http\n    timeout connect 5s\n\
             \x20   timeout client 10s\n    timeout server 10s\n"
                .to_owned()
        }
    }
}

/// The operator's guide, whose snippets must be the templates.
pub const GUIDE: &str = include_str!("../../../docs/ingress.md");
/// The marker in [`GUIDE`] before a fenced block that must equal a file.
const FILE_MARKER: &str = "<!-- file: ";

/// The snippets [`GUIDE`] says are files: `(path, fenced block's text)`.
/// A marker not followed by a fenced block yields an empty text.
pub fn guide_snippets(guide: &str) -> Vec<(&str, String)> {
    let mut found = Vec::new();
    let mut rest = guide;
    while let Some(at) = rest.find(FILE_MARKER) {
        rest = &rest[at + FILE_MARKER.len()..];
        let Some((path, after)) = rest.split_once(" -->\n") else {
            break;
        };
        let mut lines = after.lines();
        let opens = lines.next().is_some_and(|l| l.starts_with("```"));
        let body: Vec<&str> = if opens {
            lines.take_while(|l| *l != "```").collect()
        } else {
            Vec::new()
        };
        let text = body.iter().map(|l| format!("{l}\n")).collect();
        found.push((path, text));
        rest = after;
    }
    found
}

/// Apache's page: server-side includes print the address mod_remoteip set.
pub const APACHE_PAGE: &str = "Apache httpd: client=<!--#echo var=\"REMOTE_ADDR\" -->\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params {
            listen: (std::net::Ipv4Addr::new(10, 0, 0, 11), 8443).into(),
            name: "civi.example.org".into(),
            parvis: "10.0.0.1/32".into(),
            dir: PathBuf::from("/tmp/r"),
            upstream: Some((std::net::Ipv4Addr::new(10, 0, 0, 11), 8443).into()),
        }
    }

    #[test]
    fn every_template_fills_completely() {
        for kind in Kind::ALL {
            let text = snippet(kind, &params()).expect("every placeholder has a value");
            assert!(text.contains("10.0.0.11:8443"), "{kind:?}");
            assert!(text.contains("10.0.0.1/32"), "{kind:?}");
            for (name, text) in files(kind, &params()).expect("all filled") {
                assert_eq!(leftover(&text), None, "{kind:?} {name}");
            }
        }
        let no_upstream = Params {
            upstream: None,
            ..params()
        };
        let err = files(Kind::Traefik, &no_upstream).expect_err("@UPSTREAM@ unfilled");
        assert_eq!(err.placeholder, "@UPSTREAM@");
        assert_eq!(err.template, "docs/ingress/traefik-dynamic.yml");
    }

    /// The guide shows each template byte for byte, so what operators copy
    /// is what `tests/ingress_receivers.rs` runs.
    #[test]
    fn the_guide_shows_every_template_as_it_is() {
        let snippets = guide_snippets(GUIDE);
        let templates: Vec<_> = Kind::ALL.iter().flat_map(|k| k.templates()).collect();
        for (path, text) in &templates {
            let shown: Vec<_> = snippets.iter().filter(|(p, _)| p == path).collect();
            assert_eq!(shown.len(), 1, "{path} in docs/ingress.md");
            assert_eq!(shown[0].1, *text, "{path}");
        }
        assert_eq!(snippets.len(), templates.len());
    }

    #[test]
    fn guide_snippets_read_the_fenced_block_after_each_marker() {
        let guide = "x\n<!-- file: a.conf -->\n```apache\nA 1\n\nA 2\n```\n\
                     <!-- file: b.cfg -->\nno fence\n";
        let got = guide_snippets(guide);
        assert_eq!(
            got,
            vec![
                ("a.conf", "A 1\n\nA 2\n".to_owned()),
                ("b.cfg", String::new())
            ]
        );
    }

    #[test]
    fn leftover_finds_placeholders_and_ignores_other_ats() {
        assert_eq!(leftover("a @PORT@ b"), Some("@PORT@".into()));
        assert_eq!(leftover("mail@example.org @ x"), None);
        assert_eq!(leftover("@@ @a@"), None);
    }

    #[test]
    fn main_configs_include_the_snippet_from_the_folder() {
        let dir = Path::new("/tmp/r");
        assert!(main_config(Kind::Apache, dir).contains("Include /tmp/r/site.conf\n"));
        assert!(main_config(Kind::Nginx, dir).contains("include /tmp/r/site.conf;"));
        assert!(main_config(Kind::Haproxy, dir).starts_with("global\n"));
    }
}
