//! Named, unit-carrying, validated model parameters.
//!
//! A model's parameters are a struct whose fields are private and whose values are checked
//! against their [`Domain`] whenever the struct is built, so an out-of-domain parameter can
//! never reach a simulation. Every parameter set converts to and from a plain vector of
//! values in the order of its [`ParamSpec`] list, and any single value can be read or
//! replaced by name. This is what lets fitting code estimate any subset of parameters by name.
//!
//! The [`parameters!`](crate::parameters) macro writes such a struct (fields, getters, the
//! [`Parameters`] impl and serde support) from a short declaration; it is how the built-in
//! models declare theirs and how a user declares the parameters of a custom model.

use crate::error::{Error, Result};
use std::fmt::Debug;

/// The set of values a parameter may take.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Domain {
    /// Any finite real number.
    Real,
    /// Strictly positive: `x > 0` (estimated on the log scale).
    Positive,
    /// Non-negative: `x ≥ 0`.
    NonNegative,
    /// A fraction: `0 ≤ x ≤ 1` (estimated on the logit scale, which needs `0 < x < 1`).
    Fraction,
    /// Strictly greater than a bound: `x > bound` (for example a fold change `> 1`).
    GreaterThan(f64),
    /// A whole number in `[min, max]`; structural, never estimated (for example a transit
    /// count, whose bound keeps the state vector a sensible size).
    Integer {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// Any finite real number that is a constant of the model, never estimated (for example
    /// a known assay conversion factor).
    Fixed,
}

impl Domain {
    /// Checks `value` against the domain; `Err` carries the reason.
    ///
    /// ```
    /// use cart_pkpd::Domain;
    /// assert!(Domain::Positive.check(0.5).is_ok());
    /// assert!(Domain::Fraction.check(1.5).is_err());
    /// assert!(Domain::Integer { min: 0, max: 50 }.check(2.5).is_err());
    /// assert!(Domain::Integer { min: 0, max: 50 }.check(1e9).is_err());
    /// ```
    pub fn check(&self, value: f64) -> std::result::Result<(), String> {
        if !value.is_finite() {
            return Err("value is not finite".into());
        }
        let ok = match *self {
            Domain::Real | Domain::Fixed => true,
            Domain::Positive => value > 0.0,
            Domain::NonNegative => value >= 0.0,
            Domain::Fraction => (0.0..=1.0).contains(&value),
            Domain::GreaterThan(b) => value > b,
            Domain::Integer { min, max } => {
                value.fract() == 0.0 && value >= min as f64 && value <= max as f64
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("must be {}", self.describe()))
        }
    }

    /// A short human-readable statement of the domain, e.g. `"> 0"`.
    pub fn describe(&self) -> String {
        match *self {
            Domain::Real => "a finite real number".into(),
            Domain::Positive => "> 0".into(),
            Domain::NonNegative => ">= 0".into(),
            Domain::Fraction => "in [0, 1]".into(),
            Domain::GreaterThan(b) => format!("> {b}"),
            Domain::Integer { min, max } => format!("a whole number in [{min}, {max}]"),
            Domain::Fixed => "a finite real number (fixed, never estimated)".into(),
        }
    }

    /// Whether a parameter with this domain may be estimated (not `Integer` or `Fixed`).
    ///
    /// ```
    /// use cart_pkpd::Domain;
    /// assert!(Domain::Positive.estimable());
    /// assert!(!Domain::Integer { min: 0, max: 50 }.estimable());
    /// assert!(!Domain::Fixed.estimable());
    /// ```
    pub fn estimable(&self) -> bool {
        !matches!(self, Domain::Integer { .. } | Domain::Fixed)
    }
}

/// Static description of one parameter: name, unit, domain and meaning.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ParamSpec {
    /// Name used in code, data and reports (e.g. `"cmax"`).
    pub name: &'static str,
    /// Unit (e.g. `"1/d"`, `"copies/µg"`, `"-"` for dimensionless).
    pub unit: &'static str,
    /// Values the parameter may take.
    pub domain: Domain,
    /// One-line meaning.
    pub description: &'static str,
}

/// A validated set of named parameter values.
///
/// Implement it with the [`parameters!`](crate::parameters) macro rather than by hand. The
/// provided methods build, read and modify parameter sets by name and always validate:
/// every value against its [`Domain`], then the relations between values
/// ([`check_relations`](Parameters::check_relations)).
pub trait Parameters: Sized + Clone + Debug + PartialEq + Send + Sync {
    /// The parameters, in vector order.
    fn specs() -> &'static [ParamSpec];

    /// The values, in the order of [`specs`](Parameters::specs).
    fn values(&self) -> Vec<f64>;

