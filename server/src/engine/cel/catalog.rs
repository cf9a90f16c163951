//! The one table of CEL names: every function and variable of the libraries that Kubernetes, Kyverno and
//! Kyverno's authorization server declare, which policy kind and evaluation mode declares which library,
//! and how each function is written, called, documented and evaluated offline. The compile checks, the
//! editor's completion and hover, and the interpreter's dispatch all read this table, and the tests of
//! this module hold them to it.
//!
//! Sources of the facts (read, not copied): Kyverno's compilers (`pkg/cel/compiler/env.go`,
//! `pkg/cel/policies/{vpol,mpol,gpol,dpol}/compiler/compiler.go`,
//! `pkg/image/verification/evaluator/compiler.go`, `pkg/admissionpolicy/compiler.go`), its libraries
//! (`extensions/cel/libs/*/lib.go` of kyverno/sdk, `pkg/cel/libs/imageverify/lib.go`), the authorization
//! server's environment (`pkg/cel/env.go` and `pkg/cel/libs/*` of kyverno/kyverno-authz), Kubernetes'
//! base environment (`staging/src/k8s.io/apiserver/pkg/cel/environment/base.go`) and cel-go's extensions.

/// A group of names a CEL environment declares together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Library {
    /// CEL's standard definitions and macros.
    Standard,
    /// cel-go's extensions that Kubernetes' base environment and Kyverno both enable: optional values,
    /// lists, sets and strings.
    Extensions,
    /// cel-go's `ext.Bindings` (`cel.bind`): Kyverno's kinds, not Kubernetes' base environment.
    Bindings,
    /// cel-go's `ext.Encoders` (`base64.*`): Kyverno's kinds only.
    Encoders,
    /// cel-go's `ext.Math` (`math.*`): Kyverno's kinds only.
    CelMath,
    /// cel-go's `ext.Protos` (`proto.*`): Kyverno's kinds only.
    Protos,
    /// cel-go's `ext.TwoVarComprehensions` (`all(i, v, p)`, `existsOne`, `transformList`, ...): Kubernetes'
    /// base environment and the Kyverno kinds built on it (validating, mutating, image validating).
    TwoVarComprehensions,
    /// cel-go's regular expression extension (`regex.replace`, ...), enabled by Kyverno's policy kinds.
    Regex,
    /// The Kubernetes libraries: quantity, URL, regex, lists, authorizer, IP, CIDR, format, semver,
    /// JSON patch.
    Kubernetes,
    /// Image references (`image(...)`): Kubernetes 1.33 and Kyverno.
    Image,
    /// Kyverno's `resource` library as a cluster-wide policy declares it.
    Resource,
    /// Kyverno's `resource` library as a Namespaced policy declares it: no namespace argument.
    NamespacedResource,
    Generator,
    GlobalContext,
    Http,
    ImageData,
    ImageVerify,
    User,
    Hash,
    /// Kyverno's `math.round(value, digits)`.
    KyvernoMath,
    Json,
    Yaml,
    Random,
    X509,
    Time,
    Transform,
    Gzip,
    /// Kyverno's authorization server, Envoy mode: response builders.
    Envoy,
    /// Kyverno's authorization server, HTTP mode: response builders and request accessors.
    HttpAuthorization,
    Jwt,
    /// The authorization server's own `json` library (`json.Unmarshal`).
    AuthorizationJson,
    Mcp,
}

impl Library {
    /// The variable the library declares for its member functions (`resource.get(...)`), if any.
    pub fn variable(self) -> Option<&'static str> {
        Some(match self {
            Library::Resource | Library::NamespacedResource => "resource",
            Library::Generator => "generator",
            Library::GlobalContext => "globalContext",
            Library::Http => "http",
            Library::ImageData => "image",
            Library::Json | Library::AuthorizationJson => "json",
            Library::Yaml => "yaml",
            Library::Mcp => "mcp",
            _ => return None,
        })
    }

    /// How the editor names the library.
    pub fn title(self) -> &'static str {
        match self {
            Library::Standard => "CEL standard library",
            Library::Extensions => "cel-go extensions",
            Library::Bindings => "cel-go bindings extension",
            Library::Encoders => "cel-go encoders extension",
            Library::CelMath => "cel-go math extension",
            Library::Protos => "cel-go protos extension",
            Library::TwoVarComprehensions => "cel-go two-variable comprehensions",
            Library::Regex => "cel-go regex extension",
            Library::Kubernetes => "Kubernetes CEL library",
            Library::Image => "image reference library",
            Library::Resource | Library::NamespacedResource => "Kyverno resource library",
            Library::Generator => "Kyverno generator library",
            Library::GlobalContext => "Kyverno global context library",
            Library::Http => "Kyverno HTTP library",
            Library::ImageData => "Kyverno image data library",
            Library::ImageVerify => "Kyverno image verification library",
            Library::User => "Kyverno user library",
            Library::Hash => "Kyverno hash library",
            Library::KyvernoMath => "Kyverno math library",
            Library::Json => "Kyverno JSON library",
            Library::Yaml => "Kyverno YAML library",
            Library::Random => "Kyverno random library",
            Library::X509 => "Kyverno x509 library",
            Library::Time => "Kyverno time library",
            Library::Transform => "Kyverno transform library",
            Library::Gzip => "Kyverno gzip library",
            Library::Envoy => "Kyverno authorization server: Envoy library",
            Library::HttpAuthorization => "Kyverno authorization server: HTTP library",
            Library::Jwt => "Kyverno authorization server: JWT library",
            Library::AuthorizationJson => "Kyverno authorization server: JSON library",
            Library::Mcp => "Kyverno authorization server: MCP library",
        }
    }
}

/// How a function is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `name(args)`, where the name may be qualified (`sets.contains(a, b)`).
    Global,
    /// `value.name(args)` on a value of some type.
    Member,
    /// `variable.name(args)` on the variable its library declares (`resource.get(...)`), or on what one
    /// of its functions returns (`http.client(ca).get(url)`).
    Library,
}

/// Whether the offline interpreter evaluates a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offline {
    Evaluated,
    /// Not evaluated offline; the reason is the evaluation error.
    Unsupported(&'static str),
}

/// One function: every spelling of one set of overloads.
#[derive(Clone, Copy, Debug)]
pub struct Function {
    /// The names it answers to. The first is the one completion offers and the interpreter dispatches
    /// on; Kyverno's libraries answer to their older PascalCase names too (`resource.Get`).
    pub names: &'static [&'static str],
    pub call: Call,
    /// Whether it is a macro: its leading identifier arguments name variables for the rest of the call.
    pub is_macro: bool,
    /// The fewest and most arguments, the receiver not counted.
    pub arity: (usize, usize),
    pub library: Library,
    pub signature: &'static str,
    pub doc: &'static str,
    /// An expression using the function that evaluates to `true` (for documentation and for the tests
    /// that hold the checker, completion, hover and interpreter to this table).
    pub example: &'static str,
    pub offline: Offline,
}

/// The most arguments of a variadic function.
const MANY: usize = usize::MAX;

const fn entry(
    call: Call,
    names: &'static [&'static str],
    arity: (usize, usize),
    library: Library,
    signature: &'static str,
    doc: &'static str,
    example: &'static str,
) -> Function {
    Function { names, call, is_macro: false, arity, library, signature, doc, example, offline: Offline::Evaluated }
}

const fn global(
    names: &'static [&'static str],
    arity: (usize, usize),
    library: Library,
    signature: &'static str,
    doc: &'static str,
    example: &'static str,
) -> Function {
    entry(Call::Global, names, arity, library, signature, doc, example)
}

const fn member(
    names: &'static [&'static str],
    arity: (usize, usize),
    library: Library,
    signature: &'static str,
    doc: &'static str,
    example: &'static str,
) -> Function {
    entry(Call::Member, names, arity, library, signature, doc, example)
}

const fn on_variable(
    names: &'static [&'static str],
    arity: (usize, usize),
    library: Library,
    signature: &'static str,
    doc: &'static str,
    example: &'static str,
) -> Function {
    entry(Call::Library, names, arity, library, signature, doc, example)
}

impl Function {
    const fn macro_(self) -> Function {
        Function { is_macro: true, ..self }
    }

    const fn unsupported(self, reason: &'static str) -> Function {
        Function { offline: Offline::Unsupported(reason), ..self }
    }

    /// The name completion offers and the interpreter dispatches on.
    pub fn name(&self) -> &'static str {
        self.names[0]
    }

    pub fn accepts(&self, count: usize) -> bool {
        count >= self.arity.0 && count <= self.arity.1
    }

    /// The accepted argument counts in words: `1`, `1 to 2`, `at least 1`.
    pub fn arity_text(&self) -> String {
        match self.arity {
            (fewest, most) if fewest == most => fewest.to_string(),
            (fewest, MANY) => format!("at least {fewest}"),
            (fewest, most) => format!("{fewest} to {most}"),
        }
    }
}

use Library as L;

const REGISTRY_ACCESS: &str = "image verification needs registry access, which offline evaluation does not have";
const AUTHORIZER: &str = "authorization checks need the cluster's authorizer, which offline evaluation does not have";
const MCP: &str = "Model Context Protocol requests are not parsed offline";
const RANDOM: &str = "random values cannot be reproduced by a test";
const WRITES: &str = "writing to the cluster is not possible offline";
const GZIP: &str = "gzip.compress returns the bytes of Go's deflate encoder, which offline evaluation does not \
                    reproduce byte for byte";
pub(crate) const JWKS: &str = "downloading a JSON Web Key Set needs the network, which offline evaluation does not use";
const PROTOS: &str = "protocol buffer extensions do not occur in Kubernetes objects";

