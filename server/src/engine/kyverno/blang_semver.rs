//! Semantic versions and ranges as `semver_compare` reads them: github.com/blang/semver v4's `Parse`
//! (strict `MAJOR.MINOR.PATCH[-PRE][+BUILD]`, no `v`, no leading zeros) and `ParseRange` (space-separated
//! comparisons ANDed, `||` between alternatives, `x` wildcards expanded into two comparisons, and the
//! quirks of its tokenizer: an operator may stand apart from its version, a one-character token is dropped).

use std::cmp::Ordering;

/// A parsed version; pre-release identifiers are kept for precedence, build metadata is not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Vec<Identifier>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Identifier {
    Numeric(u64),
    Alphanumeric(String),
}

fn numeric(text: &str, what: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!("Invalid character(s) found in {what} number {text:?}"));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(format!("{what} number must not contain leading zeroes {text:?}"));
    }
    text.parse().map_err(|_| format!("{what} number {text:?} is out of range"))
}

fn is_identifier_text(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
}

impl Version {
    /// `semver.Parse`.
    pub fn parse(text: &str) -> Result<Version, String> {
        if text.is_empty() {
            return Err("Version string empty".to_string());
        }
        let parts: Vec<&str> = text.splitn(3, '.').collect();
        if parts.len() != 3 {
            return Err("No Major.Minor.Patch elements found".to_string());
        }
        let major = numeric(parts[0], "major")?;
        let minor = numeric(parts[1], "minor")?;
        let rest = parts[2];
        let (before_build, build) = match rest.split_once('+') {
            Some((before, build)) => (before, Some(build)),
            None => (rest, None),
        };
        let (patch_text, pre_text) = match before_build.split_once('-') {
            Some((patch, pre)) => (patch, Some(pre)),
            None => (before_build, None),
        };
        let patch = numeric(patch_text, "patch")?;
        let mut pre = Vec::new();
        if let Some(pre_text) = pre_text {
            for part in pre_text.split('.') {
                if !is_identifier_text(part) {
                    return Err(format!("Invalid character(s) found in prerelease {part:?}"));
                }
                if part.bytes().all(|byte| byte.is_ascii_digit()) {
                    pre.push(Identifier::Numeric(numeric(part, "prerelease")?));
                } else {
                    pre.push(Identifier::Alphanumeric(part.to_string()));
                }
            }
        }
        if let Some(build) = build
            && !build.split('.').all(is_identifier_text)
        {
            return Err(format!("Invalid character(s) found in build meta data {build:?}"));
        }
        Ok(Version { major, minor, patch, pre })
    }

    /// `Version.Compare`: precedence, a pre-release below its release.
    fn compare(&self, other: &Version) -> Ordering {
        let core = (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch));
        if core != Ordering::Equal {
            return core;
        }
        match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            (false, false) => {}
        }
        for (left, right) in self.pre.iter().zip(&other.pre) {
            let order = match (left, right) {
                (Identifier::Numeric(a), Identifier::Numeric(b)) => a.cmp(b),
                (Identifier::Numeric(_), Identifier::Alphanumeric(_)) => Ordering::Less,
                (Identifier::Alphanumeric(_), Identifier::Numeric(_)) => Ordering::Greater,
                (Identifier::Alphanumeric(a), Identifier::Alphanumeric(b)) => a.cmp(b),
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        self.pre.len().cmp(&other.pre.len())
    }
}

#[derive(Clone, Copy, Debug)]
enum Comparator {
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl Comparator {
    fn parse(text: &str) -> Option<Comparator> {
        Some(match text {
            "" | "=" | "==" => Comparator::Equal,
            "!" | "!=" => Comparator::NotEqual,
            ">" => Comparator::Greater,
            ">=" => Comparator::GreaterOrEqual,
            "<" => Comparator::Less,
            "<=" => Comparator::LessOrEqual,
            _ => return None,
        })
    }

    fn holds(self, order: Ordering) -> bool {
        match self {
            Comparator::Equal => order == Ordering::Equal,
            Comparator::NotEqual => order != Ordering::Equal,
            Comparator::Greater => order == Ordering::Greater,
            Comparator::GreaterOrEqual => order != Ordering::Less,
            Comparator::Less => order == Ordering::Less,
            Comparator::LessOrEqual => order != Ordering::Greater,
        }
    }
}

/// A parsed range: alternatives (`||`) of comparisons that must all hold.
pub struct Range(Vec<Vec<(Comparator, Version)>>);

impl Range {
    pub fn contains(&self, version: &Version) -> bool {
        self.0.iter().any(|all| all.iter().all(|(comparator, bound)| comparator.holds(version.compare(bound))))
    }

