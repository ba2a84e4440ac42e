//! Reading NONMEM-format data sets: every event column with `.` and with `0` on the records
//! where it does not apply reads the same; a read → write → read round trip loses nothing,
//! record order included; NONMEM items the library does not implement are errors naming
//! the column; time-varying and text covariates are kept as they change.

use cart_pkpd::data::{CovariateValue, CsvOptions, Record};
use cart_pkpd::models::pk::OneCmtOral;
use cart_pkpd::{Compartment, DataErrorKind, Dataset, DoseRate, Error, SteadyState};

/// A subject with every record type: a steady-state infusion with lag-able oral doses,
/// additional doses, a modelled-duration dose, an observation before a dose at the same
/// time, an MDV = 1 observation, an EVID 2 covariate change, a reset and a reset-dose.
fn dataset(fill: &str) -> String {
    let f = fill;
    format!(
        "ID,TIME,DV,AMT,EVID,MDV,CMT,RATE,ADDL,II,SS,WT,SEX\n\
         1,-12,{f},100,1,1,1,{f},{f},12,1,70,F\n\
         1,0,2.5,{f},0,0,2,{f},{f},{f},{f},70,F\n\
         1,0,{f},100,1,1,1,{f},3,12,{f},70,F\n\
         1,1,3.1,{f},0,0,2,{f},{f},{f},{f},70,F\n\
         1,2,3.0,{f},0,1,2,{f},{f},{f},{f},70,F\n\
         1,24,{f},{f},2,1,{f},{f},{f},{f},{f},72.5,F\n\
         1,30,{f},50,1,1,2,25,{f},{f},{f},72.5,F\n\
         1,36,1.7,{f},0,0,2,{f},{f},{f},{f},72.5,F\n\
         1,40,{f},{f},3,1,{f},{f},{f},{f},{f},72.5,F\n\
         1,0,{f},80,4,1,1,-2,{f},{f},{f},72.5,F\n\
         1,3,2.2,{f},0,0,2,{f},{f},{f},{f},72.5,F\n\
         2,0,{f},0,1,1,2,10,{f},{f},1,80,M\n\
         2,1,3.3,{f},0,0,{f},{f},{f},{f},{f},80,M\n"
    )
}

fn read(text: &str) -> cart_pkpd::Result<Dataset> {
    Dataset::from_csv_reader(text.as_bytes(), &CsvOptions::for_model(&OneCmtOral))
}

#[test]
fn dots_and_zeros_on_records_where_a_column_does_not_apply_read_the_same() {
    let dots = read(&dataset(".")).unwrap();
    let zeros = read(&dataset("0")).unwrap();
    assert_eq!(dots, zeros);
    let s = &dots.subjects()[0];
    assert_eq!(s.n_records(), 11);
    let kinds: Vec<&str> = s
        .records()
        .map(|r| match r {
            Record::Dose(d) if d.reset => "reset-dose",
            Record::Dose(_) => "dose",
            Record::Observation(o) if o.mdv => "mdv",
            Record::Observation(_) => "obs",
            Record::Other { .. } => "other",
            Record::Reset { .. } => "reset",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "dose",
            "obs",
            "dose",
            "obs",
            "mdv",
            "other",
            "dose",
            "obs",
            "reset",
            "reset-dose",
            "obs"
        ]
    );
    let d = s.doses();
    assert_eq!(
        (d[0].ss, d[0].ii, d[0].time),
        (SteadyState::Reset, 12.0, -12.0)
    );
    assert_eq!(
        (d[1].addl, d[1].target.clone()),
        (3, Some(Compartment::Number(1)))
    );
    assert_eq!(d[2].rate, DoseRate::Rate(25.0));
    assert_eq!((d[3].rate, d[3].reset), (DoseRate::ModelledDuration, true));
    assert!(s.observations().iter().all(|o| o.analyte == "cp"));
    let wt = s.covariate_series("WT").unwrap();
    assert_eq!(wt.changes(), [(0, 70.0.into()), (5, 72.5.into())]);
    assert_eq!(s.covariate_value("SEX"), Some(&CovariateValue::from("F")));
    // subject 2: a steady-state constant infusion (AMT 0, II 0, RATE 10)
    let d2 = &dots.subjects()[1].doses()[0];
    assert_eq!(
        (d2.amount, d2.rate, d2.ss),
        (0.0, DoseRate::Rate(10.0), SteadyState::Reset)
    );
}

