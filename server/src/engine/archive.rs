//! The archives signed YAML manifests travel in: gzip streams and tar files (ustar, with PAX and GNU
//! long names), read from memory as Go's `compress/gzip` and `archive/tar` read them.

use std::io::Read as _;

/// Decompresses a gzip stream (all its members, checksums checked); `None` when `bytes` is not one.
pub fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).ok()?;
    Some(out)
}

/// A regular file of a tar archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarFile {
    pub name: String,
    pub contents: Vec<u8>,
}

const BLOCK: usize = 512;

/// The regular files of a tar archive in archive order, with directories dropped. Any other entry type
/// (link, device, fifo) is an error, as it is to k8s-manifest-sigstore's reader.
pub fn tar_files(archive: &[u8]) -> Result<Vec<TarFile>, String> {
    let mut files = Vec::new();
    let mut offset = 0;
    let mut long_name: Option<String> = None;
    loop {
        let Some(header) = archive.get(offset..offset + BLOCK) else {
            // Go's reader ends at the end of the data when no end blocks were written.
            if offset >= archive.len() {
                return Ok(files);
            }
            return Err("tar: unexpected end of archive".to_string());
        };
        if header.iter().all(|byte| *byte == 0) {
            // Two zero blocks end the archive; one zero block followed by data is corrupt.
            return match archive.get(offset + BLOCK..offset + 2 * BLOCK) {
                Some(next) if next.iter().any(|byte| *byte != 0) => Err("tar: invalid header".to_string()),
                _ => Ok(files),
            };
        }
        if !checksum_matches(header) {
            return Err("tar: invalid header checksum".to_string());
        }
        let size = parse_number(&header[124..136]).ok_or("tar: invalid size field")?;
        let type_flag = header[156];
        let start = offset + BLOCK;
        let end = start.checked_add(size).ok_or("tar: invalid size field")?;
        let data = archive.get(start..end).ok_or("tar: unexpected end of archive")?;
        offset = start + size.div_ceil(BLOCK) * BLOCK;
        match type_flag {
            // A PAX extended header: its `path` record names the next entry.
            b'x' => {
                if let Some(path) = pax_path(data) {
                    long_name = Some(path);
                }
            }
            // A PAX global header applies to the whole archive; it names nothing.
            b'g' => {}
            // A GNU long name.
            b'L' => long_name = Some(c_string(data)),
            b'0' | 0 | b'5' => {
                let name = long_name.take().unwrap_or_else(|| header_name(header));
                // Go's reader turns an old-style regular entry ending with `/` into a directory.
                let directory = type_flag == b'5' || (type_flag == 0 && name.ends_with('/'));
                if !directory {
                    files.push(TarFile { name, contents: data.to_vec() });
                }
            }
            other => return Err(format!("faced unknown type {} while decompressing tar gz", other as char)),
        }
    }
}

/// The ustar name: `prefix/name` when the prefix field is set.
fn header_name(header: &[u8]) -> String {
    let name = c_string(&header[0..100]);
    let is_ustar = &header[257..262] == b"ustar";
    let prefix = if is_ustar { c_string(&header[345..500]) } else { String::new() };
    if prefix.is_empty() { name } else { format!("{prefix}/{name}") }
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|byte| *byte == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// An octal field, or a base-256 one (high bit set) for large values.
fn parse_number(field: &[u8]) -> Option<usize> {
    if field.first().is_some_and(|byte| byte & 0x80 != 0) {
        let mut value: usize = (field[0] & 0x7f) as usize;
        for byte in &field[1..] {
            value = value.checked_mul(256)?.checked_add(*byte as usize)?;
        }
        return Some(value);
    }
    let text: String =
        field.iter().take_while(|byte| **byte != 0).map(|byte| *byte as char).collect::<String>().trim().to_string();
    if text.is_empty() {
        return Some(0);
    }
    usize::from_str_radix(&text, 8).ok()
}

/// The header checksum, summed with the checksum field as spaces, unsigned or (as old tars wrote it)
/// signed.
fn checksum_matches(header: &[u8]) -> bool {
    let Some(recorded) = parse_number(&header[148..156]) else { return false };
    let unsigned: usize = header
        .iter()
        .enumerate()
        .map(|(index, byte)| if (148..156).contains(&index) { 32 } else { *byte as usize })
        .sum();
    let signed: i64 = header
        .iter()
        .enumerate()
        .map(|(index, byte)| if (148..156).contains(&index) { 32 } else { *byte as i8 as i64 })
        .sum();
    recorded == unsigned || recorded as i64 == signed
}

/// The `path` record of PAX extended header data (`LENGTH path=VALUE\n` records).
fn pax_path(data: &[u8]) -> Option<String> {
    let mut rest = data;
    let mut path = None;
    while !rest.is_empty() {
        let space = rest.iter().position(|byte| *byte == b' ')?;
        let length: usize = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
        let record = rest.get(space + 1..length)?;
        let record = record.strip_suffix(b"\n")?;
        if let Some(value) = record.strip_prefix(b"path=") {
            path = Some(String::from_utf8_lossy(value).into_owned());
        }
        rest = &rest[length..];
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ustar header for a regular file, with its checksum.
    fn header(name: &str, size: usize, type_flag: u8) -> Vec<u8> {
        let mut block = vec![0u8; BLOCK];
        block[..name.len()].copy_from_slice(name.as_bytes());
        block[100..107].copy_from_slice(b"0000644");
        let size_field = format!("{size:011o}");
        block[124..135].copy_from_slice(size_field.as_bytes());
        block[156] = type_flag;
        block[257..263].copy_from_slice(b"ustar\0");
        block[263..265].copy_from_slice(b"00");
        block[148..156].copy_from_slice(b"        ");
        let sum: usize = block.iter().map(|byte| *byte as usize).sum();
        block[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        block
    }

    fn archive(entries: &[(&str, &[u8], u8)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, contents, type_flag) in entries {
            out.extend(header(name, contents.len(), *type_flag));
            out.extend_from_slice(contents);
            out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        }
        out.extend(vec![0u8; 2 * BLOCK]);
        out
    }

    #[test]
    fn regular_files_are_read_and_directories_dropped() {
        let data = archive(&[("dir/", b"", b'5'), ("dir/a.yaml", b"kind: A\n", b'0')]);
        let files = tar_files(&data).expect("a tar archive");
        assert_eq!(files, vec![TarFile { name: "dir/a.yaml".to_string(), contents: b"kind: A\n".to_vec() }]);
    }

    #[test]
    fn links_and_corrupt_headers_are_errors() {
        assert!(tar_files(&archive(&[("link", b"", b'2')])).is_err());
        let mut corrupt = archive(&[("a.yaml", b"x", b'0')]);
        corrupt[0] = b'b';
        assert!(tar_files(&corrupt).is_err());
    }

    #[test]
    fn gzip_streams_decompress_and_other_bytes_do_not() {
        use std::io::Write as _;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(b"kind: A\n").expect("in memory");
        let compressed = encoder.finish().expect("in memory");
        assert_eq!(gunzip(&compressed).as_deref(), Some(&b"kind: A\n"[..]));
        assert_eq!(gunzip(b"kind: A\n"), None);
    }
}
