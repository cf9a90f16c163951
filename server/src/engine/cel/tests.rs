//! Tests of the CEL engine: evaluation semantics, the libraries, the step budget and the compile checks.

use serde_json::{Value, json};

use super::{Activation, Program, Services, Val};

/// Evaluates `source` with the top-level keys of `variables` bound, and renders the value or the error.
fn render(source: &str, variables: Value, services: &Services) -> String {
    let mut activation = Activation::new();
    if let Value::Object(map) = &variables {
        for (name, value) in map {
            activation.bind_json(name, value);
        }
    }
    match Program::compile(source) {
        Ok(program) => match program.evaluate(&activation, services) {
            Ok(Val::String(text)) => format!("{text:?}"),
            Ok(value) => value.display(),
            Err(error) => format!("error: {error}"),
        },
        Err(errors) => format!("compile error: {}", errors[0].message),
    }
}

fn check(source: &str, variables: Value, expect: &str) {
    assert_eq!(render(source, variables, &Services::default()), expect, "{source}");
}

fn check_with(source: &str, services: &Services, expect: &str) {
    assert_eq!(render(source, json!({}), services), expect, "{source}");
}

/// Compile checks in a ValidatingPolicy: each finding as `line:column message`.
fn check_diagnostics(source: &str, expect: &[&str]) {
    let found: Vec<String> = match Program::compile_checked(source, &super::catalog::VALIDATING_POLICY) {
        Ok(_) => Vec::new(),
        Err(errors) => {
            errors.iter().map(|error| format!("{}:{} {}", error.line, error.column, error.message)).collect()
        }
    };
    assert_eq!(found, expect, "{source}");
}

#[test]
fn optional_chaining_and_or_value() {
    let pod = json!({"object": {"spec": {"containers": [{"name": "a", "securityContext": {"runAsNonRoot": true}}]}}});
    check("object.spec.?initContainers.orValue([]).size()", pod.clone(), "0");
    check("object.spec.containers[0].?securityContext.?runAsNonRoot.orValue(false)", pod.clone(), "true");
    check("object.spec.containers[0].?securityContext.?privileged.orValue(false)", pod.clone(), "false");
    check("object.spec.?missing.deeper.orValue(1)", pod.clone(), "1");
    check("object.spec.containers[?3].hasValue()", pod.clone(), "false");
    // cel-go hands a receiver that is not optional back from orValue unchanged.
    check("object.spec.containers.orValue([]).size()", pod.clone(), "1");
    check("optional.of(1).value() + optional.none().orValue(2)", json!({}), "3");
    check("[?optional.none(), ?optional.of(2)]", json!({}), "[2]");
    check("{?'a': optional.none(), 'b': 1}", json!({}), "{\"b\": 1}");
    check("optional.of(2).optMap(x, x * 3).value()", json!({}), "6");
    check("optional.none().value()", json!({}), "error: optional.none() dereference");
}

#[test]
fn field_selection_and_has() {
    let object = json!({"object": {"metadata": {"labels": {"app": "web"}, "annotations": null}}});
    check("has(object.metadata.labels)", object.clone(), "true");
    check("has(object.metadata.namespace)", object.clone(), "false");
    check("has(object.metadata.annotations)", object.clone(), "true");
    check("object.metadata.namespace", object.clone(), "error: no such key: namespace");
    check("object.metadata.labels['app']", object.clone(), "\"web\"");
    check("'app' in object.metadata.labels", object, "true");
    check("unknown.field", json!({}), "error: undeclared reference to 'unknown.field'");
}

#[test]
fn logic_absorbs_errors_like_cel_go() {
    check("false && (1 / 0 == 1)", json!({}), "false");
    check("(1 / 0 == 1) || true", json!({}), "true");
    check("(1 / 0 == 1) && true", json!({}), "error: division by zero");
    check("[1, 0].all(x, 1 / x > 0)", json!({}), "error: division by zero");
    check("[0, 1].all(x, x > 0 && 1 / x > 0)", json!({}), "false");
    check("[0, 2].exists(x, 4 / x == 2)", json!({}), "true");
    check("true ? 1 : 1 / 0", json!({}), "1");
}

