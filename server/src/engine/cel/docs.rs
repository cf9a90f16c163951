//! What the editor shows for CEL: one line of signature and one sentence per function, the fields of
//! the admission `request`, and completion candidates for the text before the cursor.

/// (name, signature, what it does).
pub const FUNCTIONS: &[(&str, &str, &str)] = &[
    ("size", "size(list|map|string|bytes) -> int", "The number of elements, entries, characters or bytes."),
    ("has", "has(a.b) -> bool", "Whether the field is present, without failing when it is not."),
    (
        "all",
        "list.all(x, predicate) -> bool",
        "Whether the predicate holds for every element (two-variable form: all(i, v, p)).",
    ),
    ("exists", "list.exists(x, predicate) -> bool", "Whether the predicate holds for some element."),
    ("exists_one", "list.exists_one(x, predicate) -> bool", "Whether the predicate holds for exactly one element."),
    ("map", "list.map(x, [filter,] expression) -> list", "The list of the expression for each (filtered) element."),
    ("filter", "list.filter(x, predicate) -> list", "The elements for which the predicate holds."),
    (
        "transformList",
        "list.transformList(i, v, [filter,] expression) -> list",
        "Two-variable map over index and value.",
    ),
    (
        "transformMap",
        "map.transformMap(k, v, [filter,] expression) -> map",
        "A map with each value replaced by the expression.",
    ),
    ("contains", "string.contains(string) -> bool", "Whether the string contains the substring."),
    ("startsWith", "string.startsWith(string) -> bool", "Whether the string starts with the prefix."),
    ("endsWith", "string.endsWith(string) -> bool", "Whether the string ends with the suffix."),
    ("matches", "string.matches(regex) -> bool", "Whether the RE2 regular expression matches part of the string."),
    ("split", "string.split(separator[, limit]) -> list(string)", "The parts between separators."),
    ("replace", "string.replace(old, new[, limit]) -> string", "The string with occurrences of old replaced."),
    ("substring", "string.substring(start[, end]) -> string", "The characters from start up to end."),
    (
        "indexOf",
        "string.indexOf(string[, offset]) -> int | list.indexOf(value) -> int",
        "The first position of the value, or -1.",
    ),
    ("lastIndexOf", "string.lastIndexOf(string[, offset]) -> int", "The last position of the value, or -1."),
    ("lowerAscii", "string.lowerAscii() -> string", "The string with ASCII letters lowercased."),
    ("upperAscii", "string.upperAscii() -> string", "The string with ASCII letters uppercased."),
    ("trim", "string.trim() -> string", "The string without leading and trailing whitespace."),
    ("join", "list(string).join([separator]) -> string", "The strings joined with the separator."),
    ("format", "string.format(list) -> string", "printf-style formatting with %s, %d, %f, %x."),
    ("find", "string.find(regex) -> string", "The first match of the regular expression, or ''."),
    ("findAll", "string.findAll(regex[, limit]) -> list(string)", "All matches of the regular expression."),
    ("orValue", "optional.orValue(default) -> value", "The optional's value, or the default when it is empty."),
    ("hasValue", "optional.hasValue() -> bool", "Whether the optional holds a value."),
    ("value", "optional.value() -> value", "The optional's value; an error when it is empty."),
    ("or", "optional.or(optional) -> optional", "This optional when it holds a value, else the other."),
    ("isSorted", "list.isSorted() -> bool", "Whether the list is in ascending order."),
    ("sum", "list.sum() -> number", "The sum of the numbers."),
    ("min", "list.min() -> value", "The smallest element."),
    ("max", "list.max() -> value", "The largest element."),
    ("distinct", "list.distinct() -> list", "The list without repeated elements."),
    ("flatten", "list.flatten([depth]) -> list", "Nested lists spliced into one list."),
    ("sort", "list.sort() -> list", "The list in ascending order."),
    ("sortBy", "list.sortBy(x, key) -> list", "The list ordered by the key expression."),
    ("slice", "list.slice(start, end) -> list", "The elements from start up to end."),
    ("reverse", "list.reverse() -> list | string.reverse() -> string", "The elements or characters in reverse order."),
    ("int", "int(value) -> int", "Converts a number, string, bool, duration or timestamp to an int."),
    ("string", "string(value) -> string", "Converts a value to its string form."),
    ("double", "double(value) -> double", "Converts a number or string to a double."),
    ("duration", "duration(string) -> duration", "Parses a Go duration such as 1h30m."),
    ("timestamp", "timestamp(string) -> timestamp", "Parses an RFC 3339 timestamp."),
    ("quantity", "quantity(string) -> Quantity", "Parses a Kubernetes resource quantity such as 500m or 1Gi."),
    ("isQuantity", "isQuantity(string) -> bool", "Whether the string is a valid quantity."),
    ("isLessThan", "Quantity.isLessThan(Quantity) -> bool", "Compares quantities (or semantic versions)."),
    ("isGreaterThan", "Quantity.isGreaterThan(Quantity) -> bool", "Compares quantities (or semantic versions)."),
    ("compareTo", "Quantity.compareTo(Quantity) -> int", "-1, 0 or 1."),
    ("asInteger", "Quantity.asInteger() -> int", "The quantity as an integer; an error when it is fractional."),
    ("url", "url(string) -> URL", "Parses an absolute URL or an absolute path."),
    ("isURL", "isURL(string) -> bool", "Whether the string is a valid URL."),
    ("getHost", "URL.getHost() -> string", "The host with its port."),
    ("getScheme", "URL.getScheme() -> string", "The scheme, such as https."),
    ("ip", "ip(string) -> IP", "Parses an IPv4 or IPv6 address."),
    ("isIP", "isIP(string) -> bool", "Whether the string is a valid IP address."),
    ("cidr", "cidr(string) -> CIDR", "Parses a CIDR range such as 10.0.0.0/8."),
    ("containsIP", "CIDR.containsIP(IP|string) -> bool", "Whether the address is in the range."),
    ("semver", "semver(string) -> Semver", "Parses a semantic version."),
    ("isSemver", "isSemver(string) -> bool", "Whether the string is a semantic version."),
    ("image", "image(string) -> Image", "Parses an OCI image reference (Kyverno)."),
    ("registry", "Image.registry() -> string", "The registry of an image reference (index.docker.io by default)."),
    ("repository", "Image.repository() -> string", "The repository of an image reference."),
    ("tag", "Image.tag() -> string", "The tag of an image reference (latest by default)."),
    ("digest", "Image.digest() -> string", "The digest of an image reference, or ''."),
];

