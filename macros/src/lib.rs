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
//! let span = ::logkit::__capture_span!((fn_path(type_name_of_val(&__logkit_here)), level,
//!     target, parent), <fields>);                 // span!, or a disabled span (level)
//! let ret = call_once(move || -> Ret { <body> });   // `return` and `?` stay inside
//! span.record("return", debug(&ret));         // with `ret`
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
//! let start = ::logkit::__capture_start!((fn_path(...), level, target, parent), <fields>); // keys encoded now
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
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, Ident, Item, ItemFn, LitStr, ReturnType, Stmt, Token, Type};

/// Wraps a function in a logkit span: `#[capture]`, `#[capture(k = v, ...)]`, or with
/// `#[instrument]`'s options (`skip`, `fields`, `name`, `level`, `ret`, `err`, `parent`,
/// below).
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
///   types), its message (for any other `Display` error), or its `Debug` text (for
///   an error that is only `Debug`).
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
/// # Options (as `tracing`'s `#[instrument]` takes them)
///
/// | option | effect |
/// | --- | --- |
/// | `fields(k = v, k = %e, k = ?e, k)` | the span's fields (the same as listing them bare); `k = Empty` (`tracing::field::Empty` or any path ending in `Empty`) declares a field the body records later with `logkit::current_span().record("k", v)`, written on `END` |
/// | `skip(a, b)`, `skip_all` | accepted; `skip` checks that each name is an argument (arguments are never recorded unless asked, see below) |
/// | `name = "orders.place"` | the span's name instead of the fn's path (any expression `span!(name = ..)` takes) |
/// | `target = "app::db"` | the span's target (for `LOG_LEVEL` directives) instead of the module path |
/// | `level = "debug"` | the level of the `START` and of a successful `END` (a failed one is always an ERROR), and the span's filtering: when that level is disabled for the span's target, the fn runs without a span — no `START`/`END`, no `span_id`, its fields not evaluated, an `Err` not reported. Without `level`, a span is INFO and always opens, so its failure is written whatever the floor |
/// | `ret`, `ret(?)`/`ret(Debug)`, `ret(%)`/`ret(Display)` | the return value as the `return` field of `END` (Debug by default) |
/// | `err`, `err(Display)`, `err(Debug)` | accepted: an `Err` return already ends the span with `status="error"` and `exc_info` |
/// | `parent = p` | the span's parent instead of the current span: a `SpanId`, `Option<SpanId>` (`None`: a root span of the current trace), a `&Span` or a `CurrentSpan`; the span stays in the current trace |
///
/// An option's name with a different shape (`name`, `level`, `target`, `parent`
/// without `=`) is a field of that name, as before; `level`, `target` and the other
/// keys logkit writes cannot be fields (a compile error says so).
///
/// **Arguments are recorded only when asked** (`#[capture(user, qty = %qty)]` or
/// `fields(..)`), where `#[instrument]` records every argument with `Debug`. logkit
/// takes the opposite default on purpose: a fn's arguments are often secrets
/// (passwords, tokens), large (request bodies, buffers) or not `Debug`; recording them
/// by default would put them in `run.log` unasked, cost a `Debug` format on every
/// call of a hot fn, and make `#[capture]` fail to compile on a fn with a
/// non-`Debug` argument. Name the few that tell the story.
///
/// ```
/// use logkit::capture;
///
/// #[capture(skip(password), fields(user = %user, status_code = tracing::field::Empty), level = "debug", ret)]
/// fn login(user: &str, password: &str) -> bool {
///     let ok = password.len() > 3;
///     logkit::current_span().record("status_code", if ok { 200 } else { 401 });
///     ok
/// }
/// # mod tracing { pub mod field { pub struct Empty; } }
/// # login("ann", "hunter2");
/// ```
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
///
/// The expansion names the crate `::logkit`: a crate that renames the dependency
/// (`lk = { package = "logkit", .. }`) declares `extern crate lk as logkit;` at its
/// root. (logkit's `!` macros need nothing: they expand through `$crate`.)
#[proc_macro_attribute]
pub fn capture(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = TokenStream2::from(attr);
    let item = TokenStream2::from(item);
    let result = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(f)) => syn::parse2::<Args>(attr).and_then(|args| expand(args, f)),
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

