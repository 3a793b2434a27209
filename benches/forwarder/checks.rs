//! Self-checks of the bench's pure parts, run when the binary is started
//! without `--bench` (that is how `cargo test --all-targets` runs a
//! `harness = false` target). A failed check makes the binary exit 1.
//!
//! No I/O beyond printing the result.

use crate::backend::header_len;
use crate::peers::{haproxy_config, nginx_stream, parvis_config, Contender, HELLO_HOST};
use crate::procfs::stat_ticks;
use crate::report::{combine, rss_10k, table, Figures, Params};
use crate::{hello, load};

/// Runs every check; the first failure is the error.
pub fn run() -> Result<(), String> {
    type Check = fn() -> Result<(), String>;
    let checks: [(&str, Check); 6] = [
        ("client hello", client_hello),
        ("percentile", percentile),
        ("proxy header", proxy_header),
        ("peer configs", configs),
        ("table", report),
        ("proc stat", proc_stat),
    ];
    for (name, check) in checks {
        check().map_err(|e| format!("self-check `{name}` failed: {e}"))?;
    }
    println!("forwarder bench: self-checks passed (run `cargo bench` as root to measure)");
    Ok(())
}

fn ensure(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what.to_owned())
    }
}

fn client_hello() -> Result<(), String> {
    let h = hello::client_hello(HELLO_HOST)?;
    ensure(h.first() == Some(&0x16), "not a TLS handshake record")?;
    ensure(h.get(5) == Some(&0x01), "not a ClientHello")?;
    let len = h
        .get(3..5)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    ensure(len == Some(h.len() - 5), "more than one record")?;
    let sni = HELLO_HOST.as_bytes();
    ensure(h.windows(sni.len()).any(|w| w == sni), "SNI missing")
}

fn percentile() -> Result<(), String> {
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    ensure(load::percentile(&v, 500) == Some(50.0), "p50 of 1..=100")?;
    ensure(load::percentile(&v, 990) == Some(99.0), "p99 of 1..=100")?;
    ensure(load::percentile(&[], 500).is_none(), "empty")
}

fn proxy_header() -> Result<(), String> {
    let v1 = b"PROXY TCP4 198.51.100.10 192.168.10.5 40000 443\r\n\x16\x03";
    ensure(header_len(v1) == Some(Ok(v1.len() - 2)), "v1 length")?;
    ensure(header_len(b"PROXY TCP4 1.2").is_none(), "v1 incomplete")?;
    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
    v2.extend_from_slice(&[198, 51, 100, 10, 192, 168, 10, 5, 0x9c, 0x40, 1, 0xbb]);
    let n = v2.len();
    v2.push(0x16);
    ensure(header_len(&v2) == Some(Ok(n)), "v2 length")?;
    ensure(header_len(&v2[..20]).is_none(), "v2 incomplete")?;
    ensure(header_len(&v2[..5]).is_none(), "v2 signature incomplete")?;
    ensure(
        matches!(header_len(b"\x16\x03\x01"), Some(Err(_))),
        "TLS is no header",
    )?;
    let long = [b"PROXY ".as_slice(), &[b'1'; 120]].concat();
    ensure(
        matches!(header_len(&long), Some(Err(_))),
        "v1 over 107 bytes",
    )
}

fn configs() -> Result<(), String> {
    let h = haproxy_config();
    ensure(h.contains("bind 192.168.10.5:443"), "haproxy bind")?;
    ensure(h.contains("req.ssl_sni -i hello.bench.test"), "haproxy sni")?;
    ensure(
        h.contains("server s1 10.0.0.11:7443 send-proxy-v2"),
        "haproxy v2",
    )?;
    let n = nginx_stream();
    ensure(n.contains("hello.bench.test 10.0.0.11:7443;"), "nginx map")?;
    ensure(
        n.contains("proxy_protocol on;") && n.contains("ssl_preread on;"),
        "nginx",
    )?;
    let p = parvis_config(std::path::Path::new("/tmp/x"));
    let cfg = parvis::config::parse(&p).map_err(|e| format!("parvis config: {e}"))?;
    ensure(
        cfg.routes.len() == 3 && cfg.backends.len() == 3,
        "parvis routes",
    )?;
    let direct = Contender::Direct.target(HELLO_HOST).to_string();
    ensure(direct == "203.0.113.10:7444", "direct target")?;
    let via = Contender::Haproxy.target(HELLO_HOST).to_string();
    ensure(via == "203.0.113.10:443", "forwarder target")
}

fn report() -> Result<(), String> {
    let f = Figures {
        name: "parvis".into(),
        rss_before: Some(10.0),
        rss_idle: Some(40.0),
        idle: 5000,
        ..Figures::default()
    };
    ensure(rss_10k(&f) == Some(70.0), "extrapolation")?;
    let p = Params {
        workers: 64,
        idle: 5000,
        latency_rate: 500,
    };
    let t = table(std::slice::from_ref(&f), p);
    ensure(t.contains("parvis") && t.contains("70.0"), "table cells")?;
    let rounds: Vec<Figures> = [300.0, 100.0, 200.0]
        .iter()
        .map(|r| Figures {
            conn_rate: Some(*r),
            conn_errors: 1,
            ..f.clone()
        })
        .collect();
    let c = combine(&rounds);
    ensure(
        c.conn_rate == Some(200.0) && c.conn_errors == 3,
        "median of rounds",
    )?;
    ensure(c.rss_idle == Some(40.0), "memory kept")
}

fn proc_stat() -> Result<(), String> {
    let line = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0";
    ensure(
        stat_ticks(line) == Some(325),
        "utime + stime after the last `)`",
    )
}
