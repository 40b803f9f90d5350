//! String literal unquoting (Go's rules, as upstream's `strutil.Unquote`).

/// Unquotes a PromQL string literal (with its quotes): Go escapes in `"` and `'` strings, none in `` ` `` ones.
pub fn unquote(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    if b.len() < 2 || b[0] != b[b.len() - 1] || !matches!(b[0], b'"' | b'\'' | b'`') {
        return Err("invalid syntax".into());
    }
    let quote = b[0];
    let body = &s[1..s.len() - 1];
    if quote == b'`' {
        return Ok(body.replace('\r', ""));
    }
    if !body.contains('\\') {
        return Ok(body.to_string());
    }
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let Some((_, e)) = chars.next() else {
            return Err("invalid syntax".into());
        };
        let simple = match e {
            'a' => Some(7u8),
            'b' => Some(8),
            'f' => Some(0xc),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0xb),
            '\\' => Some(b'\\'),
            '"' if quote == b'"' => Some(b'"'),
            '\'' if quote == b'\'' => Some(b'\''),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            continue;
        }
        let take = |n: usize, chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| -> Option<&str> {
            let start = i + 2;
            let end = start + n;
            for _ in 0..n {
                chars.next()?;
            }
            body.get(start..end)
        };
        match e {
            'x' => {
                let v = take(2, &mut chars).and_then(hex).ok_or("invalid syntax")?;
                out.push(v as u8);
            }
            'u' | 'U' => {
                let n = if e == 'u' { 4 } else { 8 };
                let v = take(n, &mut chars).and_then(hex).ok_or("invalid syntax")?;
                let c = char::from_u32(v).ok_or("escape sequence is invalid Unicode code point")?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            '0'..='7' => {
                let start = i + 1;
                for _ in 0..2 {
                    chars.next().ok_or("invalid syntax")?;
                }
                let v = body
                    .get(start..start + 3)
                    .and_then(|s| u32::from_str_radix(s, 8).ok())
                    .ok_or("invalid syntax")?;
                if v > 255 {
                    return Err("invalid syntax".into());
                }
                out.push(v as u8);
            }
            other => return Err(format!("unknown escape sequence U+{:04X} '{other}'", other as u32)),
        }
    }
    String::from_utf8(out).map_err(|_| format!("invalid UTF-8 in string literal {s}"))
}
