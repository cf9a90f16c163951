//! Works out where a cursor is in YAML from the text around it (indentation and `key:` lines), so
//! completion works while a line is half typed and the tree has errors.

/// One step of a path from the document root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    Key(String),
    /// An item of a sequence; its index is not known from the text alone.
    Item,
}

/// What the cursor is completing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CursorContext {
    /// A key of the mapping at `path`; `prefix` is what is typed so far. `indent` is the column the key
    /// must move to when the line's indentation matches no open mapping exactly (a whitespace-only line
    /// after Enter); `prefix_start` is then the start of the line, so the whole indentation is replaced.
    Key { path: Vec<PathStep>, prefix: String, prefix_start: usize, indent: Option<usize> },
    /// The value of `path`'s last key; `prefix` is what is typed after `key: `.
    Value { path: Vec<PathStep>, prefix: String, prefix_start: usize },
}

struct Line<'a> {
    indent: usize,
    /// The line after its indentation.
    content: &'a str,
}

fn line_at(text: &str, line_start: usize) -> Line<'_> {
    let end = text[line_start..].find('\n').map_or(text.len(), |newline| line_start + newline);
    let raw = text[line_start..end].trim_end_matches('\r');
    let content = raw.trim_start_matches(' ');
    Line { indent: raw.len() - content.len(), content }
}

/// The key of a `key:` or `key: value` line content (after any `- `), if it is one.
fn key_of(content: &str) -> Option<(&str, bool)> {
    let content = content.trim_end();
    if content.starts_with('#') {
        return None;
    }
    let colon = find_key_colon(content)?;
    let key = content[..colon].trim().trim_matches(['"', '\'']);
    let has_value = !content[colon + 1..].trim().is_empty() && !content[colon + 1..].trim_start().starts_with('#');
    Some((key, has_value))
}

/// The position of the `:` that ends a key: followed by a space or the line end, outside quotes.
fn find_key_colon(content: &str) -> Option<usize> {
    let bytes = content.as_bytes();
    let mut quote = None;
    for (index, &byte) in bytes.iter().enumerate() {
        match (quote, byte) {
            (None, b'"' | b'\'') if index == 0 => quote = Some(byte),
            (Some(open), close) if close == open => quote = None,
            (None, b':') if matches!(bytes.get(index + 1), None | Some(b' ' | b'\t')) => return Some(index),
            (None, b'#') if index > 0 && bytes[index - 1] == b' ' => return None,
            _ => {}
        }
    }
    None
}

/// The lines above `line_start` that hold something (not blank, not a comment), nearest first, up to the
/// start of the document.
fn lines_above(text: &str, line_start: usize) -> impl Iterator<Item = Line<'_>> {
    let mut cursor = line_start;
    std::iter::from_fn(move || {
        (cursor > 0).then(|| {
            cursor = text[..cursor - 1].rfind('\n').map_or(0, |newline| newline + 1);
            line_at(text, cursor)
        })
    })
    .filter(|line| !line.content.is_empty() && !line.content.starts_with('#'))
    .take_while(|line| !(line.indent == 0 && (line.content.starts_with("---") || line.content.starts_with("..."))))
}

/// Strips `- ` item markers, returning the content and how many items it opens.
fn strip_dashes(content: &str) -> (&str, usize, usize) {
    let mut rest = content;
    let mut items = 0;
    let mut consumed = 0;
    while let Some(after) = rest.strip_prefix("- ").or_else(|| if rest == "-" { Some("") } else { None }) {
        let trimmed = after.trim_start_matches(' ');
        consumed += rest.len() - trimmed.len();
        rest = trimmed;
        items += 1;
    }
    (rest, items, consumed)
}

