//! The message for a deprecated field. The bundled schemas mark a field deprecated from its CRD or
//! OpenAPI description, and the description is the only advice they carry; where that advice contradicts
//! itself (Kyverno's policy-level fields say "use validationFailureAction under the validate rule" for
//! `validationFailureAction`, while the rule's field is `failureAction`), the replacement is named here.

/// Kyverno policy `spec` fields that moved into each rule or into `webhookConfiguration`, with where they
/// live now, as kyverno's api/kyverno/v1/spec_types.go and rule_types.go declare them.
const KYVERNO_MOVED_FIELDS: &[(&str, &str)] = &[
    ("validationFailureAction", "set `validate.failureAction` in each rule instead"),
    ("validationFailureActionOverrides", "set `validate.failureActionOverrides` in each rule instead"),
    ("generateExisting", "set `generate.generateExisting` in each rule instead"),
    ("generateExistingOnPolicyUpdate", "set `generate.generateExisting` in each rule instead"),
    ("mutateExistingOnPolicyUpdate", "set `mutate.mutateExistingOnPolicyUpdate` in each rule instead"),
    ("failurePolicy", "set `webhookConfiguration.failurePolicy` instead"),
    ("webhookTimeoutSeconds", "set `webhookConfiguration.timeoutSeconds` instead"),
];

/// Kyverno's phrasing for the moved fields, which is what tells them apart from fields of the same name
/// elsewhere (a webhook's own `failurePolicy` is not deprecated).
const KYVERNO_MOVED_PHRASE: &str = "Deprecated, use ";

/// "`name` is deprecated", with the advice of the description: the named replacement for Kyverno's moved
/// fields, otherwise the description's deprecation sentence (not its opening, which often only says what
/// the field is).
pub fn deprecation_message(name: &str, description: &str) -> String {
    if description.starts_with(KYVERNO_MOVED_PHRASE)
        && let Some((_, advice)) = KYVERNO_MOVED_FIELDS.iter().find(|(field, _)| *field == name)
    {
        return format!("`{name}` is deprecated: {advice}");
    }
    let first_line = description.split_terminator('\n').next().unwrap_or("").trim();
    // The deprecation notice inside a longer description ("awsElasticBlockStore represents ... Deprecated:
    // AWSElasticBlockStore is deprecated. ..."), without its own "Deprecated" label, which the message says.
    let notice = first_line.find("Deprecated").map_or(first_line, |start| &first_line[start..]);
    let advice =
        notice.strip_prefix("Deprecated").map_or(notice, |rest| rest.trim_start_matches([':', '.', ',']).trim_start());
    if advice.is_empty() {
        format!("`{name}` is deprecated")
    } else {
        let mut characters = advice.chars();
        let first = characters.next().map(|character| character.to_uppercase().to_string()).unwrap_or_default();
        format!("`{name}` is deprecated: {first}{}", characters.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::deprecation_message;

    fn check(name: &str, description: &str, expect: &str) {
        assert_eq!(deprecation_message(name, description), expect);
    }

    #[test]
    fn kyverno_moved_fields_name_their_new_place() {
        check(
            "validationFailureAction",
            "Deprecated, use validationFailureAction under the validate rule instead.",
            "`validationFailureAction` is deprecated: set `validate.failureAction` in each rule instead",
        );
        check(
            "webhookTimeoutSeconds",
            "Deprecated, use webhookTimeoutSeconds under webhookConfiguration instead.",
            "`webhookTimeoutSeconds` is deprecated: set `webhookConfiguration.timeoutSeconds` instead",
        );
    }

    #[test]
    fn other_fields_keep_the_advice_of_their_description() {
        check(
            "image",
            "Deprecated. Use ImageReferences instead.",
            "`image` is deprecated: Use ImageReferences instead.",
        );
        check(
            "cephfs",
            "cephFS represents a Ceph FS mount. Deprecated: CephFS is deprecated and no longer supported.\nMore",
            "`cephfs` is deprecated: CephFS is deprecated and no longer supported.",
        );
        check("schemaValidation", "Deprecated.", "`schemaValidation` is deprecated");
        check("selfLink", "", "`selfLink` is deprecated");
        check(
            "failurePolicy",
            "A webhook's own failure policy.",
            "`failurePolicy` is deprecated: A webhook's own failure policy.",
        );
    }
}
