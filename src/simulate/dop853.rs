//! The Dormand–Prince 8(5,3) method with 7th-order dense output (Hairer, Nørsett &
//! Wanner 1993, *Solving Ordinary Differential Equations I*, Springer, §II.5 and §II.10;
//! the coefficients of their DOP853 code): 12 stages a step, the last of which is the first
//! of the next, and 3 more on a step that holds an output time. Its error estimate blends
//! a 5th- and a 3rd-order embedded solution, `err = err₅² / √(err₅² + 0.01·err₃²)`, and the
//! step size follows `err^(1/8)`.
//!
//! An 8th-order method needs far fewer steps than Dopri5: on a model-2 subject-year, 962
//! right-hand-side evaluations against Dopri5's 1,340 at rtol 1e-6, 1,525 against 3,236 at
//! 1e-8 and 2,684 against 8,570 at 1e-10, with errors against a reference of the same size.
//! Each of its steps costs about twice Dopri5's arithmetic, done as term-by-term sums over
//! the states (loops of a constant length for the fixed-size buffers); it is faster at
//! every tolerance (1.4× at 1e-6, 3.2× at 1e-10).
//! [`Integrator::Auto`](super::Integrator::Auto) chooses it below 1e-8 only: from there up
//! its solutions are noisier as functions of the parameters than Dopri5's, which the fits'
//! differences see.
//!
//! It watches for stiffness as Dopri5 does, from stage 12 and the first stage of the next
//! step (both at `t + h`); the bound on `h·|λ|` is 4.7, as far under DOP853's 6.1 as
//! Dopri5's 2.5 is under DOPRI5's 3.25.

use super::explicit::{self, Control, Explicit, StartBuffers, Stepping, StiffnessWatch};
use super::kernel::{Buf, Rhs, Settings, StepFailure};

/// A stage `f(t + c·h, y + h·Σ a_j·k_j)`.
struct Stage {
    c: f64,
    a: &'static [(usize, f64)],
}

