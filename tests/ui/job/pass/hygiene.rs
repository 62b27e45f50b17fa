//! The expansion must not depend on names in the user's scope: shadow the prelude, `serde`,
//! `arq`, `core` and `std`, use parameter names the macro also uses, a type called `Output`,
//! and `self::`/`super::` paths.
#![deny(warnings, missing_docs)]
#![allow(non_camel_case_types, clippy::disallowed_names)]

/// Types the jobs use, one module up from them.
pub mod types {
    /// A user type that happens to share the generated alias's name.
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    pub struct Output(pub u32);
}

/// Everything a careless expansion would trip over.
pub mod shadowed {
    #![allow(dead_code, unused_imports)]

    /// Not `core::result::Result`.
    pub struct Result;
    /// Not `core::option::Option`.
    pub struct Option;
    /// Not `std::boxed::Box`.
    pub struct Box;
    /// Not `std::vec::Vec`.
    pub struct Vec;
    /// Not `std::string::String`.
    pub struct String;
    /// Not `Result::Ok`.
    pub struct Ok;
    /// Not `Result::Err`.
    pub struct Err;
    /// Not `Option::Some`.
    pub struct Some;
    /// Not `Option::None`.
    pub struct None;
    /// Not `Into`.
    pub trait Into {}
    /// Not `Iterator`.
    pub trait Iterator {}
    /// Not the serde crate.
    pub mod serde {}
    /// Not the arq crate.
    pub mod arq {}
    /// Not the core crate.
    pub mod core {}
    /// Not the std crate.
    pub mod std {}
    /// Names of the runtime, shadowed too.
    pub struct Value;
    /// Shadows the context type (the job below names the real one by path).
    pub struct Pool;
    /// Shadows `Args`.
    pub struct Args;
    /// Shadows `Function`.
    pub struct Function;
    /// Shadows `JobError`.
    pub struct JobError;
    /// Shadows `NAME`.
    pub const NAME: u8 = 0;
    /// Shadows `FUNCTION`.
    pub const FUNCTION: u8 = 0;

    /// A trait that would hijack method calls if the expansion used them.
    #[allow(clippy::wrong_self_convention)]
    pub trait Hijack {
        /// Would be picked by `pool.job(..)`.
        fn job(&self, _: u8) {}
        /// Would be picked by `args.take(..)`.
        fn take(&self) {}
        /// Would be picked by `args.finish(..)`.
        fn finish(&self) {}
        /// Would be picked by `.collect()`.
        fn collect(&self) {}
        /// Would be picked by `.into_iter()`.
        fn into_iter(&self) {}
    }
    impl<T: ?::core::marker::Sized> Hijack for T {}

    /// A plain job in the middle of all that.
    #[::arq::job]
    pub async fn everything_shadowed(
        ctx: &::arq::Ctx,
        pool: u32,
        args: ::std::string::String,
        value: u8,
        error: i8,
        job_id: u16,
        r#type: bool,
    ) -> ::core::result::Result<::std::vec::Vec<u32>, ::std::io::Error> {
        let _ = (ctx, args, value, error, job_id, r#type);
        ::core::result::Result::Ok(::std::vec![pool])
    }

    /// `super::` and `self::` paths, and a type named `Output`, as argument and result.
    #[::arq::job]
    pub async fn relative_paths(a: super::types::Output, b: self::Local) -> super::types::Output {
        super::types::Output(a.0 + b.0)
    }

    /// A type referred to with `self::`.
    #[derive(::serde::Serialize, ::serde::Deserialize)]
    pub struct Local(pub u32);

    /// A raw identifier as the job's name.
    #[::arq::job]
    pub async fn r#match(r#in: u8) -> u8 {
        r#in
    }
}

/// Jobs named like the items of their generated module.
pub mod same_names {
    /// Named `job`.
    #[arq::job]
    pub async fn job(n: u8) -> u8 {
        n
    }

    /// Named `enqueue`.
    #[arq::job]
    pub async fn enqueue(n: u8) -> u8 {
        n
    }

    /// Named `__handler`.
    #[arq::job]
    pub async fn __handler() {}
}

use crate::types::Output;

/// A job next to a user type named `Output`, returning it.
#[arq::job]
pub async fn returns_output(n: u32) -> Output {
    Output(n)
}

#[allow(dead_code)]
fn type_checks(pool: &arq::Pool) {
    let _ = shadowed::everything_shadowed::enqueue(pool, 1, "a".into(), 2, 3, 4, true);
    let _: arq::Enqueue<'_, Output> =
        shadowed::relative_paths::enqueue(pool, Output(1), shadowed::Local(2));
    let _: arq::Enqueue<'_, u8> = shadowed::r#match::enqueue(pool, 1);
    let _: arq::Job<Output> = returns_output::job(pool, "id");
}

fn main() {
    assert_eq!(same_names::job::NAME, "job");
    assert_eq!(same_names::enqueue::NAME, "enqueue");
    assert_eq!(same_names::__handler::NAME, "__handler");
    assert_eq!(shadowed::r#match::NAME, "match");
    assert_eq!(shadowed::everything_shadowed::NAME, "everything_shadowed");
    let out: shadowed::relative_paths::Output = Output(3);
    assert_eq!(out, Output(3));
    let out: returns_output::Output = Output(4);
    assert_eq!(out, Output(4));
}
