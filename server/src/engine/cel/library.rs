//! Kubernetes CEL libraries (quantity, url, ip, cidr, semver, format, jsonpatch, time) and Kyverno's
//! (resource, image data, http, globalContext, json, yaml, image references), all answered offline.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;

use super::activation::Services;
use super::runtime::{EvalResult, Interpreter};
use super::value::{Numeric, Object, Val, numeric, values_equal};
use crate::engine::digest::{self, hex};

use crate::engine::units::NANO;

fn object(value: Object) -> Val {
    Val::Object(Arc::new(value))
}

/// Global library functions; `None` when the name and arguments match nothing here.
pub fn call_global(interpreter: &Interpreter, name: &str, args: &[Val]) -> Option<EvalResult> {
    if let Some(result) = super::authorization::call_global(interpreter, name, args) {
        return Some(result);
    }
    let services = interpreter.services;
    Some(match (name, args) {
        ("quantity", [Val::String(text)]) => {
            crate::engine::units::parse_quantity(text).and_then(|quantity| match quantity.nano() {
                Some(nano) => Ok(object(Object::Quantity { text: text.to_string(), nano })),
                None => {
                    // Kubernetes holds any decimal amount; past an i128 of nano-units this interpreter
                    // cannot, so what rests on it is not known here (not a policy error).
                    services.offline_gaps.note(format!("quantity({text:?}) is beyond the range evaluated here"));
                    Err(format!("quantity {text:?} is out of range"))
                }
            })
        }
        // `quantity_sign` is a global overload: `sign(q)`, not `q.sign()`.
        ("sign", [Val::Object(inner)]) if matches!(inner.as_ref(), Object::Quantity { .. }) => match inner.as_ref() {
            Object::Quantity { nano, .. } => Ok(Val::Int(nano.signum() as i64)),
            _ => return None,
        },
        // Whether Kubernetes parses it, whatever its size.
        ("isQuantity", [Val::String(text)]) => Ok(Val::Bool(crate::engine::units::parse_quantity(text).is_ok())),
        ("url", [Val::String(text)]) => parse_url(text).map(object),
        ("isURL", [Val::String(text)]) => Ok(Val::Bool(parse_url(text).is_ok())),
        ("ip", [Val::String(text)]) => parse_ip(text).map(|address| object(Object::Ip(address))),
        ("isIP", [Val::String(text)]) => Ok(Val::Bool(parse_ip(text).is_ok())),
        ("ip.isCanonical", [Val::String(text)]) => match parse_ip(text) {
            Ok(address) => Ok(Val::Bool(address.to_string() == text.as_ref())),
            Err(error) => Err(error),
        },
        ("cidr", [Val::String(text)]) => parse_cidr(text).map(object),
        ("isCIDR", [Val::String(text)]) => Ok(Val::Bool(parse_cidr(text).is_ok())),
        ("semver", [Val::String(text)]) => parse_semver(text).map(object),
        ("isSemver", [Val::String(text)]) => Ok(Val::Bool(parse_semver(text).is_ok())),
        // The second argument asks for normalization first (`normalizeAndParse`).
        ("semver", [Val::String(text), Val::Bool(normalize)]) => {
            semver_text(text, *normalize).and_then(|text| parse_semver(&text)).map(object)
        }
        ("isSemver", [Val::String(text), Val::Bool(normalize)]) => {
            Ok(Val::Bool(semver_text(text, *normalize).and_then(|text| parse_semver(&text)).is_ok()))
        }
        ("format.named", [Val::String(format)]) => Ok(if KNOWN_FORMATS.contains(&format.as_ref()) {
            Val::Optional(Some(Arc::new(object(Object::Format(format.to_string())))))
        } else {
            Val::Optional(None)
        }),
        (named, []) if named.strip_prefix("format.").is_some_and(|format| KNOWN_FORMATS.contains(&format)) => {
            Ok(object(Object::Format(named.trim_start_matches("format.").to_string())))
        }
        ("jsonpatch.escapeKey", [Val::String(key)]) => Ok(Val::string(key.replace('~', "~0").replace('/', "~1"))),
        ("base64.encode", [Val::Bytes(bytes)]) => {
            Ok(Val::string(base64::engine::general_purpose::STANDARD.encode(bytes)))
        }
        ("base64.decode", [Val::String(text)]) => base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.as_bytes()))
            .map(|bytes| Val::Bytes(bytes.into()))
            .map_err(|error| format!("base64 decode: {error}")),
        ("image" | "parseImageReference", [Val::String(text)]) => parse_image(text).map(object),
        ("isImage", [Val::String(text)]) => Ok(Val::Bool(parse_image(text).is_ok())),
        ("resource.get", _) => resource_get(services, args),
        ("resource.list", _) => resource_list(services, args),
        ("resource.toGVR", [Val::String(api_version), Val::String(resource)]) => Ok(Val::map(vec![
            (Val::string("apiVersion"), Val::String(api_version.clone())),
            (Val::string("resource"), Val::String(resource.clone())),
        ])),
        ("image.getMetadata", [Val::String(reference)]) => match services.image_data.get(reference.as_ref()) {
            Some(data) => Ok(Val::from_json(data)),
            None => {
                let reason = format!(
                    "image.GetMetadata({reference:?}) needs registry access: give the image's data in the test's \
                     context file"
                );
                services.offline_gaps.note(reason.clone());
                Err(reason)
            }
        },
        ("globalContext.get", [Val::String(name), _, ..]) | ("globalContext.get", [Val::String(name)])
            if services.live_cluster && !services.global_context.contains_key(name.as_ref()) =>
        {
            let reason = format!(
                "globalContext.Get({name:?}) reads a global context entry of the cluster, which is not known here"
            );
            services.offline_gaps.note(reason.clone());
            Err(reason)
        }
        ("globalContext.get", [Val::String(name), rest @ ..]) if rest.len() <= 1 => {
            let projection = match rest {
                [Val::String(projection)] => projection.as_ref(),
                _ => "",
            };
            match services.global_context.get(name.as_ref()) {
                Some(data) if projection.is_empty() => Ok(Val::from_json(data)),
                Some(data) => Ok(data.get(projection).map(Val::from_json).unwrap_or(Val::Null)),
                None => Err(format!("global context entry {name} not found")),
            }
        }
        ("http.get" | "http.post", [Val::String(url), ..]) => {
            let method = if name == "http.get" { "GET" } else { "POST" };
            // A mock for the method wins over one that names no method, which answers any.
            let for_url = || services.http_mocks.iter().filter(|(_, mock_url, _)| mock_url == url.as_ref());
            let found = for_url()
                .find(|(mock_method, _, _)| mock_method.eq_ignore_ascii_case(method))
                .or_else(|| for_url().find(|(mock_method, _, _)| mock_method.is_empty()));
            match found {
                Some((_, _, body)) => Ok(Val::from_json(body)),
                None => {
                    let reason = format!("{name} {url:?} needs the network: mock it under the test's apiCallResponses");
                    services.offline_gaps.note(reason.clone());
                    Err(reason)
                }
            }
        }
        // The certificate bundle only matters to a real connection; offline the client is the library.
        ("http.client", [Val::String(_)]) => Ok(object(Object::Library("http".to_string()))),
        ("generator.apply", [namespace, Val::List(items)]) => {
            interpreter.generate(generated_objects(namespace, items));
            Ok(Val::Bool(true))
        }
        ("json.unmarshal" | "json.Unmarshal", [Val::String(text)]) => serde_json::from_str::<Value>(text)
            .map(|value| Val::from_json(&value))
            .map_err(|error| format!("json: {error}")),
        ("json.marshal", [value]) => {
            serde_json::to_string(&value.to_json()).map(Val::string).map_err(|error| error.to_string())
        }
        ("yaml.parse", [Val::String(text)]) => yaml_serde::from_str::<Value>(text)
            .map(|value| Val::from_json(&value))
            .map_err(|error| format!("yaml: {error}")),
        ("parseServiceAccount" | "user.parseServiceAccount", [Val::String(user)]) => {
            let parts: Vec<&str> = user.split(':').collect();
            let (namespace, name) = match parts.as_slice() {
                ["system", "serviceaccount", namespace, name] => (*namespace, *name),
                _ => ("", ""),
            };
            // Kyverno's ServiceAccount type exposes Go's field names; the lowercase ones are kept for
            // policies written against older releases.
            Ok(Val::map(vec![
                (Val::string("Namespace"), Val::string(namespace)),
                (Val::string("Name"), Val::string(name)),
                (Val::string("namespace"), Val::string(namespace)),
                (Val::string("name"), Val::string(name)),
            ]))
        }
        ("sha256" | "hash.sha256", [Val::String(text)]) => Ok(Val::string(hex(&digest::sha256(text.as_bytes())))),
        ("sha1" | "hash.sha1", [Val::String(text)]) => Ok(Val::string(hex(&digest::sha1(text.as_bytes())))),
        ("md5" | "hash.md5", [Val::String(text)]) => Ok(Val::string(hex(&digest::md5(text.as_bytes())))),
        // As kyverno/sdk's gzip library: Go's gzip reader (multistream), the text taken as it comes.
        // Empty input has no header: Go's gzip.NewReader fails with EOF.
        ("gzip.decompress", [Val::Bytes(compressed)]) => crate::engine::archive::gunzip(compressed)
            .filter(|_| !compressed.is_empty())
            .map(|text| Val::string(String::from_utf8_lossy(&text)))
            .ok_or_else(|| "gzip: invalid header".to_string()),
        ("x509.decode", [Val::String(pem)]) => {
            crate::engine::kyverno::x509::decode(pem).map(|value| Val::from_json(&value))
        }
        (
            "listObjToMap" | "transform.listObjToMap",
            [Val::List(keys), Val::List(values), Val::String(key_field), Val::String(value_field)],
        ) => list_objects_to_map(keys, values, key_field, value_field),
        ("time.now", []) => Ok(Val::Timestamp(services.now_nanos())),
        ("time.truncate", [Val::Timestamp(nanos), Val::Duration(step)]) => {
            let step = i128::from(*step);
            Ok(Val::Timestamp(if step <= 0 { *nanos } else { nanos - nanos.rem_euclid(step) }))
        }
        ("time.toCron", [Val::Timestamp(nanos)]) => {
            use chrono::{Datelike, Timelike};
            match chrono::DateTime::from_timestamp(nanos.div_euclid(NANO) as i64, 0) {
                Some(time) => Ok(Val::string(format!(
                    "{} {} {} {} {}",
                    time.minute(),
                    time.hour(),
                    time.day(),
                    time.month(),
                    time.weekday().num_days_from_sunday()
                ))),
                None => Err("time.toCron: timestamp out of range".to_string()),
            }
        }
        _ => return None,
    })
}

