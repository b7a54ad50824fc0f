//! Reading command-line inputs: hex or base64 text, or files read with a
//! size cap.

/// Decodes text as hex, then as base64 (standard or URL-safe, padded or not).
pub fn decode_text(s: &str) -> Option<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if s.is_empty() {
        return None;
    }
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(&s);
    use data_encoding::{BASE64, BASE64URL, BASE64URL_NOPAD, BASE64_NOPAD, HEXLOWER_PERMISSIVE};
    [
        &HEXLOWER_PERMISSIVE,
        &BASE64,
        &BASE64_NOPAD,
        &BASE64URL,
        &BASE64URL_NOPAD,
    ]
    .iter()
    .find_map(|enc| enc.decode(s.as_bytes()).ok())
}

/// The largest file `@path` reads. A hex or base64 text of the largest
/// wire body (10 MiB) fits; anything bigger is refused before it is read.
pub const MAX_INPUT_FILE: u64 = 32 << 20;

/// Reads at most `cap` bytes of `path`, failing if the file holds more.
/// The cap is applied while reading, so `/dev/zero` or a growing file
/// cannot exhaust memory.
pub fn read_capped(path: &str, cap: u64) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let mut raw = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    if raw.len() as u64 > cap {
        return Err(format!(
            "{path} is larger than {cap} bytes; refusing to read it"
        ));
    }
    Ok(raw)
}

/// The bytes named by the command-line argument.
pub fn input_bytes(arg: &str) -> Result<Vec<u8>, String> {
    if let Some(path) = arg.strip_prefix('@') {
        let raw = read_capped(path, MAX_INPUT_FILE)?;
        // A file holding hex or base64 text is decoded; anything else is
        // taken as the raw encoding.
        let text = std::str::from_utf8(&raw).ok().and_then(decode_text);
        return Ok(text.unwrap_or(raw));
    }
    decode_text(arg)
        .ok_or_else(|| "input is neither hex nor base64 (use @file for raw bytes)".into())
}
