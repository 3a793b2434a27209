//! Safe changes of the running configuration: [`diff`] says what a new
//! config changes (pure); [`txn`] applies it as a transaction across the
//! firewall, the interfaces and the user-space services, with
//! confirm-or-rollback (does I/O through the [`crate::store`] and the
//! [`Steps`] the daemon provides).

mod diff;

pub use diff::{diff, Change};
