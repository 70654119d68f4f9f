//! Encrypted files: round trips, multiple recipients, every tampering case, and the CLI driven
//! as a subprocess on real files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use pqxdh::armor::{ArmorReader, ArmorWriter};
use pqxdh::files::{self, DEFAULT_SEGMENT_SIZE, EncryptOptions, FileError, FileHeader, TAG_LEN};
use pqxdh::identity::IdentityKeyPair;
use pqxdh::kem::KemType;
use pqxdh::prekey_store::PreKeyStore;
use pqxdh::{PreKeyBundle, identity};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;

struct World {
    rng: ChaCha20Rng,
    sender: IdentityKeyPair,
    recipients: Vec<PreKeyStore>,
}

fn world(seed: u64, n: usize) -> World {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let sender = IdentityKeyPair::generate(&mut rng);
    let recipients = (0..n)
        .map(|i| {
            let kem = if i % 2 == 0 {
                KemType::MlKem1024
            } else {
                KemType::Kyber1024
            };
            PreKeyStore::generate(IdentityKeyPair::generate(&mut rng), kem, &mut rng).unwrap()
        })
        .collect();
    World {
        rng,
        sender,
        recipients,
    }
}

impl World {
    fn bundles(&self) -> Vec<PreKeyBundle> {
        self.recipients
            .iter()
            .map(|s| s.default_bundle().unwrap())
            .collect()
    }

    fn encrypt(&mut self, data: &[u8], segment_size: u32) -> Vec<u8> {
        let bundles = self.bundles();
        let mut out = Vec::new();
        let summary = files::encrypt(
            &self.sender,
            &bundles,
            EncryptOptions { segment_size },
            data,
            &mut out,
            &mut self.rng,
        )
        .unwrap();
        assert_eq!(summary.plaintext_len, data.len() as u64);
        assert_eq!(summary.ciphertext_len, out.len() as u64);
        out
    }
}

fn decrypt(store: &PreKeyStore, bytes: &[u8]) -> Result<Vec<u8>, FileError> {
    let mut out = Vec::new();
    files::decrypt(store, bytes, &mut out).map(|_| out)
}

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(131) % 251) as u8)
        .collect()
}

/// A reader that hands out at most 7 bytes per call, to exercise short reads.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(7).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn round_trips_at_segment_edges() {
    let mut w = world(1, 1);
    let s = DEFAULT_SEGMENT_SIZE as usize;
    for (len, segments) in [
        (0, 1),
        (1, 1),
        (s - 1, 1),
        (s, 1),
        (s + 1, 2),
        (3 * s + 7, 4),
        (4 * s, 4),
    ] {
        let plain = data(len);
        let sealed = w.encrypt(&plain, DEFAULT_SEGMENT_SIZE);
        let header = FileHeader::read_from(&mut &sealed[..]).unwrap();
        assert_eq!(header.segment_size, DEFAULT_SEGMENT_SIZE);
        assert_eq!(
            sealed.len(),
            header.len_on_disk() + len + segments * TAG_LEN + files::FILE_SIGNATURE_LEN,
            "len {len}"
        );
        let mut out = Vec::new();
        let summary = files::decrypt(&w.recipients[0], Trickle(&sealed), &mut out).unwrap();
        assert_eq!(out, plain, "len {len}");
        assert_eq!(summary.segments, segments as u64);
        assert_eq!(summary.sender, *w.sender.public_key());
    }
}

#[test]
fn encrypting_twice_gives_different_files() {
    let mut w = world(2, 1);
    let a = w.encrypt(b"same", 1024);
    let b = w.encrypt(b"same", 1024);
    assert_ne!(a, b);
}

