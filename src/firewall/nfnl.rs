//! nfnetlink spoken directly, for the two jobs where `nft` costs the most:
//! loading the elements of a new block set (nft spends most of a full
//! apply in its own interval handling, here) and listing the rules of the
//! table with their handles (nft fetches every set element first, see
//! [`super::dump`]); messages and attributes. I/O (a `NETLINK_NETFILTER`
//! socket in the current network namespace).
//!
//! Everything else (tables, chains, sets, rules) still goes through `nft`,
//! which keeps the table in the form `nft list ruleset` reads.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    recv, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};

use super::error::FirewallError;
use super::ruleset::TABLE;

pub(super) const SUBSYS_NFTABLES: u16 = 10;
const BATCH_BEGIN: u16 = 16;
const BATCH_END: u16 = 17;
const MSG_NEWTABLE: u16 = 0;
pub(super) const MSG_NEWRULE: u16 = 6;
const MSG_NEWSET: u16 = 9;
pub(super) const MSG_GETRULE: u16 = 7;
const MSG_NEWSETELEM: u16 = 12;
pub(super) const F_REQUEST: u16 = 0x1;
const F_ACK: u16 = 0x4;
pub(super) const F_DUMP: u16 = 0x300;
const F_CREATE: u16 = 0x400;
const F_EXCL: u16 = 0x200;
/// `NFT_SET_INTERVAL`.
const SET_INTERVAL: u32 = 0x4;
/// nft's set user data: `NFTNL_UDATA_SET_KEYBYTEORDER` (0), four bytes,
/// `BYTEORDER_BIG_ENDIAN` (2).
const KEY_BIG_ENDIAN: [u8; 6] = [0, 4, 2, 0, 0, 0];
pub(super) const F_DUMP_INTR: u16 = 0x10;
pub(super) const NLMSG_ERROR: u16 = 2;
pub(super) const NLMSG_DONE: u16 = 3;
pub(super) const NFPROTO_INET: u8 = 1;
const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;
/// An attribute's length is 16 bits: elements go in messages of at most this.
const ELEMS_PER_MSG: usize = 1024;

/// One element of an interval set as the kernel holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elem {
    /// The key, network byte order.
    pub key: Vec<u8>,
    /// `NFT_SET_ELEM_INTERVAL_END` (1) or 0.
    pub flags: u32,
    /// nft's element user data (`NFTNL_UDATA_SET_ELEM_FLAGS`), if any.
    pub udata: Option<Vec<u8>>,
}

/// A netlink message under construction (header, `nfgenmsg`, attributes).
#[derive(Default)]
pub(super) struct Buf {
    pub(super) data: Vec<u8>,
    seq: u32,
}

impl Buf {
    pub(super) fn begin(&mut self, ty: u16, flags: u16, family: u8, res_id: u16) -> usize {
        self.seq += 1;
        let start = self.data.len();
        self.data.extend_from_slice(&0u32.to_ne_bytes());
        self.data.extend_from_slice(&ty.to_ne_bytes());
        self.data.extend_from_slice(&flags.to_ne_bytes());
        self.data.extend_from_slice(&self.seq.to_ne_bytes());
        self.data.extend_from_slice(&0u32.to_ne_bytes());
        self.data.extend_from_slice(&[family, 0]);
        self.data.extend_from_slice(&res_id.to_be_bytes());
        start
    }

    /// Writes the length of what was added since `start` at `start`.
    pub(super) fn finish(&mut self, start: usize, header: usize) {
        let len = u32::try_from(self.data.len() - start).unwrap_or(u32::MAX);
        let bytes = if header == 4 {
            len.to_ne_bytes().to_vec()
        } else {
            u16::try_from(len)
                .unwrap_or(u16::MAX)
                .to_ne_bytes()
                .to_vec()
        };
        self.data[start..start + bytes.len()].copy_from_slice(&bytes);
    }

