//! Discord's ids (Discord docs: Reference → Snowflakes).

use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A Discord id: a `u64`, sent as a JSON string (Reference → Snowflakes: "always returned
/// as strings" so that languages without 64-bit integers keep every digit).
///
/// Deserializes from a decimal string, and also from a JSON integer (other servers and
/// hand-written payloads send those); serializes as a string, as Discord expects. The
/// top 42 bits are the creation time in milliseconds since the Discord epoch.
///
/// ```
/// use syncord::model::Snowflake;
/// use std::time::{Duration, UNIX_EPOCH};
///
/// // The example of Discord's docs (Reference → Snowflakes).
/// let id: Snowflake = serde_json::from_str(r#""175928847299117063""#)?;
/// assert_eq!(id.get(), 175928847299117063);
/// assert_eq!(id.timestamp(), UNIX_EPOCH + Duration::from_millis(1462015105796));
/// assert_eq!(serde_json::to_string(&id)?, r#""175928847299117063""#);
/// assert_eq!("175928847299117063".parse::<Snowflake>(), Ok(id));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Snowflake(pub u64);

impl Snowflake {
    /// The Discord epoch, the first second of 2015, in milliseconds since the Unix epoch.
    pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

    /// Wraps a raw id.
    pub const fn new(id: u64) -> Snowflake {
        Snowflake(id)
    }

    /// The raw id.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// When the id was made, in milliseconds since the Unix epoch (bits 63 to 22 plus the
    /// Discord epoch).
    pub const fn timestamp_ms(self) -> u64 {
        (self.0 >> 22) + Snowflake::DISCORD_EPOCH_MS
    }

    /// When the id was made: the creation time of the user, message, channel… it names.
    pub fn timestamp(self) -> SystemTime {
        // At most 2^42 ms after 2015 (the year 2154): within `SystemTime` on every platform
        // std supports, so the fallback is never taken.
        UNIX_EPOCH
            .checked_add(Duration::from_millis(self.timestamp_ms()))
            .unwrap_or(UNIX_EPOCH)
    }

    /// The internal worker id (bits 21 to 17).
    pub const fn worker_id(self) -> u8 {
        ((self.0 >> 17) & 0x1f) as u8
    }

    /// The internal process id (bits 16 to 12).
    pub const fn process_id(self) -> u8 {
        ((self.0 >> 12) & 0x1f) as u8
    }

    /// The increment (bits 11 to 0): ids made before this one on its process.
    pub const fn increment(self) -> u16 {
        (self.0 & 0xfff) as u16
    }
}

impl From<u64> for Snowflake {
    fn from(id: u64) -> Snowflake {
        Snowflake(id)
    }
}

impl From<Snowflake> for u64 {
    fn from(id: Snowflake) -> u64 {
        id.0
    }
}

impl fmt::Display for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The text given to [`Snowflake`]'s `FromStr` was not a decimal `u64`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseSnowflakeError;

impl fmt::Display for ParseSnowflakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "not a Discord id: a snowflake is 1 to 20 decimal digits that fit a u64, \
             e.g. 175928847299117063",
        )
    }
}

impl std::error::Error for ParseSnowflakeError {}

impl FromStr for Snowflake {
    type Err = ParseSnowflakeError;

    /// Parses decimal digits only (no sign, no spaces: `u64::from_str` would take `+1`).
    fn from_str(text: &str) -> Result<Snowflake, ParseSnowflakeError> {
        // One pass over the digits (every id of every model goes through here).
        if text.is_empty() {
            return Err(ParseSnowflakeError);
        }
        let mut id: u64 = 0;
        for byte in text.bytes() {
            let digit = byte.wrapping_sub(b'0');
            if digit > 9 {
                return Err(ParseSnowflakeError);
            }
            id = id
                .checked_mul(10)
                .and_then(|id| id.checked_add(u64::from(digit)))
                .ok_or(ParseSnowflakeError)?;
        }
        Ok(Snowflake(id))
    }
}

