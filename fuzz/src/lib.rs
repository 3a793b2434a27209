//! Checks behind parvis's fuzz targets: each `check` feeds one input to a
//! parser of outside input and asserts its invariants (panics on a
//! violation, which libFuzzer reports as a crash). Pure, no I/O.
//!
//! The same module is compiled into the product's `tests/fuzz_corpus.rs`,
//! which replays the committed corpus on stable Rust.

pub mod config;
pub mod hello;
pub mod http_head;
pub mod metadata;
pub mod proxy_header;

use std::fmt::Debug;

/// The outcome of feeding growing prefixes to an incremental reader: where
/// it first gave an answer other than "need more", and that answer.
pub type Stop<S> = Option<(usize, S)>;

/// Feeds `data[..cut]` for each cut in order to `poll`, stopping at the
/// first answer that is not pending.
pub fn feed<S>(
    data: &[u8],
    cuts: impl IntoIterator<Item = usize>,
    mut poll: impl FnMut(&[u8]) -> S,
    pending: impl Fn(&S) -> bool,
) -> Stop<S> {
    for cut in cuts {
        let status = poll(&data[..cut]);
        if !pending(&status) {
            return Some((cut, status));
        }
    }
    None
}

/// Increasing cut points ending at `data.len()`, drawn from a generator
/// seeded by the data and `round`: a mix of tiny and large segments.
pub fn random_cuts(data: &[u8], round: u64) -> Vec<usize> {
    let mut seed = data
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64 ^ round, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let mut next = move || {
        // splitmix64
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        usize::try_from((z ^ (z >> 31)) & 0xffff_ffff).unwrap_or(1)
    };
    let n = data.len();
    let mut cuts = Vec::new();
    let mut at = 0;
    while at < n {
        let r = next();
        let step = if r & 1 == 0 {
            1 + r % 8
        } else {
            1 + r % (n / 2 + 1)
        };
        at = (at + step).min(n);
        cuts.push(at);
    }
    cuts
}

/// Checks that an incremental reader gives the same answer however its
/// input is segmented: byte by byte, in one piece, and in two random
/// segmentations. `limit` is the most bytes the reader may stay pending on.
/// Returns the byte-by-byte stop, for checks of the answer itself.
pub fn check_segmentations<R, S: PartialEq + Debug>(
    data: &[u8],
    new_reader: impl Fn() -> R,
    poll: impl Fn(&mut R, &[u8]) -> S,
    pending: impl Fn(&S) -> bool + Copy,
    limit: usize,
) -> Stop<S> {
    let mut reader = new_reader();
    let fine = feed(data, 0..=data.len(), |b| poll(&mut reader, b), pending);
    match &fine {
        None => assert!(
            data.len() < limit,
            "still pending after {} bytes (limit {limit})",
            data.len()
        ),
        Some((at, _)) => assert!(*at <= limit, "answered only at {at} (limit {limit})"),
    }
    let whole = poll(&mut new_reader(), data);
    match &fine {
        Some((_, answer)) => assert_eq!(&whole, answer, "one piece vs byte by byte"),
        None => assert!(
            pending(&whole),
            "one piece: {whole:?}, byte by byte: pending"
        ),
    }
    for round in 0..2 {
        let cuts = random_cuts(data, round);
        let mut reader = new_reader();
        let coarse = feed(
            data,
            cuts.iter().copied(),
            |b| poll(&mut reader, b),
            pending,
        );
        let expected = fine.as_ref().map(|(at, answer)| {
            let first = cuts.iter().copied().find(|c| c >= at);
            (first.unwrap_or(data.len()), answer)
        });
        assert_eq!(
            coarse.as_ref().map(|(at, s)| (*at, s)),
            expected,
            "cuts {cuts:?} vs byte by byte"
        );
    }
    fine
}
