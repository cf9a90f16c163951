//! `validate.podSecurity`: the Pod Security Standards checks (baseline and restricted) on a Pod or a
//! Pod template, with Kyverno's `exclude` entries (control name, images, restricted field, values).

use serde_json::Value;

use super::pattern::wildcard_match;
use super::response::{RuleResponse, RuleStatus, RuleType};

/// One failed check: the control, the field and the offending value, and the image for container checks.
#[derive(Clone, Debug)]
struct Violation {
    control: &'static str,
    field: String,
    value: Value,
    image: Option<String>,
}

const CONTAINER_KEYS: &[&str] = &["initContainers", "containers", "ephemeralContainers"];

/// Evaluates a podSecurity block on the resource (Pod, controller template or CronJob template).
pub fn validate(rule_name: &str, pod_security: &Value, resource: &Value, extra_excludes: &[Value]) -> RuleResponse {
    let level = pod_security.get("level").and_then(Value::as_str).unwrap_or("baseline");
    let version = pod_security.get("version").and_then(Value::as_str).unwrap_or("latest");
    let spec_pointer = ["/spec/template/spec", "/spec/jobTemplate/spec/template/spec", "/spec"]
        .into_iter()
        .find(|pointer| {
            let spec = resource.pointer(pointer);
            spec.is_some_and(|spec| CONTAINER_KEYS.iter().any(|key| spec.get(*key).is_some()))
        })
        .unwrap_or("/spec");
    let metadata_pointer = spec_pointer.trim_end_matches("spec").to_string() + "metadata";
    let spec = resource.pointer(spec_pointer).cloned().unwrap_or(Value::Null);
    let metadata = resource.pointer(&metadata_pointer).cloned().unwrap_or(Value::Null);
    let minor = parse_version(version);
    let mut violations = baseline(&spec, &metadata, minor);
    if level == "restricted" {
        // Restricted checks replace their baseline twins where they apply.
        violations.retain(|violation| match violation.control {
            "HostPath Volumes" => false,
            "Capabilities" => minor < 22,
            "Seccomp" => minor < 19,
            _ => true,
        });
        violations.extend(restricted(&spec, minor));
    }
    let excludes = pod_security.get("exclude").and_then(Value::as_array).cloned().unwrap_or_default();
    violations.retain(|violation| !excludes.iter().any(|exclude| excluded(exclude, violation)));
    if violations.is_empty() {
        return RuleResponse::new(
            rule_name,
            RuleType::Validation,
            RuleStatus::Pass,
            format!("validation rule '{rule_name}' passed."),
        );
    }
    // Controls exempted by PolicyExceptions turn a failure into a skip when nothing else remains.
    if !extra_excludes.is_empty() {
        violations.retain(|violation| !extra_excludes.iter().any(|exclude| excluded(exclude, violation)));
        if violations.is_empty() {
            return RuleResponse::new(
                rule_name,
                RuleType::Validation,
                RuleStatus::Skip,
                "rule is skipped due to policy exceptions",
            );
        }
    }
    let mut controls: Vec<&str> = violations.iter().map(|violation| violation.control).collect();
    controls.dedup();
    let details: Vec<String> = violations
        .iter()
        .map(|violation| format!("{} ({}={})", violation.control, violation.field, violation.value))
        .collect();
    let mut response = RuleResponse::new(
        rule_name,
        RuleType::Validation,
        RuleStatus::Fail,
        format!(
            "Validation rule '{rule_name}' failed. It violates PodSecurity \"{level}:{version}\": {}",
            details.join(", ")
        ),
    );
    response.policy_pointer = Some("/podSecurity".to_string());
    response
}

/// `latest` or `v1.N` -> N (latest is treated as the newest known version).
fn parse_version(version: &str) -> u32 {
    if version == "latest" {
        return u32::MAX;
    }
    version.trim_start_matches('v').split('.').nth(1).and_then(|minor| minor.parse().ok()).unwrap_or(u32::MAX)
}

fn excluded(exclude: &Value, violation: &Violation) -> bool {
    let control = exclude.get("controlName").and_then(Value::as_str).unwrap_or("");
    if control != violation.control {
        return false;
    }
    let images: Vec<&str> = exclude
        .get("images")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(image) = &violation.image {
        if !images.is_empty() && !images.iter().any(|pattern| wildcard_match(pattern, image)) {
            return false;
        }
    } else if !images.is_empty() && exclude.get("restrictedField").is_none() {
        return false;
    }
    if let Some(field) = exclude.get("restrictedField").and_then(Value::as_str) {
        let normalized = field.trim_start_matches("spec.").replace("[*]", "");
        if !violation.field.replace("[*]", "").ends_with(normalized.split('.').next_back().unwrap_or("")) {
            return false;
        }
        if let Some(values) = exclude.get("values").and_then(Value::as_array) {
            // An object value (a hostPath) is compared through its string fields (the path).
            let texts: Vec<String> = match &violation.value {
                Value::String(text) => vec![text.clone()],
                Value::Object(map) => map.values().filter_map(Value::as_str).map(str::to_string).collect(),
                other => vec![other.to_string()],
            };
            let allowed = values
                .iter()
                .filter_map(Value::as_str)
                .any(|allowed| texts.iter().any(|text| wildcard_match(allowed, text)));
            if !allowed {
                return false;
            }
        }
    }
    true
}

