//! `limits.conn_max` for the listeners, counted in the forwarder: the open
//! connections of each source (an IPv4 address, or an IPv6 prefix of
//! `limits.ipv6_prefix` bits), taken at accept and given back when the
//! connection ends. Only a completed handshake reaches accept, so SYNs
//! forged with a victim's address never use up the victim's slots (the
//! kernel's `ct count` counts half-open connections and cannot count
//! confirmed ones; it still meters the forwards). No I/O.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::canonical_ip;

/// The per-source counts and the limit in force (swapped on reload).
#[derive(Debug, Default)]
pub struct PerSource {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// `limits.conn_max`; `None`: no limit, nothing counted.
    max: Option<u32>,
    /// `limits.ipv6_prefix`.
    v6_prefix: u8,
    open: HashMap<IpAddr, u32>,
}

/// One connection's slot; given back on drop.
#[derive(Debug)]
pub struct Slot {
    owner: Arc<PerSource>,
    key: Option<IpAddr>,
}

impl PerSource {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the limit and the IPv6 prefix (a reload). Open connections keep
    /// their slots; a lower limit refuses new ones until enough end.
    pub fn configure(&self, max: Option<u32>, v6_prefix: u8) {
        let mut st = self.lock();
        if st.v6_prefix != v6_prefix {
            // Keys change with the prefix: start counting afresh.
            st.open.clear();
        }
        st.max = max;
        st.v6_prefix = v6_prefix;
    }

    /// A slot for a new connection from `peer`, or `None` if the source
    /// already has `conn_max` open connections.
    pub fn take(self: &Arc<Self>, peer: IpAddr) -> Option<Slot> {
        let mut st = self.lock();
        let Some(max) = st.max else {
            return Some(Slot {
                owner: self.clone(),
                key: None,
            });
        };
        let key = source_key(peer, st.v6_prefix);
        let n = st.open.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            owner: self.clone(),
            key: Some(key),
        })
    }

    /// Open connections counted for `peer`'s source.
    pub fn open(&self, peer: IpAddr) -> u32 {
        let st = self.lock();
        let key = source_key(peer, st.v6_prefix);
        st.open.get(&key).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut st = self.owner.lock();
        if let Some(n) = st.open.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                st.open.remove(&key);
            }
        }
    }
}

/// The address a source is counted under: IPv4 as is (also when mapped
/// into IPv6), IPv6 masked to `prefix` bits.
pub fn source_key(peer: IpAddr, prefix: u8) -> IpAddr {
    match canonical_ip(peer) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & mask))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn counts_open_connections_per_source_and_gives_slots_back() {
        let p = Arc::new(PerSource::default());
        p.configure(Some(2), 64);
        let a = ip("198.51.100.7");
        let (s1, s2) = (p.take(a).expect("1"), p.take(a).expect("2"));
        assert!(p.take(a).is_none(), "third refused");
        assert!(p.take(ip("::ffff:198.51.100.7")).is_none(), "mapped alike");
        assert!(p.take(ip("198.51.100.8")).is_some(), "another source");
        drop(s1);
        assert_eq!(p.open(a), 1);
        let s3 = p.take(a).expect("a slot came back");
        drop((s2, s3));
        assert_eq!(p.open(a), 0);
        assert!(p.lock().open.is_empty(), "no leftover keys");
    }

    #[test]
    fn ipv6_by_prefix_and_no_limit() {
        let p = Arc::new(PerSource::default());
        p.configure(Some(1), 64);
        let _one = p.take(ip("2001:db8::1")).expect("first");
        assert!(p.take(ip("2001:db8::ffff:2")).is_none(), "same /64");
        assert!(p.take(ip("2001:db8:0:1::1")).is_some(), "next /64");
        p.configure(None, 64);
        let many: Vec<Slot> = (0..100).filter_map(|_| p.take(ip("2001:db8::1"))).collect();
        assert_eq!(many.len(), 100);
        assert_eq!(source_key(ip("2001:db8::1"), 0), ip("::"));
        assert_eq!(source_key(ip("2001:db8::1"), 128), ip("2001:db8::1"));
    }
}
