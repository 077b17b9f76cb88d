//! `scripts/package.sh`'s tarball, unpacked in a temporary directory and run as someone without
//! Rust would: no `cargo` on the PATH, no environment from the build, the embedded default
//! (SQLite in `./data`, in-process nodes). It serves its pages with their hashed site files,
//! decides an event at its deadline, and stops cleanly on SIGTERM.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{event_input, intervals_tomorrow, Browser, TempDir};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The target directory this test was built in (`<target>/debug/deps/<test>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).expect("<target>/debug/deps/<test>").to_owned()
}

/// `systemd-analyze verify` on the release's units, pointed at the unpacked binaries.
fn verify_units(release: &Path) {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "systemd-analyze is needed: run scripts/setup.sh test");
        eprintln!("skipped: no systemd-analyze to check the units");
        return;
    }
    let units = TempDir::new();
    for (unit, as_name) in [("whenly.service", "whenly.service"), ("event-node@.service", "event-node@n1.service"), ("whenly-backup.service", "whenly-backup.service"), ("whenly-backup.timer", "whenly-backup.timer")] {
        let text = std::fs::read_to_string(release.join("deploy").join(unit)).unwrap();
        assert!(unit.ends_with(".timer") || text.contains("/opt/whenly/bin/"), "{unit} runs the release from /opt/whenly");
        std::fs::write(units.path.join(as_name), text.replace("/opt/whenly", &release.display().to_string())).unwrap();
    }
    let verified = Command::new("systemd-analyze")
        .arg("verify")
        .args(["whenly.service", "event-node@n1.service", "whenly-backup.service", "whenly-backup.timer"].map(|unit| units.path.join(unit)))
        .output()
        .unwrap();
    assert!(verified.status.success(), "systemd-analyze verify: {}", String::from_utf8_lossy(&verified.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_release_runs_unpacked_without_cargo() {
    let out = TempDir::new();
    // scripts/test.sh packages its cargo-leptos build before `cargo test` rebuilds the server.
    let tarball = match std::env::var("WHENLY_TEST_RELEASE") {
        Ok(tarball) => tarball,
        Err(_) => match package_this_build(&out.path) {
            Some(tarball) => tarball,
            None => return,
        },
    };
    assert!(tarball.ends_with("-linux.tar.gz") && Path::new(&tarball).is_file(), "{tarball}");
    run_the_release(&tarball).await;
}

/// `scripts/package.sh --debug` on what is built; `None` (a failure under `CI=true`) when the
/// site was not built.
fn package_this_build(out: &Path) -> Option<String> {
    let built = [Path::new(ROOT).join("target/site/pkg"), target_dir().join("debug/hash.txt"), target_dir().join("debug/event-node")];
    if let Some(missing) = built.iter().find(|path| !path.exists()) {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{} is missing: `cargo leptos build` first (scripts/test.sh does)", missing.display());
        eprintln!("skipped: {} is missing (run `cargo leptos build`)", missing.display());
        return None;
    }
    let packaged = Command::new("bash").arg("scripts/package.sh").arg("--debug").arg(out).current_dir(ROOT).env("CARGO_TARGET_DIR", target_dir()).output().expect("run package.sh");
    assert!(packaged.status.success(), "package.sh: {}", String::from_utf8_lossy(&packaged.stderr));
    Some(String::from_utf8_lossy(&packaged.stdout).lines().last().unwrap_or_default().to_owned())
}

async fn run_the_release(tarball: &str) {
    // Unpacked where nothing of the build is.
    let home = TempDir::new();
    let unpacked = Command::new("tar").arg("-xzf").arg(tarball).arg("-C").arg(&home.path).status().unwrap();
    assert!(unpacked.success());
    let release = std::fs::read_dir(&home.path).unwrap().map(|entry| entry.unwrap().path()).find(|path| path.is_dir()).expect("one directory");
    for part in ["bin/whenly", "bin/event-node", "bin/hash.txt", "site/pkg", "deploy/whenly.service", "deploy/event-node@.service", "deploy/whenly-backup.timer", "deploy/whenly.env.example", "deploy/nginx-whenly.conf", "README.md", "DEPLOY.md"] {
        assert!(release.join(part).exists(), "the release has {part}");
    }
    verify_units(&release);
    const PATH: &str = "/usr/local/bin:/usr/bin:/bin";
    let cargo = Command::new("sh").args(["-c", "command -v cargo"]).env_clear().env("PATH", PATH).output().unwrap();
    assert!(!cargo.status.success(), "no cargo on the PATH the release runs with");

    let listen = event_node::process::restartable_port().unwrap();
    let mut whenly = Command::new(release.join("bin/whenly"))
        .current_dir(&release)
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", &home.path)
        .env("WHENLY_LISTEN", listen.to_string())
        .env("WHENLY_CONTROL_LISTEN", "127.0.0.1:0")
        .env("WHENLY_METRICS_LISTEN", "127.0.0.1:0")
        .env("WHENLY_LOG", "warn")
        .spawn()
        .expect("start the released whenly");
    let browser = Browser::new(format!("http://{listen}"));
    let mut healthy = serde_json::Value::Null;
    for _ in 0..300 {
        if let Ok(response) = browser.client.get(browser.url("/healthz")).send().await {
            healthy = response.json().await.unwrap_or_default();
            if ["n1", "n2", "n3"].iter().all(|node| healthy["nodes"][node] == "live") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(healthy["status"], "ok", "{healthy}");
    assert!(release.join("data/whenly.db").exists(), "the embedded default: SQLite in ./data");

    // A page links the hashed site files, and they are served.
    let page = browser.get("/").await.text().await.unwrap();
    let script = page.split('"').find(|part| part.starts_with("/pkg/whenly.") && part.ends_with(".js")).unwrap_or_else(|| panic!("no script link in {page}")).to_owned();
    assert_eq!(browser.get(&script).await.status(), StatusCode::OK, "{script}");

    // The embedded cluster decides.
    let alice = browser.signed_up("alice").await;
    let code = alice.create_event(&event_input(chrono::Duration::seconds(3))).await;
    assert_eq!(alice.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    assert_eq!(alice.decided_outcome(&code).await["status"], "scheduled");

    Command::new("kill").arg("-TERM").arg(whenly.id().to_string()).status().unwrap();
    for _ in 0..300 {
        if let Some(status) = whenly.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = whenly.kill();
    panic!("the released whenly did not stop within 15 s of SIGTERM");
}
