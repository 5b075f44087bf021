//! The `#[capture]` attribute of [logkit](https://docs.rs/logkit): wraps a function in a
//! logkit span.
//!
//! Use it through `logkit::capture`; this crate is an implementation detail of logkit
//! and its expansion refers to `::logkit::` paths, so the `logkit` crate must be a
//! dependency of the crate that uses the attribute.
//!
//! ```
//! use logkit::capture;
//!
//! #[capture(shard, mode = %"full")]
//! fn reindex(shard: u32) -> Result<usize, std::io::Error> {
//!     logkit::info!("every record in here carries span_id, shard and mode");
//!     Ok(42)
//! }
//! # reindex(3).unwrap();
//! ```
//!
//! # How it expands
//!
//! A sync fn keeps its signature, attributes and visibility; its body becomes
//!
//! ```text
//! fn __logkit_here() {}                       // names the span: the fn's path
//! let span = ::logkit::span!(fn_path(type_name_of_val(&__logkit_here)), <attr fields>);
//! let ret = call_once(move || -> Ret { <body> });   // `return` and `?` stay inside
//! span.__set_outcome(<Err → error, via autoref specialisation on Ret>);
//! drop(span);                                 // the END record
//! ret
//! ```
//!
//! The closure is passed to a generic `FnOnce` helper (rather than called in place) so
//! that it is an `FnOnce` closure: a body that returns a reborrow of a `&mut` argument
//! (`fn get(&mut self) -> &mut T { &mut self.x }`) would not compile in an `FnMut` one.
//! `impl Trait` in the return type becomes `_` in the closure's annotation. Items
//! declared at the top of the body are moved out of the closure so that their paths
//! (and the span names of captured fns among them) do not contain `{{closure}}`.
//!
//! An async fn's body becomes
//!
//! ```text
//! fn __logkit_here() {}
//! let start = ::logkit::__capture_start!(fn_path(...), <attr fields>); // keys encoded now
//! start.wrap(async move {
//!     let ret: Ret = (async move { <body> }).await;
//!     let outcome = <Err → error>;
//!     (ret, outcome)
//! }).await
//! ```
//!
//! where `wrap` returns logkit's `Captured` future: it opens the span at its first
//! poll, runs the body in its own context on whichever thread polls it, and logs END
//! when the body completes, or with `status="error"` (`exc_info.type == "cancelled"`)
//! when it is dropped before completing.
//!
//! # Rejected items
//!
//! Items a span cannot wrap are compile errors that say why:
//!
//! ```compile_fail
//! #[logkit::capture] // error: cannot be applied to a `const fn`
//! const fn answer() -> u32 { 42 }
//! ```
//!
//! ```compile_fail
//! #[logkit::capture] // error: cannot be applied to an `extern` fn
//! extern "C" fn callback() {}
//! ```
//!
//! ```compile_fail
//! #[logkit::capture] // error: applies to functions only
//! struct Order;
//! ```
//!
//! ```compile_fail
//! #[logkit::capture(id = )] // error: expected an expression; fields are `key = value`, ...
//! fn place(id: u32) {}
//! ```

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, Ident, Item, ItemFn, LitStr, ReturnType, Stmt, Token, Type};