#[test]
fn every_recipient_can_decrypt_and_others_cannot() {
    let mut w = world(3, 4);
    let plain = data(10_000);
    let sealed = w.encrypt(&plain, 4096);
    let header = FileHeader::read_from(&mut &sealed[..]).unwrap();
    assert_eq!(header.recipients.len(), 4);
    for store in &w.recipients {
        assert_eq!(decrypt(store, &sealed).unwrap(), plain);
    }
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let stranger = PreKeyStore::generate(
        IdentityKeyPair::generate(&mut rng),
        KemType::MlKem1024,
        &mut rng,
    )
    .unwrap();
    match decrypt(&stranger, &sealed) {
        Err(FileError::NotARecipient(fp)) => {
            assert_eq!(fp, identity::fingerprint(stranger.identity().public_key()));
        }
        other => panic!("{other:?}"),
    }
    // Same identity key but other prekeys (a re-generated store): the handshake cannot finish.
    let mut impostor = PreKeyStore::new(w.recipients[0].identity().clone());
    let ik = impostor.identity().clone();
    impostor.add_signed_prekey(pqxdh::prekey::SignedPreKey::generate(1, &ik, &mut rng));
    impostor.add_pq_prekey(
        pqxdh::prekey::PqPreKey::generate(
            1,
            pqxdh::prekey::PqPreKeyKind::LastResort,
            KemType::MlKem1024,
            &ik,
            &mut rng,
        )
        .unwrap(),
    );
    assert!(matches!(
        decrypt(&impostor, &sealed),
        Err(FileError::UnwrapFailed)
    ));
}

#[test]
fn rejects_bad_recipient_lists_and_bundles() {
    let mut w = world(4, 2);
    let mut bundles = w.bundles();
    let mut out = Vec::new();
    let err = files::encrypt(
        &w.sender,
        &[],
        EncryptOptions::default(),
        &b"x"[..],
        &mut out,
        &mut w.rng,
    );
    assert!(matches!(err, Err(FileError::RecipientCount(0))));
    let twice = vec![bundles[0].clone(), bundles[0].clone()];
    let err = files::encrypt(
        &w.sender,
        &twice,
        EncryptOptions::default(),
        &b"x"[..],
        &mut out,
        &mut w.rng,
    );
    assert!(matches!(err, Err(FileError::DuplicateRecipient(_))));
    let mut sig = *bundles[1].signed_prekey.signature.as_bytes();
    sig[5] ^= 1;
    bundles[1].signed_prekey.signature = pqxdh::xeddsa::Signature::from_bytes(sig);
    let err = files::encrypt(
        &w.sender,
        &bundles,
        EncryptOptions::default(),
        &b"x"[..],
        &mut out,
        &mut w.rng,
    );
    assert!(matches!(err, Err(FileError::Recipient { .. })), "{err:?}");
    for size in [0, files::MAX_SEGMENT_SIZE + 1] {
        let err = files::encrypt(
            &w.sender,
            &bundles[..1],
            EncryptOptions { segment_size: size },
            &b"x"[..],
            &mut out,
            &mut w.rng,
        );
        assert!(matches!(err, Err(FileError::InvalidSegmentSize(_))));
    }
}

const SEG: u32 = 1024;

/// A 4-segment file (3 full segments and 500 bytes) to two recipients, and where its segments
/// start.
fn tamper_fixture() -> (World, Vec<u8>, Vec<u8>, usize) {
    let mut w = world(5, 2);
    let plain = data(3 * SEG as usize + 500);
    let sealed = w.encrypt(&plain, SEG);
    let header_len = FileHeader::read_from(&mut &sealed[..])
        .unwrap()
        .len_on_disk();
    (w, plain, sealed, header_len)
}

const CHUNK: usize = SEG as usize + TAG_LEN;

#[test]
fn untampered_fixture_decrypts() {
    let (w, plain, sealed, header_len) = tamper_fixture();
    assert_eq!(
        sealed.len(),
        header_len + 3 * CHUNK + 500 + TAG_LEN + files::FILE_SIGNATURE_LEN
    );
    assert_eq!(decrypt(&w.recipients[0], &sealed).unwrap(), plain);
}

