//! Carrying out one version: the check, then the steps it needs, in order,
//! undoing them in reverse if one fails. Does I/O through the [`Steps`].

use super::outcome::{ChangeError, EventKind};
use super::steps::{call, Step, StepError};
use super::txn::Changer;
use super::Change;
use crate::config::Config;
use crate::store::VersionState;

/// A failed step, with what undoing it left behind.
struct Failure {
    step: Step,
    error: StepError,
    undo_failures: Vec<(Step, String)>,
}

impl Changer {
    /// Check, then the steps `changes` needs (all of them when `None`);
    /// on failure, undoes and marks `version` failed.
    pub(super) async fn run(
        &self,
        version: u64,
        new: &Config,
        old: Option<&Config>,
        changes: Option<&[Change]>,
    ) -> Result<(), ChangeError> {
        let store = &self.inner.store;
        if let Err(e) = call(&*self.inner.steps, Step::Check, new).await {
            store.set_state(version, VersionState::Failed, Some(format!("check: {e}")))?;
            let err = ChangeError::CheckFailed {
                version,
                message: e.message,
            };
            self.emit(EventKind::Failed, Some(version), err.to_string());
            return Err(err);
        }
        let Err(f) = self.steps(new, old, &needed(old, new, changes)).await else {
            return Ok(());
        };
        store.set_state(
            version,
            VersionState::Failed,
            Some(format!("{}: {}", f.step, f.error)),
        )?;
        let err = ChangeError::StepFailed {
            version,
            step: f.step,
            message: f.error.message,
            undo_failures: f.undo_failures,
        };
        self.emit(EventKind::Failed, Some(version), err.to_string());
        Err(err)
    }

    /// Runs `todo` in order with `new`. If one fails, re-runs it and then the
    /// ones before it, in reverse, with `old`: the failed step too, since a
    /// step such as the interfaces may stop halfway.
    async fn steps(
        &self,
        new: &Config,
        old: Option<&Config>,
        todo: &[Step],
    ) -> Result<(), Failure> {
        let steps = &*self.inner.steps;
        for (k, &step) in todo.iter().enumerate() {
            let Err(error) = call(steps, step, new).await else {
                continue;
            };
            let mut undo_failures = Vec::new();
            if let Some(old) = old {
                for &undo in todo[..=k].iter().rev() {
                    if let Err(e) = call(steps, undo, old).await {
                        undo_failures.push((undo, e.message));
                    }
                }
            }
            return Err(Failure {
                step,
                error,
                undo_failures,
            });
        }
        Ok(())
    }
}

/// The apply steps going from `old` to `new` needs, in order; all of them
/// when the changes are unknown. The firewall step runs when the rendered
/// rulesets differ (a `[metrics]` or `admin.listen` move changes the input
/// chain's accept rules), not by a list of change kinds; with no `old` to
/// render, the kinds decide.
pub(super) fn needed(old: Option<&Config>, new: &Config, changes: Option<&[Change]>) -> Vec<Step> {
    let Some(changes) = changes else {
        return Step::APPLY.to_vec();
    };
    let mut out = Vec::new();
    let firewall = match old {
        Some(old) => crate::firewall::render(old) != crate::firewall::render(new),
        None => changes.iter().any(Change::needs_firewall),
    };
    if firewall {
        out.push(Step::Firewall);
    }
    if changes.iter().any(Change::needs_net) {
        out.push(Step::Net);
    }
    if changes.iter().any(Change::needs_forwarder) {
        out.push(Step::Forwarder);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::change::diff;
    use crate::config::parse;

    const BASE: &str = "[admin]\nlisten = \"0.0.0.0:8443\"\nallow = [\"198.51.100.0/24\"]\n\n[[forward]]\nport = 2222\nto = \"10.0.0.20:22\"\n";

    fn steps_for(extra: &str) -> Vec<Step> {
        let old = parse(BASE).unwrap();
        let new = parse(&format!("{BASE}{extra}")).unwrap();
        let changes = diff(&old, &new);
        needed(Some(&old), &new, Some(&changes))
    }

    /// A metrics-only change opens the metrics port in the input chain: the
    /// rendered rulesets differ, so the firewall is re-applied.
    #[test]
    fn a_metrics_only_change_reapplies_the_firewall() {
        let steps = steps_for("\n[metrics]\nlisten = \"0.0.0.0:9100\"\n");
        assert!(steps.contains(&Step::Firewall), "{steps:?}");
    }

    /// Nothing the ruleset renders changed: no firewall step.
    #[test]
    fn an_unchanged_ruleset_is_not_reapplied() {
        let old = parse(BASE).unwrap();
        let new =
            parse(&BASE.replace("[admin]", "[appliance]\nname = \"other\"\n\n[admin]")).unwrap();
        let changes = diff(&old, &new);
        assert!(!changes.is_empty());
        let steps = needed(Some(&old), &new, Some(&changes));
        assert!(!steps.contains(&Step::Firewall), "{steps:?}");
    }
}
