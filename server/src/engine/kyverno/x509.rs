//! `x509_decode`: PEM certificates and certificate requests decoded from DER into the fields Kyverno
//! exposes from Go's `x509.Certificate` (names, validity, serial, SANs, CA flag, RSA public key).

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// Decodes a PEM `CERTIFICATE` or `CERTIFICATE REQUEST` block. Only RSA keys are accepted, as in Kyverno.
pub fn decode(pem: &str) -> Result<Value, String> {
    let (kind, der) = pem_block(pem).ok_or("failed to decode PEM block")?;
    let mut outer = Der::new(&der);
    let certificate = outer.read(0x30).ok_or("malformed certificate")?;
    let mut body = Der::new(certificate);
    let tbs = body.read(0x30).ok_or("malformed certificate body")?;
    let mut fields = Der::new(tbs);
    let mut out = Map::new();
    match kind.as_str() {
        "CERTIFICATE" => {
            let version = match fields.peek_tag() {
                Some(0xa0) => {
                    let explicit = fields.read(0xa0).ok_or("malformed version")?;
                    Der::new(explicit).read(0x02).map_or(0, |bytes| bytes.last().copied().unwrap_or(0) as i64)
                }
                _ => 0,
            };
            out.insert("Version".into(), json!(version + 1));
            let serial = fields.read(0x02).ok_or("malformed serial number")?;
            out.insert("SerialNumber".into(), json!(decimal(serial).parse::<f64>().unwrap_or(0.0)));
            fields.read(0x30).ok_or("malformed signature algorithm")?;
            out.insert("Issuer".into(), name(fields.read(0x30).ok_or("malformed issuer")?));
            let mut validity = Der::new(fields.read(0x30).ok_or("malformed validity")?);
            out.insert("NotBefore".into(), json!(time(&mut validity).ok_or("malformed notBefore")?));
            out.insert("NotAfter".into(), json!(time(&mut validity).ok_or("malformed notAfter")?));
            out.insert("Subject".into(), name(fields.read(0x30).ok_or("malformed subject")?));
        }
        "CERTIFICATE REQUEST" => {
            let version = fields.read(0x02).map_or(0, |bytes| bytes.last().copied().unwrap_or(0) as i64);
            out.insert("Version".into(), json!(version));
            out.insert("Subject".into(), name(fields.read(0x30).ok_or("malformed subject")?));
        }
        other => return Err(format!("PEM block type {other:?} is not supported")),
    }
    let key_info = fields.read(0x30).ok_or("malformed public key info")?;
    out.insert("PublicKey".into(), rsa_public_key(key_info)?);
    out.insert("PublicKeyAlgorithm".into(), json!(1));
    let mut dns_names = Vec::new();
    let mut emails = Vec::new();
    let mut uris = Vec::new();
    let mut is_ca = false;
    while let Some((tag, content)) = fields.next() {
        let extensions = match tag {
            0xa3 => Der::new(content).read(0x30),
            0xa0 => attribute_extensions(content),
            _ => None,
        };
        let Some(extensions) = extensions else {
            continue;
        };
        let mut list = Der::new(extensions);
        while let Some(extension) = list.read(0x30) {
            let mut parts = Der::new(extension);
            let oid = parts.read(0x06).map(oid_text).unwrap_or_default();
            if parts.peek_tag() == Some(0x01) {
                parts.read(0x01);
            }
            let Some(value) = parts.read(0x04) else {
                continue;
            };
            match oid.as_str() {
                "2.5.29.17" => {
                    let mut names = Der::new(Der::new(value).read(0x30).unwrap_or_default());
                    while let Some((tag, content)) = names.next() {
                        let text = String::from_utf8_lossy(content).into_owned();
                        match tag {
                            0x82 => dns_names.push(text),
                            0x81 => emails.push(text),
                            0x86 => uris.push(text),
                            _ => {}
                        }
                    }
                }
                "2.5.29.19" => {
                    let mut constraints = Der::new(Der::new(value).read(0x30).unwrap_or_default());
                    is_ca = constraints.read(0x01).is_some_and(|flag| flag.first().copied().unwrap_or(0) != 0);
                }
                _ => {}
            }
        }
    }
    out.insert("DNSNames".into(), json!(dns_names));
    out.insert("EmailAddresses".into(), json!(emails));
    out.insert("URIs".into(), json!(uris));
    out.insert("IsCA".into(), json!(is_ca));
    Ok(Value::Object(out))
}

/// The extension request attribute of a certificate request.
fn attribute_extensions(attributes: &[u8]) -> Option<&[u8]> {
    let mut list = Der::new(attributes);
    while let Some(attribute) = list.read(0x30) {
        let mut parts = Der::new(attribute);
        if parts.read(0x06).map(oid_text).as_deref() == Some("1.2.840.113549.1.9.14") {
            let mut values = Der::new(parts.read(0x31)?);
            return values.read(0x30);
        }
    }
    None
}

