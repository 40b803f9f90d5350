//! Table-driven tests of the pull parser: entries, borrowed labels, series bytes, quoted UTF-8 names, modes and
//! error positions.

use std::borrow::Cow;

use exposition::encode::Format;
use exposition::model::MetricType;
use exposition::parse::{Entry, ErrorKind, Mode, Parser, Sample, families};

/// A sample as owned parts: name, labels, value, timestamp, series bytes.
type Owned = (String, Vec<(String, String)>, f64, Option<i64>, String);

/// One table row: input, then the expected name, labels, value, timestamp and series.
type Row<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], f64, Option<i64>, &'a str);

fn samples(input: &str, format: Format, mode: Mode) -> Vec<Owned> {
    Parser::new(input.as_bytes(), format, mode)
        .filter_map(|e| match e.unwrap_or_else(|e| panic!("{input:?}: {e}")) {
            Entry::Sample(s) => Some((
                s.name.to_string(),
                s.labels
                    .iter()
                    .map(|l| (l.name.into_owned(), l.value.into_owned()))
                    .collect(),
                s.value,
                s.timestamp_ms,
                String::from_utf8_lossy(s.series).into_owned(),
            )),
            _ => None,
        })
        .collect()
}

fn error(input: &str, format: Format, mode: Mode) -> String {
    match Parser::new(input.as_bytes(), format, mode).find_map(Result::err) {
        Some(e) => e.to_string(),
        None => panic!("{input:?} parsed without error"),
    }
}

#[test]
fn text_samples() {
    let l = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    };
    let cases: &[Row<'_>] = &[
        ("a 1\n", "a", &[], 1.0, None, "a"),
        ("a{b=\"c\"} 2 1000\n", "a", &[("b", "c")], 2.0, Some(1000), "a{b=\"c\"}"),
        (
            "  a {b = \"c\" , d=\"e\",} -Inf  12 \n",
            "a",
            &[("b", "c"), ("d", "e")],
            f64::NEG_INFINITY,
            Some(12),
            "a {b = \"c\" , d=\"e\",}",
        ),
        (
            "a{b=\"c\"d=\"e\"} 1",
            "a",
            &[("b", "c"), ("d", "e")],
            1.0,
            None,
            "a{b=\"c\"d=\"e\"}",
        ),
        ("a\t1\t5", "a", &[], 1.0, Some(5), "a"),
        (
            "a{b=\"x\\\"y\\\\z\\nw\\q\"} 1",
            "a",
            &[("b", "x\"y\\z\nw\\q")],
            1.0,
            None,
            "a{b=\"x\\\"y\\\\z\\nw\\q\"}",
        ),
        (
            "a{b=\"multi\nline\"} 1",
            "a",
            &[("b", "multi\nline")],
            1.0,
            None,
            "a{b=\"multi\nline\"}",
        ),
        (
            "{\"my.metric\", a=\"b\"} 3",
            "my.metric",
            &[("a", "b")],
            3.0,
            None,
            "{\"my.metric\", a=\"b\"}",
        ),
        ("{\"my.metric\"} 3", "my.metric", &[], 3.0, None, "{\"my.metric\"}"),
        (
            "m{\"label.name\"=\"v\", \"other\"=\"w\"} 4",
            "m",
            &[("label.name", "v"), ("other", "w")],
            4.0,
            None,
            "m{\"label.name\"=\"v\", \"other\"=\"w\"}",
        ),
        (
            "{a=\"b\", \"esc\\\"aped\"} 5",
            "esc\"aped",
            &[("a", "b")],
            5.0,
            None,
            "{a=\"b\", \"esc\\\"aped\"}",
        ),
        ("a{b=\"\0\"} 1\n", "a", &[("b", "\0")], 1.0, None, "a{b=\"\0\"}"),
    ];
    for (input, name, labels, value, ts, series) in cases {
        let got = samples(input, Format::Text, Mode::Lenient);
        assert_eq!(
            got,
            vec![(name.to_string(), l(labels), *value, *ts, series.to_string())],
            "{input:?}"
        );
    }
}