    /// Builds the struct from values in spec order **without** validation.
    ///
    /// Used by [`from_values`](Parameters::from_values), which validates; call that instead.
    #[doc(hidden)]
    fn from_values_unchecked(values: &[f64]) -> Self;

    /// Constraints that involve several parameters (e.g. `tmax > tlag`). Default: none.
    ///
    /// # Errors
    /// [`Error::ParameterOutOfDomain`] naming a parameter of the broken relation.
    fn check_relations(&self) -> Result<()> {
        Ok(())
    }

    /// Builds a validated parameter set from values in spec order.
    ///
    /// # Errors
    /// [`Error::ParameterOutOfDomain`] naming the first value outside its domain or the
    /// relation broken; [`Error::ParameterCount`] for the wrong number of values.
    fn from_values(values: &[f64]) -> Result<Self> {
        let specs = Self::specs();
        if values.len() != specs.len() {
            return Err(Error::ParameterCount {
                expected: specs.len(),
                got: values.len(),
            });
        }
        for (spec, &v) in specs.iter().zip(values) {
            spec.domain
                .check(v)
                .map_err(|reason| Error::ParameterOutOfDomain {
                    name: spec.name.to_owned(),
                    value: v,
                    reason,
                })?;
        }
        let p = Self::from_values_unchecked(values);
        p.check_relations()?;
        Ok(p)
    }

    /// Re-checks every value and relation (useful after deserializing by hand-built means).
    ///
    /// # Errors
    /// As [`from_values`](Parameters::from_values).
    fn validate(&self) -> Result<()> {
        Self::from_values(&self.values()).map(|_| ())
    }

    /// Parameter names in vector order.
    fn names() -> Vec<&'static str> {
        Self::specs().iter().map(|s| s.name).collect()
    }

    /// Position of a parameter in the vector, or [`Error::UnknownParameter`].
    ///
    /// # Errors
    /// [`Error::UnknownParameter`] naming the known parameters.
    fn index_of(name: &str) -> Result<usize> {
        Self::specs()
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| Error::UnknownParameter {
                name: name.to_owned(),
                known: Self::names().join(", "),
            })
    }

    /// The value of a parameter by name (a string, or a [`ParamKey`] of this set).
    ///
    /// # Errors
    /// [`Error::UnknownParameter`] for a name the set does not have.
    fn get<K: ParamName<Self>>(&self, name: K) -> Result<f64> {
        Ok(self.values()[Self::index_of(name.param_name())?])
    }

    /// A copy with one parameter replaced, validated.
    ///
    /// # Errors
    /// [`Error::UnknownParameter`] for a name the set does not have;
    /// [`Error::ParameterOutOfDomain`] for a value outside the parameter's domain or one
    /// that breaks a relation between parameters.
    fn with<K: ParamName<Self>>(&self, name: K, value: f64) -> Result<Self> {
        let mut v = self.values();
        v[Self::index_of(name.param_name())?] = value;
        Self::from_values(&v)
    }

    /// A copy with several parameters replaced by name, validated.
    ///
    /// # Errors
    /// As [`with`](Parameters::with).
    fn with_all(&self, pairs: &[(&str, f64)]) -> Result<Self> {
        let mut v = self.values();
        for (name, value) in pairs {
            v[Self::index_of(name)?] = *value;
        }
        Self::from_values(&v)
    }
}

/// Serializes a parameter set as a map `name → value` (used by [`parameters!`](crate::parameters)).
///
/// # Errors
/// Whatever the serializer reports.
#[doc(hidden)]
pub fn serialize_params<P: Parameters, S: serde::Serializer>(
    p: &P,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let values = p.values();
    let mut map = serializer.serialize_map(Some(values.len()))?;
    for (spec, v) in P::specs().iter().zip(values) {
        map.serialize_entry(spec.name, &v)?;
    }
    map.end()
}

/// Deserializes a map `name → value` into a validated parameter set; every parameter must be
/// present and no unknown name is allowed.
///
/// # Errors
/// A deserialisation error for a missing, unknown or out-of-domain parameter.
#[doc(hidden)]
pub fn deserialize_params<'de, P: Parameters, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<P, D::Error> {
    use serde::de::Error as _;
    let map: std::collections::BTreeMap<String, f64> =
        serde::Deserialize::deserialize(deserializer)?;
    let specs = P::specs();
    for key in map.keys() {
        P::index_of(key).map_err(D::Error::custom)?;
    }
    let values = specs
        .iter()
        .map(|s| {
            map.get(s.name)
                .copied()
                .ok_or_else(|| D::Error::custom(format!("missing parameter `{}`", s.name)))
        })
        .collect::<std::result::Result<Vec<f64>, _>>()?;
    P::from_values(&values).map_err(D::Error::custom)
}

