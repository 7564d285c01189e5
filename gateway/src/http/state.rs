//! Handing a route its shared state. warp's `or` copies the branch it may fall back to into
//! every request's future, so a filter that captured a context by value would clone the whole
//! context (every `Arc`, cache handle and counter in it) for each request that merely passes
//! by. [`with`] captures it behind one `Arc`: passing by costs a reference count, and the
//! context is cloned only for a request its route takes.

use std::sync::Arc;

use warp::Filter;

/// A filter giving each request a clone of `value`.
pub fn with<T: Clone + Send + Sync + 'static>(
    value: T,
) -> impl Filter<Extract = (T,), Error = std::convert::Infallible> + Clone {
    let value = Arc::new(value);
    warp::any().map(move || T::clone(&value))
}
