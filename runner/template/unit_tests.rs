//! Unit tests of the templating module.
