//! Normalisation on arbitrary text: never panics, and normalising twice changes nothing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use neardup::normalize::{Profile, normalize_to_string};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for profile in [Profile::Full, Profile::None] {
        let once = normalize_to_string(&text, profile);
        assert_eq!(normalize_to_string(&once, profile), once, "{text:?}");
    }
});
