//! Safe changes of the running configuration: [`diff`] says what a new
//! config changes (pure); [`Changer`] applies it as a transaction across
//! the firewall, the interfaces and the user-space services, with
//! confirm-or-rollback, and restores a complete version at startup (does
//! I/O through the [`crate::store`] and the [`Steps`] the daemon provides).

mod diff;
mod exec;
mod kind;
mod outcome;
mod pending;
mod safety;
mod startup;
mod steps;
mod txn;

pub use diff::diff;
pub use kind::Change;
pub use outcome::{ApplyOutcome, ChangeError, Event, EventKind};
pub use safety::{lockout, FORCED_CONFIRM};
pub use steps::{Step, StepError, Steps};
pub use txn::Changer;
