//! A fast path for reading a payload's top level: `op`, `s`, `t` and the span of `d`,
//! without building or validating what is inside `d` (the reader's hot path). Anything it
//! does not understand returns `None`, and the caller falls back to the full serde parse of
//! [`Envelope`](super::Envelope), so odd but valid payloads keep working.

/// The top-level fields of one payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Skim<'a> {
    /// The opcode.
    pub op: u8,
    /// The sequence number, `None` when absent or null.
    pub s: Option<u64>,
    /// The event name, `None` when absent or null.
    pub t: Option<&'a str>,
    /// The raw text of `d`, `"null"` when absent.
    pub d: &'a str,
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `b[i] == '"'`, and whether it has escapes.
fn scan_string(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        match *b.get(j)? {
            b'"' => return Some((j + 1, escaped)),
            b'\\' => {
                escaped = true;
                j += 2;
            }
            _ => j += 1,
        }
    }
}

/// End (exclusive) of the value starting at `b[i]`; nesting is counted, not recursed.
fn scan_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => scan_string(b, i).map(|(end, _)| end),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *b.get(j)? {
                    b'"' => {
                        j = scan_string(b, j)?.0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let end = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .map_or(b.len(), |n| i + n);
            (end > i).then_some(end)
        }
    }
}

fn parse_u64(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Reads the top level of `json`; `None` if it is not a plain `{…}` object with a small
/// integer `op`, integer-or-null `s`, unescaped string-or-null `t`, and no duplicate keys.
pub fn skim(json: &str) -> Option<Skim<'_>> {
    let b = json.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let (mut op, mut s, mut t, mut d) = (None, None, None, None);
    loop {
        i = skip_ws(b, i);
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let (key_end, key_escaped) = scan_string(b, i)?;
        let key = &json[i + 1..key_end - 1];
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let value_end = scan_value(b, i)?;
        let value = &json[i..value_end];
        if key_escaped {
            return None;
        }
        let slot_taken = match key {
            "op" => op.replace(u8::try_from(parse_u64(value)?).ok()?).is_some(),
            "s" => s
                .replace(match value {
                    "null" => None,
                    v => Some(parse_u64(v)?),
                })
                .is_some(),
            "t" => t
                .replace(match value {
                    "null" => None,
                    v if v.starts_with('"') && !v[1..v.len() - 1].contains('\\') => {
                        Some(&v[1..v.len() - 1])
                    }
                    _ => return None,
                })
                .is_some(),
            "d" => d.replace(value).is_some(),
            _ => false,
        };
        if slot_taken {
            return None;
        }
        i = skip_ws(b, value_end);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => break,
            _ => return None,
        }
    }
    if skip_ws(b, i + 1) != b.len() {
        return None;
    }
    Some(Skim {
        op: op?,
        s: s.flatten(),
        t: t.flatten(),
        d: d.unwrap_or("null"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Envelope;

    #[test]
    fn agrees_with_the_full_parse_on_real_payloads() {
        let payloads = [
            r#"{"t":"MESSAGE_CREATE","s":42,"op":0,"d":{"content":"a \"quoted\" } ] brace","n":[1,{"x":[]}]}}"#,
            r#"{"op":10,"d":{"heartbeat_interval":41250,"_trace":["x"]},"s":null,"t":null}"#,
            r#"{"op":11}"#,
            r#" { "op" : 9 , "d" : false } "#,
            r#"{"op":0,"s":1,"t":"READY","d":{"v":10,"user":{"id":"1"},"session_id":"s"}}"#,
            r#"{"op":0,"s":3,"t":"X","d":"a string \\ with escapes \" and \u00e9"}"#,
        ];
        for json in payloads {
            let skim = skim(json).unwrap_or_else(|| panic!("skim refused {json}"));
            let env = Envelope::parse(json).unwrap();
            assert_eq!(skim.op, env.op, "{json}");
            assert_eq!(skim.s, env.s, "{json}");
            assert_eq!(skim.t, env.t.as_deref(), "{json}");
            assert_eq!(skim.d, env.data_json(), "{json}");
        }
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for json in [
            "",
            "[1,2,3]",
            "{not json",
            r#"{"op":"0"}"#,
            r#"{"op":300}"#,
            r#"{"op":-1}"#,
            r#"{"op":1e2}"#,
            r#"{"op":0,"s":-5}"#,
            r#"{"op":0,"op":1}"#,
            r#"{"op":0,"t":"MESSAGE\u005fCREATE","s":1}"#,
            r#"{"d":{}}"#,
            r#"{"op":0,"d":{"open":[}"#,
            r#"{"op":0} trailing"#,
            r#"{"op":0,}"#,
            r#"{"op":0 "s":1}"#,
            r#"{"o\p":0}"#,
        ] {
            assert_eq!(skim(json), None, "{json}");
        }
    }

    #[test]
    fn deep_nesting_needs_no_recursion() {
        let json = format!(
            r#"{{"op":0,"s":1,"t":"DEEP","d":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(skim(&json).unwrap().d.len(), 200_000);
    }
}