/// The completion context at `offset` in a document's text.
pub fn cursor_context(text: &str, offset: usize) -> CursorContext {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |newline| newline + 1);
    let before = &text[line_start..offset];
    let leading = before.len() - before.trim_start_matches(' ').len();
    let (after_dashes, items, dash_width) = strip_dashes(&before[leading..]);
    let key_column = leading + dash_width;
    let mut path = parent_path(text, line_start, key_column, items > 0);
    for _ in 1..items {
        path.push(PathStep::Item);
    }
    match find_key_colon(after_dashes) {
        Some(colon) => {
            let key = after_dashes[..colon].trim().trim_matches(['"', '\'']).to_string();
            let value = &after_dashes[colon + 1..];
            let prefix = value.trim_start().trim_start_matches(['"', '\'']);
            path.push(PathStep::Key(key));
            // Inside a flow list (`kinds: [Pod, Dep`), complete the item after the last separator.
            let (prefix, in_list) = match prefix.rfind([',', '[']) {
                Some(separator) if prefix.starts_with('[') => (prefix[separator + 1..].trim_start(), true),
                _ => (prefix, false),
            };
            if in_list {
                path.push(PathStep::Item);
            }
            CursorContext::Value { path, prefix: prefix.to_string(), prefix_start: offset - prefix.len() }
        }
        None => {
            let prefix = after_dashes.trim_start().to_string();
            if items == 0
                && let Some(column) = settled_key_column(text, line_start, leading)
                && column != leading
            {
                let path = parent_path(text, line_start, column, false);
                return CursorContext::Key { path, prefix, prefix_start: line_start, indent: Some(column) };
            }
            CursorContext::Key { prefix_start: offset - prefix.len(), path, prefix, indent: None }
        }
    }
}

/// A mapping still open at the end of the lines above the cursor.
struct OpenMapping {
    /// The column of its keys.
    key_column: usize,
    /// The smallest column a line can start at and still belong to it: the `- ` marker's column for the
    /// mapping of a sequence item, its key column otherwise.
    reach: usize,
}

/// The mappings open at `line_start` (innermost first), read from the lines above it.
fn open_mappings(text: &str, line_start: usize) -> Vec<OpenMapping> {
    let mut open: Vec<OpenMapping> = Vec::new();
    // A line opens an enclosing mapping only left of this column (at it, after an item: the parent of a
    // sequence written at its key's own column, `rules:\n- name: a`).
    let mut limit = usize::MAX;
    let mut after_item = false;
    for line in lines_above(text, line_start) {
        let (content, items, dash_width) = strip_dashes(line.content);
        let key_column = line.indent + dash_width;
        if let Some(innermost) = open.last_mut()
            && items > 0
            && !after_item
            && key_column == innermost.key_column
        {
            // The item whose mapping is the innermost one: that mapping reaches back to the marker.
            innermost.reach = line.indent;
            limit = line.indent;
            after_item = true;
            continue;
        }
        let left_of_limit = if after_item { key_column <= limit } else { key_column < limit };
        let opens_mapping = content.is_empty() || key_of(content).is_some();
        if !left_of_limit || !opens_mapping {
            continue;
        }
        let reach = if items > 0 { line.indent } else { key_column };
        open.push(OpenMapping { key_column, reach });
        limit = reach;
        after_item = items > 0;
        if limit == 0 {
            break;
        }
    }
    open
}

/// The column of the keys a whitespace-only (or half-typed) line at `column` completes: the deepest
/// mapping open above it that the line can belong to (a column between two mappings' columns fits neither
/// as YAML, and the deeper one is where a user who pressed Enter is most likely writing). `None` keeps the column as it is: after a `key:` with no value, a deeper line starts its block.
fn settled_key_column(text: &str, line_start: usize, column: usize) -> Option<usize> {
    let previous = text[..line_start]
        .split_inclusive('\n')
        .rev()
        .map(|line| line.trim_end_matches(['\n', '\r']))
        .find(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))?;
    let indent = previous.len() - previous.trim_start_matches(' ').len();
    let (content, _, dash_width) = strip_dashes(&previous[indent..]);
    if column > indent + dash_width && matches!(key_of(content), Some((_, false))) {
        return None;
    }
    let open = open_mappings(text, line_start);
    // Innermost first: the first mapping the column reaches, or that is deeper than the column while the
    // next one out is shallower (between the two, the deeper one wins).
    let belongs = |index: usize| {
        open[index].reach <= column || open.get(index + 1).is_some_and(|outer| outer.key_column < column)
    };
    (0..open.len()).find(|&index| belongs(index)).map(|index| open[index].key_column)
}