fn pem_block(text: &str) -> Option<(String, Vec<u8>)> {
    let begin = text.find("-----BEGIN ")?;
    let rest = &text[begin + 11..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_string();
    let body_start = label_end + 5;
    let end_marker = format!("-----END {label}-----");
    let body_end = rest.find(&end_marker)?;
    if body_end < body_start {
        return None;
    }
    let body: String = rest[body_start..body_end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    Some((label, der))
}

/// A cursor over DER-encoded TLVs.
struct Der<'a> {
    bytes: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Der { bytes }
    }

    fn peek_tag(&self) -> Option<u8> {
        self.bytes.first().copied()
    }

    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let tag = *self.bytes.first()?;
        let first = *self.bytes.get(1)? as usize;
        let (length, header) = if first < 0x80 {
            (first, 2)
        } else {
            let count = first & 0x7f;
            if count == 0 || count > 4 {
                return None;
            }
            let mut length = 0usize;
            for index in 0..count {
                length = (length << 8) | *self.bytes.get(2 + index)? as usize;
            }
            (length, 2 + count)
        };
        let content = self.bytes.get(header..header.checked_add(length)?)?;
        self.bytes = &self.bytes[header + length..];
        Some((tag, content))
    }

    fn read(&mut self, expected: u8) -> Option<&'a [u8]> {
        if self.peek_tag()? != expected {
            return None;
        }
        self.next().map(|(_, content)| content)
    }
}

fn oid_text(bytes: &[u8]) -> String {
    let Some((&first, rest)) = bytes.split_first() else {
        return String::new();
    };
    let mut parts = vec![(first / 40) as u64, (first % 40) as u64];
    let mut value = 0u64;
    for byte in rest {
        value = (value << 7) | (byte & 0x7f) as u64;
        if byte & 0x80 == 0 {
            parts.push(value);
            value = 0;
        }
    }
    parts.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

fn name(sequence: &[u8]) -> Value {
    let mut out: Map<String, Value> = Map::new();
    let mut common_name = String::new();
    let mut serial = String::new();
    let mut sets = Der::new(sequence);
    while let Some(set) = sets.read(0x31) {
        let mut entries = Der::new(set);
        while let Some(entry) = entries.read(0x30) {
            let mut parts = Der::new(entry);
            let oid = parts.read(0x06).map(oid_text).unwrap_or_default();
            let value =
                parts.next().map(|(_, content)| String::from_utf8_lossy(content).into_owned()).unwrap_or_default();
            let key = match oid.as_str() {
                "2.5.4.3" => {
                    common_name = value;
                    continue;
                }
                "2.5.4.5" => {
                    serial = value;
                    continue;
                }
                "2.5.4.6" => "Country",
                "2.5.4.10" => "Organization",
                "2.5.4.11" => "OrganizationalUnit",
                "2.5.4.7" => "Locality",
                "2.5.4.8" => "Province",
                "2.5.4.9" => "StreetAddress",
                "2.5.4.17" => "PostalCode",
                _ => continue,
            };
            if let Some(Value::Array(items)) = out.get_mut(key) {
                items.push(json!(value));
            } else {
                out.insert(key.to_string(), json!([value]));
            }
        }
    }
    for key in ["Country", "Organization", "OrganizationalUnit", "Locality", "Province", "StreetAddress", "PostalCode"]
    {
        out.entry(key.to_string()).or_insert(Value::Null);
    }
    out.insert("SerialNumber".into(), json!(serial));
    out.insert("CommonName".into(), json!(common_name));
    Value::Object(out)
}

fn time(validity: &mut Der<'_>) -> Option<String> {
    let (tag, content) = validity.next()?;
    let text = std::str::from_utf8(content).ok()?;
    let full = match tag {
        0x17 => {
            let year: u32 = text.get(0..2)?.parse().ok()?;
            format!("{}{}", if year >= 50 { 19 } else { 20 }, text)
        }
        0x18 => text.to_string(),
        _ => return None,
    };
    let digits = full.trim_end_matches('Z');
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        digits.get(0..4)?,
        digits.get(4..6)?,
        digits.get(6..8)?,
        digits.get(8..10)?,
        digits.get(10..12)?,
        digits.get(12..14).unwrap_or("00")
    ))
}

fn rsa_public_key(key_info: &[u8]) -> Result<Value, String> {
    let mut parts = Der::new(key_info);
    let mut algorithm = Der::new(parts.read(0x30).ok_or("malformed key algorithm")?);
    if algorithm.read(0x06).map(oid_text).as_deref() != Some("1.2.840.113549.1.1.1") {
        return Err("certificate should use rsa algorithm".to_string());
    }
    let bits = parts.read(0x03).ok_or("malformed public key")?;
    let mut key = Der::new(bits.get(1..).unwrap_or_default());
    let mut numbers = Der::new(key.read(0x30).ok_or("malformed RSA key")?);
    let modulus = numbers.read(0x02).ok_or("malformed RSA modulus")?;
    let exponent = numbers.read(0x02).ok_or("malformed RSA exponent")?;
    let exponent = exponent.iter().fold(0u64, |value, byte| (value << 8) | *byte as u64);
    Ok(json!({"N": decimal(modulus), "E": exponent}))
}

/// A big-endian unsigned integer as decimal text.
fn decimal(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = vec![0];
    for byte in bytes {
        let mut carry = *byte as u32;
        for digit in digits.iter_mut() {
            let value = *digit as u32 * 256 + carry;
            *digit = (value % 10) as u8;
            carry = value / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    digits.iter().rev().map(|digit| char::from(b'0' + digit)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_of_big_integers() {
        assert_eq!(decimal(&[0x01, 0x00]), "256");
        assert_eq!(decimal(&[0xff; 9]), "4722366482869645213695");
        assert_eq!(decimal(&[]), "0");
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(decode("not a certificate").is_err());
        assert!(decode("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----").is_err());
    }
}