#[test]
fn comprehensions() {
    check("[1, 2, 3].map(x, x * 2)", json!({}), "[2, 4, 6]");
    check("[1, 2, 3].map(x, x > 1, x * 10)", json!({}), "[20, 30]");
    check("[1, 2, 3].filter(x, x % 2 == 1)", json!({}), "[1, 3]");
    check("[1, 2, 3].exists_one(x, x == 2)", json!({}), "true");
    check("{'a': 1, 'b': 2}.all(k, k.size() == 1)", json!({}), "true");
    check("{'a': 1, 'b': 2}.filter(k, k == 'b')", json!({}), "[\"b\"]");
    check("[10, 20].all(i, v, v == (i + 1) * 10)", json!({}), "true");
    check("{'a': 1, 'b': 2}.exists(k, v, k == 'b' && v == 2)", json!({}), "true");
    check("[1, 2].transformList(i, v, v * i)", json!({}), "[0, 2]");
    check("{'a': 1}.transformMap(k, v, v + 1)", json!({}), "{\"a\": 2}");
    check("{'a': 1}.transformMapEntry(k, v, {v: k})", json!({}), "{1: \"a\"}");
    check("cel.bind(x, 3, x * x)", json!({}), "9");
    check("[3, 1, 2].sortBy(x, -x)", json!({}), "[3, 2, 1]");
}

#[test]
fn strings_and_lists() {
    check("'a,b,,c'.split(',')", json!({}), "[\"a\", \"b\", \"\", \"c\"]");
    check("'a,b,c'.split(',', 2)", json!({}), "[\"a\", \"b,c\"]");
    check("'Hello'.lowerAscii() + 'x'.upperAscii()", json!({}), "\"helloX\"");
    check("'  pad '.trim()", json!({}), "\"pad\"");
    check("'banana'.replace('a', 'o', 2)", json!({}), "\"bonona\"");
    check("'banana'.indexOf('na') + 'banana'.lastIndexOf('na')", json!({}), "6");
    check("'résumé'.substring(1, 3) + 'résumé'.charAt(5)", json!({}), "\"ésé\"");
    check("['a', 'b'].join('-')", json!({}), "\"a-b\"");
    check("'%s has %d items'.format(['cart', 3])", json!({}), "\"cart has 3 items\"");
    check("'image:v1.2'.matches('^[a-z]+:v[0-9.]+$')", json!({}), "true");
    check("'abc123def'.find('[0-9]+') + 'a1b22'.findAll('[0-9]+').join()", json!({}), "\"123122\"");
    check("[3, 1, 2].sort() + [1, 1, 2].distinct()", json!({}), "[1, 2, 3, 1, 2]");
    check("[[1], [2, [3]]].flatten()", json!({}), "[1, 2, [3]]");
    check("[1, 2, 3].isSorted() && [1, 2, 3].sum() == 6 && [4, 9].max() == 9", json!({}), "true");
    check("[1, 2, 3].slice(1, 3).reverse()", json!({}), "[3, 2]");
    check("lists.range(3)", json!({}), "[0, 1, 2]");
    check(
        "sets.contains([1, 2, 3], [2]) && sets.intersects([1], [1, 4]) && sets.equivalent([1, 2], [2, 1])",
        json!({}),
        "true",
    );
    check("'abc'.size() + size([1]) + size({'a': 1})", json!({}), "5");
    check("int('42') + int(2.9) + int(true)", json!({}), "45");
    check("string(1) + string(1.5) + string(true)", json!({}), "\"11.5true\"");
    check("1 == 1.0 && 2u > 1 && 1 < 1.5", json!({}), "true");
    check("1 + 1u", json!({}), "error: no matching overload for '_+_' applied to '(int, uint)'");
    check("9223372036854775807 + 1", json!({}), "error: integer overflow");
    check("type(1) == int && type('a') == string", json!({}), "true");
    check("math.greatest(1, 5, 3) + math.least([4, 2])", json!({}), "7");
    check("base64.decode(base64.encode(b'hi')) == b'hi'", json!({}), "true");
}

