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
}
