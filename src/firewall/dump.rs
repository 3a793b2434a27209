//! The rules of `table inet parvis` listed over nfnetlink: chain, handle
//! and comment of each, without set elements (`nft` would fetch every one
//! of them first). I/O (a `NETLINK_NETFILTER` socket in the current
//! network namespace).

use std::os::fd::AsRawFd;

use nix::sys::socket::{recv, sendto, MsgFlags, NetlinkAddr};

use super::error::FirewallError;
use super::nfnl::{
    attributes, io, messages, open, Buf, F_DUMP, F_DUMP_INTR, F_REQUEST, MSG_GETRULE, MSG_NEWRULE,
    NFPROTO_INET, NLMSG_DONE, NLMSG_ERROR, SUBSYS_NFTABLES,
};
use super::ruleset::TABLE;

/// A rule as dumped by the kernel: enough to find it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedRule {
    /// Its chain.
    pub chain: String,
    /// Its kernel handle.
    pub handle: u64,
    /// Its comment (nft's rule user data), empty when none.
    pub comment: String,
}

/// Every rule of `table inet parvis`, in chain order, from one dump.
/// A dump interrupted by a concurrent change is restarted.
pub fn rules() -> Result<Vec<DumpedRule>, FirewallError> {
    const ACTION: &str = "list the rules";
    for _ in 0..5 {
        if let Some(rules) = dump_once(ACTION)? {
            return Ok(rules);
        }
    }
    Err(FirewallError::Refused {
        action: ACTION,
        stderr: "the ruleset kept changing during the dump".into(),
    })
}

fn dump_once(action: &'static str) -> Result<Option<Vec<DumpedRule>>, FirewallError> {
    let mut b = Buf::default();
    let m = b.begin(
        SUBSYS_NFTABLES << 8 | MSG_GETRULE,
        F_REQUEST | F_DUMP,
        NFPROTO_INET,
        0,
    );
    b.strz(1, TABLE); // NFTA_RULE_TABLE
    b.finish(m, 4);
    let fd = open(action, 1 << 16)?;
    sendto(
        fd.as_raw_fd(),
        &b.data,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )
    .map_err(io(action))?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 17];
    let mut intr = false;
    loop {
        let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()).map_err(io(action))?;
        for (ty, flags, _, body) in messages(&buf[..n]) {
            intr |= flags & F_DUMP_INTR != 0;
            match ty {
                NLMSG_DONE => return Ok((!intr).then_some(out)),
                NLMSG_ERROR => {
                    let code = body
                        .get(..4)
                        .and_then(|b| b.try_into().ok())
                        .map_or(0, i32::from_ne_bytes);
                    if code == -libc::ENOENT {
                        return Err(FirewallError::NoTable);
                    }
                    let err = std::io::Error::from_raw_os_error(-code);
                    return Err(FirewallError::Refused {
                        action,
                        stderr: format!("netlink: {err}"),
                    });
                }
                t if t == SUBSYS_NFTABLES << 8 | MSG_NEWRULE => {
                    out.extend(rule(body.get(4..).unwrap_or_default()));
                }
                _ => {}
            }
        }
    }
}

/// The chain, handle and comment of one dumped rule (after `nfgenmsg`).
fn rule(attrs: &[u8]) -> Option<DumpedRule> {
    let mut r = DumpedRule {
        chain: String::new(),
        handle: 0,
        comment: String::new(),
    };
    for (ty, v) in attributes(attrs) {
        match ty {
            2 => r.chain = cstr(v),
            3 => r.handle = u64::from_be_bytes(v.get(..8)?.try_into().ok()?),
            7 => r.comment = comment(v).unwrap_or_default(),
            _ => {}
        }
    }
    Some(r)
}

/// The comment in nft's rule user data: type 0, a length byte, the text.
fn comment(mut udata: &[u8]) -> Option<String> {
    while udata.len() >= 2 {
        let (ty, len) = (udata[0], usize::from(udata[1]));
        let value = udata.get(2..2 + len)?;
        if ty == 0 {
            return Some(cstr(value));
        }
        udata = &udata[2 + len..];
    }
    None
}

fn cstr(v: &[u8]) -> String {
    let end = v.iter().position(|b| *b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Attributes are padded to four bytes and read back; a comment is
    /// found in nft's rule user data.
    #[test]
    fn attributes_round_trip_and_comments_are_read() {
        let mut b = Buf::default();
        b.strz(2, "guard");
        b.attr(3, &7u64.to_be_bytes());
        b.attr(7, &[1, 2, 9, 9, 0, 4, b'a', b'b', b'c', 0]);
        let r = rule(&b.data).expect("a rule");
        assert_eq!(r.chain, "guard");
        assert_eq!(r.handle, 7);
        assert_eq!(r.comment, "abc");
        assert_eq!(comment(&[0, 9, b'x']), None, "a length past the end");
    }
}
