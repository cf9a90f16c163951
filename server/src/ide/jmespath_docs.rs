//! Signatures and one-line descriptions of the JMESPath functions a Kyverno policy can call: the standard
//! library and Kyverno's own. Which functions exist comes from the engine's runtime (so the editor never
//! offers a function the engine lacks); this table only documents them.

use crate::engine::kyverno::jmespath_functions::{FUNCTIONS, runtime};

/// Documentation of one function.
pub(super) struct FunctionDoc {
    pub name: &'static str,
    /// Parameters as `type name`; a trailing `...` marks a variadic parameter.
    pub parameters: &'static [&'static str],
    pub returns: &'static str,
    pub summary: &'static str,
}

impl FunctionDoc {
    /// `name(type a, type b) -> type`.
    pub fn signature(&self) -> String {
        format!("{}({}) -> {}", self.name, self.parameters.join(", "), self.returns)
    }

    /// The fewest and most arguments a call takes (`None`: no upper bound).
    pub fn arity(&self) -> (usize, Option<usize>) {
        let variadic = self.parameters.last().is_some_and(|parameter| parameter.ends_with("..."));
        if variadic { (self.parameters.len(), None) } else { (self.parameters.len(), Some(self.parameters.len())) }
    }
}

const fn doc(
    name: &'static str,
    parameters: &'static [&'static str],
    returns: &'static str,
    summary: &'static str,
) -> FunctionDoc {
    FunctionDoc { name, parameters, returns, summary }
}