/// Stages 2–12: node `c` and the nonzero `(j, a_sj)` (stage `j + 1`, 0-based `j`).
const STAGES: [Stage; 11] = [
    Stage {
        c: 0.05260015195876773,
        a: &[(0, 0.05260015195876773)],
    },
    Stage {
        c: 0.0789002279381516,
        a: &[(0, 0.0197250569845379), (1, 0.0591751709536137)],
    },
    Stage {
        c: 0.1183503419072274,
        a: &[(0, 0.02958758547680685), (2, 0.08876275643042054)],
    },
    Stage {
        c: 0.2816496580927726,
        a: &[
            (0, 0.2413651341592667),
            (2, -0.8845494793282861),
            (3, 0.924834003261792),
        ],
    },
    Stage {
        c: 0.3333333333333333,
        a: &[
            (0, 0.037037037037037035),
            (3, 0.17082860872947386),
            (4, 0.12546768756682242),
        ],
    },
    Stage {
        c: 0.25,
        a: &[
            (0, 0.037109375),
            (3, 0.17025221101954405),
            (4, 0.06021653898045596),
            (5, -0.017578125),
        ],
    },
    Stage {
        c: 0.3076923076923077,
        a: &[
            (0, 0.03709200011850479),
            (3, 0.17038392571223998),
            (4, 0.10726203044637328),
            (5, -0.015319437748624402),
            (6, 0.008273789163814023),
        ],
    },
    Stage {
        c: 0.6512820512820513,
        a: &[
            (0, 0.6241109587160757),
            (3, -3.3608926294469414),
            (4, -0.868219346841726),
            (5, 27.59209969944671),
            (6, 20.154067550477894),
            (7, -43.48988418106996),
        ],
    },
    Stage {
        c: 0.6,
        a: &[
            (0, 0.47766253643826434),
            (3, -2.4881146199716677),
            (4, -0.590290826836843),
            (5, 21.230051448181193),
            (6, 15.279233632882423),
            (7, -33.28821096898486),
            (8, -0.020331201708508627),
        ],
    },
    Stage {
        c: 0.8571428571428571,
        a: &[
            (0, -0.9371424300859873),
            (3, 5.186372428844064),
            (4, 1.0914373489967295),
            (5, -8.149787010746927),
            (6, -18.52006565999696),
            (7, 22.739487099350505),
            (8, 2.4936055526796523),
            (9, -3.0467644718982196),
        ],
    },
    Stage {
        c: 1.0,
        a: &[
            (0, 2.273310147516538),
            (3, -10.53449546673725),
            (4, -2.0008720582248625),
            (5, -17.9589318631188),
            (6, 27.94888452941996),
            (7, -2.8589982771350235),
            (8, -8.87285693353063),
            (9, 12.360567175794303),
            (10, 0.6433927460157636),
        ],
    },
];
/// The dense-output stages 14–16 (stage 13 is `f(t + h, y_new)`).
const DENSE_STAGES: [Stage; 3] = [
    Stage {
        c: 0.1,
        a: &[
            (0, 0.056167502283047954),
            (6, 0.25350021021662483),
            (7, -0.2462390374708025),
            (8, -0.12419142326381637),
            (9, 0.15329179827876568),
            (10, 0.00820105229563469),
            (11, 0.007567897660545699),
            (12, -0.008298),
        ],
    },
    Stage {
        c: 0.2,
        a: &[
            (0, 0.03183464816350214),
            (5, 0.028300909672366776),
            (6, 0.053541988307438566),
            (7, -0.05492374857139099),
            (10, -0.00010834732869724932),
            (11, 0.0003825710908356584),
            (12, -0.00034046500868740456),
            (13, 0.1413124436746325),
        ],
    },
    Stage {
        c: 0.7777777777777778,
        a: &[
            (0, -0.42889630158379194),
            (5, -4.697621415361164),
            (6, 7.683421196062599),
            (7, 4.06898981839711),
            (8, 0.3567271874552811),
            (12, -0.0013990241651590145),
            (13, 2.9475147891527724),
            (14, -9.15095847217987),
        ],
    },
];
/// The 8th-order solution `y + h·Σ b_j·k_j`.
const B8: [(usize, f64); 8] = [
    (0, 0.054293734116568765),
    (5, 4.450312892752409),
    (6, 1.8915178993145003),
    (7, -5.801203960010585),
    (8, 0.3111643669578199),
    (9, -0.1521609496625161),
    (10, 0.20136540080403034),
    (11, 0.04471061572777259),
];
/// The 3rd-order embedded error: `Σ b_j·k_j − Σ bhh_j·k_j`.
const BHH: [(usize, f64); 3] = [
    (0, 0.2440944881889764),
    (8, 0.7338466882816118),
    (11, 0.022058823529411766),
];
/// The 5th-order embedded error `Σ e_j·k_j`.
const E5: [(usize, f64); 8] = [
    (0, 0.01312004499419488),
    (5, -1.2251564463762044),
    (6, -0.4957589496572502),
    (7, 1.6643771824549864),
    (8, -0.35032884874997366),
    (9, 0.3341791187130175),
    (10, 0.08192320648511571),
    (11, -0.022355307863886294),
];
/// Dense output: the coefficients of `cont[4..8]` on stages 1–16.
const D: [[(usize, f64); 12]; 4] = [
    [
        (0, -8.428938276109013),
        (5, 0.5667149535193777),
        (6, -3.0689499459498917),
        (7, 2.38466765651207),
        (8, 2.117034582445028),
        (9, -0.871391583777973),
        (10, 2.2404374302607883),
        (11, 0.6315787787694688),
        (12, -0.08899033645133331),
        (13, 18.148505520854727),
        (14, -9.194632392478356),
        (15, -4.436036387594894),
    ],
    [
        (0, 10.427508642579134),
        (5, 242.28349177525817),
        (6, 165.20045171727028),
        (7, -374.5467547226902),
        (8, -22.113666853125306),
        (9, 7.733432668472264),
        (10, -30.674084731089398),
        (11, -9.332130526430229),
        (12, 15.697238121770845),
        (13, -31.139403219565178),
        (14, -9.35292435884448),
        (15, 35.81684148639408),
    ],
    [
        (0, 19.985053242002433),
        (5, -387.0373087493518),
        (6, -189.17813819516758),
        (7, 527.8081592054236),
        (8, -11.57390253995963),
        (9, 6.8812326946963),
        (10, -1.0006050966910838),
        (11, 0.7777137798053443),
        (12, -2.778205752353508),
        (13, -60.19669523126412),
        (14, 84.32040550667716),
        (15, 11.99229113618279),
    ],
    [
        (0, -25.69393346270375),
        (5, -154.18974869023643),
        (6, -231.5293791760455),
        (7, 357.6391179106141),
        (8, 93.40532418362432),
        (9, -37.45832313645163),
        (10, 104.0996495089623),
        (11, 29.8402934266605),
        (12, -43.53345659001114),
        (13, 96.32455395918828),
        (14, -39.17726167561544),
        (15, -149.72683625798564),
    ],
];

/// Step-size control as in DOP853: `fac = clamp(err^(1/8) / 0.9, 1/6, 1/0.333)`.
const CONTROL: Control = Control::new(1.0 / 8.0, 0.0, 1.0 / 6.0, 1.0 / 0.333);
/// The bound on `h·|λ|` of the stiffness test (see the module docs).
const STIFF_BOUND: f64 = 4.7;