/// Every function of every library.
pub const FUNCTIONS: &[Function] = &[
    // CEL standard library.
    global(
        &["size"],
        (1, 1),
        L::Standard,
        "size(list|map|string|bytes) -> int",
        "The number of elements, entries, characters or bytes.",
        "size([1, 2]) == 2",
    ),
    global(
        &["has"],
        (1, 1),
        L::Standard,
        "has(a.b) -> bool",
        "Whether the field is present, without failing when it is not.",
        "has({'a': 1}.a)",
    )
    .macro_(),
    global(
        &["int"],
        (1, 1),
        L::Standard,
        "int(value) -> int",
        "Converts a number, string, bool, duration or timestamp to an int.",
        "int('42') == 42",
    ),
    global(
        &["uint"],
        (1, 1),
        L::Standard,
        "uint(value) -> uint",
        "Converts a number or string to an unsigned int.",
        "uint(7) == 7u",
    ),
    global(
        &["double"],
        (1, 1),
        L::Standard,
        "double(value) -> double",
        "Converts a number or string to a double.",
        "double('1.5') == 1.5",
    ),
    global(
        &["string"],
        (1, 1),
        L::Standard,
        "string(value) -> string",
        "Converts a value to its string form.",
        "string(42) == '42'",
    ),
    global(
        &["bytes"],
        (1, 1),
        L::Standard,
        "bytes(string) -> bytes",
        "The UTF-8 bytes of a string.",
        "size(bytes('abc')) == 3",
    ),
    global(
        &["bool"],
        (1, 1),
        L::Standard,
        "bool(string) -> bool",
        "Parses true, false, 1, 0 and their spellings.",
        "bool('true')",
    ),
    global(
        &["dyn"],
        (1, 1),
        L::Standard,
        "dyn(value) -> dyn",
        "The value, typed dynamically (mixes types in one list or map).",
        "dyn(1) == 1",
    ),
    global(&["type"], (1, 1), L::Standard, "type(value) -> type", "The type of a value.", "type(1) == int"),
    global(
        &["duration"],
        (1, 1),
        L::Standard,
        "duration(string) -> duration",
        "Parses a Go duration such as 1h30m.",
        "duration('1h30m') == duration('90m')",
    ),
    global(
        &["timestamp"],
        (1, 1),
        L::Standard,
        "timestamp(string) -> timestamp",
        "Parses an RFC 3339 timestamp.",
        "timestamp('2024-01-01T00:00:00Z').getFullYear() == 2024",
    ),
    global(
        &["matches"],
        (2, 2),
        L::Standard,
        "matches(string, regex) -> bool",
        "Whether the RE2 regular expression matches part of the string.",
        "matches('abc', '^a')",
    ),
    member(
        &["size"],
        (0, 0),
        L::Standard,
        "list.size() -> int",
        "The number of elements, entries, characters or bytes.",
        "'abc'.size() == 3",
    ),
    member(
        &["contains"],
        (1, 1),
        L::Standard,
        "string.contains(string) -> bool",
        "Whether the string contains the substring.",
        "'abc'.contains('b')",
    ),
    member(
        &["startsWith"],
        (1, 1),
        L::Standard,
        "string.startsWith(string) -> bool",
        "Whether the string starts with the prefix.",
        "'abc'.startsWith('ab')",
    ),
    member(
        &["endsWith"],
        (1, 1),
        L::Standard,
        "string.endsWith(string) -> bool",
        "Whether the string ends with the suffix.",
        "'abc'.endsWith('bc')",
    ),
    member(
        &["matches"],
        (1, 1),
        L::Standard,
        "string.matches(regex) -> bool",
        "Whether the RE2 regular expression matches part of the string.",
        "'abc'.matches('b+')",
    ),
    member(
        &["all"],
        (2, 3),
        L::Standard,
        "list.all(x, predicate) -> bool",
        "Whether the predicate holds for every element (two-variable form: all(i, v, predicate)).",
        "[1, 2].all(x, x > 0)",
    )
    .macro_(),
    member(
        &["exists"],
        (2, 3),
        L::Standard,
        "list.exists(x, predicate) -> bool",
        "Whether the predicate holds for some element (two-variable form: exists(i, v, predicate)).",
        "[1, 2].exists(x, x > 1)",
    )
    .macro_(),
    member(
        &["exists_one"],
        (2, 3),
        L::Standard,
        "list.exists_one(x, predicate) -> bool",
        "Whether the predicate holds for exactly one element.",
        "[1, 2].exists_one(x, x > 1)",
    )
    .macro_(),
    member(
        &["map"],
        (2, 3),
        L::Standard,
        "list.map(x, [filter,] expression) -> list",
        "The list of the expression for each (filtered) element.",
        "[1, 2].map(x, x * 2) == [2, 4]",
    )
    .macro_(),
    member(
        &["filter"],
        (2, 2),
        L::Standard,
        "list.filter(x, predicate) -> list",
        "The elements for which the predicate holds.",
        "[1, 2, 3].filter(x, x > 1) == [2, 3]",
    )
    .macro_(),
    member(
        &["getFullYear"],
        (0, 1),
        L::Standard,
        "timestamp.getFullYear([timezone]) -> int",
        "The year.",
        "timestamp('2024-03-05T10:20:30Z').getFullYear() == 2024",
    ),
    member(
        &["getMonth"],
        (0, 1),
        L::Standard,
        "timestamp.getMonth([timezone]) -> int",
        "The month, from 0 for January.",
        "timestamp('2024-03-05T10:20:30Z').getMonth() == 2",
    ),
    member(
        &["getDayOfMonth"],
        (0, 1),
        L::Standard,
        "timestamp.getDayOfMonth([timezone]) -> int",
        "The day of the month, from 0.",
        "timestamp('2024-03-05T10:20:30Z').getDayOfMonth() == 4",
    ),
    member(
        &["getDate"],
        (0, 1),
        L::Standard,
        "timestamp.getDate([timezone]) -> int",
        "The day of the month, from 1.",
        "timestamp('2024-03-05T10:20:30Z').getDate() == 5",
    ),
    member(
        &["getDayOfYear"],
        (0, 1),
        L::Standard,
        "timestamp.getDayOfYear([timezone]) -> int",
        "The day of the year, from 0.",
        "timestamp('2024-01-02T00:00:00Z').getDayOfYear() == 1",
    ),
    member(
        &["getDayOfWeek"],
        (0, 1),
        L::Standard,
        "timestamp.getDayOfWeek([timezone]) -> int",
        "The day of the week, from 0 for Sunday.",
        "timestamp('2024-03-03T00:00:00Z').getDayOfWeek() == 0",
    ),
    member(
        &["getHours"],
        (0, 1),
        L::Standard,
        "timestamp.getHours([timezone]) -> int | duration.getHours() -> int",
        "The hour of a timestamp, or the whole hours of a duration.",
        "timestamp('2024-03-05T10:20:30+02:00').getHours() == 8",
    ),
    member(
        &["getMinutes"],
        (0, 1),
        L::Standard,
        "timestamp.getMinutes([timezone]) -> int | duration.getMinutes() -> int",
        "The minute of a timestamp, or the whole minutes of a duration.",
        "duration('1h30m').getMinutes() == 90",
    ),
    member(
        &["getSeconds"],
        (0, 1),
        L::Standard,
        "timestamp.getSeconds([timezone]) -> int | duration.getSeconds() -> int",
        "The second of a timestamp, or the whole seconds of a duration.",
        "timestamp('2024-03-05T10:20:30Z').getSeconds() == 30",
    ),
    member(
        &["getMilliseconds"],
        (0, 1),
        L::Standard,
        "timestamp.getMilliseconds([timezone]) -> int | duration.getMilliseconds() -> int",
        "The milliseconds of a timestamp, or the whole milliseconds of a duration.",
        "duration('1.5s').getMilliseconds() == 1500",
    ),
    // cel-go extensions.
    global(
        &["cel.bind"],
        (3, 3),
        L::Bindings,
        "cel.bind(name, value, expression) -> value",
        "Evaluates the expression with the name bound to the value.",
        "cel.bind(x, 2, x * x) == 4",
    )
    .macro_(),
    global(
        &["optional.of"],
        (1, 1),
        L::Extensions,
        "optional.of(value) -> optional",
        "An optional holding the value.",
        "optional.of(1).hasValue()",
    ),
    global(
        &["optional.none"],
        (0, 0),
        L::Extensions,
        "optional.none() -> optional",
        "An empty optional.",
        "!optional.none().hasValue()",
    ),
    global(
        &["optional.ofNonZeroValue"],
        (1, 1),
        L::Extensions,
        "optional.ofNonZeroValue(value) -> optional",
        "An optional holding the value, empty when it is the zero value of its type.",
        "!optional.ofNonZeroValue('').hasValue()",
    ),
    global(
        &["optional.unwrap"],
        (1, 1),
        L::Extensions,
        "optional.unwrap(list(optional)) -> list",
        "The values of the optionals that hold one.",
        "optional.unwrap([optional.of(1), optional.none()]) == [1]",
    ),
    member(
        &["hasValue"],
        (0, 0),
        L::Extensions,
        "optional.hasValue() -> bool",
        "Whether the optional holds a value.",
        "optional.of(1).hasValue()",
    ),
    member(
        &["value"],
        (0, 0),
        L::Extensions,
        "optional.value() -> value",
        "The optional's value; an error when it is empty.",
        "optional.of(1).value() == 1",
    ),
    member(
        &["or"],
        (1, 1),
        L::Extensions,
        "optional.or(optional) -> optional",
        "This optional when it holds a value, else the other.",
        "optional.none().or(optional.of(2)).value() == 2",
    ),
    member(
        &["orValue"],
        (1, 1),
        L::Extensions,
        "optional.orValue(default) -> value",
        "The optional's value, or the default when it is empty.",
        "optional.none().orValue(3) == 3",
    ),
    member(
        &["optMap"],
        (2, 2),
        L::Extensions,
        "optional.optMap(x, expression) -> optional",
        "The expression of the optional's value, as an optional.",
        "optional.of(2).optMap(x, x * 3).value() == 6",
    )
    .macro_(),
    member(
        &["optFlatMap"],
        (2, 2),
        L::Extensions,
        "optional.optFlatMap(x, expression) -> optional",
        "The optional the expression returns for the optional's value.",
        "optional.of(2).optFlatMap(x, optional.of(x + 1)).value() == 3",
    )
    .macro_(),
    member(
        &["unwrapOpt"],
        (0, 0),
        L::Extensions,
        "list(optional).unwrapOpt() -> list",
        "The values of the optionals that hold one.",
        "[optional.none(), optional.of(2)].unwrapOpt() == [2]",
    ),
    member(
        &["first"],
        (0, 0),
        L::Extensions,
        "list.first() -> optional",
        "The first element, or an empty optional.",
        "[1, 2].first().value() == 1",
    ),
    member(
        &["last"],
        (0, 0),
        L::Extensions,
        "list.last() -> optional",
        "The last element, or an empty optional.",
        "[1, 2].last().value() == 2",
    ),
    global(
        &["base64.encode"],
        (1, 1),
        L::Encoders,
        "base64.encode(bytes) -> string",
        "The standard base64 encoding of the bytes.",
        "base64.encode(b'hi') == 'aGk='",
    ),
    global(
        &["base64.decode"],
        (1, 1),
        L::Encoders,
        "base64.decode(string) -> bytes",
        "The bytes of a base64 text (padding optional).",
        "base64.decode('aGk=') == b'hi'",
    ),
    global(
        &["lists.range"],
        (1, 1),
        L::Extensions,
        "lists.range(n) -> list(int)",
        "The integers from 0 up to n.",
        "lists.range(3) == [0, 1, 2]",
    ),
    member(
        &["slice"],
        (2, 2),
        L::Extensions,
        "list.slice(start, end) -> list",
        "The elements from start up to end.",
        "[1, 2, 3].slice(1, 3) == [2, 3]",
    ),
    member(
        &["flatten"],
        (0, 1),
        L::Extensions,
        "list.flatten([depth]) -> list",
        "Nested lists spliced into one list.",
        "[[1], [2, 3]].flatten() == [1, 2, 3]",
    ),
    member(
        &["distinct"],
        (0, 0),
        L::Extensions,
        "list.distinct() -> list",
        "The list without repeated elements.",
        "[1, 1, 2].distinct() == [1, 2]",
    ),
    member(
        &["reverse"],
        (0, 0),
        L::Extensions,
        "list.reverse() -> list | string.reverse() -> string",
        "The elements or characters in reverse order.",
        "[1, 2].reverse() == [2, 1]",
    ),
    member(
        &["sort"],
        (0, 0),
        L::Extensions,
        "list.sort() -> list",
        "The list in ascending order.",
        "[2, 1].sort() == [1, 2]",
    ),
    member(
        &["sortBy"],
        (2, 2),
        L::Extensions,
        "list.sortBy(x, key) -> list",
        "The list ordered by the key expression.",
        "['bb', 'a'].sortBy(s, s.size()) == ['a', 'bb']",
    )
    .macro_(),
    global(
        &["math.greatest"],
        (1, MANY),
        L::CelMath,
        "math.greatest(number, ...) -> number",
        "The largest of the numbers (or of a list).",
        "math.greatest(1, 3, 2) == 3",
    ),
    global(
        &["math.least"],
        (1, MANY),
        L::CelMath,
        "math.least(number, ...) -> number",
        "The smallest of the numbers (or of a list).",
        "math.least([3, 1, 2]) == 1",
    ),
    global(
        &["math.ceil"],
        (1, 1),
        L::CelMath,
        "math.ceil(double) -> double",
        "The least integral value not below the number.",
        "math.ceil(1.2) == 2.0",
    ),
    global(
        &["math.floor"],
        (1, 1),
        L::CelMath,
        "math.floor(double) -> double",
        "The greatest integral value not above the number.",
        "math.floor(1.8) == 1.0",
    ),
    global(
        &["math.round"],
        (1, 1),
        L::CelMath,
        "math.round(double) -> double",
        "The nearest integral value, halves away from zero.",
        "math.round(2.5) == 3.0",
    ),
    global(
        &["math.trunc"],
        (1, 1),
        L::CelMath,
        "math.trunc(double) -> double",
        "The integral part of the number.",
        "math.trunc(-1.7) == -1.0",
    ),
    global(&["math.abs"], (1, 1), L::CelMath, "math.abs(number) -> number", "The absolute value.", "math.abs(-2) == 2"),
    global(
        &["math.sign"],
        (1, 1),
        L::CelMath,
        "math.sign(number) -> number",
        "-1, 0 or 1 by the sign of the number.",
        "math.sign(-3) == -1",
    ),
    global(
        &["math.isNaN"],
        (1, 1),
        L::CelMath,
        "math.isNaN(double) -> bool",
        "Whether the number is NaN.",
        "!math.isNaN(1.0)",
    ),
    global(
        &["math.isInf"],
        (1, 1),
        L::CelMath,
        "math.isInf(double) -> bool",
        "Whether the number is infinite.",
        "!math.isInf(1.0)",
    ),
    global(
        &["math.isFinite"],
        (1, 1),
        L::CelMath,
        "math.isFinite(double) -> bool",
        "Whether the number is neither infinite nor NaN.",
        "math.isFinite(1.0)",
    ),
    global(
        &["math.sqrt"],
        (1, 1),
        L::CelMath,
        "math.sqrt(number) -> double",
        "The square root.",
        "math.sqrt(16) == 4.0",
    ),
    global(
        &["math.bitAnd"],
        (2, 2),
        L::CelMath,
        "math.bitAnd(int, int) -> int",
        "Bitwise and.",
        "math.bitAnd(6, 3) == 2",
    ),
    global(&["math.bitOr"], (2, 2), L::CelMath, "math.bitOr(int, int) -> int", "Bitwise or.", "math.bitOr(4, 1) == 5"),
    global(
        &["math.bitXor"],
        (2, 2),
        L::CelMath,
        "math.bitXor(int, int) -> int",
        "Bitwise exclusive or.",
        "math.bitXor(6, 3) == 5",
    ),
    global(
        &["math.bitNot"],
        (1, 1),
        L::CelMath,
        "math.bitNot(int) -> int",
        "Bitwise complement.",
        "math.bitNot(0) == -1",
    ),
    global(
        &["math.bitShiftLeft"],
        (2, 2),
        L::CelMath,
        "math.bitShiftLeft(int, int) -> int",
        "Shifts the bits left.",
        "math.bitShiftLeft(1, 3) == 8",
    ),
    global(
        &["math.bitShiftRight"],
        (2, 2),
        L::CelMath,
        "math.bitShiftRight(int, int) -> int",
        "Shifts the bits right (logically).",
        "math.bitShiftRight(8, 2) == 2",
    ),
    global(
        &["sets.contains"],
        (2, 2),
        L::Extensions,
        "sets.contains(list, list) -> bool",
        "Whether the first list holds every element of the second.",
        "sets.contains([1, 2, 3], [2, 3])",
    ),
    global(
        &["sets.equivalent"],
        (2, 2),
        L::Extensions,
        "sets.equivalent(list, list) -> bool",
        "Whether the lists hold the same elements.",
        "sets.equivalent([1, 2], [2, 1, 1])",
    ),
    global(
        &["sets.intersects"],
        (2, 2),
        L::Extensions,
        "sets.intersects(list, list) -> bool",
        "Whether the lists share an element.",
        "sets.intersects([1, 2], [2, 5])",
    ),
    member(
        &["charAt"],
        (1, 1),
        L::Extensions,
        "string.charAt(int) -> string",
        "The character at the position.",
        "'abc'.charAt(1) == 'b'",
    ),
    member(
        &["indexOf"],
        (1, 2),
        L::Extensions,
        "string.indexOf(string[, offset]) -> int | list.indexOf(value) -> int",
        "The first position of the value, or -1.",
        "'banana'.indexOf('an') == 1",
    ),
    member(
        &["lastIndexOf"],
        (1, 2),
        L::Extensions,
        "string.lastIndexOf(string[, offset]) -> int | list.lastIndexOf(value) -> int",
        "The last position of the value, or -1.",
        "'banana'.lastIndexOf('an') == 3",
    ),
    member(
        &["lowerAscii"],
        (0, 0),
        L::Extensions,
        "string.lowerAscii() -> string",
        "The string with ASCII letters lowercased.",
        "'AbC'.lowerAscii() == 'abc'",
    ),
    member(
        &["upperAscii"],
        (0, 0),
        L::Extensions,
        "string.upperAscii() -> string",
        "The string with ASCII letters uppercased.",
        "'AbC'.upperAscii() == 'ABC'",
    ),
    member(
        &["replace"],
        (2, 3),
        L::Extensions,
        "string.replace(old, new[, limit]) -> string",
        "The string with occurrences of old replaced.",
        "'a-b-c'.replace('-', '_') == 'a_b_c'",
    ),
    member(
        &["split"],
        (1, 2),
        L::Extensions,
        "string.split(separator[, limit]) -> list(string)",
        "The parts between separators.",
        "'a,b'.split(',') == ['a', 'b']",
    ),
    member(
        &["substring"],
        (1, 2),
        L::Extensions,
        "string.substring(start[, end]) -> string",
        "The characters from start up to end.",
        "'hello'.substring(1, 3) == 'el'",
    ),
    member(
        &["trim"],
        (0, 0),
        L::Extensions,
        "string.trim() -> string",
        "The string without leading and trailing whitespace.",
        "' a '.trim() == 'a'",
    ),
    member(
        &["join"],
        (0, 1),
        L::Extensions,
        "list(string).join([separator]) -> string",
        "The strings joined with the separator.",
        "['a', 'b'].join('-') == 'a-b'",
    ),
    member(
        &["format"],
        (1, 1),
        L::Extensions,
        "string.format(list) -> string",
        "printf-style formatting with %s, %d, %f, %x.",
        "'%s-%s'.format(['a', 'b']) == 'a-b'",
    ),
    global(
        &["strings.quote"],
        (1, 1),
        L::Extensions,
        "strings.quote(string) -> string",
        "The string as a quoted, escaped literal.",
        "strings.quote('a') == '\"a\"'",
    ),
    member(
        &["existsOne"],
        (2, 3),
        L::TwoVarComprehensions,
        "list.existsOne(x, predicate) -> bool",
        "Whether the predicate holds for exactly one element (two-variable form: existsOne(i, v, predicate)).",
        "[1, 2].existsOne(x, x > 1)",
    )
    .macro_(),
    member(
        &["transformList"],
        (3, 4),
        L::TwoVarComprehensions,
        "list.transformList(i, v, [filter,] expression) -> list",
        "Two-variable map over index and value.",
        "[5, 6].transformList(i, v, i + v) == [5, 7]",
    )
    .macro_(),
    member(
        &["transformMap"],
        (3, 4),
        L::TwoVarComprehensions,
        "map.transformMap(k, v, [filter,] expression) -> map",
        "A map with each value replaced by the expression.",
        "{'a': 1}.transformMap(k, v, v + 1) == {'a': 2}",
    )
    .macro_(),
    member(
        &["transformMapEntry"],
        (3, 4),
        L::TwoVarComprehensions,
        "map.transformMapEntry(k, v, [filter,] expression) -> map",
        "A map built from the entries each expression returns.",
        "{'a': 1}.transformMapEntry(k, v, {v: k}) == {1: 'a'}",
    )
    .macro_(),
    global(
        &["proto.getExt"],
        (2, 2),
        L::Protos,
        "proto.getExt(message, extension) -> value",
        "A protocol buffer extension field.",
        "proto.getExt(object, object.ext) == 1",
    )
    .macro_()
    .unsupported(PROTOS),
    global(
        &["proto.hasExt"],
        (2, 2),
        L::Protos,
        "proto.hasExt(message, extension) -> bool",
        "Whether a protocol buffer extension field is set.",
        "proto.hasExt(object, object.ext)",
    )
    .macro_()
    .unsupported(PROTOS),
    // cel-go regex extension.
    global(
        &["regex.replace"],
        (3, 4),
        L::Regex,
        "regex.replace(string, regex, replacement[, count]) -> string",
        "The string with matches replaced; \\1 in the replacement is the first group.",
        "regex.replace('docker.io/nginx', '^docker\\\\.io/(.*)', 'mirror.example/\\\\1') == 'mirror.example/nginx'",
    ),
    global(
        &["regex.extract"],
        (2, 2),
        L::Regex,
        "regex.extract(string, regex) -> optional(string)",
        "The first match (or its only group), as an optional.",
        "regex.extract('v1.2', '[0-9]+').value() == '1'",
    ),
    global(
        &["regex.extractAll"],
        (2, 2),
        L::Regex,
        "regex.extractAll(string, regex) -> list(string)",
        "Every match (or its only group).",
        "regex.extractAll('a1b2', '[0-9]') == ['1', '2']",
    ),
    // Kubernetes libraries.
    global(
        &["quantity"],
        (1, 1),
        L::Kubernetes,
        "quantity(string) -> Quantity",
        "Parses a Kubernetes resource quantity such as 500m or 1Gi.",
        "quantity('1Gi').isGreaterThan(quantity('1G'))",
    ),
    global(
        &["isQuantity"],
        (1, 1),
        L::Kubernetes,
        "isQuantity(string) -> bool",
        "Whether the string is a valid quantity.",
        "isQuantity('500m')",
    ),
    member(
        &["isInteger"],
        (0, 0),
        L::Kubernetes,
        "Quantity.isInteger() -> bool",
        "Whether the quantity is a whole number.",
        "quantity('2').isInteger()",
    ),
    member(
        &["asInteger"],
        (0, 0),
        L::Kubernetes,
        "Quantity.asInteger() -> int",
        "The quantity as an integer; an error when it is fractional.",
        "quantity('2k').asInteger() == 2000",
    ),
    member(
        &["asApproximateFloat"],
        (0, 0),
        L::Kubernetes,
        "Quantity.asApproximateFloat() -> double",
        "The quantity as a double.",
        "quantity('500m').asApproximateFloat() == 0.5",
    ),
    // Declared as a global overload only (`quantity_sign`), whatever its doc comment says: cel-go's
    // checker refuses `q.sign()`.
    global(
        &["sign"],
        (1, 1),
        L::Kubernetes,
        "sign(Quantity) -> int",
        "-1, 0 or 1 by the sign of the quantity.",
        "sign(quantity('-1')) == -1",
    ),
    member(
        &["add"],
        (1, 1),
        L::Kubernetes,
        "Quantity.add(Quantity|int) -> Quantity",
        "The sum of the quantities.",
        "quantity('1').add(2).asInteger() == 3",
    ),
    member(
        &["sub"],
        (1, 1),
        L::Kubernetes,
        "Quantity.sub(Quantity|int) -> Quantity",
        "The difference of the quantities.",
        "quantity('3').sub(quantity('1')).asInteger() == 2",
    ),
    member(
        &["isLessThan"],
        (1, 1),
        L::Kubernetes,
        "Quantity.isLessThan(Quantity) -> bool | Semver.isLessThan(Semver) -> bool",
        "Compares quantities or semantic versions.",
        "quantity('1').isLessThan(quantity('2'))",
    ),
    member(
        &["isGreaterThan"],
        (1, 1),
        L::Kubernetes,
        "Quantity.isGreaterThan(Quantity) -> bool | Semver.isGreaterThan(Semver) -> bool",
        "Compares quantities or semantic versions.",
        "semver('1.2.0').isGreaterThan(semver('1.1.9'))",
    ),
    member(
        &["compareTo"],
        (1, 1),
        L::Kubernetes,
        "Quantity.compareTo(Quantity) -> int | Semver.compareTo(Semver) -> int",
        "-1, 0 or 1.",
        "quantity('1').compareTo(quantity('1000m')) == 0",
    ),
    global(
        &["url"],
        (1, 1),
        L::Kubernetes,
        "url(string) -> URL",
        "Parses an absolute URL or an absolute path.",
        "url('https://example.com/a').getHost() == 'example.com'",
    ),
    global(
        &["isURL"],
        (1, 1),
        L::Kubernetes,
        "isURL(string) -> bool",
        "Whether the string is a valid URL.",
        "isURL('https://example.com')",
    ),
    member(
        &["getScheme"],
        (0, 0),
        L::Kubernetes,
        "URL.getScheme() -> string",
        "The scheme, such as https.",
        "url('https://example.com').getScheme() == 'https'",
    ),
    member(
        &["getHost"],
        (0, 0),
        L::Kubernetes,
        "URL.getHost() -> string",
        "The host with its port.",
        "url('https://example.com:8443').getHost() == 'example.com:8443'",
    ),
    member(
        &["getHostname"],
        (0, 0),
        L::Kubernetes,
        "URL.getHostname() -> string",
        "The host without its port.",
        "url('https://example.com:8443').getHostname() == 'example.com'",
    ),
    member(
        &["getPort"],
        (0, 0),
        L::Kubernetes,
        "URL.getPort() -> string",
        "The port, or ''.",
        "url('https://example.com:8443').getPort() == '8443'",
    ),
    member(
        &["getEscapedPath"],
        (0, 0),
        L::Kubernetes,
        "URL.getEscapedPath() -> string",
        "The path, escaped.",
        "url('https://example.com/a/b').getEscapedPath() == '/a/b'",
    ),
    member(
        &["getQuery"],
        (0, 0),
        L::Kubernetes,
        "URL.getQuery() -> map(string, list(string))",
        "The query parameters.",
        "url('https://example.com/?a=1').getQuery()['a'] == ['1']",
    ),
    member(
        &["find"],
        (1, 1),
        L::Kubernetes,
        "string.find(regex) -> string",
        "The first match of the regular expression, or ''.",
        "'abc123'.find('[0-9]+') == '123'",
    ),
    member(
        &["findAll"],
        (1, 2),
        L::Kubernetes,
        "string.findAll(regex[, limit]) -> list(string)",
        "All matches of the regular expression.",
        "'a1b2'.findAll('[0-9]') == ['1', '2']",
    ),
    member(
        &["isSorted"],
        (0, 0),
        L::Kubernetes,
        "list.isSorted() -> bool",
        "Whether the list is in ascending order.",
        "[1, 2, 3].isSorted()",
    ),
    member(&["sum"], (0, 0), L::Kubernetes, "list.sum() -> number", "The sum of the numbers.", "[1, 2, 3].sum() == 6"),
    member(&["min"], (0, 0), L::Kubernetes, "list.min() -> value", "The smallest element.", "[3, 1, 2].min() == 1"),
    member(&["max"], (0, 0), L::Kubernetes, "list.max() -> value", "The largest element.", "[3, 1, 2].max() == 3"),
    member(
        &["path"],
        (1, 1),
        L::Kubernetes,
        "Authorizer.path(string) -> PathCheck",
        "An authorization check of a non-resource path.",
        "authorizer.path('/healthz').check('get').allowed()",
    )
    .unsupported(AUTHORIZER),
    member(
        &["group"],
        (1, 1),
        L::Kubernetes,
        "Authorizer.group(string) -> GroupCheck",
        "An authorization check in an API group.",
        "authorizer.group('apps').resource('deployments').check('create').allowed()",
    )
    .unsupported(AUTHORIZER),
    member(
        &["serviceAccount"],
        (2, 2),
        L::Kubernetes,
        "Authorizer.serviceAccount(namespace, name) -> Authorizer",
        "The authorizer of a service account.",
        "authorizer.serviceAccount('default', 'builder').group('').resource('pods').check('list').allowed()",
    )
    .unsupported(AUTHORIZER),
    member(
        &["resource"],
        (1, 1),
        L::Kubernetes,
        "GroupCheck.resource(string) -> ResourceCheck",
        "The resource of an authorization check.",
        "authorizer.group('').resource('pods').check('get').allowed()",
    )
    .unsupported(AUTHORIZER),
    member(
        &["subresource"],
        (1, 1),
        L::Kubernetes,
        "ResourceCheck.subresource(string) -> ResourceCheck",
        "The subresource of an authorization check.",
        "authorizer.group('').resource('pods').subresource('exec').check('create').allowed()",
    )
    .unsupported(AUTHORIZER),
    member(
        &["namespace"],
        (1, 1),
        L::Kubernetes,
        "ResourceCheck.namespace(string) -> ResourceCheck",
        "The namespace of an authorization check.",
        "authorizer.group('').resource('pods').namespace('default').check('get').allowed()",
    )
    .unsupported(AUTHORIZER),
    member(
        &["name"],
        (1, 1),
        L::Kubernetes,
        "ResourceCheck.name(string) -> ResourceCheck",
        "The object name of an authorization check.",
        "authorizer.group('').resource('pods').name('web').check('get').allowed()",
    )
    .unsupported(AUTHORIZER),
    member(
        &["fieldSelector"],
        (1, 1),
        L::Kubernetes,
        "ResourceCheck.fieldSelector(string) -> ResourceCheck",
        "A field selector on an authorization check.",
        "authorizer.group('').resource('pods').fieldSelector('spec.nodeName=n1').check('list').allowed()",
    )
    .unsupported(AUTHORIZER),
    member(
        &["labelSelector"],
        (1, 1),
        L::Kubernetes,
        "ResourceCheck.labelSelector(string) -> ResourceCheck",
        "A label selector on an authorization check.",
        "authorizer.group('').resource('pods').labelSelector('app=web').check('list').allowed()",
    )
    .unsupported(AUTHORIZER),
    member(
        &["check"],
        (1, 1),
        L::Kubernetes,
        "Check.check(verb) -> Decision",
        "Asks the authorizer about the verb.",
        "authorizer.group('').resource('pods').check('get').allowed()",
    )
    .unsupported(AUTHORIZER),
    member(
        &["allowed"],
        (0, 0),
        L::Kubernetes,
        "Decision.allowed() -> bool",
        "Whether the authorizer allows it.",
        "authorizer.group('').resource('pods').check('get').allowed()",
    )
    .unsupported(AUTHORIZER),
    member(
        &["reason"],
        (0, 0),
        L::Kubernetes,
        "Decision.reason() -> string",
        "Why the authorizer decided so.",
        "authorizer.group('').resource('pods').check('get').reason() != ''",
    )
    .unsupported(AUTHORIZER),
    member(
        &["errored"],
        (0, 0),
        L::Kubernetes,
        "Decision.errored() -> bool",
        "Whether the authorization check failed.",
        "!authorizer.group('').resource('pods').check('get').errored()",
    )
    .unsupported(AUTHORIZER),
    member(
        &["error"],
        (0, 0),
        L::Kubernetes,
        "Decision.error() -> string",
        "The error of a failed authorization check.",
        "authorizer.group('').resource('pods').check('get').error() == ''",
    )
    .unsupported(AUTHORIZER),
    global(
        &["ip"],
        (1, 1),
        L::Kubernetes,
        "ip(string) -> IP",
        "Parses an IPv4 or IPv6 address.",
        "ip('10.0.0.1').family() == 4",
    ),
    global(
        &["isIP"],
        (1, 1),
        L::Kubernetes,
        "isIP(string) -> bool",
        "Whether the string is a valid IP address.",
        "isIP('::1')",
    ),
    global(
        &["ip.isCanonical"],
        (1, 1),
        L::Kubernetes,
        "ip.isCanonical(string) -> bool",
        "Whether the address is written in its canonical form.",
        "ip.isCanonical('2001:db8::1')",
    ),
    member(&["family"], (0, 0), L::Kubernetes, "IP.family() -> int", "4 or 6.", "ip('::1').family() == 6"),
    member(
        &["isUnspecified"],
        (0, 0),
        L::Kubernetes,
        "IP.isUnspecified() -> bool",
        "Whether the address is 0.0.0.0 or ::.",
        "ip('0.0.0.0').isUnspecified()",
    ),
    member(
        &["isLoopback"],
        (0, 0),
        L::Kubernetes,
        "IP.isLoopback() -> bool",
        "Whether the address is a loopback address.",
        "ip('127.0.0.1').isLoopback()",
    ),
    member(
        &["isLinkLocalMulticast"],
        (0, 0),
        L::Kubernetes,
        "IP.isLinkLocalMulticast() -> bool",
        "Whether the address is link-local multicast.",
        "ip('224.0.0.1').isLinkLocalMulticast()",
    ),
    member(
        &["isLinkLocalUnicast"],
        (0, 0),
        L::Kubernetes,
        "IP.isLinkLocalUnicast() -> bool",
        "Whether the address is link-local unicast.",
        "ip('169.254.1.1').isLinkLocalUnicast()",
    ),
    member(
        &["isGlobalUnicast"],
        (0, 0),
        L::Kubernetes,
        "IP.isGlobalUnicast() -> bool",
        "Whether the address is global unicast.",
        "ip('8.8.8.8').isGlobalUnicast()",
    ),
    member(
        &["string"],
        (0, 0),
        L::Kubernetes,
        "IP.string() -> string | CIDR.string() -> string | Image.string() -> string",
        "The value written as text.",
        "cidr('10.0.0.0/8').string() == '10.0.0.0/8'",
    ),
    global(
        &["cidr"],
        (1, 1),
        L::Kubernetes,
        "cidr(string) -> CIDR",
        "Parses a CIDR range such as 10.0.0.0/8.",
        "cidr('10.0.0.0/8').containsIP('10.1.2.3')",
    ),
    global(
        &["isCIDR"],
        (1, 1),
        L::Kubernetes,
        "isCIDR(string) -> bool",
        "Whether the string is a valid CIDR range.",
        "isCIDR('10.0.0.0/8')",
    ),
    member(
        &["containsIP"],
        (1, 1),
        L::Kubernetes,
        "CIDR.containsIP(IP|string) -> bool",
        "Whether the address is in the range.",
        "cidr('10.0.0.0/8').containsIP(ip('10.0.0.1'))",
    ),
    member(
        &["containsCIDR"],
        (1, 1),
        L::Kubernetes,
        "CIDR.containsCIDR(CIDR|string) -> bool",
        "Whether the other range is inside this one.",
        "cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16')",
    ),
    member(
        &["ip"],
        (0, 0),
        L::Kubernetes,
        "CIDR.ip() -> IP",
        "The address of the range.",
        "cidr('10.0.0.0/8').ip() == ip('10.0.0.0')",
    ),
    member(
        &["masked"],
        (0, 0),
        L::Kubernetes,
        "CIDR.masked() -> CIDR",
        "The range with the host bits cleared.",
        "cidr('10.1.2.3/8').masked().string() == '10.0.0.0/8'",
    ),
    member(
        &["prefixLength"],
        (0, 0),
        L::Kubernetes,
        "CIDR.prefixLength() -> int",
        "The length of the prefix.",
        "cidr('10.0.0.0/8').prefixLength() == 8",
    ),
    global(
        &["format.named"],
        (1, 1),
        L::Kubernetes,
        "format.named(string) -> optional(Format)",
        "The named format validator, if there is one.",
        "format.named('dns1123Label').hasValue()",
    ),
    global(
        &["format.dns1123Label"],
        (0, 0),
        L::Kubernetes,
        "format.dns1123Label() -> Format",
        "The DNS-1123 label format.",
        "!format.dns1123Label().validate('web').hasValue()",
    ),
    global(
        &["format.dns1123Subdomain"],
        (0, 0),
        L::Kubernetes,
        "format.dns1123Subdomain() -> Format",
        "The DNS-1123 subdomain format.",
        "!format.dns1123Subdomain().validate('a.b').hasValue()",
    ),
    global(
        &["format.dns1035Label"],
        (0, 0),
        L::Kubernetes,
        "format.dns1035Label() -> Format",
        "The DNS-1035 label format.",
        "format.dns1035Label().validate('1a').hasValue()",
    ),
    global(
        &["format.qualifiedName"],
        (0, 0),
        L::Kubernetes,
        "format.qualifiedName() -> Format",
        "The format of a qualified name (label keys).",
        "!format.qualifiedName().validate('app').hasValue()",
    ),
    global(
        &["format.dns1123LabelPrefix"],
        (0, 0),
        L::Kubernetes,
        "format.dns1123LabelPrefix() -> Format",
        "The format of a DNS-1123 label prefix.",
        "!format.dns1123LabelPrefix().validate('web-').hasValue()",
    ),
    global(
        &["format.dns1123SubdomainPrefix"],
        (0, 0),
        L::Kubernetes,
        "format.dns1123SubdomainPrefix() -> Format",
        "The format of a DNS-1123 subdomain prefix.",
        "!format.dns1123SubdomainPrefix().validate('a.b-').hasValue()",
    ),
    global(
        &["format.dns1035LabelPrefix"],
        (0, 0),
        L::Kubernetes,
        "format.dns1035LabelPrefix() -> Format",
        "The format of a DNS-1035 label prefix.",
        "!format.dns1035LabelPrefix().validate('web-').hasValue()",
    ),
    global(
        &["format.labelValue"],
        (0, 0),
        L::Kubernetes,
        "format.labelValue() -> Format",
        "The format of a label value.",
        "!format.labelValue().validate('v1.2').hasValue()",
    ),
    global(
        &["format.uri"],
        (0, 0),
        L::Kubernetes,
        "format.uri() -> Format",
        "The URI format.",
        "!format.uri().validate('https://example.com').hasValue()",
    ),
    global(
        &["format.uuid"],
        (0, 0),
        L::Kubernetes,
        "format.uuid() -> Format",
        "The UUID format.",
        "format.uuid().validate('x').hasValue()",
    ),
    global(
        &["format.byte"],
        (0, 0),
        L::Kubernetes,
        "format.byte() -> Format",
        "The base64 format.",
        "!format.byte().validate('aGk=').hasValue()",
    ),
    global(
        &["format.date"],
        (0, 0),
        L::Kubernetes,
        "format.date() -> Format",
        "The date format (2006-01-02).",
        "!format.date().validate('2024-01-31').hasValue()",
    ),
    global(
        &["format.datetime"],
        (0, 0),
        L::Kubernetes,
        "format.datetime() -> Format",
        "The RFC 3339 date-time format.",
        "!format.datetime().validate('2024-01-31T00:00:00Z').hasValue()",
    ),
    member(
        &["validate"],
        (1, 1),
        L::Kubernetes,
        "Format.validate(string) -> optional(list(string))",
        "The reasons the string does not have the format, if any.",
        "format.named('uuid').value().validate('x').hasValue()",
    ),
    global(
        &["semver"],
        (1, 2),
        L::Kubernetes,
        "semver(string[, normalize]) -> Semver",
        "Parses a semantic version.",
        "semver('1.2.3').major() == 1",
    ),
    global(
        &["isSemver"],
        (1, 2),
        L::Kubernetes,
        "isSemver(string[, normalize]) -> bool",
        "Whether the string is a semantic version.",
        "isSemver('1.2.3')",
    ),
    member(
        &["major"],
        (0, 0),
        L::Kubernetes,
        "Semver.major() -> int",
        "The major version.",
        "semver('1.2.3').major() == 1",
    ),
    member(
        &["minor"],
        (0, 0),
        L::Kubernetes,
        "Semver.minor() -> int",
        "The minor version.",
        "semver('1.2.3').minor() == 2",
    ),
    member(
        &["patch"],
        (0, 0),
        L::Kubernetes,
        "Semver.patch() -> int",
        "The patch version.",
        "semver('1.2.3').patch() == 3",
    ),
    global(
        &["jsonpatch.escapeKey"],
        (1, 1),
        L::Kubernetes,
        "jsonpatch.escapeKey(string) -> string",
        "The key escaped for a JSON patch path (~ and /).",
        "jsonpatch.escapeKey('a/b') == 'a~1b'",
    ),
    // Image references.
    global(
        &["image"],
        (1, 1),
        L::Image,
        "image(string) -> Image",
        "Parses an OCI image reference (Kyverno deprecates it for parseImageReference).",
        "image('nginx:1.25').tag() == '1.25'",
    ),
    global(
        &["parseImageReference"],
        (1, 1),
        L::Image,
        "parseImageReference(string) -> Image",
        "Parses an OCI image reference (Kyverno).",
        "parseImageReference('ghcr.io/acme/app:1.0').registry() == 'ghcr.io'",
    ),
    global(
        &["isImage"],
        (1, 1),
        L::Image,
        "isImage(string) -> bool",
        "Whether the string is a valid image reference.",
        "isImage('nginx')",
    ),
    member(
        &["containsDigest"],
        (0, 0),
        L::Image,
        "Image.containsDigest() -> bool",
        "Whether the reference has a digest.",
        "!image('nginx').containsDigest()",
    ),
    member(
        &["registry"],
        (0, 0),
        L::Image,
        "Image.registry() -> string",
        "The registry of an image reference (index.docker.io by default).",
        "image('nginx').registry() == 'index.docker.io'",
    ),
    member(
        &["repository"],
        (0, 0),
        L::Image,
        "Image.repository() -> string",
        "The repository of an image reference.",
        "image('ghcr.io/acme/app').repository() == 'acme/app'",
    ),
    member(
        &["identifier"],
        (0, 0),
        L::Image,
        "Image.identifier() -> string",
        "The digest of an image reference, else its tag.",
        "image('nginx:1.25').identifier() == '1.25'",
    ),
    member(
        &["tag"],
        (0, 0),
        L::Image,
        "Image.tag() -> string",
        "The tag of an image reference (latest by default).",
        "image('nginx').tag() == 'latest'",
    ),
    member(
        &["digest"],
        (0, 0),
        L::Image,
        "Image.digest() -> string",
        "The digest of an image reference, or ''.",
        "image('nginx').digest() == ''",
    ),
    // Kyverno's libraries.
    on_variable(
        &["get", "Get"],
        (3, 4),
        L::Resource,
        "resource.get(apiVersion, resource, namespace, name) -> map",
        "The object of the cluster with that name (the test's files, offline).",
        "resource.get('v1', 'configmaps', 'default', 'settings').data.mode == 'strict'",
    ),
    on_variable(
        &["list", "List"],
        (2, 4),
        L::Resource,
        "resource.list(apiVersion, resource, namespace[, labels]) -> map",
        "The objects of the cluster of that resource, under `items`.",
        "size(resource.list('v1', 'configmaps', 'default').items) == 1",
    ),
    on_variable(
        &["post", "Post"],
        (3, 4),
        L::Resource,
        "resource.post(apiVersion, resource, [namespace,] object) -> map",
        "Creates an object in the cluster and returns it.",
        "resource.post('v1', 'configmaps', 'default', {}) != null",
    )
    .unsupported(WRITES),
    on_variable(
        &["toGVR", "ToGVR"],
        (2, 2),
        L::Resource,
        "resource.toGVR(apiVersion, resource) -> GVR",
        "A group-version-resource for the other functions.",
        "resource.get(resource.toGVR('v1', 'configmaps'), 'default', 'settings').data.mode == 'strict'",
    ),
    on_variable(
        &["get", "Get"],
        (2, 3),
        L::NamespacedResource,
        "resource.get(apiVersion, resource, name) -> map",
        "The object with that name in the policy's namespace.",
        "resource.get('v1', 'configmaps', 'settings').data.mode == 'strict'",
    ),
    on_variable(
        &["list", "List"],
        (1, 3),
        L::NamespacedResource,
        "resource.list(apiVersion, resource[, labels]) -> map",
        "The objects of that resource in the policy's namespace, under `items`.",
        "size(resource.list('v1', 'configmaps').items) == 1",
    ),
    on_variable(
        &["post", "Post"],
        (3, 3),
        L::NamespacedResource,
        "resource.post(apiVersion, resource, object) -> map",
        "Creates an object in the policy's namespace and returns it.",
        "resource.post('v1', 'configmaps', {}) != null",
    )
    .unsupported(WRITES),
    on_variable(
        &["toGVR", "ToGVR"],
        (2, 2),
        L::NamespacedResource,
        "resource.toGVR(apiVersion, resource) -> GVR",
        "A group-version-resource for the other functions.",
        "resource.get(resource.toGVR('v1', 'configmaps'), 'settings').data.mode == 'strict'",
    ),
    on_variable(
        &["apply", "Apply"],
        (2, 2),
        L::Generator,
        "generator.apply(namespace, list(object)) -> bool",
        "Generates the objects in the namespace.",
        "generator.apply('default', [{'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'made'}}])",
    ),
    on_variable(
        &["get", "Get"],
        (1, 2),
        L::GlobalContext,
        "globalContext.get(name[, projection]) -> dyn",
        "The data of a GlobalContextEntry (the test's files, offline).",
        "globalContext.get('deployments', 'count') == 3",
    ),
    on_variable(
        &["get", "Get"],
        (1, 2),
        L::Http,
        "http.get(url[, headers]) -> dyn",
        "The decoded body of a GET request (a mocked response, offline).",
        "http.get('https://api.example.com/status').ok",
    ),
    on_variable(
        &["post", "Post"],
        (2, 3),
        L::Http,
        "http.post(url, body[, headers]) -> dyn",
        "The decoded body of a POST request (a mocked response, offline).",
        "http.post('https://api.example.com/check', {'name': 'x'}).allowed",
    ),
    on_variable(
        &["client", "Client"],
        (1, 1),
        L::Http,
        "http.client(caBundle) -> http",
        "An HTTP client that trusts the certificate bundle.",
        "http.client('').get('https://api.example.com/status').ok",
    ),
    on_variable(
        &["getMetadata", "GetMetadata"],
        (1, 1),
        L::ImageData,
        "image.getMetadata(reference) -> dyn",
        "The registry data of an image: manifest and config (the test's files, offline).",
        "image.getMetadata('ghcr.io/acme/app:1.0').digest == 'sha256:abc'",
    ),
    global(
        &["verifyImageSignatures"],
        (2, 2),
        L::ImageVerify,
        "verifyImageSignatures(image, list(attestor)) -> int",
        "How many attestors verified the image's signatures.",
        "verifyImageSignatures(object.image, [attestors.cosign]) > 0",
    )
    .unsupported(REGISTRY_ACCESS),
    global(
        &["verifyAttestationSignatures"],
        (3, 3),
        L::ImageVerify,
        "verifyAttestationSignatures(image, attestation, list(attestor)) -> int",
        "How many attestors verified the attestation's signatures.",
        "verifyAttestationSignatures(object.image, attestations.sbom, [attestors.cosign]) > 0",
    )
    .unsupported(REGISTRY_ACCESS),
    global(
        &["getImageData"],
        (1, 1),
        L::ImageVerify,
        "getImageData(image) -> dyn",
        "The registry data of an image.",
        "getImageData(object.image) != null",
    )
    .unsupported(REGISTRY_ACCESS),
    global(
        &["extractPayload"],
        (2, 2),
        L::ImageVerify,
        "extractPayload(image, attestation) -> dyn",
        "The payload of an attestation of the image.",
        "extractPayload(object.image, attestations.sbom) != null",
    )
    .unsupported(REGISTRY_ACCESS),
    global(
        &["parseServiceAccount"],
        (1, 1),
        L::User,
        "parseServiceAccount(username) -> ServiceAccount",
        "The namespace and name of a service account user name.",
        "parseServiceAccount('system:serviceaccount:ci:builder').Name == 'builder'",
    ),
    global(
        &["user.parseServiceAccount"],
        (1, 1),
        L::User,
        "user.parseServiceAccount(username) -> ServiceAccount",
        "The namespace and name of a service account user name.",
        "user.parseServiceAccount('system:serviceaccount:ci:builder').Namespace == 'ci'",
    ),
    global(
        &["sha256"],
        (1, 1),
        L::Hash,
        "sha256(string) -> string",
        "The SHA-256 digest, in hex.",
        "sha256('abc').startsWith('ba7816bf')",
    ),
    global(
        &["hash.sha256"],
        (1, 1),
        L::Hash,
        "hash.sha256(string) -> string",
        "The SHA-256 digest, in hex.",
        "hash.sha256('abc').startsWith('ba7816bf')",
    ),
    global(
        &["sha1"],
        (1, 1),
        L::Hash,
        "sha1(string) -> string",
        "The SHA-1 digest, in hex.",
        "sha1('abc').startsWith('a9993e36')",
    ),
    global(
        &["hash.sha1"],
        (1, 1),
        L::Hash,
        "hash.sha1(string) -> string",
        "The SHA-1 digest, in hex.",
        "hash.sha1('abc').startsWith('a9993e36')",
    ),
    global(
        &["md5"],
        (1, 1),
        L::Hash,
        "md5(string) -> string",
        "The MD5 digest, in hex.",
        "md5('abc').startsWith('90015098')",
    ),
    global(
        &["hash.md5"],
        (1, 1),
        L::Hash,
        "hash.md5(string) -> string",
        "The MD5 digest, in hex.",
        "hash.md5('abc').startsWith('90015098')",
    ),
    global(
        &["math.round"],
        (2, 2),
        L::KyvernoMath,
        "math.round(double, digits) -> double",
        "The number rounded to that many decimal digits.",
        "math.round(1.256, 2) == 1.26",
    ),
    on_variable(
        &["unmarshal"],
        (1, 1),
        L::Json,
        "json.unmarshal(string) -> dyn",
        "Decodes a JSON text.",
        "json.unmarshal('{\"a\": 1}').a == 1",
    ),
    on_variable(
        &["marshal"],
        (1, 1),
        L::Json,
        "json.marshal(value) -> string",
        "Encodes a value as JSON.",
        "json.marshal({'a': 1}) == '{\"a\":1}'",
    ),
    on_variable(
        &["parse"],
        (1, 1),
        L::Yaml,
        "yaml.parse(string) -> dyn",
        "Decodes a YAML text.",
        "yaml.parse('a: 1').a == 1",
    ),
    global(
        &["random"],
        (0, 1),
        L::Random,
        "random([pattern]) -> string",
        "A random string matching the pattern.",
        "size(random()) > 0",
    )
    .unsupported(RANDOM),
    global(
        &["random.random"],
        (0, 1),
        L::Random,
        "random.random([pattern]) -> string",
        "A random string matching the pattern.",
        "size(random.random()) > 0",
    )
    .unsupported(RANDOM),
    global(
        &["x509.decode"],
        (1, 1),
        L::X509,
        "x509.decode(pem) -> map",
        "The fields of a PEM certificate or certificate request.",
        "x509.decode(variables.certificate) != null",
    ),
    global(
        &["time.now"],
        (0, 0),
        L::Time,
        "time.now() -> timestamp",
        "The current time (the test run's clock).",
        "time.now() > timestamp('2000-01-01T00:00:00Z')",
    ),
    global(
        &["time.truncate"],
        (2, 2),
        L::Time,
        "time.truncate(timestamp, duration) -> timestamp",
        "The timestamp rounded down to a multiple of the duration.",
        "time.truncate(timestamp('2024-01-01T10:45:00Z'), duration('1h')) == timestamp('2024-01-01T10:00:00Z')",
    ),
    global(
        &["time.toCron"],
        (1, 1),
        L::Time,
        "time.toCron(timestamp) -> string",
        "The timestamp as a cron schedule (minute hour day month weekday).",
        "time.toCron(timestamp('2024-03-05T10:20:00Z')) == '20 10 5 3 2'",
    ),
    global(
        &["listObjToMap"],
        (4, 4),
        L::Transform,
        "listObjToMap(keys, values, keyField, valueField) -> map",
        "A map from each key object's field to the matching value object's field.",
        "listObjToMap([{'k': 'a'}], [{'v': 1}], 'k', 'v') == {'a': 1}",
    ),
    global(
        &["transform.listObjToMap"],
        (4, 4),
        L::Transform,
        "transform.listObjToMap(keys, values, keyField, valueField) -> map",
        "A map from each key object's field to the matching value object's field.",
        "transform.listObjToMap([{'k': 'a'}], [{'v': 1}], 'k', 'v') == {'a': 1}",
    ),
    global(
        &["gzip.compress"],
        (1, 1),
        L::Gzip,
        "gzip.compress(value) -> bytes",
        "The gzip compression of the value.",
        "size(gzip.compress('abc')) > 0",
    )
    .unsupported(GZIP),
    global(
        &["gzip.decompress"],
        (1, 1),
        L::Gzip,
        "gzip.decompress(bytes) -> string",
        "The text of gzip-compressed bytes (every member of the stream, checksums checked).",
        "gzip.decompress(base64.decode('H4sIAAAAAAACA0tMSgYAwkEkNQMAAAA=')) == 'abc'",
    ),
    // Kyverno's authorization server.
    global(
        &["envoy.Allowed"],
        (0, 0),
        L::Envoy,
        "envoy.Allowed() -> OkHttpResponse",
        "An allowing response.",
        "envoy.Allowed().Response() != null",
    ),
    global(
        &["envoy.Denied"],
        (1, 1),
        L::Envoy,
        "envoy.Denied(status) -> DeniedHttpResponse",
        "A denying response with the HTTP status.",
        "envoy.Denied(403).Response() != null",
    ),
    global(
        &["envoy.Header"],
        (2, 2),
        L::Envoy,
        "envoy.Header(key, value) -> HeaderValueOption",
        "A header for a response.",
        "envoy.Allowed().WithHeader(envoy.Header('x', 'y')).Response() != null",
    ),
    global(
        &["envoy.QueryParam"],
        (2, 2),
        L::Envoy,
        "envoy.QueryParam(key, value) -> QueryParameter",
        "A query parameter for a response.",
        "envoy.Allowed().WithQueryParam(envoy.QueryParam('x', 'y')).Response() != null",
    ),
    member(
        &["WithBody"],
        (1, 1),
        L::Envoy,
        "DeniedHttpResponse.WithBody(string) -> DeniedHttpResponse",
        "The body of a denying response.",
        "envoy.Denied(403).WithBody('no').Response() != null",
    ),
    member(
        &["WithHeader"],
        (1, 2),
        L::Envoy,
        "response.WithHeader(header | key, value) -> response",
        "Adds a header to the request (allowing) or the response (denying).",
        "envoy.Allowed().WithHeader('x', 'y').Response() != null",
    ),
    member(
        &["WithoutHeader"],
        (1, 1),
        L::Envoy,
        "OkHttpResponse.WithoutHeader(key) -> OkHttpResponse",
        "Removes a header from the request.",
        "envoy.Allowed().WithoutHeader('x').Response() != null",
    ),
    member(
        &["WithResponseHeader"],
        (1, 2),
        L::Envoy,
        "OkHttpResponse.WithResponseHeader(header | key, value) -> OkHttpResponse",
        "Adds a header to the response.",
        "envoy.Allowed().WithResponseHeader('x', 'y').Response() != null",
    ),
    member(
        &["WithQueryParam"],
        (1, 2),
        L::Envoy,
        "OkHttpResponse.WithQueryParam(param | key, value) -> OkHttpResponse",
        "Adds a query parameter to the request.",
        "envoy.Allowed().WithQueryParam('x', 'y').Response() != null",
    ),
    member(
        &["WithoutQueryParam"],
        (1, 1),
        L::Envoy,
        "OkHttpResponse.WithoutQueryParam(key) -> OkHttpResponse",
        "Removes a query parameter from the request.",
        "envoy.Allowed().WithoutQueryParam('x').Response() != null",
    ),
    member(
        &["KeepEmptyValue"],
        (0, 1),
        L::Envoy,
        "HeaderValueOption.KeepEmptyValue([bool]) -> HeaderValueOption",
        "Keeps the header when its value is empty.",
        "envoy.Allowed().WithHeader(envoy.Header('x', '').KeepEmptyValue()).Response() != null",
    ),
    member(
        &["Response"],
        (0, 0),
        L::Envoy,
        "response.Response() -> CheckResponse",
        "The check response of an allowing or denying response.",
        "envoy.Allowed().Response() != null",
    ),
    member(
        &["WithMessage"],
        (1, 1),
        L::Envoy,
        "CheckResponse.WithMessage(string) -> CheckResponse",
        "The status message of a check response.",
        "envoy.Allowed().Response().WithMessage('ok') != null",
    ),
    member(
        &["WithMetadata"],
        (1, 1),
        L::Envoy,
        "CheckResponse.WithMetadata(map) -> CheckResponse",
        "The dynamic metadata of a check response.",
        "envoy.Allowed().Response().WithMetadata({'a': 'b'}) != null",
    ),
    global(
        &["http.Allowed"],
        (0, 0),
        L::HttpAuthorization,
        "http.Allowed() -> ResponseOk",
        "An allowing response.",
        "http.Allowed().Response() != null",
    ),
    global(
        &["http.Denied"],
        (1, 1),
        L::HttpAuthorization,
        "http.Denied(reason) -> ResponseDenied",
        "A denying response with the reason.",
        "http.Denied('no').Response() != null",
    ),
    member(
        &["Header"],
        (1, 1),
        L::HttpAuthorization,
        "Request.Header(name) -> list(string)",
        "The values of a request header, looked up under Go's canonical form of the name.",
        "object.attributes.Header('content-type') == ['text/plain'] && object.attributes.Header('x') == []",
    ),
    member(
        &["QueryParam"],
        (1, 1),
        L::HttpAuthorization,
        "Request.QueryParam(name) -> list(string)",
        "The values of a query parameter, looked up as written.",
        "object.attributes.QueryParam('page') == ['2'] && object.attributes.QueryParam('Page') == []",
    ),
    member(
        &["Response"],
        (0, 0),
        L::HttpAuthorization,
        "response.Response() -> Response",
        "The response of an allowing or denying response.",
        "http.Allowed().Response() != null",
    ),
    global(
        &["jwks.Fetch"],
        (1, 1),
        L::Jwt,
        "jwks.Fetch(url) -> jwk.Set",
        "Downloads the JSON Web Key Set at the URL, for `jwt.Decode`.",
        "jwt.Decode('a.b.c', jwks.Fetch('https://issuer.example/jwks.json')).Valid",
    )
    .unsupported(JWKS),
    global(
        &["jwt.Decode"],
        (2, 2),
        L::Jwt,
        "jwt.Decode(token, key) -> Token",
        "Decodes and verifies a JSON web token (`Valid`, `Header`, `Claims`).",
        "jwt.Decode('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjQwMDAwMDAwMDB9.3IldyheYZZOpI7FhufqCekZT6q5XSy6gS2OmIJ08Y_4', 'secret').Valid",
    ),
    on_variable(
        &["Unmarshal"],
        (1, 1),
        L::AuthorizationJson,
        "json.Unmarshal(string) -> dyn",
        "Decodes a JSON text.",
        "json.Unmarshal('{\"a\": 1}').a == 1",
    ),
    on_variable(
        &["Parse"],
        (1, 1),
        L::Mcp,
        "mcp.Parse(body) -> Request",
        "Parses a Model Context Protocol request body.",
        "mcp.Parse(b'{}') != null",
    )
    .unsupported(MCP),
    member(
        &["GetStringArgument"],
        (2, 2),
        L::Mcp,
        "Request.GetStringArgument(name, default) -> string",
        "A string argument of a tool call.",
        "mcp.Parse(b'{}').GetStringArgument('a', '') == ''",
    )
    .unsupported(MCP),
    member(
        &["GetIntArgument"],
        (2, 2),
        L::Mcp,
        "Request.GetIntArgument(name, default) -> int",
        "An integer argument of a tool call.",
        "mcp.Parse(b'{}').GetIntArgument('a', 0) == 0",
    )
    .unsupported(MCP),
    member(
        &["GetFloatArgument"],
        (2, 2),
        L::Mcp,
        "Request.GetFloatArgument(name, default) -> double",
        "A number argument of a tool call.",
        "mcp.Parse(b'{}').GetFloatArgument('a', 0.0) == 0.0",
    )
    .unsupported(MCP),
    member(
        &["GetBoolArgument"],
        (2, 2),
        L::Mcp,
        "Request.GetBoolArgument(name, default) -> bool",
        "A boolean argument of a tool call.",
        "!mcp.Parse(b'{}').GetBoolArgument('a', false)",
    )
    .unsupported(MCP),
    member(
        &["GetStringSliceArgument"],
        (2, 2),
        L::Mcp,
        "Request.GetStringSliceArgument(name, default) -> list(string)",
        "A list of strings argument of a tool call.",
        "mcp.Parse(b'{}').GetStringSliceArgument('a', []) == []",
    )
    .unsupported(MCP),
    member(
        &["GetIntSliceArgument"],
        (2, 2),
        L::Mcp,
        "Request.GetIntSliceArgument(name, default) -> list(int)",
        "A list of integers argument of a tool call.",
        "mcp.Parse(b'{}').GetIntSliceArgument('a', []) == []",
    )
    .unsupported(MCP),
    member(
        &["GetFloatSliceArgument"],
        (2, 2),
        L::Mcp,
        "Request.GetFloatSliceArgument(name, default) -> list(double)",
        "A list of numbers argument of a tool call.",
        "mcp.Parse(b'{}').GetFloatSliceArgument('a', []) == []",
    )
    .unsupported(MCP),
    member(
        &["GetBoolSliceArgument"],
        (2, 2),
        L::Mcp,
        "Request.GetBoolSliceArgument(name, default) -> list(bool)",
        "A list of booleans argument of a tool call.",
        "mcp.Parse(b'{}').GetBoolSliceArgument('a', []) == []",
    )
    .unsupported(MCP),
];

