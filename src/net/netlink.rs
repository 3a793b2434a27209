//! The rtnetlink adapter: [`observe`] reads links, addresses and routes;
//! [`apply`] carries out a plan, one request per change, with functions
//! named after their `ip` equivalent. A failure names the operation in `ip`
//! terms (`ip addr add 10.0.0.1/24 dev ens4: File exists`). Does I/O
//! (netlink, in the caller's network namespace).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage, State};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteType, RouteVia,
};
use rtnetlink::{AddressMessageBuilder, Handle, LinkUnspec, RouteMessageBuilder};

use super::metadata::Metadata;
use super::{
    plan, resolve, Counters, NetChange, NetError, Observed, ObservedLink, ObservedRoute, OperState,
    Roles,
};
use crate::config::{Cidr, Config, IfAddr, Mac};

/// Opens a netlink connection whose driver runs on the current runtime.
fn connect() -> Result<(Handle, tokio::task::JoinHandle<()>), NetError> {
    let (conn, handle, _) = rtnetlink::new_connection().map_err(NetError::Socket)?;
    Ok((handle, tokio::spawn(conn)))
}

/// Text of a netlink failure: the kernel's errno as `ip` prints it.
fn message(e: &rtnetlink::Error) -> String {
    match e {
        rtnetlink::Error::NetlinkError(m) => {
            let text = m.to_io().to_string();
            match text.find(" (os error") {
                Some(cut) => text[..cut].to_string(),
                None => text,
            }
        }
        other => other.to_string(),
    }
}

fn failed(op: impl ToString) -> impl FnOnce(rtnetlink::Error) -> NetError {
    move |e| NetError::Netlink {
        op: op.to_string(),
        message: message(&e),
    }
}

/// Reads links, addresses and the main routing table.
pub async fn observe() -> Result<Observed, NetError> {
    let (handle, conn) = connect()?;
    let result = observe_with(&handle).await;
    conn.abort();
    result
}

/// [`observe`] on an existing connection.
pub async fn observe_with(handle: &Handle) -> Result<Observed, NetError> {
    let mut links: Vec<ObservedLink> = handle
        .link()
        .get()
        .execute()
        .map_ok(|m| link(&m))
        .try_collect()
        .await
        .map_err(failed("ip link show"))?;
    let addrs: Vec<(u32, IfAddr)> = handle
        .address()
        .get()
        .execute()
        .try_collect::<Vec<_>>()
        .await
        .map_err(failed("ip addr show"))?
        .iter()
        .filter_map(address)
        .collect();
    for (index, a) in addrs {
        if let Some(l) = links.iter_mut().find(|l| l.index == index) {
            l.addresses.push(a);
        }
    }
    let mut routes = Vec::new();
    for query in [
        RouteMessageBuilder::<Ipv4Addr>::new().build(),
        RouteMessageBuilder::<Ipv6Addr>::new().build(),
    ] {
        let found: Vec<RouteMessage> = handle
            .route()
            .get(query)
            .execute()
            .try_collect()
            .await
            .map_err(failed("ip route show"))?;
        routes.extend(found.iter().filter_map(route));
    }
    Ok(Observed { links, routes })
}

fn oper_state(s: State) -> OperState {
    match s {
        State::Up => OperState::Up,
        State::Down => OperState::Down,
        State::LowerLayerDown => OperState::LowerLayerDown,
        State::Dormant => OperState::Dormant,
        State::NotPresent => OperState::NotPresent,
        State::Testing => OperState::Testing,
        _ => OperState::Unknown,
    }
}

fn link(m: &LinkMessage) -> ObservedLink {
    let flags = m.header.flags;
    let mut out = ObservedLink {
        index: m.header.index,
        name: String::new(),
        mac: None,
        loopback: flags.contains(LinkFlags::Loopback),
        up: flags.contains(LinkFlags::Up),
        carrier: flags.contains(LinkFlags::LowerUp),
        oper_state: OperState::Unknown,
        mtu: 0,
        addresses: Vec::new(),
        counters: Counters::default(),
    };
    for attr in &m.attributes {
        match attr {
            LinkAttribute::IfName(n) => out.name.clone_from(n),
            LinkAttribute::Address(a) => {
                out.mac = <[u8; 6]>::try_from(a.as_slice()).ok().map(Mac);
            }
            LinkAttribute::Mtu(mtu) => out.mtu = *mtu,
            LinkAttribute::OperState(s) => out.oper_state = oper_state(*s),
            LinkAttribute::Stats64(s) => {
                out.counters = Counters {
                    rx_bytes: s.rx_bytes,
                    rx_packets: s.rx_packets,
                    rx_errors: s.rx_errors,
                    rx_dropped: s.rx_dropped,
                    tx_bytes: s.tx_bytes,
                    tx_packets: s.tx_packets,
                    tx_errors: s.tx_errors,
                    tx_dropped: s.tx_dropped,
                }
            }
            _ => {}
        }
    }
    out
}