/// The apiVersion and plural resource of a `resource` call's leading arguments: two strings or a GVR
/// from `resource.toGVR`, and the arguments after them.
fn resource_target(args: &[Val]) -> Option<(String, String, &[Val])> {
    match args {
        [Val::String(api_version), Val::String(resource), rest @ ..] => {
            Some((api_version.to_string(), resource.to_string(), rest))
        }
        [gvr @ Val::Map(_), rest @ ..] => {
            let text = |key: &str| match gvr.field(key) {
                Some(Val::String(text)) => Some(text.to_string()),
                _ => None,
            };
            Some((text("apiVersion")?, text("resource")?, rest))
        }
        _ => None,
    }
}

/// `resource.get`: (apiVersion, resource, namespace, name) or (gvr, namespace, name) in a cluster-wide
/// policy, (apiVersion, resource, name) or (gvr, name) in a Namespaced one.
fn resource_get(services: &Services, args: &[Val]) -> EvalResult {
    let (api_version, resource, rest) =
        resource_target(args).ok_or_else(|| "resource.get: no overload for these arguments".to_string())?;
    let (namespace, name) = match rest {
        [Val::String(namespace), Val::String(name)] => (namespace.to_string(), name.to_string()),
        [Val::String(name)] => (services.policy_namespace.clone(), name.to_string()),
        _ => return Err("resource.get: no overload for these arguments".to_string()),
    };
    match services.find_resource(&api_version, &resource, &namespace, Some(&name)).into_iter().next() {
        Some(found) => Ok(Val::from_json(found)),
        None if services.live_cluster => {
            let reason = format!(
                "resource.Get({api_version:?}, {resource:?}, {namespace:?}, {name:?}) reads the cluster, which is not \
                 known here: give the object in a context file"
            );
            services.offline_gaps.note(reason.clone());
            Err(reason)
        }
        None => Err(format!("{resource} \"{name}\" not found")),
    }
}

