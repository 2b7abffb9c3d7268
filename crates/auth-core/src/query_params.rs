//! Query strings of the usage API: percent-decoded parameters, unknown names refused, and UTC
//! dates (`YYYY-MM-DD` or Unix seconds).

use gateway_core::ApiError;

/// A query string's parameters, each checked against the names a path accepts.
pub struct Params(Vec<(String, String)>);

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Params {
    /// Parses `query`; a name outside `allowed` is a 400 naming it.
    pub fn parse(query: &str, allowed: &[&str]) -> Result<Params, ApiError> {
        let mut out = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (decode(k), decode(v));
            if !allowed.contains(&k.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "Unknown query parameter `{k}`; this path accepts: {}",
                    allowed.join(", ")
                ))
                .with_param(&k));
            }
            out.push((k, v));
        }
        Ok(Params(out))
    }

    /// The first value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An integer in `range`, or `default` when absent.
    pub fn int_in(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
    ) -> Result<u64, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "`{name}` must be an integer from {} to {}",
                        range.start(),
                        range.end()
                    ))
                    .with_param(name)
                }),
        }
    }

    /// `start_date` / `end_date` as a half-open range of Unix seconds: `YYYY-MM-DD` is a whole
    /// UTC day (`end_date` inclusive), a number is Unix seconds; by default the last 7 days (or
    /// `max_days` if fewer) up to `now_s`. At most `max_days` long.
    pub fn range(&self, now_s: u64, max_days: u64) -> Result<(u64, u64), ApiError> {
        let end = match self.get("end_date") {
            None => now_s,
            Some(v) => parse_date(v, true).ok_or_else(|| bad_date("end_date"))?,
        };
        let start = match self.get("start_date") {
            None => end.saturating_sub(7.min(max_days) * 86_400),
            Some(v) => parse_date(v, false).ok_or_else(|| bad_date("start_date"))?,
        };
        if end < start {
            return Err(
                ApiError::bad_request("`end_date` is before `start_date`").with_param("end_date")
            );
        }
        // A second over: "the last day" ends a second after now, to include it.
        if end - start > max_days.saturating_mul(86_400).saturating_add(1) {
            return Err(ApiError::bad_request(format!(
                "The range from `start_date` to `end_date` may span at most {max_days} days here"
            ))
            .with_param("start_date"));
        }
        Ok((start, end))
    }
}

fn bad_date(name: &str) -> ApiError {
    ApiError::bad_request(format!(
        "`{name}` must be a date (YYYY-MM-DD, UTC) or Unix seconds"
    ))
    .with_param(name)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` of a day number since 1970-01-01 (H. Hinnant's `civil_from_days`).
pub fn format_day(unix_s: u64) -> String {
    let z = (unix_s / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A date parameter as Unix seconds: `YYYY-MM-DD` is the day's start (or, for an end, the next
/// day's start), digits are Unix seconds.
fn parse_date(v: &str, end: bool) -> Option<u64> {
    if !v.is_empty() && v.len() <= 12 && v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse().ok();
    }
    let mut parts = v.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || d < 1
        || d > month_days[m as usize - 1]
    {
        return None;
    }
    let day = days_from_civil(y, m, d) + i64::from(end);
    u64::try_from(day * 86_400).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_params() {
        assert_eq!(parse_date("1970-01-02", false), Some(86_400));
        assert_eq!(parse_date("1970-01-02", true), Some(2 * 86_400));
        assert_eq!(parse_date("2024-02-29", false), Some(1_709_164_800));
        assert_eq!(parse_date("2023-02-29", false), None);
        assert_eq!(parse_date("2024-13-01", false), None);
        assert_eq!(parse_date("1700000000", false), Some(1_700_000_000));
        assert_eq!(parse_date("yesterday", false), None);
        assert_eq!(format_day(1_709_164_800), "2024-02-29");
        assert_eq!(format_day(0), "1970-01-01");
        let p = Params::parse(
            "start_date=2024-01-01&end_date=2024-01-01&x%5Fy=a%20b",
            &["start_date", "end_date", "x_y"],
        )
        .unwrap();
        assert_eq!(p.get("x_y"), Some("a b"));
        assert_eq!(p.range(0, 1).unwrap(), (1_704_067_200, 1_704_153_600));
        let e = Params::parse("nope=1", &["a"]).err().unwrap();
        assert_eq!((e.status, e.param.as_deref()), (400, Some("nope")));
        let p = Params::parse(
            "start_date=2024-02-01&end_date=2024-01-01&limit=-1",
            &["start_date", "end_date", "limit"],
        )
        .unwrap();
        assert_eq!(
            p.range(0, 400).err().unwrap().param.as_deref(),
            Some("end_date")
        );
        assert_eq!(p.int_in("limit", 1..=10, 5).err().unwrap().status, 400);
        let p = Params::parse("start_date=2020-01-01", &["start_date"]).unwrap();
        assert!(p.range(1_704_067_200, 31).is_err(), "too long a range");
        assert_eq!(decode("%zz%4"), "%zz%4");
    }
}
