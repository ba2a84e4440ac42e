//! Named, validated parameters: domains, relations, vector and serde round trips.

use cart_pkpd::models::{CarTBCellParams, CellularKineticsParams};
use cart_pkpd::{Domain, Error, Parameters};

#[test]
fn every_out_of_domain_value_is_an_error_naming_the_parameter() {
    let p = CarTBCellParams::default();
    for (name, bad) in [
        ("rho", 0.0),
        ("kb", -1.0),
        ("kx", -0.1),
        ("eps", 1.2),
        ("fld", 0.0),
        ("fn", 0.0),
        ("fs", 0.3), // fn + fs = 1.05 > 1
        ("n_transit", -1.0),
        ("n_transit", 1.5),
        ("mtt", f64::NAN),
        ("b0", f64::INFINITY),
    ] {
        match p.with(name, bad) {
            Err(Error::ParameterOutOfDomain { name: got, .. }) => {
                assert_eq!(got, name, "{name} = {bad}")
            }
            other => panic!("{name} = {bad}: expected ParameterOutOfDomain, got {other:?}"),
        }
    }
}

#[test]
fn unknown_names_and_wrong_lengths_are_errors() {
    let p = CellularKineticsParams::stein_2019();
    match p.with("ka", 1.0) {
        Err(Error::UnknownParameter { name, known }) => {
            assert_eq!(name, "ka");
            assert!(known.contains("cmax"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        CellularKineticsParams::from_values(&[1.0, 2.0]),
        Err(Error::ParameterCount {
            expected: 7,
            got: 2
        })
    ));
}

#[test]
fn vector_round_trip_follows_spec_order() {
    let p = CarTBCellParams::default();
    let v = p.values();
    assert_eq!(v.len(), CarTBCellParams::specs().len());
    assert_eq!(CarTBCellParams::from_values(&v).unwrap(), p);
    let i = CarTBCellParams::index_of("kmax").unwrap();
    assert_eq!(v[i], 1.51);
    assert_eq!(p.get("fn").unwrap(), 0.75);
    let names = CarTBCellParams::names();
    assert_eq!(&names[..3], ["rho", "kb", "kx"]);
    assert_eq!(names[15], "fn");
}

#[test]
fn specs_carry_units_and_domains() {
    let spec = |name: &str| {
        CellularKineticsParams::specs()
            .iter()
            .find(|s| s.name == name)
            .copied()
            .unwrap()
    };
    assert_eq!(spec("cmax").unit, "copies/µg");
    assert_eq!(spec("alpha").unit, "1/d");
    assert_eq!(spec("foldx").domain, Domain::GreaterThan(1.0));
    assert_eq!(spec("fb").domain, Domain::Fraction);
    assert!(!spec("tmax").description.is_empty());
    let n = CarTBCellParams::specs()[CarTBCellParams::index_of("n_transit").unwrap()];
    assert_eq!(n.domain, Domain::Integer { min: 0, max: 50 });
}

#[test]
fn serde_round_trip_by_name_and_validation_on_the_way_in() {
    let p = CellularKineticsParams::stein_2019();
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.contains("\"cmax\":24000"));
    let back: CellularKineticsParams = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    let bad = json.replace("\"fb\":0.0079", "\"fb\":2.0");
    let err = serde_json::from_str::<CellularKineticsParams>(&bad).unwrap_err();
    assert!(err.to_string().contains("`fb`"), "{err}");
    let missing = json
        .replace("\"beta\":0.0032,", "")
        .replace(",\"beta\":0.0032", "");
    assert!(serde_json::from_str::<CellularKineticsParams>(&missing).is_err());
    let extra = json.replacen('{', "{\"ka\":1.0,", 1);
    assert!(serde_json::from_str::<CellularKineticsParams>(&extra).is_err());
    let p2 = CarTBCellParams::default();
    let back2: CarTBCellParams =
        serde_json::from_str(&serde_json::to_string(&p2).unwrap()).unwrap();
    assert_eq!(back2, p2);
}

#[test]
fn typed_keys_name_the_parameters_their_strings_name() {
    let p = CarTBCellParams::default();
    let k = CarTBCellParams::KEYS;
    // a renamed field's key carries the parameter's name, not the field's
    assert_eq!(k.fn_.name(), "fn");
    for (key, name) in [(k.rho, "rho"), (k.fn_, "fn"), (k.n_transit, "n_transit")] {
        assert_eq!(p.get(key).unwrap(), p.get(name).unwrap(), "{name}");
    }
    let doubled = p.with(k.rho, 2.0 * p.rho()).unwrap();
    assert_eq!(doubled.rho(), 2.0 * p.rho());
    // the keys, in declaration order, are the names of the specs
    let m1 = CellularKineticsParams::KEYS;
    let names: Vec<&str> = [
        m1.tlag, m1.tmax, m1.cmax, m1.foldx, m1.alpha, m1.fb, m1.beta,
    ]
    .iter()
    .map(|k| k.name())
    .collect();
    assert_eq!(names, CellularKineticsParams::names());
    let spec = cart_pkpd::fit::FitSpec::<cart_pkpd::models::CellularKinetics>::new(
        CellularKineticsParams::stein_2019(),
    )
    .estimate(&[m1.cmax, m1.alpha]);
    assert_eq!(spec.estimate, vec!["cmax", "alpha"]);
}