/// `resource.list`: (apiVersion, resource, namespace[, labels]) or (gvr, namespace[, labels]) in a
/// cluster-wide policy, (apiVersion, resource[, labels]) or (gvr[, labels]) in a Namespaced one.
fn resource_list(services: &Services, args: &[Val]) -> EvalResult {
    let (api_version, resource, rest) =
        resource_target(args).ok_or_else(|| "resource.list: no overload for these arguments".to_string())?;
    let (namespace, labels) = match rest {
        [Val::String(namespace)] => (namespace.to_string(), None),
        [Val::String(namespace), labels @ Val::Map(_)] => (namespace.to_string(), Some(labels)),
        [] => (services.policy_namespace.clone(), None),
        [labels @ Val::Map(_)] => (services.policy_namespace.clone(), Some(labels)),
        _ => return Err("resource.list: no overload for these arguments".to_string()),
    };
    if services.live_cluster {
        // A list is what the cluster holds: the known objects may be only some of them.
        let reason = format!(
            "resource.List({api_version:?}, {resource:?}, {namespace:?}) lists what the cluster holds, which is not \
             known here"
        );
        services.offline_gaps.note(reason.clone());
        return Err(reason);
    }
    let wanted: Vec<(String, String)> = match labels {
        Some(Val::Map(entries)) => entries.iter().map(|(key, value)| (key.display(), value.display())).collect(),
        _ => Vec::new(),
    };
    let items: Vec<Val> = services
        .find_resource(&api_version, &resource, &namespace, None)
        .into_iter()
        .filter(|object| {
            wanted.iter().all(|(key, value)| {
                object
                    .pointer(&format!("/metadata/labels/{}", key.replace('~', "~0").replace('/', "~1")))
                    .and_then(Value::as_str)
                    == Some(value.as_str())
            })
        })
        .map(Val::from_json)
        .collect();
    Ok(Val::map(vec![(Val::string("items"), Val::list(items))]))
}

/// The objects one `generator.apply(namespace, objects)` call generates: a list (what `resource.list`
/// returns) stands for its items, and the namespace argument wins over the objects' own, an empty one
/// removing it, as the CLI's generator context sets it (`pkg/cel/libs/fake_context.go`,
/// `GenerateResources`).
fn generated_objects(namespace: &Val, items: &[Val]) -> Vec<Value> {
    let namespace = match namespace {
        Val::String(namespace) => Some(namespace.as_ref()),
        _ => None,
    };
    objects_in_namespace(namespace, items.iter().map(Val::to_json))
}

/// The objects a GeneratingPolicy generates into a namespace, as Kyverno's CLI context records them
/// (`pkg/cel/libs/fake_context.go`, `GenerateResources`): a list object (one with `items`) stands for its
/// items, and each object's `metadata.namespace` becomes the namespace (removed when it is empty). Shared
/// by `generator.apply` and GeneratingPolicy templates.
pub(crate) fn objects_in_namespace(namespace: Option<&str>, objects: impl Iterator<Item = Value>) -> Vec<Value> {
    let objects = objects.flat_map(|object| match object {
        Value::Object(mut map) if matches!(map.get("items"), Some(Value::Array(_))) => match map.remove("items") {
            Some(Value::Array(inner)) => inner,
            _ => Vec::new(),
        },
        other => vec![other],
    });
    objects
        .map(|mut object| {
            if let (Some(namespace), Some(map)) = (namespace, object.as_object_mut()) {
                let metadata = map.entry("metadata").or_insert_with(|| Value::Object(serde_json::Map::new()));
                if let Some(metadata) = metadata.as_object_mut() {
                    if namespace.is_empty() {
                        metadata.shift_remove("namespace");
                    } else {
                        metadata.insert("namespace".to_string(), Value::String(namespace.to_string()));
                    }
                }
            }
            object
        })
        .collect()
}

