//! `FirewallError`: everything that can go wrong between a `Config` and the
//! kernel's ruleset. Pure (types only).

use std::net::IpAddr;

/// Why a ruleset could not be rendered, checked, applied or read.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// The `nft` binary is not installed or not on `PATH`.
    #[error("the nft binary was not found: install nftables (Debian: apt-get install nftables)")]
    NftMissing,
    /// `nft` could not be started or talked to.
    #[error("could not run nft {action}: {source}")]
    NftIo {
        /// What parvis asked nft to do.
        action: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// nft refused the ruleset or command; the previous ruleset stays in force.
    #[error("nft refused to {action}; the previous ruleset is still in force:\n{stderr}")]
    Refused {
        /// What parvis asked nft to do.
        action: &'static str,
        /// nft's own error text.
        stderr: String,
    },
    /// `table inet parvis` does not exist in this network namespace.
    #[error("table inet parvis is not loaded in this network namespace")]
    NoTable,
    /// nft printed JSON parvis could not understand.
    #[error("could not read nft's JSON output ({what}): {detail}")]
    BadOutput {
        /// Which listing.
        what: &'static str,
        /// The parse problem.
        detail: String,
    },
    /// The table read back after applying differs from what was rendered.
    #[error("the ruleset read back from the kernel differs from the rendered one: {detail}")]
    Mismatch {
        /// The first difference found.
        detail: String,
    },
    /// A ban timeout of zero or beyond what nft accepts (about 49 days).
    #[error("a ban for {addr} must last between 1s and 49 days")]
    BanDuration {
        /// The address.
        addr: IpAddr,
    },
    /// A sysctl could not be written.
    #[error("could not set sysctl {key}: {source}")]
    Sysctl {
        /// The dotted key, e.g. `net.ipv4.ip_forward`.
        key: String,
        /// The I/O error.
        source: std::io::Error,
    },
}
