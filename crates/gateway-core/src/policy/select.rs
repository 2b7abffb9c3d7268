//! The order in which a model group's deployments are tried: `order` tiers (lowest first, always
//! honoured), and within a tier the `routing_strategy`. Deployments cooling down or over their own
//! RPM/TPM are left out.

use super::settings::Strategy;
use crate::config::Deployment;
use crate::pricing;

/// What the router knows of a deployment when choosing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Load {
    /// Cooling down until this Unix time in ms, if at all.
    pub cooling_until_ms: Option<u64>,
    /// Requests in flight on this replica (least-busy).
    pub in_flight: u64,
    /// Recent latency in ms on this replica (latency-based), if measured.
    pub latency_ms: Option<f64>,
    /// Requests sent this minute (shared; read only when the deployment has an `rpm` limit).
    pub rpm_used: u64,
    /// Tokens used this minute (shared; read only when the deployment has a `tpm` limit).
    pub tpm_used: u64,
}

impl Load {
    /// Whether the deployment may take a request now.
    pub fn available(&self, d: &Deployment, now_ms: u64) -> bool {
        self.cooling_until_ms.is_none_or(|until| until <= now_ms)
            && d.policy.rpm.is_none_or(|rpm| self.rpm_used < rpm)
            && d.policy.tpm.is_none_or(|tpm| self.tpm_used < tpm)
    }
}

/// A small deterministic random source (splitmix64).
#[derive(Debug, Clone)]
pub struct Random(u64);

