//! A fast path for reading a payload's top level: `op`, `s`, `t` and the span of `d`,
//! without building or validating what is inside `d` (the hot path of every payload). Anything it
//! does not understand returns `None`, and the caller falls back to the full serde parse of
//! [`Envelope`](super::Envelope), so odd but valid payloads keep working.
//!
//! The read can stop where a dispatch's `d` begins ([`skim_head`]) and be finished later,
//! on another thread ([`skim_data`]): the reader thread routes the payload from its first
//! few dozen bytes and the caller's thread scans the rest. Both halves together are exactly
//! [`skim`].

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

/// A dispatch read up to its `d`: `op` is 0 and `s` and `t` came before `d`, the order
/// Discord writes them in.
#[derive(Debug, PartialEq, Eq)]
pub struct DispatchHead<'a> {
    /// The sequence number.
    pub s: u64,
    /// The event name.
    pub t: &'a str,
    /// Where the value of `d` starts; [`skim_data`] reads it and the rest of the payload.
    pub data_at: usize,
}

/// What [`skim_head`] read.
#[derive(Debug, PartialEq, Eq)]
pub enum Head<'a> {
    /// The whole payload was read (it is not a dispatch, or its `d` comes early).
    Complete(Skim<'a>),
    /// A dispatch read up to its `d`; what follows is not checked yet.
    Dispatch(DispatchHead<'a>),
}

/// Reads the top level of `json`; `None` if it is not a plain `{…}` object with a small
/// integer `op`, integer-or-null `s`, unescaped string-or-null `t`, and no duplicate keys.
/// The shard reads in two steps (`skim_head`, then `skim_data`); this whole read serves
/// the tests and the fuzz targets.
#[cfg(any(test, feature = "fuzzing"))]
pub fn skim(json: &str) -> Option<Skim<'_>> {
    match skim_head(json)? {
        Head::Complete(top) => Some(top),
        Head::Dispatch(head) => Some(Skim {
            op: 0,
            s: Some(head.s),
            t: Some(head.t),
            d: skim_data(json, head.data_at)?,
        }),
    }
}

/// Reads the top level of `json` like [`skim`], but stops before a dispatch's `d` once
/// `op`, `s` and `t` are known. A [`Head::Dispatch`] is only as good as [`skim_data`]'s
/// verdict on the rest.
pub fn skim_head(json: &str) -> Option<Head<'_>> {
    let b = json.as_bytes();
    let i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let mut cursor = Cursor {
        json,
        i: i + 1,
        op: None,
        s: None,
        t: None,
        d: None,
    };
    match cursor.pairs(true)? {
        Stop::End => cursor.finish().map(Head::Complete),
        Stop::AtData => match (cursor.s, cursor.t) {
            (Some(Some(s)), Some(Some(t))) => Some(Head::Dispatch(DispatchHead {
                s,
                t,
                data_at: cursor.i,
            })),
            _ => None,
        },
    }
}

/// Finishes the read [`skim_head`] paused at `data_at` ([`DispatchHead::data_at`] of the
/// same `json`): the raw text of `d`, or `None` where [`skim`] would refuse the payload.
pub fn skim_data(json: &str, data_at: usize) -> Option<&str> {
    // The state at the pause: `op`, `s` and `t` seen (their values no longer matter,
    // only that a second one is a duplicate), and the next value is `d`'s.
    let mut cursor = Cursor {
        json,
        i: data_at,
        op: Some(0),
        s: Some(None),
        t: Some(None),
        d: None,
    };
    if cursor.value(Key::D)? {
        return cursor.d;
    }
    match cursor.pairs(false)? {
        Stop::End => cursor.d,
        Stop::AtData => None,
    }
}

/// Why [`Cursor::pairs`] returned.
enum Stop {
    /// The object ended and nothing but whitespace follows.
    End,
    /// The next value is a dispatch's `d` (only when asked to pause).
    AtData,
}

#[derive(Clone, Copy)]
enum Key {
    Op,
    S,
    T,
    D,
    Other,
}

/// The state of one top-level read: the position and the fields seen so far.
struct Cursor<'a> {
    json: &'a str,
    i: usize,
    op: Option<u8>,
    s: Option<Option<u64>>,
    t: Option<Option<&'a str>>,
    d: Option<&'a str>,
}

impl<'a> Cursor<'a> {
    /// Reads `"key": value` pairs from `i` (just after `{` or `,`) to the end of the object.
    /// With `pause`, stops with `i` at the value of `d` when `op` is 0 and `s` and `t` are
    /// already known.
    fn pairs(&mut self, pause: bool) -> Option<Stop> {
        let b = self.json.as_bytes();
        loop {
            let i = skip_ws(b, self.i);
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let (key_end, key_escaped) = scan_string(b, i)?;
            if key_escaped {
                return None;
            }
            let key = match &self.json[i + 1..key_end - 1] {
                "op" => Key::Op,
                "s" => Key::S,
                "t" => Key::T,
                "d" => Key::D,
                _ => Key::Other,
            };
            let colon = skip_ws(b, key_end);
            if b.get(colon) != Some(&b':') {
                return None;
            }
            self.i = skip_ws(b, colon + 1);
            if pause
                && matches!(key, Key::D)
                && self.d.is_none()
                && self.op == Some(0)
                && matches!(self.s, Some(Some(_)))
                && matches!(self.t, Some(Some(_)))
            {
                return Some(Stop::AtData);
            }
            if self.value(key)? {
                return Some(Stop::End);
            }
        }
    }

