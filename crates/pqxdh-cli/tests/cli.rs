//! The `pqxdh` tool driven as a subprocess on real files: identities, bundles, encrypt and
//! decrypt, passphrases, rotation and pruning, failures that leave no output.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use pqxdh_files::{self as files, DEFAULT_SEGMENT_SIZE, FileHeader, TAG_LEN};

/// Test data of `len` bytes that does not repeat every segment.
fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(131) % 251) as u8)
        .collect()
}

fn pqxdh(dir: &Path, args: &[&str]) -> Output {
    pqxdh_env(dir, args, &[], None)
}

fn pqxdh_env(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pqxdh"));
    cmd.current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    child.wait_with_output().unwrap()
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Fails with exit code 1 and exactly one line on stderr containing `needle`.
fn assert_fails(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "stderr: {stderr}");
    assert!(stderr.starts_with("pqxdh: error: "), "stderr: {stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in {stderr}");
}

fn no_partial_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".partial"), "left behind: {name}");
    }
}

/// The permission bits of `path`.
#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `pqxdh encrypt` from alice.identity to bob.bundle.json in `dir`.
fn alice_to_bob(dir: &Path, input: &str, output: &str) -> Output {
    pqxdh(
        dir,
        &[
            "encrypt",
            "--to",
            "bob.bundle.json",
            "--from",
            "alice.identity",
            input,
            output,
        ],
    )
}

fn identities(dir: &Path) {
    for name in ["alice", "bob", "carol"] {
        assert_ok(&pqxdh(dir, &["identity", "new", name]));
    }
}

