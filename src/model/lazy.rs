//! [`Lazy`]: a part of a payload kept as its JSON text and parsed on demand.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::fmt;
use std::marker::PhantomData;

/// A field most bots never read, kept as the JSON text of the payload it came in and parsed
/// into `T` when [`get`](Lazy::get) is called: the parse of a MESSAGE_CREATE skips its
/// `member`, `mentions`, `attachments`, `embeds`, `components`, `referenced_message` and
/// `thread` (about half of its cost), and a bot pays for them only where it reads them.
///
/// It borrows from the dispatch, as the model does; `get` borrows from it too. It needs a
/// parser that can lend the text (`serde_json::from_str`, [`Dispatch::data`](crate::Dispatch::data),
/// the dispatcher): `serde_json::from_reader` or `from_value` fail on it.
///
/// ```
/// use syncord::model::{MessageCreate, Snowflake};
///
/// let d = r#"{"id":"1","channel_id":"2","author":{"id":"3","username":"ann"},
///             "mentions":[{"id":"4","username":"bob","member":{"nick":"b"}}]}"#;
/// let message: MessageCreate = serde_json::from_str(d)?;
/// let mentions = message.mentions.get()?; // parsed here, not before
/// assert_eq!(mentions[0].id, Snowflake(4));
/// assert!(message.member.is_none()); // absent (or null): no text to parse
/// # Ok::<(), serde_json::Error>(())
/// ```
pub struct Lazy<'a, T> {
    json: &'a str,
    model: PhantomData<fn() -> T>,
}

impl<'a, T> Lazy<'a, T> {
    /// The field's JSON text, as received.
    pub fn json(&self) -> &'a str {
        self.json
    }

    /// A value holding `json` (JSON text that parses as `T`), for tests and hand-built
    /// models.
    pub fn new(json: &'a str) -> Lazy<'a, T> {
        Lazy {
            json,
            model: PhantomData,
        }
    }
}

impl<'a, T: Deserialize<'a>> Lazy<'a, T> {
    /// Parses the field; an error says what did not fit.
    pub fn get(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.json)
    }
}

impl<'de: 'a, 'a, T> Deserialize<'de> for Lazy<'a, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(deserializer).map(|raw| Lazy::new(raw.get()))
    }
}

/// A lazy list where Discord may send `null` for "none": kept as `[]`. Use with
/// `#[serde(borrow, default, deserialize_with = "lazy::list")]`.
pub(crate) fn list<'de: 'a, 'a, D: Deserializer<'de>, T>(
    deserializer: D,
) -> Result<Lazy<'a, Vec<T>>, D::Error> {
    let lazy = Lazy::<Vec<T>>::deserialize(deserializer)?;
    Ok(if lazy.json == "null" {
        Lazy::default()
    } else {
        lazy
    })
}

/// An absent list reads as `[]`.
impl<T> Default for Lazy<'_, Vec<T>> {
    fn default() -> Self {
        Lazy::new("[]")
    }
}

impl<T> Clone for Lazy<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Lazy<'_, T> {}

impl<T> fmt::Debug for Lazy<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Lazy").field(&self.json).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Holder<'a> {
        #[serde(borrow, default, deserialize_with = "list")]
        list: Lazy<'a, Vec<u8>>,
        #[serde(borrow, default)]
        one: Option<Lazy<'a, u8>>,
    }

    #[test]
    fn keeps_the_text_and_parses_on_get() {
        let holder: Holder = serde_json::from_str(r#"{"list": [1, 2] ,"one":7}"#).unwrap();
        assert_eq!(holder.list.json(), "[1, 2]");
        assert_eq!(holder.list.get().unwrap(), [1, 2]);
        assert_eq!(holder.one.map(|one| one.get().unwrap()), Some(7));
        assert_eq!(format!("{:?}", holder.list), r#"Lazy("[1, 2]")"#);
    }

    #[test]
    fn absent_and_null_read_as_empty_or_none_and_bad_text_fails_on_get() {
        for json in [r#"{"one":null}"#, r#"{"list":null}"#] {
            let holder: Holder = serde_json::from_str(json).unwrap();
            assert!(holder.list.get().unwrap().is_empty() && holder.one.is_none());
        }
        let holder: Holder = serde_json::from_str(r#"{"list":[300]}"#).unwrap();
        let error = holder.list.get().unwrap_err().to_string();
        assert!(error.contains("300"), "{error}");
    }
}