/// Variables and what they hold, for hover and completion.
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "object",
        "The object of the request (the new object; null for DELETE), or the payload in JSON, Envoy and HTTP modes.",
    ),
    ("oldObject", "The object before the request (UPDATE and DELETE), else null."),
    ("request", "The admission request: operation, userInfo, kind, resource, name, namespace, ..."),
    ("namespaceObject", "The Namespace of the object, for namespaced objects."),
    ("params", "The parameter resource of the binding (or, in Gatekeeper, the constraint's parameters)."),
    ("variables", "The policy's variables, by name."),
    ("authorizer", "Asks the cluster's authorizer about the request's user."),
    ("exceptions", "The PolicyExceptions that match the request (`allowedValues`, `allowedImages`)."),
    ("images", "The images of the object, by container kind."),
    ("attestors", "The policy's attestors, by name."),
    ("attestations", "The policy's attestations, by name."),
    ("resource", "Reads objects of the cluster: resource.get, resource.list."),
    ("generator", "Generates objects: generator.apply."),
    ("globalContext", "Reads GlobalContextEntry data: globalContext.get."),
    ("http", "Calls HTTP services: http.get, http.post."),
    ("image", "Reads image registry data: image.getMetadata."),
    ("json", "Encodes and decodes JSON."),
    ("yaml", "Decodes YAML."),
    ("mcp", "Reads Model Context Protocol requests."),
];

