//! `#[capture]` for logkit (being written: currently passes the item through).
use proc_macro::TokenStream;

/// Wraps a function in a logkit span.
#[proc_macro_attribute]
pub fn capture(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
