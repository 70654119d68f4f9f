//! Shared by the vector tests.
#![allow(clippy::unwrap_used)]

/// Runs from the repository root, where `kat/` is and whose relative paths the reports print.
pub fn at_root() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).unwrap();
    });
}
