//! The core's module graph has no cycle, and the primitives import nothing above them: read
//! from the `use crate::...` paths of every source file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `handshake/store.rs` -> `handshake::store`; `ratchet/mod.rs` -> `ratchet`; `lib.rs` -> "".
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(SRC).unwrap().with_extension("");
    let name = rel.to_string_lossy().replace('/', "::");
    name.trim_end_matches("::mod")
        .trim_end_matches("lib")
        .to_string()
}

fn is_module(name: &str) -> bool {
    let base = Path::new(SRC).join(name.replace("::", "/"));
    base.with_extension("rs").is_file() || base.join("mod.rs").is_file()
}

/// The modules each module imports (the longest `crate::a::b` prefix that is a module).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut all = Vec::new();
    files(Path::new(SRC), &mut all);
    let mut graph = BTreeMap::new();
    for path in all {
        let module = module_of(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut deps = BTreeSet::new();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let tail: String = line[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let parts: Vec<&str> = tail.split("::").filter(|p| !p.is_empty()).collect();
                if let Some(dep) = (1..=parts.len())
                    .rev()
                    .map(|k| parts[..k].join("::"))
                    .find(|cand| is_module(cand))
                    && dep != module
                    && !module.starts_with(&format!("{dep}::"))
                    && !dep.starts_with(&format!("{module}::"))
                    && !module.is_empty()
                {
                    deps.insert(dep);
                }
            }
        }
        graph.insert(module, deps);
    }
    graph
}

fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(at) = stack.pop() {
        for dep in graph.get(&at).into_iter().flatten() {
            if dep == to {
                return true;
            }
            if seen.insert(dep.clone()) {
                stack.push(dep.clone());
            }
        }
    }
    false
}

#[test]
fn the_core_has_no_module_cycle() {
    let graph = graph();
    assert!(graph.contains_key("handshake::agreement") && graph.contains_key("ratchet::session"));
    let cycles: Vec<_> = graph
        .iter()
        .flat_map(|(m, deps)| deps.iter().map(move |d| (m.clone(), d.clone())))
        .filter(|(m, d)| reaches(&graph, d, m))
        .collect();
    assert_eq!(cycles, Vec::<(String, String)>::new());
}

#[test]
fn primitives_import_nothing_above_them() {
    let graph = graph();
    for (module, deps) in graph.iter().filter(|(m, _)| m.starts_with("primitives")) {
        for dep in deps {
            assert!(dep.starts_with("primitives"), "{module} imports {dep}");
        }
    }
}
