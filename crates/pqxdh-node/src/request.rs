//! Request bodies as typed structs, one per message type, read with serde.
//!
//! A field that can be given wrongly is a [`Field`]: it records whether the field was absent,
//! null, of the expected JSON type, or of another type, and never fails to deserialize. The
//! handlers then check the fields in their own order and report each problem with the node's
//! own error texts (README.md), not serde's.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::NodeError;

/// A request body, told apart by its `type`.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Request<'a> {
    /// Maelstrom's `init` (taken as such only on the first line).
    Init(#[serde(borrow)] Init<'a>),
    /// `initiate_conversation`.
    InitiateConversation(#[serde(borrow)] InitiateConversation<'a>),
    /// `send_message`.
    SendMessage(#[serde(borrow)] SendMessage<'a>),
    /// `receive_message`.
    ReceiveMessage(#[serde(borrow)] ReceiveMessage<'a>),
    /// `get_bundle`.
    GetBundle(#[serde(borrow)] GetBundle<'a>),
    /// `session_info`.
    SessionInfo(#[serde(borrow)] SessionInfo<'a>),
    /// Any other `type`.
    #[serde(other)]
    Unknown,
}

/// A string field.
pub(crate) type Text<'a> = Field<Cow<'a, str>>;

/// Maelstrom's `init`: the node's id (other fields, like `node_ids`, are not used).
#[derive(Deserialize)]
pub(crate) struct Init<'a> {
    /// The node's id; anything but a string leaves the default id.
    #[serde(default, borrow)]
    pub node_id: Text<'a>,
}

/// `initiate_conversation`: a new session with `recipient`.
#[derive(Deserialize)]
pub(crate) struct InitiateConversation<'a> {
    /// The peer.
    #[serde(default, borrow)]
    pub recipient: Text<'a>,
    /// The recipient's keys as the requester has them (absent or null: the directory's).
    #[serde(default)]
    pub bob_public_key: Field<Map<String, Value>>,
}

/// `send_message`: `plaintext` encrypted for `recipient`.
#[derive(Deserialize)]
pub(crate) struct SendMessage<'a> {
    /// The peer.
    #[serde(default, borrow)]
    pub recipient: Text<'a>,
    /// The message.
    #[serde(default, borrow)]
    pub plaintext: Text<'a>,
}

/// `receive_message`: a message from `sender` to decrypt.
#[derive(Deserialize)]
pub(crate) struct ReceiveMessage<'a> {
    /// The peer.
    #[serde(default, borrow)]
    pub sender: Text<'a>,
    /// The wire message in two parts.
    #[serde(default, borrow)]
    pub encrypted_message: Field<EncryptedMessage<'a>>,
}

/// A wire message as `send_message` returns it.
#[derive(Deserialize)]
pub(crate) struct EncryptedMessage<'a> {
    /// Base64 of the wire message without its tag.
    #[serde(default, borrow)]
    pub ciphertext: Text<'a>,
    /// The 16-byte AES-GCM tag in hex.
    #[serde(default, borrow)]
    pub auth_tag: Text<'a>,
}

/// `get_bundle`: the directory's public bundle of `party`.
#[derive(Deserialize)]
pub(crate) struct GetBundle<'a> {
    /// The party.
    #[serde(default, borrow)]
    pub party: Text<'a>,
}

/// `session_info`: the requester's current session with `peer`.
#[derive(Deserialize)]
pub(crate) struct SessionInfo<'a> {
    /// The peer.
    #[serde(default, borrow)]
    pub peer: Text<'a>,
}

/// What a request held under a field's name.
#[derive(Default)]
pub(crate) enum Field<T> {
    /// The field is absent.
    #[default]
    Missing,
    /// The field is `null`.
    Null,
    /// A value of the expected JSON type.
    Given(T),
    /// A value of another JSON type.
    Mistyped,
}

impl<T: JsonType> Field<T> {
    /// The value of a field the request must give, or the malformed-request error naming it.
    pub fn required(&self, name: &str) -> Result<&T, NodeError> {
        match self {
            Self::Given(v) => Ok(v),
            Self::Missing => Err(NodeError::malformed(format!("missing `{name}`"))),
            Self::Null | Self::Mistyped => {
                Err(NodeError::malformed(format!("`{name}` is not {}", T::NAME)))
            }
        }
    }
}

impl Text<'_> {
    /// The string, if one was given.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Given(text) => Some(text),
            _ => None,
        }
    }
}

/// The JSON type a [`Field`] expects, named for error texts.
pub(crate) trait JsonType {
    /// "a string", "an object".
    const NAME: &'static str;
}

impl JsonType for Cow<'_, str> {
    const NAME: &'static str = "a string";
}

impl JsonType for EncryptedMessage<'_> {
    const NAME: &'static str = "an object";
}

impl JsonType for Map<String, Value> {
    const NAME: &'static str = "an object";
}

/// How a [`Field`] of a JSON type takes its value from a string or an object.
pub(crate) trait Expected<'de>: JsonType + Sized {
    /// The value of a string field; `None` for a field that expects no string.
    fn from_string(_text: Cow<'de, str>) -> Option<Self> {
        None
    }

    /// The value of an object field; `None` (the object read and dropped) for a field that
    /// expects no object.
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

impl<'de: 'a, 'a> Expected<'de> for Cow<'a, str> {
    fn from_string(text: Cow<'de, str>) -> Option<Self> {
        Some(text)
    }
}

/// An object read into its struct (or map) from the map access.
fn object<'de, T: Deserialize<'de>, A: MapAccess<'de>>(map: A) -> Result<Option<T>, A::Error> {
    T::deserialize(MapAccessDeserializer::new(map)).map(Some)
}

impl<'de: 'a, 'a> Expected<'de> for EncryptedMessage<'a> {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        object(map)
    }
}

impl<'de> Expected<'de> for Map<String, Value> {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        object(map)
    }
}

impl<'de, T: Expected<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor(PhantomData))
    }
}

/// Reads any JSON value into a [`Field`]: the expected type's value, or a note of what it was.
struct FieldVisitor<T>(PhantomData<T>);

impl<T> FieldVisitor<T> {
    fn given(value: Option<T>) -> Field<T> {
        value.map_or(Field::Mistyped, Field::Given)
    }
}

impl<'de, T: Expected<'de>> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::NAME)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Self::given(T::from_string(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Self::given(T::from_string(Cow::Owned(v.to_owned()))))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Self::given(T::from_string(Cow::Owned(v))))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::from_map(map).map(Self::given)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Mistyped)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Field::Mistyped)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Field::Mistyped)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Field::Mistyped)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Field::Mistyped)
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
        Ok(Field::Mistyped)
    }
}