/// The attribute's arguments: `tracing::instrument`'s options, and fields.
#[derive(Default)]
struct Args {
    /// Fields bound to the span when it opens, as `span!` takes them.
    fields: Vec<Field>,
    /// `name = ..`: the span's name instead of the fn's path.
    name: Option<Expr>,
    /// `target = ..`: the span's target instead of the module path.
    target: Option<LitStr>,
    /// `level = ..`: the `END` record's level, and the span's filtering.
    level: Option<TokenStream2>,
    /// `parent = ..`.
    parent: Option<Expr>,
    /// `ret`, `ret(%)` / `ret(Display)`, `ret(?)` / `ret(Debug)`: `Some(true)` for Display.
    ret: Option<bool>,
    /// `skip(a, b)`: names that must be arguments of the fn.
    skip: Vec<Ident>,
}

/// `[%|?] key [= [%|?] value]`, where the key is a dotted path of identifiers or a
/// string literal.
struct Field {
    /// The tokens as `span!` takes them.
    tokens: TokenStream2,
    /// The value is `Empty` (`tracing::field::Empty`, `logkit::Empty`): a field that the
    /// body records later with `current_span().record(..)`, not bound when it opens.
    later: bool,
}

impl Parse for Field {
    fn parse(input: ParseStream<'_>) -> syn::Result<Field> {
        let mut tokens = TokenStream2::new();
        let sigil = input.peek(Token![%]) || input.peek(Token![?]);
        if sigil {
            let p: proc_macro2::Punct = input.parse()?;
            tokens.extend(quote!(#p));
        }
        if !sigil && input.peek(LitStr) {
            let k: LitStr = input.parse()?;
            let eq: Token![=] = input.parse()?;
            tokens.extend(quote!(#k #eq));
        } else {
            let first = input.call(Ident::parse_any)?;
            tokens.extend(quote!(#first));
            while input.peek(Token![.]) {
                let dot: Token![.] = input.parse()?;
                let next = input.call(Ident::parse_any)?;
                tokens.extend(quote!(#dot #next));
            }
            if sigil || !input.peek(Token![=]) {
                return Ok(Field { tokens, later: false });
            }
            let eq: Token![=] = input.parse()?;
            tokens.extend(quote!(#eq));
        }
        if input.peek(Token![%]) || input.peek(Token![?]) {
            let p: proc_macro2::Punct = input.parse()?;
            tokens.extend(quote!(#p));
        }
        let value: Expr = input.parse()?;
        let later = matches!(&value, Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Empty"));
        tokens.extend(quote!(#value));
        Ok(Field { tokens, later })
    }
}

/// What the option and field parsers expect, for error messages.
const EXPECTED: &str = "#[capture] takes `skip(arg, ..)`, `skip_all`, `fields(key = value, ..)`, `name = \"..\"`, \
    `target = \"..\"`, `level = \"debug\"`, `ret`, `err`, `parent = ..`, and fields as span! takes them: \
    `key = value`, `key = %value`, `key = ?value`, `key`";

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Args> {
        let mut args = Args::default();
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            let option = if input.peek(Ident::peek_any) && !input.peek2(Token![.]) {
                let fork = input.fork();
                let id = fork.call(Ident::parse_any)?.to_string();
                let is_option = match id.as_str() {
                    "skip" | "fields" => fork.peek(syn::token::Paren),
                    "ret" | "err" => fork.is_empty() || fork.peek(Token![,]) || fork.peek(syn::token::Paren),
                    "skip_all" => fork.is_empty() || fork.peek(Token![,]),
                    "name" | "target" | "level" | "parent" => fork.peek(Token![=]),
                    _ => false,
                };
                is_option.then_some(id)
            } else {
                None
            };
            match option {
                None => {
                    args.fields.push(input.parse().map_err(|e| syn::Error::new(e.span(), format!("{e}: {EXPECTED}")))?)
                }
                Some(opt) => {
                    let id = input.call(Ident::parse_any)?;
                    if seen.contains(&opt) {
                        return Err(syn::Error::new(id.span(), format!("#[capture]: `{opt}` is given twice")));
                    }
                    seen.push(opt.clone());
                    match opt.as_str() {
                        "skip" => {
                            let inner;
                            syn::parenthesized!(inner in input);
                            args.skip =
                                Punctuated::<Ident, Token![,]>::parse_terminated_with(&inner, Ident::parse_any)?
                                    .into_iter()
                                    .collect();
                        }
                        "skip_all" => {}
                        "fields" => {
                            let inner;
                            syn::parenthesized!(inner in input);
                            let fields = Punctuated::<Field, Token![,]>::parse_terminated(&inner).map_err(|e| {
                                syn::Error::new(e.span(), format!("{e}: fields(..) takes fields as span! does: `key = value`, `key = %value`, `key = ?value`, `key`, `key = Empty`"))
                            })?;
                            args.fields.extend(fields);
                        }
                        "ret" => {
                            let display = if input.peek(syn::token::Paren) {
                                let inner;
                                syn::parenthesized!(inner in input);
                                parse_format(&inner, "ret")?
                            } else {
                                false
                            };
                            args.ret = Some(display);
                        }
                        "err" => {
                            // Already implied for a fn returning `Result`: accepted as tracing writes it.
                            if input.peek(syn::token::Paren) {
                                let inner;
                                syn::parenthesized!(inner in input);
                                parse_format(&inner, "err")?;
                            }
                        }
                        "name" => {
                            input.parse::<Token![=]>()?;
                            args.name = Some(input.parse()?);
                        }
                        "target" => {
                            input.parse::<Token![=]>()?;
                            args.target = Some(input.parse().map_err(|e| {
                                syn::Error::new(
                                    e.span(),
                                    "#[capture]: `target` takes a string literal: `target = \"app::db\"`",
                                )
                            })?);
                        }
                        "level" => {
                            input.parse::<Token![=]>()?;
                            args.level = Some(parse_level(input)?);
                        }
                        "parent" => {
                            input.parse::<Token![=]>()?;
                            args.parent = Some(input.parse()?);
                        }
                        _ => unreachable!("options are listed above"),
                    }
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>().map_err(|e| syn::Error::new(e.span(), format!("expected `,`: {EXPECTED}")))?;
        }
        Ok(args)
    }
}

/// `%` / `Display` (true) or `?` / `Debug` (false), inside `ret(..)` / `err(..)`.
fn parse_format(inner: ParseStream<'_>, option: &str) -> syn::Result<bool> {
    let why = || format!("#[capture]: `{option}(..)` takes `Display` (or `%`) or `Debug` (or `?`)");
    if inner.peek(Token![%]) {
        inner.parse::<Token![%]>()?;
        return Ok(true);
    }
    if inner.peek(Token![?]) {
        inner.parse::<Token![?]>()?;
        return Ok(false);
    }
    let id: Ident = inner.parse().map_err(|e| syn::Error::new(e.span(), why()))?;
    let display = match id.to_string().as_str() {
        "Display" => true,
        "Debug" => false,
        _ => return Err(syn::Error::new(id.span(), why())),
    };
    if !inner.is_empty() {
        return Err(syn::Error::new(inner.span(), why()));
    }
    Ok(display)
}

/// `level = "debug"` (or `Level::DEBUG`, `Level::Debug`): the `::logkit::Level`.
fn parse_level(input: ParseStream<'_>) -> syn::Result<TokenStream2> {
    let (word, span) = if input.peek(LitStr) {
        let l: LitStr = input.parse()?;
        (l.value(), l.span())
    } else {
        let p: syn::Path = input.parse().map_err(|e| {
            syn::Error::new(e.span(), "#[capture]: `level` takes \"trace\", \"debug\", \"info\", \"warn\" or \"error\"")
        })?;
        let last = p.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
        (last, p.span())
    };
    let level = match word.to_ascii_lowercase().as_str() {
        "trace" => quote!(Trace),
        "debug" => quote!(Debug),
        "info" => quote!(Info),
        "warn" | "warning" => quote!(Warn),
        "error" => quote!(Error),
        _ => {
            return Err(syn::Error::new(
                span,
                format!("#[capture]: `{word}` is not a level: `level` takes \"trace\", \"debug\", \"info\", \"warn\" or \"error\""),
            ))
        }
    };
    Ok(quote!(::logkit::Level::#level))
}

/// The error, followed by the item unchanged (so that it does not also cause "not
/// found" errors wherever it is used).
fn error_with_item(e: syn::Error, item: TokenStream2) -> TokenStream {
    let mut ts = e.to_compile_error();
    ts.extend(item);
    ts.into()
}

/// The expansion for a function.
fn expand(args: Args, f: ItemFn) -> syn::Result<TokenStream2> {
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

    check_skip(&args.skip, &sig)?;
    let bound: Vec<&TokenStream2> = args.fields.iter().filter(|f| !f.later).map(|f| &f.tokens).collect();
    let fields = quote!(#(, #bound)*);
    let here = Ident::new("__logkit_here", Span::call_site());
    let name = match &args.name {
        Some(Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. })) => quote!(::logkit::__private::StaticName(#s)),
        Some(e) => quote!(#e),
        None => quote! {
            ::logkit::__private::StaticName(::logkit::__private::fn_path(::core::any::type_name_of_val(&#here)))
        },
    };
    let level = match &args.level {
        Some(l) => quote!(::core::option::Option::Some(#l)),
        None => quote!(::core::option::Option::None),
    };
    let target = match &args.target {
        Some(t) => quote!(#t),
        None => quote!(::core::module_path!()),
    };
    let parent = match &args.parent {
        Some(p) => quote!(::logkit::__private::IntoSpanParent::into_span_parent(#p)),
        None => quote!(::logkit::__private::SpanParent::Current),
    };
    let site = quote!((#name, #level, #target, #parent));
    let ret_value = |ret: &Ident| match args.ret {
        Some(true) => Some(quote!(::logkit::__private::display(&#ret))),
        Some(false) => Some(quote!(::logkit::__private::debug(&#ret))),
        None => None,
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
        let on_var = Ident::new("__logkit_on", Span::mixed_site());
        // The span's own handle is not reachable from inside the future: the return
        // value goes to the innermost span of the future's context, which is this one
        // once the body is done (when it opened at all).
        let record_ret = ret_value(&ret_var).map(|v| {
            quote! {
                if #on_var {
                    ::logkit::current_span().record("return", #v);
                }
            }
        });
        quote! {
            fn #here() {}
            let #start_var = ::logkit::__capture_start!(#site #fields);
            let #on_var = #start_var.is_enabled();
            #start_var.wrap(async move {
                let #ret_var #annot = (async move {
                    #pin_type
                    #(#stmts)*
                })
                .await;
                #record_ret
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
            let #span_var = ::logkit::__capture_span!(#site #fields);
            #(#stmts)*
        }
    } else {
        let (hoisted, stmts) = hoist_items(block.stmts);
        let annot = ret_annot.map(|t| quote!(-> #t));
        let once = Ident::new("__logkit_once", Span::mixed_site());
        let record_ret = ret_value(&ret_var).map(|v| quote!(#span_var.record("return", #v);));
        quote! {
            #(#hoisted)*
            fn #here() {}
            // An `FnOnce` closure may return reborrows of what it captured (`&mut self.x`).
            #[inline(always)]
            fn #once<R, F: ::core::ops::FnOnce() -> R>(f: F) -> R {
                f()
            }
            let #span_var = ::logkit::__capture_span!(#site #fields);
            #[allow(clippy::let_unit_value)]
            let #ret_var = #once(move || #annot { #(#stmts)* });
            #record_ret
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

/// `skip(a, b)` names arguments of the fn (as `#[instrument]` requires): logkit
/// records no argument unless asked, so skipping is a check, not a change.
fn check_skip(skip: &[Ident], sig: &syn::Signature) -> syn::Result<()> {
    let args: Vec<String> = sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            syn::FnArg::Receiver(_) => Some("self".to_owned()),
            syn::FnArg::Typed(t) => match &*t.pat {
                syn::Pat::Ident(p) => Some(p.ident.to_string()),
                _ => None,
            },
        })
        .collect();
    for s in skip {
        if !args.contains(&s.to_string()) {
            return Err(syn::Error::new(
                s.span(),
                format!(
                    "#[capture]: `{s}` in skip(..) is not an argument of this fn (its arguments: {})",
                    args.join(", ")
                ),
            ));
        }
    }
    Ok(())
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
