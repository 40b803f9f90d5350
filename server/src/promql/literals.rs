//! String literal unquoting: Go's escapes (as upstream's lexer accepts them) in `"` and `'` strings, none in
//! `` ` `` strings. Messages are upstream's (`unknown escape sequence U+0063 'c'`, ...).

/// Unquotes a PromQL string literal (quotes included). The error is the message to report at the literal.
pub fn unquote(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    if b.len() < 2 || b[0] != b[b.len() - 1] || !matches!(b[0], b'"' | b'\'' | b'`') {
        return Err("invalid syntax".into());
    }
    let quote = b[0] as char;
    let body = &s[1..s.len() - 1];
    if quote == '`' {
        return Ok(body.replace('\r', ""));
    }
    if !body.contains('\\') {
        return Ok(body.to_string());
    }
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next().ok_or("escape sequence not terminated")?;
        let simple = match e {
            'a' => Some(7u8),
            'b' => Some(8),
            'f' => Some(0xc),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0xb),
            '\\' => Some(b'\\'),
            c if c == quote => Some(c as u8),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            continue;
        }
        let (digits, base, max, first) = match e {
            'x' => (2, 16, 0xff, None),
            'u' => (4, 16, 0x10ffff, None),
            'U' => (8, 16, 0x10ffff, None),
            '0'..='7' => (3, 8, 0xff, Some(e)),
            other => return Err(format!("unknown escape sequence U+{:04X} '{other}'", other as u32)),
        };
        let mut value: u32 = 0;
        for i in 0..digits {
            let d = match (i, first) {
                (0, Some(f)) => f,
                _ => chars.next().ok_or("escape sequence not terminated")?,
            };
            let v = d
                .to_digit(base)
                .ok_or_else(|| format!("illegal character U+{:04X} '{d}' in escape sequence", d as u32))?;
            value = value * base + v;
        }
        if value > max {
            return Err("escape sequence is invalid Unicode code point".into());
        }
        match e {
            'u' | 'U' => {
                let c = char::from_u32(value).ok_or("escape sequence is invalid Unicode code point")?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            // `\xHH` and `\ooo` are bytes.
            _ => out.push(value as u8),
        }
    }
    String::from_utf8(out).map_err(|_| format!("invalid UTF-8 in string literal {s}"))
}

#[cfg(test)]
mod tests {
    use super::unquote;

    #[test]
    fn escapes() {
        let ok: &[(&str, &str)] = &[
            (r#""plain""#, "plain"),
            (r#""a\"b""#, "a\"b"),
            (r"'a\'b'", "a'b"),
            (r#""\a\b\f\n\r\t\v\\""#, "\u{7}\u{8}\u{c}\n\r\t\u{b}\\"),
            (r#""\x41\101\u00e9\U0001F600""#, "AAé😀"),
            ("`raw\\n`", "raw\\n"),
        ];
        for (q, want) in ok {
            assert_eq!(unquote(q).as_deref(), Ok(*want), "{q}");
        }
        let bad: &[(&str, &str)] = &[
            (r#""\c""#, "unknown escape sequence U+0063 'c'"),
            (r#""\x.""#, "illegal character U+002E '.' in escape sequence"),
            (r#""\'""#, "unknown escape sequence U+0027 '''"),
            (r#""\ud800""#, "escape sequence is invalid Unicode code point"),
            (r#""\xff""#, "invalid UTF-8 in string literal \"\\xff\""),
            (r#""\1""#, "escape sequence not terminated"),
        ];
        for (q, want) in bad {
            assert_eq!(unquote(q).unwrap_err(), *want, "{q}");
        }
    }
}
