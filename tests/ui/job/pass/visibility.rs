//! The module gets the function's visibility, and is usable from elsewhere in the crate, by
//! path or through a `use` that imports the function and the module together.
#![deny(warnings, missing_docs)]

mod jobs {
    /// Visible to the whole crate.
    #[arq::job]
    pub(crate) async fn resize(width: u32, height: u32) -> (u32, u32) {
        (width / 2, height / 2)
    }

    pub(crate) mod nested {
        /// Visible to `jobs` only.
        #[arq::job]
        pub(super) async fn inner() -> u8 {
            7
        }

        /// Private: used in this module only.
        #[arq::job]
        async fn private_job() {}

        pub(crate) fn private_name() -> &'static str {
            private_job::NAME
        }
    }

    pub(crate) fn inner_name() -> &'static str {
        nested::inner::NAME
    }
}

mod producer {
    // One `use` brings both the function (value namespace) and the module (type namespace).
    use crate::jobs::resize;

    #[allow(dead_code)]
    pub(crate) fn enqueue(pool: &arq::Pool) -> arq::Enqueue<'_, (u32, u32)> {
        resize::enqueue(pool, 640, 480)
    }

    pub(crate) fn name() -> &'static str {
        resize::NAME
    }

    pub(crate) async fn call_directly() -> (u32, u32) {
        resize(10, 20).await
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(producer::name(), "resize");
    assert_eq!(jobs::inner_name(), "inner");
    assert_eq!(jobs::nested::private_name(), "private_job");
    assert_eq!(crate::jobs::resize::FUNCTION.name, "resize");
    assert_eq!(producer::call_directly().await, (5, 10));
}