/// Wraps a function in a logkit span: `#[capture]` or `#[capture(k = v, ...)]`.
///
/// The span is named after the function's path (`my_crate::orders::place`, or
/// `my_crate::Shop::buy` for a method); while the function runs, every record it
/// logs carries the span's `span_id` (a child of the caller's span) and the
/// attribute's fields; when it returns, one `END` record is logged with `span`,
/// `dur_ms` and `status`.
///
/// * A function whose return type is a `Result` and that returns `Err` (by `?`, an
///   early `return` or its tail) ends with `status="error"` and `exc_info` holding the
///   error's type, message and `source()` chain (for errors that are
///   `std::error::Error`, `Box<dyn Error [+ Send + Sync]>` or `anyhow::Error`-like
///   types), or its message (for any other `Display` error).
/// * A panic ends the span with `status="error"` and the panic in `exc_info`.
/// * An `async fn`'s span opens when its future is first polled and the future runs
///   in its own context, whichever thread polls it; a future dropped before it
///   completes (a timeout, a `select!`) ends with `status="error"` and
///   `exc_info.type == "cancelled"`.
///
/// The fields use `span!`'s syntax (`k = v`, `k = %v` for `Display`, `k = ?v` for
/// `Debug`, shorthand `k`, `%k`, `?k`, dotted and string-literal keys) and may refer
/// to the function's arguments: they are evaluated when the function is called.
///
/// ```
/// use logkit::capture;
///
/// struct Shop { stock: u32 }
///
/// #[derive(Debug)]
/// struct OutOfStock;
/// impl std::fmt::Display for OutOfStock {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("out of stock") }
/// }
/// impl std::error::Error for OutOfStock {}
///
/// impl Shop {
///     // The span is named `<crate>::Shop::buy`; its END has status="error" on `Err`.
///     #[capture(qty, buyer = %buyer)]
///     fn buy(&mut self, buyer: &str, qty: u32) -> Result<u32, OutOfStock> {
///         self.stock = self.stock.checked_sub(qty).ok_or(OutOfStock)?;
///         Ok(self.stock)
///     }
/// }
///
/// #[capture]
/// async fn reindex(shard: u32) -> Result<(), std::io::Error> {
///     logkit::info!(shard, "reindexing");
///     Ok(())
/// }
/// # let mut shop = Shop { stock: 1 };
/// # assert!(shop.buy("ann", 2).is_err());
/// # let _ = reindex(1);
/// ```
///
/// Applies to free functions, methods (`self`, `&self`, `&mut self`), associated and
/// generic functions and `async fn`s. A `const fn` or `extern` fn is rejected: a span
/// can run neither at compile time nor behind a foreign ABI. A sync fn returning
/// `impl Future` is timed until it returns the future, not until the future completes:
/// make it an `async fn` to time the work.
#[proc_macro_attribute]
pub fn capture(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = TokenStream2::from(attr);
    let item = TokenStream2::from(item);
    let result = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(f)) => check_fields(attr.clone()).and_then(|()| expand(attr, f)),
        Ok(Item::Verbatim(v)) if v.to_string().contains("fn ") => {
            Err(syn::Error::new(v.span(), "#[capture] applies to functions with a body only"))
        }
        Ok(other) => Err(syn::Error::new(other.span(), "#[capture] applies to functions (fn, async fn, methods) only")),
        Err(e) => Err(e),
    };
    match result {
        Ok(ts) => ts.into(),
        Err(e) => error_with_item(e, item),
    }
}

/// Checks that the attribute's tokens are `span!` fields, for an error that says what
/// is expected (the tokens are then handed to `span!` as they are).
fn check_fields(attr: TokenStream2) -> syn::Result<()> {
    Punctuated::<Field, Token![,]>::parse_terminated.parse2(attr).map(drop).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("{e}: #[capture] takes fields as span! does: `key = value`, `key = %value`, `key = ?value`, `key`"),
        )
    })
}

/// One field of the attribute: `[%|?] key [= [%|?] value]`, where the key is a dotted
/// path of identifiers or a string literal.
struct Field;

impl Parse for Field {
    fn parse(input: ParseStream<'_>) -> syn::Result<Field> {
        let sigil = input.peek(Token![%]) || input.peek(Token![?]);
        if sigil {
            input.parse::<proc_macro2::Punct>()?;
        }
        if !sigil && input.peek(LitStr) {
            input.parse::<LitStr>()?;
            input.parse::<Token![=]>()?;
        } else {
            input.call(Ident::parse_any)?;
            while input.peek(Token![.]) {
                input.parse::<Token![.]>()?;
                input.call(Ident::parse_any)?;
            }
            if sigil || !input.peek(Token![=]) {
                return Ok(Field);
            }
            input.parse::<Token![=]>()?;
        }
        if input.peek(Token![%]) || input.peek(Token![?]) {
            input.parse::<proc_macro2::Punct>()?;
        }
        input.parse::<Expr>()?;
        Ok(Field)
    }
}

/// The error, followed by the item unchanged (so that it does not also cause "not
/// found" errors wherever it is used).
fn error_with_item(e: syn::Error, item: TokenStream2) -> TokenStream {
    let mut ts = e.to_compile_error();
    ts.extend(item);
    ts.into()
}

