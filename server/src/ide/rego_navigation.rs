//! Navigation in Rego: what a reference names (a rule of the current package, of an imported package or of
//! `data.<package>`) across the workspace's `.rego` files and the enclosing template's `libs`; hover on a
//! rule; the outline of a `.rego` file; and the link between a template generated from sources and its
//! `src.rego` (gatekeeper-library's layout, where both declare the same package).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::cursor::Cursor;
use super::rego_cursor::{RegoCursor, RegoPlace, rego_cursor, templates_with_package};
use super::rego_index::{RegoFacts, RuleFact};
use super::symbols::{Symbol, SymbolKind};
use super::template_rego::package_of_text;
use super::types::{HoverResult, Location};
use super::workspace::Workspace;
use crate::base::TextRange;
use crate::engine::opa::{self, RuleKind};
use crate::syntax::embedded::EmbeddedText;

/// A module a reference can land in.
pub(super) struct Site<'c> {
    pub path: PathBuf,
    pub facts: Arc<RegoFacts>,
    /// Where the module's text sits in its file when it is embedded in YAML (`None`: a `.rego` file, whose
    /// facts are file offsets already).
    place: Option<&'c RegoPlace>,
}

impl Site<'_> {
    fn location(&self, range: TextRange) -> Location {
        let range = self.place.map_or(range, |place| place.range_to_file(range));
        Location { path: self.path.clone(), range }
    }
}

/// Every module a reference from the cursor can reach: the workspace's `.rego` files and, for Rego in a
/// template, the template's own `rego` and `libs`.
pub(super) fn sites<'c>(workspace: &Workspace, cursor: &'c RegoCursor<'_>) -> Vec<Site<'c>> {
    let mut found: Vec<Site<'c>> =
        workspace.rego_modules().into_iter().map(|(path, facts)| Site { path, facts, place: None }).collect();
    for place in &cursor.template_modules {
        let facts = RegoFacts::of(place.text());
        found.push(Site { path: cursor.path.to_path_buf(), facts: Arc::new(facts), place: Some(place) });
    }
    found
}

/// An `import` as written: the imported path and the name the module uses for it.
pub(super) struct ImportLine {
    pub path: Vec<String>,
    pub alias: String,
}

/// The imports of a Rego text, read line by line so that they are known while the rest of the module is
/// half typed and does not parse.
pub(super) fn imports_of(text: &str) -> Vec<ImportLine> {
    text.lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("import ")?;
            let rest = rest.split('#').next().unwrap_or("").trim();
            let (path, alias) = match rest.split_once(" as ") {
                Some((path, alias)) => (path.trim(), Some(alias.trim())),
                None => (rest, None),
            };
            let path: Vec<String> = path.split('.').map(str::to_string).collect();
            let alias = alias.map(str::to_string).or_else(|| path.last().cloned())?;
            Some(ImportLine { path, alias })
        })
        .collect()
}

/// The dotted reference around `offset`: its parts up to the one under the cursor, and that part's range.
fn reference_at(text: &str, offset: usize) -> Option<(Vec<String>, TextRange)> {
    let is_part = |character: char| character.is_ascii_alphanumeric() || character == '_';
    let is_reference = |character: char| is_part(character) || character == '.';
    let offset = offset.min(text.len());
    let start = text[..offset]
        .char_indices()
        .rev()
        .take_while(|(_, character)| is_reference(*character))
        .last()
        .map_or(offset, |(position, _)| position);
    let end = offset + text[offset..].chars().take_while(|character| is_part(*character)).count();
    let reference = text.get(start..end)?;
    let parts: Vec<String> = reference.split('.').map(str::to_string).collect();
    if parts.iter().any(String::is_empty) {
        return None;
    }
    let last_start = end - parts.last()?.len();
    Some((parts, TextRange::new(last_start, end)))
}

/// What a reference resolves to, as a path below `data`: through `data.`, an import alias, or the current
/// package for a bare name.
fn absolute_path(parts: &[String], imports: &[ImportLine], package: &[String]) -> Option<Vec<String>> {
    let first = parts.first()?;
    if first == "data" {
        return Some(parts[1..].to_vec());
    }
    if first == "input" || super::rego_builtins::KEYWORDS.contains(&first.as_str()) {
        return None;
    }
    if let Some(import) = imports.iter().find(|import| import.alias == *first) {
        let imported = import.path.strip_prefix(&["data".to_string()])?;
        return Some(imported.iter().chain(&parts[1..]).cloned().collect());
    }
    Some(package.iter().chain(parts).cloned().collect())
}