fn containers(spec: &Value) -> Vec<(&'static str, &Value)> {
    let mut out = Vec::new();
    for key in CONTAINER_KEYS {
        for container in spec.get(*key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            out.push((*key, container));
        }
    }
    out
}

fn image(container: &Value) -> Option<String> {
    container.get("image").and_then(Value::as_str).map(str::to_string)
}

fn violation(control: &'static str, field: impl Into<String>, value: Value, image: Option<String>) -> Violation {
    Violation { control, field: field.into(), value, image }
}

fn baseline(spec: &Value, metadata: &Value, minor: u32) -> Vec<Violation> {
    let mut out = Vec::new();
    // HostProcess (Windows).
    if spec.pointer("/securityContext/windowsOptions/hostProcess") == Some(&Value::Bool(true)) {
        out.push(violation("HostProcess", "spec.securityContext.windowsOptions.hostProcess", Value::Bool(true), None));
    }
    for (key, container) in containers(spec) {
        if container.pointer("/securityContext/windowsOptions/hostProcess") == Some(&Value::Bool(true)) {
            out.push(violation(
                "HostProcess",
                format!("spec.{key}[*].securityContext.windowsOptions.hostProcess"),
                Value::Bool(true),
                image(container),
            ));
        }
    }
    // Host namespaces.
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec.get(field) == Some(&Value::Bool(true)) {
            out.push(violation("Host Namespaces", format!("spec.{field}"), Value::Bool(true), None));
        }
    }
    for (key, container) in containers(spec) {
        // Privileged containers.
        if container.pointer("/securityContext/privileged") == Some(&Value::Bool(true)) {
            out.push(violation(
                "Privileged Containers",
                format!("spec.{key}[*].securityContext.privileged"),
                Value::Bool(true),
                image(container),
            ));
        }
        // Capabilities beyond the baseline set.
        const ALLOWED: &[&str] = &[
            "AUDIT_WRITE",
            "CHOWN",
            "DAC_OVERRIDE",
            "FOWNER",
            "FSETID",
            "KILL",
            "MKNOD",
            "NET_BIND_SERVICE",
            "SETFCAP",
            "SETGID",
            "SETPCAP",
            "SETUID",
            "SYS_CHROOT",
        ];
        for capability in container
            .pointer("/securityContext/capabilities/add")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if !capability.as_str().is_some_and(|name| ALLOWED.contains(&name)) {
                out.push(violation(
                    "Capabilities",
                    format!("spec.{key}[*].securityContext.capabilities.add"),
                    capability.clone(),
                    image(container),
                ));
            }
        }
        // Host ports.
        for port in container.get("ports").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            if let Some(host_port) = port.get("hostPort").filter(|value| value.as_i64().is_some_and(|port| port != 0)) {
                out.push(violation(
                    "Host Ports",
                    format!("spec.{key}[*].ports[*].hostPort"),
                    host_port.clone(),
                    image(container),
                ));
            }
        }
        // SELinux.
        if let Some(options) = container.pointer("/securityContext/seLinuxOptions") {
            out.extend(selinux_violations(
                options,
                &format!("spec.{key}[*].securityContext.seLinuxOptions"),
                image(container),
            ));
        }
        // /proc mount type: from 1.35 any value is allowed for user-namespaced Pods (`hostUsers: false`).
        let user_namespaced = minor >= 35 && spec.get("hostUsers") == Some(&Value::Bool(false));
        if let Some(proc_mount) = container
            .pointer("/securityContext/procMount")
            .filter(|value| value.as_str() != Some("Default") && !user_namespaced)
        {
            out.push(violation(
                "/proc Mount Type",
                format!("spec.{key}[*].securityContext.procMount"),
                proc_mount.clone(),
                image(container),
            ));
        }
        // Seccomp must not be Unconfined.
        if container.pointer("/securityContext/seccompProfile/type").and_then(Value::as_str) == Some("Unconfined") {
            out.push(violation(
                "Seccomp",
                format!("spec.{key}[*].securityContext.seccompProfile.type"),
                Value::String("Unconfined".into()),
                image(container),
            ));
        }
        // AppArmor (field form, 1.30+).
        if let Some(kind) = container.pointer("/securityContext/appArmorProfile/type").and_then(Value::as_str)
            && !matches!(kind, "RuntimeDefault" | "Localhost")
        {
            out.push(violation(
                "AppArmor",
                format!("spec.{key}[*].securityContext.appArmorProfile.type"),
                Value::String(kind.into()),
                image(container),
            ));
        }
    }
    // Probe and lifecycle handlers must not target another host (1.34+).
    if minor >= 34 {
        for (key, container) in containers(spec) {
            for handler in
                ["livenessProbe", "readinessProbe", "startupProbe", "lifecycle/postStart", "lifecycle/preStop"]
            {
                for action in ["httpGet", "tcpSocket"] {
                    let pointer = format!("/{handler}/{action}/host");
                    let host =
                        container.pointer(&pointer).filter(|host| host.as_str().is_some_and(|host| !host.is_empty()));
                    if let Some(host) = host {
                        out.push(violation(
                            "Host Probes and Lifecycle Hooks",
                            format!("spec.{key}[*].{}.{action}.host", handler.replace('/', ".")),
                            host.clone(),
                            image(container),
                        ));
                    }
                }
            }
        }
    }
    // Host path volumes.
    for volume in spec.get("volumes").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        if let Some(host_path) = volume.get("hostPath") {
            out.push(violation("HostPath Volumes", "spec.volumes[*].hostPath", host_path.clone(), None));
        }
    }
    if let Some(options) = spec.pointer("/securityContext/seLinuxOptions") {
        out.extend(selinux_violations(options, "spec.securityContext.seLinuxOptions", None));
    }
    if spec.pointer("/securityContext/seccompProfile/type").and_then(Value::as_str) == Some("Unconfined") {
        out.push(violation(
            "Seccomp",
            "spec.securityContext.seccompProfile.type",
            Value::String("Unconfined".into()),
            None,
        ));
    }
    if let Some(kind) = spec.pointer("/securityContext/appArmorProfile/type").and_then(Value::as_str)
        && !matches!(kind, "RuntimeDefault" | "Localhost")
    {
        out.push(violation("AppArmor", "spec.securityContext.appArmorProfile.type", Value::String(kind.into()), None));
    }
    // AppArmor annotations.
    if let Some(annotations) = metadata.get("annotations").and_then(Value::as_object) {
        for (key, value) in annotations {
            if key.starts_with("container.apparmor.security.beta.kubernetes.io/") {
                let profile = value.as_str().unwrap_or("");
                if !(profile == "runtime/default" || profile.starts_with("localhost/")) {
                    out.push(violation("AppArmor", format!("metadata.annotations[{key}]"), value.clone(), None));
                }
            }
        }
    }
    // Sysctls outside the safe set.
    let mut safe = vec![
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    ];
    if minor >= 27 {
        safe.push("net.ipv4.ip_local_reserved_ports");
    }
    if minor >= 29 {
        safe.extend([
            "net.ipv4.tcp_keepalive_time",
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes",
        ]);
    }
    if minor >= 32 {
        safe.extend(["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"]);
    }
    for sysctl in
        spec.pointer("/securityContext/sysctls").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
    {
        let name = sysctl.get("name").and_then(Value::as_str).unwrap_or("");
        if !safe.contains(&name) {
            out.push(violation("Sysctls", "spec.securityContext.sysctls[*].name", Value::String(name.into()), None));
        }
    }
    out
}

