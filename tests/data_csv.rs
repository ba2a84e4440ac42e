//! Data input: NONMEM-style CSV reading and writing, the builder, and every kind of bad
//! input as an error naming its line, column and subject.

use cart_pkpd::data::CsvOptions;
use cart_pkpd::models::{CarTBCell, CellularKinetics};
use cart_pkpd::{DataErrorKind, Dataset, Error, Subject};

const GOOD: &str = "\
ID,TIME,DV,AMT,EVID,MDV,ANALYTE,CENS,LLOQ,DL,WT
101,0,.,10,1,1,.,0,.,1,61.5
101,0,180,.,0,0,b_cells,0,1,1,61.5
101,7,21500,.,0,0,transgene,0,5,1,61.5
101,7,0.6,.,0,0,b_cells,1,1,1,61.5
101,90,3.2,.,0,0,b_cells,0,1,1,.
101,90,91.5,.,0,0,naive_pct,0,.,1,61.5
102,0,.,25,1,1,.,0,.,2,70
102,14,1,.,0,0,b_cells,1,1,2,70
";

fn read(text: &str) -> cart_pkpd::Result<Dataset> {
    Dataset::from_csv_reader(text.as_bytes(), &cart_pkpd::cart::csv_options())
}

/// Reads `text`, expects a data error, and returns (line, column, kind).
fn data_error(text: &str) -> (Option<u64>, Option<String>, DataErrorKind) {
    match read(text) {
        Err(Error::Data { location, kind }) => (location.line, location.column, kind),
        other => panic!("expected a data error, got {other:?}"),
    }
}

/// GOOD with one line replaced (line numbers are 1-based; the header is line 1).
fn with_line(line: usize, replacement: &str) -> String {
    let mut lines: Vec<&str> = GOOD.lines().collect();
    lines[line - 1] = replacement;
    lines.join("\n") + "\n"
}

#[test]
fn reads_doses_observations_censoring_and_covariates() {
    let data = read(GOOD).unwrap();
    assert_eq!(data.subjects().len(), 2);
    let s = data.subject("101").unwrap();
    assert_eq!(s.doses().len(), 1);
    assert_eq!(s.doses()[0].amount, 10.0);
    assert_eq!(s.observations().len(), 5);
    let blq = &s.observations()[2];
    assert!(blq.censored);
    assert_eq!((blq.analyte.as_str(), blq.lloq), ("b_cells", Some(1.0)));
    assert_eq!(s.observations_of("b_cells").count(), 3);
    assert_eq!(s.covariate("WT"), Some(61.5)); // a missing "." does not change it
    assert_eq!(data.subject("102").unwrap().covariate("DL"), Some(2.0));
    assert_eq!(data.analytes(), ["b_cells", "naive_pct", "transgene"]);
    data.check_analytes(&CarTBCell).unwrap();
    let err = data.check_analytes(&CellularKinetics).unwrap_err();
    assert!(
        matches!(err, Error::UnknownAnalyte { subject: Some(ref s), .. } if s == "101"),
        "{err}"
    );
}

#[test]
fn write_then_read_loses_nothing() {
    let data = read(GOOD).unwrap();
    let mut buf = Vec::new();
    data.to_csv_writer(&mut buf).unwrap();
    let back = Dataset::from_csv_reader(buf.as_slice(), &cart_pkpd::cart::csv_options()).unwrap();
    assert_eq!(back, data);
    // and through a file
    let path = std::env::temp_dir().join(format!("cart_pkpd_roundtrip_{}.csv", std::process::id()));
    back.write_csv(&path).unwrap();
    let again = Dataset::read_csv(&path, &cart_pkpd::cart::csv_options()).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(again, data);
}

#[test]
fn values_survive_the_round_trip_to_the_last_bit() {
    let awkward = [0.1 + 0.2, 1e-300, 123_456_789.123_456_78, 5e-324, 1.0 / 3.0];
    let mut b = Subject::builder("x").dose(0.0, 10.0 / 3.0);
    for (i, v) in awkward.iter().enumerate() {
        b = b.observe(i as f64 / 7.0, "transgene", *v);
    }
    let data = Dataset::new(vec![b.covariate("wt", 70.1 / 3.0).build().unwrap()]).unwrap();
    let mut buf = Vec::new();
    data.to_csv_writer(&mut buf).unwrap();
    assert_eq!(
        Dataset::from_csv_reader(buf.as_slice(), &cart_pkpd::cart::csv_options()).unwrap(),
        data
    );
}

