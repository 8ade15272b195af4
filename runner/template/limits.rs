//! Bounds on one template render: the bytes it may output and the work it may do.
//!
//! Why this module exists: a template is user input, and string concatenation in a loop
//! (`{% for … %}{% set ns.s = ns.s ~ … %}`) grew one render to 1.6 GB in 20 s. Every render
//! now stops with an error naming the template once its output passes `max_output` bytes
//! (counted as values are written, so a runaway loop stops early, and checked again on
//! the whole output) or once it has run `fuel` minijinja instructions. Both are set from
//! the configuration file (`template_max_output`, `template_fuel`) before the run.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// The limits of one render.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes one render may produce.
    pub max_output: u64,
    /// Instructions one render may run (minijinja's fuel).
    pub fuel: u64,
}

impl Limits {
    /// 64 MiB of output and 100 million instructions: far above real content (the
    /// Kubernetes roles here and a 5 MB template file render within both).
    pub const DEFAULT: Limits = Limits {
        max_output: 64 << 20,
        fuel: 100_000_000,
    };
}

static MAX_OUTPUT: AtomicU64 = AtomicU64::new(Limits::DEFAULT.max_output);
static FUEL: AtomicU64 = AtomicU64::new(Limits::DEFAULT.fuel);

thread_local! {
    /// Bytes written so far by the render running on this thread.
    static WRITTEN: Cell<u64> = const { Cell::new(0) };
}

/// Set the limits for templars created from now on (the CLI does it from the
/// configuration before it builds the engine).
pub fn set_limits(l: Limits) {
    MAX_OUTPUT.store(l.max_output, Ordering::Relaxed);
    FUEL.store(l.fuel, Ordering::Relaxed);
}

/// The limits in force.
pub fn limits() -> Limits {
    Limits {
        max_output: MAX_OUTPUT.load(Ordering::Relaxed),
        fuel: FUEL.load(Ordering::Relaxed),
    }
}

/// The message when the output passes the limit.
pub(crate) fn too_large() -> String {
    format!(
        "template output larger than {} bytes (the `template_max_output` setting)",
        limits().max_output
    )
}

/// The message when a render runs out of fuel.
pub(crate) fn out_of_fuel() -> String {
    format!(
        "template evaluation took more than {} steps (the `template_fuel` setting); is there a runaway loop?",
        limits().fuel
    )
}

/// Count `n` more bytes written by the current render; an error past the limit.
pub(crate) fn count(n: usize) -> Result<(), minijinja::Error> {
    let total = WRITTEN.with(|w| {
        let t = w.get().saturating_add(n as u64);
        w.set(t);
        t
    });
    if total > limits().max_output {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            too_large(),
        ));
    }
    Ok(())
}

/// Run one render with its own byte count (renders nest: a lazily templated variable is
/// rendered inside the render that uses it).
pub(crate) fn scoped<T>(f: impl FnOnce() -> T) -> T {
    let outer = WRITTEN.with(|w| w.replace(0));
    let r = f();
    WRITTEN.with(|w| w.set(outer));
    r
}
