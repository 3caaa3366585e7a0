//! The repository stands alone: docs and code cite files that are in it, and name no
//! tracker items.
//!
//! * Every `*.md` / `*.wiki` file name and every `../` path in docs/ and crates/ must
//!   resolve to a file of this repository, from the citing file's folder, its crate's
//!   folder or the repository root (innovaphone's public protocol facts live in
//!   docs/public-protocols.md, not in a file beside the checkout). Absolute paths into the
//!   workspace (`/work/…`) are never right.
//! * Neither docs/, the README nor the code under crates/ has "issue N" references: a
//!   reader has no tracker at hand.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Text files under `dir`, build output and dependencies left out.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | "node_modules" | ".git") {
                files(&path, out);
            }
        } else if [".rs", ".md", ".toml", ".js", ".htm", ".html", ".sh", ".py"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            out.push(path);
        }
    }
}

/// Path-like words that should name a file of the repository. `../` counts outside Rust
/// code only: there it may be test data (a path a parser must refuse).
fn cited_paths(text: &str, rust: bool) -> Vec<String> {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    text.split(|c: char| !is_path_char(c))
        .map(|w| w.trim_end_matches('.'))
        // `concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/…")`
        .map(|w| if w.starts_with("/..") { &w[1..] } else { w })
        .filter(|w| {
            w.ends_with(".md")
                || w.ends_with(".wiki")
                || w.starts_with("/work/")
                || (!rust && w.contains("../"))
        })
        .map(str::to_owned)
        .collect()
}

/// Whether `cited`, written in `file`, names a file inside the repository.
fn resolves(root: &Path, file: &Path, cited: &str) -> bool {
    if cited.starts_with('/') {
        return false;
    }
    let crate_dir = file.strip_prefix(root).ok().and_then(|rel| {
        let mut parts = rel.components();
        let top = parts.next()?;
        let name = parts.next()?;
        (top.as_os_str() == "crates").then(|| root.join("crates").join(name.as_os_str()))
    });
    let bases = [
        file.parent().map(Path::to_path_buf),
        crate_dir,
        Some(root.to_path_buf()),
    ];
    bases.into_iter().flatten().any(|base| {
        base.join(cited)
            .canonicalize()
            .is_ok_and(|p| p.starts_with(root) && p.exists())
    })
}

/// `issue 5`, `issues 3 and 4`, `issue #12`, in any case.
fn issue_reference(line: &str) -> bool {
    let lower = line.to_lowercase();
    lower.match_indices("issue").any(|(i, _)| {
        let rest = lower[i + "issue".len()..].trim_start_matches('s');
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let rest = rest.strip_prefix('#').unwrap_or(rest);
        let word_start = i == 0 || !lower[..i].ends_with(|c: char| c.is_alphanumeric());
        word_start && rest.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Files with a citation outside the repository, with what they cite.
fn outside_citations(root: &Path) -> Vec<(String, String)> {
    let mut all = Vec::new();
    files(&root.join("docs"), &mut all);
    files(&root.join("crates"), &mut all);
    let mut found = Vec::new();
    for file in all {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let rel = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        // This file's own examples of what is caught.
        if rel == "crates/test-support/tests/docs_standalone.rs" {
            continue;
        }
        for cited in cited_paths(&text, rel.ends_with(".rs")) {
            if !resolves(root, &file, &cited) {
                found.push((rel.clone(), cited));
            }
        }
    }
    found
}

#[test]
fn citations_stay_inside_the_repository() {
    let root = root();
    let found = outside_citations(&root);
    assert!(
        found.is_empty(),
        "files citing something outside the repository: {found:#?}"
    );
}

/// Neither the docs nor the code's comments point at the tracker ("issue 5"): what an
/// issue asked is said in the words of the code or page itself.
#[test]
fn docs_and_code_name_no_issues() {
    let root = root();
    let mut all = vec![root.join("README.md")];
    files(&root.join("docs"), &mut all);
    files(&root.join("crates"), &mut all);
    assert!(all.iter().any(|d| d.ends_with("protocol.md")), "{all:?}");
    let mut found = Vec::new();
    for file in all {
        // This file's own examples of what is caught.
        if file.ends_with("docs_standalone.rs") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if issue_reference(line) {
                found.push(format!("{}:{}: {line}", file.display(), n + 1));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

/// The checks themselves: what they must catch and what they must let through.
#[test]
fn the_checks_catch_what_they_should() {
    let root = root();
    let here = root.join("crates/test-support/src/lib.rs");
    for outside in [
        "public-protocols.md",
        "TESTING.md",
        "../shared/spec/public-protocols.md",
        "../../../shared/TESTING.md",
        "myapps-platform-services.wiki",
        "/work/shared/TESTING.md",
    ] {
        assert!(!resolves(&root, &here, outside), "{outside}");
    }
    for inside in [
        "docs/public-protocols.md",
        "README.md",
        "../Cargo.toml",
        "docs/protocol.md",
    ] {
        assert!(resolves(&root, &here, inside), "{inside}");
    }
    assert!(resolves(
        &root,
        &root.join("docs/protocol.md"),
        "public-protocols.md"
    ));
    let text = "see (../shared/TESTING.md), `docs/benchmarks.md`. And x.rs, ../x.mp3";
    assert_eq!(
        cited_paths(text, false),
        ["../shared/TESTING.md", "docs/benchmarks.md", "../x.mp3"]
    );
    assert_eq!(
        cited_paths(text, true),
        ["../shared/TESTING.md", "docs/benchmarks.md"]
    );
    for line in [
        "built (issue 3)",
        "Issue 5's 60 ms",
        "issues 3 and 4",
        "see issue #12",
    ] {
        assert!(issue_reference(line), "{line}");
    }
    for line in ["no issue here", "tissue 3", "an issue: 3 ms", "issue-free"] {
        assert!(!issue_reference(line), "{line}");
    }
}
