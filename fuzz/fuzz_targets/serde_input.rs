//! Any bytes as JSON for a data set or a subject: a validated value or a typed error, never
//! a panic; a value accepted passes the same checks as the builder (it round-trips).
#![no_main]

use cart_pkpd::{Dataset, Subject};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(data) = serde_json::from_slice::<Dataset>(bytes) {
        let json = serde_json::to_string(&data).expect("serialises");
        assert_eq!(serde_json::from_str::<Dataset>(&json).expect("reads back"), data);
    }
    let _ = serde_json::from_slice::<Subject>(bytes);
});
