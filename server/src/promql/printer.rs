//! Prints a syntax tree back as a query, in upstream's canonical form (`String()` in `printer.go`; what the
//! `format_query` API returns): one space around binary operators, `by (...)` before the arguments, matchers
//! sorted, durations in Prometheus units, `@` timestamps with three decimals. Parsing the output gives the same
//! tree (positions aside).

use std::fmt::{self, Display, Formatter, Write as _};

use super::ast::*;
use super::lexer::go_quote_str;
use super::parser::is_legacy_label_name;

/// A duration in milliseconds as Prometheus writes it (`1h30m`, `0s`; weeks and years only when exact).
pub fn format_duration_ms(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms.unsigned_abs();
    if ms < 0 {
        out.push('-');
    }
    const UNITS: [(&str, u64, bool); 7] = [
        ("y", 365 * 24 * 3600 * 1000, true),
        ("w", 7 * 24 * 3600 * 1000, true),
        ("d", 24 * 3600 * 1000, false),
        ("h", 3600 * 1000, false),
        ("m", 60 * 1000, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ];
    for (unit, mult, exact) in UNITS {
        if exact && rest % mult != 0 {
            continue;
        }
        let v = rest / mult;
        if v > 0 {
            let _ = write!(out, "{v}{unit}");
            rest -= v * mult;
        }
    }
    out
}

/// A float as Go's `fmt.Sprint` prints it (shortest `%g`: `1e+06`, `123456`, `1e-05`, `+Inf`, `NaN`).
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    } else if v == f64::INFINITY {
        return "+Inf".into();
    } else if v == f64::NEG_INFINITY {
        return "-Inf".into();
    } else if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // Rust's `{:e}` gives the shortest round-tripping digits: `-1.2345e6`.
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        return go_exponent(mantissa, exp);
    }
    format!("{v}")
}

fn go_exponent(mantissa: &str, exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

/// A label name, quoted when outside the legacy character set.
fn label_name(name: &str) -> String {
    if is_legacy_label_name(name) {
        name.to_string()
    } else {
        go_quote_str(name)
    }
}

fn label_list(labels: &[String]) -> String {
    labels.iter().map(|l| label_name(l)).collect::<Vec<_>>().join(", ")
}

struct Dur<'a>(&'a Duration);

impl Display for Dur<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Duration::Fixed(ms) => f.write_str(&format_duration_ms(*ms)),
            Duration::Expr(e) => e.fmt(f),
        }
    }
}