/// What a path below `data` names in the sites: a package (when the path is a package or a prefix of one)
/// or the definitions of a rule.
fn targets<'s, 'c>(sites: &'s [Site<'c>], path: &[String]) -> Vec<(&'s Site<'c>, Target<'s>)> {
    let mut found = Vec::new();
    for site in sites.iter().filter(|site| !site.facts.package.is_empty()) {
        let package = &site.facts.package;
        if let Some(rest) = path.strip_prefix(package.as_slice()) {
            match rest.first() {
                None => found.push((site, Target::Package)),
                Some(name) => found.extend(site.facts.rules_named(name).map(|rule| (site, Target::Rule(rule)))),
            }
        } else if !path.is_empty() && package.starts_with(path) {
            found.push((site, Target::Package));
        }
    }
    found
}

enum Target<'s> {
    Package,
    Rule(&'s RuleFact),
}

/// The package of the Rego text at the cursor, as parts.
fn current_package(cursor: &RegoCursor<'_>) -> Vec<String> {
    package_of_text(cursor.text()).map(|package| package.split('.').map(str::to_string).collect()).unwrap_or_default()
}

/// Where what is under the cursor is defined; `None` when the cursor is not in Rego.
pub(super) fn definition(workspace: &Workspace, path: &Path, offset: usize) -> Option<Vec<Location>> {
    let cursor = Cursor::at(workspace, path, offset)?;
    let cursor = rego_cursor(workspace, &cursor)?;
    let package = current_package(&cursor);
    let (parts, _) = reference_at(cursor.text(), cursor.offset)?;
    if is_package_line(cursor.text(), cursor.offset) {
        // From a source's package line to the templates generated from it.
        return Some(template_packages(workspace, &package.join(".")));
    }
    let sites = sites(workspace, &cursor);
    let absolute = absolute_path(&parts, &imports_of(cursor.text()), &package)?;
    let mut found: Vec<Location> = targets(&sites, &absolute)
        .into_iter()
        .map(|(site, target)| match target {
            Target::Package => site.location(site.facts.package_range),
            Target::Rule(rule) => site.location(rule.name_range),
        })
        .collect();
    found.dedup();
    Some(found)
}

/// Whether the offset is on the line that declares the package.
fn is_package_line(text: &str, offset: usize) -> bool {
    let line_start = text[..offset.min(text.len())].rfind('\n').map_or(0, |newline| newline + 1);
    text[line_start..].trim_start().starts_with("package ")
}

/// The package line inside each template whose Rego declares `package`.
pub(super) fn template_packages(workspace: &Workspace, package: &str) -> Vec<Location> {
    let mut found: Vec<Location> = templates_with_package(workspace, package)
        .into_iter()
        .filter_map(|site| {
            let segment = &site.file.source.segments()[site.index];
            let span = segment.parsed.source_map.get(&site.pointer)?;
            let embedded = EmbeddedText::from_node(&segment.text, span.value)?;
            let facts = RegoFacts::of(&embedded.text);
            let place = RegoPlace::Embedded { document_start: segment.start, embedded };
            Some(Location { path: site.path.clone(), range: place.range_to_file(facts.package_range) })
        })
        .collect();
    found.sort_by(|left, right| left.path.cmp(&right.path));
    found
}

