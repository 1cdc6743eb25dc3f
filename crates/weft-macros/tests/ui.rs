//! The attributes' compile errors, pinned by trybuild: each file under
//! `tests/ui/` must fail to build with exactly the `.stderr` beside it.
//! After a deliberate change, regenerate with `TRYBUILD=overwrite cargo test
//! -p weft-macros --test ui` and review every changed file.
//!
//! The messages are rustc's as much as the macros' (spans, notes), so they
//! are pinned for the stable toolchain CI uses; .ci/run skips this test in
//! its nightly sanitizer step.

#[test]
fn ui_compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
