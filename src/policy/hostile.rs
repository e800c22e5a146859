//! What the shard does with each kind of bad input from the network: one function, and the
//! table in the crate docs (section "Hostile input") is checked against it row by row.

/// A kind of bad input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadInput {
    /// Not a JSON object, no `op`, or `op`/`s` not a small non-negative integer.
    BadEnvelope,
    UnknownOpcode,
    DispatchWithoutSeqOrName,
    /// A dispatch well-formed up to `d` whose rest is not.
    MalformedAfterData,
    /// A binary frame without compression, or a corrupt payload-compressed one.
    BadBinary,
    // Nothing inside `d` is read before the user asks for it, so these two have no code
    // path to decide on: the table states the behaviour, the hostile-input tests prove it.
    #[cfg_attr(not(test), allow(dead_code))]
    DeeplyNestedData,
    #[cfg_attr(not(test), allow(dead_code))]
    MalformedInsideData,
    /// A text frame that is not UTF-8, or any websocket protocol violation.
    TransportViolation,
    /// A corrupt or truncated zlib-stream / zstd-stream.
    CorruptStream,
    BadHello,
    TooLarge,
    ReadyWithoutSession,
    InvalidSessionNotTrue,
    InsecureResumeUrl,
}

/// What the shard does about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reaction {
    /// Drop the payload, say why in an `Event::Error`, keep the connection.
    Skip,
    /// Close with 4000 and resume the session (the connection cannot be trusted any more).
    Resume,
    /// Hand it over as it is: only parsing `d` fails.
    Deliver,
    /// Hand it over, with an `Event::Error` saying what is wrong.
    DeliverWithError,
    /// Read as op 9 `false`: identify a new session.
    IdentifyAnew,
    /// Do not use the URL; resume via the gateway URL, with an `Event::Error`.
    AvoidUrl,
}

/// The one reaction to each kind of bad input.
pub(crate) fn reaction(input: BadInput) -> Reaction {
    use BadInput::*;
    match input {
        BadEnvelope | UnknownOpcode | DispatchWithoutSeqOrName | MalformedAfterData | BadBinary => {
            Reaction::Skip
        }
        DeeplyNestedData | MalformedInsideData => Reaction::Deliver,
        // The stream or the framing is broken: nothing after this can be trusted.
        TransportViolation | CorruptStream | BadHello | TooLarge => Reaction::Resume,
        ReadyWithoutSession => Reaction::DeliverWithError,
        InvalidSessionNotTrue => Reaction::IdentifyAnew,
        InsecureResumeUrl => Reaction::AvoidUrl,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind, with the input column of its row in the crate docs' table.
    const ROWS: [(BadInput, &str); 14] = [
        (BadInput::BadEnvelope, "text that is not a JSON object (`[1,2,3]`), an object without `op`, or `op`/`s` not a small non-negative integer"),
        (BadInput::UnknownOpcode, "an unknown opcode"),
        (BadInput::DispatchWithoutSeqOrName, "a dispatch without `t` or without `s`"),
        (BadInput::MalformedAfterData, "a dispatch well-formed up to `d` whose rest is not (unbalanced brackets, a repeated key, text after the object)"),
        (BadInput::BadBinary, "a binary frame without compression, or a corrupt payload-compressed frame"),
        (BadInput::DeeplyNestedData, "`d` nested 10,000 deep"),
        (BadInput::MalformedInsideData, "malformed JSON inside `d` (the top level well-formed, brackets balanced)"),
        (BadInput::TransportViolation, "a text frame that is not UTF-8, a websocket protocol violation"),
        (BadInput::CorruptStream, "a corrupt or truncated zlib-stream / zstd-stream"),
        (BadInput::BadHello, "Hello without a valid `heartbeat_interval`"),
        (BadInput::TooLarge, "a message over `max_message_size`"),
        (BadInput::ReadyWithoutSession, "READY without `session_id`"),
        (BadInput::InvalidSessionNotTrue, "op 9 with a `d` that is not `true`"),
        (BadInput::InsecureResumeUrl, "a `resume_gateway_url` that is not `wss://` (or downgrades TLS)"),
    ];

    /// How the docs word the start of each reaction.
    fn documented(reaction: Reaction) -> &'static str {
        match reaction {
            Reaction::Skip => "skip",
            Reaction::Resume => "resume",
            Reaction::Deliver => "delivered",
            Reaction::DeliverWithError => "delivered, with an [`Event::Error`]",
            Reaction::IdentifyAnew => "treated as `false`",
            Reaction::AvoidUrl => "not used",
        }
    }

    #[test]
    fn the_crate_docs_table_matches_the_reactions_row_by_row() {
        let docs = include_str!("../lib.rs");
        let rows: Vec<(&str, &str)> = docs
            .lines()
            .filter_map(|line| line.strip_prefix("//! | "))
            .filter_map(|row| row.strip_suffix(" |"))
            .filter_map(|row| row.split_once(" | "))
            .filter(|(input, _)| *input != "input" && !input.starts_with("---"))
            .collect();
        assert_eq!(
            rows.len(),
            ROWS.len(),
            "one row per kind of bad input: {rows:?}"
        );
        for (kind, input) in ROWS {
            let (_, documented_reaction) = rows
                .iter()
                .find(|(row_input, _)| *row_input == input)
                .unwrap_or_else(|| panic!("no row for {kind:?} in the crate docs: {input}"));
            let want = documented(reaction(kind));
            assert!(
                documented_reaction.starts_with(want),
                "{kind:?}: the docs say {documented_reaction:?}, the code does {want:?}"
            );
        }
    }
}