    /// `semver.ParseRange`.
    pub fn parse(text: &str) -> Result<Range, String> {
        let tokens = split_and_trim(text);
        let mut alternatives: Vec<Vec<String>> = Vec::new();
        let mut current = Vec::new();
        for (index, token) in tokens.iter().enumerate() {
            if token == "||" {
                if index == 0 {
                    return Err("First element in range is '||'".to_string());
                }
                alternatives.push(std::mem::take(&mut current));
            } else {
                current.push(token.clone());
            }
        }
        // `splitORParts` also fails on a range without tokens (the last index is the end).
        if tokens.last().is_none_or(|token| token == "||") {
            return Err("Last element in range is '||'".to_string());
        }
        alternatives.push(current);
        let mut out = Vec::new();
        for alternative in alternatives {
            let mut comparisons = Vec::new();
            for token in expand_wildcards(&alternative)? {
                let (operator, version) = split_comparator(&token)?;
                let comparator = Comparator::parse(operator).ok_or_else(|| {
                    format!("Could not parse Range {token:?}: Could not parse comparator {operator:?} in {token:?}")
                })?;
                let version = Version::parse(version).map_err(|error| {
                    format!(
                        "Could not parse Range {token:?}: Could not parse version {version:?} in {token:?}: {error}"
                    )
                })?;
                comparisons.push((comparator, version));
            }
            out.push(comparisons);
        }
        Ok(Range(out))
    }
}

/// `splitAndTrim`: split at spaces, except a space right after `>`, `<` or `=`; tokens of one character
/// (and the empty ones) are dropped; spaces inside a token are removed.
fn split_and_trim(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut last = 0usize;
    let mut last_char = 0u8;
    for (index, &byte) in bytes.iter().enumerate() {
        if byte == b' ' && !matches!(last_char, b'>' | b'<' | b'=') {
            if last + 1 < index {
                out.push(text[last..index].to_string());
            }
            last = index + 1;
        } else if byte != b' ' {
            last_char = byte;
        }
    }
    if last + 1 < bytes.len() {
        out.push(text[last..].to_string());
    }
    out.into_iter().map(|token| token.replace(' ', "")).collect()
}

/// `splitComparatorVersion`: the operator is what stands before the first digit.
fn split_comparator(token: &str) -> Result<(&str, &str), String> {
    let digit = token
        .find(|character: char| character.is_ascii_digit())
        .ok_or_else(|| format!("Could not get version from string: {token:?}"))?;
    Ok((token[..digit].trim(), &token[digit..]))
}

/// `expandWildcardVersion`: a token with an `x` becomes one or two plain comparisons.
fn expand_wildcards(tokens: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for token in tokens {
        if !token.contains('x') {
            out.push(token.clone());
            continue;
        }
        let (operator, version) = split_comparator(token)?;
        let parts: Vec<&str> = version.split('.').collect();
        let wildcard = match (parts.len(), parts.last() == Some(&"x")) {
            (2, true) => Some(2),
            (3, true) => Some(3),
            _ => None,
        };
        let flat = {
            let once = version.replacen(".x.x", ".x", 1).replacen(".x", ".0", 1);
            if once.split('.').count() == 2 { format!("{once}.0") } else { once }
        };
        let (result_operator, increment) = match operator {
            ">" => (">=", true),
            ">=" => (">=", false),
            "<" => ("<", false),
            "<=" => ("<", true),
            "" | "=" | "==" => {
                out.push(format!(">={flat}"));
                ("<", true)
            }
            "!=" | "!" => {
                out.push(format!("<{flat}"));
                (">=", true)
            }
            _ => ("", false),
        };
        let result_version = if increment {
            // `strconv.Atoi` then +1: a part that is no int64 (or overflows) is an error.
            let numbers: Vec<i64> = flat.split('.').map(|part| part.parse().unwrap_or(0)).collect();
            let overflow = || format!("Could not parse Range {token:?}: version part out of range");
            match (wildcard, numbers.as_slice()) {
                (Some(3), [major, minor, _]) => format!("{major}.{}.0", minor.checked_add(1).ok_or_else(overflow)?),
                (Some(2), [major, ..]) => format!("{}.0.0", major.checked_add(1).ok_or_else(overflow)?),
                _ => String::new(),
            }
        } else {
            flat
        };
        out.push(format!("{result_operator}{result_version}"));
    }
    Ok(out)
}

/// `semver_compare(version, range)`: an unparsable version counts as 0.0.0, as upstream ignores the error.
pub fn semver_compare(version: &str, range: &str) -> Result<bool, String> {
    let version = Version::parse(version).unwrap_or_default();
    Ok(Range::parse(range)?.contains(&version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(version: &str, range: &str, expect: Result<bool, ()>) {
        assert_eq!(semver_compare(version, range).map_err(|_| ()), expect, "{version} {range}");
    }

    #[test]
    fn ranges_read_as_blang_semver_reads_them() {
        check("1.2.3", ">=1.0.0 <2.0.0", Ok(true));
        check("2.0.0", ">=1.0.0 <2.0.0", Ok(false));
        check("1.2.3", "<1.0.0 || >=1.2.0", Ok(true));
        check("1.2.3", ">= 1.0.0", Ok(true));
        check("1.2.3", "1.2.3", Ok(true));
        check("1.2.3", "!1.2.3", Ok(false));
        // A pre-release has its precedence, below its release.
        check("1.2.3-rc.1", ">=1.0.0", Ok(true));
        check("1.2.3-rc.1", ">=1.2.3", Ok(false));
        check("1.0.0-alpha.2", ">1.0.0-alpha.10", Ok(false));
        check("1.0.0-beta", ">1.0.0-alpha.10", Ok(true));
        // An unparsable version is 0.0.0; a leading `v` does not parse.
        check("latest", "<1.0.0", Ok(true));
        check("v1.2.3", ">=1.0.0", Ok(false));
        // Wildcards expand into comparisons (`!4.x.x` then holds for nothing).
        check("1.4.0", "1.x", Ok(true));
        check("2.0.0", "1.x", Ok(false));
        check("1.2.9", "1.2.x", Ok(true));
        check("4.1.3", "!4.x.x", Ok(false));
        check("1.2.3", ">=a", Err(()));
        check("1.2.3", "|| 1.0.0", Err(()));
        check("1.2.3", ">=1.0", Err(()));
        check("1.2.3", "", Err(()));
        check("1.2.3", "1.9223372036854775807.x", Err(()));
    }
}
