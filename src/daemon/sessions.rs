//! Who is connected to the admin port and SSH right now: the remote
//! addresses of established TCP connections to those ports, read from
//! `/proc/net/tcp` and `/proc/net/tcp6` of the daemon's network namespace.
//! A SIGHUP has no caller of its own, so these sessions stand for it in the
//! lock-out safety net. Does I/O (reads procfs); the parser is pure.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::{canonical_ip, Config};

/// `st` of an established connection in `/proc/net/tcp`.
const ESTABLISHED: &str = "01";

/// The ports whose sessions a change must not cut: SSH and the admin port.
pub fn guarded_ports(cfg: &Config) -> Vec<u16> {
    let mut ports = vec![cfg.admin.ssh_port, cfg.admin.listen.port()];
    ports.dedup();
    ports
}

/// The distinct peers of established connections to one of `ports`, read
/// now. A file that cannot be read (no IPv6) counts as no connection.
pub fn peers(ports: &[u16]) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(path) {
            out.extend(parse(&text, ports));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The remote addresses of the established connections in a
/// `/proc/net/tcp{,6}` text whose local port is one of `ports`
/// (canonical: IPv4-mapped IPv6 as IPv4). Lines that do not parse are
/// skipped.
pub fn parse(text: &str, ports: &[u16]) -> Vec<IpAddr> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split_whitespace().skip(1);
            let (local, remote, state) = (fields.next()?, fields.next()?, fields.next()?);
            let (_, local_port) = endpoint(local)?;
            let (peer, _) = endpoint(remote)?;
            (state == ESTABLISHED && ports.contains(&local_port)).then(|| canonical_ip(peer))
        })
        .collect()
}

/// `ADDR:PORT` as procfs prints it: the address as 32-bit words in the
/// kernel's byte order, the port in hex.
fn endpoint(field: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for word in addr.as_bytes().chunks(8) {
        let word = u32::from_str_radix(std::str::from_utf8(word).ok()?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => return None,
    };
    Some((ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `word` as procfs prints it on this machine.
    fn hex(octets: &[u8]) -> String {
        octets
            .chunks(4)
            .map(|w| {
                let w = u32::from_ne_bytes([w[0], w[1], w[2], w[3]]);
                format!("{w:08X}")
            })
            .collect()
    }

    #[test]
    fn established_peers_of_the_guarded_ports_only() {
        let head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        let local = hex(&[192, 168, 10, 5]);
        let admin = hex(&[198, 51, 100, 10]);
        let other = hex(&[203, 0, 113, 9]);
        let text = format!(
            "{head}   0: {local}:20FB {admin}:C350 01 00000000:00000000 00:00000000 00000000 0 0 1\n\
             1: {local}:0016 {other}:C351 01 00000000:00000000 00:00000000 00000000 0 0 2\n\
             2: {local}:01BB {other}:C352 01 00000000:00000000 00:00000000 00000000 0 0 3\n\
             3: {local}:0016 {admin}:C353 06 00000000:00000000 00:00000000 00000000 0 0 4\n\
             4: {local}:20FB 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 5\n\
             junk\n"
        );
        let got = parse(&text, &[22, 8443]);
        let want: Vec<IpAddr> = ["198.51.100.10", "203.0.113.9"]
            .iter()
            .map(|s| s.parse().expect("ip"))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn ipv6_and_mapped_peers() {
        let local = hex(&Ipv6Addr::LOCALHOST.octets());
        let v6: Ipv6Addr = "2001:db8::7".parse().expect("ip");
        let mapped = Ipv4Addr::new(198, 51, 100, 10).to_ipv6_mapped();
        let text = format!(
            "head\n 0: {local}:0016 {}:C350 01 rest\n 1: {local}:0016 {}:C351 01 rest\n",
            hex(&v6.octets()),
            hex(&mapped.octets())
        );
        let got = parse(&text, &[22]);
        assert_eq!(
            got,
            vec![IpAddr::V6(v6), IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10))]
        );
    }

    #[test]
    fn reads_a_real_connection_of_this_namespace() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let _server = listener.accept().expect("accept");
        assert!(
            peers(&[port]).contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)),
            "{:?}",
            peers(&[port])
        );
        assert_eq!(parse("head\n", &[port]), Vec::<IpAddr>::new());
    }
}
