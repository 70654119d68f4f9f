//! Known-answer vector runner: recognizes each vector file's format and checks every vector.

pub mod pqxdh_vectors;

/// The result of running one vector file.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    /// The file's path as given.
    pub path: String,
    /// The recognized format.
    pub format: String,
    /// Vectors that matched.
    pub passed: usize,
    /// Vectors that did not.
    pub failed: usize,
    /// One line per failed vector.
    pub failures: Vec<String>,
}