#[test]
fn kubernetes_libraries() {
    check("quantity('500m').isLessThan(quantity('1')) && quantity('1Gi').asInteger() == 1073741824", json!({}), "true");
    check("quantity('1.5').add(quantity('500m')).compareTo(quantity('2'))", json!({}), "0");
    check("isQuantity('12x') || isQuantity('')", json!({}), "false");
    check("quantity('250m').asApproximateFloat()", json!({}), "0.25");
    check(
        "url('https://example.com:8443/a/b?x=1&x=2').getPort() + url('https://example.com/a').getHostname()",
        json!({}),
        "\"8443example.com\"",
    );
    check("url('https://example.com/?x=1&x=2').getQuery()['x']", json!({}), "[\"1\", \"2\"]");
    check("isURL('not a url')", json!({}), "false");
    check("ip('10.0.0.1').family() == 4 && ip('::1').isLoopback() && isIP('1.2.3') == false", json!({}), "true");
    check(
        "cidr('10.0.0.0/8').containsIP('10.1.2.3') && !cidr('10.0.0.0/8').containsIP(ip('11.0.0.1'))",
        json!({}),
        "true",
    );
    check(
        "cidr('192.168.1.5/24').masked().string() + ' ' + string(cidr('10.0.0.0/16').prefixLength())",
        json!({}),
        "\"192.168.1.0/24 16\"",
    );
    check("semver('1.2.3').isLessThan(semver('1.10.0')) && semver('2.0.0-rc.1').major() == 2", json!({}), "true");
    check("isSemver('1.2') || isSemver('01.2.3')", json!({}), "false");
    // Normalization drops `v` and leading zeros and fills in the minor and patch.
    check(
        "isSemver('v1.2', true) && semver('v01.2', true) == semver('1.2.0') && sign(quantity('-2')) == -1",
        json!({}),
        "true",
    );
    check("isSemver('1.2-rc.1', true)", json!({}), "false");
    check("format.named('dns1123Label').value().validate('Bad_Name').hasValue()", json!({}), "true");
    check("jsonpatch.escapeKey('a/b~c')", json!({}), "\"a~1b~0c\"");
    check("duration('1h30m') == duration('90m') && duration('1.5s') > duration('1s')", json!({}), "true");
    check("timestamp('2024-01-02T03:04:05Z') + duration('1h') > timestamp('2024-01-02T04:00:00Z')", json!({}), "true");
    check("timestamp('2024-03-05T00:00:00Z').getFullYear()", json!({}), "2024");
}

