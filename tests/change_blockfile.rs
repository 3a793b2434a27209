//! `limits.block_file` through the change engine (real store on disk, the
//! kernel steps recorded by the test double of `change_support`): the file
//! is read at every apply, so the same config text is a change when the
//! file's content changed, and no change when it did not.

mod change_support;

use change_support::{cli, running_a, Knobs};
use parvis::change::ApplyOutcome;

#[tokio::test]
async fn the_same_text_is_applied_again_when_the_block_file_changed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ch, rec) = running_a(dir.path()).await;
    let file = dir.path().join("block.txt");
    std::fs::write(&file, "# feed\n203.0.113.0/28\n").expect("write");
    let text = format!(
        "{}\n[limits]\nblock_file = \"{}\"\n",
        Knobs::new("a").text(),
        file.display()
    );
    let out = ch.apply(&text, cli(), None, false).await.expect("apply");
    assert!(
        matches!(out, ApplyOutcome::Applied { version: 2, .. }),
        "{out:?}"
    );
    assert_eq!(rec.take(), ["check:a", "firewall:a"]);

    let out = ch.apply(&text, cli(), None, false).await.expect("apply");
    assert_eq!(out, ApplyOutcome::Unchanged { version: 2 });
    assert_eq!(rec.take(), Vec::<String>::new());

    std::fs::write(&file, "203.0.113.0/28\n192.0.2.1\n").expect("write");
    let out = ch.apply(&text, cli(), None, false).await.expect("apply");
    let ApplyOutcome::Applied {
        version: 3,
        changes,
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(rec.take(), ["check:a", "firewall:a"]);
    let said: Vec<String> = changes.iter().map(ToString::to_string).collect();
    assert_eq!(said.len(), 1, "{said:?}");
    let want = format!(
        "ruleset: limits.block_file {} (1 prefixes, ",
        file.display()
    );
    assert!(said[0].starts_with(&want), "{said:?}");
    assert!(said[0].contains("(2 prefixes, "), "{said:?}");
}