/// Kyverno's functions, documented.
const KYVERNO: &[FunctionDoc] = &[
    doc("compare", &["string a", "string b"], "number", "Orders two strings: -1, 0 or 1."),
    doc("equal_fold", &["string a", "string b"], "boolean", "Whether two strings are equal ignoring letter case."),
    doc(
        "replace",
        &["string text", "string old", "string new", "number count"],
        "string",
        "Replaces the first `count` occurrences of `old` (all of them when `count` is negative).",
    ),
    doc("replace_all", &["string text", "string old", "string new"], "string", "Replaces every occurrence of `old`."),
    doc("to_upper", &["string text"], "string", "The text in upper case."),
    doc("to_lower", &["string text"], "string", "The text in lower case."),
    doc("trim", &["string text", "string cutset"], "string", "Strips the characters of `cutset` from both ends."),
    doc("trim_prefix", &["string text", "string prefix"], "string", "Drops `prefix` from the start when it is there."),
    doc("split", &["string text", "string separator"], "array[string]", "Cuts the text at each separator."),
    doc(
        "regex_replace_all",
        &["string regex", "string|number source", "string|number replacement"],
        "string",
        "Replaces every match of a regular expression; `$1` in the replacement names a group.",
    ),
    doc(
        "regex_replace_all_literal",
        &["string regex", "string|number source", "string|number replacement"],
        "string",
        "Replaces every match of a regular expression with the replacement taken literally.",
    ),
    doc(
        "regex_match",
        &["string regex", "string|number value"],
        "boolean",
        "Whether the value contains a match of the regular expression (anchor it with `^...$` for a full match).",
    ),
    doc(
        "pattern_match",
        &["string pattern", "string|number value"],
        "boolean",
        "Whether the value matches a wildcard pattern (`*` any run of characters, `?` one character).",
    ),
    doc(
        "label_match",
        &["object selector", "object labels"],
        "boolean",
        "Whether every key/value of the selector is present in the labels.",
    ),
    doc("to_boolean", &["string text"], "boolean", "Reads `true` or `false` in any letter case."),
    doc("add", &["any a", "any b"], "any", "Adds two numbers, quantities (`1Gi`) or durations (`1h`)."),
    doc("sum", &["array values"], "any", "Adds up an array of numbers, quantities or durations."),
    doc("subtract", &["any a", "any b"], "any", "Subtracts numbers, quantities or durations."),
    doc("multiply", &["any a", "any b"], "any", "Multiplies a number, quantity or duration by a number."),
    doc(
        "divide",
        &["any a", "any b"],
        "any",
        "Divides numbers, quantities or durations; the divisor must not be zero.",
    ),
    doc(
        "modulo",
        &["any a", "any b"],
        "any",
        "The remainder of an integer division of numbers, quantities or durations.",
    ),
    doc("round", &["number value", "number digits"], "number", "Rounds to the given number of decimal places."),
    doc("base64_decode", &["string encoded"], "string", "Decodes standard base64."),
    doc("base64_encode", &["string text"], "string", "Encodes text as standard base64."),
    doc(
        "time_since",
        &["string layout", "string start", "string end"],
        "string",
        "The duration from `start` to `end` (now when `end` is empty); an empty layout means RFC 3339.",
    ),
    doc("time_now", &[], "string", "The current local time in RFC 3339."),
    doc("time_now_utc", &[], "string", "The current UTC time in RFC 3339."),
    doc(
        "path_canonicalize",
        &["string path"],
        "string",
        "Cleans a file path: repeated and trailing slashes, `.` and `..`.",
    ),
    doc("truncate", &["string text", "number length"], "string", "Cuts the text to at most `length` characters."),
    doc(
        "semver_compare",
        &["string version", "string range"],
        "boolean",
        "Whether a semantic version satisfies a range such as `>=1.2.0 <2.0.0`.",
    ),
    doc("parse_json", &["string json"], "any", "Decodes a JSON document held in a string."),
    doc("parse_yaml", &["string yaml"], "any", "Decodes a YAML document held in a string."),
    doc(
        "lookup",
        &["object|array collection", "string|number key"],
        "any",
        "The value at a key of an object or an index of an array (null when absent).",
    ),
    doc(
        "items",
        &["object|array collection", "string key_name", "string value_name"],
        "array[object]",
        "Turns an object or array into a list of `{key_name, value_name}` entries.",
    ),
    doc(
        "object_from_lists",
        &["array keys", "array values"],
        "object",
        "Builds an object from a list of keys and a list of values.",
    ),
    doc("random", &["string regex"], "string", "A random string matching the regular expression."),
    doc("x509_decode", &["string pem"], "object", "Decodes a PEM certificate or certificate request into an object."),
    doc("time_to_cron", &["string time"], "string", "The cron schedule that fires once at an RFC 3339 time."),
    doc("time_add", &["string time", "string duration"], "string", "Adds a duration (`1h30m`) to an RFC 3339 time."),
    doc(
        "time_parse",
        &["string layout", "string time"],
        "string",
        "Reads a time in a Go layout (or a Unix timestamp) and returns it in RFC 3339.",
    ),
    doc("time_utc", &["string time"], "string", "The same RFC 3339 time expressed in UTC."),
    doc("time_diff", &["string start", "string end"], "string", "The duration between two RFC 3339 times."),
    doc("time_before", &["string a", "string b"], "boolean", "Whether time `a` is before time `b`."),
    doc("time_after", &["string a", "string b"], "boolean", "Whether time `a` is after time `b`."),
    doc(
        "time_between",
        &["string time", "string start", "string end"],
        "boolean",
        "Whether a time lies strictly between `start` and `end`.",
    ),
    doc(
        "time_truncate",
        &["string time", "string duration"],
        "string",
        "Rounds a time down to a multiple of the duration.",
    ),
    doc(
        "image_normalize",
        &["string image"],
        "string",
        "The fully qualified image reference (registry `docker.io` and tag `latest` filled in).",
    ),
    doc(
        "is_external_url",
        &["string url"],
        "boolean",
        "Whether a URL points outside the cluster (not a private or local host).",
    ),
    doc("sha256", &["string text"], "string", "The SHA-256 digest of the text, in hex."),
    doc("sha1", &["string text"], "string", "The SHA-1 digest of the text, in hex."),
    doc("md5", &["string text"], "string", "The MD5 digest of the text, in hex."),
];

