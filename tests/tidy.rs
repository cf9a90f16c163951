//! House rules checked on every test run: layers only point down (and the two front ends do not use each
//! other), only the front ends touch the outside world, and every source file says what it is for.

use std::path::{Path, PathBuf};

/// Layers from bottom to top; a module may use its own layer (except the pairs in [`APART`]) or lower ones.
const LAYERS: &[(&str, usize)] = &[
    ("base", 0),
    ("syntax", 1),
    ("model", 2),
    ("schema", 3),
    ("engine", 3),
    ("testrun", 4),
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
/// the product opens no connection and starts no process, in any module (front ends included).
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

#[test]
fn the_product_opens_no_connection_and_runs_no_command() {
    let mut files = Vec::new();
    source_files(&source_root(), &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable source");
        for (line_number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
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
/// `http.send` is a stub that answers undefined; tower-lsp-server's `httparse` only reads LSP headers).
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