#[test]
fn cli_identity_and_bundle_show() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let out = pqxdh(d, &["identity", "new", "dave", "--kem", "kyber1024"]);
    assert_ok(&out);
    #[cfg(unix)]
    assert_eq!(mode_of(&d.join("dave.identity")), 0o600);
    assert_fails(&pqxdh(d, &["identity", "new", "dave"]), "already exists");
    assert_fails(
        &pqxdh(d, &["identity", "new", "../x"]),
        "invalid identity name",
    );

    let show = pqxdh(d, &["bundle", "show", "dave.bundle.json"]);
    assert_ok(&show);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("kyber1024"), "{text}");
    assert!(text.contains("signatures:      valid"), "{text}");

    // Change one hex digit of the signed prekey's signature.
    let json = std::fs::read_to_string(d.join("dave.bundle.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let sig = value["signed_prekey"]["signature"]
        .as_str()
        .unwrap()
        .to_string();
    let flipped = if sig.starts_with('0') { "1" } else { "0" };
    value["signed_prekey"]["signature"] = format!("{flipped}{}", &sig[1..]).into();
    std::fs::write(d.join("bad.bundle.json"), value.to_string()).unwrap();
    let out = pqxdh(d, &["bundle", "show", "bad.bundle.json"]);
    assert_fails(&out, "signature does not verify");
    assert!(String::from_utf8_lossy(&out.stdout).contains("INVALID"));

    // Encrypting to a bundle with a bad signature is refused, and no output appears.
    std::fs::write(d.join("in.txt"), b"hello").unwrap();
    let out = pqxdh(
        d,
        &[
            "encrypt",
            "--to",
            "bad.bundle.json",
            "--from",
            "dave.identity",
            "in.txt",
            "out.pqx",
        ],
    );
    assert_fails(&out, "signature does not verify");
    assert!(!d.join("out.pqx").exists());
    no_partial_files(d);
}

#[test]
fn cli_round_trips_binary_armor_and_stdio() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    identities(d);
    let plain = data(200_000);
    std::fs::write(d.join("in.bin"), &plain).unwrap();

    assert_ok(&pqxdh(
        d,
        &[
            "encrypt",
            "--to",
            "bob.bundle.json",
            "--to",
            "carol.bundle.json",
            "--from",
            "alice.identity",
            "in.bin",
            "out.pqx",
        ],
    ));
    for who in ["bob", "carol"] {
        let out = pqxdh(
            d,
            &[
                "decrypt",
                "--as",
                &format!("{who}.identity"),
                "out.pqx",
                "back.bin",
            ],
        );
        assert_ok(&out);
        let alice =
            String::from_utf8_lossy(&pqxdh(d, &["bundle", "show", "alice.bundle.json"]).stdout)
                .lines()
                .find(|l| l.starts_with("fingerprint:"))
                .unwrap()
                .trim_start_matches("fingerprint:")
                .trim()
                .to_string();
        assert!(String::from_utf8_lossy(&out.stderr).contains(&alice));
        assert_eq!(std::fs::read(d.join("back.bin")).unwrap(), plain);
    }

    // Armor, auto-detected on decryption.
    assert_ok(&pqxdh(
        d,
        &[
            "encrypt",
            "--armor",
            "--to",
            "bob.bundle.json",
            "--from",
            "alice.identity",
            "in.bin",
            "out.asc",
        ],
    ));
    let text = std::fs::read_to_string(d.join("out.asc")).unwrap();
    assert!(text.starts_with("-----BEGIN PQXDH ENCRYPTED FILE-----\n"));
    assert!(text.ends_with("-----END PQXDH ENCRYPTED FILE-----\n"));
    assert!(text.lines().skip(1).take(10).all(|l| l.len() == 64));
    assert_ok(&pqxdh(
        d,
        &["decrypt", "--as", "bob.identity", "out.asc", "back2.bin"],
    ));
    assert_eq!(std::fs::read(d.join("back2.bin")).unwrap(), plain);

    // Standard input and output.
    let enc = pqxdh_env(
        d,
        &[
            "encrypt",
            "--to",
            "bob.bundle.json",
            "--from",
            "alice.identity",
            "-",
            "-",
        ],
        &[],
        Some(&plain),
    );
    assert_ok(&enc);
    let dec = pqxdh_env(
        d,
        &["decrypt", "--as", "bob.identity", "-", "-"],
        &[],
        Some(&enc.stdout),
    );
    assert_ok(&dec);
    assert_eq!(dec.stdout, plain);
    // Encryption streamed to stdout is a complete version-2 file whose sender verifies.
    assert_eq!(enc.stdout[8], files::FILE_VERSION);
    assert!(String::from_utf8_lossy(&dec.stderr).contains("sender verified"));

    // Empty file.
    std::fs::write(d.join("empty"), b"").unwrap();
    assert_ok(&alice_to_bob(d, "empty", "empty.pqx"));
    assert_ok(&pqxdh(
        d,
        &["decrypt", "--as", "bob.identity", "empty.pqx", "empty.out"],
    ));
    assert_eq!(std::fs::read(d.join("empty.out")).unwrap(), b"");
    no_partial_files(d);
}

