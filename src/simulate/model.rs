//! The scenario turned into ready-to-sample distributions, built once.

use rand::Rng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand_distr::{LogNormal, Normal};

use super::scenario::{Behaviour, SessionKind, TimeOfDay};

/// Names and a weighted choice among them.
#[derive(Debug, Clone)]
pub struct Choice {
    pub names: Vec<String>,
    index: WeightedIndex<f64>,
}

impl Choice {
    pub fn new<'a>(weights: impl IntoIterator<Item = (&'a String, &'a f64)>) -> Self {
        let (names, weights): (Vec<String>, Vec<f64>) =
            weights.into_iter().map(|(n, w)| (n.clone(), *w)).unzip();
        Self {
            names,
            index: WeightedIndex::new(weights).expect("validated weights"),
        }
    }

    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        self.index.sample(rng)
    }
}

/// A local time of day: a mixture of normal distributions, in seconds.
#[derive(Debug, Clone)]
pub struct TimeMixture {
    components: Vec<Normal<f64>>,
    choice: WeightedIndex<f64>,
}

impl TimeMixture {
    pub fn new(times: &[TimeOfDay]) -> Self {
        Self {
            components: times
                .iter()
                .map(|t| Normal::new(t.seconds(), t.sd_min * 60.0).expect("validated"))
                .collect(),
            choice: WeightedIndex::new(times.iter().map(|t| t.weight)).expect("validated"),
        }
    }

    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        self.components[self.choice.sample(rng)].sample(rng)
    }
}

/// How a session's end is drawn.
#[derive(Debug, Clone)]
pub enum EndModel {
    /// At a local time of day.
    Until(Normal<f64>),
    /// After a log-normal length, in seconds.
    Length(LogNormal<f64>),
}

#[derive(Debug, Clone)]
pub struct PauseModel {
    pub share: f64,
    pub at: Normal<f64>,
    pub length: LogNormal<f64>,
}

#[derive(Debug, Clone)]
pub struct AwayModel {
    pub per_second: f64,
    pub length: LogNormal<f64>,
}

#[derive(Debug, Clone)]
pub struct KindModel {
    /// From the name: seeds the per-user choice of platform and version, so
    /// a user keeps them across days and between weekday and weekend.
    pub salt: u64,
    pub share: f64,
    pub count: [u32; 2],
    pub platforms: Choice,
    pub app_versions: Choice,
    pub start: TimeMixture,
    pub end: EndModel,
    pub pause: Option<PauseModel>,
    pub away: Option<AwayModel>,
}

#[derive(Debug, Clone)]
pub struct BehaviourModel {
    pub active_share: f64,
    pub kinds: Vec<KindModel>,
}

impl BehaviourModel {
    pub fn new(behaviour: &Behaviour) -> Self {
        Self {
            active_share: behaviour.active_share,
            kinds: behaviour.sessions.iter().map(KindModel::new).collect(),
        }
    }
}

impl KindModel {
    fn new(kind: &SessionKind) -> Self {
        let minutes = |median_min: f64, sigma: f64| {
            LogNormal::new((median_min * 60.0).ln(), sigma).expect("validated")
        };
        let end = match (&kind.until, &kind.length) {
            (Some(until), _) => {
                EndModel::Until(Normal::new(until.seconds(), until.sd_min * 60.0).expect("valid"))
            }
            (None, Some(length)) => EndModel::Length(minutes(length.median_min, length.sigma)),
            (None, None) => unreachable!("validated: until or length"),
        };
        Self {
            salt: kind.name.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01B3) // FNV-1a
            }),
            share: kind.share,
            count: kind.count,
            platforms: Choice::new(&kind.platforms),
            app_versions: Choice::new(&kind.app_versions),
            start: TimeMixture::new(&kind.start),
            end,
            pause: kind.pause.as_ref().map(|p| PauseModel {
                share: p.share,
                at: Normal::new(p.seconds(), p.sd_min * 60.0).expect("validated"),
                length: minutes(p.median_min, 0.5),
            }),
            away: kind.away.as_ref().map(|a| AwayModel {
                per_second: a.per_hour / 3600.0,
                length: minutes(a.median_min, 0.7),
            }),
        }
    }
}
