//! The block sets `block4` / `block6`: `limits.block` and the prefixes of
//! `limits.block_file`, merged (nft refuses overlapping intervals). Pure.
//!
//! The comment of the rule that drops a set's sources carries the number
//! of prefixes and a digest of them (a set's own comment would do, but nft
//! 1.0.6 drops set comments given in JSON). Loading tens of thousands of
//! interval elements is most of the cost of an apply (nft parses and sorts
//! every one), and reading them back costs as much; the comment lets
//! [`super::apply`] tell from the terse listing alone whether the loaded
//! set holds exactly these elements, and keep it instead of reloading it.

use std::borrow::Cow;
use std::collections::HashSet;

use nftables::expr::{Expression, NamedExpression, Prefix};
use nftables::schema::{Set, SetFlag};
use sha2::{Digest, Sha256};

use super::ruleset::set;
use crate::config::Config;

/// How the comment of a block rule starts.
pub const RULE_COMMENT: &str = "limits.block:";

/// The names of the block sets, IPv4 then IPv6.
pub const SETS: [&str; 2] = ["block4", "block6"];

/// `block4` and `block6` with their elements.
pub fn sets(cfg: &Config) -> Vec<Set<'static>> {
    [true, false]
        .into_iter()
        .map(|v4| {
            let nets = merged(cfg, v4);
            let mut s = set(if v4 { SETS[0] } else { SETS[1] }, v4, "limits.block");
            s.flags = Some(HashSet::from([SetFlag::Interval]));
            let elems: Vec<Expression<'static>> = nets.iter().map(element).collect();
            s.elem = (!elems.is_empty()).then(|| Cow::Owned(elems));
            s
        })
        .collect()
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

/// The comment of the rule dropping the sources in one family's set:
/// `limits.block: block4 holds N prefixes, sha256 0123456789abcdef` (the
/// digest of the merged prefixes, so equal comments mean equal elements).
pub fn rule_comment(cfg: &Config, v4: bool) -> String {
    let nets = merged(cfg, v4);
    let mut h = Sha256::new();
    for n in &nets {
        h.update(n.to_string().as_bytes());
        h.update(b"\n");
    }
    let digest: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let set = if v4 { SETS[0] } else { SETS[1] };
    format!(
        "{} {set} holds {} prefixes, sha256 {digest}",
        RULE_COMMENT,
        nets.len()
    )
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

    fn comment_of(c: &Config, v4: bool) -> String {
        rule_comment(c, v4)
    }

    /// Duplicates and overlaps are merged before they reach nft, and the
    /// comment counts and digests the merged list.
    #[test]
    fn overlaps_are_merged_and_the_comment_follows_the_elements() {
        let a = cfg(r#""192.0.2.0/24", "192.0.2.7", "192.0.2.0/24", "2001:db8::/32""#);
        let b = cfg(r#""192.0.2.0/24", "2001:db8::/32""#);
        let c = cfg(r#""192.0.2.0/25", "2001:db8::/32""#);
        assert_eq!(sets(&a)[0].elem.as_ref().unwrap().len(), 1);
        assert!(comment_of(&a, true).starts_with("limits.block: block4 holds 1 prefixes, sha256 "));
        assert_eq!(comment_of(&a, true), comment_of(&b, true));
        assert_ne!(comment_of(&a, true), comment_of(&c, true));
        assert_eq!(comment_of(&a, false), comment_of(&c, false));
        assert!(comment_of(&a, true).len() <= 128);
    }
}