#[test]
fn write_then_read_loses_nothing_and_keeps_record_order() {
    let data = read(&dataset(".")).unwrap();
    let mut buf = Vec::new();
    data.to_csv_writer(&mut buf).unwrap();
    let back = read(std::str::from_utf8(&buf).unwrap()).unwrap();
    assert_eq!(back, data);
    // the observation at time 0 is still before the dose at time 0
    let text = String::from_utf8(buf).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[2].starts_with("1,0,2.5,.,0,"), "{}", lines[2]);
    assert!(lines[3].starts_with("1,0,.,100,1,"), "{}", lines[3]);
}

#[test]
fn unimplemented_nonmem_items_are_errors_naming_the_column() {
    for column in ["PCMT", "CALL", "CONT", "DATE", "XVID1", "L2"] {
        let text = format!("ID,TIME,DV,AMT,{column}\n1,0,.,10,0\n1,1,2,.,0\n");
        match read(&text) {
            Err(Error::Data { location, kind }) => {
                assert_eq!(location.column.as_deref(), Some(column));
                assert_eq!(kind, DataErrorKind::UnsupportedColumn(column.into()));
            }
            other => panic!("{column}: {other:?}"),
        }
    }
    let cases = [
        ("1,0,.,100,1,1,1,0,0,0,3", "SS"),     // SS = 3
        ("1,0,.,100,1,1,1,0,-5,12,0", "ADDL"), // empirical steady state
        ("1,0,.,100,5,1,1,0,0,0,0", "EVID"),
        ("1,0,.,100,1,1,1,-3,0,0,0", "RATE"),
        ("1,0,.,100,1,1,-1,0,0,0,0", "CMT"),
        ("1,0,.,100,1,1,1000,0,0,0,0", "CMT"), // the output compartment
        ("1,0,2,5,0,0,2,0,0,0,0", "AMT"),      // an amount on an observation
        ("1,0,2,.,0,0,2,10,0,0,0", "RATE"),    // a rate on an observation
    ];
    for (row, column) in cases {
        let text =
            format!("ID,TIME,DV,AMT,EVID,MDV,CMT,RATE,ADDL,II,SS\n{row}\n1,1,2,.,0,0,2,.,.,.,.\n");
        match read(&text) {
            Err(Error::Data { location, .. }) => {
                assert_eq!(location.column.as_deref(), Some(column), "{row}");
                assert_eq!(location.line, Some(2), "{row}");
            }
            other => panic!("{row}: {other:?}"),
        }
    }
}

#[test]
fn a_dose_record_must_be_complete() {
    for (row, what) in [
        ("1,0,.,100,1,1,1,0,3,0,0", "ADDL without II"),
        ("1,0,.,100,1,1,1,0,0,0,1", "SS without II"),
        ("1,0,.,0,1,1,1,0,0,12,1", "SS without an amount"),
    ] {
        let text =
            format!("ID,TIME,DV,AMT,EVID,MDV,CMT,RATE,ADDL,II,SS\n{row}\n1,1,2,.,0,0,2,.,.,.,.\n");
        let err = read(&text).unwrap_err();
        assert!(
            matches!(err.data_kind(), Some(DataErrorKind::Inconsistent(_))),
            "{what}: {err}"
        );
    }
}

#[test]
fn time_may_go_back_only_at_a_reset() {
    let ok = "ID,TIME,DV,AMT,EVID\n1,0,.,10,1\n1,5,2,.,0\n1,0,.,10,4\n1,5,2,.,0\n";
    assert_eq!(read(ok).unwrap().subjects()[0].n_records(), 4);
    let bad = "ID,TIME,DV,AMT,EVID\n1,0,.,10,1\n1,5,2,.,0\n1,0,.,10,1\n1,5,2,.,0\n";
    assert!(matches!(
        read(bad).unwrap_err().data_kind(),
        Some(DataErrorKind::Unsorted { .. })
    ));
}

#[test]
fn observations_by_cmt_follow_the_models_compartments() {
    // ADVAN2: observations are of CMT 2; CMT 1 would be the depot, which is not observed
    let text = "ID,TIME,DV,AMT,CMT\n1,0,.,100,1\n1,1,2,.,1\n";
    let err = read(text).unwrap_err();
    assert!(
        matches!(err.data_kind(), Some(DataErrorKind::UnknownAnalyte { .. })),
        "{err}"
    );
}

#[test]
fn subjects_from_json_are_validated_like_the_builder() {
    let data = read(&dataset(".")).unwrap();
    let json = serde_json::to_string(&data).unwrap();
    let back: Dataset = serde_json::from_str(&json).unwrap();
    assert_eq!(back, data);
    // an observation moved before the previous record's time is refused
    let tampered = json.replacen("\"time\":36.0", "\"time\":0.5", 1);
    assert_ne!(tampered, json);
    assert!(serde_json::from_str::<Dataset>(&tampered).is_err());
}