/// The names and libraries one kind of expression sees.
#[derive(Debug, PartialEq, Eq)]
pub struct Environment {
    pub name: &'static str,
    pub variables: &'static [&'static str],
    pub libraries: &'static [Library],
}

/// Kyverno's libraries every CEL policy kind declares besides its own (`createBase*Env` of each compiler).
macro_rules! kyverno_libraries {
    ($resource:expr $(, $extra:expr)*) => {
        &[L::Standard, L::Extensions, L::Bindings, L::Encoders, L::CelMath, L::Protos, L::Regex, L::Kubernetes,
          L::Image, $resource, L::GlobalContext, L::Http,
          L::ImageData, L::Hash, L::KyvernoMath, L::Json, L::Yaml, L::Random, L::Time, L::Transform, L::Gzip
          $(, $extra)*]
    };
}

const POLICY_VARIABLES: &[&str] = &["object", "oldObject", "request", "namespaceObject", "variables", "exceptions"];
const IMAGE_VARIABLES: &[&str] =
    &["object", "oldObject", "request", "namespaceObject", "variables", "images", "attestors", "attestations"];
const AUTHORIZATION_VARIABLES: &[&str] = &["object", "variables"];

/// Kubernetes admission CEL: ValidatingAdmissionPolicy, MutatingAdmissionPolicy, `validate.cel` and
/// `celPreconditions` of ClusterPolicy (Kyverno compiles them with Kubernetes' base environment), and
/// Gatekeeper's K8sNativeValidation.
pub const KUBERNETES_ADMISSION: Environment = Environment {
    name: "Kubernetes admission",
    variables: &["object", "oldObject", "request", "params", "namespaceObject", "variables", "authorizer"],
    libraries: &[L::Standard, L::Extensions, L::Kubernetes, L::TwoVarComprehensions],
};
pub const VALIDATING_POLICY: Environment = Environment {
    name: "ValidatingPolicy",
    variables: POLICY_VARIABLES,
    libraries: kyverno_libraries!(L::Resource, L::User, L::X509, L::TwoVarComprehensions),
};
pub const NAMESPACED_VALIDATING_POLICY: Environment = Environment {
    name: "NamespacedValidatingPolicy",
    variables: POLICY_VARIABLES,
    libraries: kyverno_libraries!(L::NamespacedResource, L::User, L::X509, L::TwoVarComprehensions),
};
pub const MUTATING_POLICY: Environment = Environment {
    name: "MutatingPolicy",
    variables: POLICY_VARIABLES,
    libraries: kyverno_libraries!(L::Resource, L::User, L::X509, L::TwoVarComprehensions),
};
pub const NAMESPACED_MUTATING_POLICY: Environment = Environment {
    name: "NamespacedMutatingPolicy",
    variables: POLICY_VARIABLES,
    libraries: kyverno_libraries!(L::NamespacedResource, L::User, L::X509, L::TwoVarComprehensions),
};
pub const GENERATING_POLICY: Environment = Environment {
    name: "GeneratingPolicy",
    variables: POLICY_VARIABLES,
    libraries: kyverno_libraries!(L::Resource, L::Generator, L::X509),
};
pub const NAMESPACED_GENERATING_POLICY: Environment = Environment {
    name: "NamespacedGeneratingPolicy",
    variables: POLICY_VARIABLES,
    libraries: kyverno_libraries!(L::NamespacedResource, L::Generator, L::X509),
};
pub const DELETING_POLICY: Environment = Environment {
    name: "DeletingPolicy",
    variables: POLICY_VARIABLES,
    libraries: kyverno_libraries!(L::Resource, L::X509),
};
pub const NAMESPACED_DELETING_POLICY: Environment = Environment {
    name: "NamespacedDeletingPolicy",
    variables: POLICY_VARIABLES,
    libraries: kyverno_libraries!(L::NamespacedResource, L::X509),
};
pub const IMAGE_VALIDATING_POLICY: Environment = Environment {
    name: "ImageValidatingPolicy",
    variables: IMAGE_VARIABLES,
    libraries: kyverno_libraries!(L::Resource, L::ImageVerify, L::User, L::TwoVarComprehensions),
};
pub const NAMESPACED_IMAGE_VALIDATING_POLICY: Environment = Environment {
    name: "NamespacedImageValidatingPolicy",
    variables: IMAGE_VARIABLES,
    libraries: kyverno_libraries!(L::NamespacedResource, L::ImageVerify, L::User, L::TwoVarComprehensions),
};
/// A ValidatingPolicy in Envoy mode, run by Kyverno's authorization server (`pkg/cel/env.go`).
pub const ENVOY_POLICY: Environment = Environment {
    name: "ValidatingPolicy in Envoy mode",
    variables: AUTHORIZATION_VARIABLES,
    libraries: &[
        L::Standard,
        L::Extensions,
        L::Bindings,
        L::Encoders,
        L::CelMath,
        L::Protos,
        L::Kubernetes,
        L::Image,
        L::Envoy,
        L::Http,
        L::Jwt,
        L::AuthorizationJson,
        L::Mcp,
        L::Resource,
        L::ImageData,
    ],
};
/// A ValidatingPolicy in HTTP mode, run by Kyverno's authorization server.
pub const HTTP_POLICY: Environment = Environment {
    name: "ValidatingPolicy in HTTP mode",
    variables: AUTHORIZATION_VARIABLES,
    libraries: &[
        L::Standard,
        L::Extensions,
        L::Bindings,
        L::Encoders,
        L::CelMath,
        L::Protos,
        L::Kubernetes,
        L::Image,
        L::HttpAuthorization,
        L::Http,
        L::Jwt,
        L::AuthorizationJson,
        L::Mcp,
        L::Resource,
        L::ImageData,
    ],
};

