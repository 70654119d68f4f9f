#!/usr/bin/env python3
"""Writes BENCHMARKS.md (and an SVG plot) from criterion's results.

Reads every `<criterion dir>/**/new/estimates.json` (median point estimate) with its sibling
`benchmark.json` (group and function ids), plus the JSON records the bench targets write beside
them: `sizes.json` (`benches/handshake.rs`), `sizes-ratchet.json` (`benches/ratchet.rs`),
`sizes-spqr.json` (`benches/spqr.rs`) and `sizes-node.json` (`crates/pqxdh-node/benches/node.rs`).
Standard library only.

The "SPQR" section comes from `--bench spqr`; without its results the section already in the
output file is kept.

The "Server load (pqxdh-server)" section is not criterion's: `cargo bench -p pqxdh-server --bench
load` writes it to `target/server-load.md`, which is appended when present; otherwise the section
already in the output file is kept. Likewise "File encryption against age and rage", written by
`scripts/files_compare.sh` to `$CARGO_TARGET_DIR/files-compare.md` (default `target/`), and the
hand-written "Durable client (pqxdh-client)" section, which is kept.

    CRITERION_HOME="$PWD/target/criterion" cargo bench --bench primitives --bench handshake --bench ratchet --bench node -- --warm-up-time 1 --measurement-time 3
(benches of the outer crates run in their own package folders: CRITERION_HOME gathers every
result under the workspace's target/criterion)
    python3 scripts/bench_report.py [--criterion-dir DIR] [--out BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BENCHES = "--bench primitives --bench handshake --bench ratchet --bench node"
REGEN = (
    f'CRITERION_HOME="$PWD/target/criterion" cargo bench {BENCHES} -- --warm-up-time 1 --measurement-time 3'
    " && python3 scripts/bench_report.py"
)
REGEN_QUICK = (
    f'CRITERION_HOME="$PWD/target/criterion" cargo bench {BENCHES} -- --warm-up-time 0.5 --measurement-time 1'
    " && python3 scripts/bench_report.py"
)

# Reference numbers from the issue (same kind of 2-core AMD EPYC), microseconds.
LIBSIGNAL = {
    "initiator": 313.0,  # Alice processes a Kyber1024 bundle, no one-time prekey
    "responder": 304.0,  # Bob's first PreKeySignalMessage (new session)
    "encrypt_64": 7.65,
    "decrypt_64": 7.87,
    "first_message_new_chain": 103.0,
}
VODOZEMAC = {
    "initiator": 139.0,  # outbound session (classical, Olm 3DH)
    "responder": 129.0,  # inbound session
    "encrypt_64": 15.3,
    "decrypt_64": 1.79,
    "first_message_new_chain": 43.9,
    "send_after_turn": 57.5,
    "idle_session_json": 1450,  # bytes, approximately
}

PRIMITIVE_ROWS = [
    ("x25519_keygen", "X25519 key generation"),
    ("x25519_dh", "X25519 DH (checked, non-zero output)"),
    ("x25519_dh_ladder", "X25519 DH, x25519-dalek Montgomery ladder (reference)"),
    ("x25519_dh_dalek", "X25519 DH, curve25519-dalek Edwards path (`x25519_dh` with IFMA, or without `aws-lc`)"),
    ("x25519_dh_awslc", "X25519 DH, AWS-LC alone (`x25519_dh` without IFMA)"),
    ("x25519_public_key", "X25519 public key from a private key"),
    ("x25519_public_key_dalek", "X25519 public key, curve25519-dalek fixed-base table"),
    ("xeddsa_sign_33", "XEdDSA sign, 33 B"),
    ("xeddsa_sign_1569", "XEdDSA sign, 1569 B"),
    ("xeddsa_verify_33", "XEdDSA verify, 33 B (EncodeEC(SPK))"),
    ("xeddsa_verify_1569", "XEdDSA verify, 1569 B (EncodeKEM(PQPK))"),
    ("xeddsa_verifying_key", "XEdDSA key conversion alone (`VerifyingKey::new`)"),
    ("xeddsa_verify_prepared_33", "XEdDSA verify with a converted key, 33 B"),
    ("xeddsa_verify_prepared_1569", "XEdDSA verify with a converted key, 1569 B"),
    ("xeddsa_verify_bundle", "A bundle's two signature checks (conversion + 33 B + 1569 B, one shared inversion)"),
    ("xeddsa_verify_bundle_separate", "The same, one inversion each"),
    ("xeddsa_verify_bundle_awslc", "The same with AWS-LC's Ed25519 for the group check"),
    ("mlkem1024_libcrux_keygen", "ML-KEM-1024 keygen, libcrux"),
    ("mlkem1024_libcrux_encaps", "ML-KEM-1024 encaps, libcrux (bare)"),
    ("mlkem1024_libcrux_encaps_checked", "ML-KEM-1024 encaps, libcrux, with 7.2 check (crate API)"),
    ("mlkem1024_libcrux_decaps", "ML-KEM-1024 decaps, libcrux"),
    ("mlkem1024_pqclean_keygen", "ML-KEM-1024 keygen, PQClean"),
    ("mlkem1024_pqclean_encaps", "ML-KEM-1024 encaps, PQClean (bare)"),
    ("mlkem1024_pqclean_encaps_checked", "ML-KEM-1024 encaps, PQClean, with 7.2 check (crate API)"),
    ("mlkem1024_pqclean_decaps", "ML-KEM-1024 decaps, PQClean"),
    ("kyber1024_libcrux_keygen", "Kyber1024 keygen, libcrux"),
    ("kyber1024_libcrux_encaps", "Kyber1024 encaps, libcrux (bare)"),
    ("kyber1024_libcrux_encaps_checked", "Kyber1024 encaps, libcrux, with 7.2 check (crate API)"),
    ("kyber1024_libcrux_decaps", "Kyber1024 decaps, libcrux"),
    ("mlkem1024_validate", "KEM public-key check (FIPS 203 section 7.2)"),
    ("hkdf_sha256_32_to_64", "HKDF-SHA256, IKM 32 B, 64 B out"),
    ("hkdf_sha256_128_to_64", "HKDF-SHA256, IKM 128 B, 64 B out"),
    ("hkdf_sha256_160_to_64", "HKDF-SHA256, IKM 160 B, 64 B out"),
    ("hkdf_sha256_192_to_64", "HKDF-SHA256, IKM 192 B, 64 B out"),
    ("hmac_sha256_64", "HMAC-SHA256, 64 B"),
    ("aes256gcm_key_setup", "AES-256-GCM key setup alone"),
    ("aes256gcm_seal_64", "AES-256-GCM key setup + seal, 64 B"),
    ("aes256gcm_seal_1k", "AES-256-GCM key setup + seal, 1 KiB"),
    ("aes256gcm_seal_64k", "AES-256-GCM key setup + seal, 64 KiB"),
]

# Handshake kinds: id prefix, label, KEM primitive prefix (None for X3DH).
KINDS = [
    ("x3dh", "X3DH (classical)", None),
    ("pqxdh_mlkem1024_libcrux", "PQXDH ML-KEM-1024, libcrux", "mlkem1024_libcrux"),
    ("pqxdh_mlkem1024_pqclean", "PQXDH ML-KEM-1024, PQClean", "mlkem1024_pqclean"),
    ("pqxdh_kyber1024_libcrux", "PQXDH Kyber1024, libcrux", "kyber1024_libcrux"),
]

# Parts of a floor, in plot order: label and colour.
PARTS = [
    ("keygen", "X25519 keygen", "#8c564b"),
    ("dh", "X25519 DH", "#1f77b4"),
    ("verify", "XEdDSA verify", "#ff7f0e"),
    ("kem", "KEM (7.2 check + encaps / decaps)", "#2ca02c"),
    ("kdf", "HKDF / HMAC", "#9467bd"),
    ("aead", "AES-GCM", "#e377c2"),
    ("rest", "measured above floor", "#c7c7c7"),
]


# Measured by hand, not by criterion (the benches do not depend on OpenSSL or on RUSTFLAGS).
OPENSSL_X25519 = {
    "us": 33.1,
    # The same minutes, the timing loop of the hand-measured section (minimum per call): the
    # crate's X25519 in a workspace build (curve25519-dalek's IFMA Edwards path), AWS-LC alone,
    # and x25519-dalek's ladder.
    "crate_us": 25.7,
    "awslc_us": 31.4,
    "ladder_us": 50.8,
    "how": "`openssl speed -seconds 2 ecdhx25519`, OpenSSL 3.0.19 (Debian), best of 3 runs: "
    "30,220 op/s = 33.1 µs (2026-12-04 20:36 UTC, AMD EPYC, 2 vCPUs, load average 0.9).",
}
HAND_MEASURED = [
    "### Measured by hand: curve25519-dalek's backends, AWS-LC",
    "",
    "2026-12-04 20:31-20:36 UTC, AMD EPYC, 2 vCPUs (AVX2, AVX-512 IFMA), load average 0.9-1.0:",
    "a throw-away timing loop calling each operation in batches of 10, interleaved, 500 batches,",
    "minimum per call, each build run twice. The AVX2 build's figures vary by up to 20% from one",
    "process to the next (the IFMA build's do not), so its two runs' range is given. rustc 1.95.",
    "",
    "| operation | workspace build (`.cargo/config.toml`: IFMA picked at run time) | without the cfg (what a dependent gets by default: AVX2) |",
    "|---|---|---|",
    "| curve25519-dalek vartime `[a]A + [b]B` (Ed25519 verification's core) | 12.3 µs | 25.9-29.1 µs |",
    "| XEdDSA key conversion (`VerifyingKey::new`) | 11.4 µs | 11.4 µs |",
    "| a bundle's two checks, one shared inversion (`PreKeyBundle::verify`) | 43.7 µs | 70.9-83.7 µs |",
    "| the same, one inversion each (before) | 47.0 µs | 74.4-85.1 µs |",
    "| X25519 DH as the crate computes it | 25.7 µs (curve25519-dalek, Edwards path) | 31.4 µs (AWS-LC) |",
    "| curve25519-dalek X25519, Edwards path | 25.6 µs | 38.2-47.1 µs |",
    "| x25519-dalek Montgomery ladder | 50.4-51.1 µs (serial either way) | 50.4-50.6 µs |",
    "| OpenSSL 3.0.19 X25519 (`openssl speed`, best of 3) | 33.1 µs | |",
    "",
    "Against the targets, this machine: X25519 DH 0.51x x25519-dalek's ladder and 0.78x OpenSSL's",
    "(a dependent without the cfg: AWS-LC, 0.62x and 0.95x); a bundle's two signature checks",
    "0.54x the 81.3 µs the same loop measured on 2026-12-03 before these changes (one inversion",
    "each, AVX2), 0.59x this run's fastest AVX2 figure for that path (a dependent without the",
    "cfg: 0.87x-1.03x, the AVX2 backend's spread). curve25519-dalek 5 compiles its AVX-512 IFMA",
    "backend in only under `--cfg curve25519_dalek_backend=\"avx512\"` or when the target enables",
    "`avx512ifma` and `avx512vl` at build time, so a library cannot turn it on for the crates that",
    "depend on it; the cfg keeps run-time detection (cpufeatures) with the AVX2 and serial",
    "backends as fallbacks. Key generation stays on AWS-LC (7.3 µs, against 16.2 µs for",
    "curve25519-dalek's serial fixed-base table, 2026-12-03). AWS-LC (`aws-lc-sys` 0.47, its own",
    "`cc` build, no CMake) builds in about a minute on the 2 cores. X25519 (RFC 7748 including the",
    "1,000,000-iteration case, 30 s on the IFMA path; Wycheproof) and Ed25519 (RFC 8032,",
    "Wycheproof, libsignal XEdDSA vectors) pass on every backend.",
]


def criterion_dir_default() -> Path:
    if os.environ.get("CRITERION_HOME"):
        return Path(os.environ["CRITERION_HOME"])
    if os.environ.get("CARGO_TARGET_DIR"):
        return Path(os.environ["CARGO_TARGET_DIR"]) / "criterion"
    return ROOT / "target" / "criterion"


def load_medians(cdir: Path) -> tuple[dict[str, float], dict[str, int]]:
    """Median point estimates in microseconds, and byte throughputs, keyed `group/function`."""
    medians: dict[str, float] = {}
    throughput: dict[str, int] = {}
    for est in cdir.glob("**/new/estimates.json"):
        bench = est.parent / "benchmark.json"
        try:
            meta = json.loads(bench.read_text())
            data = json.loads(est.read_text())
        except (OSError, ValueError):
            continue
        key = meta.get("full_id") or f"{meta['group_id']}/{meta.get('function_id')}"
        medians[key] = data["median"]["point_estimate"] / 1000.0
        tp = meta.get("throughput") or {}
        if isinstance(tp, dict):
            for kind in ("Bytes", "BytesDecimal", "Elements"):
                if kind in tp:
                    throughput[key] = int(tp[kind])
    return medians, throughput


def machine_load() -> list[str]:
    try:
        return Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return []


def run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    except OSError:
        return ""


def lscpu_fields() -> dict[str, str]:
    fields = {}
    for line in run(["lscpu"]).splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
    return fields


def machine() -> list[str]:
    fields = lscpu_fields()
    flags = set(fields.get("Flags", "").split())
    if not flags:
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
        except OSError:
            pass

    def has(flag: str) -> str:
        return "yes" if flag in flags else "no"

    rustc = run(["rustc", "-V"]).strip() or "unknown"
    rustflags = os.environ.get("RUSTFLAGS", "") or (
        "(none set; `.cargo/config.toml` adds `--cfg curve25519_dalek_backend=\"avx512\"` on x86_64: "
        "curve25519-dalek's AVX-512 IFMA backend, picked at run time)"
    )
    flags_line = "AVX-512 IFMA: " + has("avx512ifma")
    try:
        load = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        load = ["?"]
    return [
        f"- CPU: {fields.get('Model name', platform.processor() or 'unknown')}, "
        f"{fields.get('CPU(s)', os.cpu_count())} logical CPUs "
        f"({fields.get('Core(s) per socket', '?')} cores per socket, "
        f"{fields.get('Thread(s) per core', '?')} threads per core)",
        f"- AVX2: {has('avx2')}; AVX-512F: {has('avx512f')}; SHA-NI: {has('sha_ni')}; "
        f"AES-NI: {has('aes')}; PCLMULQDQ: {has('pclmulqdq')}; VAES: {has('vaes')}; {flags_line}",
        f"- {rustc}; RUSTFLAGS: {rustflags}; profile `bench` (= release, opt-level 3, no debug info)",
        f"- Load average when the report was written: {' '.join(load)}",
    ]


def us(x: float | None) -> str:
    if x is None:
        return "n/a"
    if x >= 100:
        return f"{x:.0f} µs"
    if x >= 10:
        return f"{x:.1f} µs"
    if x >= 1:
        return f"{x:.2f} µs"
    return f"{x * 1000:.0f} ns"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


class Report:
    def __init__(self, medians: dict[str, float]):
        self.m = medians

    def p(self, name: str) -> float | None:
        """A primitive's median: `primitives/<name>`, or a full `group/name` id."""
        return self.m.get(name if "/" in name else f"primitives/{name}")

    def parts(self, terms: dict[str, list[tuple[float, str]]]) -> tuple[dict[str, float] | None, str]:
        """Sums (count, primitive) terms per part; None if a primitive is missing."""
        out: dict[str, float] = {}
        text = []
        for part, items in terms.items():
            total = 0.0
            for count, name in items:
                v = self.p(name)
                if v is None:
                    return None, ""
                total += count * v
                short = name.split("/", 1)[-1]
                text.append(f"{count:g} × {short}" if count != 1 else short)
            out[part] = total
        return out, " + ".join(text)

    def handshake_floor(self, kind_kem: str | None, side: str, opk: bool):
        dhs = 4 if opk else 3
        if kind_kem is None:
            hkdf = "hkdf_sha256_160_to_64" if opk else "hkdf_sha256_128_to_64"
        else:
            hkdf = "hkdf_sha256_192_to_64" if opk else "hkdf_sha256_160_to_64"
        terms: dict[str, list[tuple[float, str]]] = {}
        if side == "initiator":
            terms["keygen"] = [(1, "x25519_keygen")]
            terms["dh"] = [(dhs, "x25519_dh")]
            terms["verify"] = [(1, "xeddsa_verify_33")]
            if kind_kem is not None:
                terms["verify"].append((1, "xeddsa_verify_1569"))
                terms["kem"] = [(1, "mlkem1024_validate"), (1, f"{kind_kem}_encaps")]
        else:
            terms["dh"] = [(dhs, "x25519_dh")]
            if kind_kem is not None:
                terms["kem"] = [(1, f"{kind_kem}_decaps")]
        terms["kdf"] = [(1, hkdf)]
        return self.parts(terms)


