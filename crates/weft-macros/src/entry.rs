//! Parsing and expansion of `#[weft::main]` and `#[weft::test]`.
//!
//! Both attributes turn an `async fn` into a plain `fn` of the same name,
//! visibility and return type whose body hands the original one, as an inner
//! `async fn`, to `weft::__private::run_with` (asyncio.run on a runtime built
//! from a `weft::Builder`). Every problem found in the arguments or the
//! signature is reported at once, each at the tokens it is about; the
//! function is then kept as a plain, never-called `fn` with an unreachable
//! body, so the error is not buried under follow-ups such as "`main` function
//! not found".

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemFn, Lit, LitInt, Meta, Token};

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Main => "`#[weft::main]`",
            Kind::Test => "`#[weft::test]`",
        }
    }
}

/// The attribute's arguments, each with the span of its name so that a
/// duplicate can be reported there.
#[derive(Default)]
struct Config {
    workers: Option<(LitInt, Span)>,
    krate: Option<(syn::Path, Span)>,
    time_limit: Option<(Expr, Span)>,
}

/// Expands `#[weft::main]` or `#[weft::test]` with arguments `args` on
/// `item`.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item) {
        Ok(func) => func,
        Err(e) => {
            let msg = format!("{} applies to an `async fn` only", kind.attr());
            return syn::Error::new(e.span(), msg).to_compile_error();
        }
    };
    let mut errors: Option<syn::Error> = None;
    let config = match parse_args(kind, args) {
        Ok(config) => config,
        Err(e) => {
            push(&mut errors, e);
            Config::default()
        }
    };
    if let Err(e) = check_signature(kind, &func) {
        push(&mut errors, e);
    }
    match errors {
        Some(e) => error_output(e, &func),
        None => generate(kind, &config, func),
    }
}

/// Adds `e` to the errors found so far.
fn push(errors: &mut Option<syn::Error>, e: syn::Error) {
    match errors {
        Some(all) => all.combine(e),
        None => *errors = Some(e),
    }
}

fn parse_args(kind: Kind, args: TokenStream) -> syn::Result<Config> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut config = Config::default();
    let mut errors = None;
    for meta in metas {
        if let Err(e) = parse_arg(kind, &mut config, meta) {
            push(&mut errors, e);
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(config),
    }
}

fn parse_arg(kind: Kind, config: &mut Config, meta: Meta) -> syn::Result<()> {
    let path = meta.path();
    let name = match path.get_ident() {
        Some(ident) => ident.to_string(),
        None => path.to_token_stream().to_string().replace(' ', ""),
    };
    let name_span = path.span();
    match name.as_str() {
        "workers" | "crate" => {}
        "time_limit" if kind == Kind::Test => {}
        "time_limit" => {
            return Err(syn::Error::new(
                name_span,
                "`time_limit` is an argument of `#[weft::test]` only",
            ))
        }
        "start_paused" => {
            return Err(syn::Error::new(
                name_span,
                "`start_paused` is not supported: weft's clock cannot be paused",
            ))
        }
        _ => {
            let expected = match kind {
                Kind::Main => "expected `workers = N` or `crate = \"path\"`",
                Kind::Test => {
                    "expected `workers = N`, `time_limit = DURATION` or `crate = \"path\"`"
                }
            };
            return Err(syn::Error::new(
                name_span,
                format!("unknown argument `{name}`; {expected}"),
            ));
        }
    }
    let value = match meta {
        Meta::NameValue(nv) => nv.value,
        _ => {
            let example = match name.as_str() {
                "workers" => "`workers = 4`",
                "time_limit" => "`time_limit = Duration::from_secs(30)`",
                _ => "`crate = \"my_weft\"`",
            };
            return Err(syn::Error::new(
                meta.span(),
                format!("`{name}` takes a value, as in {example}"),
            ));
        }
    };
    let duplicate = match name.as_str() {
        "workers" => config.workers.as_ref().map(|w| w.1),
        "time_limit" => config.time_limit.as_ref().map(|t| t.1),
        _ => config.krate.as_ref().map(|k| k.1),
    };
    if let Some(first) = duplicate {
        let mut e = syn::Error::new(name_span, format!("duplicate argument `{name}`"));
        e.combine(syn::Error::new(first, format!("`{name}` first given here")));
        return Err(e);
    }
    match name.as_str() {
        "workers" => config.workers = Some((parse_workers(&value)?, name_span)),
        // Any expression: the compiler checks that it is a `Duration`.
        "time_limit" => config.time_limit = Some((value, name_span)),
        _ => config.krate = Some((parse_crate(&value)?, name_span)),
    }
    Ok(())
}

fn parse_workers(value: &Expr) -> syn::Result<LitInt> {
    let lit = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit,
        _ => {
            return Err(syn::Error::new(
                value.span(),
                "`workers` takes a positive integer literal, as in `workers = 4`",
            ))
        }
    };
    if !matches!(lit.suffix(), "" | "usize") {
        return Err(syn::Error::new(
            lit.span(),
            "`workers` is a `usize`: write the number without a suffix",
        ));
    }
    if lit.base10_parse::<usize>()? == 0 {
        return Err(syn::Error::new(lit.span(), "`workers` must be at least 1"));
    }
    Ok(lit.clone())
}

