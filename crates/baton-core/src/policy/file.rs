//! The policy file as written: TOML read into these types, then checked and compiled into a
//! [`Policy`]. Every error names the line it is about.

use std::collections::{BTreeMap, HashSet};

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use super::schedule::{Schedule, day_keys, parse_clock, parse_ranges};
use super::{
    AgeRange, AttrMatch, HoursMatch, Match, Policy, PolicyError, RoutingRule, Segment, Team,
    ThresholdOverrides, TimeWindow,
};
use crate::decision::TriggerKind;
use crate::handoff::Priority;
use crate::routing::OfferMode;
use crate::signals::{IssueTypeDef, Taxonomy};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    thresholds: Option<Spanned<RawThresholds>>,
    #[serde(default)]
    always_human: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    business_hours: Option<Spanned<RawHours>>,
    #[serde(default)]
    segments: Vec<Spanned<RawSegment>>,
    #[serde(default)]
    teams: Vec<Spanned<RawTeam>>,
    #[serde(default)]
    routing: Vec<Spanned<RawRule>>,
    #[serde(default)]
    default_team: Option<Spanned<String>>,
    #[serde(default)]
    issue_types: Vec<Spanned<RawIssueType>>,
    #[serde(default)]
    issue_type_fallback: Option<String>,
    #[serde(default)]
    issue_type_min_score: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    explicit_request: Option<Spanned<f64>>,
    frustration: Option<Spanned<f64>>,
    sentiment: Option<Spanned<f64>>,
    confidence: Option<Spanned<f64>>,
    #[serde(rename = "loop")]
    looping: Option<Spanned<f64>>,
    issue_type: Option<Spanned<f64>>,
    #[serde(default)]
    off: Vec<Spanned<String>>,
}

/// An opening-hours table: `timezone`, `holidays` and day keys, read as a map so each value
/// keeps its position.
type RawHours = BTreeMap<String, Spanned<toml::Value>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSegment {
    name: Spanned<String>,
    #[serde(default)]
    priority: i32,
    #[serde(rename = "match", default)]
    matcher: Option<Spanned<RawMatch>>,
    #[serde(default)]
    thresholds: Option<Spanned<RawThresholds>>,
    #[serde(default)]
    always_human: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    #[serde(default)]
    tier: Vec<String>,
    #[serde(default)]
    issue_type: Vec<Spanned<String>>,
    #[serde(default)]
    customer_age_days: Option<Spanned<RawAge>>,
    #[serde(default)]
    attrs: BTreeMap<String, RawAttr>,
    #[serde(default)]
    hours: Option<Spanned<String>>,
    #[serde(default)]
    time: Option<Spanned<String>>,
    #[serde(default)]
    days: Vec<Spanned<String>>,
    #[serde(default)]
    timezone: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAge {
    #[serde(default)]
    min: Option<i64>,
    #[serde(default)]
    max: Option<i64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawAttr {
    Many(Vec<toml::Value>),
    One(toml::Value),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    name: Spanned<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    skills: Vec<Spanned<String>>,
    #[serde(default)]
    tiers: Vec<String>,
    #[serde(default)]
    hours: Option<Spanned<RawHours>>,
    #[serde(default)]
    overflow: Option<Spanned<String>>,
    #[serde(default)]
    wait_target_minutes: Option<Spanned<f64>>,
    #[serde(default)]
    offers: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "match", default)]
    matcher: Option<Spanned<RawMatch>>,
    team: Spanned<String>,
    #[serde(default)]
    priority: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssueType {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    keywords: Vec<String>,
}

/// Reads the text of a policy file, with its content hash as the version.
pub(super) fn parse(text: &str) -> Result<Policy, PolicyError> {
    let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError {
        line: e.span().map(|s| line_of(text, s.start)),
        message: e.message().trim().to_string(),
    })?;
    Compiler { text }.compile(raw, super::content_version(text))
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

struct Compiler<'a> {
    text: &'a str,
}

