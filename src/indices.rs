//! Named indices of a model's states and outputs, so that equations read `x[state::E]` and
//! `y[output::B_CELLS]` rather than `x[0]` and `y[1]`.
//!
//! [`indices!`](crate::indices!) declares a module of `usize` constants numbered from 0 in
//! declaration order, with `COUNT`; [`outputs!`](crate::outputs!) does the same for outputs
//! and adds `SPECS`, the [`OutputSpec`](crate::OutputSpec) list a model returns from
//! [`Model::outputs`](crate::Model::outputs), so that names, units and indices cannot
//! drift apart.

/// Declares a module of named indices `0, 1, 2, …` in declaration order, and `COUNT`.
///
/// ```
/// cart_pkpd::indices! {
///     /// States of a transit model.
///     pub mod state { DEPOT, TRANSIT, CENTRAL }
/// }
/// assert_eq!((state::DEPOT, state::CENTRAL, state::COUNT), (0, 2, 3));
/// ```
#[macro_export]
macro_rules! indices {
    (
        $(#[$meta:meta])*
        $vis:vis mod $module:ident { $( $(#[doc = $doc:literal])* $name:ident ),+ $(,)? }
    ) => {
        $(#[$meta])*
        $vis mod $module {
            #[allow(non_camel_case_types, clippy::upper_case_acronyms, dead_code)]
            #[repr(usize)]
            enum Index { $( $name ),+ }
            $(
                $(#[doc = $doc])*
                #[allow(dead_code)]
                pub const $name: usize = Index::$name as usize;
            )+
            /// Number of indices.
            #[allow(dead_code)]
            pub const COUNT: usize = [$( $name ),+].len();
        }
    };
}

/// Declares a model's outputs: a module of named indices (as [`indices!`](crate::indices!))
/// with `SPECS`, their [`OutputSpec`](crate::OutputSpec)s in the same order.
///
/// ```
/// cart_pkpd::outputs! {
///     /// Outputs of a PK/PD model.
///     pub mod output {
///         CP = "cp" => "mg/L", "plasma concentration";
///         EFFECT = "effect" => "%", "inhibition";
///     }
/// }
/// assert_eq!(output::SPECS[output::EFFECT].unit, "%");
/// assert_eq!(output::COUNT, 2);
/// ```
#[macro_export]
macro_rules! outputs {
    (
        $(#[$meta:meta])*
        $vis:vis mod $module:ident {
            $( $index:ident = $name:literal => $unit:literal, $description:literal );+ $(;)?
        }
    ) => {
        $(#[$meta])*
        $vis mod $module {
            #[allow(non_camel_case_types, clippy::upper_case_acronyms, dead_code)]
            #[repr(usize)]
            enum Index { $( $index ),+ }
            $(
                #[doc = concat!("Index of `", $name, "` (", $unit, "): ", $description, ".")]
                #[allow(dead_code)]
                pub const $index: usize = Index::$index as usize;
            )+
            /// Number of outputs.
            #[allow(dead_code)]
            pub const COUNT: usize = [$( $index ),+].len();
            /// The outputs, in index order.
            pub const SPECS: &[$crate::OutputSpec] = &[
                $( $crate::OutputSpec { name: $name, unit: $unit, description: $description }, )+
            ];
        }
    };
}