#[test]
fn cli_failures_leave_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    identities(d);
    let plain = data(150_000);
    std::fs::write(d.join("in.bin"), &plain).unwrap();
    assert_ok(&pqxdh(
        d,
        &[
            "encrypt",
            "--to",
            "bob.bundle.json",
            "--from",
            "alice.identity",
            "in.bin",
            "out.pqx",
        ],
    ));
    let sealed = std::fs::read(d.join("out.pqx")).unwrap();

    // Wrong recipient.
    let out = pqxdh(
        d,
        &["decrypt", "--as", "carol.identity", "out.pqx", "plain.out"],
    );
    assert_fails(&out, "not encrypted to identity");
    assert!(!d.join("plain.out").exists());

    // A flipped byte in the last segment: the earlier segments were decrypted, but nothing is left.
    let mut bad = sealed.clone();
    let at = bad.len() - files::FILE_SIGNATURE_LEN - 1;
    bad[at] ^= 1;
    std::fs::write(d.join("bad.pqx"), &bad).unwrap();
    let out = pqxdh(
        d,
        &["decrypt", "--as", "bob.identity", "bad.pqx", "plain.out"],
    );
    assert_fails(&out, "does not authenticate");
    assert!(!d.join("plain.out").exists());

    // Truncated at a segment boundary, and extended.
    let header_len = FileHeader::read_from(&mut &sealed[..])
        .unwrap()
        .len_on_disk();
    let full = DEFAULT_SEGMENT_SIZE as usize + TAG_LEN;
    std::fs::write(d.join("cut.pqx"), &sealed[..header_len + 2 * full]).unwrap();
    assert_fails(
        &pqxdh(
            d,
            &["decrypt", "--as", "bob.identity", "cut.pqx", "plain.out"],
        ),
        "segment 1 does not authenticate",
    );
    let mut long = sealed.clone();
    long.extend_from_slice(b"more");
    std::fs::write(d.join("long.pqx"), &long).unwrap();
    assert_fails(
        &pqxdh(
            d,
            &["decrypt", "--as", "bob.identity", "long.pqx", "plain.out"],
        ),
        "does not authenticate",
    );
    assert!(!d.join("plain.out").exists());

    // An existing OUT is not replaced when decryption fails.
    std::fs::write(d.join("keep.out"), b"previous").unwrap();
    assert_fails(
        &pqxdh(
            d,
            &["decrypt", "--as", "bob.identity", "bad.pqx", "keep.out"],
        ),
        "does not authenticate",
    );
    assert_eq!(std::fs::read(d.join("keep.out")).unwrap(), b"previous");

    // Standard output gets nothing when the file fails to authenticate.
    let out = pqxdh_env(
        d,
        &["decrypt", "--as", "bob.identity", "-", "-"],
        &[],
        Some(&bad),
    );
    assert_fails(&out, "does not authenticate");
    assert!(out.stdout.is_empty());

    // Not an encrypted file; broken armor; a missing file.
    assert_fails(
        &pqxdh(
            d,
            &["decrypt", "--as", "bob.identity", "in.bin", "plain.out"],
        ),
        "bad magic",
    );
    std::fs::write(
        d.join("bad.asc"),
        "-----BEGIN PQXDH ENCRYPTED FILE-----\n!!!!\n-----END PQXDH ENCRYPTED FILE-----\n",
    )
    .unwrap();
    assert_fails(
        &pqxdh(
            d,
            &["decrypt", "--as", "bob.identity", "bad.asc", "plain.out"],
        ),
        "malformed armor",
    );
    assert_fails(
        &pqxdh(
            d,
            &["decrypt", "--as", "bob.identity", "nope.pqx", "plain.out"],
        ),
        "nope.pqx",
    );
    assert!(!d.join("plain.out").exists());
    no_partial_files(d);
}

#[test]
fn cli_passphrase_protected_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let pw = [("PQXDH_TEST_PW", "correct horse battery staple")];
    let wrong = [("PQXDH_TEST_PW", "incorrect horse")];
    assert_ok(&pqxdh_env(
        d,
        &[
            "identity",
            "new",
            "erin",
            "--passphrase-env",
            "PQXDH_TEST_PW",
        ],
        &pw,
        None,
    ));
    assert_ok(&pqxdh(d, &["identity", "new", "frank"]));
    let bytes = std::fs::read(d.join("erin.identity")).unwrap();
    assert!(pqxdh_files::identity_file::is_protected(&bytes).unwrap());
    std::fs::write(d.join("note.txt"), b"meet at noon").unwrap();

    // Erin sends to Frank: needs her passphrase.
    let send = [
        "encrypt",
        "--to",
        "frank.bundle.json",
        "--from",
        "erin.identity",
        "note.txt",
        "note.pqx",
    ];
    assert_fails(&pqxdh(d, &send), "passphrase-protected");
    let mut with_env = send.to_vec();
    with_env.extend(["--passphrase-env", "PQXDH_TEST_PW"]);
    assert_fails(&pqxdh_env(d, &with_env, &wrong, None), "wrong passphrase");
    assert_fails(&pqxdh(d, &with_env), "PQXDH_TEST_PW is not set");
    assert!(!d.join("note.pqx").exists());
    assert_ok(&pqxdh_env(d, &with_env, &pw, None));

    // Frank sends to Erin; Erin decrypts with her passphrase.
    assert_ok(&pqxdh(
        d,
        &[
            "encrypt",
            "--to",
            "erin.bundle.json",
            "--from",
            "frank.identity",
            "note.txt",
            "back.pqx",
        ],
    ));
    let open = [
        "decrypt",
        "--as",
        "erin.identity",
        "--passphrase-env",
        "PQXDH_TEST_PW",
        "back.pqx",
        "back.txt",
    ];
    assert_fails(&pqxdh_env(d, &open, &wrong, None), "wrong passphrase");
    assert!(!d.join("back.txt").exists());
    assert_ok(&pqxdh_env(d, &open, &pw, None));
    assert_eq!(std::fs::read(d.join("back.txt")).unwrap(), b"meet at noon");
    no_partial_files(d);
}