/// `listObjToMap(keys, values, keyField, valueField)`: each key object's field maps to the value
/// object's field at the same position (kyverno/sdk `transform`).
fn list_objects_to_map(keys: &[Val], values: &[Val], key_field: &str, value_field: &str) -> EvalResult {
    if keys.len() != values.len() {
        return Err(format!(
            "listObjToMap must take lists of equal length. list1: {}, list2: {}",
            keys.len(),
            values.len()
        ));
    }
    let mut entries: Vec<(Val, Val)> = Vec::with_capacity(keys.len());
    for (key_object, value_object) in keys.iter().zip(values) {
        let Some(Val::String(key)) = key_object.field(key_field) else {
            return Err("the passed key name cannot be handled as a string in the key object list".to_string());
        };
        let value = value_object.field(value_field).cloned().unwrap_or(Val::Null);
        let key = Val::String(key.clone());
        match entries.iter_mut().find(|(existing, _)| values_equal(existing, &key)) {
            Some(entry) => entry.1 = value,
            None => entries.push((key, value)),
        }
    }
    Ok(Val::map(entries))
}

/// Member functions of the library types; `None` when nothing here answers.
pub fn call_member(interpreter: &Interpreter, name: &str, receiver: &Val, args: &[Val]) -> Option<EvalResult> {
    let _ = interpreter;
    if let Val::String(text) = receiver {
        // `'1.2.3'.isSemver()` style calls are not Kubernetes; only the format validator takes strings.
        let _ = text;
        return None;
    }
    let Val::Object(target) = receiver else {
        return None;
    };
    Some(match (target.as_ref(), name, args) {
        (Object::Authorization(_) | Object::EnvoyOption { .. }, _, _) => {
            super::authorization::call_member(target, name, args)?
        }
        (Object::Quantity { nano, .. }, _, _) => quantity_member(*nano, name, args)?,
        (Object::Url { scheme, host, path, query, .. }, _, []) => match name {
            "getScheme" => Ok(Val::string(scheme.as_str())),
            "getHost" => Ok(Val::string(host.as_str())),
            "getHostname" => {
                let hostname = if let Some(rest) = host.strip_prefix('[') {
                    rest.split(']').next().unwrap_or("").to_string()
                } else {
                    host.rsplit_once(':').map_or(host.clone(), |(name, _)| name.to_string())
                };
                Ok(Val::string(hostname))
            }
            "getPort" => {
                let port = if host.starts_with('[') {
                    host.rsplit_once("]:").map(|(_, port)| port.to_string()).unwrap_or_default()
                } else {
                    host.rsplit_once(':').map(|(_, port)| port.to_string()).unwrap_or_default()
                };
                Ok(Val::string(port))
            }
            "getEscapedPath" => Ok(Val::string(path.as_str())),
            "getQuery" => {
                let mut entries: Vec<(Val, Val)> = Vec::new();
                for pair in query.split('&').filter(|pair| !pair.is_empty()) {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    let key = Val::string(percent_decode(key));
                    let value = Val::string(percent_decode(value));
                    if let Some(position) = entries.iter().position(|(existing, _)| values_equal(existing, &key)) {
                        if let Val::List(items) = &entries[position].1 {
                            let mut items = items.as_ref().clone();
                            items.push(value);
                            entries[position].1 = Val::list(items);
                        }
                    } else {
                        entries.push((key, Val::list(vec![value])));
                    }
                }
                Ok(Val::map(entries))
            }
            _ => return None,
        },
        (Object::Ip(address), _, []) => match name {
            "family" => Ok(Val::Int(if address.is_ipv4() { 4 } else { 6 })),
            "isUnspecified" => Ok(Val::Bool(address.is_unspecified())),
            "isLoopback" => Ok(Val::Bool(address.is_loopback())),
            "isLinkLocalMulticast" => Ok(Val::Bool(match address {
                IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
                IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
            })),
            "isLinkLocalUnicast" => Ok(Val::Bool(match address {
                IpAddr::V4(v4) => v4.is_link_local(),
                IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
            })),
            "isGlobalUnicast" => Ok(Val::Bool(match address {
                IpAddr::V4(v4) => {
                    !(v4.is_unspecified()
                        || v4.is_loopback()
                        || v4.is_link_local()
                        || v4.is_multicast()
                        || v4.is_broadcast())
                }
                IpAddr::V6(v6) => {
                    !(v6.is_unspecified()
                        || v6.is_loopback()
                        || v6.is_multicast()
                        || v6.segments()[0] & 0xffc0 == 0xfe80)
                }
            })),
            "string" => Ok(Val::string(address.to_string())),
            _ => return None,
        },
        (Object::Cidr { address, prefix, .. }, _, _) => match (name, args) {
            ("prefixLength", []) => Ok(Val::Int(i64::from(*prefix))),
            ("ip", []) => Ok(object(Object::Ip(*address))),
            ("masked", []) => {
                let masked = mask(*address, *prefix);
                Ok(object(Object::Cidr { address: masked, prefix: *prefix, text: format!("{masked}/{prefix}") }))
            }
            ("string", []) => Ok(Val::string(receiver.display())),
            ("containsIP", [other]) => {
                let other = match other {
                    Val::String(text) => match parse_ip(text) {
                        Ok(address) => address,
                        Err(error) => return Some(Err(error)),
                    },
                    Val::Object(inner) => match inner.as_ref() {
                        Object::Ip(address) => *address,
                        _ => return None,
                    },
                    _ => return None,
                };
                Ok(Val::Bool(cidr_contains(*address, *prefix, other)))
            }
            ("containsCIDR", [other]) => {
                let (other_address, other_prefix) = match other {
                    Val::String(text) => match parse_cidr(text) {
                        Ok(Object::Cidr { address, prefix, .. }) => (address, prefix),
                        Ok(_) => return None,
                        Err(error) => return Some(Err(error)),
                    },
                    Val::Object(inner) => match inner.as_ref() {
                        Object::Cidr { address, prefix, .. } => (*address, *prefix),
                        _ => return None,
                    },
                    _ => return None,
                };
                Ok(Val::Bool(other_prefix >= *prefix && cidr_contains(*address, *prefix, other_address)))
            }
            _ => return None,
        },
        (Object::Semver { major, minor, patch, pre, .. }, _, _) => match (name, args) {
            ("major", []) => Ok(Val::Int(*major as i64)),
            ("minor", []) => Ok(Val::Int(*minor as i64)),
            ("patch", []) => Ok(Val::Int(*patch as i64)),
            ("compareTo" | "isLessThan" | "isGreaterThan", [Val::Object(other)]) => {
                let Object::Semver {
                    major: other_major, minor: other_minor, patch: other_patch, pre: other_pre, ..
                } = other.as_ref()
                else {
                    return None;
                };
                let ordering = (major, minor, patch)
                    .cmp(&(other_major, other_minor, other_patch))
                    .then_with(|| compare_prerelease(pre, other_pre));
                Ok(match name {
                    "compareTo" => Val::Int(ordering as i64),
                    "isLessThan" => Val::Bool(ordering == std::cmp::Ordering::Less),
                    _ => Val::Bool(ordering == std::cmp::Ordering::Greater),
                })
            }
            _ => return None,
        },
        (Object::Format(format), "validate", [Val::String(text)]) => {
            let errors = validate_format(format, text);
            Ok(if errors.is_empty() {
                Val::Optional(None)
            } else {
                Val::Optional(Some(Arc::new(Val::list(errors.into_iter().map(Val::string).collect()))))
            })
        }
        (Object::Image { registry, repository, tag, digest }, _, []) => match name {
            "registry" => Ok(Val::string(registry.as_str())),
            "repository" => Ok(Val::string(repository.as_str())),
            "identifier" => Ok(Val::string(if digest.is_empty() { tag.as_str() } else { digest.as_str() })),
            "tag" => Ok(Val::string(tag.as_str())),
            "digest" => Ok(Val::string(digest.as_str())),
            "containsDigest" => Ok(Val::Bool(!digest.is_empty())),
            "string" => Ok(Val::string(receiver.display())),
            _ => return None,
        },
        _ => return None,
    })
}