/// Hover on a reference to a rule: its head and where it is defined.
pub(super) fn rule_hover(workspace: &Workspace, cursor: &RegoCursor<'_>) -> Option<HoverResult> {
    let package = current_package(cursor);
    let (parts, range) = reference_at(cursor.text(), cursor.offset)?;
    let absolute = absolute_path(&parts, &imports_of(cursor.text()), &package)?;
    let sites = sites(workspace, cursor);
    let found = targets(&sites, &absolute);
    let mut lines: Vec<String> = Vec::new();
    for (site, target) in &found {
        let Target::Rule(rule) = target else { continue };
        let file = site.path.file_name().map(|name| name.to_string_lossy().to_string()).unwrap_or_default();
        let what = match rule.kind {
            RuleKind::Function(arity) => format!("function of {arity} argument{}", if arity == 1 { "" } else { "s" }),
            RuleKind::PartialSet => "partial set rule".to_string(),
            RuleKind::PartialObject => "partial object rule".to_string(),
            RuleKind::Complete => "rule".to_string(),
        };
        let line =
            format!("```rego\n{}\n```\n{what} of `data.{}` in `{file}`", rule.head, site.facts.package.join("."));
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    if lines.is_empty() {
        return None;
    }
    Some(HoverResult { range: cursor.place.range_to_file(range), markdown: lines.join("\n\n---\n\n") })
}

/// The names a completion can offer after `base` (a reference's parts before the one being typed): the
/// rules of the package it names, the next parts of packages below it; for an empty base, the rules of the
/// current package and the import aliases. Each with a detail.
pub(super) fn reference_names(
    workspace: &Workspace,
    cursor: &RegoCursor<'_>,
    base: &[String],
) -> Vec<(String, String)> {
    let package = current_package(cursor);
    let imports = imports_of(cursor.text());
    let sites = sites(workspace, cursor);
    let mut names: Vec<(String, String)> = Vec::new();
    let below: Vec<String> = if base.is_empty() {
        names.extend(imports.iter().map(|import| (import.alias.clone(), format!("import {}", import.path.join(".")))));
        package.clone()
    } else {
        match absolute_path(base, &imports, &package) {
            Some(path) => path,
            None => return names,
        }
    };
    for site in &sites {
        let site_package = &site.facts.package;
        if site_package.is_empty() {
            continue;
        }
        if *site_package == below {
            for rule in &site.facts.rules {
                if let Some(name) = rule.path.first() {
                    names.push((name.clone(), rule.head.to_string()));
                }
            }
        } else if let Some(next) = site_package.strip_prefix(below.as_slice()).and_then(<[String]>::first)
            && !base.is_empty()
        {
            names.push((next.clone(), format!("package data.{}", site_package.join("."))));
        }
    }
    names.sort();
    names.dedup_by(|left, right| left.0 == right.0);
    names
}

/// The outline of a `.rego` file: its package with the imports and rules below it.
/// The packages and rules of every Rego module the workspace knows whose name contains `query` (already
/// lower-case), from the modules' facts: no module is read or parsed.
pub(super) fn workspace_rego_symbols(workspace: &Workspace, query: &str) -> Vec<(PathBuf, Symbol)> {
    let mut found = Vec::new();
    for (path, facts) in workspace.rego_modules() {
        let package = facts.package.join(".");
        if !package.is_empty() && package.to_lowercase().contains(query) {
            let symbol = Symbol {
                name: format!("package {package}"),
                detail: None,
                kind: SymbolKind::Package,
                range: facts.package_range,
                selection_range: facts.package_range,
                children: Vec::new(),
            };
            found.push((path.clone(), symbol));
        }
        for rule in &facts.rules {
            let name = rule.path.join(".");
            if !name.to_lowercase().contains(query) {
                continue;
            }
            let kind = match rule.kind {
                _ if name.starts_with("test_") || name.starts_with("todo_test_") => SymbolKind::Test,
                RuleKind::Function(_) => SymbolKind::Function,
                _ => SymbolKind::Rule,
            };
            let symbol = Symbol {
                name,
                detail: Some(rule.head.to_string()),
                kind,
                range: rule.name_range,
                selection_range: rule.name_range,
                children: Vec::new(),
            };
            found.push((path.clone(), symbol));
        }
    }
    found
}

pub(super) fn rego_symbols(workspace: &Workspace, path: &Path) -> Vec<Symbol> {
    let Some(file) = workspace.file(path) else { return Vec::new() };
    let text = file.source.text();
    let Ok(module) = opa::parse_module(&path.display().to_string(), &text, workspace.rego_version(path)) else {
        return Vec::new();
    };
    let facts = RegoFacts::from_module(&module);
    let mut children: Vec<Symbol> = module
        .imports
        .iter()
        .map(|import| Symbol {
            name: import.path.join("."),
            detail: (import.alias != *import.path.last().unwrap_or(&String::new()))
                .then(|| format!("as {}", import.alias)),
            kind: SymbolKind::Import,
            range: import.range,
            selection_range: import.range,
            children: Vec::new(),
        })
        .collect();
    for (rule, fact) in module.rules.iter().zip(&facts.rules) {
        let kind = match rule.kind {
            _ if rule.is_test() => SymbolKind::Test,
            RuleKind::Function(_) => SymbolKind::Function,
            _ => SymbolKind::Rule,
        };
        children.push(Symbol {
            name: rule.path.join("."),
            detail: Some(fact.head.to_string()),
            kind,
            range: rule.range,
            selection_range: rule.name_range,
            children: Vec::new(),
        });
    }
    vec![Symbol {
        name: format!("package {}", module.package.join(".")),
        detail: Some(module.version.name().to_string()),
        kind: SymbolKind::Package,
        range: TextRange::new(0, text.len()),
        selection_range: module.package_range,
        children,
    }]
}
