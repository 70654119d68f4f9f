//! Helpers shared by the bench targets: where criterion writes its results (the report reads
//! the JSON files written beside them) and the machine's load average.

use std::path::PathBuf;

/// Criterion's output folder: `CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else
/// `target/criterion`.
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        PathBuf::from(home)
    } else if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(target).join("criterion")
    } else {
        PathBuf::from("target/criterion")
    }
}

/// Writes `name` (a JSON document) into criterion's output folder for the report.
pub fn write_record(name: &str, json: &str) {
    let dir = criterion_dir();
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(name), json);
    }
}

/// The 1, 5 and 15 minute load averages: timings taken while other work runs are noisy.
pub fn loadavg() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Criterion with the settings every bench target uses: medians are all the report uses, so no
/// plots and a small bootstrap, which roughly halves the wall time of a run on 2 cores.
pub fn criterion(sample_size: usize) -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(2))
        .without_plots()
        .nresamples(10_000)
        .sample_size(sample_size)
        .configure_from_args()
}