#[test]
fn kyverno_libraries_are_served_offline() {
    let services = Services {
        policy_namespace: String::new(),
        cluster_objects: vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "platform"}, "data": {"k": "v"}}),
        ],
        image_data: serde_json::from_value(json!({"ghcr.io/a/b:1": {"manifest": {"annotations": {"base": "x"}}}}))
            .unwrap_or_default(),
        global_context: serde_json::from_value(json!({"regions": {"eu": ["a"]}})).unwrap_or_default(),
        http_mocks: vec![("GET".to_string(), "https://api.example/x".to_string(), json!({"ok": true}))],
        now: None,
        offline_gaps: Default::default(),
        live_cluster: false,
    };
    check_with("resource.Get('v1', 'configmaps', 'platform', 'cm').data.k", &services, "\"v\"");
    check_with("resource.List('v1', 'configmaps', 'platform').items.size()", &services, "1");
    check_with(
        "resource.Get('v1', 'configmaps', 'platform', 'nope')",
        &services,
        "error: configmaps \"nope\" not found",
    );
    check_with("image.GetMetadata('ghcr.io/a/b:1').manifest.annotations.base", &services, "\"x\"");
    check_with("globalContext.Get('regions', 'eu')", &services, "[\"a\"]");
    check_with("http.Get('https://api.example/x').ok", &services, "true");
    assert_eq!(services.offline_gaps.first(), None);
    check_with(
        "http.Get('https://elsewhere/')",
        &services,
        "error: http.get \"https://elsewhere/\" needs the network: mock it under the test's apiCallResponses",
    );
    // The gap is recorded where the caller that builds the result can see it: not known offline.
    assert_eq!(
        services.offline_gaps.first().as_deref(),
        Some("http.get \"https://elsewhere/\" needs the network: mock it under the test's apiCallResponses")
    );
    check_with("json.unmarshal('{\"a\": [1]}').a[0] + yaml.parse('b: 2').b", &services, "3");
    check_with(
        "image('nginx').registry() + ' ' + image('nginx').repository() + ' ' + image('corp.io/app:v1').tag()",
        &services,
        "\"index.docker.io library/nginx v1\"",
    );
    check_with("parseServiceAccount('system:serviceaccount:ns:sa').Name", &services, "\"sa\"");
    // Without a time from the front end, time.now() is a fixed date so results are reproducible.
    check_with(
        "time.now() > timestamp('2025-01-01T00:00:00Z') && time.now() - duration('4380h') > timestamp('2020-05-01T00:00:00Z')",
        &services,
        "true",
    );
}

#[test]
fn the_step_budget_stops_runaway_expressions() {
    let expression = "lists.range(400).all(a, lists.range(400).all(b, lists.range(400).all(c, a + b + c >= 0)))";
    let program = Program::compile(expression).expect("the expression parses");
    let outcome = program.evaluate_with_budget(&Activation::new(), &Services::default(), 100_000);
    assert!(matches!(&outcome, Err(message) if message.contains("cost limit")), "{outcome:?}");
}

#[test]
fn compile_checks_report_line_and_column() {
    check_diagnostics(
        "object.spec.x == 1 &&\n  obejct.metadata.name == 'a'",
        &["2:3 undeclared reference to 'obejct'"],
    );
    check_diagnostics("object.name.startsWth('a')", &["1:13 undeclared reference to 'startsWth'"]);
    check_diagnostics("size(object, 1) > 0", &["1:1 'size' takes 1 argument(s), found 2"]);
    check_diagnostics("object.items.all(item, item.x > 0) && variables.v", &[]);
    check_diagnostics(
        "object.a +",
        &[
            "1:11 Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}",
        ],
    );
    check_diagnostics("nosuch.fn(1)", &["1:1 undeclared reference to 'nosuch'", "1:8 undeclared reference to 'fn'"]);
    check_diagnostics("object.a )", &["1:10 Syntax error: extraneous input ')' expecting <EOF>"]);
}

#[test]
fn format_verbs_follow_cel_go_for_exponents_non_finite_numbers_bytes_and_collections() {
    check("'%.6e'.format([1052.032911275])", json!({}), "\"1.052033e+03\"");
    check("'%e'.format([0.00012])", json!({}), "\"1.200000e-04\"");
    check(
        "'%e %f %d'.format([double('Infinity'), double('-Infinity'), double('NaN')])",
        json!({}),
        "\"Infinity -Infinity NaN\"",
    );
    check("'%d'.format([1.5])", json!({}), "error: format: %d needs an integer, got double");
    check("'%b %b %o'.format([true, false, uint(8)])", json!({}), "\"1 0 10\"");
    check("'%x %X'.format([b'\\x01z', b'z'])", json!({}), "\"017a 7A\"");
    // %s prints strings bare inside collections and sorts map entries by their key's text.
    check("'%s'.format([['a', 1.5, null]])", json!({}), "\"[a, 1.5, null]\"");
    check("'%s'.format([{'b': 'x', 2: 'y', true: double('NaN')}])", json!({}), "\"{2: y, b: x, true: NaN}\"");
}

