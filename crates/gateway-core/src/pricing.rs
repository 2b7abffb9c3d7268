//! Built-in per-token list prices (USD) for common models, used where `model_info` sets none.
//! Approximate public list prices at the time of writing (standard tier, short context); matched
//! by the longest prefix of the upstream model name. Unknown models cost 0 unless configured.

use crate::config::Prices;

/// `(model prefix, input, output, cached input)` in USD per token.
const TABLE: &[(&str, f64, f64, f64)] = &[
    ("gpt-4o-mini", 0.15e-6, 0.60e-6, 0.075e-6),
    ("gpt-4o", 2.50e-6, 10.0e-6, 1.25e-6),
    ("gpt-4.1-nano", 0.10e-6, 0.40e-6, 0.025e-6),
    ("gpt-4.1-mini", 0.40e-6, 1.60e-6, 0.10e-6),
    ("gpt-4.1", 2.00e-6, 8.00e-6, 0.50e-6),
    ("gpt-5-nano", 0.05e-6, 0.40e-6, 0.005e-6),
    ("gpt-5-mini", 0.25e-6, 2.00e-6, 0.025e-6),
    ("gpt-5", 1.25e-6, 10.0e-6, 0.125e-6),
    ("o3-mini", 1.10e-6, 4.40e-6, 0.55e-6),
    ("o3", 2.00e-6, 8.00e-6, 0.50e-6),
    ("o4-mini", 1.10e-6, 4.40e-6, 0.275e-6),
    ("claude-opus-4", 15.0e-6, 75.0e-6, 1.50e-6),
    ("claude-sonnet-4", 3.00e-6, 15.0e-6, 0.30e-6),
    ("claude-3-7-sonnet", 3.00e-6, 15.0e-6, 0.30e-6),
    ("claude-3-5-sonnet", 3.00e-6, 15.0e-6, 0.30e-6),
    ("claude-haiku-4", 1.00e-6, 5.00e-6, 0.10e-6),
    ("claude-3-5-haiku", 0.80e-6, 4.00e-6, 0.08e-6),
    ("gemini-2.5-pro", 1.25e-6, 10.0e-6, 0.31e-6),
    ("gemini-2.5-flash-lite", 0.10e-6, 0.40e-6, 0.025e-6),
    ("gemini-2.5-flash", 0.30e-6, 2.50e-6, 0.075e-6),
    ("gemini-2.0-flash", 0.10e-6, 0.40e-6, 0.025e-6),
];

/// The configured prices, with each missing one taken from the built-in table.
pub fn effective(configured: &Prices, upstream_model: &str) -> Prices {
    let builtin = TABLE
        .iter()
        .filter(|(prefix, ..)| upstream_model.starts_with(prefix))
        .max_by_key(|(prefix, ..)| prefix.len());
    match builtin {
        None => *configured,
        Some((_, input, output, cached)) => Prices {
            input: configured.input.or(Some(*input)),
            output: configured.output.or(Some(*output)),
            cached_input: configured.cached_input.or(Some(*cached)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_and_config_overrides() {
        let p = effective(&Prices::default(), "gpt-4o-mini-2024-07-18");
        assert_eq!(p.input, Some(0.15e-6));
        let p = effective(
            &Prices {
                input: Some(1.0),
                ..Default::default()
            },
            "gpt-4o",
        );
        assert_eq!((p.input, p.output), (Some(1.0), Some(10.0e-6)));
        assert_eq!(
            effective(&Prices::default(), "meta-llama/Llama-3.1-8B"),
            Prices::default()
        );
    }
}