    pub(super) fn attr(&mut self, ty: u16, value: &[u8]) {
        let len = u16::try_from(4 + value.len()).unwrap_or(u16::MAX);
        self.data.extend_from_slice(&len.to_ne_bytes());
        self.data.extend_from_slice(&ty.to_ne_bytes());
        self.data.extend_from_slice(value);
        self.pad();
    }

    pub(super) fn strz(&mut self, ty: u16, s: &str) {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(ty, &v);
    }

    fn nest(&mut self, ty: u16) -> usize {
        let start = self.data.len();
        self.data.extend_from_slice(&0u16.to_ne_bytes());
        self.data
            .extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        start
    }

    fn pad(&mut self) {
        while !self.data.len().is_multiple_of(4) {
            self.data.push(0);
        }
    }
}

pub(super) fn io(action: &'static str) -> impl Fn(nix::Error) -> FirewallError {
    move |e| FirewallError::NftIo {
        action,
        source: std::io::Error::from(e),
    }
}

pub(super) fn open(action: &'static str, bytes: usize) -> Result<OwnedFd, FirewallError> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkNetFilter,
    )
    .map_err(io(action))?;
    setsockopt(&fd, sockopt::SndBufForce, &bytes.max(1 << 16)).map_err(io(action))?;
    setsockopt(&fd, sockopt::RcvBufForce, &(4 << 20)).map_err(io(action))?;
    Ok(fd)
}

/// A new interval set of addresses and its elements.
pub struct NewSet<'a> {
    /// Its name.
    pub name: &'a str,
    /// IPv4 (`ipv4_addr`) or IPv6 (`ipv6_addr`).
    pub v4: bool,
    /// Its elements, see [`super::block`].
    pub elems: Vec<Elem>,
}