/// `out = Σ a_j·k_j`, term by term (each a loop over the states).
#[inline(always)]
fn weighted_sum<B: Buf>(out: &mut [f64], terms: &[(usize, f64)], k: &[B]) {
    let n = out.len();
    let (first, rest) = terms.split_first().expect("a combination has terms");
    let k0 = &k[first.0].s()[..n];
    for i in 0..n {
        out[i] = first.1 * k0[i];
    }
    for &(j, a) in rest {
        let kj = &k[j].s()[..n];
        for i in 0..n {
            out[i] += a * kj[i];
        }
    }
}

/// `out = y + h·Σ a_j·k_j`.
#[inline(always)]
fn combine<B: Buf>(out: &mut [f64], y: &[f64], h: f64, terms: &[(usize, f64)], k: &[B]) {
    weighted_sum(out, terms, k);
    for (o, y) in out.iter_mut().zip(y) {
        *o = y + h * *o;
    }
}

/// One integrator whose buffers live as long as it does.
pub(crate) struct Dop853<B: Buf> {
    run: Stepping,
    y: B,
    /// Stages 1–16: `k[0] = f(t, y)`, `k[12] = f(t + h, y_new)` once a step is accepted,
    /// `k[13..16]` the dense-output stages.
    k: [B; 16],
    y_stage: B,
    y_new: B,
    /// The 5th-order error estimate, the 8th-order increment `Σ b_j·k_j` and the 3rd-order
    /// one of a step tried.
    errors: [B; 3],
    /// Dense output of the last step that holds an output time.
    cont: [B; 8],
}

impl<B: Buf> Dop853<B> {
    /// A kernel for `n` states that watches for stiffness if `watch`.
    pub fn new(n: usize, settings: Settings, watch: bool) -> Self {
        Dop853 {
            run: Stepping::new(settings, CONTROL, StiffnessWatch::new(watch, STIFF_BOUND)),
            y: B::zeros(n),
            k: std::array::from_fn(|_| B::zeros(n)),
            y_stage: B::zeros(n),
            y_new: B::zeros(n),
            errors: std::array::from_fn(|_| B::zeros(n)),
            cont: std::array::from_fn(|_| B::zeros(n)),
        }
    }

    /// `f` at stage `s` (0-based) from the stages before it.
    fn stage(&mut self, f: &mut Rhs<'_>, s: usize, stage: &Stage, h: f64) {
        let n = self.y.s().len(); // for an array buffer, its constant length
        let (done, rest) = self.k.split_at_mut(s);
        let ys = &mut self.y_stage.m()[..n];
        combine(ys, &self.y.s()[..n], h, stage.a, done);
        f.rhs(self.run.t + stage.c * h, ys, rest[0].m());
    }

    /// `h·|λ|` of the step of size `h` just accepted: stage 12 and stage 13 (the first of
    /// the next step) are both at `t + h`.
    fn h_lambda(&self, h: f64) -> f64 {
        let n = self.y.s().len(); // for an array buffer, its constant length
        let twelfth = (&self.y_stage.s()[..n], &self.k[11].s()[..n]);
        explicit::h_lambda(h, twelfth, (&self.y_new.s()[..n], &self.k[12].s()[..n]))
    }

    /// The dense output of the step of size `h` just accepted (stage 13 known): three more
    /// stages, then the 8 coefficient vectors of the interpolant.
    fn keep_dense_output(&mut self, f: &mut Rhs<'_>, h: f64) {
        for (s, stage) in DENSE_STAGES.iter().enumerate() {
            self.stage(f, 13 + s, stage, h);
        }
        self.run.counts.rhs += 3;
        let n = self.y.s().len(); // for an array buffer, its constant length
        let (y, yn, k) = (&self.y.s()[..n], &self.y_new.s()[..n], &self.k);
        let [c0, c1, c2, c3, high @ ..] = &mut self.cont;
        let (c0, c1, c2, c3) = (c0.m(), c1.m(), c2.m(), c3.m());
        for i in 0..n {
            let dy = yn[i] - y[i];
            let b = h * k[0].s()[i] - dy;
            c0[i] = y[i];
            c1[i] = dy;
            c2[i] = b;
            c3[i] = dy - h * k[12].s()[i] - b;
        }
        for (c, d) in high.iter_mut().zip(&D) {
            let c = &mut c.m()[..n];
            weighted_sum(c, d, k);
            c.iter_mut().for_each(|v| *v *= h);
        }
    }
}

impl<B: Buf> Explicit for Dop853<B> {
    const ORDER: f64 = 8.0;

    fn run(&self) -> &Stepping {
        &self.run
    }

