//! House rules checked on every test run: layers only point down (and the two front ends do not use each
//! other), the modules inside a layer import each other without cycles, only the front ends touch the
//! outside world, and every source file says what it is for.

use std::path::{Path, PathBuf};

/// Layers from bottom to top; a module may use its own layer (except the pairs in [`APART`]) or lower ones.
const LAYERS: &[(&str, usize)] = &[
    ("base", 0),
    ("syntax", 1),
    ("model", 2),
    ("schema", 3),
    ("engine", 3),
    ("testrun", 4),
    ("apply", 4),
    ("ide", 5),
    ("report", 6),
    ("vfs", 7),
    ("lsp", 8),
    ("cli", 8),
];

/// The modules that face the outside world: the language server, the command line, and their I/O boundary.
const FRONT_ENDS: &[&str] = &["vfs", "lsp", "cli"];

/// Modules of one layer that must not use each other: the two front ends share what they need through
/// `vfs` and the layers below, and the entry point (lib.rs) picks one of them.
const APART: &[(&str, &str)] = &[("lsp", "cli"), ("cli", "lsp")];

/// What only the front ends may touch: files, the environment, threads and the clock.
const OUTSIDE_WORLD: &[&str] =
    &["std::fs", "std::env", "std::thread", "Instant::now", "SystemTime::now", "Utc::now", "std::process"];

fn source_files(directory: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(directory).expect("source directory is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            out.push(path);
        }
    }
}

/// The repository root: this crate lives in its `tests/` folder.
fn repository_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent folder")
}

fn source_root() -> PathBuf {
    repository_root().join("server/src")
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().find(|(name, _)| *name == module).map(|(_, layer)| *layer)
}

/// The top-level module a file belongs to (`None` for lib.rs and main.rs).
fn module_of(path: &Path) -> Option<String> {
    let relative = path.strip_prefix(source_root()).ok()?;
    let mut components = relative.components();
    let first = components.next()?.as_os_str().to_string_lossy().to_string();
    components.next()?;
    Some(first)
}

