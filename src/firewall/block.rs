//! The block sets: `limits.block` and the prefixes of `limits.block_file`,
//! merged (nft refuses overlapping intervals), one interval set per family.
//! Pure.
//!
//! Each set is named after its content: `block4_` or `block6_` and the
//! first 16 hex digits of the SHA-256 of its merged prefixes. Loading tens
//! of thousands of interval elements is most of the cost of an apply (nft
//! parses and sorts every one) and reading them back costs as much, while
//! listing the table's set names costs a few milliseconds: a loaded set of
//! the same name holds exactly these elements, and [`super::apply`] keeps
//! it instead of reloading it. (A digest in the set's comment would keep
//! the name fixed, but nft 1.0.6 drops set comments given in JSON.)

use std::borrow::Cow;
use std::collections::HashSet;

use nftables::expr::{Expression, NamedExpression, Prefix};
use nftables::schema::{Set, SetFlag};
use sha2::{Digest, Sha256};

use super::nfnl::Elem;
use super::ruleset::set;
use crate::config::Config;

/// How the names of the block sets start, IPv4 then IPv6.
pub const PREFIXES: [&str; 2] = ["block4_", "block6_"];

/// The block list of one family, merged, and the set's name.
pub struct Block {
    /// `block4_0123456789abcdef`.
    pub name: String,
    nets: Vec<ipnet::IpNet>,
    v4: bool,
}

impl Block {
    /// The block list of `cfg` for one family.
    pub fn new(cfg: &Config, v4: bool) -> Block {
        let nets = merged(cfg, v4);
        let prefix = if v4 { PREFIXES[0] } else { PREFIXES[1] };
        Block {
            name: format!("{prefix}{}", digest(&nets)),
            nets,
            v4,
        }
    }

    /// The interval set with its elements.
    pub fn set(&self) -> Set<'static> {
        let mut s = set("", self.v4, "limits.block");
        s.name = Cow::Owned(self.name.clone());
        s.flags = Some(HashSet::from([SetFlag::Interval]));
        let elems: Vec<Expression<'static>> = self.nets.iter().map(element).collect();
        s.elem = (!elems.is_empty()).then(|| Cow::Owned(elems));
        s
    }

    /// The set's elements as the kernel holds them, see [`elems`].
    #[cfg(test)]
    pub fn elems(&self) -> Vec<Elem> {
        elems(&self.nets, self.v4)
    }
}

/// The elements of a rendered block set (`None` for another set or an
/// element that is not an address or prefix), see [`elems`].
pub fn set_elems(s: &Set<'_>) -> Option<Vec<Elem>> {
    let v4 = s.name.starts_with(PREFIXES[0]);
    if !is_block_set(&s.name) {
        return None;
    }
    let mut nets = Vec::new();
    for e in s.elem.as_deref().unwrap_or_default() {
        let net = match e {
            Expression::String(a) => ipnet::IpNet::from(a.parse::<std::net::IpAddr>().ok()?),
            Expression::Named(NamedExpression::Prefix(p)) => match p.addr.as_ref() {
                Expression::String(a) => {
                    let ip = a.parse::<std::net::IpAddr>().ok()?;
                    ipnet::IpNet::new(ip, u8::try_from(p.len).ok()?).ok()?
                }
                _ => return None,
            },
            _ => return None,
        };
        nets.push(net);
    }
    Some(elems(&nets, v4))
}

/// The elements of an interval set holding `nets` (not overlapping) as
/// nft 1.0.6 sends them to the kernel: an interval end at 0 unless the
/// first interval starts there, then each interval's start and the
/// address after its end (an interval that reaches the last address has
/// no end; its start carries nft's "open interval" user data instead).
fn elems(nets: &[ipnet::IpNet], v4: bool) -> Vec<Elem> {
    let width = if v4 { 4 } else { 16 };
    let key = |n: u128| n.to_be_bytes()[16 - width..].to_vec();
    let mut ranges: Vec<(u128, u128)> = nets.iter().map(range).collect();
    ranges.sort_unstable();
    let mut out = Vec::with_capacity(ranges.len() * 2 + 1);
    let end = |k: u128| Elem {
        key: key(k),
        flags: INTERVAL_END,
        udata: None,
    };
    if ranges.first().is_some_and(|r| r.0 != 0) {
        out.push(end(0));
    }
    let max = if v4 { u128::from(u32::MAX) } else { u128::MAX };
    for (first, last) in ranges {
        let open = last == max;
        out.push(Elem {
            key: key(first),
            flags: 0,
            udata: open.then(|| OPEN_UDATA.to_vec()),
        });
        if !open {
            out.push(end(last + 1));
        }
    }
    out
}

