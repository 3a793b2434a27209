//! The page bodies, split by role: [`traffic`] (dashboard, routes,
//! connections) and [`policy`] (access, firewall, configuration, log).
//! Pure.

mod policy;
mod traffic;

pub use policy::{access, config, firewall, log};
pub use traffic::{connections, dashboard, ha_line, routes};