/// The expansion for a function.
fn expand(attr: TokenStream2, f: ItemFn) -> syn::Result<TokenStream2> {
    let ItemFn { attrs, vis, sig, block } = f;
    if let Some(c) = &sig.constness {
        return Err(syn::Error::new(
            c.span(),
            "#[capture] cannot be applied to a `const fn`: a span cannot run at compile time",
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new(
            abi.span(),
            "#[capture] cannot be applied to an `extern` fn: capture a Rust fn that it calls instead",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(v.span(), "#[capture] cannot be applied to a variadic fn"));
    }

    let fields = if attr.is_empty() { quote!() } else { quote!(, #attr) };
    let here = Ident::new("__logkit_here", Span::call_site());
    let name = quote! {
        ::logkit::__private::StaticName(::logkit::__private::fn_path(::core::any::type_name_of_val(&#here)))
    };
    // The type the body evaluates to, for annotations: `impl Trait` cannot be written
    // there, so it becomes `_` (inferred from the body).
    let (ret_annot, never) = match &sig.output {
        ReturnType::Default => (None, false),
        ReturnType::Type(_, ty) => {
            let never = matches!(**ty, Type::Never(_));
            let mut ty = (**ty).clone();
            ImplToInfer.visit_type_mut(&mut ty);
            (Some(ty), never)
        }
    };

    // Our own locals are hygienic (mixed-site): the body cannot see or shadow them.
    let span_var = Ident::new("__logkit_span", Span::mixed_site());
    let ret_var = Ident::new("__logkit_ret", Span::mixed_site());
    let outcome = outcome_of(&ret_var);

    let body = if sig.asyncness.is_some() {
        let start_var = Ident::new("__logkit_start", Span::mixed_site());
        let stmts = &block.stmts;
        let annot = ret_annot.as_ref().filter(|t| !matches!(t, Type::Infer(_))).map(|t| quote!(: #t));
        // Fixes the inner block's output type before its body is checked, as a fn's
        // return type is, so that `?` and `.into()` in the body infer as they would.
        let pin_type = ret_annot.as_ref().filter(|t| !matches!(t, Type::Infer(_) | Type::Never(_))).map(|t| {
            quote_spanned! {Span::mixed_site()=>
                #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::empty_loop, clippy::unreachable)]
                if false {
                    let __logkit_fake: #t = loop {};
                    return __logkit_fake;
                }
            }
        });
        quote! {
            fn #here() {}
            let #start_var = ::logkit::__capture_start!(#name #fields);
            #start_var.wrap(async move {
                let #ret_var #annot = (async move {
                    #pin_type
                    #(#stmts)*
                })
                .await;
                let __logkit_outcome = #outcome;
                (#ret_var, __logkit_outcome)
            })
            .await
        }
    } else if never {
        // `-> !`: the fn only ends by unwinding (END with the panic) or by exiting.
        let stmts = &block.stmts;
        quote! {
            fn #here() {}
            let #span_var = ::logkit::span!(#name #fields);
            #(#stmts)*
        }
    } else {
        let (hoisted, stmts) = hoist_items(block.stmts);
        let annot = ret_annot.map(|t| quote!(-> #t));
        let once = Ident::new("__logkit_once", Span::mixed_site());
        quote! {
            #(#hoisted)*
            fn #here() {}
            // An `FnOnce` closure may return reborrows of what it captured (`&mut self.x`).
            #[inline(always)]
            fn #once<R, F: ::core::ops::FnOnce() -> R>(f: F) -> R {
                f()
            }
            let #span_var = ::logkit::span!(#name #fields);
            #[allow(clippy::let_unit_value)]
            let #ret_var = #once(move || #annot { #(#stmts)* });
            #span_var.__set_outcome(#outcome);
            ::core::mem::drop(#span_var);
            #ret_var
        }
    };

    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    })
}

/// `Outcome` of the return value `ret`: the most specific impl of
/// `logkit::__private::outcome` for its type (autoref specialisation).
fn outcome_of(ret: &Ident) -> TokenStream2 {
    quote_spanned! {Span::mixed_site()=>
        ::logkit::__outcome!(&#ret)
    }
}

/// Splits the body's top-level items (fns, structs, `use`s, ...) from its other
/// statements, so that the items can be declared outside the closure. Items cannot
/// capture locals, so moving them keeps their meaning; a body that defines a
/// `macro_rules!` macro is left whole, as macros are scoped by their position.
fn hoist_items(stmts: Vec<Stmt>) -> (Vec<Stmt>, Vec<Stmt>) {
    let defines_macro = stmts.iter().any(|s| match s {
        Stmt::Item(Item::Macro(m)) => m.mac.path.is_ident("macro_rules"),
        _ => false,
    });
    if defines_macro {
        return (Vec::new(), stmts);
    }
    stmts.into_iter().partition(|s| matches!(s, Stmt::Item(i) if !matches!(i, Item::Macro(_) | Item::Verbatim(_))))
}

/// Replaces `impl Trait` with `_`.
struct ImplToInfer;

impl VisitMut for ImplToInfer {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(it) = ty {
            *ty = Type::Infer(syn::TypeInfer { underscore_token: syn::Token![_](it.span()) });
            return;
        }
        visit_mut::visit_type_mut(self, ty);
    }
}