    fn run_mut(&mut self) -> &mut Stepping {
        &mut self.run
    }

    fn y(&self) -> &[f64] {
        self.y.s()
    }

    fn load(&mut self, f: &mut Rhs<'_>, t: f64, y: &[f64]) {
        self.y.m().copy_from_slice(y);
        f.rhs(t, self.y.s(), self.k[0].m());
    }

    /// Stages 2–12 of a step of size `h`; `y_new` gets the 8th-order solution, and the
    /// result is the error norm (≤ 1 to accept).
    fn try_step(&mut self, f: &mut Rhs<'_>, h: f64) -> f64 {
        for (s, stage) in STAGES.iter().enumerate() {
            self.stage(f, s + 1, stage, h);
        }
        self.run.counts.rhs += 11;
        let n = self.y.s().len(); // for an array buffer, its constant length
        let (y, k) = (&self.y.s()[..n], &self.k);
        let yn = &mut self.y_new.m()[..n];
        let [e5, e3, bhh] = &mut self.errors;
        let (e5, e3, bhh) = (&mut e5.m()[..n], &mut e3.m()[..n], &mut bhh.m()[..n]);
        weighted_sum(e5, &E5, k);
        weighted_sum(e3, &B8, k);
        for i in 0..n {
            yn[i] = y[i] + h * e3[i];
        }
        weighted_sum(bhh, &BHH, k);
        let (s, states) = (&self.run.settings, self.run.settings.states.min(n));
        let (mut err5, mut err3) = (0.0, 0.0);
        for i in 0..n {
            // a sensitivity's weight also counts its state's size
            let weight = if i < states {
                s.atol + s.rtol * y[i].abs().max(yn[i].abs())
            } else {
                s.weight(i, y, yn[i])
            };
            err5 += (e5[i] / weight).powi(2);
            err3 += ((e3[i] - bhh[i]) / weight).powi(2);
        }
        let mut deno = err5 + 0.01 * err3;
        if deno <= 0.0 {
            deno = 1.0;
        }
        let err = h.abs() * err5 * (1.0 / (deno * n.max(1) as f64)).sqrt();
        if err.is_nan() { f64::INFINITY } else { err }
    }

    fn accept(
        &mut self,
        f: &mut Rhs<'_>,
        h: f64,
        dense: bool,
        test: bool,
    ) -> Result<Option<f64>, StepFailure> {
        let t_new = self.run.t + h;
        if let Some(state) = self.y_new.s().iter().position(|v| !v.is_finite()) {
            return Err(StepFailure::NotFinite { time: t_new, state });
        }
        f.rhs(t_new, self.y_new.s(), self.k[12].m());
        self.run.counts.rhs += 1;
        let h_lambda = test.then(|| self.h_lambda(h));
        if dense {
            self.keep_dense_output(f, h);
        }
        std::mem::swap(&mut self.y, &mut self.y_new);
        self.k.swap(0, 12);
        Ok(h_lambda)
    }

    fn interpolate(&self, s: f64, out: &mut [f64]) {
        let s1 = 1.0 - s;
        let c: [&[f64]; 8] = std::array::from_fn(|j| self.cont[j].s());
        for (i, o) in out.iter_mut().enumerate() {
            let tail = c[4][i] + s * (c[5][i] + s1 * (c[6][i] + s * c[7][i]));
            *o = c[0][i] + s * (c[1][i] + s1 * (c[2][i] + s * (c[3][i] + s1 * tail)));
        }
    }

    fn start_buffers(&mut self) -> StartBuffers<'_> {
        let n = self.y.s().len(); // for an array buffer, its constant length
        let [f0, f1, ..] = &mut self.k;
        StartBuffers {
            y: &self.y.s()[..n],
            f0: &f0.s()[..n],
            y1: &mut self.y_stage.m()[..n],
            f1: &mut f1.m()[..n],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::kernel::Kernel;

    /// Robertson's stiff chemical kinetics is found stiff within its first time unit.
    #[test]
    fn finds_robertson_stiff() {
        let mut robertson = |_t: f64, y: &[f64], dy: &mut [f64]| {
            dy[0] = -0.04 * y[0] + 1e4 * y[1] * y[2];
            dy[1] = 0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] * y[1];
            dy[2] = 3e7 * y[1] * y[1];
        };
        let mut ode = Dop853::<[f64; 3]>::new(3, Settings::new(1e-8, 1e-14, 100_000), true);
        ode.start(&mut robertson, 0.0, &[1.0, 0.0, 0.0], 0.0);
        match ode.advance(&mut robertson, 4e5, 4e5) {
            Err(StepFailure::Stiff { time }) => assert!(time < 1.0, "{time}"),
            other => panic!("{other:?}"),
        }
    }
}