/// The path of the mapping that holds a key at `column` on the line starting at `line_start`.
fn parent_path(text: &str, line_start: usize, column: usize, in_item: bool) -> Vec<PathStep> {
    let mut reversed = Vec::new();
    if in_item {
        reversed.push(PathStep::Item);
    }
    // The column a parent key must be left of; after an item marker, the marker's own column.
    let mut limit = if in_item { column.saturating_sub(2) } else { column };
    let mut after_item = in_item;
    for line in lines_above(text, line_start) {
        let (content, items, dash_width) = strip_dashes(line.content);
        let content_column = line.indent + dash_width;
        if items > 0 {
            // An item whose content sits at our column: we are one of its keys.
            if content_column == limit && !after_item {
                reversed.push(PathStep::Item);
                limit = line.indent;
                after_item = true;
                continue;
            }
            if content_column < limit
                && let Some((key, false)) = key_of(content)
            {
                reversed.push(PathStep::Key(key.to_string()));
                reversed.push(PathStep::Item);
                limit = line.indent;
                after_item = true;
            }
            continue;
        }
        let is_parent = if after_item { line.indent <= limit } else { line.indent < limit };
        if is_parent && let Some((key, false)) = key_of(content) {
            reversed.push(PathStep::Key(key.to_string()));
            limit = line.indent;
            after_item = false;
            if limit == 0 {
                break;
            }
        } else if is_parent && line.indent < limit {
            // A scalar line left of us that is not a parent key: the structure is broken; stop here.
            break;
        }
    }
    reversed.reverse();
    reversed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text_with_cursor: &str, expect: &str) {
        let offset = text_with_cursor.find("$0").unwrap();
        let text = text_with_cursor.replace("$0", "");
        let rendered = match cursor_context(&text, offset) {
            CursorContext::Key { path, prefix, indent: None, .. } => format!("key {} {prefix:?}", render(&path)),
            CursorContext::Key { path, prefix, indent: Some(column), .. } => {
                format!("key {} {prefix:?} at column {column}", render(&path))
            }
            CursorContext::Value { path, prefix, .. } => format!("value {} {prefix:?}", render(&path)),
        };
        assert_eq!(rendered, expect);
    }

    fn render(path: &[PathStep]) -> String {
        let steps: Vec<String> = path
            .iter()
            .map(|step| match step {
                PathStep::Key(key) => key.clone(),
                PathStep::Item => "[]".to_string(),
            })
            .collect();
        format!("/{}", steps.join("/"))
    }

    #[test]
    fn keys_in_nested_sequences() {
        check(
            "spec:\n  rules:\n    - name: x\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      vali$0\n",
            r#"key /spec/rules/[] "vali""#,
        );
        check(
            "spec:\n  rules:\n    - name: x\n      match:\n        any:\n          - resources:\n              ki$0\n",
            r#"key /spec/rules/[]/match/any/[]/resources "ki""#,
        );
        check("spec:\n  rules:\n    - $0\n", r#"key /spec/rules/[] """#);
        check("spec:\n  rules:\n  - name: a\n    $0\n", r#"key /spec/rules/[] """#);
    }

    #[test]
    fn values_and_flow_lists() {
        check("spec:\n  validationFailureAction: En$0\n", r#"value /spec/validationFailureAction "En""#);
        check(
            "match:\n  any:\n    - resources:\n        kinds: [Pod, Dep$0\n",
            r#"value /match/any/[]/resources/kinds/[] "Dep""#,
        );
        check("kind: $0\n", r#"value /kind """#);
    }

    #[test]
    fn whitespace_lines_complete_the_deepest_open_mapping_they_can_belong_to() {
        let rule = "spec:\n  rules:\n    - name: check-team\n";
        // Aligned with `name`: the rule's own keys, where they are.
        check(&format!("{rule}      $0\n"), r#"key /spec/rules/[] """#);
        // At the item marker (VS Code keeps the previous line's indentation) and past the keys: the rule's
        // keys, moved to their column.
        check(&format!("{rule}    $0\n"), r#"key /spec/rules/[] "" at column 6"#);
        check(&format!("{rule}        v$0\n"), r#"key /spec/rules/[] "v" at column 6"#);
        // Between the keys of `spec` and the marker: still inside `rules`, so still the rule.
        check(&format!("{rule}   $0\n"), r#"key /spec/rules/[] "" at column 6"#);
        check(&format!("{rule}  $0\n"), r#"key /spec """#);
        // After a key with no value, a deeper line starts its block.
        check(&format!("{rule}      match:\n         $0\n"), r#"key /spec/rules/[]/match """#);
        // A sequence written at its key's column.
        check("spec:\n  rules:\n  - name: a\n   $0\n", r#"key /spec/rules/[] "" at column 4"#);
        check("spec:\n  rules:\n  - name: a\n  $0\n", r#"key /spec/rules/[] "" at column 4"#);
    }

    #[test]
    fn root_keys() {
        check("apiVersion: v1\nki$0", r#"key / "ki""#);
    }
}