fn quantity_member(nano: i128, name: &str, args: &[Val]) -> Option<EvalResult> {
    let other = |value: &Val| -> Option<i128> {
        match value {
            Val::Object(inner) => match inner.as_ref() {
                Object::Quantity { nano, .. } => Some(*nano),
                _ => None,
            },
            Val::Int(integer) => Some(i128::from(*integer) * NANO),
            _ => None,
        }
    };
    Some(match (name, args) {
        ("isInteger", []) => Ok(Val::Bool(nano % NANO == 0 && i64::try_from(nano / NANO).is_ok())),
        ("asInteger", []) => {
            if nano % NANO != 0 {
                Err("cannot convert value to integer".to_string())
            } else {
                i64::try_from(nano / NANO).map(Val::Int).map_err(|_| "cannot convert value to integer".to_string())
            }
        }
        ("asApproximateFloat", []) => Ok(Val::Double(nano as f64 / NANO as f64)),
        ("add" | "sub", [value]) => {
            let right = other(value)?;
            let result = if name == "add" { nano + right } else { nano - right };
            Ok(object(Object::Quantity { text: format_quantity(result), nano: result }))
        }
        ("isGreaterThan", [value]) => Ok(Val::Bool(nano > other(value)?)),
        ("isLessThan", [value]) => Ok(Val::Bool(nano < other(value)?)),
        ("compareTo", [value]) => Ok(Val::Int(nano.cmp(&other(value)?) as i64)),
        _ => return None,
    })
}

/// Duration and timestamp accessors.
pub fn time_member(name: &str, receiver: &Val, args: &[Val]) -> Option<EvalResult> {
    match receiver {
        Val::Duration(nanos) => Some(Ok(match (name, args) {
            ("getHours", []) => Val::Int(nanos / 3_600_000_000_000),
            ("getMinutes", []) => Val::Int(nanos / 60_000_000_000),
            ("getSeconds", []) => Val::Int(nanos / 1_000_000_000),
            ("getMilliseconds", []) => Val::Int(nanos / 1_000_000),
            _ => return None,
        })),
        Val::Timestamp(nanos) => {
            use chrono::{Datelike, Timelike};
            let offset = match args {
                [] => 0,
                [Val::String(zone)] => match zone_offset_seconds(zone, nanos.div_euclid(NANO) as i64) {
                    Ok(offset) => offset,
                    Err(error) => return Some(Err(error)),
                },
                _ => return None,
            };
            let seconds = nanos.div_euclid(NANO) as i64 + offset;
            let time = chrono::DateTime::from_timestamp(seconds, 0)?;
            Some(Ok(match name {
                "getFullYear" => Val::Int(i64::from(time.year())),
                "getMonth" => Val::Int(i64::from(time.month0())),
                "getDayOfMonth" => Val::Int(i64::from(time.day0())),
                "getDate" => Val::Int(i64::from(time.day())),
                "getDayOfYear" => Val::Int(i64::from(time.ordinal0())),
                "getDayOfWeek" => Val::Int(i64::from(time.weekday().num_days_from_sunday())),
                "getHours" => Val::Int(i64::from(time.hour())),
                "getMinutes" => Val::Int(i64::from(time.minute())),
                "getSeconds" => Val::Int(i64::from(time.second())),
                "getMilliseconds" => Val::Int((nanos.rem_euclid(NANO) / 1_000_000) as i64),
                _ => return None,
            }))
        }
        _ => None,
    }
}