/// Every environment, for the tests and for names seen anywhere (semantic colouring).
pub const ENVIRONMENTS: &[&Environment] = &[
    &KUBERNETES_ADMISSION,
    &VALIDATING_POLICY,
    &NAMESPACED_VALIDATING_POLICY,
    &MUTATING_POLICY,
    &NAMESPACED_MUTATING_POLICY,
    &GENERATING_POLICY,
    &NAMESPACED_GENERATING_POLICY,
    &DELETING_POLICY,
    &NAMESPACED_DELETING_POLICY,
    &IMAGE_VALIDATING_POLICY,
    &NAMESPACED_IMAGE_VALIDATING_POLICY,
    &ENVOY_POLICY,
    &HTTP_POLICY,
];

/// The environment of a Kyverno CEL policy kind in an evaluation mode (`spec.evaluation.mode`: empty,
/// Kubernetes, JSON, Envoy or HTTP); `None` for kinds that are not CEL policies.
pub fn policy_environment(kind: &str, mode: &str) -> Option<&'static Environment> {
    Some(match (kind, mode) {
        ("ValidatingPolicy", "Envoy") => &ENVOY_POLICY,
        ("ValidatingPolicy", "HTTP") => &HTTP_POLICY,
        ("ValidatingPolicy", _) => &VALIDATING_POLICY,
        ("NamespacedValidatingPolicy", _) => &NAMESPACED_VALIDATING_POLICY,
        ("MutatingPolicy", _) => &MUTATING_POLICY,
        ("NamespacedMutatingPolicy", _) => &NAMESPACED_MUTATING_POLICY,
        ("GeneratingPolicy", _) => &GENERATING_POLICY,
        ("NamespacedGeneratingPolicy", _) => &NAMESPACED_GENERATING_POLICY,
        ("DeletingPolicy", _) => &DELETING_POLICY,
        ("NamespacedDeletingPolicy", _) => &NAMESPACED_DELETING_POLICY,
        ("ImageValidatingPolicy", _) => &IMAGE_VALIDATING_POLICY,
        ("NamespacedImageValidatingPolicy", _) => &NAMESPACED_IMAGE_VALIDATING_POLICY,
        ("ValidatingAdmissionPolicy" | "MutatingAdmissionPolicy", _) => &KUBERNETES_ADMISSION,
        _ => return None,
    })
}