#[test]
fn cli_demo_runs() {
    let out = pqxdh(Path::new("."), &["demo"]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("byte-for-byte identical"), "{text}");
    assert!(text.contains("demo complete"), "{text}");
}

#[test]
fn cli_network_demo_runs_through_a_server() {
    let out = pqxdh(Path::new("."), &["demo", "--network"]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let digests: Vec<&str> = text
        .split("sha256 ")
        .skip(1)
        .map(|rest| rest.get(..64).unwrap())
        .collect();
    // The picture's digest as Alice shared it, and as Bob saved it.
    assert_eq!(digests.len(), 2, "{text}");
    assert_eq!(digests[0], digests[1]);
    assert!(text.contains("runs on http://127.0.0.1:"), "{text}");
    assert!(text.contains("the same on both sides: true"), "{text}");
    assert!(text.contains("demo ok"), "{text}");
}

fn bundle_ids(path: &Path) -> (u64, u64) {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    (
        json["signed_prekey"]["id"].as_u64().unwrap(),
        json["pq_prekey"]["id"].as_u64().unwrap(),
    )
}

#[test]
fn cli_identity_rotate_keeps_retired_keys_until_prune() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // --dir that does not exist yet is created, private.
    assert_ok(&pqxdh(d, &["identity", "new", "bob", "--dir", "keys/bob"]));
    #[cfg(unix)]
    assert_eq!(mode_of(&d.join("keys/bob")), 0o700);
    assert_ok(&pqxdh(d, &["identity", "new", "alice"]));
    std::fs::write(d.join("note.txt"), b"before the rotation").unwrap();
    let send = |name: &str| {
        assert_ok(&pqxdh(
            d,
            &[
                "encrypt",
                "--to",
                "keys/bob/bob.bundle.json",
                "--from",
                "alice.identity",
                "note.txt",
                name,
            ],
        ))
    };
    let open = |name: &str| pqxdh(d, &["decrypt", "--as", "keys/bob/bob.identity", name, "-"]);
    send("old.pqx");
    assert_eq!(bundle_ids(&d.join("keys/bob/bob.bundle.json")), (1, 1));

    let out = pqxdh(d, &["identity", "rotate", "keys/bob/bob.identity"]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("still decrypt"), "{text}");
    assert!(text.contains("identity prune"), "{text}");
    assert_eq!(bundle_ids(&d.join("keys/bob/bob.bundle.json")), (2, 2));
    #[cfg(unix)]
    assert_eq!(mode_of(&d.join("keys/bob/bob.identity")), 0o600);
    no_partial_files(&d.join("keys/bob"));
    assert_ok(&pqxdh(d, &["bundle", "show", "keys/bob/bob.bundle.json"]));
    // The file sent to the retired keys still decrypts; a new one goes to the new keys.
    let old = open("old.pqx");
    assert_ok(&old);
    assert_eq!(old.stdout, b"before the rotation");
    send("new.pqx");
    assert_eq!(open("new.pqx").stdout, b"before the rotation");

    // Nothing was retired 30 days ago; everything retired is older than 0 seconds.
    let prune = |age: &str| {
        pqxdh(
            d,
            &[
                "identity",
                "prune",
                "keys/bob/bob.identity",
                "--older-than",
                age,
            ],
        )
    };
    let out = prune("30d");
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to prune"));
    assert_ok(&open("old.pqx"));
    let out = prune("0s");
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("pruned 2"));
    assert_fails(&open("old.pqx"), "old.pqx");
    assert_eq!(open("new.pqx").stdout, b"before the rotation");
    let bad = prune("soon");
    assert_eq!(bad.status.code(), Some(2), "clap usage error");

    // A passphrase option for an identity without one is an error, not ignored.
    let given = pqxdh_env(
        d,
        &[
            "decrypt",
            "--as",
            "keys/bob/bob.identity",
            "--passphrase-env",
            "PW",
            "new.pqx",
            "-",
        ],
        &[("PW", "something")],
        None,
    );
    assert_fails(&given, "not passphrase-protected");
}

