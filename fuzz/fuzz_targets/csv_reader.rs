//! Any bytes as a NONMEM-format CSV file: a data set or a typed error, never a panic; a data
//! set read is simulated with a built-in PK model (a result or a typed error) and
//! round-trips through the writer.
#![no_main]

use cart_pkpd::data::CsvOptions;
use cart_pkpd::models::pk::{OneCmtOral, OneCmtOralParams};
use cart_pkpd::{Dataset, SolverOptions, simulate_subject};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    for opts in [CsvOptions::default().any_analyte(), CsvOptions::for_model(&OneCmtOral)] {
        let Ok(data) = Dataset::from_csv_reader(bytes, &opts) else { continue };
        let mut buf = Vec::new();
        if data.to_csv_writer(&mut buf).is_ok() {
            let back = Dataset::from_csv_reader(buf.as_slice(), &opts).expect("written data reads back");
            assert_eq!(back, data, "round trip");
        }
        let p = OneCmtOralParams::new(1.2, 5.0, 50.0).expect("valid parameters");
        for s in data.subjects() {
            if let Ok(sim) = simulate_subject(&OneCmtOral, &p, s, &SolverOptions::default()) {
                assert!(sim.values[0].iter().all(|y| !y.is_nan()), "NaN prediction");
            }
        }
    }
});