#[test]
fn cmt_numbers_map_to_analytes_and_evid_can_be_inferred_from_amt() {
    let text = "ID,TIME,DV,AMT,CMT,BLQ,LLOQ\n1,0,0,10,1,0,.\n1,7,2.1e4,0,1,0,.\n1,14,0.5,0,2,1,1\n";
    let opts = cart_pkpd::cart::csv_options()
        .cmt(1, "transgene")
        .cmt(2, "b_cells");
    let data = Dataset::from_csv_reader(text.as_bytes(), &opts).unwrap();
    let s = &data.subjects()[0];
    assert_eq!(s.doses().len(), 1);
    assert_eq!(s.observations()[1].analyte, "b_cells");
    assert!(s.observations()[1].censored);
    let err = Dataset::from_csv_reader(
        text.replace("1,14,0.5,0,2", "1,14,0.5,0,3").as_bytes(),
        &opts,
    )
    .unwrap_err();
    assert!(
        matches!(err.data_kind(), Some(DataErrorKind::UnknownAnalyte { .. })),
        "{err}"
    );
}

#[test]
fn single_analyte_files_use_a_default_analyte() {
    let text = "ID,TIME,DV,AMT,EVID\n1,0,.,4.02,1\n1,0.25,2.84,.,0\n";
    let opts = CsvOptions::default()
        .default_analyte("concentration")
        .any_analyte();
    let data = Dataset::from_csv_reader(text.as_bytes(), &opts).unwrap();
    assert_eq!(
        data.subjects()[0].observations()[0].analyte,
        "concentration"
    );
}

#[test]
fn each_bad_field_is_located_by_line_and_column() {
    let cases: Vec<(String, u64, &str, DataErrorKind)> = vec![
        (
            with_line(3, "101,0,abc,.,0,0,b_cells,0,1,1,61.5"),
            3,
            "DV",
            DataErrorKind::NonNumeric("abc".into()),
        ),
        (
            with_line(3, "101,0,NaN,.,0,0,b_cells,0,1,1,61.5"),
            3,
            "DV",
            DataErrorKind::NonFinite,
        ),
        (
            with_line(3, "101,0,inf,.,0,0,b_cells,0,1,1,61.5"),
            3,
            "DV",
            DataErrorKind::NonFinite,
        ),
        (
            with_line(2, "101,0,.,-10,1,1,.,0,.,1,61.5"),
            2,
            "AMT",
            DataErrorKind::NegativeDose(-10.0),
        ),
        (
            with_line(5, "101,5,0.6,.,0,0,b_cells,1,1,1,61.5"),
            5,
            "TIME",
            DataErrorKind::Unsorted {
                previous: 7.0,
                time: 5.0,
            },
        ),
        (
            with_line(4, "101,7,21500,.,0,0,cd4_t,0,5,1,61.5"),
            4,
            "ANALYTE",
            DataErrorKind::UnknownAnalyte {
                name: "cd4_t".into(),
                known: cart_pkpd::cart::ANALYTES.join(", "),
            },
        ),
        (
            with_line(5, "101,7,.,.,0,0,b_cells,1,.,1,61.5"),
            5,
            "LLOQ",
            DataErrorKind::CensoredWithoutLloq,
        ),
        (
            with_line(4, "101,7,21500,.,0,0,transgene,0,0,1,61.5"),
            4,
            "LLOQ",
            DataErrorKind::InvalidLloq(0.0),
        ),
        (
            with_line(4, "101,7,.,.,0,0,transgene,0,5,1,61.5"),
            4,
            "DV",
            DataErrorKind::MissingValue,
        ),
        (
            with_line(4, "101,7,21500,.,5,0,transgene,0,5,1,61.5"),
            4,
            "EVID",
            DataErrorKind::Unsupported {
                value: "5".into(),
                reason: "EVID must be 0, 1, 2, 3 or 4".into(),
            },
        ),
        (
            with_line(4, "101,7,21500,.,0,2,transgene,0,5,1,61.5"),
            4,
            "MDV",
            DataErrorKind::Unsupported {
                value: "2".into(),
                reason: "MDV must be 0 or 1".into(),
            },
        ),
        (
            with_line(2, "101,0,.,10,1,0,.,0,.,1,61.5"),
            2,
            "MDV",
            DataErrorKind::Inconsistent("MDV = 0 on an EVID = 1 record".into()),
        ),
        (
            with_line(4, "101,7,21500,5,0,0,transgene,0,5,1,61.5"),
            4,
            "AMT",
            DataErrorKind::Inconsistent(
                "AMT = 5 on an observation (EVID 0) record (it must be 0 or missing there)".into(),
            ),
        ),
        (
            with_line(4, "101,7,21500,.,0,0,transgene,-1,5,1,61.5"),
            4,
            "CENS",
            DataErrorKind::Unsupported {
                value: "-1".into(),
                reason: "a censoring flag must be one of 0, 1".into(),
            },
        ),
        (
            with_line(4, "101,7,21500,.,0,0,transgene,0,5,1,inf"),
            4,
            "WT",
            DataErrorKind::NonFinite,
        ),
        (
            with_line(4, ".,7,21500,.,0,0,transgene,0,5,1,61.5"),
            4,
            "ID",
            DataErrorKind::MissingValue,
        ),
    ];
    for (text, line, column, kind) in cases {
        let (got_line, got_column, got_kind) = data_error(&text);
        assert_eq!(got_kind, kind, "{text}");
        assert_eq!(got_line, Some(line), "{kind:?}");
        assert_eq!(got_column.unwrap_or_default(), column, "{kind:?}");
    }
}