/// Fields of the admission `request` variable.
pub const REQUEST_FIELDS: &[&str] = &[
    "operation",
    "kind",
    "resource",
    "subResource",
    "name",
    "namespace",
    "userInfo",
    "object",
    "oldObject",
    "dryRun",
    "options",
];

/// Fields every Kubernetes object has at the top and under `metadata`.
const OBJECT_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status", "data"];
const METADATA_FIELDS: &[&str] =
    &["name", "namespace", "labels", "annotations", "ownerReferences", "uid", "generateName", "finalizers"];

/// Namespaced library functions (`resource.Get`, `sets.contains`, ...), by namespace.
const NAMESPACED: &[(&str, &[&str])] = &[
    ("resource", &["Get", "List", "Post"]),
    ("http", &["Get", "Post"]),
    ("image", &["GetMetadata"]),
    ("globalContext", &["Get"]),
    ("sets", &["contains", "equivalent", "intersects"]),
    ("optional", &["of", "none", "ofNonZeroValue"]),
    ("math", &["greatest", "least", "ceil", "floor", "round", "abs", "sign"]),
    ("json", &["unmarshal"]),
    ("yaml", &["parse"]),
    ("base64", &["encode", "decode"]),
    ("lists", &["range"]),
];

/// The documentation of a function, for hover.
pub fn function_doc(name: &str) -> Option<(&'static str, &'static str)> {
    FUNCTIONS.iter().find(|(candidate, _, _)| *candidate == name).map(|(_, signature, doc)| (*signature, *doc))
}

/// One completion candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub label: String,
    pub detail: String,
    pub is_function: bool,
}

/// Candidates for the text before the cursor inside an expression. `variables` are the names in scope,
/// `declared` the names under `variables.`.
pub fn complete(before_cursor: &str, variables: &[&str], declared: &[String]) -> Vec<Candidate> {
    let word_start = before_cursor
        .char_indices()
        .rev()
        .take_while(|(_, character)| character.is_alphanumeric() || *character == '_')
        .last()
        .map_or(before_cursor.len(), |(index, _)| index);
    let head = &before_cursor[..word_start];
    let field = |label: &str, detail: &str| Candidate {
        label: label.to_string(),
        detail: detail.to_string(),
        is_function: false,
    };
    let function = |(name, signature, _): &(&str, &str, &str)| Candidate {
        label: name.to_string(),
        detail: signature.to_string(),
        is_function: true,
    };
    let Some(receiver) = head.strip_suffix('.').or_else(|| head.strip_suffix(".?")) else {
        let mut out: Vec<Candidate> = variables.iter().map(|name| field(name, "variable")).collect();
        out.extend(NAMESPACED.iter().map(|(namespace, _)| field(namespace, "library")));
        out.extend(
            FUNCTIONS
                .iter()
                .filter(|(_, signature, _)| !signature.split('(').next().unwrap_or("").contains('.'))
                .map(function),
        );
        return out;
    };
    let path: Vec<&str> = receiver
        .rsplit(|character: char| {
            !(character.is_alphanumeric() || character == '_' || character == '.' || character == '?')
        })
        .next()
        .unwrap_or("")
        .split('.')
        .map(|part| part.trim_end_matches('?'))
        .filter(|part| !part.is_empty())
        .collect();
    let members = || {
        FUNCTIONS
            .iter()
            .filter(|(_, signature, _)| signature.split('(').next().unwrap_or("").contains('.'))
            .map(function)
    };
    match path.as_slice() {
        ["variables"] => declared.iter().map(|name| field(name, "policy variable")).collect(),
        ["request"] => REQUEST_FIELDS.iter().map(|name| field(name, "AdmissionRequest field")).collect(),
        [root] if matches!(*root, "object" | "oldObject" | "params" | "namespaceObject") => {
            let mut out: Vec<Candidate> = OBJECT_FIELDS.iter().map(|name| field(name, "object field")).collect();
            out.extend(members());
            out
        }
        [.., "metadata"] => {
            let mut out: Vec<Candidate> = METADATA_FIELDS.iter().map(|name| field(name, "ObjectMeta field")).collect();
            out.extend(members());
            out
        }
        [namespace] if NAMESPACED.iter().any(|(candidate, _)| candidate == namespace) => NAMESPACED
            .iter()
            .filter(|(candidate, _)| candidate == namespace)
            .flat_map(|(_, names)| {
                names.iter().map(|name| Candidate {
                    label: name.to_string(),
                    detail: format!("{namespace}.{name}(...)"),
                    is_function: true,
                })
            })
            .collect(),
        _ => members().collect(),
    }
}
