//! Table-driven tests of the parser and printer: tricky syntax, precedence, and error messages with positions.

use super::ast::*;
use super::parser::{ParseOptions, parse, parse_metric_selector, parse_with};

fn all() -> ParseOptions {
    ParseOptions::all()
}

/// Evaluates a tree of number literals and operators (enough to check how operators group).
fn eval_const(e: &Expr) -> f64 {
    match e {
        Expr::NumberLiteral(n) => n.val,
        Expr::Paren(p) => eval_const(&p.expr),
        Expr::Unary(u) => {
            let v = eval_const(&u.expr);
            if u.op == UnaryOp::Neg { -v } else { v }
        }
        Expr::Binary(b) => {
            let (l, r) = (eval_const(&b.lhs), eval_const(&b.rhs));
            match b.op {
                BinaryOp::Add => l + r,
                BinaryOp::Sub => l - r,
                BinaryOp::Mul => l * r,
                BinaryOp::Div => l / r,
                BinaryOp::Mod => l % r,
                BinaryOp::Pow => l.powf(r),
                BinaryOp::Atan2 => l.atan2(r),
                BinaryOp::Eql => f64::from(u8::from(l == r)),
                BinaryOp::Gtr => f64::from(u8::from(l > r)),
                BinaryOp::Lss => f64::from(u8::from(l < r)),
                other => panic!("{other} in a constant expression"),
            }
        }
        other => panic!("not constant: {other}"),
    }
}

#[test]
fn precedence_and_literals() {
    let cases: &[(&str, f64)] = &[
        ("2 ^ 3 ^ 2", 512.0),
        ("-2 ^ 2", -4.0),
        ("(-2) ^ 2", 4.0),
        ("2 ^ -1", 0.5),
        ("2 * 3 + 4", 10.0),
        ("2 + 3 * 4", 14.0),
        ("1 - 2 - 3", -4.0),
        ("8 / 2 / 2", 2.0),
        ("10 % 3 * 2", 2.0),
        ("-1 * 2 ^ 2", -4.0),
        ("- - 3", 3.0),
        ("1 + 2 == bool 3", 1.0),
        ("1 + 2 > bool 2 * 2", 0.0),
        ("0x10", 16.0),
        ("0X1f", 31.0),
        ("010", 8.0),
        ("09", 9.0),
        ("1e3", 1000.0),
        ("12.34e-2", 0.1234),
        (".5", 0.5),
        ("2.", 2.0),
        ("+Inf", f64::INFINITY),
        ("-inf", f64::NEG_INFINITY),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("-5m", -300.0),
        ("1 atan2 0", std::f64::consts::FRAC_PI_2),
        ("# a comment\n 1 + # another\n 2", 3.0),
    ];
    for &(q, want) in cases {
        let e = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let got = eval_const(&e);
        assert!((got - want).abs() < 1e-12 || got == want, "{q}: got {got}, want {want}");
        assert_eq!(e.value_type(), ValueType::Scalar, "{q}");
    }
    assert!(eval_const(&parse("NaN").unwrap()).is_nan());
}

