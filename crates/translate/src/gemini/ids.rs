//! Tool-call ids for Gemini, which has none: stable ids made from the response id and position,
//! carrying the part's `thoughtSignature` (Gemini 3 requires it back with the call) so the
//! signature survives a round trip through any OpenAI client.

/// Separates the id from the signature it carries.
const SIGNATURE: &str = "__thought__";

/// A stable id for the `n`th call of a response, with the call's signature if any.
pub fn make(response_id: &str, candidate: u64, n: u64, signature: Option<&str>) -> String {
    // FNV-1a: stable across runs and platforms.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in response_id
        .bytes()
        .chain(candidate.to_le_bytes())
        .chain(n.to_le_bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    match signature {
        Some(s) => format!("call_{h:016x}{SIGNATURE}{s}"),
        None => format!("call_{h:016x}"),
    }
}

/// The signature an id carries.
pub fn signature(id: &str) -> Option<&str> {
    id.split_once(SIGNATURE)
        .map(|(_, s)| s)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_carries_signature() {
        assert_eq!(make("r", 0, 1, None), make("r", 0, 1, None));
        assert_ne!(make("r", 0, 1, None), make("r", 0, 2, None));
        let id = make("r", 0, 0, Some("c2ln"));
        assert_eq!(signature(&id), Some("c2ln"));
        assert_eq!(signature("call_abc"), None);
    }
}
