//! Which node of `[ha]` this machine is, and which links carry the two
//! VIPs: the node whose address is on a local link, the link holding it
//! (internal), and the link with an address in the public VIP's network.
//! Pure: it reads an [`Observed`] snapshot.

use std::net::IpAddr;

use super::HaError;
use crate::config::{Ha, HaNode};
use crate::net::Observed;

/// This node's place in the pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// This node.
    pub me: HaNode,
    /// The other node.
    pub peer: HaNode,
    /// The link holding `me.address` (VRRP, conntrackd, sync).
    pub internal: String,
    /// The link on the public VIP's network.
    pub public: String,
}

/// Finds this node in `ha` from the addresses in `observed`.
pub fn locate(ha: &Ha, observed: &Observed) -> Result<Place, HaError> {
    let local: Vec<IpAddr> = observed
        .links
        .iter()
        .flat_map(|l| l.addresses.iter().map(|a| a.0.addr()))
        .collect();
    let Some((me, peer)) = ha.me(&local) else {
        return Err(HaError::NotANode {
            nodes: format!("{}, {}", ha.nodes[0].address, ha.nodes[1].address),
            local: local
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let holding = |pred: &dyn Fn(&crate::config::IfAddr) -> bool| {
        observed
            .links
            .iter()
            .find(|l| !l.loopback && l.addresses.iter().any(pred))
            .map(|l| l.name.clone())
    };
    let internal = holding(&|a| a.0.addr() == me.address).ok_or_else(|| HaError::NotANode {
        nodes: me.address.to_string(),
        local: String::new(),
    })?;
    let vip = ha.vip_public.0;
    let public = holding(&|a| a.0.addr() != me.address && a.0.trunc() == vip.trunc())
        .ok_or_else(|| HaError::NoPublicLink(vip.to_string()))?;
    Ok(Place {
        me: me.clone(),
        peer: peer.clone(),
        internal,
        public,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::IfAddr;
    use crate::net::{ObservedLink, OperState};

    pub(crate) fn ha() -> Ha {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/config/valid/ha-pair.toml"
        ))
        .expect("fixture");
        crate::config::parse(&text)
            .expect("valid")
            .ha
            .expect("[ha]")
    }

    fn link(name: &str, addrs: &[&str]) -> ObservedLink {
        ObservedLink {
            index: 1,
            name: name.into(),
            mac: None,
            loopback: false,
            up: true,
            carrier: true,
            oper_state: OperState::Up,
            mtu: 1500,
            addresses: addrs
                .iter()
                .map(|a| a.parse::<IfAddr>().expect("addr"))
                .collect(),
            counters: Default::default(),
        }
    }

    #[test]
    fn finds_node_b_and_its_links() {
        let obs = Observed {
            links: vec![
                link("ens3", &["192.168.10.6/24"]),
                link("ens4", &["10.0.0.3/24"]),
            ],
            routes: vec![],
        };
        let p = locate(&ha(), &obs).expect("placed");
        assert_eq!((p.me.name.as_str(), p.peer.name.as_str()), ("b", "a"));
        assert_eq!((p.internal.as_str(), p.public.as_str()), ("ens4", "ens3"));
    }

    #[test]
    fn a_stranger_is_told_which_addresses_were_seen() {
        let obs = Observed {
            links: vec![link("ens4", &["10.0.0.9/24"])],
            routes: vec![],
        };
        let e = locate(&ha(), &obs).expect_err("not a node").to_string();
        assert!(
            e.contains("10.0.0.2, 10.0.0.3") && e.contains("10.0.0.9"),
            "{e}"
        );
    }

    #[test]
    fn no_public_link_is_an_error() {
        let obs = Observed {
            links: vec![link("ens4", &["10.0.0.2/24"])],
            routes: vec![],
        };
        let e = locate(&ha(), &obs).expect_err("no public").to_string();
        assert!(e.contains("192.168.10.4/24"), "{e}");
    }
}
