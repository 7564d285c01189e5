//! Values bound to a statement's `?` placeholders. [`Args`] turns what a caller has (nothing,
//! one value, a tuple, a list) into the JSON array the API binds: never into SQL text.

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// Values for a statement's `?` placeholders, in order.
///
/// ```
/// use orama_client::database::Args;
/// assert!(().into_args()?.is_empty());
/// assert_eq!(18.into_args()?, vec![serde_json::json!(18)]);
/// assert_eq!(("ada", 36, true).into_args()?, vec![serde_json::json!("ada"), serde_json::json!(36), serde_json::json!(true)]);
/// # Ok::<(), orama_client::Error>(())
/// ```
pub trait Args {
    /// The values as JSON, in placeholder order.
    fn into_args(self) -> Result<Vec<Value>>;
}

fn value(v: impl Serialize) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::Invalid(format!("an argument is not a value: {e}")))
}

impl Args for () {
    fn into_args(self) -> Result<Vec<Value>> {
        Ok(Vec::new())
    }
}

impl Args for Vec<Value> {
    fn into_args(self) -> Result<Vec<Value>> {
        Ok(self)
    }
}

impl Args for &[Value] {
    fn into_args(self) -> Result<Vec<Value>> {
        Ok(self.to_vec())
    }
}

macro_rules! one_value {
    ($($t:ty),*) => {$(
        impl Args for $t {
            fn into_args(self) -> Result<Vec<Value>> {
                Ok(vec![value(self)?])
            }
        }
    )*};
}

one_value!(
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    f32,
    f64,
    bool,
    &str,
    String,
    &String,
    Value,
    Option<i64>,
    Option<String>,
    Option<&str>
);

macro_rules! tuple {
    ($($name:ident)+) => {
        impl<$($name: Serialize),+> Args for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_args(self) -> Result<Vec<Value>> {
                let ($($name,)+) = self;
                Ok(vec![$(value($name)?),+])
            }
        }
    };
}

tuple!(A);
tuple!(A B);
tuple!(A B C);
tuple!(A B C D);
tuple!(A B C D E);
tuple!(A B C D E F);
tuple!(A B C D E F G);
tuple!(A B C D E F G H);
