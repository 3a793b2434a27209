//! Server choice: round-robin, least-conn, source-hash (rendezvous hashing,
//! so a client keeps its server while the healthy set is unchanged, and only
//! the clients of a server that leaves move). Pure, no I/O.

use std::net::{IpAddr, SocketAddr};

use crate::config::{canonical_ip, Balance};

/// What the choice needs to know about one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// The server's address (the rendezvous hash key).
    pub addr: SocketAddr,
    /// Healthy.
    pub up: bool,
    /// Connections open now.
    pub active: u32,
}

/// Picks a healthy server, never `exclude` (a server that just failed).
/// `turn` is a counter the caller increments per connection.
pub fn pick(
    balance: Balance,
    servers: &[Candidate],
    client: IpAddr,
    turn: usize,
    exclude: Option<usize>,
) -> Option<usize> {
    let usable = |i: &usize| servers[*i].up && Some(*i) != exclude;
    let n = servers.len();
    match balance {
        Balance::RoundRobin => {
            let healthy: usize = (0..n).filter(usable).count();
            if healthy == 0 {
                return None;
            }
            (0..n).filter(usable).nth(turn % healthy)
        }
        Balance::LeastConn => (0..n)
            .map(|k| (k + turn) % n)
            .filter(usable)
            .min_by_key(|&i| servers[i].active),
        Balance::SourceHash => {
            let client = canonical_ip(client);
            (0..n)
                .filter(usable)
                .max_by_key(|&i| weight(client, servers[i].addr))
        }
    }
}

/// FNV-1a over client and server, then a 64-bit finaliser: stable across
/// runs and builds, unlike `std`'s hasher.
fn weight(client: IpAddr, server: SocketAddr) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    match client {
        IpAddr::V4(a) => eat(&a.octets()),
        IpAddr::V6(a) => eat(&a.octets()),
    }
    match server.ip() {
        IpAddr::V4(a) => eat(&a.octets()),
        IpAddr::V6(a) => eat(&a.octets()),
    }
    eat(&server.port().to_be_bytes());
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(n: u8) -> Vec<Candidate> {
        (0..n)
            .map(|i| Candidate {
                addr: SocketAddr::from(([10, 0, 0, 10 + i], 443)),
                up: true,
                active: 0,
            })
            .collect()
    }

    fn client(i: usize) -> IpAddr {
        IpAddr::from((0xc633_6400u32 + u32::try_from(i).unwrap_or(0)).to_be_bytes())
    }

    #[test]
    fn round_robin_skips_down_and_excluded() {
        let mut s = servers(3);
        let picks: Vec<_> = (0..6)
            .map(|t| pick(Balance::RoundRobin, &s, client(0), t, None))
            .collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2].map(Some));
        s[1].up = false;
        let picks: Vec<_> = (0..4)
            .map(|t| pick(Balance::RoundRobin, &s, client(0), t, None))
            .collect();
        assert_eq!(picks, [0, 2, 0, 2].map(Some));
        assert_eq!(
            pick(Balance::RoundRobin, &s, client(0), 0, Some(0)),
            Some(2)
        );
        s[2].up = false;
        assert_eq!(pick(Balance::RoundRobin, &s, client(0), 0, Some(0)), None);
    }

    #[test]
    fn least_conn_takes_the_idlest() {
        let mut s = servers(3);
        s[0].active = 5;
        s[1].active = 2;
        s[2].active = 7;
        assert_eq!(pick(Balance::LeastConn, &s, client(0), 0, None), Some(1));
        assert_eq!(pick(Balance::LeastConn, &s, client(0), 1, Some(1)), Some(0));
    }

    #[test]
    fn source_hash_is_sticky_spread_and_moves_only_the_lost_server_clients() {
        let mut s = servers(3);
        let before: Vec<_> = (0..300)
            .map(|i| pick(Balance::SourceHash, &s, client(i), i, None))
            .collect();
        let again: Vec<_> = (0..300)
            .map(|i| pick(Balance::SourceHash, &s, client(i), 7, None))
            .collect();
        assert_eq!(before, again, "same client, same server, whatever the turn");
        for k in 0..3 {
            let share = before.iter().filter(|p| **p == Some(k)).count();
            assert!(share > 60, "server {k} got {share}/300");
        }
        let IpAddr::V4(v4) = client(5) else {
            unreachable!("client() makes IPv4 addresses")
        };
        let mapped = IpAddr::V6(v4.to_ipv6_mapped());
        assert_eq!(pick(Balance::SourceHash, &s, mapped, 0, None), before[5]);
        s[1].up = false;
        for (i, old) in before.iter().enumerate() {
            let new = pick(Balance::SourceHash, &s, client(i), 0, None);
            if *old != Some(1) {
                assert_eq!(new, *old, "client {i} moved though its server stayed");
            } else {
                assert_ne!(new, Some(1));
            }
        }
    }
}