def ratchet_floor(r: Report, rid: str):
    """The floor of a ratchet operation from the `ratchet_floor` group of the same run (the
    ratchet's own input sizes); None if that group was not measured."""
    f = lambda name: f"ratchet_floor/{name}"  # noqa: E731
    kdf_ck = (2, f("hmac_sha256_1"))
    message_keys = (1, f("hkdf_message_keys"))
    salt = (1, f("salt_draw"))
    for op, aead in (("encrypt", "seal"), ("decrypt", "open")):
        for size in ("64", "1k", "64k"):
            if rid == f"{op}_{size}":
                kdf = [kdf_ck, message_keys] + ([salt] if op == "encrypt" else [])
                return r.parts({"kdf": kdf, "aead": [(1, f(f"aes256gcm_{aead}_{size}"))]})
    if rid == "first_message_new_chain":
        return r.parts(
            {
                "dh": [(1, f("x25519_dh"))],
                "kdf": [(1, f("hkdf_kdf_rk")), kdf_ck, message_keys],
                "aead": [(1, f("aes256gcm_open_64"))],
            }
        )
    if rid == "send_after_turn":
        return r.parts(
            {
                "keygen": [(1, f("x25519_keygen"))],
                "dh": [(1, f("x25519_dh"))],
                "kdf": [(1, f("hkdf_kdf_rk")), kdf_ck, message_keys, salt],
                "aead": [(1, f("aes256gcm_seal_64"))],
            }
        )
    if rid == "decrypt_skipped":
        # The message key was derived and stored when the gap was seen: HKDF + AES-GCM only.
        return r.parts({"kdf": [message_keys], "aead": [(1, f("aes256gcm_open_64"))]})
    return None, ""