/// The standard JMESPath functions, documented.
const STANDARD: &[FunctionDoc] = &[
    doc("abs", &["number value"], "number", "The absolute value."),
    doc("avg", &["array[number] values"], "number", "The mean of the numbers (null for an empty array)."),
    doc("ceil", &["number value"], "number", "Rounds up to the next integer."),
    doc(
        "contains",
        &["array|string subject", "any search"],
        "boolean",
        "Whether an array holds the value, or a string the substring.",
    ),
    doc("ends_with", &["string text", "string suffix"], "boolean", "Whether the text ends with the suffix."),
    doc("floor", &["number value"], "number", "Rounds down to the previous integer."),
    doc("join", &["string glue", "array[string] parts"], "string", "Joins strings with the glue between them."),
    doc("keys", &["object value"], "array[string]", "The keys of an object."),
    doc(
        "length",
        &["string|array|object value"],
        "number",
        "Characters of a string, items of an array or keys of an object.",
    ),
    doc("map", &["expression &expr", "array values"], "array", "Applies an `&expression` to every item."),
    doc("max", &["array[number]|array[string] values"], "number|string", "The largest number or string."),
    doc("max_by", &["array values", "expression &key"], "any", "The item whose `&key` is largest."),
    doc("merge", &["object objects..."], "object", "Merges objects; later keys win."),
    doc("min", &["array[number]|array[string] values"], "number|string", "The smallest number or string."),
    doc("min_by", &["array values", "expression &key"], "any", "The item whose `&key` is smallest."),
    doc("not_null", &["any values..."], "any", "The first argument that is not null."),
    doc("reverse", &["string|array value"], "string|array", "The characters or items in reverse order."),
    doc("sort", &["array[number]|array[string] values"], "array", "Sorts numbers or strings."),
    doc("sort_by", &["array values", "expression &key"], "array", "Sorts items by an `&key` expression."),
    doc("starts_with", &["string text", "string prefix"], "boolean", "Whether the text starts with the prefix."),
    doc("to_array", &["any value"], "array", "The value itself when it is an array, else a one-item array."),
    doc("to_number", &["any value"], "number", "Reads a number from a string (null when it is not one)."),
    doc("to_string", &["any value"], "string", "A string unchanged, anything else as JSON text."),
    doc("type", &["any value"], "string", "`string`, `number`, `boolean`, `array`, `object` or `null`."),
    doc("values", &["object value"], "array", "The values of an object."),
];

/// One callable function: its name, documentation when we have it, and whether Kyverno adds it.
pub(super) struct Callable {
    pub name: &'static str,
    pub doc: Option<&'static FunctionDoc>,
    pub kyverno: bool,
}

/// Every function the engine's runtime can call, Kyverno's first (they replace standard ones of the same
/// name, such as `sum`), each with its documentation.
pub(super) fn callable_functions() -> Vec<Callable> {
    let mut out: Vec<Callable> = FUNCTIONS
        .iter()
        .map(|(name, _)| Callable { name, doc: KYVERNO.iter().find(|doc| doc.name == *name), kyverno: true })
        .collect();
    for doc in STANDARD {
        if runtime().get_function(doc.name).is_some() && !out.iter().any(|callable| callable.name == doc.name) {
            out.push(Callable { name: doc.name, doc: Some(doc), kyverno: false });
        }
    }
    out
}

/// The documentation of a callable function.
pub(super) fn function_doc(name: &str) -> Option<&'static FunctionDoc> {
    if FUNCTIONS.iter().any(|(kyverno, _)| *kyverno == name) {
        return KYVERNO.iter().find(|doc| doc.name == name);
    }
    STANDARD.iter().find(|doc| doc.name == name && runtime().get_function(name).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_function_is_documented_and_every_documented_one_exists() {
        let undocumented: Vec<&str> = callable_functions()
            .iter()
            .filter(|callable| callable.doc.is_none())
            .map(|callable| callable.name)
            .collect();
        assert!(undocumented.is_empty(), "functions without documentation: {undocumented:?}");
        let missing: Vec<&str> = KYVERNO
            .iter()
            .chain(STANDARD)
            .filter(|doc| runtime().get_function(doc.name).is_none())
            .map(|doc| doc.name)
            .collect();
        assert!(missing.is_empty(), "documented functions the engine does not have: {missing:?}");
    }

    #[test]
    fn signatures_and_arity() {
        let doc = function_doc("regex_match").expect("documented");
        assert_eq!(doc.signature(), "regex_match(string regex, string|number value) -> boolean");
        assert_eq!(doc.arity(), (2, Some(2)));
        assert_eq!(function_doc("merge").map(FunctionDoc::arity), Some((1, None)));
        assert_eq!(function_doc("time_now_utc").map(FunctionDoc::arity), Some((0, Some(0))));
    }
}