/// The offset at the instant `utc_seconds` of a time zone argument of the timestamp accessors: `UTC`,
/// `+05:30`, or an IANA name (`Australia/Sydney`, `US/Central`) from the database bundled by chrono-tz,
/// as Go's time.LoadLocation resolves it for cel-go.
fn zone_offset_seconds(zone: &str, utc_seconds: i64) -> Result<i64, String> {
    if zone.eq_ignore_ascii_case("UTC") || zone == "Z" {
        return Ok(0);
    }
    let (sign, rest) = match zone.as_bytes().first() {
        Some(b'+') => (1, &zone[1..]),
        Some(b'-') => (-1, &zone[1..]),
        _ => (1, zone),
    };
    let parsed = rest
        .split_once(':')
        .and_then(|(hours, minutes)| Some((hours.parse::<i64>().ok()?, minutes.parse::<i64>().ok()?)));
    match parsed {
        Some((hours, minutes)) if hours <= 23 && minutes <= 59 => Ok(sign * (hours * 3600 + minutes * 60)),
        _ => {
            use chrono::Offset as _;
            let named: chrono_tz::Tz =
                zone.parse().map_err(|_| format!("unknown time zone {zone:?}: not UTC, an offset or an IANA name"))?;
            let instant = chrono::DateTime::from_timestamp(utc_seconds, 0)
                .ok_or_else(|| "timestamp out of range".to_string())?
                .naive_utc();
            Ok(i64::from(chrono::TimeZone::offset_from_utc_datetime(&named, &instant).fix().local_minus_utc()))
        }
    }
}

/// Parses a Go duration string such as `1h30m`, `-2.5s` or `100ms`, exactly as `time.ParseDuration`.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    crate::engine::units::go_duration_nanos(text)
}

/// Parses an RFC 3339 timestamp into nanoseconds since the epoch.
pub fn parse_timestamp(text: &str) -> Result<i128, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|time| i128::from(time.timestamp()) * NANO + i128::from(time.timestamp_subsec_nanos()))
        .map_err(|error| format!("invalid timestamp {text:?}: {error}"))
        .and_then(timestamp_in_range)
}

/// The first and the last nanosecond a CEL timestamp may hold: 0001-01-01T00:00:00Z and
/// 9999-12-31T23:59:59.999999999Z (the range of google.protobuf.Timestamp, which cel-spec enforces).
const TIMESTAMP_RANGE: std::ops::RangeInclusive<i128> = -62_135_596_800 * NANO..=253_402_300_799 * NANO + (NANO - 1);

/// Checks that a timestamp built by a conversion or by arithmetic stays within CEL's range.
pub fn timestamp_in_range(nanos: i128) -> Result<i128, String> {
    if TIMESTAMP_RANGE.contains(&nanos) {
        Ok(nanos)
    } else {
        Err("timestamp out of range: CEL timestamps lie between years 0001 and 9999".to_string())
    }
}

fn format_quantity(nano: i128) -> String {
    if nano % NANO == 0 {
        return (nano / NANO).to_string();
    }
    if nano % 1_000_000 == 0 {
        return format!("{}m", nano / 1_000_000);
    }
    if nano % 1_000 == 0 {
        return format!("{}u", nano / 1_000);
    }
    format!("{nano}n")
}