RATCHET_FLOOR_ROWS = [
    ("hmac_sha256_1", "HMAC-SHA256 over 1 byte, key set-up included (one half of KDF_CK)"),
    ("hkdf_message_keys", "HKDF-SHA256, 16-byte salt, 32-byte seed, 44 bytes out (message keys)"),
    ("hkdf_message_keys_unsalted", "the same without a salt (wire version 1, for comparison only)"),
    ("salt_draw", "16 random bytes from the session's generator (ChaCha20)"),
    ("hkdf_kdf_rk", "HKDF-SHA256, 32-byte salt and IKM, 64 bytes out (KDF_RK)"),
    ("x25519_keygen", "X25519 key generation"),
    ("x25519_dh", "X25519 DH (checked)"),
    ("aes256gcm_seal_64", "AES-256-GCM key set-up + seal, 64 B, 109 B AD"),
    ("aes256gcm_open_64", "AES-256-GCM key set-up + open, 64 B, 109 B AD"),
    ("aes256gcm_seal_1k", "AES-256-GCM key set-up + seal, 1 KiB, 109 B AD"),
    ("aes256gcm_open_1k", "AES-256-GCM key set-up + open, 1 KiB, 109 B AD"),
    ("aes256gcm_seal_64k", "AES-256-GCM key set-up + seal, 64 KiB, 109 B AD"),
    ("aes256gcm_open_64k", "AES-256-GCM key set-up + open, 64 KiB, 109 B AD"),
]


RATCHET_ROWS = [
    ("encrypt_64", "encrypt 64 B, existing chain"),
    ("decrypt_64", "decrypt 64 B, existing chain"),
    ("encrypt_1k", "encrypt 1 KiB, existing chain"),
    ("decrypt_1k", "decrypt 1 KiB, existing chain"),
    ("encrypt_64k", "encrypt 64 KiB, existing chain"),
    ("decrypt_64k", "decrypt 64 KiB, existing chain"),
    ("first_message_new_chain", "first message on a new receiving chain (DH ratchet step)"),
    ("send_after_turn", "the following send (new sending chain)"),
    ("decrypt_skipped", "out-of-order decrypt of a skipped message"),
]