#[test]
fn any_flipped_header_byte_is_detected() {
    let (w, _, sealed, header_len) = tamper_fixture();
    for i in 0..header_len {
        let mut bad = sealed.clone();
        bad[i] ^= 0x40;
        for store in &w.recipients {
            assert!(decrypt(store, &bad).is_err(), "header byte {i}");
        }
    }
    // The MAC itself, and the other recipient's entry, give the header error.
    let mut bad = sealed.clone();
    bad[header_len - 1] ^= 1;
    assert!(matches!(
        decrypt(&w.recipients[0], &bad),
        Err(FileError::HeaderAuthentication)
    ));
    let header = FileHeader::read_from(&mut &sealed[..]).unwrap();
    let second_entry_wrapped_key = header.encoded.len() - 1;
    let mut bad = sealed.clone();
    bad[second_entry_wrapped_key] ^= 1;
    assert!(matches!(
        decrypt(&w.recipients[0], &bad),
        Err(FileError::HeaderAuthentication)
    ));
    assert!(matches!(
        decrypt(&w.recipients[1], &bad),
        Err(FileError::UnwrapFailed)
    ));
    let mut bad = sealed.clone();
    bad[0] ^= 1;
    assert!(matches!(
        decrypt(&w.recipients[0], &bad),
        Err(FileError::BadMagic)
    ));
}

#[test]
fn flipped_bytes_in_each_segment_and_tag_are_detected() {
    let (w, _, sealed, header_len) = tamper_fixture();
    for seg in 0..4usize {
        let start = header_len + seg * CHUNK;
        let len = if seg == 3 { 500 + TAG_LEN } else { CHUNK };
        // First byte, a middle byte, the first tag byte, the last tag byte.
        for offset in [0, len / 2, len - TAG_LEN, len - 1] {
            let mut bad = sealed.clone();
            bad[start + offset] ^= 0x01;
            match decrypt(&w.recipients[1], &bad) {
                Err(FileError::SegmentAuthentication(i)) => assert_eq!(i as usize, seg),
                other => panic!("segment {seg} offset {offset}: {other:?}"),
            }
        }
    }
}

#[test]
fn truncation_is_detected() {
    let (w, _, sealed, header_len) = tamper_fixture();
    let mut cuts = vec![header_len, header_len + 1, header_len + TAG_LEN];
    for seg in 1..=3 {
        cuts.push(header_len + seg * CHUNK); // at a segment boundary
        cuts.push(header_len + seg * CHUNK - 1);
        cuts.push(header_len + seg * CHUNK + 100); // mid-segment
    }
    cuts.push(sealed.len() - 1);
    cuts.extend([0, 5, 20, header_len / 2, header_len - 1]); // inside the header
    for cut in cuts {
        let result = decrypt(&w.recipients[0], &sealed[..cut]);
        assert!(result.is_err(), "cut at {cut}");
    }
    assert!(matches!(
        decrypt(&w.recipients[0], &sealed[..header_len]),
        Err(FileError::Truncated(_))
    ));
    assert!(matches!(
        decrypt(&w.recipients[0], &sealed[..header_len + CHUNK]),
        Err(FileError::SegmentAuthentication(0))
    ));
}

#[test]
fn appended_bytes_are_detected() {
    let (w, _, sealed, header_len) = tamper_fixture();
    for extra in [
        vec![0u8],
        vec![0u8; TAG_LEN],
        vec![0xAA; CHUNK],
        sealed[header_len..header_len + CHUNK].to_vec(),
        sealed[sealed.len() - 516..].to_vec(),
    ] {
        let mut bad = sealed.clone();
        bad.extend_from_slice(&extra);
        assert!(
            decrypt(&w.recipients[0], &bad).is_err(),
            "appended {}",
            extra.len()
        );
    }
}

#[test]
fn swapped_and_duplicated_segments_are_detected() {
    let (w, _, sealed, header_len) = tamper_fixture();
    let seg = |i: usize| header_len + i * CHUNK..header_len + (i + 1) * CHUNK;
    let mut bad = sealed.clone();
    let first = sealed[seg(0)].to_vec();
    let second = sealed[seg(1)].to_vec();
    bad[seg(0)].copy_from_slice(&second);
    bad[seg(1)].copy_from_slice(&first);
    assert!(matches!(
        decrypt(&w.recipients[0], &bad),
        Err(FileError::SegmentAuthentication(0))
    ));
    let mut bad = sealed.clone();
    bad[seg(2)].copy_from_slice(&first);
    assert!(matches!(
        decrypt(&w.recipients[0], &bad),
        Err(FileError::SegmentAuthentication(2))
    ));
    // Dropping a whole middle segment.
    let mut bad = sealed[..header_len + CHUNK].to_vec();
    bad.extend_from_slice(&sealed[header_len + 2 * CHUNK..]);
    assert!(matches!(
        decrypt(&w.recipients[0], &bad),
        Err(FileError::SegmentAuthentication(1))
    ));
}