    /// Reads the value at `i` for `key` and what follows it; `true` when the object ended
    /// there.
    fn value(&mut self, key: Key) -> Option<bool> {
        let b = self.json.as_bytes();
        let start = self.i;
        let end = scan_value(b, start)?;
        let value = &self.json[start..end];
        let slot_taken = match key {
            Key::Op => self
                .op
                .replace(u8::try_from(parse_u64(value)?).ok()?)
                .is_some(),
            Key::S => self
                .s
                .replace(match value {
                    "null" => None,
                    v => Some(parse_u64(v)?),
                })
                .is_some(),
            Key::T => self
                .t
                .replace(match value {
                    "null" => None,
                    v if v.starts_with('"') && !v[1..v.len() - 1].contains('\\') => {
                        Some(&v[1..v.len() - 1])
                    }
                    _ => return None,
                })
                .is_some(),
            Key::D => self.d.replace(value).is_some(),
            Key::Other => false,
        };
        if slot_taken {
            return None;
        }
        let i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => {
                self.i = i + 1;
                Some(false)
            }
            Some(b'}') if skip_ws(b, i + 1) == b.len() => {
                self.i = i + 1;
                Some(true)
            }
            _ => None,
        }
    }

    fn finish(self) -> Option<Skim<'a>> {
        Some(Skim {
            op: self.op?,
            s: self.s.flatten(),
            t: self.t.flatten(),
            d: self.d.unwrap_or("null"),
        })
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// 0x80 in each byte of `word` that equals `byte`, 0 in the others. Exact: no carry
/// crosses from one byte to the next.
#[inline(always)]
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    !(((x & !HIGHS) + !HIGHS) | x) & HIGHS
}

/// The first index at or after `j` holding a quote or a backslash, or `b.len()`; 8 bytes
/// at a time.
#[inline(always)]
fn quote_or_backslash(b: &[u8], mut j: usize) -> usize {
    while let Some(chunk) = b.get(j..j + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let mask = bytes_equal(word, b'"') | bytes_equal(word, b'\\');
        if mask != 0 {
            return j + (mask.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while j < b.len() && !matches!(b[j], b'"' | b'\\') {
        j += 1;
    }
    j
}

/// End (exclusive) of the string starting at `b[i] == '"'`, and whether it has escapes.
fn scan_string(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        j = quote_or_backslash(b, j);
        match *b.get(j)? {
            b'"' => return Some((j + 1, escaped)),
            _ => {
                escaped = true;
                j += 2;
            }
        }
    }
}

/// End (exclusive) of the value starting at `b[i]`; nesting is counted, not recursed.
fn scan_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => scan_string(b, i).map(|(end, _)| end),
        b'{' | b'[' => super::extent::container_end(b, i),
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
    fn head_then_data_reads_a_dispatch_in_two_steps() {
        let json = r#"{"t":"MESSAGE_CREATE","s":42,"op":0,"d":{"content":"}\"]"},"x":1}"#;
        let Some(Head::Dispatch(head)) = skim_head(json) else {
            panic!("not paused at d: {:?}", skim_head(json));
        };
        assert_eq!((head.s, head.t), (42, "MESSAGE_CREATE"));
        assert_eq!(&json[head.data_at..head.data_at + 1], "{");
        assert_eq!(skim_data(json, head.data_at), Some(r#"{"content":"}\"]"}"#));
    }

    #[test]
    fn the_second_step_refuses_what_skim_refuses() {
        for json in [
            r#"{"t":"X","s":1,"op":0,"d":{},"s":2}"#,
            r#"{"t":"X","s":1,"op":0,"d":{},"op":0}"#,
            r#"{"t":"X","s":1,"op":0,"d":{},"d":{}}"#,
            r#"{"t":"X","s":1,"op":0,"d":{"open":[}"#,
            r#"{"t":"X","s":1,"op":0,"d":{}} trailing"#,
            r#"{"t":"X","s":1,"op":0,"d":{},"\u0073":2}"#,
        ] {
            let Some(Head::Dispatch(head)) = skim_head(json) else {
                panic!("not paused at d: {json}");
            };
            assert_eq!(skim_data(json, head.data_at), None, "{json}");
            assert_eq!(skim(json), None, "{json}");
        }
    }

    #[test]
    fn only_a_dispatch_with_s_and_t_first_pauses() {
        for json in [
            r#"{"op":0,"d":{},"s":1,"t":"X"}"#,
            r#"{"op":11,"s":null,"t":null,"d":null}"#,
            r#"{"t":null,"s":null,"op":0,"d":{}}"#,
        ] {
            assert!(matches!(skim_head(json), Some(Head::Complete(_))), "{json}");
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
