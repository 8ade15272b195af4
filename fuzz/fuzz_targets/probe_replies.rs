//! Fuzz target: every parser of a probe's reply (apt, apt_key, apt_repository,
//! deb822_repository, dpkg_selections, get_url, group, hostname, modprobe, service, sysctl,
//! unarchive, uri, user, setup, wait_for, the framed sections, apt's step output) must
//! return a plan, a result or an error for any bytes, never panic. The first byte picks the
//! parser, the second whether the rest is a raw reply or `\x01`-separated sections framed
//! as a probe frames them (see `windlass::fuzzing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    windlass::fuzzing::feed(data);
});