def svg_plot(bars: list[tuple[str, dict[str, float], float]]) -> str:
    """Horizontal stacked bars, one per (label, parts in µs, measured µs). A measured time under
    the floor is marked with a black tick inside the bar."""
    width, left, right, top, row_h, bar_h = 900, 300, 40, 50, 26, 18
    legend_h = 50
    height = top + row_h * len(bars) + 40 + legend_h
    xmax = max((max(sum(p.values()), m) for _, p, m in bars), default=1.0)
    step = 50 if xmax <= 500 else 100
    xmax = (int(xmax / step) + 1) * step
    scale = (width - left - right) / xmax
    colours = {k: c for k, _, c in PARTS}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="15">'
        "Handshake cost by kind (criterion medians, µs), split into primitive floors</text>",
    ]
    axis_y = top + row_h * len(bars)
    for t in range(0, xmax + 1, step):
        x = left + t * scale
        out.append(f'<line x1="{x:.1f}" y1="{top - 5}" x2="{x:.1f}" y2="{axis_y}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{axis_y + 15}" text-anchor="middle">{t}</text>')
    out.append(f'<text x="{left + (width - left - right) / 2}" y="{axis_y + 32}" text-anchor="middle">µs</text>')
    for i, (label, parts, measured) in enumerate(bars):
        y = top + i * row_h
        out.append(f'<text x="{left - 8}" y="{y + bar_h - 4}" text-anchor="end">{label}</text>')
        x = float(left)
        for key, _, _ in PARTS:
            v = parts.get(key, 0.0)
            if v <= 0:
                continue
            w = v * scale
            out.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colours[key]}">'
                f"<title>{key}: {v:.1f} µs</title></rect>"
            )
            x += w
        if measured < sum(parts.values()):
            mx = left + measured * scale
            out.append(f'<line x1="{mx:.1f}" y1="{y - 2}" x2="{mx:.1f}" y2="{y + bar_h + 2}" stroke="black" stroke-width="2"/>')
        out.append(f'<text x="{x + 4:.1f}" y="{y + bar_h - 4}">{measured:.0f}</text>')
    ly = axis_y + 45
    lx = 20.0
    for key, name, colour in PARTS:
        item_w = 24 + 7.0 * len(name)
        if lx + item_w > width:
            lx, ly = 20.0, ly + 20
        out.append(f'<rect x="{lx:.0f}" y="{ly}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{lx + 16:.0f}" y="{ly + 11}">{name}</text>')
        lx += item_w
    out.append("</svg>")
    return "\n".join(out) + "\n"


BUNDLE_CACHE_HEADING = "### Verified-bundle cache (initiator)"


def bundle_cache_section(h, handshake_load: str) -> list[str]:
    """Cold and warm PQXDH initiators through the verified-bundle cache (`benches/handshake.rs`,
    `verified_bundle_cache`) and their ratio; nothing when they were not measured. Names the CPU
    and the load of the handshake run, so that the section still says where its numbers come from
    when it is the only part of a report brought up to date."""
    prefix = "pqxdh_mlkem1024_libcrux_initiator"
    if h(f"{prefix}_cold") is None and h(f"{prefix}_cold_opk") is None:
        return []
    cpu = lscpu_fields().get("Model name", platform.processor() or "unknown CPU")
    L = [
        BUNDLE_CACHE_HEADING,
        "",
        f"Measured on {cpu}, {os.cpu_count()} logical CPUs, with the handshake benchmarks (load",
        f"average when they started: {handshake_load or 'not recorded'}).",
        "",
    ]
    try:
        noisy = float(handshake_load.split()[0]) > 0.75 * (os.cpu_count() or 1)
    except (IndexError, ValueError):
        noisy = False
    if noisy:
        L += [
            "> **Noisy run**: other processes shared the cores and the load changed between benchmarks,",
            "> so even the uncached and cold columns (the same work) differ. A hit saves the two",
            "> signature checks (`bundle_verify`, below); read the ratio as indicative only.",
            "",
        ]
    L += [
        "PQXDH ML-KEM-1024, libcrux, from an owned decoded bundle to a header ready to send, through",
        "`VerifiedBundleCache::verify` and `initiate_verified` (SPEC.md section 5.1). Cold: an empty",
        "cache (lookup, both XEdDSA checks, insertion, handshake). Warm: a hit on byte-identical",
        "signed material (lookup, handshake), the bundle carrying another one-time prekey than the",
        "cached one when it has one, as a second claim does. Uncached: `initiate` (the",
        "`pqxdh_mlkem1024_libcrux_initiator` rows) in the same run, which checks both signatures too.",
        "",
        "| OPK | uncached `initiate` | cold (verify + initiate) | warm (cache hit + initiate) | cold / warm |",
        "|---|---|---|---|---|",
    ]
    for opk in (False, True):
        sfx = "_opk" if opk else ""
        cold, warm = h(f"{prefix}_cold{sfx}"), h(f"{prefix}_warm{sfx}")
        L.append(
            f"| {'yes' if opk else 'no'} | {us(h(f'{prefix}{sfx}'))} | {us(cold)} | {us(warm)} | "
            f"{ratio(cold, warm)} |"
        )
    L.append("")
    if h("bundle_cache_hit") is not None:
        L += [
            "The lookup alone (`handshake/bundle_cache_hit`: the signed material copied, hashed and",
            f"compared) takes {us(h('bundle_cache_hit'))}; the two signature checks it replaces",
            f"(`handshake/bundle_verify`) take {us(h('bundle_verify'))}.",
            "",
        ]
    return L


# Sections that are not criterion's: each is read from the file its measuring tool writes when
# present, else kept as it stands in the output file (a heading through the next "## ").
SERVER_LOAD_HEADING = "## Server load (pqxdh-server)"
FILES_COMPARE_HEADING = "## File encryption against age and rage"
CLIENT_HEADING = "## Durable client (pqxdh-client)"


def kept_section(out: Path, heading: str, written: Path | None) -> list[str]:
    """The section under `heading`: `written` (the tool's output) when present, else the one in
    `out`, without trailing blank lines."""
    lines: list[str] = []
    try:
        if written is not None:
            lines = written.read_text().rstrip("\n").split("\n")
    except OSError:
        lines = []
    if not lines:
        try:
            old = out.read_text().split("\n")
        except OSError:
            old = []
        if heading in old:
            start = old.index(heading)
            end = next((i for i in range(start + 1, len(old)) if old[i].startswith("## ")), len(old))
            lines = old[start:end]
    while lines and lines[-1] == "":
        lines.pop()
    return lines


SPQR_HEADING = "## SPQR (ML-KEM Braid)"

SPQR_QUICK = (
    'CRITERION_HOME="$PWD/target/criterion" cargo bench --bench spqr -- --warm-up-time 0.5 --measurement-time 1'
)

