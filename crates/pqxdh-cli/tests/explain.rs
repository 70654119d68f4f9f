//! `pqxdh explain`: its root key and session id are the library's for the same seed, a vector
//! replay shows the vector's root key, and the HTML page renders in headless Chromium with its
//! scripts completing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use pqxdh::handshake::prekey::OneTimePreKey;
use pqxdh::{Backend, IdentityKeyPair, KemType, PreKeyStore};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;

fn explain(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pqxdh"))
        .arg("explain")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pqxdh explain {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The value of a summary line `label   value`.
fn summary(text: &str, label: &str) -> String {
    let summary = text.split("== ").last().unwrap();
    summary
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}` line in the summary"))
        .trim()
        .to_owned()
}

/// The library's own run for a seed, drawn in the order `pqxdh explain` documents: Bob's
/// identity, his store, [a one-time prekey], Alice's identity, then `pqxdh::initiate`.
fn library_run(seed: u64, kem: KemType, one_time: bool) -> (String, String) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let bob_identity = IdentityKeyPair::generate(&mut rng);
    let mut bob = PreKeyStore::generate(bob_identity, kem, &mut rng).unwrap();
    if one_time {
        bob.add_one_time_prekey(OneTimePreKey::generate(1, &mut rng));
    }
    let alice = IdentityKeyPair::generate(&mut rng);
    let bundle = bob.bundle(1, 1, one_time.then_some(1)).unwrap();
    let a = pqxdh::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).unwrap();
    let wire = {
        let mut s = a.session;
        s.encrypt(b"x", &mut rng).unwrap()
    };
    let (b, _) = pqxdh::accept(&mut bob, &wire, Backend::Libcrux).unwrap();
    assert_eq!(b.session_id, a.session_id);
    assert_eq!(b.handshake_root_key, a.handshake_root_key);
    (
        hex::encode(a.handshake_root_key.as_bytes()),
        a.session_id.to_string(),
    )
}

#[test]
fn terminal_root_key_and_session_id_are_the_librarys() {
    for (seed, kem, one_time) in [
        (1, KemType::MlKem1024, false),
        (7, KemType::Kyber1024, true),
    ] {
        let mut args = vec!["--seed".to_owned(), seed.to_string()];
        args.extend(["--kem".to_owned(), kem.name().to_owned()]);
        if one_time {
            args.push("--one-time-prekey".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let text = explain(&args);
        let (root, id) = library_run(seed, kem, one_time);
        assert_eq!(summary(&text, "root key"), root, "{args:?}");
        assert_eq!(summary(&text, "session id"), id, "{args:?}");
        // Piped output is plain, and every step is there.
        assert!(!text.contains('\x1b'), "colour codes in piped output");
        for step in [
            "DH1 = X25519(IK_A, SPK_B)",
            "DH3",
            "CT",
            "salt",
            "replayed: refused",
        ] {
            assert!(text.contains(step), "missing {step}");
        }
        assert_eq!(text.contains("DH4 = X25519(EK_A, OPK_B)"), one_time);
        // The replay is refused with the library's own error.
        let refused = format!("replayed: refused ({})", pqxdh::DecryptError::Duplicate);
        assert!(text.contains(&refused), "no refused replay");
        // The same seed gives the same run.
        assert_eq!(explain(&args), text);
    }
}

#[test]
fn vector_replay_shows_the_vectors_root_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kat/pqxdh/vectors.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for v in doc["vectors"].as_array().unwrap() {
        let id = v["id"].as_str().unwrap();
        let text = explain(&["--vector", id]);
        let expected = v["expected"]["root_key"].as_str().unwrap();
        assert_eq!(summary(&text, "root key"), expected, "{id}");
        assert_eq!(
            summary(&text, "session id"),
            v["intermediate"]["session_id"].as_str().unwrap(),
            "{id}"
        );
    }
}

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PQXDH_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {name}"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
    })
}

fn headless(browser: &Path, profile: &Path, args: &[&str]) -> std::process::Output {
    Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn html_page_renders_in_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no Chromium (install Debian's chromium or set PQXDH_CHROMIUM)"
        );
        eprintln!("skipped: no chromium or chromium-browser on PATH (or set PQXDH_CHROMIUM)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("explain.html");
    let text = explain(&["--seed", "3", "--html", page.to_str().unwrap()]);
    let (root, id) = library_run(3, KemType::MlKem1024, false);
    assert_eq!(summary(&text, "root key"), root);
    let html = std::fs::read_to_string(&page).unwrap();
    for forbidden in ["http://", "https://", "<link", "@import", "src=\""] {
        assert!(
            !html.contains(forbidden),
            "page refers outside itself: {forbidden}"
        );
    }
    let url = format!("file://{}", page.display());
    let profile = dir.path().join("profile");

    let dom = headless(
        &browser,
        &profile,
        &["--enable-logging=stderr", "--v=0", "--dump-dom", &url],
    );
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(
        dom_text.contains(&format!("id=\"root-key\">{root}<")),
        "root key not in the DOM"
    );
    assert!(
        dom_text.contains(&format!("id=\"session-id\">{id}<")),
        "session id not in the DOM"
    );
    assert!(
        dom_text.contains("id=\"script-complete\""),
        "the page's script did not complete"
    );
    for line in log.lines() {
        assert!(
            !line.contains("Uncaught") && !line.contains("console.error"),
            "browser console error: {line}"
        );
    }

    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/explain.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let out = headless(
        &browser,
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000",
            "--hide-scrollbars",
            &url,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "screenshot too small"
    );
}