/// A parameter of the set `P`, named at compile time: a typo is a compile error and a key
/// of another model's parameters does not type-check. The
/// [`parameters!`](crate::parameters) macro gives every parameter a key (`KEYS`) when the
/// declaration names a keys struct.
///
/// ```
/// use cart_pkpd::{models::CellularKineticsParams as P, Parameters};
/// let p = P::stein_2019().with(P::KEYS.cmax, 30_000.0)?;
/// assert_eq!(p.get(P::KEYS.cmax)?, 30_000.0);
/// assert_eq!(p.get("cmax")?, 30_000.0);   // the string API stays, for data-driven use
/// # Ok::<(), cart_pkpd::Error>(())
/// ```
pub struct ParamKey<P> {
    name: &'static str,
    of: std::marker::PhantomData<fn() -> P>,
}

impl<P> ParamKey<P> {
    /// The key of parameter `name` of `P` (used by the macro; the name is checked against
    /// `P`'s specs when the key is used).
    pub const fn new(name: &'static str) -> Self {
        ParamKey {
            name,
            of: std::marker::PhantomData,
        }
    }

    /// The parameter's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<P> Clone for ParamKey<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for ParamKey<P> {}

impl<P> PartialEq for ParamKey<P> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl<P> Eq for ParamKey<P> {}

impl<P> Debug for ParamKey<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ParamKey({})", self.name)
    }
}

/// What names a parameter of `P`: a string (checked when used) or a [`ParamKey<P>`]
/// (checked by the compiler).
pub trait ParamName<P> {
    /// The parameter's name.
    fn param_name(&self) -> &str;
}

impl<P> ParamName<P> for &str {
    fn param_name(&self) -> &str {
        self
    }
}

impl<P> ParamName<P> for &&str {
    fn param_name(&self) -> &str {
        self
    }
}

impl<P> ParamName<P> for String {
    fn param_name(&self) -> &str {
        self
    }
}

impl<P> ParamName<P> for &String {
    fn param_name(&self) -> &str {
        self
    }
}

impl<P> ParamName<P> for ParamKey<P> {
    fn param_name(&self) -> &str {
        self.name
    }
}

/// The names of parameters given by name or by key.
pub(crate) fn names_of<P, K: ParamName<P>>(keys: &[K]) -> impl Iterator<Item = String> + '_ {
    keys.iter().map(|k| k.param_name().to_owned())
}

/// Declares a validated parameter struct.
///
/// Each field is `name: Domain => "unit"` with a doc comment (`field as "name": ...` gives a
/// parameter a name that is not a Rust identifier, such as the spec's `fn`;
/// `name: Domain = value => "unit"` gives it a default); the macro generates the struct
/// (private `f64` fields), a getter per field, the [`Parameters`] impl, `Serialize` /
/// `Deserialize` (as a `name → value` map, validated on the way in) and `new(...)`, which
/// takes the value of every parameter without a default in declaration order and
/// validates. Cross-parameter constraints go in an
/// optional `relations(self) { ... }` block returning [`Result<()>`](crate::Result).
/// `struct Name keys NameKeys { ... }` also declares `NameKeys`, a struct with one
/// [`ParamKey`] per parameter, and the constant `Name::KEYS` holding them.
///
/// ```
/// use cart_pkpd::{parameters, Parameters, Domain};
///
/// parameters! {
///     /// Parameters of a mono-exponential decline.
///     pub struct DeclineParams {
///         /// Level at time zero.
///         c0: Positive => "copies/µg",
///         /// First-order decline rate.
///         k: Positive => "1/d",
///     }
/// }
///
/// let p = DeclineParams::new(100.0, 0.1).unwrap();
/// assert_eq!(p.k(), 0.1);
/// assert_eq!(p.with("k", 0.2).unwrap().k(), 0.2);
/// assert!(DeclineParams::new(100.0, -1.0).is_err());
/// assert_eq!(DeclineParams::specs()[1].unit, "1/d");
///
/// parameters! {
///     /// With typed keys.
///     pub struct RiseParams keys RiseKeys {
///         /// Growth rate.
///         r: Positive => "1/d",
///     }
/// }
/// let p = RiseParams::new(0.3).unwrap();
/// assert_eq!(p.get(RiseParams::KEYS.r).unwrap(), 0.3);
/// ```
#[macro_export]
macro_rules! parameters {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident keys $keys:ident { $($body:tt)* }
        $($rest:tt)*
    ) => {
        $crate::parameters! { $(#[$meta])* $vis struct $name { $($body)* } $($rest)* }
        $crate::__param_keys! { $vis $name $keys { $($body)* } }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident $( as $pname:literal )? : $domain:ident $( ( $($darg:tt)* ) )? $( { $($dfield:tt)* } )? $( = $default:expr )? => $unit:literal
            ),+ $(,)?
        }
        $( relations($self_:ident) $rel:block )?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis struct $name {
            $( $field: f64, )+
        }

        impl $name {
            $crate::__params_new!(@build [] [] $( $field $( = $default )? , )+);
            $(
                $(#[doc = $doc])*
                #[doc = concat!("\n\nUnit: ", $unit, ".")]
                pub fn $field(&self) -> f64 { self.$field }
            )+
        }

        impl $crate::Parameters for $name {
            fn specs() -> &'static [$crate::ParamSpec] {
                const SPECS: &[$crate::ParamSpec] = &[
                    $( $crate::ParamSpec {
                        name: $crate::__param_name!($field $(, $pname)?),
                        unit: $unit,
                        domain: $crate::Domain::$domain $( ( $($darg)* ) )? $( { $($dfield)* } )?,
                        description: concat!($($doc),*),
                    }, )+
                ];
                SPECS
            }
            fn values(&self) -> Vec<f64> {
                vec![$( self.$field ),+]
            }
            fn from_values_unchecked(values: &[f64]) -> Self {
                let mut it = values.iter().copied();
                Self { $( $field: it.next().unwrap_or(f64::NAN), )+ }
            }
            $(
                fn check_relations(&self) -> $crate::Result<()> {
                    let $self_ = self;
                    $rel
                }
            )?
        }

        impl $crate::__serde::Serialize for $name {
            fn serialize<S: $crate::__serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                $crate::params::serialize_params(self, s)
            }
        }

        impl<'de> $crate::__serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                $crate::params::deserialize_params(d)
            }
        }
    };
}