/// Creates `sets` in `table inet parvis` with their elements (and the
/// table first when `with_table`) in one transaction, as nft 1.0.6 would
/// (same attributes and user data, seen with `nft --debug=mnl`). A set
/// that exists already makes the whole transaction fail: nothing is
/// created, so a set is never there without all its elements.
pub fn create_sets(with_table: bool, sets: &[NewSet<'_>]) -> Result<(), FirewallError> {
    const ACTION: &str = "load the new block sets";
    let mut b = Buf::default();
    let begin = b.begin(BATCH_BEGIN, F_REQUEST, 0, SUBSYS_NFTABLES);
    b.finish(begin, 4);
    let first = b.seq + 1;
    let flags = F_REQUEST | F_CREATE | F_ACK;
    if with_table {
        let m = b.begin(SUBSYS_NFTABLES << 8 | MSG_NEWTABLE, flags, NFPROTO_INET, 0);
        b.strz(1, TABLE); // NFTA_TABLE_NAME
        b.attr(2, &0u32.to_be_bytes()); // NFTA_TABLE_FLAGS
        b.finish(m, 4);
    }
    for (id, set) in (1u32..).zip(sets) {
        let m = b.begin(
            SUBSYS_NFTABLES << 8 | MSG_NEWSET,
            flags | F_EXCL,
            NFPROTO_INET,
            0,
        );
        b.strz(1, TABLE); // NFTA_SET_TABLE
        b.strz(2, set.name); // NFTA_SET_NAME
        b.attr(3, &SET_INTERVAL.to_be_bytes()); // NFTA_SET_FLAGS
        let (ty, len) = if set.v4 { (7u32, 4u32) } else { (8, 16) };
        b.attr(4, &ty.to_be_bytes()); // NFTA_SET_KEY_TYPE
        b.attr(5, &len.to_be_bytes()); // NFTA_SET_KEY_LEN
        b.attr(10, &id.to_be_bytes()); // NFTA_SET_ID
        b.attr(13, &KEY_BIG_ENDIAN); // NFTA_SET_USERDATA
        b.finish(m, 4);
        for chunk in set.elems.chunks(ELEMS_PER_MSG) {
            elements(&mut b, set.name, id, chunk);
        }
    }
    let last = b.seq;
    let end = b.begin(BATCH_END, F_REQUEST, 0, SUBSYS_NFTABLES);
    b.finish(end, 4);
    let fd = open(ACTION, b.data.len() + (1 << 16))?;
    sendto(
        fd.as_raw_fd(),
        &b.data,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )
    .map_err(io(ACTION))?;
    wait_acks(&fd, ACTION, first, last)
}

/// One `NEWSETELEM` message with `elems` for set `name` (or set `id` of
/// this transaction).
fn elements(b: &mut Buf, name: &str, id: u32, elems: &[Elem]) {
    let ty = SUBSYS_NFTABLES << 8 | MSG_NEWSETELEM;
    let m = b.begin(ty, F_REQUEST | F_CREATE | F_ACK, NFPROTO_INET, 0);
    b.strz(1, TABLE); // NFTA_SET_ELEM_LIST_TABLE
    b.strz(2, name); // NFTA_SET_ELEM_LIST_SET
    b.attr(4, &id.to_be_bytes()); // NFTA_SET_ELEM_LIST_SET_ID
    let list = b.nest(3); // NFTA_SET_ELEM_LIST_ELEMENTS
    for e in elems {
        let item = b.nest(1); // NFTA_LIST_ELEM
        let key = b.nest(1); // NFTA_SET_ELEM_KEY
        b.attr(1, &e.key); // NFTA_DATA_VALUE
        b.finish(key, 2);
        if e.flags != 0 {
            b.attr(3, &e.flags.to_be_bytes()); // NFTA_SET_ELEM_FLAGS
        }
        if let Some(u) = &e.udata {
            b.attr(6, u); // NFTA_SET_ELEM_USERDATA
        }
        b.finish(item, 2);
    }
    b.finish(list, 2);
    b.finish(m, 4);
}

/// Reads acknowledgements until the one for `last`; the first error
/// (the kernel then drops the whole batch) is returned.
fn wait_acks(
    fd: &OwnedFd,
    action: &'static str,
    first: u32,
    last: u32,
) -> Result<(), FirewallError> {
    let mut buf = vec![0u8; 1 << 17];
    loop {
        let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()).map_err(io(action))?;
        for (ty, _, seq, body) in messages(&buf[..n]) {
            if ty != NLMSG_ERROR || seq < first {
                continue;
            }
            let code = body
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map_or(0, i32::from_ne_bytes);
            if code != 0 {
                let err = std::io::Error::from_raw_os_error(-code);
                return Err(FirewallError::Refused {
                    action,
                    stderr: format!("netlink: {err}"),
                });
            }
            if seq == last {
                return Ok(());
            }
        }
    }
}

/// The netlink messages in `buf`: type, flags, sequence and body.
pub(super) fn messages(mut buf: &[u8]) -> impl Iterator<Item = (u16, u16, u32, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::try_from(u32::from_ne_bytes(buf.get(..4)?.try_into().ok()?)).ok()?;
        if len < 16 || len > buf.len() {
            return None;
        }
        let ty = u16::from_ne_bytes(buf[4..6].try_into().ok()?);
        let flags = u16::from_ne_bytes(buf[6..8].try_into().ok()?);
        let seq = u32::from_ne_bytes(buf[8..12].try_into().ok()?);
        let body = &buf[16..len];
        buf = buf.get(align(len)..).unwrap_or_default();
        Some((ty, flags, seq, body))
    })
}

/// The attributes in `buf`: type (flags masked off) and value.
pub(super) fn attributes(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes(buf.get(..2)?.try_into().ok()?));
        if len < 4 || len > buf.len() {
            return None;
        }
        let ty = u16::from_ne_bytes(buf[2..4].try_into().ok()?) & NLA_TYPE_MASK;
        let value = &buf[4..len];
        buf = buf.get(align(len)..).unwrap_or_default();
        Some((ty, value))
    })
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}