/// Queries and their canonical printing (upstream's `String()`); the printing re-parses to the same tree.
#[test]
fn printing_table() {
    let cases: &[(&str, &str)] = &[
        ("foo", "foo"),
        ("foo:bar_total", "foo:bar_total"),
        ("foo{b='x', a=~\"y.*\"}", "foo{a=~\"y.*\",b=\"x\"}"),
        ("foo offset 5m", "foo offset 5m"),
        ("foo offset -90m", "foo offset -1h30m"),
        ("foo offset 300", "foo offset 5m"),
        ("foo offset 1m @ 100", "foo @ 100.000 offset 1m"),
        ("foo @ 1.5e3", "foo @ 1500.000"),
        ("foo @ -5", "foo @ -5.000"),
        ("foo @ start()", "foo @ start()"),
        ("foo[5m] @ end() offset 1m", "foo[5m] @ end() offset 1m"),
        ("foo[1800]", "foo[30m]"),
        ("foo[1.5]", "foo[1s500ms]"),
        ("rate(foo[5m])[30m:1m]", "rate(foo[5m])[30m:1m]"),
        ("foo[30m:] offset 1h", "foo[30m:] offset 1h"),
        ("sum(foo) by (a, b)", "sum by (a, b) (foo)"),
        ("sum without () (foo)", "sum without () (foo)"),
        ("sum by () (foo)", "sum(foo)"),
        ("topk(3, foo)", "topk(3, foo)"),
        (
            "count_values without (instance)(\"version\", version)",
            "count_values without (instance) (\"version\", version)",
        ),
        ("a + on(x) group_left(y) b", "a + on (x) group_left (y) b"),
        ("a * ignoring(x) group_right b", "a * ignoring (x) group_right () b"),
        ("a and on() b", "a and on () b"),
        ("a == bool b", "a == bool b"),
        ("a unless ignoring(x) b", "a unless ignoring (x) b"),
        ("-foo", "-foo"),
        ("--foo @ 100", "--foo @ 100.000"),
        ("1 - -1", "1 - -1"),
        ("(1 + 2) * 3", "(1 + 2) * 3"),
        ("1e6", "1e+06"),
        ("0.00001", "1e-05"),
        ("\"a\\nb\"", "\"a\\nb\""),
        ("'it\\'s'", "\"it's\""),
        ("`raw\\n`", "\"raw\\\\n\""),
        ("\"\\u00e9\\x41\\101\"", "\"éAA\""),
        ("sum", "sum"),
        ("by{a=\"b\"}", "by{a=\"b\"}"),
        ("offset offset 5m", "offset offset 5m"),
        ("and", "and"),
        ("start + end", "start + end"),
        (
            "foo{by=\"a\", on=\"b\", offset=\"c\"}",
            "foo{by=\"a\",offset=\"c\",on=\"b\"}",
        ),
        (
            "sum by (on, offset, by, sum) (foo)",
            "sum by (on, offset, by, sum) (foo)",
        ),
        (
            "{\"my.metric\", \"a.b\"=\"c\"}",
            "{\"a.b\"=\"c\",__name__=\"my.metric\"}",
        ),
        ("sum by (\"a.b\") (foo)", "sum by (\"a.b\") (foo)"),
        ("foo and bar or baz", "foo and bar or baz"),
        (
            "label_join(foo, \"a\", \",\", \"b\", \"c\")",
            "label_join(foo, \"a\", \",\", \"b\", \"c\")",
        ),
        ("time()", "time()"),
        ("vector(1) + step()", "vector(1) + step()"),
        ("end() - start()", "end() - start()"),
    ];
    for &(q, want) in cases {
        let e = parse_with(q, &all()).unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(e.to_string(), want, "{q}");
        let mut again = parse_with(want, &all()).unwrap_or_else(|e| panic!("{want}: {e}"));
        let mut first = e.clone();
        first.canonicalize();
        again.canonicalize();
        assert_eq!(first, again, "{q} vs {want}");
    }
}