fn address(m: &AddressMessage) -> Option<(u32, IfAddr)> {
    // IPv4 carries the interface's own address in IFA_LOCAL (IFA_ADDRESS is
    // the peer on point-to-point links); IPv6 has only IFA_ADDRESS.
    let local = m.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    let addr = local.or_else(|| {
        m.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        })
    })?;
    let net = ipnet::IpNet::new(addr, m.header.prefix_len).ok()?;
    Some((m.header.index, IfAddr(net)))
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn route(m: &RouteMessage) -> Option<ObservedRoute> {
    let mut table = u32::from(m.header.table);
    let (mut dst, mut via, mut dev, mut metric) = (None, None, None, 0);
    for attr in &m.attributes {
        match attr {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(a) => dst = route_ip(a),
            RouteAttribute::Gateway(a) => via = route_ip(a),
            RouteAttribute::Via(RouteVia::Inet(v4)) => via = Some(IpAddr::V4(*v4)),
            RouteAttribute::Via(RouteVia::Inet6(v6)) => via = Some(IpAddr::V6(*v6)),
            RouteAttribute::Oif(i) => dev = Some(*i),
            RouteAttribute::Priority(p) => metric = *p,
            _ => {}
        }
    }
    if table != u32::from(netlink_packet_route::route::RouteHeader::RT_TABLE_MAIN)
        || m.header.kind != RouteType::Unicast
    {
        return None;
    }
    let v4 = m.header.address_family == netlink_packet_route::AddressFamily::Inet;
    let dst = dst.unwrap_or(if v4 {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    });
    let to: Cidr = format!("{dst}/{}", m.header.destination_prefix_length)
        .parse()
        .ok()?;
    Some(ObservedRoute {
        to,
        via,
        dev,
        metric,
    })
}

/// What `serve` does at start: observe, resolve the roles, plan and, unless
/// `dry_run`, apply. A plan that cannot be made touches nothing; a failing
/// change stops the rest (those before it stay applied).
pub async fn configure(
    cfg: &Config,
    meta: Option<&Metadata>,
    dry_run: bool,
) -> Result<(Roles, Vec<NetChange>), NetError> {
    let (handle, conn) = connect()?;
    let result = async {
        let observed = observe_with(&handle).await?;
        let roles = match &cfg.interfaces {
            Some(ifs) => resolve(ifs, &observed, meta)?,
            None => Roles::default(),
        };
        let changes = plan(cfg, &observed, meta)?;
        if !dry_run {
            apply_with(&handle, &changes).await?;
        }
        Ok((roles, changes))
    }
    .await;
    conn.abort();
    result
}

/// Carries out `changes` in order on a new connection; stops at the first
/// failure, which names the change in `ip` terms.
pub async fn apply(changes: &[NetChange]) -> Result<(), NetError> {
    let (handle, conn) = connect()?;
    let result = apply_with(&handle, changes).await;
    conn.abort();
    result
}

/// [`apply`] on an existing connection.
pub async fn apply_with(handle: &Handle, changes: &[NetChange]) -> Result<(), NetError> {
    for change in changes {
        let done = match change {
            NetChange::LinkSetUp { index, .. } => link_set_up(handle, *index).await,
            NetChange::LinkSetMtu { index, mtu, .. } => link_set_mtu(handle, *index, *mtu).await,
            NetChange::AddrAdd { index, addr, .. } => addr_add(handle, *index, *addr).await,
            NetChange::AddrDel { index, addr, .. } => addr_del(handle, *index, *addr).await,
            NetChange::RouteAdd { index, to, via, .. } => {
                route_add(handle, *index, *to, *via, false).await
            }
            NetChange::RouteReplace { index, to, via, .. } => {
                route_add(handle, *index, *to, *via, true).await
            }
        };
        done.map_err(failed(change))?;
    }
    Ok(())
}

/// `ip link set dev INDEX up`
pub async fn link_set_up(handle: &Handle, index: u32) -> Result<(), rtnetlink::Error> {
    let msg = LinkUnspec::new_with_index(index).up().build();
    handle.link().set(msg).execute().await
}

/// `ip link set dev INDEX mtu MTU`
pub async fn link_set_mtu(handle: &Handle, index: u32, mtu: u32) -> Result<(), rtnetlink::Error> {
    let msg = LinkUnspec::new_with_index(index).mtu(mtu).build();
    handle.link().set(msg).execute().await
}

/// `ip addr add ADDR dev INDEX`
pub async fn addr_add(handle: &Handle, index: u32, addr: IfAddr) -> Result<(), rtnetlink::Error> {
    handle
        .address()
        .add(index, addr.0.addr(), addr.0.prefix_len())
        .execute()
        .await
}

/// `ip addr del ADDR dev INDEX`
pub async fn addr_del(handle: &Handle, index: u32, addr: IfAddr) -> Result<(), rtnetlink::Error> {
    let len = addr.0.prefix_len();
    let msg = match addr.0.addr() {
        IpAddr::V4(v4) => AddressMessageBuilder::<Ipv4Addr>::new()
            .index(index)
            .address(v4, len)
            .build(),
        IpAddr::V6(v6) => AddressMessageBuilder::<Ipv6Addr>::new()
            .index(index)
            .address(v6, len)
            .build(),
    };
    handle.address().del(msg).execute().await
}

fn invalid(e: impl std::fmt::Display) -> rtnetlink::Error {
    rtnetlink::Error::InvalidNla(e.to_string())
}

/// `ip route add TO via VIA dev INDEX` (`ip route replace …` when `replace`).
pub async fn route_add(
    handle: &Handle,
    index: u32,
    to: Cidr,
    via: IpAddr,
    replace: bool,
) -> Result<(), rtnetlink::Error> {
    let msg = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(to.addr(), to.prefix_len())
        .map_err(invalid)?
        .gateway(via)
        .map_err(invalid)?
        .output_interface(index)
        .build();
    let request = handle.route().add(msg);
    if replace {
        request.replace().execute().await
    } else {
        request.execute().await
    }
}
