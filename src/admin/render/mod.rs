//! The page bodies, split by role: [`traffic`] (dashboard, routes,
//! connections) with [`backends`], [`policy`] (access, firewall, configuration) and
//! [`log`] (the connection and event logs), [`pair`] (the HA pair on the
//! dashboard). Pure.

mod backends;
mod log;
mod pair;
mod policy;
mod traffic;

pub use log::log;
pub use pair::ha_line;
pub use policy::{access, config, firewall};
pub use traffic::{connections, dashboard, routes};