fn parse_crate(value: &Expr) -> syn::Result<syn::Path> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => lit.parse::<syn::Path>().map_err(|_| {
            syn::Error::new(
                lit.span(),
                format!("`{}` is not a path to the weft crate", lit.value()),
            )
        }),
        _ => Err(syn::Error::new(
            value.span(),
            "`crate` takes the path as a string, as in `crate = \"my_weft\"`",
        )),
    }
}

fn check_signature(kind: Kind, func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    let mut errors = None;
    if sig.asyncness.is_none() {
        push(
            &mut errors,
            syn::Error::new(
                sig.fn_token.span,
                format!(
                    "the `async` keyword is missing from the function declaration: \
                     {} runs an `async fn`",
                    kind.attr()
                ),
            ),
        );
    }
    if kind == Kind::Test && sig.ident == "main" {
        push(
            &mut errors,
            syn::Error::new(
                sig.ident.span(),
                "`main` cannot be a test; use `#[weft::main]` to run it",
            ),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let what = match kind {
            Kind::Main if sig.ident == "main" => "the `main` function",
            Kind::Main => "a `#[weft::main]` function",
            Kind::Test => "a test function",
        };
        let msg = format!("{what} cannot be generic");
        let e = match &sig.generics.where_clause {
            Some(w) if sig.generics.params.is_empty() => syn::Error::new_spanned(w, msg),
            _ => syn::Error::new_spanned(&sig.generics, msg),
        };
        push(&mut errors, e);
    }
    if !sig.inputs.is_empty() {
        let what = match kind {
            Kind::Main if sig.ident == "main" => "the `main` function",
            Kind::Main => "a `#[weft::main]` function",
            Kind::Test => "a test function",
        };
        push(
            &mut errors,
            syn::Error::new_spanned(&sig.inputs, format!("{what} cannot take arguments")),
        );
    }
    if let Some(v) = &sig.variadic {
        push(
            &mut errors,
            syn::Error::new_spanned(v, "variadic functions are not supported"),
        );
    }
    if kind == Kind::Test {
        for attr in &func.attrs {
            if attr.path().is_ident("test") {
                push(
                    &mut errors,
                    syn::Error::new_spanned(
                        attr,
                        "a second test attribute: `#[weft::test]` already adds `#[test]`",
                    ),
                );
            }
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn generate(kind: Kind, config: &Config, func: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = func;
    // One name for the facade, so a wrong `crate` path is one error, at the
    // path.
    let use_krate = match &config.krate {
        Some((path, _)) => quote_spanned!(path.span()=> use #path as __weft;),
        None => quote!(
            use ::weft as __weft;
        ),
    };
    let workers = config.workers.as_ref().map(|(n, _)| {
        // Spanned at the literal, so a type error there points at it.
        quote_spanned!(n.span()=> .workers(#n))
    });
    let test_attr = match kind {
        Kind::Test => quote!(#[::core::prelude::v1::test]),
        Kind::Main => TokenStream::new(),
    };
    let output = sig.output.clone();
    sig.asyncness = None;
    // syn keeps the body's inner attributes (`#![allow(..)]`) with the
    // outer ones: they go back at the top of the body.
    let (inner, outer): (Vec<_>, Vec<_>) = attrs
        .into_iter()
        .partition(|a| matches!(a.style, syn::AttrStyle::Inner(_)));
    let stmts = &block.stmts;
    // The body keeps its braces' span: "expected `i32`, found `()`" points
    // at the user's body, as it would without the attribute.
    let mut body = Group::new(Delimiter::Brace, quote!(#(#inner)* #(#stmts)*));
    body.set_span(block.brace_token.span.join());
    // The run call takes the span of the body's closing brace: an error
    // about it shows at the end of the function rather than on the
    // attribute (a wrong `crate` path points at the path, in the `use`).
    let end = block.brace_token.span.close();
    let run = match &config.time_limit {
        Some((limit, _)) => quote_spanned! {end=>
            __weft::__private::run_with_time_limit(
                __weft::Builder::new() #workers,
                #limit,
                __weft_body,
            )
        },
        None => quote_spanned! {end=>
            __weft::__private::run_with(__weft::Builder::new() #workers, __weft_body())
        },
    };
    quote! {
        #test_attr
        #(#outer)*
        #vis #sig {
            #use_krate
            async fn __weft_body() #output #body
            #run
        }
    }
}

/// The errors, and the function kept as a never-called plain `fn` (its
/// arguments, generics, attributes and body dropped, and its return type
/// too where that may name a generic) so that the errors stand alone.
fn error_output(errors: syn::Error, func: &ItemFn) -> TokenStream {
    let errors = errors.to_compile_error();
    let ItemFn { vis, sig, .. } = func;
    let ident = &sig.ident;
    let generic = !sig.generics.params.is_empty() || sig.generics.where_clause.is_some();
    let output = if generic {
        TokenStream::new()
    } else {
        sig.output.to_token_stream()
    };
    quote! {
        #errors
        #[allow(dead_code)]
        #vis fn #ident () #output {
            ::core::unreachable!()
        }
    }
}