#[test]
fn experimental_syntax_prints_and_reparses() {
    let cases: &[(&str, &str)] = &[
        ("foo[5m + step()]", "foo[5m + step()]"),
        ("foo[(1h)]", "foo[1h]"),
        ("foo[2m * (10 + 5)]", "foo[2m * (10 + 5)]"),
        ("foo[-5m + 35m]", "foo[-5m + 35m]"),
        ("foo[step():range()]", "foo[step():range()]"),
        (
            "foo offset min_of(step(), 1s) + 8000",
            "foo offset min_of(step(), 1s) + 8000",
        ),
        ("foo offset -step() * 2", "foo offset -step() * 2"),
        ("foo offset (100 + 2)", "foo offset (100 + 2)"),
        ("foo offset -2 ^ 2", "foo offset -2s ^ 2"),
        ("foo offset (-2 ^ 2)", "foo offset (-2 ^ 2)"),
        ("max_of(3, 5)", "max_of(3, 5)"),
        ("foo smoothed", "foo smoothed"),
        ("rate(foo[5m] anchored)", "rate(foo[5m] anchored)"),
        ("foo @ 100 smoothed + 0", "foo @ 100.000 smoothed + 0"),
        ("a + fill(0) b", "a + fill(0) b"),
        ("a + fill_left(1) fill_right(2) b", "a + fill_left(1) fill_right(2) b"),
        (
            "a + on(x) group_left(y) fill_right(-Inf) b",
            "a + on (x) group_left (y) fill_right(-Inf) b",
        ),
        ("a > bool fill(NaN) b", "a > bool fill(NaN) b"),
        ("limitk(2, foo)", "limitk(2, foo)"),
        ("h </ 0.5", "h </ 0.5"),
        ("h >/ on (l) f", "h >/ on (l) f"),
    ];
    for &(q, want) in cases {
        let e = parse_with(q, &all()).unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(e.to_string(), want, "{q}");
        let mut again = parse_with(want, &all()).unwrap_or_else(|e| panic!("{want}: {e}"));
        let mut first = e.clone();
        first.canonicalize();
        again.canonicalize();
        assert_eq!(first, again, "{q} vs {want}");
    }
}

#[test]
fn offset_literal_binds_tighter_than_operators() {
    let Expr::Binary(b) = parse_with("foo offset -2 ^ 2", &all()).unwrap() else {
        panic!("not binary")
    };
    assert_eq!(b.op, BinaryOp::Pow);
    let Expr::VectorSelector(vs) = *b.lhs else {
        panic!("lhs")
    };
    assert_eq!(vs.offset, Some(Duration::Fixed(-2000)));
    let Expr::VectorSelector(vs) = parse_with("foo offset (-2 ^ 2)", &all()).unwrap() else {
        panic!("vs")
    };
    let ctx = DurationContext::default();
    assert_eq!(vs.offset.map(|d| d.millis(&ctx)), Some(-4000));
    // Upstream's grammar continues after a bare parenthesized offset expression.
    let Expr::VectorSelector(vs) = parse_with("foo offset (1m) + 5", &all()).unwrap() else {
        panic!("vs")
    };
    assert_eq!(vs.offset.map(|d| d.millis(&ctx)), Some(65_000));
}

#[test]
fn duration_expressions_evaluate() {
    let ctx = DurationContext {
        step_ms: 5000,
        range_ms: 60_000,
        start_ms: 0,
        end_ms: 60_000,
    };
    let cases: &[(&str, i64)] = &[
        ("foo[step()]", 5000),
        ("foo[step() + 1ms]", 5001),
        ("foo[1 + (STep() - 5) * 2]", 1000),
        ("foo[min_of(step() + 1, 1h)]", 6000),
        ("foo[max_of(range(), 2m)]", 120_000),
        ("foo[1h30m % 1h]", 1_800_000),
        ("foo[30m1s - 30m1s % 1m]", 1_800_000),
    ];
    for &(q, want) in cases {
        let Expr::MatrixSelector(m) = parse_with(q, &all()).unwrap_or_else(|e| panic!("{q}: {e}")) else {
            panic!("{q}: not a matrix selector")
        };
        assert_eq!(m.range.millis(&ctx), want, "{q}");
    }
}