fn selinux_violations(options: &Value, field: &str, image: Option<String>) -> Vec<Violation> {
    let mut out = Vec::new();
    if let Some(kind) = options.get("type").and_then(Value::as_str)
        && !matches!(kind, "" | "container_t" | "container_init_t" | "container_kvm_t" | "container_engine_t")
    {
        out.push(violation("SELinux", format!("{field}.type"), Value::String(kind.into()), image.clone()));
    }
    for key in ["user", "role"] {
        if let Some(value) = options.get(key).and_then(Value::as_str).filter(|value| !value.is_empty()) {
            out.push(violation("SELinux", format!("{field}.{key}"), Value::String(value.into()), image.clone()));
        }
    }
    out
}

fn restricted(spec: &Value, minor: u32) -> Vec<Violation> {
    let mut out = Vec::new();
    // Volume types.
    const ALLOWED_VOLUMES: &[&str] = &[
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
        "image",
    ];
    for volume in spec.get("volumes").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        if let Some(map) = volume.as_object() {
            for key in map.keys() {
                if key != "name" && !ALLOWED_VOLUMES.contains(&key.as_str()) {
                    out.push(violation(
                        "Volume Types",
                        format!("spec.volumes[*].{key}"),
                        Value::String(key.clone()),
                        None,
                    ));
                }
            }
        }
    }
    // Windows Pods are exempt from the Linux-only restricted checks from 1.25 on.
    let is_windows = minor >= 25 && spec.pointer("/os/name").and_then(Value::as_str) == Some("windows");
    // User-namespaced Pods may run as root inside their namespace from 1.35 on.
    let user_namespaced = minor >= 35 && spec.get("hostUsers") == Some(&Value::Bool(false));
    let pod_run_as_non_root = spec.pointer("/securityContext/runAsNonRoot").and_then(Value::as_bool);
    let pod_seccomp = spec.pointer("/securityContext/seccompProfile/type").and_then(Value::as_str);
    if spec.pointer("/securityContext/runAsUser").and_then(Value::as_i64) == Some(0) && minor >= 23 && !user_namespaced
    {
        out.push(violation("Running as Non-root user", "spec.securityContext.runAsUser", Value::from(0), None));
    }
    if pod_run_as_non_root == Some(false) && !user_namespaced {
        out.push(violation("Running as Non-root", "spec.securityContext.runAsNonRoot", Value::Bool(false), None));
    }
    if let Some(kind) = pod_seccomp
        && !matches!(kind, "RuntimeDefault" | "Localhost")
        && !is_windows
    {
        out.push(violation("Seccomp", "spec.securityContext.seccompProfile.type", Value::String(kind.into()), None));
    }
    for (key, container) in containers(spec) {
        let context = container.get("securityContext");
        let get = |pointer: &str| context.and_then(|context| context.pointer(pointer));
        // /proc mount type stays restricted for user-namespaced Pods at this level (1.35+).
        if minor >= 35
            && user_namespaced
            && let Some(proc_mount) = get("/procMount").filter(|value| value.as_str() != Some("Default"))
        {
            out.push(violation(
                "/proc Mount Type",
                format!("spec.{key}[*].securityContext.procMount"),
                proc_mount.clone(),
                image(container),
            ));
        }
        // Privilege escalation must be explicitly disabled.
        if !is_windows && minor >= 8 && get("/allowPrivilegeEscalation").and_then(Value::as_bool) != Some(false) {
            out.push(violation(
                "Privilege Escalation",
                format!("spec.{key}[*].securityContext.allowPrivilegeEscalation"),
                get("/allowPrivilegeEscalation").cloned().unwrap_or(Value::Null),
                image(container),
            ));
        }
        // Running as non-root: container value, else the pod value, must be true.
        let run_as_non_root = get("/runAsNonRoot").and_then(Value::as_bool);
        let non_root_violated =
            run_as_non_root == Some(false) || (run_as_non_root.is_none() && pod_run_as_non_root != Some(true));
        if non_root_violated && !user_namespaced {
            out.push(violation(
                "Running as Non-root",
                format!("spec.{key}[*].securityContext.runAsNonRoot"),
                get("/runAsNonRoot").cloned().unwrap_or(Value::Null),
                image(container),
            ));
        }
        if minor >= 23 && !user_namespaced && get("/runAsUser").and_then(Value::as_i64) == Some(0) {
            out.push(violation(
                "Running as Non-root user",
                format!("spec.{key}[*].securityContext.runAsUser"),
                Value::from(0),
                image(container),
            ));
        }
        // Seccomp: container value, else the pod value, must be RuntimeDefault or Localhost.
        if minor >= 19 && !is_windows {
            let container_seccomp = get("/seccompProfile/type").and_then(Value::as_str);
            match container_seccomp {
                Some(kind) if !matches!(kind, "RuntimeDefault" | "Localhost") => out.push(violation(
                    "Seccomp",
                    format!("spec.{key}[*].securityContext.seccompProfile.type"),
                    Value::String(kind.into()),
                    image(container),
                )),
                None if !matches!(pod_seccomp, Some("RuntimeDefault") | Some("Localhost")) => out.push(violation(
                    "Seccomp",
                    format!("spec.{key}[*].securityContext.seccompProfile.type"),
                    Value::Null,
                    image(container),
                )),
                _ => {}
            }
        }
        // Capabilities: drop ALL, add at most NET_BIND_SERVICE.
        if minor >= 22 && !is_windows {
            let drops = get("/capabilities/drop").and_then(Value::as_array).cloned().unwrap_or_default();
            if !drops.iter().any(|drop| drop.as_str() == Some("ALL")) {
                out.push(violation(
                    "Capabilities",
                    format!("spec.{key}[*].securityContext.capabilities.drop"),
                    Value::Array(drops),
                    image(container),
                ));
            }
            for capability in get("/capabilities/add").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
            {
                if capability.as_str() != Some("NET_BIND_SERVICE") {
                    out.push(violation(
                        "Capabilities",
                        format!("spec.{key}[*].securityContext.capabilities.add"),
                        capability.clone(),
                        image(container),
                    ));
                }
            }
        }
    }
    out
}
