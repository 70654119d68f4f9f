//! Fixed-size secret byte strings: zeroized on drop, redacted in `Debug`, compared in constant time.

/// Declares a newtype over a boxed `[u8; N]` secret.
///
/// The bytes live on the heap so that moving the value does not leave copies on the stack; they are
/// wiped when the value is dropped, never printed, and compared with `subtle` in constant time.
macro_rules! secret_bytes {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
        pub struct $name(Box<[u8; $len]>);

        impl $name {
            /// Length of the secret in bytes.
            pub const LEN: usize = $len;

            /// Wraps secret bytes; the caller's copy should be wiped by the caller.
            pub fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(Box::new(bytes))
            }

            /// Copies secret bytes out of a slice of exactly [`Self::LEN`] bytes.
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                let array: [u8; $len] = bytes.try_into().ok()?;
                Some(Self(Box::new(array)))
            }

            /// The secret bytes. Handle with care: do not log or persist them unprotected.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl subtle::ConstantTimeEq for $name {
            fn ct_eq(&self, other: &Self) -> subtle::Choice {
                self.0[..].ct_eq(&other.0[..])
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                bool::from(subtle::ConstantTimeEq::ct_eq(self, other))
            }
        }

        impl Eq for $name {}
    };
}

pub(crate) use secret_bytes;