#[test]
fn selectors() {
    let Expr::VectorSelector(vs) = parse("foo{a=\"b\"}").unwrap() else {
        panic!()
    };
    assert_eq!(vs.name.as_deref(), Some("foo"));
    assert_eq!(vs.matchers.len(), 2);
    assert_eq!(vs.matchers[1].name, "__name__");
    assert_eq!(vs.pos, PosRange::new(0, 10));
    let Expr::MatrixSelector(ms) = parse("foo[5m] offset 1m").unwrap() else {
        panic!()
    };
    assert_eq!(ms.range, Duration::Fixed(300_000));
    assert_eq!(ms.vs.offset, Some(Duration::Fixed(60_000)));
    assert_eq!(ms.pos, PosRange::new(0, 17));
    let m = parse_metric_selector("up{job=~\"a|b\"}").unwrap();
    assert_eq!(m.len(), 2);
    assert!(parse_metric_selector("up + 1").is_err());
    assert!(parse_metric_selector("{}").is_err());
}

/// Errors with upstream's message and `line:column`.
#[test]
fn error_table() {
    let no = ParseOptions::default();
    #[rustfmt::skip]
    let cases: &[(&str, ParseOptions, &str)] = &[
        ("", no, "1:1: parse error: no expression found in input"),
        ("# just a comment", no, "1:1: parse error: no expression found in input"),
        ("foo +", no, "1:6: parse error: unexpected end of input"),
        ("sum(foo", no, "1:8: parse error: unclosed left parenthesis"),
        ("foo)", no, "1:4: parse error: unexpected right parenthesis ')'"),
        ("foo bar", no, "1:5: parse error: unexpected identifier \"bar\""),
        ("foo{a=\"b\"", no, "1:10: parse error: unexpected end of input inside braces"),
        ("foo{a}", no, "1:6: parse error: unexpected \"}\" in label matching, expected label matching operator"),
        ("foo{a=}", no, "1:7: parse error: unexpected \"}\" in label matching, expected string"),
        ("foo{a=\"b\" c=\"d\"}", no, "1:11: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\""),
        ("foo{a=1}", no, "1:7: parse error: unexpected character inside braces: '1'"),
        ("{}", no, "1:1: parse error: vector selector must contain at least one non-empty matcher"),
        ("{a=\"\", b=~\".*\"}", no, "1:1: parse error: vector selector must contain at least one non-empty matcher"),
        ("foo{__name__=\"bar\"}", no, "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""),
        ("rate(foo)", no, "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"),
        ("abs(foo[5m])", no, "1:5: parse error: expected type instant vector in call to function \"abs\", got range vector"),
        ("nosuch(foo)", no, "1:1: parse error: unknown function with name \"nosuch\""),
        ("time(1)", no, "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1"),
        ("label_join(foo)", no, "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 1"),
        ("round(foo, 1, 2)", no, "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3"),
        ("rate(foo[5m],)", no, "1:13: parse error: trailing commas not allowed in function call args"),
        ("sum(foo, bar)", no, "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2"),
        ("topk(foo)", no, "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1"),
        ("topk(\"a\", foo)", no, "1:6: parse error: expected type scalar in aggregation parameter, got string"),
        ("count_values(1, foo)", no, "1:14: parse error: expected type string in aggregation parameter, got scalar"),
        ("sum(1)", no, "1:5: parse error: expected type instant vector in aggregation expression, got scalar"),
        ("sum by foo (bar)", no, "1:8: parse error: unexpected identifier \"foo\" in grouping opts, expected \"(\""),
        ("sum by (a b) (bar)", no, "1:11: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\""),
        ("sum by (a) by (b) (bar)", no, "1:12: parse error: unexpected <by> in aggregation"),
        ("foo and 1", no, "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"),
        ("1 == 1", no, "1:3: parse error: comparisons between scalars must use BOOL modifier"),
        ("foo + bool bar", no, "1:5: parse error: bool modifier can only be used on comparison operators"),
        ("a == on(x) group_left(x) b", no, "1:3: parse error: label \"x\" must not occur in ON and GROUP clause at once"),
        ("a and on(x) group_left b", no, "1:1: parse error: no grouping allowed for \"and\" operation"),
        ("1 + on(x) foo", no, "1:1: parse error: vector matching only allowed between instant vectors"),
        ("foo[5m] + 1", no, "1:1: parse error: binary expression must contain only scalar and instant vector types"),
        ("1 +\n  foo[5m]", no, "2:3: parse error: binary expression must contain only scalar and instant vector types"),
        ("-\"foo\"", no, "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"string\""),
        ("foo offset 5m offset 1m", no, "1:1: parse error: offset may not be set multiple times"),
        ("foo @ 1 @ 2", no, "1:1: parse error: @ <timestamp> may not be set multiple times"),
        ("(foo)[5m]", no, "1:6: parse error: ranges only allowed for vector selectors"),
        ("foo offset 1m[5m]", no, "1:14: parse error: no offset modifiers allowed before range"),
        ("foo @ 1[5m]", no, "1:8: parse error: no @ modifiers allowed before range"),
        ("sum(foo) offset 5m", no, "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"),
        ("sum(foo) @ 5", no, "1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery"),
        ("foo offset", no, "1:11: parse error: unexpected end of input in offset, expected number, duration, step(), or range()"),
        ("foo @ bar", no, "1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp"),
        ("foo[5m:1m:]", no, "1:10: parse error: unexpected \":\" in subquery selector, expected \"]\""),
        ("foo[5m 1m]", no, "1:8: parse error: unexpected duration \"1m\" in subquery or range, expected \":\" or \"]\""),
        ("foo[bar]", no, "1:5: parse error: unexpected identifier \"bar\" in subquery or range selector, expected number, duration, step(), or range()"),
        ("foo[0s]", no, "1:5: parse error: duration must be greater than 0"),
        ("foo[5m][1m:]", no, "1:1: parse error: subquery is only allowed on instant vector, got matrix"),
        ("1m1h", no, "1:1: parse error: not a valid duration string: \"1m1h\""),
        ("foo[5mm]", no, "1:5: parse error: bad number or duration syntax: \"5mm\""),
        ("foo[5m:1m1]", no, "1:8: parse error: bad number or duration syntax: \"1m1\""),
        ("foo[5y1hs]", no, "1:5: parse error: not a valid duration string: \"5y1hs\""),
        ("2.5.", no, "1:4: parse error: unexpected character: '.'"),
        ("100..4", no, "1:5: parse error: unexpected number \".4\""),
        ("foo @ +Inf", no, "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"),
        ("foo @ NaN", no, "1:1: parse error: timestamp out of bounds for @ modifier: NaN"),
        ("foo @ 9223372036854775808", no, "1:1: parse error: timestamp out of bounds for @ modifier: 9223372036854775808.000000"),
        ("}", no, "1:1: parse error: unexpected character: '}'"),
        ("foo + group_left(baz) bar", no, "1:7: parse error: unexpected <group_left>"),
        ("some_metric{a:b=\"b\"}", no, "1:14: parse error: unexpected character inside braces: ':'"),
        ("0deadbeef", no, "1:1: parse error: bad number or duration syntax: \"0de\""),
        ("1 =~ 1", no, "1:3: parse error: unexpected character after '=': '~'"),
        ("1 !~ 1", no, "1:3: parse error: unexpected character after '!': '~'"),
        ("*1", no, "1:1: parse error: unexpected <op:*>"),
        ("((1)", no, "1:5: parse error: unclosed left parenthesis"),
        ("1e999", no, "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e999\": value out of range"),
        ("-test[5m]", no, "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\""),
        ("a - on(b) ignoring(c) d", no, "1:11: parse error: unexpected <ignoring>"),
        ("foo{__name__= =}", no, "1:15: parse error: unexpected \"=\" in label matching, expected string"),
        ("foo{,}", no, "1:5: parse error: unexpected \",\" in label matching, expected identifier or \"}\""),
        ("foo{a!b}", no, "1:6: parse error: unexpected character after '!' inside braces: 'b'"),
        ("(foo + bar)[5m]", no, "1:12: parse error: ranges only allowed for vector selectors"),
        ("sum without(==)(some_metric)", no, "1:13: parse error: unexpected <op:==> in grouping opts, expected label"),
        ("sum without(foo,,)(some_metric)", no, "1:17: parse error: unexpected \",\" in grouping opts, expected label"),
        ("MIN keep_common (some_metric)", no, "1:5: parse error: unexpected identifier \"keep_common\""),
        ("sum without (test) (some_metric) by (test)", no, "1:34: parse error: unexpected <by>"),
        ("foo ! bar", no, "1:5: parse error: unexpected character after '!': ' '"),
        ("foo{a=~\"(\"}", no, "1:5: parse error: invalid regular expression"),
        ("\"\\q\"", no, "1:1: parse error: unknown escape sequence"),
        ("bool", no, "1:1: parse error: unexpected <bool>"),
        ("sum(foo) by", no, "1:12: parse error: unexpected end of input in grouping opts, expected \"(\""),
        ("limitk(1, foo)", no, "1:1: parse error: limitk() and limit_ratio() are experimental"),
        ("mad_over_time(foo[5m])", no, "1:1: parse error: function \"mad_over_time\" is not enabled"),
        ("foo[5m + 1m]", no, "1:5: parse error: experimental duration expression is not enabled"),
        ("foo[step()]", no, "1:5: parse error: experimental duration expression is not enabled"),
        ("foo smoothed", no, "1:5: parse error: the smoothed modifier is experimental"),
        ("a + fill(0) b", no, "1:5: parse error: fill modifiers are experimental"),
        ("a and fill(0) b", all(), "1:7: parse error: fill modifiers not allowed for set operator \"and\""),
        ("deriv(foo[3m] smoothed)", all(), "1:1: parse error: smoothed modifier can only be used with: delta, increase, rate - not with deriv"),
        ("max_over_time(foo[3m] anchored)", all(), "1:1: parse error: anchored modifier can only be used with: changes, delta, increase, rate, resets - not with max_over_time"),
        ("foo[5m / 0]", all(), "1:8: parse error: division by zero"),
        ("foo[5m % 0]", all(), "1:8: parse error: modulo by zero"),
        ("sum(foo) anchored", all(), "1:1: parse error: anchored modifier must be preceded by an instant vector selector or range vector selector"),
        ("info(foo, 1)", all(), "1:11: parse error: expected type instant vector in call to function \"info\", got scalar"),
    ];
    for (q, opts, want) in cases {
        match parse_with(q, opts) {
            Ok(e) => panic!("{q:?} parsed to {e}, want error {want:?}"),
            Err(e) => assert!(e.to_string().starts_with(want), "{q:?}:\n got {e}\nwant {want}"),
        }
    }
}

#[test]
fn info_label_selectors_may_match_empty() {
    assert!(parse_with("info(foo, {data=~\".*\"})", &all()).is_ok());
    assert!(parse_with("info({data=~\".*\"})", &all()).is_err());
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    // Run on a worker thread's usual stack (2 MiB), as the parser does in the server.
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            for q in ["(".repeat(100_000), "-".repeat(100_000) + "1", "sum(".repeat(50_000)] {
                assert!(parse(&q).is_err());
            }
            let chain = vec!["1"; 20_000].join(" + ");
            assert!(parse(&chain).is_err());
            // A long chain within the limit parses and prints (the tree walks recurse as deep as the chain).
            let chain = vec!["foo"; 450].join(" or ");
            let e = parse(&chain).unwrap();
            assert_eq!(e.to_string(), chain);
            let pow_chain = vec!["2"; 20_000].join(" ^ ");
            assert!(parse(&pow_chain).is_err());
            let ok = format!("{}1{}", "(".repeat(30), ")".repeat(30));
            let e = parse(&ok).unwrap();
            assert_eq!(parse(&e.to_string()).unwrap().to_string(), e.to_string());
        })
        .unwrap();
    handle.join().unwrap();
}