# Criterion id in group `spqr`, label; the `_cycle` ids time a whole cycle (Elements = its steps).
SPQR_ROWS = [
    ("send_cycle", "`send`, average over the cycle"),
    ("recv_cycle", "`recv`, average over the cycle"),
    ("send_keygen", "the send that samples the ML-KEM-768 key pair (first header chunk)"),
    ("send_encapsulate", "the send that encapsulates (first ct1 chunk; yields the epoch secret)"),
    ("recv_decapsulate", "the receive that decapsulates (the ct2 chunk that completes ct2)"),
    ("send_costliest", "the costliest send of the cycle"),
    ("recv_costliest", "the costliest receive of the cycle"),
]


def spqr_section(medians: dict[str, float], throughput: dict[str, int], rec: dict, out: Path) -> list[str]:
    """The SPQR section from `spqr/*` results and `sizes-spqr.json`, else the one in `out`."""
    if not any(k.startswith("spqr/") for k in medians):
        return kept_section(out, SPQR_HEADING, None)
    n = rec.get("cycle_messages", "?")
    L = [
        SPQR_HEADING,
        "",
        "`benches/spqr.rs`, not in the commands above; alone (quick mode), then the report:",
        "",
        "```sh",
        SPQR_QUICK,
        "```",
        "",
        "SPQR V1 states (`pqxdh::spqr`, SPEC.md section 14) in steady ping-pong, one message each way,",
        f"each delivered at once, recorded over a cycle of {rec.get('cycle_epochs', '?')} epochs ({n} messages, from A's epoch 3),",
        "after which both parties are back in the same role. `send` and `recv` take `&self`, so each",
        "measured operation replays a recorded step; the averages divide the time of the whole cycle",
        "by its steps. Most steps move one 32-byte chunk and step the chain; the few that run",
        "ML-KEM-768 dominate. The costliest send and receive are found by timing every step of the",
        "cycle a few times before measuring.",
        "",
        "| operation | criterion id | median |",
        "|---|---|---|",
    ]
    for sid, label in SPQR_ROWS:
        key = f"spqr/{sid}"
        m = medians.get(key)
        side, _, kind = sid.partition("_")
        if kind == "costliest" and rec.get(f"costliest_{side}"):
            label = f"{label}: {rec[f'costliest_{side}']}"
        if m is not None and sid.endswith("_cycle") and throughput.get(key):
            steps = throughput[key]
            value = f"{us(m / steps)} per message ({us(m)} for {steps})"
        else:
            value = us(m)
        L.append(f"| {label} | `{key}` | {value} |")
    L.append("")
    lens = rec.get("message_len")
    if lens:
        L += [
            "Bytes added per message (the SPQR message each ratchet message carries), over the cycle:",
            f"{lens['min']} B at least, {lens['avg']} B on average, {lens['max']} B at most (version, epoch,",
            "counter and type, plus the chunk index and 32 bytes when the message carries a chunk;",
            "SPEC.md 14.5).",
            "",
        ]
    one = rec.get("one_sided")
    if rec.get("messages_per_epoch_ping_pong") is not None and one:
        L += [
            "Messages per epoch, both directions together: "
            f"{rec['messages_per_epoch_ping_pong']:g} in ping-pong;",
            f"{one['messages_per_epoch']:g} when A sends {one['ratio']} messages for each of B's, "
            f"{one['from_b_per_epoch']:g} of them B's (an epoch",
            "needs a few dozen chunks from each side).",
            "",
        ]
    sizes = rec.get("state_size")
    if sizes:
        L += [
            "Saved state (`SpqrState::to_bytes`, SPEC.md 14.6) by braid phase, over the states of the",
            "cycle (both parties, before each step):",
            "",
            "| phase | bytes | states |",
            "|---|---|---|",
        ]
        for row in sizes:
            size = f"{row['min']}" if row["min"] == row["max"] else f"{row['min']} to {row['max']}"
            L.append(f"| {row['phase']} | {size} | {row['states']} |")
        L.append("")
    if rec.get("loadavg_at_start"):
        L += [f"Load average when the SPQR benchmarks started: {rec['loadavg_at_start']}.", ""]
    while L and L[-1] == "":
        L.pop()
    return L


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--criterion-dir", type=Path, default=criterion_dir_default())
    ap.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--svg", type=Path, default=ROOT / "benchmarks-handshake.svg")
    args = ap.parse_args()

    medians, throughput = load_medians(args.criterion_dir)
    if not medians:
        print(f"no criterion results under {args.criterion_dir}; run cargo bench first", file=sys.stderr)
        return 1
    def record(name: str) -> dict:
        try:
            return json.loads((args.criterion_dir / name).read_text())
        except (OSError, ValueError):
            return {}

    sizes = record("sizes.json")
    ratchet_sizes = record("sizes-ratchet.json")
    spqr_sizes = record("sizes-spqr.json")
    node_sizes = record("sizes-node.json")
    starts = [
        ("handshake", sizes.get("loadavg_at_start", "")),
        ("ratchet", ratchet_sizes.get("loadavg_at_start", "")),
        ("node", node_sizes.get("loadavg_at_start", "")),
    ]
    r = Report(medians)
    h = lambda name: medians.get(f"handshake/{name}")  # noqa: E731

    L: list[str] = []
    L += [
        "# Benchmarks",
        "",
        "Generated by `scripts/bench_report.py` from criterion's results; do not edit by hand.",
        "Regenerate (about 5.5 minutes on 2 idle cores, measured; more when other builds share them):",
        "",
        "```sh",
        REGEN,
        "```",
        "",
        "Quick mode (about 3 minutes, noisier):",
        "",
        "```sh",
        REGEN_QUICK,
        "```",
        "",
        "Add `--bench <name>` for further bench targets (`--bench files`, 64 MiB, adds about 45 s); the script",
        "picks up every criterion result it finds. Timings are medians; differences under about 10%",
        "are noise, and runs made while other builds use the machine are slower and noisier than",
        "those on an idle machine (see the load average below).",
        "",
        "## Machine",
        "",
    ]
    L += machine()
    for what, load in starts:
        if load:
            L.append(f"- Load average when the {what} benchmarks started: {load}")
    L.append(f"- Written {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
    L.append("")
    loads = []
    for text in [load for _, load in starts] + [" ".join(machine_load())]:
        try:
            loads.append(float(text.split()[0]))
        except (IndexError, ValueError):
            pass
    cpus = os.cpu_count() or 1
    if any(load > 0.75 * cpus for load in loads):
        L += [
            f"> **Noisy run**: the load average reached {max(loads):.1f} on {cpus} CPUs while these",
            "> numbers were taken, so other processes shared the cores. Medians are inflated unevenly",
            "> (primitives and handshakes may have run under different load), which distorts the",
            "> measured/floor ratios. Regenerate on an idle machine before drawing conclusions.",
            "",
        ]

    # Handshakes.
    L += [
        "## Handshakes",
        "",
        "Initiator: from a decoded bundle to a header ready to send (both or, for X3DH, one XEdDSA",
        "bundle signature check, EK generation, the FIPS 203 7.2 key check and encapsulation, DHs,",
        "HKDF, session id, `InitialHeader::to_bytes`). Responder: `InitialHeader::from_bytes` and",
        "`respond` (decapsulation, DHs, HKDF, session id). PQ/classical is the ratio to X3DH on the",
        "same side with the same prekeys. The floor is the sum of the primitive medians of the same",
        "run (defined below the table).",
        "",
        "| handshake | side | OPK | median | PQ / classical | floor | measured / floor | reference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    bars: list[tuple[str, dict[str, float], float]] = []
    floor_defs: list[str] = []
    for side in ("initiator", "responder"):
        for prefix, label, kem in KINDS:
            for opk in (False, True):
                bid = f"{prefix}_{side}{'_opk' if opk else ''}"
                measured = h(bid)
                classical = h(f"x3dh_{side}{'_opk' if opk else ''}")
                parts, text = r.handshake_floor(kem, side, opk)
                floor = sum(parts.values()) if parts else None
                ref = ""
                if prefix == "pqxdh_kyber1024_libcrux" and not opk:
                    ref = f"libsignal {us(LIBSIGNAL[side])}"
                elif prefix == "x3dh" and not opk:
                    ref = f"vodozemac 0.11 {us(VODOZEMAC[side])} (Olm, classical)"
                pq = "" if kem is None else ratio(measured, classical)
                L.append(
                    f"| {label} | {side} | {'yes' if opk else 'no'} | {us(measured)} | {pq} | "
                    f"{us(floor)} | {ratio(measured, floor)} | {ref} |"
                )
                if not opk and kem in (None, "mlkem1024_libcrux"):
                    floor_defs.append(f"- {label}, {side}: {text}")
                if parts and measured is not None:
                    bar = dict(parts)
                    bar["rest"] = max(0.0, measured - floor)
                    bars.append((f"{label.replace(', ', ' ')} {side[:4]}.{' +OPK' if opk else ''}", bar, measured))
    L += ["", "Floors (each one-time prekey adds one `x25519_dh`, and HKDF takes 32 more bytes of IKM):", ""]
    L += floor_defs
    L += [
        "- the other KEM kinds use their own `_encaps` / `_decaps`; `_encaps` is the library's bare",
        "  encapsulation, the 7.2 check is counted once as `mlkem1024_validate`.",
        "- X3DH's HKDF takes 128 B of IKM (160 B with a one-time prekey), PQXDH's 160 B (192 B).",
        "- The floor counts two complete XEdDSA verifications, each converting the identity key to",
        "  Edwards form. `PreKeyBundle::verify` converts it once for both (`xeddsa::VerifyingKey`),",
        f"  so a PQXDH initiator can come in under the floor by up to one conversion "
        f"({us(r.p('xeddsa_verifying_key'))}).",
        "",
        "References (issue, same kind of 2-core AMD EPYC): libsignal processes a Kyber1024 bundle",
        "without a one-time prekey in 313 µs and Bob's first PreKeySignalMessage takes 304 µs (that",
        "includes the first message's decryption and session bookkeeping); vodozemac 0.11 (Olm,",
        "classical, no signature checks on the hot path) creates an outbound session in 139 µs and an",
        "inbound one in 129 µs.",
        "",
    ]
    L += bundle_cache_section(h, sizes.get("loadavg_at_start", ""))
    if h("bundle_from_json") is not None:
        L += [
            f"Decoding a bundle from JSON (`PreKeyBundle::from_json`, hex, key decoding, 7.2 check): "
            f"{us(h('bundle_from_json'))}, paid by a client before `initiate`.",
            "",
        ]

    svg_name = args.svg.name
    try:
        args.svg.write_text(svg_plot(bars))
        L += [f"![Handshake cost split into primitive floors]({svg_name})", ""]
    except OSError as e:
        print(f"could not write {args.svg}: {e}", file=sys.stderr)

    # Primitives.
    L += ["## Primitives", "", "| primitive | criterion id | median |", "|---|---|---|"]
    for pid, label in PRIMITIVE_ROWS:
        L.append(f"| {label} | `primitives/{pid}` | {us(r.p(pid))} |")
    seal64k = r.p("aes256gcm_seal_64k")
    if seal64k:
        L += ["", f"AES-256-GCM at 64 KiB: {65536 / seal64k / 1000:.2f} GB/s including key setup."]
    L.append("")

    # Backends.
    dh, ladder, dalek = r.p("x25519_dh"), r.p("x25519_dh_ladder"), r.p("x25519_dh_dalek")
    bundle, bundle_aws = r.p("xeddsa_verify_bundle"), r.p("xeddsa_verify_bundle_awslc")
    L += [
        "## X25519 and Ed25519 backends",
        "",
        "`x25519_public_key` runs on AWS-LC (`aws-lc-rs`, default feature `aws-lc`: s2n-bignum's",
        "verified constant-time assembly, chosen at run time for the CPU), and so does `x25519_dh`",
        "unless curve25519-dalek's IFMA backend is compiled in and the CPU has IFMA: then",
        "curve25519-dalek's Edwards path (`x25519_dh_dalek`) is faster and runs instead, as here.",
        "Without the feature, curve25519-dalek computes both (`_dalek` rows). XEdDSA verification stays on",
        "curve25519-dalek: its variable-time double-scalar multiplication beats AWS-LC's",
        "constant-time Ed25519 (last rows). Builds from this workspace compile in curve25519-dalek's",
        "AVX-512 IFMA backend (`.cargo/config.toml`: `--cfg curve25519_dalek_backend=\"avx512\"`),",
        "which it picks at run time when the CPU has IFMA, AVX2 otherwise; a crate that depends on",
        "pqxdh without those lines gets the AVX2 backend (hand-measured below). A bundle's two checks",
        "share one field inversion (`VerifyingKey::verify_two`; `_separate` compresses each point",
        "alone). Criterion rows: same run as the tables above; a median under load is higher than the",
        "best-of-runs figure `openssl speed` gives, so the OpenSSL comparison is also made by hand",
        "under the same conditions.",
        "",
        "| comparison | ratio |",
        "|---|---|",
        f"| X25519 DH, crate / x25519-dalek ladder | {ratio(dh, ladder)} |",
        f"| X25519 DH, crate / curve25519-dalek Edwards path | {ratio(dh, dalek)} |",
        f"| X25519 DH, crate / OpenSSL ({us(OPENSSL_X25519['us'])}, by hand) | "
        f"{ratio(dh, OPENSSL_X25519['us'])} |",
        f"| X25519 DH, both by hand (minimum per call, below): crate {us(OPENSSL_X25519['crate_us'])}"
        f" / OpenSSL {us(OPENSSL_X25519['us'])} | {ratio(OPENSSL_X25519['crate_us'], OPENSSL_X25519['us'])} |",
        f"| X25519 DH, both by hand: crate / x25519-dalek ladder {us(OPENSSL_X25519['ladder_us'])} | "
        f"{ratio(OPENSSL_X25519['crate_us'], OPENSSL_X25519['ladder_us'])} |",
        f"| X25519 DH, by hand, AWS-LC alone (a dependent without the cfg) / OpenSSL | "
        f"{ratio(OPENSSL_X25519['awslc_us'], OPENSSL_X25519['us'])} |",
        f"| X25519 DH, by hand, AWS-LC alone / x25519-dalek ladder | "
        f"{ratio(OPENSSL_X25519['awslc_us'], OPENSSL_X25519['ladder_us'])} |",
        f"| X25519 DH, crate / AWS-LC alone (`x25519_dh_awslc`) | {ratio(dh, r.p('x25519_dh_awslc'))} |",
        f"| X25519 public key, crate (AWS-LC) / curve25519-dalek table | "
        f"{ratio(r.p('x25519_public_key'), r.p('x25519_public_key_dalek'))} |",
        f"| two signature checks, AWS-LC Ed25519 / curve25519-dalek (kept) | {ratio(bundle_aws, bundle)} |",
        f"| two signature checks, one shared inversion / one inversion each | "
        f"{ratio(bundle, r.p('xeddsa_verify_bundle_separate'))} |",
        "",
        f"OpenSSL: {OPENSSL_X25519['how']}",
        "",
    ]
    L += HAND_MEASURED
    L.append("")

    # Ratchet.
    L += [
        "## Double Ratchet",
        "",
        "Criterion ids `ratchet/<id>` on a PQXDH (ML-KEM-1024) session after six turns, one operation",
        "per measured iteration (set-up excluded). The floor is the sum of the `ratchet_floor/<id>`",
        "medians of the same run, the primitives with the ratchet's own input sizes (listed below the",
        "table): a message on an existing chain = 2 HMAC (KDF_CK) + 1 HKDF (message keys) + AES-GCM",
        "key set-up and seal (open for decrypt), plus the 16-byte salt draw when sending; the first message on a new receiving chain = 1 DH +",
        "HKDF (KDF_RK) + 2 HMAC + HKDF + AES-GCM open; the following send, which creates the new",
        "sending chain (the ratchet defers that half of the DH step to the next send) = keygen + 1 DH",
        "+ HKDF + 2 HMAC + HKDF + AES-GCM seal; a skipped message = HKDF + AES-GCM open on a stored",
        "key. KDF_CK shares one HMAC key schedule between its two MACs, so the ratchet can come in",
        "under the floor.",
        "",
        "| operation | criterion id | median | floor | measured / floor | libsignal | vodozemac 0.11 |",
        "|---|---|---|---|---|---|---|",
    ]
    ratchet_defs: list[str] = []
    for rid, label in RATCHET_ROWS:
        measured = medians.get(f"ratchet/{rid}")
        parts, text = ratchet_floor(r, rid)
        floor = sum(parts.values()) if parts else None
        lib = us(LIBSIGNAL[rid]) if rid in LIBSIGNAL else ""
        voz = us(VODOZEMAC[rid]) if rid in VODOZEMAC else ""
        if rid == "send_after_turn":
            voz = f"{voz} (after {us(VODOZEMAC['first_message_new_chain'])} receive)"
        L.append(
            f"| {label} | `ratchet/{rid}` | {us(measured) if measured else 'not measured yet'} | "
            f"{us(floor)} | {ratio(measured, floor) if measured else ''} | {lib} | {voz} |"
        )
        if text:
            ratchet_defs.append(f"- `{rid}`: {text}")
    extra = sorted(k for k in medians if k.startswith("ratchet/") and k[8:] not in dict(RATCHET_ROWS))
    for k in extra:
        L.append(f"| {k[8:]} | `{k}` | {us(medians[k])} |  |  |  |  |")
    L.append("")
    if ratchet_defs:
        L += ["Floors:", ""] + ratchet_defs + [""]
    if any(f"ratchet_floor/{fid}" in medians for fid, _ in RATCHET_FLOOR_ROWS):
        L += ["| floor primitive | criterion id | median |", "|---|---|---|"]
        for fid, label in RATCHET_FLOOR_ROWS:
            L.append(f"| {label} | `ratchet_floor/{fid}` | {us(medians.get(f'ratchet_floor/{fid}'))} |")
        L.append("")
    salted = medians.get("ratchet_floor/hkdf_message_keys")
    unsalted = medians.get("ratchet_floor/hkdf_message_keys_unsalted")
    draw = medians.get("ratchet_floor/salt_draw")
    if salted is not None and unsalted is not None and draw is not None:
        L += [
            "The per-message salt (SPEC.md section 8.1, so that a restored session never reuses an",
            "AES-GCM key and nonce) adds 16 bytes to every message and, per message, one draw of 16",
            f"random bytes ({us(draw)}) and the salted HKDF in place of the unsalted one",
            f"({us(salted)} against {us(unsalted)}): {us(draw + salted - unsalted)} in all.",
            "",
        ]
    L += [
        "References (issue): libsignal encrypts 64 B in 7.65 µs, decrypts in 7.87 µs and takes 103 µs",
        "for the first message of a new chain (it performs both halves of the DH step on receive);",
        "vodozemac 0.11 encrypts 64 B in 15.3 µs, decrypts in 1.79 µs, and takes 43.9 µs for the",
        "first message of a new chain plus 57.5 µs for the next send.",
        "",
    ]

    # Triple ratchet against the classical one.
    triple = {k.split("/", 1)[1]: v for k, v in medians.items() if k.startswith("triple/")}
    if triple:
        L += [
            "### Triple ratchet (Double Ratchet + SPQR)",
            "",
            "Group `triple` of `--bench ratchet`: the same PQXDH session set-up on each ratchet. A",
            "ping-pong is one 64-byte message each way (two encrypts, two decrypts, a DH ratchet turn;",
            "SPQR's cost depends on the braid's phase, and iterations run through every phase). The",
            "existing-chain rows are `ratchet/encrypt_64` and `ratchet/decrypt_64` on the triple",
            "ratchet: in a one-sided burst every message carries the next erasure-coded chunk of the",
            "sender's braid message.",
            "",
            "| operation | classical | triple | triple / classical |",
            "|---|---|---|---|",
        ]
        for label, classical, tri in [
            ("ping-pong, 64 B each way", medians.get("triple/classical_ping_pong_64"), triple.get("triple_ping_pong_64")),
            ("encrypt 64 B, existing chain", medians.get("ratchet/encrypt_64"), triple.get("encrypt_64")),
            ("decrypt 64 B, existing chain", medians.get("ratchet/decrypt_64"), triple.get("decrypt_64")),
        ]:
            L.append(f"| {label} | {us(classical)} | {us(tri)} | {ratio(tri, classical)} |")
        L += [
            "",
            "Bytes: a triple-ratchet message adds 2 + 4..37 bytes (32.1 on average over an epoch cycle, the",
            "SPQR section below) to the classical 75. The first message of a session costs the same",
            "handshake (the HKDF expands 96 bytes instead of 64) plus SPQR's initial state (two HKDFs);",
            "SPQR's key generation (`spqr/send_keygen`) happens on the initiator's first send. The",
            "erasure encoder evaluates its 16 lanes at a chunk's index through one multiplication table",
            "per chunk (`spqr::gf16::MulBy`): a parity chunk took 11 µs of the 15.5 µs `triple/encrypt_64`",
            "before (2026-12-04), about 1.5 µs now.",
            "",
        ]

    spqr = spqr_section(medians, throughput, spqr_sizes, args.out)
    if spqr:
        L += spqr + [""]

    # Node / files / anything else.
    others = sorted(
        k
        for k in medians
        if k.split("/", 1)[0]
        not in ("primitives", "handshake", "ratchet", "ratchet_floor", "spqr", "triple")
    )
    L += [
        "## Node and file throughput",
        "",
        "`node/send_receive_pair_64`: one `send_message` + `receive_message` pair (64-byte plaintext,",
        "an established conversation) through `Node::handle_line` in process, JSON and base64",
        "included; `node/pipe_send_receive_pair_64`: the same pair written to a `pqxdh-node`",
        "subprocess's stdin, each reply line read back before the next request. Rates are per pair.",
        "`files_64MiB/*` (`--bench files`): a 64 MiB in-memory file encrypted and decrypted to one",
        "recipient under `Schedule::Auto` (`encrypt`, `decrypt`: the pool only if the cryptography is the bottleneck) and one segment at a time (`*_serial`), next",
        "to RustCrypto's raw AES-256-GCM on one core over the same buffer in one call and in 64 KiB",
        "segments copied in from the input and out to the output, as any Read -> Write stream must",
        "(`raw_aes256gcm_segments_copied`). `files_aes256gcm/*`: one core sealing one 16 KiB or 64 KiB",
        "buffer in place with RustCrypto's `aes-gcm` and with AWS-LC's (`aws-lc-rs`, what segments use",
        "by default). `files_small/*`: whole encryptions of 128 KiB and 1 MiB (a PQXDH run and a",
        "signature included), serial against parallel batches (`PARALLEL_MIN_SEGMENTS`).",
        "",
    ]
    if others:
        L += ["| criterion id | median | throughput |", "|---|---|---|"]
        for k in others:
            tp = throughput.get(k)
            if tp and k.startswith("node/"):
                rate = f"{tp / medians[k] * 1e6:,.0f} pairs/s"
            else:
                rate = f"{tp / medians[k]:.1f} MB/s" if tp else ""
            L.append(f"| `{k}` | {us(medians[k])} | {rate} |")
    else:
        L.append("No `node/...` or `files/...` benchmarks measured yet.")
    if node_sizes.get("pipe_pairs_per_second"):
        L += [
            "",
            f"A fixed pipe run ({node_sizes['pipe_pairs']:,} pairs through a fresh `pqxdh-node`, start-up and",
            f"handshake excluded): {node_sizes['pipe_seconds']:.3f} s, "
            f"{node_sizes['pipe_pairs_per_second']:,.0f} pairs/s.",
        ]
    L += [
        "",
        "The pipe rows are mostly the two processes waking each other: on an idle virtual machine a",
        "halted vCPU is slow to wake. With a busy loop on the other core, `node/pipe_send_receive_pair_64`",
        "measured 34 µs instead of 119 µs (2026-12-04, same build); the in-process pair does not change.",
    ]
    L.append("")

    # Sizes.
    L += [
        "## Bytes on the wire",
        "",
        "Bundle: JSON as `PreKeyBundle::to_json` writes it (pretty) and compact; binary equivalent =",
        "EncodeEC(IK) 33 + EncodeEC(SPK) 33 + signature 64 + EncodeKEM(PQPK) 1569 + signature 64",
        "[+ EncodeEC(OPK) 33] + 4-byte ids. Header: `InitialHeader::to_bytes().len()`.",
        "",
        "| handshake | bundle JSON (pretty / compact) | bundle binary | initial-message header |",
        "|---|---|---|---|",
    ]
    for row in sizes.get("handshakes", []):
        L.append(
            f"| {row['kind']} | {row['bundle_json_pretty']} / {row['bundle_json_compact']} B | "
            f"{row['bundle_binary']} B | {row['header']} B |"
        )
    L += [
        "",
        "X3DH carries the same bundle here (it ignores the PQ prekey); a classical-only bundle would be",
        "33 + 33 + 64 [+ 33] + 4-byte ids = 134 [171] B.",
        "",
        "### Per-message overhead (Double Ratchet)",
        "",
    ]
    if ratchet_sizes:
        tag = ratchet_sizes["tag"]
        header = ratchet_sizes["normal_header"]
        L += [
            f"A normal message is the plaintext plus {ratchet_sizes['normal_overhead']} bytes: a {header}-byte header",
            f"(version, type, EncodeEC(ratchet key), PN, N, 16-byte salt) and the {tag}-byte GCM tag. A pre-key",
            "message (sent by the initiator until the first reply is decrypted) adds 6 bytes (version,",
            "type, length) and the handshake's initial header:",
            "",
            "| handshake | pre-key header | pre-key message overhead | initiator's saved session |",
            "|---|---|---|---|",
        ]
        for row in ratchet_sizes.get("prekey", []):
            L.append(
                f"| {row['kind']} | {row['prekey_header']} B | {row['overhead']} B | "
                f"{row['saved_session']} B |"
            )
        skipped = ratchet_sizes.get("saved_session_skipped", {})
        L += [
            "",
            "Saved session (`Session::to_bytes`, binary, SPEC.md section 8.7) after six turns, idle and",
            "with skipped message keys stored (one chain):",
            "",
            "| skipped keys | 0 | " + " | ".join(skipped) + " |",
            "|---|---|" + "---|" * len(skipped),
            f"| bytes | {ratchet_sizes['saved_session_idle']} | "
            + " | ".join(str(v) for v in skipped.values())
            + " |",
            "",
            f"vodozemac 0.11 stores an idle session in about {VODOZEMAC['idle_session_json']} B of JSON.",
        ]
    else:
        L += [
            "_Not measured yet: run `cargo bench --bench ratchet` for the per-message overhead (header +",
            f"tag) and the saved session sizes (vodozemac 0.11: about {VODOZEMAC['idle_session_json']} B of JSON)._",
        ]
    L.append("")

    # The server load section is written by `cargo bench -p pqxdh-server --bench load`, the
    # file comparison by `scripts/files_compare.sh`; the client's section is hand-written.
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for heading, written in (
        (FILES_COMPARE_HEADING, target / "files-compare.md"),
        (SERVER_LOAD_HEADING, ROOT / "target" / "server-load.md"),
        (CLIENT_HEADING, None),
    ):
        section = kept_section(args.out, heading, written)
        if section:
            L += section + [""]

    args.out.write_text("\n".join(L))
    print(f"wrote {args.out} and {args.svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
