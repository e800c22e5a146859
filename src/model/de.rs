//! Deserialization helpers shared by the models (`deserialize_with` targets).

use super::snowflake::U64Visitor;
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;

/// Only a field of type exactly `Cow<str>` borrows with `#[serde(borrow)]`; serde's own
/// `Cow` impl (used inside `Option`) always copies. This newtype lets an optional string
/// borrow too.
#[derive(Deserialize)]
struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);

/// An optional string that borrows from the payload when it has no escapes. Use with
/// `#[serde(borrow, default, deserialize_with = "de::cow_opt")]`: absent and `null` are
/// both `None`.
pub(crate) fn cow_opt<'de: 'a, 'a, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    Ok(Option::<Borrowed<'a>>::deserialize(deserializer)?.map(|b| b.0))
}

/// A string that borrows from the payload when it has no escapes, `null` read as empty.
/// Use with `#[serde(borrow, default, deserialize_with = "de::cow_or_empty")]`.
pub(crate) fn cow_or_empty<'de: 'a, 'a, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Cow<'a, str>, D::Error> {
    Ok(cow_opt(deserializer)?.unwrap_or_default())
}

/// A list of strings, each borrowing when it can; `null` read as empty.
pub(crate) fn cow_list<'de: 'a, 'a, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Cow<'a, str>>, D::Error> {
    let list = Option::<Vec<Borrowed<'a>>>::deserialize(deserializer)?;
    Ok(list.unwrap_or_default().into_iter().map(|b| b.0).collect())
}

/// A permission bitfield: a `u64` sent as a decimal string (Discord docs: Topics →
/// Permissions, "serialized into a string"), or as a JSON integer.
pub(crate) fn bits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(U64Visitor(
        "a permission bitfield (a u64 as a decimal string)",
    ))
}

/// An optional [`bits`]; absent and `null` are `None`.
pub(crate) fn bits_opt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    struct Bits(#[serde(deserialize_with = "bits")] u64);
    Ok(Option::<Bits>::deserialize(deserializer)?.map(|b| b.0))
}

/// A list where Discord may send `null` for "none": read as empty.
pub(crate) fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// One element of a [`skip_invalid`] list: the element, or whatever did not fit.
#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    Valid(T),
    Invalid(IgnoredAny),
}

/// A list whose elements that do not fit `T` are left out rather than failing the whole
/// payload; `null` reads as empty. For data Discord passes on unvalidated from user
/// clients (activities: Topics → Gateway Events → Presence Update), where one odd element
/// must not make a GUILD_CREATE unreadable.
pub(crate) fn skip_invalid<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let list = Option::<Vec<Lenient<T>>>::deserialize(deserializer)?;
    Ok(list
        .unwrap_or_default()
        .into_iter()
        .filter_map(|element| match element {
            Lenient::Valid(value) => Some(value),
            Lenient::Invalid(_) => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Fields<'a> {
        #[serde(borrow, default, deserialize_with = "cow_opt")]
        text: Option<Cow<'a, str>>,
        #[serde(borrow, default, deserialize_with = "cow_list")]
        list: Vec<Cow<'a, str>>,
        #[serde(default, deserialize_with = "bits_opt")]
        bits: Option<u64>,
    }

    #[test]
    fn optional_strings_borrow_unless_escaped() {
        let f: Fields = serde_json::from_str(r#"{"text":"plain","list":["a","b\"c"]}"#).unwrap();
        assert!(matches!(f.text, Some(Cow::Borrowed("plain"))));
        assert!(matches!(f.list[0], Cow::Borrowed("a")));
        assert!(matches!(&f.list[1], Cow::Owned(s) if s == "b\"c"));
        let f: Fields = serde_json::from_str(r#"{"text":"a\nb"}"#).unwrap();
        assert!(matches!(f.text, Some(Cow::Owned(ref s)) if s == "a\nb"));
        let f: Fields = serde_json::from_str(r#"{"text":null,"list":null}"#).unwrap();
        assert!(f.text.is_none() && f.list.is_empty() && f.bits.is_none());
    }

    #[test]
    fn skip_invalid_keeps_the_elements_that_fit_and_they_still_borrow() {
        #[derive(Deserialize)]
        struct Item<'a> {
            #[serde(borrow)]
            name: Cow<'a, str>,
            n: u8,
        }
        #[derive(Deserialize)]
        struct List<'a> {
            #[serde(borrow, deserialize_with = "skip_invalid")]
            items: Vec<Item<'a>>,
        }
        let json = r#"{"items":[{"name":"a","n":1},{"name":"b","n":"x"},7,{"name":"c\nd","n":300},{"name":"e","n":2}]}"#;
        let list: List = serde_json::from_str(json).unwrap();
        let names: Vec<&str> = list.items.iter().map(|i| &*i.name).collect();
        assert_eq!(names, ["a", "e"]);
        assert!(matches!(list.items[0].name, Cow::Borrowed("a")));
        assert_eq!(list.items[1].n, 2);
        let list: List = serde_json::from_str(r#"{"items":null}"#).unwrap();
        assert!(list.items.is_empty());
        // Only the elements are lenient: a list that is not a list is still an error.
        assert!(serde_json::from_str::<List>(r#"{"items":{}}"#).is_err());
    }

    #[test]
    fn bitfields_read_strings_and_integers() {
        let f: Fields = serde_json::from_str(r#"{"bits":"2147483648"}"#).unwrap();
        assert_eq!(f.bits, Some(1 << 31));
        let f: Fields = serde_json::from_str(r#"{"bits":8}"#).unwrap();
        assert_eq!(f.bits, Some(8));
        let error = serde_json::from_str::<Fields>(r#"{"bits":"admin"}"#)
            .err()
            .map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("permission bitfield")));
    }
}
