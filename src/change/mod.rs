//! Safe changes of the running configuration: [`diff`] says what a new
//! config changes (pure); [`Changer`] applies it as a transaction across
//! the firewall, the interfaces and the user-space services, with
//! confirm-or-rollback, and restores a complete version at startup (does
//! I/O through the [`crate::store`] and the [`Steps`] the daemon provides).
//!
//! Wiring, in the daemon:
//!
//! ```ignore
//! let store = Store::open(&config.appliance.state_dir)?;
//! let changer = Changer::new(store, Arc::new(RealSteps { .. })); // impl Steps
//! changer.startup(Some(&file_text)).await?;   // restore, then first-boot/edited file
//! // SIGHUP:            changer.reload_file(&path).await
//! // apply (CLI / UI):  changer.apply(&text, Origin { author, source, comment }, within, force).await
//! // confirm / rollback: changer.confirm().await, changer.rollback(Some(n)).await
//! // UI log:            changer.subscribe() -> broadcast::Receiver<Event>
//! ```

mod diff;
mod exec;
mod hook;
mod kind;
mod outcome;
mod pending;
mod replica;
mod safety;
mod startup;
mod steps;
mod txn;

pub use diff::diff;
pub use hook::{Published, Replication, Snapshot};
pub use kind::Change;
pub use outcome::{ApplyOutcome, ChangeError, Event, EventKind};
pub use safety::{lockout, session_lockout, FORCED_CONFIRM};
pub use steps::{Step, StepError, Steps};
pub use txn::Changer;