impl Compiler<'_> {
    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> Result<T, PolicyError> {
        Err(PolicyError {
            line: Some(line_of(self.text, span.start)),
            message: message.into(),
        })
    }

    fn compile(&self, raw: RawPolicy, version: String) -> Result<Policy, PolicyError> {
        let defaults = Policy::builtin();

        // The taxonomy: the file's own issue types, or the built-in ones.
        let taxonomy = if raw.issue_types.is_empty() {
            None
        } else {
            let mut types = Vec::new();
            let mut seen = HashSet::new();
            for t in raw.issue_types {
                let span = t.span();
                let t = t.into_inner();
                let name = t.name.get_ref().trim().to_string();
                if name.is_empty() {
                    return self.err(t.name.span(), "an issue type needs a name");
                }
                if !seen.insert(name.clone()) {
                    return self.err(
                        t.name.span(),
                        format!("issue type `{name}` is defined twice"),
                    );
                }
                if t.examples.is_empty() && t.keywords.is_empty() {
                    return self.err(
                        span,
                        format!(
                            "issue type `{name}` needs examples (or keywords) to be recognised"
                        ),
                    );
                }
                types.push(IssueTypeDef {
                    name,
                    description: t.description,
                    examples: t.examples,
                    keywords: t.keywords,
                });
            }
            let mut taxonomy = Taxonomy::builtin();
            taxonomy.types = types;
            if let Some(f) = raw.issue_type_fallback {
                taxonomy.fallback = f;
            }
            if let Some(m) = &raw.issue_type_min_score {
                if !(0.0..=1.0).contains(m.get_ref()) {
                    return self.err(m.span(), "issue_type_min_score must be between 0 and 1");
                }
                taxonomy.min_score = *m.get_ref();
            }
            Some(taxonomy)
        };
        let known_types: HashSet<String> = {
            let t = taxonomy.clone().unwrap_or_else(Taxonomy::builtin);
            let mut names: HashSet<String> = t.types.into_iter().map(|t| t.name).collect();
            names.insert(t.fallback);
            names
        };
        let check_type = |s: &Spanned<String>| -> Result<String, PolicyError> {
            let name = s.get_ref().trim();
            if known_types.contains(name) {
                Ok(name.to_string())
            } else {
                let mut names: Vec<&String> = known_types.iter().collect();
                names.sort();
                let list: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
                self.err(
                    s.span(),
                    format!("unknown issue type `{name}` (known: {})", list.join(", ")),
                )
            }
        };

        let timezone = match &raw.timezone {
            Some(tz) => self.timezone(tz)?,
            None => defaults.timezone,
        };

        let mut thresholds = defaults.thresholds.clone();
        let mut off = Vec::new();
        if let Some(t) = raw.thresholds {
            let o = self.overrides(t.into_inner())?;
            thresholds = o.apply(&thresholds);
            off = o.off;
        }
        thresholds.off = off;

        let always_human = match raw.always_human {
            Some(list) => list
                .into_inner()
                .iter()
                .map(check_type)
                .collect::<Result<Vec<_>, _>>()?,
            None => defaults.always_human.clone(),
        };

        let business_hours = match raw.business_hours {
            Some(h) => Some(self.hours(h, timezone)?),
            None => None,
        };

        let mut segments = Vec::new();
        let mut segment_names = HashSet::new();
        for (order, s) in raw.segments.into_iter().enumerate() {
            let s = s.into_inner();
            let name = s.name.get_ref().trim().to_string();
            if name.is_empty() {
                return self.err(s.name.span(), "a segment needs a name");
            }
            if !segment_names.insert(name.clone()) {
                return self.err(s.name.span(), format!("segment `{name}` is defined twice"));
            }
            let matcher = match s.matcher {
                Some(m) => self.matcher(m, timezone, business_hours.is_some(), &check_type)?,
                None => Match::default(),
            };
            let thresholds = match s.thresholds {
                Some(t) => self.overrides(t.into_inner())?,
                None => ThresholdOverrides::default(),
            };
            let always_human = s
                .always_human
                .iter()
                .map(check_type)
                .collect::<Result<Vec<_>, _>>()?;
            segments.push(Segment {
                name,
                priority: s.priority,
                order,
                matcher,
                thresholds,
                always_human,
            });
        }

        let mut teams = Vec::new();
        let mut team_spans = Vec::new();
        for t in raw.teams {
            let t = t.into_inner();
            let name = t.name.get_ref().trim().to_string();
            if name.is_empty() {
                return self.err(t.name.span(), "a team needs a name");
            }
            if teams.iter().any(|x: &Team| x.name == name) {
                return self.err(t.name.span(), format!("team `{name}` is defined twice"));
            }
            let skills = t
                .skills
                .iter()
                .map(check_type)
                .collect::<Result<Vec<_>, _>>()?;
            let hours = match t.hours {
                Some(h) => Some(self.hours(h, timezone)?),
                None => None,
            };
            let wait_target = match &t.wait_target_minutes {
                Some(m)
                    if m.get_ref().is_finite()
                        && *m.get_ref() >= 0.0
                        && *m.get_ref() <= 10_080.0 =>
                {
                    Some(std::time::Duration::from_secs_f64(m.get_ref() * 60.0))
                }
                Some(m) => {
                    return self.err(
                        m.span(),
                        format!(
                            "wait_target_minutes of team `{name}` must be between 0 and 10080 (a week), got {}",
                            m.get_ref()
                        ),
                    );
                }
                None => None,
            };
            let offers = match &t.offers {
                Some(o) => match OfferMode::parse(o.get_ref().trim()) {
                    Some(mode) => mode,
                    None => {
                        return self.err(
                            o.span(),
                            format!(
                                "offers of team `{name}` must be \"one_at_a_time\" or \"up_to_capacity\", got {:?}",
                                o.get_ref()
                            ),
                        );
                    }
                },
                None => OfferMode::default(),
            };
            team_spans.push(t.overflow.clone());
            teams.push(Team {
                wait_target,
                offers,
                display_name: t.display_name.unwrap_or_else(|| title_case(&name)),
                name,
                skills,
                tiers: t.tiers.iter().map(|s| s.trim().to_lowercase()).collect(),
                hours,
                overflow: t.overflow.map(|o| o.into_inner().trim().to_string()),
            });
        }
        let team_names: Vec<String> = teams.iter().map(|t| t.name.clone()).collect();
        let check_team = |s: &Spanned<String>, what: &str| -> Result<String, PolicyError> {
            let name = s.get_ref().trim();
            if team_names.iter().any(|t| t == name) {
                Ok(name.to_string())
            } else if team_names.is_empty() {
                self.err(
                    s.span(),
                    format!("{what} names team `{name}`, but the policy declares no [[teams]]"),
                )
            } else {
                self.err(
                    s.span(),
                    format!(
                        "{what} names team `{name}`, which is not declared (teams: {})",
                        team_names.join(", ")
                    ),
                )
            }
        };
        for (team, overflow) in teams.iter().zip(&team_spans) {
            if let Some(o) = overflow {
                check_team(o, &format!("the overflow of team `{}`", team.name))?;
                if o.get_ref().trim() == team.name {
                    return self.err(
                        o.span(),
                        format!("team `{}` overflows to itself", team.name),
                    );
                }
            }
        }
        // Overflow chains must end.
        for team in &teams {
            let mut seen = vec![team.name.as_str()];
            let mut next = team.overflow.as_deref();
            while let Some(n) = next {
                if seen.contains(&n) {
                    let span = team_spans
                        .iter()
                        .zip(&teams)
                        .find(|(_, t)| t.name == team.name)
                        .and_then(|(s, _)| s.as_ref().map(|s| s.span()))
                        .unwrap_or(0..0);
                    return self.err(
                        span,
                        format!("overflow teams form a cycle: {} → {n}", seen.join(" → ")),
                    );
                }
                seen.push(n);
                next = teams
                    .iter()
                    .find(|t| t.name == n)
                    .and_then(|t| t.overflow.as_deref());
            }
        }

        let mut routing = Vec::new();
        for (i, r) in raw.routing.into_iter().enumerate() {
            let r = r.into_inner();
            let name = r.name.unwrap_or_else(|| format!("routing[{}]", i + 1));
            let team = check_team(&r.team, &format!("routing rule `{name}`"))?;
            let priority = match &r.priority {
                Some(p) => Priority::parse(p.get_ref().trim()).map_or_else(
                    || {
                        self.err(
                            p.span(),
                            format!(
                                "priority `{}` is not one of low, normal, high, urgent",
                                p.get_ref()
                            ),
                        )
                    },
                    Ok,
                )?,
                None => Priority::Normal,
            };
            let matcher = match r.matcher {
                Some(m) => self.matcher(m, timezone, business_hours.is_some(), &check_type)?,
                None => Match::default(),
            };
            routing.push(RoutingRule {
                name,
                matcher,
                team,
                priority,
            });
        }
        let default_team = match &raw.default_team {
            Some(t) => Some(check_team(t, "default_team")?),
            None => None,
        };

        let policy = Policy {
            version,
            name: raw.name,
            timezone,
            thresholds,
            always_human,
            business_hours,
            segments,
            teams,
            routing,
            default_team,
            taxonomy,
        };
        if let Some(t) = &policy.taxonomy {
            t.validate().map_err(|e| PolicyError {
                line: None,
                message: e.to_string(),
            })?;
        }
        Ok(policy)
    }

    fn timezone(&self, tz: &Spanned<String>) -> Result<Tz, PolicyError> {
        tz.get_ref().trim().parse::<Tz>().or_else(|_| {
            self.err(
                tz.span(),
                format!(
                    "`{}` is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)",
                    tz.get_ref()
                ),
            )
        })
    }

    fn overrides(&self, t: RawThresholds) -> Result<ThresholdOverrides, PolicyError> {
        let unit = |v: &Option<Spanned<f64>>,
                    key: &str,
                    lo: f64,
                    hi: f64|
         -> Result<Option<f64>, PolicyError> {
            match v {
                Some(s) if !(lo..=hi).contains(s.get_ref()) || s.get_ref().is_nan() => self.err(
                    s.span(),
                    format!(
                        "thresholds.{key} must be between {lo} and {hi}, not {}",
                        s.get_ref()
                    ),
                ),
                Some(s) => Ok(Some(*s.get_ref())),
                None => Ok(None),
            }
        };
        let mut off = Vec::new();
        for name in &t.off {
            match TriggerKind::parse(name.get_ref().trim()) {
                Some(TriggerKind::ExplicitRequest) => {
                    return self.err(
                        name.span(),
                        "explicit_request cannot be turned off: a customer who asks for a person always gets one",
                    );
                }
                Some(
                    k @ (TriggerKind::Sentiment
                    | TriggerKind::Confidence
                    | TriggerKind::Policy
                    | TriggerKind::Loop),
                ) => off.push(k),
                Some(k) => {
                    return self.err(
                        name.span(),
                        format!("{k} is raised by the responder and cannot be turned off here"),
                    );
                }
                None => {
                    return self.err(
                        name.span(),
                        format!(
                            "`{}` is not a trigger that can be turned off (sentiment, confidence, policy, loop)",
                            name.get_ref()
                        ),
                    );
                }
            }
        }
        Ok(ThresholdOverrides {
            explicit_request: unit(&t.explicit_request, "explicit_request", 0.05, 1.0)?,
            frustration: unit(&t.frustration, "frustration", 0.0, 1.0)?,
            sentiment: unit(&t.sentiment, "sentiment", -1.0, 1.0)?,
            confidence: unit(&t.confidence, "confidence", 0.0, 1.0)?,
            looping: unit(&t.looping, "loop", 0.0, 1.0)?,
            issue_type: unit(&t.issue_type, "issue_type", 0.0, 1.0)?,
            off,
        })
    }

    fn hours(&self, h: Spanned<RawHours>, default_tz: Tz) -> Result<Schedule, PolicyError> {
        let span = h.span();
        let h = h.into_inner();
        let text_of = |v: &Spanned<toml::Value>, what: &str| -> Result<String, PolicyError> {
            match v.get_ref() {
                toml::Value::String(s) => Ok(s.clone()),
                other => self.err(
                    v.span(),
                    format!("{what} must be a string, not {}", other.type_str()),
                ),
            }
        };
        let mut tz = default_tz;
        let mut holidays = Vec::new();
        let mut keys: Vec<(String, &Spanned<toml::Value>)> = Vec::new();
        for (key, value) in &h {
            match key.as_str() {
                "timezone" => {
                    let name = Spanned::new(value.span(), text_of(value, "timezone")?);
                    tz = self.timezone(&name)?;
                }
                "holidays" => {
                    let toml::Value::Array(days) = value.get_ref() else {
                        return self.err(
                            value.span(),
                            "holidays must be a list of dates like [\"2026-12-25\"]",
                        );
                    };
                    for d in days {
                        let date = d
                            .as_str()
                            .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok());
                        match date {
                            Some(date) => holidays.push(date),
                            None => {
                                return self.err(
                                    value.span(),
                                    format!("holiday {d} is not a date (YYYY-MM-DD)"),
                                );
                            }
                        }
                    }
                }
                other => {
                    if day_keys(&other.to_lowercase()).is_none() {
                        return self.err(
                            value.span(),
                            format!(
                                "`{other}` is not a day (mon … sun, weekdays, weekend, everyday), timezone or holidays"
                            ),
                        );
                    }
                    keys.push((other.to_lowercase(), value));
                }
            }
        }
        // General keys first (everyday, weekdays, weekend), then single days override them.
        keys.sort_by_key(|(k, _)| std::cmp::Reverse(day_keys(k).map_or(0, <[Weekday]>::len)));
        let mut per_day: Vec<(Weekday, Vec<(u32, u32)>)> = Vec::new();
        for (key, value) in keys {
            let text = text_of(value, &key)?;
            let ranges = parse_ranges(&text).or_else(|e| self.err(value.span(), e))?;
            for d in day_keys(&key).unwrap_or_default() {
                per_day.retain(|(x, _)| x != d);
                per_day.push((*d, ranges.clone()));
            }
        }
        if per_day.iter().all(|(_, r)| r.is_empty()) {
            return self.err(
                span,
                "opening hours name no open time: give e.g. weekdays = \"09:00-17:00\"",
            );
        }
        Ok(Schedule::from_ranges(tz, &per_day, holidays))
    }

    fn matcher(
        &self,
        m: Spanned<RawMatch>,
        default_tz: Tz,
        has_business_hours: bool,
        check_type: &dyn Fn(&Spanned<String>) -> Result<String, PolicyError>,
    ) -> Result<Match, PolicyError> {
        let m = m.into_inner();
        let issue_type = m
            .issue_type
            .iter()
            .map(check_type)
            .collect::<Result<Vec<_>, _>>()?;
        let customer_age_days = match m.customer_age_days {
            Some(a) => {
                let span = a.span();
                let a = a.into_inner();
                if a.min.is_none() && a.max.is_none() {
                    return self.err(span, "customer_age_days needs min, max or both");
                }
                if let (Some(lo), Some(hi)) = (a.min, a.max)
                    && lo > hi
                {
                    return self.err(
                        span,
                        format!("customer_age_days: min {lo} is above max {hi}"),
                    );
                }
                Some(AgeRange {
                    min: a.min,
                    max: a.max,
                })
            }
            None => None,
        };
        let attrs = m
            .attrs
            .into_iter()
            .map(|(k, v)| {
                let values = match v {
                    RawAttr::Many(v) => v,
                    RawAttr::One(v) => vec![v],
                };
                AttrMatch {
                    key: k,
                    values: values.iter().map(attr_text).collect(),
                }
            })
            .collect();
        let hours = match &m.hours {
            Some(h) => {
                let which = match h.get_ref().trim() {
                    "business" | "business_hours" | "open" => HoursMatch::Business,
                    "after_hours" | "outside_business_hours" | "closed" => HoursMatch::AfterHours,
                    other => {
                        return self.err(
                            h.span(),
                            format!("hours = `{other}`: use \"business\" or \"after_hours\""),
                        );
                    }
                };
                if !has_business_hours {
                    return self.err(
                        h.span(),
                        "hours matches the support organisation's [business_hours], which the policy does not declare",
                    );
                }
                Some(which)
            }
            None => None,
        };
        let timezone = match &m.timezone {
            Some(tz) => self.timezone(tz)?,
            None => default_tz,
        };
        let time = match &m.time {
            Some(t) => {
                let (from, to) = t.get_ref().split_once('-').ok_or(()).or_else(|_| {
                    self.err(
                        t.span(),
                        format!("time = `{}`: use a range like \"18:00-08:00\"", t.get_ref()),
                    )
                })?;
                let from = parse_clock(from).or_else(|e| self.err(t.span(), e))?;
                let to = parse_clock(to).or_else(|e| self.err(t.span(), e))?;
                if from == to {
                    return self.err(t.span(), "time is an empty range");
                }
                Some(TimeWindow { from, to })
            }
            None => None,
        };
        let mut days = Vec::new();
        for d in &m.days {
            match day_keys(&d.get_ref().trim().to_lowercase()) {
                Some(ds) => days.extend_from_slice(ds),
                None => {
                    return self.err(
                        d.span(),
                        format!(
                            "`{}` is not a day (mon … sun, weekdays, weekend)",
                            d.get_ref()
                        ),
                    );
                }
            }
        }
        Ok(Match {
            tier: m.tier.iter().map(|t| t.trim().to_lowercase()).collect(),
            issue_type,
            customer_age_days,
            attrs,
            hours,
            time,
            days,
            timezone,
        })
    }
}

fn attr_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn title_case(name: &str) -> String {
    name.split(['_', '-', ' '])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