impl Environment {
    pub fn has(&self, library: Library) -> bool {
        self.libraries.contains(&library)
    }

    /// The functions this environment declares.
    pub fn functions(&self) -> impl Iterator<Item = &'static Function> + '_ {
        FUNCTIONS.iter().filter(|function| self.has(function.library))
    }

    /// Every variable in scope: the kind's own and those its libraries declare.
    pub fn all_variables(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = self.variables.to_vec();
        for library in self.libraries {
            if let Some(variable) = library.variable()
                && !out.contains(&variable)
            {
                out.push(variable);
            }
        }
        out
    }

    pub fn declares_variable(&self, name: &str) -> bool {
        self.variables.contains(&name) || self.libraries.iter().any(|library| library.variable() == Some(name))
    }

    /// The library that declares `variable` for its member functions, in this environment.
    pub fn library_of_variable(&self, variable: &str) -> Option<Library> {
        self.libraries.iter().copied().find(|library| library.variable() == Some(variable))
    }

    /// A global function by its (possibly qualified) name.
    pub fn global(&self, name: &str) -> Option<&'static Function> {
        self.globals(name).next()
    }

    /// Every global function of that name: overloads in several libraries (`math.round`).
    pub fn globals(&self, name: &str) -> impl Iterator<Item = &'static Function> + '_ {
        let name = name.to_string();
        self.functions()
            .filter(move |function| function.call == Call::Global && function.names.contains(&name.as_str()))
    }

    /// A function of the library behind `variable` (`resource` + `get`).
    pub fn on_variable(&self, variable: &str, name: &str) -> Option<&'static Function> {
        let library = self.library_of_variable(variable)?;
        FUNCTIONS.iter().find(|function| {
            function.library == library && function.call == Call::Library && function.names.contains(&name)
        })
    }

    /// The member functions called `name` on any receiver (library receivers included: what a library
    /// function returns may offer them, as `http.client(ca).get(url)` does).
    pub fn members(&self, name: &str) -> impl Iterator<Item = &'static Function> + '_ {
        let name = name.to_string();
        self.functions()
            .filter(move |function| function.call != Call::Global && function.names.contains(&name.as_str()))
    }

    /// The namespaces of qualified functions (`sets`, `math`, ...) and library variables, for completion.
    pub fn namespaces(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for function in self.functions().filter(|function| function.call == Call::Global) {
            if let Some((namespace, _)) = function.name().rsplit_once('.')
                && !out.contains(&namespace)
            {
                out.push(namespace);
            }
        }
        out
    }
}

