//! Storage: content-addressed files.
pub mod unixfs;
