//! The page bodies, split by role: [`traffic`] (dashboard, routes,
//! connections) with [`backends`], [`policy`] (access, firewall, configuration) and
//! [`log`] (the connection and event logs). Pure.

mod backends;
mod log;
mod policy;
mod traffic;

pub use log::log;
pub use policy::{access, config, firewall};
pub use traffic::{connections, dashboard, ha_line, routes};