impl Serialize for Snowflake {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Snowflake {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Snowflake, D::Error> {
        deserializer
            .deserialize_any(U64Visitor(
                "a Discord snowflake (a u64 as a decimal string)",
            ))
            .map(Snowflake)
    }
}

/// Reads a `u64` sent as a decimal string (Discord's way for ids and permission bitfields)
/// or as a JSON integer. The text says what was expected, for the error.
pub(crate) struct U64Visitor(pub &'static str);

impl Visitor<'_> for U64Visitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<u64, E> {
        match text.parse::<Snowflake>() {
            Ok(id) => Ok(id.0),
            Err(_) => Err(E::invalid_value(Unexpected::Str(text), &self)),
        }
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
        Ok(value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
        u64::try_from(value).map_err(|_| E::invalid_value(Unexpected::Signed(value), &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference → Snowflakes: 175928847299117063 was made 2016-04-30 11:18:25.796 UTC
    /// by worker 1, process 0, increment 7.
    const DOCS_EXAMPLE: Snowflake = Snowflake(175928847299117063);

    #[test]
    fn the_docs_example_decodes_to_its_timestamp_and_parts() {
        // 2016-04-30 11:18:25.796 UTC in Unix ms (16921 days after 1970 plus the time).
        let expected_ms = 16_921 * 86_400_000 + ((11 * 60 + 18) * 60 + 25) * 1000 + 796;
        assert_eq!(DOCS_EXAMPLE.timestamp_ms(), expected_ms);
        assert_eq!(DOCS_EXAMPLE.timestamp_ms(), 1_462_015_105_796);
        assert_eq!(
            DOCS_EXAMPLE.timestamp(),
            UNIX_EPOCH + Duration::from_millis(1_462_015_105_796)
        );
        assert_eq!(DOCS_EXAMPLE.worker_id(), 1);
        assert_eq!(DOCS_EXAMPLE.process_id(), 0);
        assert_eq!(DOCS_EXAMPLE.increment(), 7);
    }

    #[test]
    fn zero_is_the_discord_epoch_and_the_largest_id_does_not_overflow() {
        assert_eq!(
            Snowflake(0).timestamp(),
            UNIX_EPOCH + Duration::from_millis(Snowflake::DISCORD_EPOCH_MS)
        );
        let max = Snowflake(u64::MAX);
        assert_eq!(max.timestamp_ms(), (u64::MAX >> 22) + 1_420_070_400_000);
        assert!(max.timestamp() > DOCS_EXAMPLE.timestamp());
        assert_eq!((max.worker_id(), max.process_id()), (31, 31));
        assert_eq!(max.increment(), 4095);
    }

    #[test]
    fn deserializes_from_a_string_or_an_integer_and_serializes_as_a_string() {
        let from_string: Snowflake = serde_json::from_str(r#""175928847299117063""#).unwrap();
        let from_integer: Snowflake = serde_json::from_str("175928847299117063").unwrap();
        assert_eq!(from_string, DOCS_EXAMPLE);
        assert_eq!(from_integer, DOCS_EXAMPLE);
        assert_eq!(
            serde_json::to_string(&DOCS_EXAMPLE).unwrap(),
            r#""175928847299117063""#
        );
        let max: Snowflake = serde_json::from_str(r#""18446744073709551615""#).unwrap();
        assert_eq!(max, Snowflake(u64::MAX));
    }

    #[test]
    fn bad_ids_are_clear_errors() {
        for json in [
            r#""""#,
            r#""12a""#,
            r#""+1""#,
            r#"" 1""#,
            r#""-1""#,
            r#""18446744073709551616""#,
            "-1",
            "1.5",
            "null",
            "true",
            "[]",
        ] {
            let error = serde_json::from_str::<Snowflake>(json).unwrap_err();
            assert!(
                error.to_string().contains("Discord snowflake"),
                "{json}: {error}"
            );
        }
    }

    #[test]
    fn from_str_takes_digits_only_and_display_round_trips() {
        assert_eq!("0".parse(), Ok(Snowflake(0)));
        assert_eq!("0000000000000000000000042".parse(), Ok(Snowflake(42)));
        assert_eq!("18446744073709551615".parse(), Ok(Snowflake(u64::MAX)));
        assert_eq!(DOCS_EXAMPLE.to_string().parse(), Ok(DOCS_EXAMPLE));
        for text in [
            "",
            "+7",
            "7 ",
            "0x10",
            "18446744073709551616",
            "99999999999999999999",
            "١٢",
            "1/",
        ] {
            assert_eq!(
                text.parse::<Snowflake>(),
                Err(ParseSnowflakeError),
                "{text}"
            );
        }
        assert!(ParseSnowflakeError.to_string().contains("decimal digits"));
    }

    #[test]
    fn ids_order_by_creation_time_and_hash_by_value() {
        let older = Snowflake(DOCS_EXAMPLE.0 - (1 << 22));
        assert!(older < DOCS_EXAMPLE);
        assert!(older.timestamp() < DOCS_EXAMPLE.timestamp());
        let set: std::collections::HashSet<Snowflake> =
            [DOCS_EXAMPLE, Snowflake::from(175928847299117063), older].into();
        assert_eq!(set.len(), 2);
        assert_eq!(u64::from(DOCS_EXAMPLE), 175928847299117063);
    }
}