#[test]
fn layers_only_point_down() {
    let mut files = Vec::new();
    source_files(&source_root(), &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let Some(module) = module_of(file) else { continue };
        let Some(own_layer) = layer_of(&module) else {
            violations.push(format!("{}: module `{module}` is not in the layer table", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("readable source");
        for (line_number, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(position) = rest.find("crate::") {
                let after = &rest[position + "crate::".len()..];
                let target: String =
                    after.chars().take_while(|character| character.is_alphanumeric() || *character == '_').collect();
                if let Some(target_layer) = layer_of(&target)
                    && target_layer > own_layer
                {
                    violations.push(format!(
                        "{}:{}: `{module}` uses `{target}`, a higher layer",
                        file.display(),
                        line_number + 1
                    ));
                }
                if APART.contains(&(module.as_str(), target.as_str())) {
                    violations.push(format!(
                        "{}:{}: `{module}` uses `{target}`, which it must stay apart from",
                        file.display(),
                        line_number + 1
                    ));
                }
                rest = after;
            }
        }
    }
    assert!(violations.is_empty(), "layering violations:\n{}", violations.join("\n"));
}

/// A module's path from the crate root: `["ide", "cel"]` for `src/ide/cel.rs`, `["ide"]` for
/// `src/ide/mod.rs`.
fn module_path(path: &Path) -> Vec<String> {
    let relative = path.strip_prefix(source_root()).expect("a file under src/");
    let mut parts: Vec<String> =
        relative.components().map(|component| component.as_os_str().to_string_lossy().to_string()).collect();
    let file = parts.pop().unwrap_or_default();
    if file != "mod.rs" {
        parts.push(file.trim_end_matches(".rs").to_string());
    }
    parts
}

/// The code of a file that counts for its imports: comments dropped, and nothing from the first
/// `#[cfg(test)]` on (a unit-test module's `super::` is the file itself, not its parent).
fn production_code(text: &str) -> String {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end].lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The names a path continues with after `prefix::` at `rest`: one name, or every first name of a
/// `{a, b::c}` group.
fn names_after(rest: &str) -> Vec<String> {
    group_items(rest).into_iter().map(|item| identifier(&item)).collect()
}

/// The items of a `{a, b::c as d}` group at the start of `rest`, or the one path there.
fn group_items(rest: &str) -> Vec<String> {
    let Some(group) = rest.strip_prefix('{') else {
        let end = rest.find([';', ',', '}', '(', ' ', '\n']).unwrap_or(rest.len());
        return vec![rest[..end].to_string()];
    };
    let mut items = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for character in group.chars() {
        match character {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(character);
    }
    items.push(current);
    items.into_iter().map(|item| item.trim().to_string()).filter(|item| !item.is_empty()).collect()
}

fn identifier(text: &str) -> String {
    text.trim_start().chars().take_while(|character| character.is_alphanumeric() || *character == '_').collect()
}

/// What a `mod.rs` imports from its children (`pub use types::{Location, normalize_path}`), by the name it
/// is known under: `super::Location` in a child is the `types` module, not the parent.
fn imports_from_children(code: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for statement in code.split(';') {
        // The statement's last line that starts a `use` (what comes before it belongs to other items).
        let Some(start) = statement.match_indices('\n').map(|(newline, _)| newline + 1).chain([0]).find(|&start| {
            let line = statement[start..].trim_start();
            ["use ", "pub use ", "pub(crate) use ", "pub(super) use "].iter().any(|prefix| line.starts_with(prefix))
        }) else {
            continue;
        };
        let line = statement[start..].trim_start();
        let path = line[line.find("use ").unwrap_or(0) + 4..].trim();
        let Some((child, rest)) = path.split_once("::") else { continue };
        if matches!(child, "crate" | "super" | "self" | "std") {
            continue;
        }
        for item in group_items(rest.trim()) {
            let name = match item.rsplit_once(" as ") {
                Some((_, alias)) => alias.trim().to_string(),
                None => item.rsplit("::").next().unwrap_or("").to_string(),
            };
            found.push((name, child.to_string()));
        }
    }
    found
}

/// The modules a file's code refers to: `super::x`, `self::x`, `crate::a::b`, and in a `mod.rs` its
/// children by their bare names (`completion::completions`). A name that is not a module is an item of
/// the module that holds it (so `super::Analysis` points at the parent module), unless that module
/// imported it from a child.
fn module_references(
    own: &[String],
    is_mod_file: bool,
    code: &str,
    modules: &std::collections::BTreeMap<Vec<String>, Vec<(String, String)>>,
) -> Vec<Vec<String>> {
    let resolve = |base: &[String], name: &str| -> Vec<String> {
        let mut candidate = base.to_vec();
        candidate.push(name.to_string());
        if modules.contains_key(&candidate) {
            return candidate;
        }
        let imported = modules.get(base).and_then(|imports| imports.iter().find(|(item, _)| item == name));
        match imported {
            Some((_, child)) => {
                let mut child_path = base.to_vec();
                child_path.push(child.clone());
                if modules.contains_key(&child_path) { child_path } else { base.to_vec() }
            }
            None => base.to_vec(),
        }
    };
    let parent: Vec<String> = own[..own.len().saturating_sub(1)].to_vec();
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut index = 0;
    while index < code.len() {
        let boundary =
            index == 0 || !(bytes[index - 1].is_ascii_alphanumeric() || matches!(bytes[index - 1], b'_' | b':'));
        let rest = &code[index..];
        if boundary {
            if let Some(after) = rest.strip_prefix("super::") {
                found.extend(names_after(after).iter().map(|name| resolve(&parent, name)));
            } else if let Some(after) = rest.strip_prefix("self::") {
                found.extend(names_after(after).iter().map(|name| resolve(own, name)));
            } else if let Some(after) = rest.strip_prefix("crate::") {
                let path: Vec<String> = after.split("::").map(identifier).take_while(|part| !part.is_empty()).collect();
                // The longest module prefix of the path, then the item after it.
                if let Some(length) =
                    (1..=path.len()).rev().find(|length| modules.contains_key(&path[..*length].to_vec()))
                {
                    found.push(match path.get(length) {
                        Some(item) => resolve(&path[..length], item),
                        None => path[..length].to_vec(),
                    });
                }
            } else if is_mod_file {
                let name = identifier(rest);
                let mut child = own.to_vec();
                child.push(name.clone());
                if !name.is_empty() && rest[name.len()..].starts_with("::") && modules.contains_key(&child) {
                    found.push(child);
                }
            }
        }
        index += rest.chars().next().map_or(1, char::len_utf8);
    }
    found
}

/// A cycle in a directed graph, as the nodes along it, if there is one.
fn find_cycle(
    edges: &std::collections::BTreeMap<Vec<String>, std::collections::BTreeSet<Vec<String>>>,
) -> Option<Vec<Vec<String>>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &Vec<String>,
        edges: &std::collections::BTreeMap<Vec<String>, std::collections::BTreeSet<Vec<String>>>,
        marks: &mut std::collections::BTreeMap<Vec<String>, Mark>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = stack.iter().position(|entry| entry == node).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(node.clone());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = std::collections::BTreeMap::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, edges, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

/// The modules of one layer (its files, each a module) import each other without a cycle, as the layers
/// do: a cycle means no file of it can be read, tested or moved alone. In `ide/`, for example, the shared
/// types and the workspace sit at the bottom, the providers above them, and the `Analysis` facade in
/// `mod.rs` on top; in `lsp/` the handlers sit below the dispatch and the main loop; in `engine/` each engine's
/// request and response types sit at the bottom of its folder (`kyverno/response.rs`, `kyverno_cel/request.rs`,
/// `cel/runtime.rs`) and `mod.rs` only dispatches; in `cli/` the commands share `status.rs`, not their caller.
#[test]
fn modules_inside_a_layer_import_each_other_without_cycles() {
    let mut files = Vec::new();
    source_files(&source_root(), &mut files);
    files.retain(|file| module_of(file).is_some());
    let texts: Vec<String> =
        files.iter().map(|file| production_code(&std::fs::read_to_string(file).expect("readable source"))).collect();
    let is_mod_file = |file: &PathBuf| file.file_name().is_some_and(|name| name == "mod.rs");
    let modules: std::collections::BTreeMap<Vec<String>, Vec<(String, String)>> = files
        .iter()
        .zip(&texts)
        .map(|(file, code)| {
            let imports = if is_mod_file(file) { imports_from_children(code) } else { Vec::new() };
            (module_path(file), imports)
        })
        .collect();
    let mut edges: std::collections::BTreeMap<Vec<String>, std::collections::BTreeSet<Vec<String>>> =
        Default::default();
    for (file, code) in files.iter().zip(&texts) {
        let own = module_path(file);
        let mut targets = std::collections::BTreeSet::new();
        for target in module_references(&own, is_mod_file(file), code, &modules) {
            // Only edges inside the layer: the layer table above rules the edges between layers.
            if target != own && target.first() == own.first() {
                targets.insert(target);
            }
        }
        edges.insert(own, targets);
    }
    let mut cycles = Vec::new();
    for (layer, _) in LAYERS {
        let layer_edges = edges
            .iter()
            .filter(|(module, _)| module.first().map(String::as_str) == Some(*layer))
            .map(|(module, targets)| (module.clone(), targets.clone()))
            .collect();
        if let Some(cycle) = find_cycle(&layer_edges) {
            let names: Vec<String> = cycle.iter().map(|module| module.join("::")).collect();
            cycles.push(names.join(" -> "));
        }
    }
    assert!(cycles.is_empty(), "modules that import each other in a cycle:\n{}", cycles.join("\n"));
}

/// The cycle check itself: grouped imports, a parent's items, names a parent imported from a child, bare
/// children in a `mod.rs`, and a cycle through the parent.
#[test]
fn the_cycle_check_sees_parents_groups_and_bare_children() {
    let path = |parts: &[&str]| -> Vec<String> { parts.iter().map(|part| part.to_string()).collect() };
    let (ide, cel, types) = (path(&["ide"]), path(&["ide", "cel"]), path(&["ide", "types"]));
    let mut modules = std::collections::BTreeMap::new();
    modules.insert(ide.clone(), imports_from_children("mod cel;\npub use types::{Location as Place, normalize};"));
    modules.insert(cel.clone(), Vec::new());
    modules.insert(types.clone(), Vec::new());
    let found = module_references(&cel, false, "use super::{types::HoverResult, Analysis, Place};", &modules);
    assert_eq!(found, [types.clone(), ide.clone(), types.clone()]);
    let found = module_references(&ide, true, "let x = cel::completions(); use crate::ide::types;", &modules);
    assert_eq!(found, [cel.clone(), types.clone()]);
    let mut edges: std::collections::BTreeMap<Vec<String>, std::collections::BTreeSet<Vec<String>>> =
        Default::default();
    edges.entry(ide.clone()).or_default().insert(cel.clone());
    edges.entry(cel.clone()).or_default().insert(ide.clone());
    assert_eq!(find_cycle(&edges), Some(vec![ide.clone(), cel.clone(), ide.clone()]));
    edges.remove(&cel);
    assert_eq!(find_cycle(&edges), None);
}

#[test]
fn only_front_ends_touch_the_outside_world() {
    let mut files = Vec::new();
    source_files(&source_root(), &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let Some(module) = module_of(file) else { continue };
        // Unit-test modules may time what they test (a time limit, say); production code may not.
        if FRONT_ENDS.contains(&module.as_str()) || file.file_name().is_some_and(|name| name == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("readable source");
        for (line_number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for forbidden in OUTSIDE_WORLD {
                if code.contains(forbidden) {
                    violations.push(format!(
                        "{}:{}: `{forbidden}` outside the front ends ({})",
                        file.display(),
                        line_number + 1,
                        FRONT_ENDS.join(", ")
                    ));
                }
            }
        }
    }
    assert!(violations.is_empty(), "hermeticity violations:\n{}", violations.join("\n"));
}

#[test]
fn every_source_file_opens_with_a_doc_line() {
    let mut files = Vec::new();
    source_files(&source_root(), &mut files);
    source_files(Path::new(env!("CARGO_MANIFEST_DIR")), &mut files);
    let missing: Vec<String> = files
        .iter()
        .filter(|file| {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a `//!` first line:\n{}", missing.join("\n"));
}

/// What would let evaluation reach the network or run programs: policies come from pull requests, so
/// the product opens no connection and starts no process, in any module (front ends included), except
/// git for `--changed-since` (see `GIT_CHANGED_SET`).
/// `std::net` appears only for its address types (CEL's `ip()` and `cidr()` parse addresses).
const NETWORK_AND_PROCESSES: &[&str] = &[
    "TcpStream",
    "TcpListener",
    "UdpSocket",
    "UnixStream",
    "UnixListener",
    "ToSocketAddrs",
    "to_socket_addrs",
    "tokio::net",
    "tokio::process",
    "reqwest",
    "hyper",
    "ureq",
    "process::Command",
    "Command::new",
    "libc::exec",
];

/// The one command the product runs: `--changed-since` asks git, from the CLI layer, for the files a
/// pull request changed (git reads the repository; the policies never reach it). Its lines are exempt.
const GIT_CHANGED_SET: (&str, &[&str]) = ("cli/changed.rs", &["use std::process::Command;", "Command::new(\"git\")"]);

#[test]
fn the_product_opens_no_connection_and_runs_no_command() {
    let mut files = Vec::new();
    source_files(&source_root(), &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable source");
        for (line_number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let (git_file, git_lines) = GIT_CHANGED_SET;
            if file.ends_with(git_file) && git_lines.iter().any(|allowed| code.contains(allowed)) {
                continue;
            }
            for forbidden in NETWORK_AND_PROCESSES {
                if code.contains(forbidden) {
                    violations.push(format!("{}:{}: `{forbidden}`", file.display(), line_number + 1));
                }
            }
            let mut rest = code;
            while let Some(position) = rest.find("std::net::") {
                rest = &rest[position + "std::net::".len()..];
                let item: String = rest.chars().take_while(|character| character.is_alphanumeric()).collect();
                if !matches!(item.as_str(), "IpAddr" | "Ipv4Addr" | "Ipv6Addr" | "AddrParseError") {
                    violations.push(format!("{}:{}: `std::net::{item}`", file.display(), line_number + 1));
                }
            }
        }
    }
    assert!(violations.is_empty(), "network or process access in the product:\n{}", violations.join("\n"));
}

/// No crate that speaks HTTP or TLS, or opens sockets, is even in the dependency tree (regorus's
/// `http.send` is a stub that answers undefined; `lsp-server`'s socket transport, `Connection::listen`, is never
/// called: the product speaks over stdio only, which the source check above keeps).
#[test]
fn no_network_client_in_the_dependency_tree() {
    const CLIENTS: &[&str] = &[
        "reqwest",
        "hyper",
        "hyper-util",
        "ureq",
        "isahc",
        "curl",
        "curl-sys",
        "surf",
        "attohttpc",
        "h2",
        "rustls",
        "native-tls",
        "openssl",
        "tungstenite",
        "tokio-tungstenite",
        "socket2",
        "mio",
    ];
    let lock = std::fs::read_to_string(repository_root().join("Cargo.lock")).expect("Cargo.lock");
    let names: Vec<&str> =
        lock.lines().filter_map(|line| line.strip_prefix("name = \"")).map(|name| name.trim_end_matches('"')).collect();
    assert!(names.len() > 50, "Cargo.lock was not read: {} packages", names.len());
    let found: Vec<&&str> = CLIENTS.iter().filter(|client| names.contains(client)).collect();
    assert!(found.is_empty(), "network crates in Cargo.lock: {found:?}");
}