#[test]
fn cli_rotate_keeps_an_identity_passphrase() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let pw = [("PQXDH_TEST_PW", "correct horse battery staple")];
    let with_pw = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--passphrase-env", "PQXDH_TEST_PW"]);
        pqxdh_env(d, &all, &pw, None)
    };
    assert_ok(&with_pw(&["identity", "new", "erin"]));
    assert_fails(
        &pqxdh(d, &["identity", "rotate", "erin.identity"]),
        "passphrase-protected",
    );
    assert_ok(&with_pw(&["identity", "rotate", "erin.identity"]));
    let bytes = std::fs::read(d.join("erin.identity")).unwrap();
    assert!(pqxdh_files::identity_file::is_protected(&bytes).unwrap());
    assert_eq!(bundle_ids(&d.join("erin.bundle.json")), (2, 2));
    assert_ok(&with_pw(&[
        "identity",
        "prune",
        "erin.identity",
        "--older-than",
        "0s",
    ]));
}

#[test]
fn killed_decrypt_to_stdout_leaves_no_file_in_the_temporary_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let staging = tempfile::tempdir().unwrap();
    identities(d);
    let data = vec![0x5a; 4 * 1024 * 1024];
    std::fs::write(d.join("big.bin"), &data).unwrap();
    assert_ok(&alice_to_bob(d, "big.bin", "big.pqx"));
    let sealed = std::fs::read(d.join("big.pqx")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pqxdh"))
        .current_dir(d)
        .env("TMPDIR", staging.path())
        .args(["decrypt", "--as", "bob.identity", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Half the file: write_all returns once the decryptor has read most of it (a pipe holds
    // 64 KiB), so it has staged plaintext by now.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&sealed[..sealed.len() / 2]).unwrap();
    assert_eq!(std::fs::read_dir(staging.path()).unwrap().count(), 0);
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);
    assert_eq!(std::fs::read_dir(staging.path()).unwrap().count(), 0);
}

#[test]
fn command_line_prints_one_line_per_file_and_totals() {
    let bin = env!("CARGO_BIN_EXE_pqxdh");
    let out = std::process::Command::new(bin)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .args(["kat", "kat/rfc/"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("ok   kat/rfc/rfc5869_hkdf.json (rfc5869 hkdf): 3 passed"));
    assert_eq!(lines[3], "13 passed, 0 failed, 5 skipped");

    let dir = std::env::temp_dir().join(format!("pqxdh-kat-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{ not json").unwrap();
    let out = std::process::Command::new(bin)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .arg("kat")
        .arg(&bad)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("FAIL "), "{text}");
    assert!(text.contains("malformed JSON"), "{text}");
    assert_eq!(text.lines().last(), Some("0 passed, 1 failed"));
}
