//! Hostile encrypted files through `pqxdh decrypt`: every flipped byte, every truncation and
//! appended bytes, each with its exact error and no output file left behind.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../../tests/common/mod.rs"]
mod common;

use common::{H_EK, H_FLAGS, H_IK, H_OPK_ID, H_PQ_ID, H_SPK_ID, parties, u32_at};
use pqxdh::handshake::HandshakeError;
use pqxdh::handshake::identity;
use pqxdh::handshake::prekey_store::PreKeyStore;
use pqxdh::primitives::kem::{KemError, KemType};
use pqxdh::primitives::keys::KeyError;
use pqxdh_cli::{self as cli, CliError};
use pqxdh_files::identity_file;
use pqxdh_files::{self as files, FileError};

/// An encrypted file to Bob (segments of 256 bytes: two full ones and one of 88), Bob's identity
/// file in a fresh directory, and the layout of the container.
struct SealedFile {
    dir: tempfile::TempDir,
    store: PreKeyStore,
    sealed: Vec<u8>,
    /// Where the first segment starts.
    header_len: usize,
    /// Where the initial header of Bob's entry starts, and its length.
    entry_header: (usize, usize),
}

const SEGMENT: u32 = 256;
const CHUNK: usize = SEGMENT as usize + files::TAG_LEN;

fn sealed_file() -> SealedFile {
    let (mut rng, alice, bob) = parties(20, KemType::MlKem1024);
    let plain: Vec<u8> = (0..2 * SEGMENT as usize + 88).map(|i| i as u8).collect();
    let mut sealed = Vec::new();
    // The byte map below is of the version-1 layout (still decrypted); the version-2 signature
    // is covered byte by byte in tests/files.rs.
    files::encrypt_version1(
        &alice,
        &[bob.default_bundle().unwrap()],
        files::EncryptOptions {
            segment_size: SEGMENT,
        },
        &plain[..],
        &mut sealed,
        &mut rng,
    )
    .unwrap();
    let header = files::FileHeader::read_from(&mut &sealed[..]).unwrap();
    let header_len = header.len_on_disk();
    assert_eq!(sealed.len(), header_len + 2 * CHUNK + 88 + files::TAG_LEN);
    let entry_header = (
        files::FIXED_HEADER_LEN + 33 + 2,
        header.recipients[0].initial_header_bytes.len(),
    );
    let dir = tempfile::tempdir().unwrap();
    let identity = identity_file::encode(&bob, identity_file::Protection::None, &mut rng).unwrap();
    std::fs::write(dir.path().join("bob.identity"), identity).unwrap();
    let file = SealedFile {
        dir,
        store: bob,
        sealed,
        header_len,
        entry_header,
    };
    let mut out = Vec::new();
    files::decrypt(&file.store, &file.sealed[..], &mut out).unwrap();
    assert_eq!(out, plain);
    file
}

impl SealedFile {
    /// Decrypts `bytes` the way `pqxdh decrypt` does and returns the file error, after checking
    /// that nothing but the identity file and the input is left in the directory.
    fn refuse(&self, bytes: &[u8]) -> FileError {
        let input = self.dir.path().join("in.pqx");
        std::fs::write(&input, bytes).unwrap();
        let output = self.dir.path().join("plain.out");
        let result = cli::run_decrypt(&cli::DecryptArgs {
            identity: self.dir.path().join("bob.identity"),
            input,
            output,
            passphrase: cli::PassphraseArgs {
                passphrase_env: None,
                passphrase_prompt: false,
            },
        });
        let mut left: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["bob.identity", "in.pqx"]);
        match result {
            Err(CliError::File { source, .. }) => source,
            other => panic!("expected a file error, got {other:?}"),
        }
    }

    /// The error for `self.sealed` with byte `at` XORed with 0x01.
    fn expected_flip(&self, at: usize) -> FileError {
        let mut bad = self.sealed.clone();
        bad[at] ^= 0x01;
        let (entry, entry_len) = self.entry_header;
        let wrapped = entry + entry_len;
        let mac = wrapped + files::WRAPPED_KEY_LEN;
        let parse_error = || files::FileHeader::read_from(&mut &bad[..]).unwrap_err();
        let id = |o: usize| u32_at(&bad, entry + o);
        match at {
            0..8 => FileError::BadMagic,
            8 => FileError::UnsupportedVersion(0),
            9..13 => {
                let size = u32_at(&bad, 9);
                if size == 0 || size > files::MAX_SEGMENT_SIZE {
                    FileError::InvalidSegmentSize(size)
                } else {
                    FileError::HeaderAuthentication
                }
            }
            // The recipient count and the entry's header length: the parser's own verdict.
            13..15 => parse_error(),
            15 => FileError::Key(KeyError::UnknownKeyType(0x04)),
            16..48 => {
                FileError::NotARecipient(identity::fingerprint(self.store.identity().public_key()))
            }
            48..50 => parse_error(),
            a if a < wrapped => {
                let hs = |e| FileError::Handshake(e);
                match a - entry {
                    0 => hs(HandshakeError::UnknownHeaderVersion(0)),
                    H_IK | H_EK => hs(HandshakeError::Key(KeyError::UnknownKeyType(0x04))),
                    H_SPK_ID..H_FLAGS => hs(HandshakeError::UnknownSignedPreKey(id(H_SPK_ID))),
                    H_FLAGS => {
                        hs(pqxdh::InitialHeader::from_bytes(&bad[entry..wrapped]).unwrap_err())
                    }
                    // No one-time prekey: the PQ prekey id follows the flags.
                    o if (H_OPK_ID..H_PQ_ID).contains(&o) => {
                        hs(HandshakeError::UnknownPqPreKey(id(H_OPK_ID)))
                    }
                    H_PQ_ID => hs(HandshakeError::Kem(KemError::UnknownType(0x0B))),
                    _ => FileError::UnwrapFailed,
                }
            }
            a if a < mac => FileError::UnwrapFailed,
            a if a < self.header_len => FileError::HeaderAuthentication,
            a => FileError::SegmentAuthentication(((a - self.header_len) / CHUNK) as u32),
        }
    }
}

fn same(actual: &FileError, expected: &FileError, what: &str) {
    assert_eq!(format!("{actual:?}"), format!("{expected:?}"), "{what}");
}

#[test]
fn every_flipped_byte_of_a_file_gives_its_error_and_no_output() {
    let f = sealed_file();
    for at in 0..f.sealed.len() {
        let mut bad = f.sealed.clone();
        bad[at] ^= 0x01;
        same(&f.refuse(&bad), &f.expected_flip(at), &format!("byte {at}"));
    }
}

#[test]
fn every_truncation_and_appended_bytes_of_a_file() {
    let f = sealed_file();
    for cut in 0..f.sealed.len() {
        let expected = match cut {
            c if c < f.header_len => FileError::Truncated("header"),
            c if c == f.header_len => FileError::Truncated("no segments"),
            c => FileError::SegmentAuthentication(((c - f.header_len - 1) / CHUNK) as u32),
        };
        same(
            &f.refuse(&f.sealed[..cut]),
            &expected,
            &format!("cut {cut}"),
        );
    }
    for extra in 1..=CHUNK + 1 {
        let mut long = f.sealed.clone();
        long.resize(f.sealed.len() + extra, 0xA5);
        same(
            &f.refuse(&long),
            &FileError::SegmentAuthentication(2),
            &format!("{extra} more bytes"),
        );
    }
}