#[test]
fn strings_quote_writes_c_escapes() {
    check("strings.quote('a\\a\\b\\f\\v\\t\"\\\\')", json!({}), r#""\"a\\a\\b\\f\\v\\t\\\"\\\\\"""#);
    check("strings.quote('\\x01é😀')", json!({}), r#""\"\\x01é😀\"""#);
}

#[test]
fn timestamps_stay_between_years_one_and_9999() {
    check("timestamp('0001-01-01T00:00:00Z') == timestamp(-62135596800)", json!({}), "true");
    check(
        "timestamp('0000-12-31T00:00:00Z')",
        json!({}),
        "error: timestamp out of range: CEL timestamps lie between years 0001 and 9999",
    );
    check(
        "timestamp(253402300800)",
        json!({}),
        "error: timestamp out of range: CEL timestamps lie between years 0001 and 9999",
    );
    check(
        "timestamp('9999-12-31T23:59:59.999999999Z') + duration('1ns')",
        json!({}),
        "error: timestamp out of range: CEL timestamps lie between years 0001 and 9999",
    );
    check(
        "timestamp('0001-01-01T00:00:01Z') - duration('2s')",
        json!({}),
        "error: timestamp out of range: CEL timestamps lie between years 0001 and 9999",
    );
}

#[test]
fn dotted_names_resolve_to_the_longest_bound_prefix() {
    check("a.b.c", json!({"a.b.c": "whole", "a.b": {"c": "prefix"}, "a": {"b": {"c": "root"}}}), "\"whole\"");
    check("a.b.c", json!({"a.b": {"c": "prefix"}, "a": {"b": {"c": "root"}}}), "\"prefix\"");
    check("a.b.c", json!({"a": {"b": {"c": "root"}}}), "\"root\"");
    check("a.b.c", json!({"x": 1}), "error: undeclared reference to 'a.b.c'");
    check("[1].exists(a, a.b == 1)", json!({"a.b": 1}), "error: type 'int' does not support field selection");
}

#[test]
fn optional_of_null_and_the_optional_type() {
    check("{'k': dyn(null)}.?k.missing.hasValue()", json!({}), "error: no such key: missing");
    check("{'k': dyn(null)}.?k.?missing.hasValue()", json!({}), "false");
    check("type(optional.none()) == optional_type", json!({}), "true");
}

#[test]
fn timestamp_accessors_take_iana_zone_names_with_their_offset_at_that_instant() {
    check("timestamp('2009-02-13T23:31:30Z').getDate('Australia/Sydney')", json!({}), "14");
    check("timestamp('2009-02-13T23:31:30Z').getMinutes('Asia/Kathmandu')", json!({}), "16");
    // Daylight saving: Paris is one hour ahead of UTC in January, two in July.
    check("timestamp('2024-01-15T12:00:00Z').getHours('Europe/Paris')", json!({}), "13");
    check("timestamp('2024-07-15T12:00:00Z').getHours('Europe/Paris')", json!({}), "14");
    check("timestamp('2024-07-15T12:00:00Z').getHours('-02:30')", json!({}), "9");
    check(
        "timestamp('2024-07-15T12:00:00Z').getHours('Mars/Olympus')",
        json!({}),
        "error: unknown time zone \"Mars/Olympus\": not UTC, an offset or an IANA name",
    );
}

/// JSON integers reach CEL as int64, exactly: 2^53+1 is not 2^53, and arithmetic stays integral.
#[test]
fn json_integers_are_int64_past_two_to_the_53() {
    let big: Value = serde_json::from_str(r#"{"n": 9007199254740993, "f": 1.5}"#).expect("JSON");
    check("n == 9007199254740992", big.clone(), "false");
    check("n == 9007199254740993", big.clone(), "true");
    check("n + 1", big.clone(), "9007199254740994");
    check("type(n) == int && type(f) == double", big, "true");
}

/// quantity() and duration() hold apimachinery's and Go's exact integers (nano-units, nanoseconds).
#[test]
fn quantities_and_durations_are_exact_integers() {
    check("quantity('9007199254740993').compareTo(quantity('9007199254740992'))", json!({}), "1");
    check("quantity('9007199254740993').asInteger()", json!({}), "9007199254740993");
    // ParseQuantity caps binary amounts at 2^63-1 and rounds sub-nano amounts up to one nano-unit.
    check("quantity('16Ei').asInteger()", json!({}), "9223372036854775807");
    // Decimal amounts are not capped; the CEL quantity here holds an i128 of nano-units and says so (the
    // evaluation records an offline gap, so a result built on it is unsupported), while `isQuantity`
    // answers as Kubernetes' parser does.
    check("quantity('1e100')", json!({}), "error: quantity \"1e100\" is out of range");
    check("isQuantity('1e100')", json!({}), "true");
    check("isQuantity('1e100x')", json!({}), "false");
    let services = Services::default();
    check_with("quantity('1e100')", &services, "error: quantity \"1e100\" is out of range");
    assert_eq!(
        services.offline_gaps.first().as_deref(),
        Some("quantity(\"1e100\") is beyond the range evaluated here")
    );
    // A malformed quantity is the policy's error, not a gap.
    let services = Services::default();
    check_with(
        "quantity('1x')",
        &services,
        "error: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': \"1x\"",
    );
    assert_eq!(services.offline_gaps.first(), None);
    check("quantity('1e-100').isGreaterThan(quantity('0'))", json!({}), "true");
    check("duration('9007199254740993ns') - duration('9007199254740992ns') == duration('1ns')", json!({}), "true");
    check("duration('2562047h47m16.854775807s') == duration('9223372036854775807ns')", json!({}), "true");
    check("duration('2562048h')", json!({}), "error: time: invalid duration \"2562048h\" (out of range)");
}

/// kyverno/sdk's gzip library: decompress reads every member of a gzip stream; compress would need Go's
/// own deflate encoder to give the same bytes, so it is reported unsupported.
#[test]
fn gzip_decompress_reads_go_gzip_streams() {
    check("gzip.decompress(base64.decode('H4sIAAAAAAACA0tMSgYAwkEkNQMAAAA='))", json!({}), "\"abc\"");
    // Two members concatenated: Go's reader is multistream by default.
    check(
        "gzip.decompress(base64.decode('H4sIAAAAAAACA0tMSgYAwkEkNQMAAAA=') + base64.decode('H4sIAAAAAAACA0tJTQMAYeHEDAMAAAA='))",
        json!({}),
        "\"abcdef\"",
    );
    check("gzip.decompress(b'')", json!({}), "error: gzip: invalid header");
    check("gzip.decompress(b'abc')", json!({}), "error: gzip: invalid header");
}

/// The HTTP authorization mode's request accessors: `Header` canonicalizes the name as Go's
/// `textproto.CanonicalMIMEHeaderKey` does, `QueryParam` does not; absent names give an empty list.
#[test]
fn http_request_accessors_follow_go_header_canonicalization() {
    let request = json!({"attributes": {
        "header": {"X-Request-Id": ["a", "b"], "x_odd key": ["kept"]},
        "query": {"Page": ["2"]}
    }});
    check("request.attributes.Header('x-request-id')", json!({"request": request.clone()}), "[\"a\", \"b\"]");
    check("request.attributes.Header('X-REQUEST-ID')", json!({"request": request.clone()}), "[\"a\", \"b\"]");
    // A space is not a token byte: the name is looked up unchanged.
    check("request.attributes.Header('x_odd key')", json!({"request": request.clone()}), "[\"kept\"]");
    check("request.attributes.Header('absent')", json!({"request": request.clone()}), "[]");
    check("request.attributes.QueryParam('Page')", json!({"request": request.clone()}), "[\"2\"]");
    check("request.attributes.QueryParam('page')", json!({"request": request}), "[]");
}
