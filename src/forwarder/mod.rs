//! The SNI/Host-routing TLS-passthrough forwarder. Pure parts: [`hello`],
//! [`http`], [`route`], [`proxy_header`], [`balance`]. I/O: listeners,
//! health checks and the relay.

pub mod hello;