/// The function the interpreter calls for a qualified call `namespace.name(...)` whose namespace is not a
/// value: a qualified global (`sets.contains`) or a library variable's function (`resource.Get`). Looked
/// up across every library, since the interpreter serves every environment.
pub fn qualified_function(namespace: &str, name: &str) -> Option<&'static Function> {
    let qualified = format!("{namespace}.{name}");
    FUNCTIONS.iter().find(|function| match function.call {
        Call::Global => function.names.contains(&qualified.as_str()),
        Call::Library => function.library.variable() == Some(namespace) && function.names.contains(&name),
        Call::Member => false,
    })
}

/// The name the interpreter dispatches on for a qualified call: `resource.Get` becomes `resource.get`.
pub fn dispatch_name(namespace: &str, function: &Function) -> String {
    match function.call {
        Call::Library => format!("{namespace}.{}", function.name()),
        _ => function.name().to_string(),
    }
}

/// Why a function is not evaluated offline, looked up by the name a call used.
pub fn unsupported_reason(name: &str) -> Option<&'static str> {
    FUNCTIONS.iter().find_map(|function| match function.offline {
        Offline::Unsupported(reason)
            if function.names.contains(&name)
                || function.library.variable().is_some_and(|variable| {
                    name.strip_prefix(variable)
                        .and_then(|rest| rest.strip_prefix('.'))
                        .is_some_and(|rest| function.names.contains(&rest))
                }) =>
        {
            Some(reason)
        }
        _ => None,
    })
}

/// Every variable name of every environment (for colouring).
pub fn is_known_variable(name: &str) -> bool {
    VARIABLES.iter().any(|(known, _)| *known == name)
}

/// Whether any library declares a function of that name (for colouring).
pub fn is_known_function(name: &str) -> bool {
    FUNCTIONS.iter().any(|function| {
        function
            .names
            .iter()
            .any(|known| *known == name || known.rsplit_once('.').is_some_and(|(_, last)| last == name))
    })
}

#[cfg(test)]
mod tests;
