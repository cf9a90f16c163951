//! The Rego built-in functions and keywords that templates use, with signatures and one-line docs, for
//! completion and hover inside `rego:` blocks.

/// A built-in function: its name, signature and what it does.
pub struct Builtin {
    pub name: &'static str,
    pub signature: &'static str,
    pub doc: &'static str,
}

const fn builtin(name: &'static str, signature: &'static str, doc: &'static str) -> Builtin {
    Builtin { name, signature, doc }
}

pub const KEYWORDS: &[&str] = &[
    "package", "import", "default", "not", "some", "every", "in", "if", "contains", "else", "with", "as", "true",
    "false", "null",
];

pub const BUILTINS: &[Builtin] = &[
    builtin(
        "count",
        "count(collection) -> number",
        "The number of elements of an array, set or object, or of characters of a string.",
    ),
    builtin("sum", "sum(collection) -> number", "The sum of the numbers of an array or set."),
    builtin("product", "product(collection) -> number", "The product of the numbers of an array or set."),
    builtin("max", "max(collection) -> any", "The largest element of an array or set."),
    builtin("min", "min(collection) -> any", "The smallest element of an array or set."),
    builtin("sort", "sort(collection) -> array", "The elements of an array or set, sorted."),
    builtin("all", "all(collection) -> boolean", "Deprecated: true when every element is true."),
    builtin("any", "any(collection) -> boolean", "Deprecated: true when some element is true."),
    builtin("abs", "abs(x) -> number", "The absolute value of a number."),
    builtin("round", "round(x) -> number", "A number rounded to the nearest integer."),
    builtin("ceil", "ceil(x) -> number", "A number rounded up."),
    builtin("floor", "floor(x) -> number", "A number rounded down."),
    builtin("numbers.range", "numbers.range(a, b) -> array", "The integers from a to b, inclusive."),
    builtin("to_number", "to_number(x) -> number", "A string, boolean or null converted to a number."),
    builtin("units.parse", "units.parse(x) -> number", "A quantity such as `10Mi` or `200m` as a number."),
    builtin(
        "units.parse_bytes",
        "units.parse_bytes(x) -> number",
        "A byte quantity such as `10Mi` or `1G` as a number of bytes.",
    ),
    builtin(
        "concat",
        "concat(delimiter, collection) -> string",
        "The strings of an array or set joined with a delimiter.",
    ),
    builtin("contains", "contains(haystack, needle) -> boolean", "Whether a string contains another."),
    builtin("startswith", "startswith(search, base) -> boolean", "Whether a string starts with a prefix."),
    builtin("endswith", "endswith(search, base) -> boolean", "Whether a string ends with a suffix."),
    builtin("format_int", "format_int(number, base) -> string", "A number formatted in base 2, 8, 10 or 16."),
    builtin(
        "indexof",
        "indexof(haystack, needle) -> number",
        "The index of the first occurrence of a substring, or -1.",
    ),
    builtin("indexof_n", "indexof_n(haystack, needle) -> array", "The indices of every occurrence of a substring."),
    builtin("lower", "lower(x) -> string", "A string in lower case."),
    builtin("upper", "upper(x) -> string", "A string in upper case."),
    builtin("replace", "replace(x, old, new) -> string", "A string with every occurrence of `old` replaced by `new`."),
    builtin("split", "split(x, delimiter) -> array", "A string split at a delimiter."),
    builtin(
        "sprintf",
        "sprintf(format, values) -> string",
        "A string formatted like Go's fmt.Sprintf, with the values of an array.",
    ),
    builtin(
        "substring",
        "substring(value, offset, length) -> string",
        "Part of a string; a negative length runs to the end.",
    ),
    builtin("trim", "trim(value, cutset) -> string", "A string without leading and trailing characters of a cutset."),
    builtin("trim_left", "trim_left(value, cutset) -> string", "A string without leading characters of a cutset."),
    builtin("trim_right", "trim_right(value, cutset) -> string", "A string without trailing characters of a cutset."),
    builtin("trim_prefix", "trim_prefix(value, prefix) -> string", "A string without a prefix."),
    builtin("trim_suffix", "trim_suffix(value, suffix) -> string", "A string without a suffix."),
    builtin("trim_space", "trim_space(value) -> string", "A string without leading and trailing white space."),
    builtin(
        "strings.replace_n",
        "strings.replace_n(patterns, value) -> string",
        "A string with the replacements of an object applied.",
    ),
    builtin("strings.reverse", "strings.reverse(x) -> string", "A string reversed."),
    builtin(
        "strings.any_prefix_match",
        "strings.any_prefix_match(search, base) -> boolean",
        "Whether any search string starts with any base string.",
    ),
    builtin(
        "strings.any_suffix_match",
        "strings.any_suffix_match(search, base) -> boolean",
        "Whether any search string ends with any base string.",
    ),
    builtin(
        "regex.match",
        "regex.match(pattern, value) -> boolean",
        "Whether a string matches a regular expression (RE2).",
    ),
    builtin("regex.is_valid", "regex.is_valid(pattern) -> boolean", "Whether a string is a valid regular expression."),
    builtin(
        "regex.split",
        "regex.split(pattern, value) -> array",
        "A string split at the matches of a regular expression.",
    ),
    builtin(
        "regex.find_n",
        "regex.find_n(pattern, value, number) -> array",
        "Up to n matches of a regular expression (-1 for all).",
    ),
    builtin(
        "regex.find_all_string_submatch_n",
        "regex.find_all_string_submatch_n(pattern, value, number) -> array",
        "The matches and their groups.",
    ),
    builtin(
        "regex.replace",
        "regex.replace(s, pattern, value) -> string",
        "A string with the matches of a regular expression replaced.",
    ),
    builtin(
        "regex.globs_match",
        "regex.globs_match(glob1, glob2) -> boolean",
        "Whether two glob patterns can match a common string.",
    ),
    builtin(
        "glob.match",
        "glob.match(pattern, delimiters, match) -> boolean",
        "Whether a string matches a glob pattern.",
    ),
    builtin("glob.quote_meta", "glob.quote_meta(pattern) -> string", "A string with glob metacharacters escaped."),
    builtin("is_string", "is_string(x) -> boolean", "Whether a value is a string."),
    builtin("is_number", "is_number(x) -> boolean", "Whether a value is a number."),
    builtin("is_boolean", "is_boolean(x) -> boolean", "Whether a value is a boolean."),
    builtin("is_array", "is_array(x) -> boolean", "Whether a value is an array."),
    builtin("is_set", "is_set(x) -> boolean", "Whether a value is a set."),
    builtin("is_object", "is_object(x) -> boolean", "Whether a value is an object."),
    builtin("is_null", "is_null(x) -> boolean", "Whether a value is null."),
    builtin("type_name", "type_name(x) -> string", "The type of a value: `string`, `number`, `array`, ..."),
    builtin("array.concat", "array.concat(x, y) -> array", "Two arrays joined."),
    builtin("array.slice", "array.slice(arr, start, stop) -> array", "Part of an array."),
    builtin("array.reverse", "array.reverse(arr) -> array", "An array reversed."),
    builtin("intersection", "intersection(xs) -> set", "The intersection of a set of sets."),
    builtin("union", "union(xs) -> set", "The union of a set of sets."),
    builtin(
        "object.get",
        "object.get(object, key, default) -> any",
        "The value at a key (or path array), else a default.",
    ),
    builtin("object.keys", "object.keys(object) -> set", "The keys of an object."),
    builtin("object.remove", "object.remove(object, keys) -> object", "An object without some keys."),
    builtin("object.filter", "object.filter(object, keys) -> object", "An object with only some keys."),
    builtin("object.union", "object.union(a, b) -> object", "Two objects merged recursively; b wins."),
    builtin("object.union_n", "object.union_n(objects) -> object", "Objects merged recursively, later ones win."),
    builtin("json.filter", "json.filter(object, paths) -> object", "An object with only the given paths."),
    builtin("json.remove", "json.remove(object, paths) -> object", "An object without the given paths."),
    builtin("json.patch", "json.patch(object, patches) -> any", "An object with a JSON Patch applied."),
    builtin("json.marshal", "json.marshal(x) -> string", "A value serialised to JSON."),
    builtin("json.unmarshal", "json.unmarshal(x) -> any", "A JSON string parsed."),
    builtin("json.is_valid", "json.is_valid(x) -> boolean", "Whether a string is valid JSON."),
    builtin("yaml.marshal", "yaml.marshal(x) -> string", "A value serialised to YAML."),
    builtin("yaml.unmarshal", "yaml.unmarshal(x) -> any", "A YAML string parsed."),
    builtin("yaml.is_valid", "yaml.is_valid(x) -> boolean", "Whether a string is valid YAML."),
    builtin("base64.encode", "base64.encode(x) -> string", "A string encoded in base64."),
    builtin("base64.decode", "base64.decode(x) -> string", "A base64 string decoded."),
    builtin("base64url.encode", "base64url.encode(x) -> string", "A string encoded in URL-safe base64."),
    builtin("base64url.decode", "base64url.decode(x) -> string", "A URL-safe base64 string decoded."),
    builtin("urlquery.encode", "urlquery.encode(x) -> string", "A string escaped for a URL query."),
    builtin("urlquery.decode", "urlquery.decode(x) -> string", "A URL query string unescaped."),
    builtin("crypto.sha256", "crypto.sha256(x) -> string", "The SHA-256 digest of a string, in hex."),
    builtin("crypto.md5", "crypto.md5(x) -> string", "The MD5 digest of a string, in hex."),
    builtin(
        "net.cidr_contains",
        "net.cidr_contains(cidr, cidr_or_ip) -> boolean",
        "Whether a CIDR contains an IP or another CIDR.",
    ),
    builtin("net.cidr_intersects", "net.cidr_intersects(cidr1, cidr2) -> boolean", "Whether two CIDRs overlap."),
    builtin("net.cidr_is_valid", "net.cidr_is_valid(cidr) -> boolean", "Whether a string is a valid CIDR."),
    builtin(
        "semver.compare",
        "semver.compare(a, b) -> number",
        "-1, 0 or 1 as semantic version a is below, equal to or above b.",
    ),
    builtin("semver.is_valid", "semver.is_valid(vsn) -> boolean", "Whether a string is a valid semantic version."),
    builtin("time.now_ns", "time.now_ns() -> number", "The current time in nanoseconds since the epoch."),
    builtin("time.parse_rfc3339_ns", "time.parse_rfc3339_ns(value) -> number", "An RFC 3339 timestamp in nanoseconds."),
    builtin(
        "time.parse_duration_ns",
        "time.parse_duration_ns(duration) -> number",
        "A Go duration such as `1h30m` in nanoseconds.",
    ),
    builtin("uuid.rfc4122", "uuid.rfc4122(k) -> string", "A version 4 UUID, stable for the same key within a query."),
    builtin("walk", "walk(x, [path, value])", "Generates every path and value nested in a document."),
    builtin("trace", "trace(note) -> boolean", "Emits a note into the evaluation trace."),
    builtin("print", "print(...)", "Prints values to the evaluation output (for debugging)."),
    builtin("opa.runtime", "opa.runtime() -> object", "Information about the OPA runtime."),
];

/// The built-in with this name.
pub fn builtin_named(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|builtin| builtin.name == name)
}
