//! Registering a handler by model type: [`TypedEvent`] names the dispatch a type parses and
//! the model it parses into, for every lifetime the model may borrow.

use crate::model::*;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::marker::PhantomData;

/// A model type a handler can be registered for with [`Dispatcher::on`](super::Dispatcher::on):
/// the dispatch's event name and the model it parses into.
///
/// Every event model of [`model`](crate::model) implements it (register them as
/// `on::<MessageCreate>`, without a lifetime). Models borrow from the dispatch, so the trait
/// names the model for any lifetime (`Model<'a>`). To register your own borrowing model,
/// implement it on the model itself with `'static`:
///
/// ```
/// use std::borrow::Cow;
/// use syncord::dispatch::{Dispatcher, TypedEvent};
///
/// /// Only the fields this bot reads.
/// #[derive(serde::Deserialize)]
/// struct Typing<'a> {
///     #[serde(borrow)]
///     channel_id: Cow<'a, str>,
/// }
///
/// impl TypedEvent for Typing<'static> {
///     const NAME: &'static str = "TYPING_START";
///     type Model<'a> = Typing<'a>;
/// }
///
/// let dispatcher = Dispatcher::new();
/// dispatcher.on::<Typing>(|_ctx, typing| println!("typing in {}", typing.channel_id));
/// ```
///
/// A type that owns its data (`twilight_model::channel::Message`, a `serde_json::Value`)
/// needs no impl: register it by event name with
/// [`Dispatcher::on_data`](super::Dispatcher::on_data).
pub trait TypedEvent: 'static {
    /// The dispatch's event name (`t`), e.g. `MESSAGE_CREATE`.
    const NAME: &'static str;
    /// The model, borrowing from a dispatch that lives for `'a`.
    type Model<'a>: Deserialize<'a>;
}

/// What a group of typed handlers parses into (crate-private: the two ways to register).
pub(crate) trait Family: 'static {
    type Model<'a>: Deserialize<'a>;
}

/// Registered with [`Dispatcher::on`](super::Dispatcher::on).
pub(crate) struct ByEvent<M>(PhantomData<fn() -> M>);

impl<M: TypedEvent> Family for ByEvent<M> {
    type Model<'a> = M::Model<'a>;
}

/// Registered with [`Dispatcher::on_data`](super::Dispatcher::on_data).
pub(crate) struct Owned<T>(PhantomData<fn() -> T>);

impl<T: DeserializeOwned + 'static> Family for Owned<T> {
    type Model<'a> = T;
}

macro_rules! borrowed {
    ($($model:ident),* $(,)?) => {$(
        impl TypedEvent for $model<'static> {
            const NAME: &'static str = <$model<'static> as EventModel<'static>>::NAME;
            type Model<'a> = $model<'a>;
        }
    )*};
}

macro_rules! owned {
    ($($model:ident),* $(,)?) => {$(
        impl TypedEvent for $model {
            const NAME: &'static str = <$model as EventModel<'static>>::NAME;
            type Model<'a> = $model;
        }
    )*};
}

borrowed!(
    Ready,
    GuildCreate,
    GuildUpdate,
    GuildRoleCreate,
    GuildRoleUpdate,
    ChannelCreate,
    ChannelUpdate,
    ChannelDelete,
    ThreadCreate,
    ThreadUpdate,
    ThreadDelete,
    MessageCreate,
    MessageUpdate,
    MessageReactionAdd,
    MessageReactionRemove,
    InteractionCreate,
    GuildMemberAdd,
    GuildMemberUpdate,
    GuildMemberRemove,
    GuildMembersChunk,
    PresenceUpdate,
    TypingStart,
    VoiceStateUpdate,
    VoiceServerUpdate,
    UserUpdate,
);

owned!(
    Resumed,
    GuildDelete,
    GuildRoleDelete,
    MessageDelete,
    MessageDeleteBulk
);