#[test]
fn segments_from_another_file_are_rejected() {
    let (mut w, plain, sealed, header_len) = tamper_fixture();
    let other = w.encrypt(&plain, SEG);
    let mut bad = sealed[..header_len].to_vec();
    bad.extend_from_slice(&other[header_len..]);
    assert!(decrypt(&w.recipients[0], &bad).is_err());
}

#[test]
fn armor_round_trip_through_the_library() {
    let mut w = world(6, 1);
    let plain = data(5000);
    let sealed = w.encrypt(&plain, 1000);
    let mut armored = ArmorWriter::new(Vec::new()).unwrap();
    armored.write_all(&sealed).unwrap();
    let text = armored.finish().unwrap();
    assert!(text.starts_with(pqxdh::armor::BEGIN.as_bytes()));
    let mut out = Vec::new();
    files::decrypt(&w.recipients[0], ArmorReader::new(&text[..]), &mut out).unwrap();
    assert_eq!(out, plain);
}

// ------------------------------------------------------------------------------------------------
// The CLI as a subprocess.

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
    assert!(pqxdh::identity_file::is_protected(&bytes).unwrap());
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

/// Section 5: Bob, a recipient, re-MACs Alice's file for Carol with other content; Carol must not
/// accept it as from Alice (signed by Bob: refused; downgraded to version 1: unverified).
#[test]
fn recipient_rewritten_file_is_refused_for_another_recipient() {
    let mut w = world(51, 2);
    let sealed = w.encrypt(b"from alice", 1024);
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut forged = Vec::new();
    files::recipient_reseal(
        &w.recipients[0],
        &sealed[..],
        &b"forged by bob"[..],
        &mut forged,
        files::FILE_VERSION,
        &mut rng,
    )
    .unwrap();
    assert!(matches!(
        decrypt(&w.recipients[1], &forged),
        Err(FileError::SenderSignature)
    ));
    let mut downgraded = Vec::new();
    files::recipient_reseal(
        &w.recipients[0],
        &sealed[..],
        &b"forged by bob"[..],
        &mut downgraded,
        files::FILE_VERSION_UNSIGNED,
        &mut rng,
    )
    .unwrap();
    let mut out = Vec::new();
    let s = files::decrypt(&w.recipients[1], &downgraded[..], &mut out).unwrap();
    assert!(!s.sender_verified);
    let mut out = Vec::new();
    let s = files::decrypt(&w.recipients[1], &sealed[..], &mut out).unwrap();
    assert!(s.sender_verified);
    assert_eq!(s.sender, *w.sender.public_key());
}

#[test]
fn version1_file_decrypts_unverified() {
    let mut w = world(52, 1);
    let bundles = w.bundles();
    let mut sealed = Vec::new();
    files::encrypt_version1(
        &w.sender,
        &bundles,
        EncryptOptions::default(),
        &b"old"[..],
        &mut sealed,
        &mut w.rng,
    )
    .unwrap();
    let mut out = Vec::new();
    let s = files::decrypt(&w.recipients[0], &sealed[..], &mut out).unwrap();
    assert_eq!(out, b"old");
    assert!(!s.sender_verified);
}

#[test]
fn flipped_or_truncated_signature_is_refused() {
    let mut w = world(53, 1);
    let sealed = w.encrypt(&data(3000), 1024);
    let sig_start = sealed.len() - files::FILE_SIGNATURE_LEN;
    for i in sig_start..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x01;
        assert!(
            matches!(
                decrypt(&w.recipients[0], &bad),
                Err(FileError::SenderSignature)
            ),
            "byte {i}"
        );
    }
    for cut in [sig_start - 1, sig_start, sig_start + 1, sealed.len() - 1] {
        assert!(
            decrypt(&w.recipients[0], &sealed[..cut]).is_err(),
            "cut {cut}"
        );
    }
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
    assert!(pqxdh::identity_file::is_protected(&bytes).unwrap());
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
