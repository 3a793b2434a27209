//! The kernel data path: `render` (pure) the nftables ruleset from a `Config`, `apply` it atomically (I/O).
