//! Shingling and MinHash on arbitrary text: never panic, deterministic, and the shingle set is
//! sorted and unique.
#![no_main]
use libfuzzer_sys::fuzz_target;
use neardup::normalize::Profile;
use neardup::config::ShingleKind;
use neardup::sketch::{SketchParams, Sketcher};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for shingle in [ShingleKind::Word, ShingleKind::Char] {
        let params = SketchParams {
            profile: Profile::Full,
            shingle,
            ngram: 1 + (data.first().copied().unwrap_or(0) % 8) as usize,
            num_perm: 64,
            seed: 7,
        };
        let mut sk = Sketcher::new(params);
        let (mut a, mut b) = (vec![0u32; 64], vec![0u32; 64]);
        let x = sk.sketch(&text, &[], &mut a);
        let y = sk.sketch(&text, &[], &mut b);
        assert_eq!(x, y);
        assert_eq!(a, b);
        let mut set = Vec::new();
        sk.shingle_set(&text, &[], &mut set);
        assert!(set.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(set.is_empty(), x.tokens == 0);
    }
});