#[test]
fn labels_borrow_unless_escaped() {
    let input = b"a{plain=\"v\",esc=\"a\\\\b\"} 1\n";
    let Some(Ok(Entry::Sample(Sample { labels, .. }))) = Parser::new(input, Format::Text, Mode::Lenient).next() else {
        panic!("no sample");
    };
    let all: Vec<_> = labels.iter().collect();
    assert!(matches!(all[0].value, Cow::Borrowed("v")));
    assert!(matches!(all[1].value, Cow::Owned(ref s) if s == "a\\b"));
}

#[test]
fn metadata_entries() {
    let input = "# HELP a Some \\\\ help\\nmore\n# TYPE a counter\n# random comment\n#no space\na 1\n";
    let got: Vec<Entry<'_>> = Parser::new(input.as_bytes(), Format::Text, Mode::Strict)
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        got[..4],
        [
            Entry::Help {
                name: "a".into(),
                help: "Some \\ help\nmore".into()
            },
            Entry::Type {
                name: "a".into(),
                metric_type: MetricType::Counter
            },
            Entry::Comment("random comment".into()),
            Entry::Comment("no space".into()),
        ]
    );

    let om = "# HELP \"x.y\" with \\\"quotes\\\"\n# TYPE \"x.y\" gauge\n# UNIT x_seconds seconds\n# EOF\n";
    let got: Vec<Entry<'_>> = Parser::new(om.as_bytes(), Format::OpenMetrics, Mode::Lenient)
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        got,
        [
            Entry::Help {
                name: "x.y".into(),
                help: "with \"quotes\"".into()
            },
            Entry::Type {
                name: "x.y".into(),
                metric_type: MetricType::Gauge
            },
            Entry::Unit {
                name: "x_seconds".into(),
                unit: "seconds"
            },
        ]
    );
}

#[test]
fn openmetrics_samples_and_exemplars() {
    let input = "# TYPE a counter\na_total{x=\"y\"} 1.5 1520879607.789 # {trace_id=\"abc\"} 0.67 1520879607.5\n# EOF";
    let entries: Vec<_> = Parser::new(input.as_bytes(), Format::OpenMetrics, Mode::Strict)
        .map(Result::unwrap)
        .collect();
    let Entry::Sample(s) = &entries[1] else {
        panic!("{entries:?}")
    };
    assert_eq!((s.value, s.timestamp_ms), (1.5, Some(1520879607789)));
    assert_eq!(s.series, b"a_total{x=\"y\"}");
    let ex = s.exemplar.as_ref().expect("exemplar");
    assert_eq!(ex.labels.get("trace_id").as_deref(), Some("abc"));
    assert_eq!((ex.value, ex.timestamp_ms), (0.67, Some(1520879607500)));
}

#[test]
fn error_positions_and_wording() {
    let cases: &[(&str, Format, Mode, &str)] = &[
        (
            "a 1\nb 2\nc{d=}",
            Format::Text,
            Mode::Lenient,
            "line 3, column 5: expected label value, got \"}\"",
        ),
        (
            "a{b='c'} 1\n",
            Format::Text,
            Mode::Lenient,
            "line 1, column 5: expected label value, got \"'c'}\"",
        ),
        (
            "{a=\"ok\"} 1",
            Format::Text,
            Mode::Lenient,
            "line 1, column 1: metric name not set",
        ),
        (
            "a true\n",
            Format::Text,
            Mode::Lenient,
            "line 1, column 3: invalid float \"true\"",
        ),
        (
            "a 1_2\n",
            Format::Text,
            Mode::Lenient,
            "line 1, column 3: unsupported character in float \"1_2\"",
        ),
        (
            "# TYPE a meh\n",
            Format::Text,
            Mode::Lenient,
            "line 1, column 10: invalid metric type \"meh\"",
        ),
        (
            "é{b=\"c\"} 1",
            Format::Text,
            Mode::Lenient,
            "line 1, column 1: expected a valid start token, got \"é{b=\\\"c\\\"}\"",
        ),
        (
            "x{é=\"c\"} 1",
            Format::Text,
            Mode::Lenient,
            "line 1, column 3: expected label name, got \"é=\\\"c\\\"}\"",
        ),
        (
            "a 1\n",
            Format::OpenMetrics,
            Mode::Lenient,
            "line 2, column 1: data does not end with # EOF",
        ),
        (
            "a 1\n# EOF\nb",
            Format::OpenMetrics,
            Mode::Lenient,
            "line 3, column 1: unexpected data after # EOF",
        ),
        (
            "# TYPE a counter\na_total -1\n# EOF\n",
            Format::OpenMetrics,
            Mode::Strict,
            "line 2, column 1: invalid value -1 for sample \"a_total\": counter totals must not be negative or NaN",
        ),
        (
            "a{x=\"1\",x=\"2\"} 1\n",
            Format::Text,
            Mode::Strict,
            "line 1, column 1: duplicate label name \"x\"",
        ),
        (
            "# TYPE a gauge\na 1\n# HELP a late\n",
            Format::Text,
            Mode::Strict,
            "line 3, column 1: HELP for metric family \"a\" after its samples",
        ),
        (
            "a 1\nb 1\na 2\n",
            Format::Text,
            Mode::Strict,
            "line 3, column 1: metric family \"a\" is not contiguous: it appeared before another family",
        ),
        (
            "# TYPE h histogram\nh_bucket 1\n",
            Format::Text,
            Mode::Strict,
            "line 2, column 1: sample \"h_bucket\" is missing label \"le\"",
        ),
    ];
    for (input, format, mode, want) in cases {
        assert_eq!(error(input, *format, *mode), *want, "{input:?}");
    }
}