fn parse_url(text: &str) -> Result<Object, String> {
    let invalid = || format!("URL parse error during conversion from string: {text:?}");
    if text.starts_with('/') {
        let (path, query) = text.split_once('?').unwrap_or((text, ""));
        return Ok(Object::Url {
            text: text.to_string(),
            scheme: String::new(),
            host: String::new(),
            path: path.to_string(),
            query: query.split('#').next().unwrap_or("").to_string(),
        });
    }
    let (scheme, rest) = text.split_once("://").ok_or_else(invalid)?;
    if scheme.is_empty()
        || !scheme.chars().next().is_some_and(|character| character.is_ascii_alphabetic())
        || !scheme.chars().all(|character| character.is_ascii_alphanumeric() || "+-.".contains(character))
    {
        return Err(invalid());
    }
    let rest = rest.split('#').next().unwrap_or("");
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match before_query.find('/') {
        Some(position) => before_query.split_at(position),
        None => (before_query, ""),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if host.contains(' ') {
        return Err(invalid());
    }
    Ok(Object::Url {
        text: text.to_string(),
        scheme: scheme.to_string(),
        host: host.to_string(),
        path: path.to_string(),
        query: query.to_string(),
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' if index + 2 < bytes.len() => match u8::from_str_radix(&text[index + 1..index + 3], 16) {
                Ok(byte) => {
                    out.push(byte);
                    index += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_ip(text: &str) -> Result<IpAddr, String> {
    let address: IpAddr =
        text.parse().map_err(|_| format!("IP Address {text:?} parse error during conversion from string"))?;
    if let IpAddr::V6(v6) = address
        && v6.to_ipv4_mapped().is_some()
        && text.contains('.')
    {
        return Err(format!("IPv4-mapped IPv6 address {text:?} is not allowed"));
    }
    if address.is_ipv4() {
        // Leading zeros are ambiguous and Kubernetes rejects them.
        if text.split('.').any(|part| part.len() > 1 && part.starts_with('0')) {
            return Err(format!("IP Address {text:?} has leading zeros"));
        }
    }
    Ok(address)
}

fn parse_cidr(text: &str) -> Result<Object, String> {
    let invalid = || format!("network address parse error during conversion from string: {text:?}");
    let (address, prefix) = text.split_once('/').ok_or_else(invalid)?;
    let address = parse_ip(address).map_err(|_| invalid())?;
    let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
    let limit = if address.is_ipv4() { 32 } else { 128 };
    if prefix > limit {
        return Err(invalid());
    }
    Ok(Object::Cidr { address, prefix, text: text.to_string() })
}

fn mask(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let masked = if prefix == 0 { 0 } else { bits & (u32::MAX << (32 - u32::from(prefix))) };
            IpAddr::V4(masked.into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let masked = if prefix == 0 { 0 } else { bits & (u128::MAX << (128 - u32::from(prefix))) };
            IpAddr::V6(masked.into())
        }
    }
}

fn cidr_contains(network: IpAddr, prefix: u8, address: IpAddr) -> bool {
    network.is_ipv4() == address.is_ipv4() && mask(network, prefix) == mask(address, prefix)
}

/// The text `semver(text, normalize)` parses: with `normalize`, as the Kubernetes semver library's
/// `normalizeAndParse` makes it (no `v` prefix, no leading zeros, missing minor and patch as 0).
fn semver_text(text: &str, normalize: bool) -> Result<String, String> {
    if !normalize {
        return Ok(text.to_string());
    }
    let text = text.strip_prefix('v').unwrap_or(text);
    let mut parts: Vec<String> = text.splitn(3, '.').map(str::to_string).collect();
    for part in &mut parts {
        if part.len() > 1 {
            let trimmed = part.trim_start_matches('0');
            *part = if trimmed.starts_with(|character: char| character.is_ascii_digit()) {
                trimmed.to_string()
            } else {
                format!("0{trimmed}")
            };
        }
    }
    if parts.len() < 3 {
        if parts.last().is_some_and(|last| last.contains(['+', '-'])) {
            return Err("short version cannot contain PreRelease/Build meta data".to_string());
        }
        parts.resize(3, "0".to_string());
    }
    Ok(parts.join("."))
}

fn parse_semver(text: &str) -> Result<Object, String> {
    let invalid = || format!("could not parse {text:?} as version");
    let core_and_pre = text.split('+').next().unwrap_or(text);
    let (core, pre) = core_and_pre.split_once('-').unwrap_or((core_and_pre, ""));
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 {
        return Err(invalid());
    }
    let number = |part: &str| -> Result<u64, String> {
        if part.is_empty() || (part.len() > 1 && part.starts_with('0')) {
            return Err(invalid());
        }
        part.parse().map_err(|_| invalid())
    };
    Ok(Object::Semver {
        major: number(parts[0])?,
        minor: number(parts[1])?,
        patch: number(parts[2])?,
        pre: pre.to_string(),
        text: text.to_string(),
    })
}

fn compare_prerelease(left: &str, right: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (left.is_empty(), right.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            for (a, b) in left.split('.').zip(right.split('.')) {
                let ordering = match (a.parse::<u64>(), b.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => a.cmp(b),
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            left.split('.').count().cmp(&right.split('.').count())
        }
    }
}

/// Parses an OCI image reference the way go-containerregistry does (Docker Hub defaults included).
pub fn parse_image(text: &str) -> Result<Object, String> {
    let invalid = || format!("could not parse reference: {text}");
    if text.is_empty() || text.contains(char::is_whitespace) || text != text.trim() {
        return Err(invalid());
    }
    let (name_and_tag, digest) = match text.split_once('@') {
        Some((name, digest)) => (name, digest.to_string()),
        None => (text, String::new()),
    };
    if !digest.is_empty() && !digest.contains(':') {
        return Err(invalid());
    }
    let (name, tag) = match name_and_tag.rfind(':') {
        Some(position) if !name_and_tag[position..].contains('/') => {
            (&name_and_tag[..position], name_and_tag[position + 1..].to_string())
        }
        _ => (name_and_tag, String::new()),
    };
    if name.is_empty() || name.chars().any(|character| character.is_ascii_uppercase() && !name.contains('/')) {
        return Err(invalid());
    }
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            (first.to_string(), rest.to_string())
        }
        _ => ("index.docker.io".to_string(), name.to_string()),
    };
    let repository = if registry == "index.docker.io" && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository
    };
    let registry = if registry == "docker.io" { "index.docker.io".to_string() } else { registry };
    let tag = if tag.is_empty() && digest.is_empty() { "latest".to_string() } else { tag };
    Ok(Object::Image { registry, repository, tag, digest })
}

const KNOWN_FORMATS: &[&str] = &[
    "dns1123Label",
    "dns1123Subdomain",
    "dns1035Label",
    "qualifiedName",
    "dns1123LabelPrefix",
    "dns1123SubdomainPrefix",
    "dns1035LabelPrefix",
    "labelValue",
    "uri",
    "uuid",
    "byte",
    "date",
    "datetime",
];

fn validate_format(format: &str, text: &str) -> Vec<String> {
    let label = |value: &str, max: usize| -> bool {
        !value.is_empty()
            && value.len() <= max
            && value
                .chars()
                .all(|character| character.is_ascii_lowercase() || character.is_ascii_digit() || character == '-')
            && !value.starts_with('-')
            && !value.ends_with('-')
    };
    let ok = match format {
        "dns1123Label" => label(text, 63),
        "dns1035Label" => label(text, 63) && text.starts_with(|character: char| character.is_ascii_lowercase()),
        "dns1123Subdomain" => text.len() <= 253 && text.split('.').all(|part| label(part, 63)),
        "labelValue" => {
            text.is_empty()
                || (text.len() <= 63
                    && text.chars().all(|character| character.is_ascii_alphanumeric() || "-_.".contains(character))
                    && text.starts_with(|character: char| character.is_ascii_alphanumeric())
                    && text.ends_with(|character: char| character.is_ascii_alphanumeric()))
        }
        "uuid" => {
            let parts: Vec<&str> = text.split('-').collect();
            parts.iter().map(|part| part.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
                && parts.iter().all(|part| part.chars().all(|character| character.is_ascii_hexdigit()))
        }
        "date" => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
        "datetime" => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
        "uri" => parse_url(text).is_ok(),
        "byte" => base64::engine::general_purpose::STANDARD.decode(text).is_ok(),
        _ => true,
    };
    if ok { Vec::new() } else { vec![format!("{text:?} is not a valid {format}")] }
}

/// `"...%s...".format([...])`: the verbs of cel-go's strings extension (ext/formatting.go), as the
/// cel-spec conformance data (tests/cel_spec) pins them down.
pub fn format_string(template: &str, values: &[Val]) -> Result<String, String> {
    let mut out = String::new();
    let mut characters = template.chars().peekable();
    let mut next = values.iter();
    while let Some(character) = characters.next() {
        if character != '%' {
            out.push(character);
            continue;
        }
        let mut precision: Option<usize> = None;
        if characters.peek() == Some(&'.') {
            characters.next();
            let mut digits = String::new();
            while let Some(digit) = characters.peek().filter(|digit| digit.is_ascii_digit()) {
                digits.push(*digit);
                characters.next();
            }
            precision = digits.parse().ok();
        }
        let Some(verb) = characters.next() else {
            return Err("format: unterminated verb".to_string());
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let value = next.next().ok_or_else(|| "format: too few arguments for the format string".to_string())?;
        match verb {
            's' => out.push_str(&format_clause_text(value)),
            'd' => match value {
                Val::Int(_) | Val::Uint(_) => out.push_str(&value.display()),
                Val::Double(float) if !float.is_finite() => out.push_str(&non_finite_text(*float)),
                _ => return Err(format!("format: %d needs an integer, got {}", value.type_name())),
            },
            'f' | 'e' => {
                let float = match numeric(value) {
                    Some(Numeric::Int(integer)) => integer as f64,
                    Some(Numeric::Uint(unsigned)) => unsigned as f64,
                    Some(Numeric::Double(float)) => float,
                    None => return Err(format!("format: %{verb} needs a number, got {}", value.type_name())),
                };
                let digits = precision.unwrap_or(6);
                if !float.is_finite() {
                    out.push_str(&non_finite_text(float));
                } else if verb == 'f' {
                    out.push_str(&format!("{float:.digits$}"));
                } else {
                    out.push_str(&scientific(float, digits));
                }
            }
            'b' => match value {
                Val::Int(integer) => out.push_str(&format!("{integer:b}")),
                Val::Uint(unsigned) => out.push_str(&format!("{unsigned:b}")),
                Val::Bool(flag) => out.push(if *flag { '1' } else { '0' }),
                _ => return Err("format: %b needs an integer or a bool".to_string()),
            },
            'x' | 'X' => {
                let hex = match value {
                    Val::Int(integer) => format!("{integer:x}"),
                    Val::Uint(unsigned) => format!("{unsigned:x}"),
                    Val::String(text) => text.bytes().map(|byte| format!("{byte:02x}")).collect(),
                    Val::Bytes(bytes) => bytes.iter().map(|byte| format!("{byte:02x}")).collect(),
                    _ => return Err("format: %x needs an integer, a string or bytes".to_string()),
                };
                out.push_str(&if verb == 'X' { hex.to_uppercase() } else { hex });
            }
            'o' => match value {
                Val::Int(integer) => out.push_str(&format!("{integer:o}")),
                Val::Uint(unsigned) => out.push_str(&format!("{unsigned:o}")),
                _ => return Err("format: %o needs an integer".to_string()),
            },
            other => return Err(format!("format: unrecognized formatting clause %{other}")),
        }
    }
    Ok(out)
}

/// What `%s` prints: strings and bytes bare, also inside lists and maps; map entries sorted by their key's
/// text; doubles as `NaN`, `Infinity`, `-Infinity` when not finite.
fn format_clause_text(value: &Val) -> String {
    match value {
        Val::Double(float) if !float.is_finite() => non_finite_text(*float),
        Val::List(items) => {
            let parts: Vec<String> = items.iter().map(format_clause_text).collect();
            format!("[{}]", parts.join(", "))
        }
        Val::Map(entries) => {
            let mut parts: Vec<(String, String)> =
                entries.iter().map(|(key, value)| (format_clause_text(key), format_clause_text(value))).collect();
            parts.sort();
            let parts: Vec<String> = parts.into_iter().map(|(key, value)| format!("{key}: {value}")).collect();
            format!("{{{}}}", parts.join(", "))
        }
        other => other.display(),
    }
}

/// The words the format verbs print for doubles that are not finite.
fn non_finite_text(float: f64) -> String {
    if float.is_nan() {
        "NaN".to_string()
    } else if float > 0.0 {
        "Infinity".to_string()
    } else {
        "-Infinity".to_string()
    }
}

/// `%e`: a mantissa with `digits` decimals and an exponent with a sign and at least two digits
/// (`1.052033e+03`), as Go's `%e` prints; Rust's `{:e}` would print `1.052033e3`.
fn scientific(float: f64, digits: usize) -> String {
    let text = format!("{float:.digits$e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

/// `strings.quote`: double quotes around the text with the C escapes cel-go's strings extension writes
/// (`\a \b \f \n \r \t \v \\ \"`); other control characters as `\xHH`, every printable character as is.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            control if control.is_control() && (control as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", control as u32);
            }
            other => out.push(other),
        }
    }
    out.push('"');
    out
}