impl Display for DurationExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.wrapped {
            f.write_str("(")?;
        }
        match &self.kind {
            DurationKind::Number {
                seconds,
                duration: true,
            } => f.write_str(&format_duration_ms(seconds_to_millis(*seconds)))?,
            DurationKind::Number {
                seconds,
                duration: false,
            } => f.write_str(&format_float(*seconds))?,
            DurationKind::Step => f.write_str("step()")?,
            DurationKind::Range => f.write_str("range()")?,
            DurationKind::Start => f.write_str("start()")?,
            DurationKind::End => f.write_str("end()")?,
            DurationKind::Neg(e) => write!(f, "-{e}")?,
            DurationKind::Binary { op, lhs, rhs } => write!(f, "{lhs} {op} {rhs}")?,
            DurationKind::MinOf(a, b) => write!(f, "min_of({a}, {b})")?,
            DurationKind::MaxOf(a, b) => write!(f, "max_of({a}, {b})")?,
        }
        if self.wrapped {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// ` @ ...`, ` offset ...`, ` anchored`/` smoothed`, in that order.
fn modifiers(
    f: &mut Formatter<'_>,
    at: Option<&AtModifier>,
    offset: Option<&Duration>,
    anchored: bool,
    smoothed: bool,
) -> fmt::Result {
    match at {
        Some(AtModifier::Timestamp(ms)) => write!(f, " @ {:.3}", *ms as f64 / 1000.0)?,
        Some(AtModifier::Start) => f.write_str(" @ start()")?,
        Some(AtModifier::End) => f.write_str(" @ end()")?,
        None => {}
    }
    match offset {
        Some(Duration::Fixed(0)) | None => {}
        Some(d @ Duration::Fixed(_)) => write!(f, " offset {}", Dur(d))?,
        Some(Duration::Expr(e)) => write!(f, " offset {e}")?,
    }
    if anchored {
        f.write_str(" anchored")?;
    }
    if smoothed {
        f.write_str(" smoothed")?;
    }
    Ok(())
}

impl VectorSelector {
    /// The selector without its modifiers: `name{matchers}`.
    fn fmt_bare(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut skipped_name = false;
        let mut parts: Vec<String> = Vec::with_capacity(self.matchers.len());
        for m in &self.matchers {
            if !skipped_name
                && m.name == "__name__"
                && m.op == crate::model::matcher::MatchOp::Equal
                && self.name.as_deref() == Some(m.value.as_str())
            {
                skipped_name = true;
                continue;
            }
            parts.push(format!(
                "{}{}{}",
                label_name(&m.name),
                m.op.as_str(),
                go_quote_str(&m.value)
            ));
        }
        parts.sort();
        if let Some(n) = &self.name {
            f.write_str(n)?;
        }
        if !parts.is_empty() || self.name.is_none() {
            write!(f, "{{{}}}", parts.join(","))?;
        }
        Ok(())
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::NumberLiteral(n) => {
                if n.duration && n.val.is_finite() {
                    f.write_str(&format_duration_ms(seconds_to_millis(n.val)))
                } else {
                    f.write_str(&format_float(n.val))
                }
            }
            Expr::StringLiteral(s) => f.write_str(&go_quote_str(&s.val)),
            Expr::VectorSelector(vs) => {
                vs.fmt_bare(f)?;
                modifiers(f, vs.at.as_ref(), vs.offset.as_ref(), vs.anchored, vs.smoothed)
            }
            Expr::MatrixSelector(ms) => {
                ms.vs.fmt_bare(f)?;
                write!(f, "[{}]", Dur(&ms.range))?;
                modifiers(
                    f,
                    ms.vs.at.as_ref(),
                    ms.vs.offset.as_ref(),
                    ms.vs.anchored,
                    ms.vs.smoothed,
                )
            }
            Expr::Subquery(sq) => {
                write!(f, "{}[{}:", sq.expr, Dur(&sq.range))?;
                if let Some(step) = &sq.step {
                    write!(f, "{}", Dur(step))?;
                }
                f.write_str("]")?;
                modifiers(f, sq.at.as_ref(), sq.offset.as_ref(), false, false)
            }
            Expr::Call(c) => {
                write!(f, "{}(", c.func.name)?;
                for (i, a) in c.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    a.fmt(f)?;
                }
                f.write_str(")")
            }
            Expr::Aggregate(a) => {
                f.write_str(a.op.as_str())?;
                if a.without {
                    write!(f, " without ({}) ", label_list(&a.grouping))?;
                } else if !a.grouping.is_empty() {
                    write!(f, " by ({}) ", label_list(&a.grouping))?;
                }
                f.write_str("(")?;
                if let Some(p) = &a.param {
                    write!(f, "{p}, ")?;
                }
                write!(f, "{})", a.expr)
            }
            Expr::Binary(b) => {
                write!(f, "{} {}", b.lhs, b.op)?;
                if b.return_bool {
                    f.write_str(" bool")?;
                }
                if let Some(m) = &b.matching {
                    if !m.matching_labels.is_empty() || m.on {
                        let tag = if m.on { "on" } else { "ignoring" };
                        write!(f, " {tag} ({})", label_list(&m.matching_labels))?;
                        match m.card {
                            Cardinality::ManyToOne => write!(f, " group_left ({})", label_list(&m.include))?,
                            Cardinality::OneToMany => write!(f, " group_right ({})", label_list(&m.include))?,
                            _ => {}
                        }
                    }
                    match (m.fill_left, m.fill_right) {
                        (Some(l), Some(r)) if l.to_bits() == r.to_bits() => write!(f, " fill({})", format_float(l))?,
                        (l, r) => {
                            if let Some(l) = l {
                                write!(f, " fill_left({})", format_float(l))?;
                            }
                            if let Some(r) = r {
                                write!(f, " fill_right({})", format_float(r))?;
                            }
                        }
                    }
                }
                write!(f, " {}", b.rhs)
            }
            Expr::Unary(u) => {
                let sign = if u.op == UnaryOp::Neg { "-" } else { "+" };
                write!(f, "{sign}{}", u.expr)
            }
            Expr::Paren(p) => write!(f, "({})", p.expr),
            Expr::Duration(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_floats() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (5_400_000, "1h30m"),
            (90 * 24 * 3600 * 1000, "90d"),
            (14 * 24 * 3600 * 1000, "2w"),
            (365 * 24 * 3600 * 1000, "1y"),
            (1500, "1s500ms"),
            (-300_000, "-5m"),
        ];
        for &(ms, want) in cases {
            assert_eq!(format_duration_ms(ms), want);
        }
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(0.1), "0.1");
        assert_eq!(format_float(1e21), "1e+21");
        assert_eq!(format_float(1e6), "1e+06");
        assert_eq!(format_float(1234567.0), "1.234567e+06");
        assert_eq!(format_float(123456.0), "123456");
        assert_eq!(format_float(0.0001), "0.0001");
        assert_eq!(format_float(0.00001), "1e-05");
        assert_eq!(format_float(-2.5e-7), "-2.5e-07");
        assert_eq!(format_float(1e100), "1e+100");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
    }
}