#[test]
fn error_kinds_are_typed() {
    let err = Parser::new(b"a 1 2 3\n", Format::Text, Mode::Lenient)
        .find_map(Result::err)
        .expect("error");
    assert_eq!((err.line, err.column), (1, 7));
    assert!(matches!(err.kind, ErrorKind::Syntax { .. }));
}

#[test]
fn modes_differ_where_the_go_parsers_are_lenient() {
    let lenient_only: &[(&str, Format)] = &[
        ("a{b=\"c\",} 1\n# EOF\n", Format::OpenMetrics),
        ("# TYPE a counter\na_total -1\n# EOF\n", Format::OpenMetrics),
        ("a 1\nb 1\na 2\n", Format::Text),
        ("a{x=\"1\",x=\"2\"} 1\n", Format::Text),
        ("# TYPE a gauge\na 1 # {t=\"x\"} 1\n# EOF\n", Format::OpenMetrics),
    ];
    for (input, format) in lenient_only {
        assert!(
            Parser::new(input.as_bytes(), *format, Mode::Lenient).all(|e| e.is_ok()),
            "{input:?}"
        );
        assert!(
            Parser::new(input.as_bytes(), *format, Mode::Strict).any(|e| e.is_err()),
            "{input:?}"
        );
    }
}

#[test]
fn parser_stops_after_an_error() {
    let mut p = Parser::new(b"a 1\nbad line\nb 2\n", Format::Text, Mode::Lenient);
    assert!(matches!(p.next(), Some(Ok(Entry::Sample(_)))));
    assert!(matches!(p.next(), Some(Err(_))));
    assert!(p.next().is_none());
}

#[test]
fn families_group_openmetrics_types() {
    let input = "\
# TYPE req counter
# HELP req Requests.
req_total{code=\"200\"} 3 # {trace_id=\"t\"} 1
req_created{code=\"200\"} 1.5
# TYPE lat_seconds histogram
# UNIT lat_seconds seconds
lat_seconds_bucket{le=\"0.5\"} 1
lat_seconds_bucket{le=\"+Inf\"} 2
lat_seconds_sum 0.75
lat_seconds_count 2
# TYPE s stateset
s{s=\"on\"} 1
s{s=\"off\"} 0
# TYPE build info
build_info{version=\"1\"} 1
# EOF
";
    let fams = families(input.as_bytes(), Format::OpenMetrics, Mode::Lenient).expect("parses");
    let names: Vec<_> = fams
        .iter()
        .map(|f| (f.name.as_str(), f.metric_type, f.metrics.len()))
        .collect();
    assert_eq!(
        names,
        [
            ("req", MetricType::Counter, 1),
            ("lat_seconds", MetricType::Histogram, 1),
            ("s", MetricType::StateSet, 1),
            ("build", MetricType::Info, 1)
        ]
    );
    for f in &fams {
        f.validate().unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(fams[1].unit.as_deref(), Some("seconds"));
}
