//! Expressions and templates, below every stage: the compiler, preflight, the run's rendering
//! and the actions' `expect` all render and test them alike.

pub mod template;
mod truth;

pub use truth::truthy;
