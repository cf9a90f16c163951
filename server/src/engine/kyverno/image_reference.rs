//! Image references as Kyverno reads them (`GetImageInfo` in `pkg/utils/image/infos.go`): `docker.io` is
//! put in front of a reference without a registry (no `library/`), the result is parsed with
//! distribution's `reference.Parse` grammar (lower-case path components, tags of word characters, digests
//! of a known algorithm), `latest` is the tag when there is neither tag nor digest, and a digest wins over a
//! tag when the reference is written back.

use std::sync::LazyLock;

use regex::Regex;

/// The parts of an image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    pub registry: String,
    pub path: String,
    pub name: String,
    pub tag: String,
    pub digest: String,
}

impl ImageInfo {
    /// `ImageInfo.String()`: `registry/path@digest`, else `registry/path:tag`.
    pub fn reference(&self) -> String {
        if self.digest.is_empty() {
            format!("{}/{}:{}", self.registry, self.path, self.tag)
        } else {
            format!("{}/{}@{}", self.registry, self.path, self.digest)
        }
    }

    /// `referenceWithTag`: `registry/path:tag`, the tag empty (and the colon kept) for a digest alone.
    pub fn reference_with_tag(&self) -> String {
        format!("{}/{}:{}", self.registry, self.path, self.tag)
    }
}

/// distribution/reference's `ReferenceRegexp`, anchored: name (domain and path), tag, digest.
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    let domain_component = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    let domain_name = format!(r"{domain_component}(?:\.{domain_component})*");
    let host = format!(r"(?:{domain_name}|\[(?:[a-fA-F0-9:]+)\])");
    let domain = format!(r"{host}(?::[0-9]+)?");
    let path_component = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
    let remote_name = format!(r"{path_component}(?:/{path_component})*");
    // Go's `\w` is ASCII only.
    let tag = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
    let digest = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
    Regex::new(&format!(r"^((?:{domain}/)?{remote_name})(?::({tag}))?(?:@({digest}))?$")).expect("a valid pattern")
});

/// `addDefaultRegistry`: `docker.io/` in front unless the first component is a registry (it has a `.` or a
/// `:`, or is `localhost`, or has an upper-case letter).
fn with_default_registry(image: &str) -> String {
    match image.find('/') {
        Some(slash) => {
            let first = &image[..slash];
            if first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first {
                image.to_string()
            } else {
                format!("docker.io/{image}")
            }
        }
        None => format!("docker.io/{image}"),
    }
}

/// The digest as `digest.Parse` accepts it: a known algorithm and its length of lower-case hex.
fn valid_digest(digest: &str) -> Result<(), String> {
    let (algorithm, encoded) = digest.split_once(':').unwrap_or((digest, ""));
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(format!("unsupported digest algorithm: {digest}")),
    };
    if encoded.len() != length || !encoded.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)) {
        return Err(format!("invalid checksum digest format: {digest}"));
    }
    Ok(())
}

/// Reads an image reference as Kyverno does, or says why `reference.Parse` refuses it.
pub fn image_info(image: &str) -> Result<ImageInfo, String> {
    let full = with_default_registry(image);
    let bad = |reason: &str| format!("bad image: {full}: {reason}");
    if image.is_empty() {
        return Err(bad("repository name must have at least one component"));
    }
    let captures = REFERENCE.captures(&full).ok_or_else(|| bad("invalid reference format"))?;
    let name = captures.get(1).map_or("", |found| found.as_str());
    if name.len() > 255 {
        return Err(bad("repository name must not be more than 255 characters"));
    }
    let digest = captures.get(3).map_or("", |found| found.as_str()).to_string();
    if !digest.is_empty() {
        valid_digest(&digest).map_err(|reason| bad(&reason))?;
    }
    // The registry is always there: the default one was added when none was written.
    let (registry, path) = name.split_once('/').unwrap_or(("", name));
    let mut tag = captures.get(2).map_or("", |found| found.as_str()).to_string();
    if tag.is_empty() && digest.is_empty() {
        tag = "latest".to_string();
    }
    Ok(ImageInfo {
        registry: registry.to_string(),
        path: path.to_string(),
        name: path.rsplit('/').next().unwrap_or(path).to_string(),
        tag,
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(image: &str, expect: Result<(&str, &str), &str>) {
        let found = image_info(image).map(|info| (info.reference(), info.reference_with_tag()));
        let expect = expect.map(|(reference, with_tag)| (reference.to_string(), with_tag.to_string()));
        match (&found, &expect) {
            (Err(found), Err(reason)) => assert!(found.contains(reason), "{image}: {found}"),
            _ => assert_eq!(found, expect.map_err(str::to_string), "{image}"),
        }
    }

    #[test]
    fn references_read_as_kyverno_reads_them() {
        let digest = format!("sha256:{}", "a".repeat(64));
        check("nginx", Ok(("docker.io/nginx:latest", "docker.io/nginx:latest")));
        check("library/nginx:1.25", Ok(("docker.io/library/nginx:1.25", "docker.io/library/nginx:1.25")));
        check("ghcr.io/org/app:v1", Ok(("ghcr.io/org/app:v1", "ghcr.io/org/app:v1")));
        check("localhost:5000/app", Ok(("localhost:5000/app:latest", "localhost:5000/app:latest")));
        // A digest wins over the tag in the reference; the tag stays in referenceWithTag.
        let both = format!("nginx:1.2@{digest}");
        let reference = format!("docker.io/nginx@{digest}");
        check(&both, Ok((&reference, "docker.io/nginx:1.2")));
        check(&format!("nginx@{digest}"), Ok((&reference, "docker.io/nginx:")));
        check("", Err("at least one component"));
        check("Nginx", Err("invalid reference format"));
        check("nginx:-bad", Err("invalid reference format"));
        check("nginx:vé", Err("invalid reference format"));
        check(&format!("nginx@md5:{}", "a".repeat(32)), Err("unsupported digest algorithm"));
        check(&format!("nginx@sha256:{}", "A".repeat(64)), Err("invalid checksum digest format"));
    }
}