/// Builds the error for a violated relation between parameters.
///
/// ```
/// let e = cart_pkpd::params::relation_error("tmax", 1.0, "must be > tlag (2)");
/// assert!(e.to_string().contains("tmax"));
/// ```
pub fn relation_error(name: &str, value: f64, reason: &str) -> Error {
    Error::ParameterOutOfDomain {
        name: name.to_owned(),
        value,
        reason: reason.to_owned(),
    }
}

/// The `new` constructor of a [`parameters!`](crate::parameters) struct: one argument per
/// field without a default, in declaration order; the others take their defaults.
#[doc(hidden)]
#[macro_export]
macro_rules! __params_new {
    (@build [$($arg:ident)*] [$($val:expr),*]) => {
        /// Builds a validated parameter set from the values of the parameters without a
        /// default, in declaration order (the others take their defaults).
        #[allow(clippy::too_many_arguments)]
        pub fn new($( $arg: f64 ),*) -> $crate::Result<Self> {
            <Self as $crate::Parameters>::from_values(&[$( $val ),*])
        }
    };
    (@build [$($arg:ident)*] [$($val:expr),*] $field:ident = $default:expr, $($rest:tt)*) => {
        $crate::__params_new!(@build [$($arg)*] [$($val,)* $default] $($rest)*);
    };
    (@build [$($arg:ident)*] [$($val:expr),*] $field:ident, $($rest:tt)*) => {
        $crate::__params_new!(@build [$($arg)* $field] [$($val,)* $field] $($rest)*);
    };
}

/// The typed keys of a [`parameters!`](crate::parameters) struct declared with `keys`.
#[doc(hidden)]
#[macro_export]
macro_rules! __param_keys {
    (
        $vis:vis $name:ident $keys:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident $( as $pname:literal )? : $domain:ident $( ( $($darg:tt)* ) )? $( { $($dfield:tt)* } )? $( = $default:expr )? => $unit:literal
            ),+ $(,)?
        }
    ) => {
        #[doc = concat!("Typed keys of the parameters of [`", stringify!($name), "`].")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis struct $keys {
            $(
                #[doc = concat!("Key of `", $crate::__param_name!($field $(, $pname)?), "` (", $unit, ").")]
                pub $field: $crate::ParamKey<$name>,
            )+
        }

        impl $name {
            /// The typed key of every parameter.
            pub const KEYS: $keys = $keys {
                $( $field: $crate::ParamKey::new($crate::__param_name!($field $(, $pname)?)), )+
            };
        }
    };
}

/// The parameter name of a [`parameters!`](crate::parameters) field: its renamed literal, or
/// the field identifier.
#[doc(hidden)]
#[macro_export]
macro_rules! __param_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $name:literal) => {
        $name
    };
}
