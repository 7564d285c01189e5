//! Who is calling, and in which namespace. Every non-public route takes a [`Principal`] from
//! [`authenticated`]; its namespace comes from the credential alone (the stored key, or the
//! signed token), never from `?namespace=` or a header, so a request cannot act outside it.

pub mod api_keys;
mod authenticate;
pub mod credentials;
pub mod gate;
pub mod jwt;
mod jwt_material;
mod key_cache;
pub mod login_page;
pub mod request;
pub mod routes;
pub mod service;
pub mod sessions;
pub mod shared_keys;
pub mod sign_in;
#[cfg(test)]
pub mod testing;
pub mod wallet;
pub mod wallet_keys;
pub mod wallet_routes;

pub use authenticate::{
    Authenticator, Credential, Principal, authenticated, optionally_authenticated, valid_namespace,
};