#[test]
fn subject_level_problems_name_the_subject() {
    // a subject with only a dose
    let text = format!("{GOOD}103,0,.,10,1,1,.,0,.,1,80\n");
    match read(&text) {
        Err(Error::Data {
            location,
            kind: DataErrorKind::EmptySubject,
        }) => {
            assert_eq!(location.subject.as_deref(), Some("103"))
        }
        other => panic!("{other:?}"),
    }
    // an ID that comes back after another subject
    let text = format!("{GOOD}101,400,50,.,0,0,b_cells,0,1,1,61.5\n");
    let (line, column, kind) = data_error(&text);
    assert_eq!(
        (line, column.as_deref(), kind),
        (Some(10), Some("ID"), DataErrorKind::NonContiguousSubject)
    );
}

#[test]
fn missing_columns_are_reported_at_the_header() {
    let (line, column, kind) = data_error("ID,DV,ANALYTE\n1,2,transgene\n");
    assert_eq!(
        (line, column.as_deref(), kind),
        (Some(1), Some("TIME"), DataErrorKind::MissingColumn)
    );
    let (_, column, kind) = data_error("ID,TIME,DV\n1,2,3\n");
    assert_eq!(
        (column.as_deref(), kind),
        (Some("ANALYTE"), DataErrorKind::MissingColumn)
    );
    assert!(matches!(
        read("ID,TIME,DV,ANALYTE\n"),
        Err(Error::Data {
            kind: DataErrorKind::EmptyDataset,
            ..
        })
    ));
}

#[test]
fn the_builder_applies_the_same_rules() {
    let kind =
        |b: cart_pkpd::data::SubjectBuilder| b.build().unwrap_err().data_kind().cloned().unwrap();
    let b = || Subject::builder("S1");
    assert_eq!(
        kind(b().dose(0.0, -1.0).observe(1.0, "transgene", 5.0)),
        DataErrorKind::NegativeDose(-1.0)
    );
    assert_eq!(
        kind(
            b().observe(7.0, "transgene", 5.0)
                .observe(1.0, "transgene", 5.0)
        ),
        DataErrorKind::Unsorted {
            previous: 7.0,
            time: 1.0
        }
    );
    assert_eq!(
        kind(
            b().dose_event(cart_pkpd::Dose::bolus(0.0, 10.0).repeat(3, 0.0))
                .observe(1.0, "transgene", 5.0)
        ),
        DataErrorKind::Inconsistent("ADDL = 3 needs an interval II > 0".into())
    );
    assert_eq!(kind(b().dose(0.0, 10.0)), DataErrorKind::EmptySubject);
    let censored_no_lloq = cart_pkpd::Observation {
        time: 1.0,
        analyte: "b_cells".into(),
        value: 0.0,
        lloq: None,
        censored: true,
        mdv: false,
    };
    assert_eq!(
        kind(b().observation(censored_no_lloq)),
        DataErrorKind::CensoredWithoutLloq
    );
    assert_eq!(
        kind(b().observe(1.0, "transgene", 5.0).covariate("wt", f64::NAN)),
        DataErrorKind::NonFinite
    );
    let s = b().observe(1.0, "transgene", 5.0).build().unwrap();
    let dup = Dataset::new(vec![s.clone(), s]).unwrap_err();
    assert_eq!(dup.data_kind(), Some(&DataErrorKind::DuplicateSubject));
}