/// `NFT_SET_ELEM_INTERVAL_END`.
const INTERVAL_END: u32 = 1;
/// nft's element user data for an interval open at the top:
/// `NFTNL_UDATA_SET_ELEM_FLAGS` (1), four bytes, `NFTNL_SET_ELEM_F_INTERVAL_OPEN` (1).
const OPEN_UDATA: [u8; 6] = [1, 4, 1, 0, 0, 0];

/// First and last address of a prefix, as numbers.
fn range(n: &ipnet::IpNet) -> (u128, u128) {
    match n {
        ipnet::IpNet::V4(n) => (
            u128::from(u32::from(n.network())),
            u128::from(u32::from(n.broadcast())),
        ),
        ipnet::IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast())),
    }
}

/// Whether `name` is the name of a block set.
pub fn is_block_set(name: &str) -> bool {
    PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The blocked prefixes of one family, overlaps and duplicates merged.
fn merged(cfg: &Config, v4: bool) -> Vec<ipnet::IpNet> {
    let nets: Vec<ipnet::IpNet> = cfg
        .limits
        .blocked()
        .filter(|c| c.is_ipv4() == v4)
        .map(|c| c.net())
        .collect();
    ipnet::IpNet::aggregate(&nets)
}

/// The first 16 hex digits of the SHA-256 of the prefixes, one per line.
fn digest(nets: &[ipnet::IpNet]) -> String {
    let mut h = Sha256::new();
    for n in nets {
        h.update(n.to_string().as_bytes());
        h.update(b"\n");
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn element(n: &ipnet::IpNet) -> Expression<'static> {
    let addr = super::expr::addr(n.network());
    if n.prefix_len() == n.max_prefix_len() {
        return addr;
    }
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(addr),
        len: u32::from(n.prefix_len()),
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cfg(block: &str) -> Config {
        crate::config::parse(&format!(
            "[limits]\nblock = [{block}]\n\n[[forward]]\nport = 2222\nto = \"10.0.0.20:22\"\n"
        ))
        .unwrap()
    }

    /// Duplicates and overlaps are merged before they reach nft, and the
    /// name follows the merged elements.
    #[test]
    fn overlaps_are_merged_and_the_name_follows_the_elements() {
        let a = cfg(r#""192.0.2.0/24", "192.0.2.7", "192.0.2.0/24", "2001:db8::/32""#);
        let b = cfg(r#""192.0.2.0/24", "2001:db8::/32""#);
        let c = cfg(r#""192.0.2.0/25", "2001:db8::/32""#);
        let (a4, b4, c4) = (
            Block::new(&a, true),
            Block::new(&b, true),
            Block::new(&c, true),
        );
        assert_eq!(a4.set().elem.as_ref().unwrap().len(), 1);
        assert!(a4.name.starts_with("block4_") && a4.name.len() == 7 + 16);
        assert_eq!(a4.name, b4.name);
        assert_ne!(a4.name, c4.name);
        assert_eq!(Block::new(&a, false).name, Block::new(&c, false).name);
        assert!(is_block_set(&a4.name) && !is_block_set("ban4"));
    }

    /// The elements are those nft 1.0.6 sends for the same list (seen with
    /// `nft --debug=netlink`): a leading interval end at 0, each start and
    /// the address after each end, and the open-interval mark at the top.
    #[test]
    fn elements_are_those_nft_sends() {
        let c = cfg(r#""10.0.1.0/24", "10.0.2.0/24", "10.0.4.7", "255.255.255.0/24""#);
        let got: Vec<(String, u32, bool)> = Block::new(&c, true)
            .elems()
            .iter()
            .map(|e| {
                let k: [u8; 4] = e.key.as_slice().try_into().unwrap();
                (
                    std::net::Ipv4Addr::from(k).to_string(),
                    e.flags,
                    e.udata.is_some(),
                )
            })
            .collect();
        let want = [
            ("0.0.0.0", 1, false),
            ("10.0.1.0", 0, false),
            ("10.0.2.0", 1, false),
            ("10.0.2.0", 0, false),
            ("10.0.3.0", 1, false),
            ("10.0.4.7", 0, false),
            ("10.0.4.8", 1, false),
            ("255.255.255.0", 0, true),
        ];
        let want: Vec<(String, u32, bool)> = want
            .iter()
            .map(|(a, f, o)| (a.to_string(), *f, *o))
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            set_elems(&Block::new(&c, true).set()),
            Some(Block::new(&c, true).elems())
        );
        let v6 = Block::new(&cfg(r#""::/0""#), false).elems();
        assert_eq!(v6.len(), 1, "starts at 0 and is open: {v6:?}");
        assert_eq!(v6[0].key, vec![0; 16]);
    }
}
