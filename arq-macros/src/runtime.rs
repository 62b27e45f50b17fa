//! The path generated code reaches the runtime through: `::arq` unless `crate = "…"` says
//! otherwise. Everything generated names items as `<crate>::__private::…`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};

/// The `arq` crate as seen from the user's code.
#[derive(Debug, Clone)]
pub(crate) struct Runtime {
    krate: TokenStream,
}

impl Runtime {
    /// `::arq`, or the `crate = "…"` override.
    pub(crate) fn new(krate: Option<syn::Path>) -> Self {
        Runtime {
            krate: match krate {
                Some(path) => path.into_token_stream(),
                None => quote!(::arq),
            },
        }
    }

    /// `<crate>::__private`, the only module generated code uses.
    pub(crate) fn private(&self) -> TokenStream {
        let krate = &self.krate;
        quote!(#krate::__private)
    }

    /// `<crate>::__private` with every token at `span`, so a trait error in a check built
    /// from it points at the user's code rather than at the attribute.
    pub(crate) fn private_at(&self, span: Span) -> TokenStream {
        respan(self.private(), span)
    }
}

/// The same tokens, all at `span` (recursively).
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let proc_macro2::TokenTree::Group(g) = &tt {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                tt = proc_macro2::TokenTree::Group(group);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_override() {
        assert_eq!(
            Runtime::new(None).private().to_string(),
            ":: arq :: __private"
        );
        let path: syn::Path = syn::parse_quote!(crate::reexported::arq);
        assert_eq!(
            Runtime::new(Some(path)).private().to_string(),
            "crate :: reexported :: arq :: __private"
        );
    }
}
