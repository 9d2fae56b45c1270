//! The HTML diagram in a real browser: headless Chromium (Debian's
//! `chromium`) driven by `playwright-core` through `browser/click.mjs`
//! opens the page `diagram -o run.html` writes, clicks an event, and the
//! test checks which events are highlighted and which are dimmed. The
//! screenshot is kept in `target/tmp/browser/`.
//!
//! Needs node, chromium and `npm ci` in `tests/browser`; `.ci/run` installs
//! them. Elsewhere the test says what is missing and skips, except under CI
//! (`CI` set), where a missing piece is a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Running;

/// Node 1 sends to node 2, which then sends to node 3; every node also has
/// an internal event. In clock terms:
///
/// ```text
/// node1  1.1 [1,0,0] send a  ->  2.2      1.2 [2,0,0] internal
/// node2  2.1 [0,1,0] internal  2.2 [1,2,0] receive a  2.3 [1,3,0] send b -> 3.2
/// node3  3.1 [0,0,1] internal  3.2 [1,3,2] receive b
/// ```
const LOGS: [(&str, &str); 3] = [
    (
        "node1.log",
        "node1 {\"node1\":1}\nSent to node 2: a\nnode1 {\"node1\":2}\nInternal event: x\n",
    ),
    (
        "node2.log",
        "node2 {\"node2\":1}\nInternal event: y\n\
         node2 {\"node1\":1, \"node2\":2}\nMessage received from node 1 (event 1.1): a\n\
         node2 {\"node1\":1, \"node2\":3}\nSent to node 3: b\n",
    ),
    (
        "node3.log",
        "node3 {\"node3\":1}\nInternal event: z\n\
         node3 {\"node1\":1, \"node2\":3, \"node3\":2}\nMessage received from node 2 (event 2.3): b\n",
    ),
];

/// What is missing to run the browser, if anything.
fn missing(browser_dir: &Path) -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (apt-get install chromium)"
        ));
    }
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|s| s.success()) {
        return Some("no `node` on PATH (apt-get install nodejs npm)".to_owned());
    }
    if !browser_dir.join("node_modules/playwright-core").exists() {
        return Some(format!(
            "playwright-core is not installed (run `npm ci` in {})",
            browser_dir.display()
        ));
    }
    None
}

/// Runs the page driver and returns its JSON output.
fn click(browser_dir: &Path, page: &Path, event: &str, screenshot: &Path) -> serde_json::Value {
    let mut child = Command::new("node")
        .arg("click.mjs")
        .arg(page)
        .arg(event)
        .arg(screenshot)
        .current_dir(browser_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the browser driver did not finish in 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "click.mjs failed: {stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad output from click.mjs ({e}): {stderr}"))
}

fn names(state: &serde_json::Value, class: &str) -> Vec<String> {
    let mut names: Vec<String> = state["events"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, e)| e["classes"].as_array().unwrap().iter().any(|c| c == class))
        .map(|(name, _)| name.clone())
        .collect();
    names.sort();
    names
}

#[test]
fn clicking_an_event_highlights_its_past_and_future_and_dims_the_rest() {
    let browser_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if let Some(what) = missing(&browser_dir) {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser test must run in CI, but {what}"
        );
        eprintln!("SKIPPED clicking_an_event_...: {what}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    for (name, text) in LOGS {
        std::fs::write(logs.join(name), text).unwrap();
    }
    let page = dir.path().join("run.html");
    let mut run = Running::spawn(
        "diagram",
        &[
            "diagram".as_ref(),
            logs.as_os_str(),
            "-o".as_ref(),
            page.as_os_str(),
        ],
        dir.path(),
    );
    assert!(run.wait_exit().success(), "{}", run.final_stderr());

    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("diagram-click-2.2.png");
    let _ = std::fs::remove_file(&screenshot);
    let state = click(&browser_dir, &page, "2.2", &screenshot);

    assert_eq!(state["errors"], serde_json::json!([]), "script errors");
    assert_eq!(state["requests"], serde_json::json!([]), "network requests");
    assert_eq!(state["highlightedBeforeClick"], 0);
    assert_eq!(names(&state, "selected"), ["2.2"]);
    assert_eq!(names(&state, "past"), ["1.1", "2.1"]);
    assert_eq!(names(&state, "future"), ["2.3", "3.2"]);
    assert_eq!(names(&state, "concurrent"), ["1.2", "3.1"]);
    // Dimmed means drawn faintly, not just labelled.
    for name in ["1.2", "3.1"] {
        let opacity: f64 = state["events"][name]["opacity"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(opacity < 0.5, "{name} is not dimmed: {opacity}");
    }
    assert_eq!(state["events"]["1.1"]["opacity"], "1");
    let messages = state["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    for m in messages {
        let expected = match (m["send"].as_str().unwrap(), m["receive"].as_str().unwrap()) {
            ("1.1", "2.2") => "past",
            ("2.3", "3.2") => "future",
            other => panic!("unexpected message {other:?}"),
        };
        assert_eq!(m["classes"], serde_json::json!([expected]), "{m}");
    }
    assert_eq!(state["selectedName"], "2.2 (node2)");
    assert_eq!(state["selectedClock"], "{\"node1\":1, \"node2\":2}");
    let info = state["info"].as_str().unwrap();
    assert!(
        info.contains("Message received from node 1 (event 1.1): a"),
        "{info}"
    );
    assert!(info.contains("2 before, 2 after, 2 concurrent"), "{info}");
    assert_eq!(
        state["highlightedAfterEscape"], 0,
        "Escape clears the selection"
    );
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 1000,
        "no screenshot at {}",
        screenshot.display()
    );
}
