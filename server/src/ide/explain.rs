//! `policy-lsp explain`: the documentation of a diagnostic code, or the codes of a group, rendered from the
//! `Code` table.

use crate::base::{Code, Group, Reported};

/// The text that explains `query`, a code (`schema/enum`) or a group (`schema`, `schema/*`); an error
/// message, with a did-you-mean when one is close, if it names neither.
pub fn explain(query: &str) -> Result<String, String> {
    if let Ok(code) = query.parse::<Code>() {
        return Ok(explain_code(code));
    }
    if let Ok(group) = query.strip_suffix("/*").unwrap_or(query).parse::<Group>() {
        return Ok(explain_group(group));
    }
    Err(match crate::schema::closest(query, Code::names_and_groups()) {
        Some(suggestion) => format!("unknown code `{query}`; did you mean `{suggestion}`?"),
        None => {
            let groups: Vec<&str> = Group::ALL.iter().map(|group| group.as_str()).collect();
            format!(
                "unknown code `{query}`; codes look like `schema/unknown-field`, and `explain GROUP` lists a group \
                 ({})",
                groups.join(", ")
            )
        }
    })
}

fn explain_code(code: Code) -> String {
    let settings = match code.group().reported() {
        Reported::Diagnostic => format!(
            "Reported as {} by default; `lint.disable` and `lint.severity` in .policy-lsp.yaml turn it off or \
             re-grade it, by code or by its group `{}`.",
            code.default_severity().as_str(),
            code.group()
        ),
        Reported::TestRun => {
            "Reported by `policy-lsp test` when a test cannot run; it always fails the run.".to_string()
        }
    };
    format!("{code}: {}\n\nWhy: {}\n\nExample:\n{}\n\n{settings}\n", code.summary(), code.why(), code.example())
}

fn explain_group(group: Group) -> String {
    let width = group.codes().map(|code| code.as_str().len()).max().unwrap_or(0);
    let mut out = format!("{group}: {}\n\n", group.summary());
    for code in group.codes() {
        out.push_str(&format!("  {:width$}  {}\n", code.as_str(), code.summary()));
    }
    out.push_str("\n`policy-lsp explain CODE` says more about each.\n");
    out
}