impl Random {
    /// Seeded.
    pub fn new(seed: u64) -> Random {
        Random(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
}

/// simple-shuffle's weight: `weight`, else `rpm`, else `tpm`, else 1.
fn weight(d: &Deployment) -> f64 {
    d.policy
        .weight
        .or(d.policy.rpm.map(|n| n as f64))
        .or(d.policy.tpm.map(|n| n as f64))
        .unwrap_or(1.0)
}

/// Indices of `deployments` (with their `loads`) in the order to try, available ones only.
pub fn order(
    deployments: &[&Deployment],
    loads: &[Load],
    strategy: Strategy,
    now_ms: u64,
    random: &mut Random,
) -> Vec<usize> {
    // Each candidate gets a sort key within its tier; ties broken at random.
    let mut keyed: Vec<(u32, f64, f64, usize)> = Vec::new();
    for (i, d) in deployments.iter().enumerate() {
        let load = loads.get(i).copied().unwrap_or_default();
        if !load.available(d, now_ms) {
            continue;
        }
        let tie = random.unit();
        let key = match strategy {
            // Efraimidis–Spirakis: sorting by -u^(1/w) samples without replacement by weight.
            Strategy::SimpleShuffle => match weight(d) {
                w if w > 0.0 => -tie.powf(1.0 / w),
                _ => 0.0,
            },
            Strategy::LeastBusy => load.in_flight as f64,
            Strategy::LatencyBased => load.latency_ms.unwrap_or(0.0),
            Strategy::UsageBased => match (d.policy.tpm, d.policy.rpm) {
                (Some(tpm), _) => load.tpm_used as f64 / tpm as f64,
                (None, Some(rpm)) => load.rpm_used as f64 / rpm as f64,
                (None, None) => load.tpm_used as f64,
            },
            Strategy::CostBased => {
                let p = pricing::effective(&d.prices, &d.upstream_model);
                p.input.unwrap_or(0.0) + p.output.unwrap_or(0.0)
            }
        };
        keyed.push((d.policy.order.unwrap_or(u32::MAX), key, tie, i));
    }
    keyed.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.2.total_cmp(&b.2))
    });
    keyed.into_iter().map(|k| k.3).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(entries: &str) -> Config {
        Config::parse(&format!("model_list:\n{entries}")).unwrap()
    }

    fn entry(params: &str, info: &str) -> String {
        format!("  - model_name: m\n    litellm_params: {{model: openai/x, {params}}}\n    model_info: {{{info}}}\n")
    }

    #[test]
    fn order_tiers_first_then_strategy() {
        let c = config(
            &[
                entry("order: 2", "id: a"),
                entry("", "id: b"),
                entry("order: 1", "id: c"),
            ]
            .concat(),
        );
        let ds: Vec<&Deployment> = c.deployments.iter().collect();
        for seed in 0..20 {
            let o = order(
                &ds,
                &[Load::default(); 3],
                Strategy::SimpleShuffle,
                0,
                &mut Random::new(seed),
            );
            assert_eq!(o, vec![2, 0, 1]);
        }
    }

    #[test]
    fn cooling_and_over_limit_deployments_are_left_out() {
        let c = config(
            &[
                entry("rpm: 2", "id: a"),
                entry("", "id: b"),
                entry("tpm: 100", "id: c"),
            ]
            .concat(),
        );
        let ds: Vec<&Deployment> = c.deployments.iter().collect();
        let loads = [
            Load {
                rpm_used: 2,
                ..Load::default()
            },
            Load {
                cooling_until_ms: Some(1_000),
                ..Load::default()
            },
            Load {
                tpm_used: 99,
                ..Load::default()
            },
        ];
        assert_eq!(
            order(
                &ds,
                &loads,
                Strategy::SimpleShuffle,
                999,
                &mut Random::new(1)
            ),
            vec![2]
        );
        // A cooldown that has ended no longer counts.
        assert_eq!(
            order(
                &ds,
                &loads,
                Strategy::SimpleShuffle,
                1_000,
                &mut Random::new(1)
            )
            .len(),
            2
        );
    }

    #[test]
    fn weights_shape_the_first_pick() {
        let c = config(
            &[
                entry("weight: 3", "id: a"),
                entry("weight: 1", "id: b"),
                entry("weight: 0", "id: z"),
            ]
            .concat(),
        );
        let ds: Vec<&Deployment> = c.deployments.iter().collect();
        let mut random = Random::new(42);
        let mut first = [0u32; 3];
        for _ in 0..1_000 {
            let o = order(
                &ds,
                &[Load::default(); 3],
                Strategy::SimpleShuffle,
                0,
                &mut random,
            );
            assert_eq!(o.len(), 3);
            assert_eq!(o[2], 2, "weight 0 is tried last");
            first[o[0]] += 1;
        }
        assert!((700..=800).contains(&first[0]), "{first:?}");
        assert_eq!(first[2], 0);
    }

    #[test]
    fn rpm_serves_as_weight_without_weight() {
        let c = config(&[entry("rpm: 900", "id: a"), entry("rpm: 100", "id: b")].concat());
        let ds: Vec<&Deployment> = c.deployments.iter().collect();
        let mut random = Random::new(7);
        let a = (0..1_000)
            .filter(|_| {
                order(
                    &ds,
                    &[Load::default(); 2],
                    Strategy::SimpleShuffle,
                    0,
                    &mut random,
                )[0] == 0
            })
            .count();
        assert!((860..=940).contains(&a), "{a}");
    }

    #[test]
    fn other_strategies() {
        let c = config(
            &[
                entry(
                    "tpm: 1000",
                    "id: a, input_cost_per_token: 0.002, output_cost_per_token: 0.002",
                ),
                entry(
                    "tpm: 1000",
                    "id: b, input_cost_per_token: 0.001, output_cost_per_token: 0.001",
                ),
            ]
            .concat(),
        );
        let ds: Vec<&Deployment> = c.deployments.iter().collect();
        let loads = [
            Load {
                in_flight: 1,
                latency_ms: Some(80.0),
                tpm_used: 100,
                ..Load::default()
            },
            Load {
                in_flight: 5,
                latency_ms: Some(200.0),
                tpm_used: 900,
                ..Load::default()
            },
        ];
        let mut r = Random::new(3);
        assert_eq!(
            order(&ds, &loads, Strategy::LeastBusy, 0, &mut r),
            vec![0, 1]
        );
        assert_eq!(
            order(&ds, &loads, Strategy::LatencyBased, 0, &mut r),
            vec![0, 1]
        );
        assert_eq!(
            order(&ds, &loads, Strategy::UsageBased, 0, &mut r),
            vec![0, 1]
        );
        assert_eq!(
            order(&ds, &loads, Strategy::CostBased, 0, &mut r),
            vec![1, 0]
        );
    }
}
