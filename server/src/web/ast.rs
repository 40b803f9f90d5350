//! `/api/v1/parse_query`: a parsed query as the JSON tree Prometheus' web UI draws (its "tree view" and the
//! query explainer). Every node is an object with a `type` (`aggregation`, `binaryExpr`, `call`,
//! `matrixSelector`, `subquery`, `numberLiteral`, `parenExpr`, `stringLiteral`, `unaryExpr`, `vectorSelector`)
//! and the fields of that node; durations are milliseconds, absent lists are empty lists, an absent `@` is
//! `null`.

use serde_json::{Map, Value, json};

use super::api::{ApiError, Params};
use crate::app::App;
use crate::model::matcher::Matcher;
use crate::promql::ast::{AtModifier, Cardinality, Duration, DurationContext, Expr, UnaryOp};

/// The handler: parses `query` with the syntax the enabled features allow; a parse error is `bad_data` with
/// the parser's `line:column` message.
pub(super) fn parse_query(app: &App, params: &Params) -> Result<Value, ApiError> {
    let query = params.get("query").unwrap_or("");
    let expr = app.parse_query(query).map_err(|e| ApiError::bad_data(e.to_string()))?;
    Ok(translate(&expr))
}

/// Durations of the tree are fixed or depend only on the query's own range; the tree is shown without one.
const NO_RANGE: DurationContext = DurationContext {
    step_ms: 0,
    range_ms: 0,
    start_ms: 0,
    end_ms: 0,
};

fn millis(d: Option<&Duration>) -> i64 {
    d.map_or(0, |d| d.millis(&NO_RANGE))
}

/// A float as Go's `strconv.FormatFloat(v, 'f', -1, 64)` writes it: shortest round-trip digits, no exponent.
fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v}")
    }
}

fn matchers(ms: &[Matcher]) -> Value {
    Value::Array(
        ms.iter()
            .map(|m| json!({"name": m.name, "value": m.value, "type": m.op.as_str()}))
            .collect(),
    )
}

/// The `timestamp` and `startOrEnd` fields of an `@` modifier.
fn at_fields(obj: &mut Map<String, Value>, at: Option<&AtModifier>) {
    let (timestamp, start_or_end) = match at {
        None => (Value::Null, Value::Null),
        Some(AtModifier::Timestamp(t)) => (json!(t), Value::Null),
        Some(AtModifier::Start) => (Value::Null, json!("start")),
        Some(AtModifier::End) => (Value::Null, json!("end")),
    };
    obj.insert("timestamp".into(), timestamp);
    obj.insert("startOrEnd".into(), start_or_end);
}

fn card_name(c: Cardinality) -> &'static str {
    match c {
        Cardinality::OneToOne => "one-to-one",
        Cardinality::ManyToOne => "many-to-one",
        Cardinality::OneToMany => "one-to-many",
        Cardinality::ManyToMany => "many-to-many",
    }
}

/// One node and its children as JSON.
pub fn translate(expr: &Expr) -> Value {
    match expr {
        Expr::Aggregate(a) => json!({
            "type": "aggregation",
            "op": a.op.as_str(),
            "expr": translate(&a.expr),
            "param": a.param.as_deref().map_or(Value::Null, translate),
            "grouping": a.grouping,
            "without": a.without,
        }),
        Expr::Binary(b) => {
            let matching = b.matching.as_ref().map_or(Value::Null, |m| {
                json!({
                    "card": card_name(m.card),
                    "labels": m.matching_labels,
                    "on": m.on,
                    "include": m.include,
                    "fillValues": {"lhs": m.fill_left, "rhs": m.fill_right},
                })
            });
            json!({
                "type": "binaryExpr",
                "op": b.op.as_str(),
                "lhs": translate(&b.lhs),
                "rhs": translate(&b.rhs),
                "matching": matching,
                "bool": b.return_bool,
            })
        }
        Expr::Call(c) => json!({
            "type": "call",
            "func": {
                "name": c.func.name,
                "argTypes": c.func.arg_types.iter().map(|t| t.api_name()).collect::<Vec<_>>(),
                "variadic": c.func.variadic,
                "returnType": c.func.return_type.api_name(),
            },
            "args": c.args.iter().map(translate).collect::<Vec<_>>(),
        }),
        Expr::MatrixSelector(ms) => {
            let vs = &ms.vs;
            let mut obj = Map::new();
            obj.insert("type".into(), json!("matrixSelector"));
            obj.insert("name".into(), json!(vs.name.as_deref().unwrap_or("")));
            obj.insert("range".into(), json!(ms.range.millis(&NO_RANGE)));
            obj.insert("offset".into(), json!(millis(vs.offset.as_ref())));
            obj.insert("matchers".into(), matchers(&vs.matchers));
            at_fields(&mut obj, vs.at.as_ref());
            obj.insert("anchored".into(), json!(vs.anchored));
            obj.insert("smoothed".into(), json!(vs.smoothed));
            Value::Object(obj)
        }
        Expr::Subquery(sq) => {
            let mut obj = Map::new();
            obj.insert("type".into(), json!("subquery"));
            obj.insert("expr".into(), translate(&sq.expr));
            obj.insert("range".into(), json!(sq.range.millis(&NO_RANGE)));
            obj.insert("offset".into(), json!(millis(sq.offset.as_ref())));
            obj.insert("step".into(), json!(millis(sq.step.as_ref())));
            at_fields(&mut obj, sq.at.as_ref());
            // Upstream's flag for subqueries evaluated at the outer query's times instead of multiples of their
            // step; our subqueries always align to their step.
            obj.insert("alignEvalTime".into(), json!(false));
            Value::Object(obj)
        }
        Expr::NumberLiteral(n) => json!({"type": "numberLiteral", "val": format_float(n.val)}),
        Expr::Duration(d) => json!({"type": "numberLiteral", "val": format_float(d.eval(&NO_RANGE))}),
        Expr::Paren(p) => json!({"type": "parenExpr", "expr": translate(&p.expr)}),
        Expr::StringLiteral(s) => json!({"type": "stringLiteral", "val": s.val}),
        Expr::Unary(u) => json!({
            "type": "unaryExpr",
            "op": if u.op == UnaryOp::Neg { "-" } else { "+" },
            "expr": translate(&u.expr),
        }),
        Expr::VectorSelector(vs) => {
            let mut obj = Map::new();
            obj.insert("type".into(), json!("vectorSelector"));
            obj.insert("name".into(), json!(vs.name.as_deref().unwrap_or("")));
            obj.insert("offset".into(), json!(millis(vs.offset.as_ref())));
            obj.insert("matchers".into(), matchers(&vs.matchers));
            at_fields(&mut obj, vs.at.as_ref());
            obj.insert("anchored".into(), json!(vs.anchored));
            obj.insert("smoothed".into(), json!(vs.smoothed));
            Value::Object(obj)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::{ParseOptions, parse_with};

    fn tree(q: &str) -> Value {
        let opts = ParseOptions {
            experimental_functions: true,
            duration_expressions: true,
            extended_range_selectors: true,
            binop_fill_modifiers: true,
        };
        translate(&parse_with(q, &opts).unwrap_or_else(|e| panic!("{q}: {e}")))
    }

    #[test]
    fn node_shapes() {
        let cases: &[(&str, Value)] = &[
            ("1.5", json!({"type": "numberLiteral", "val": "1.5"})),
            (
                "1e21",
                json!({"type": "numberLiteral", "val": "1000000000000000000000"}),
            ),
            ("Inf", json!({"type": "numberLiteral", "val": "+Inf"})),
            ("-Inf", json!({"type": "numberLiteral", "val": "-Inf"})),
            ("-x", json!({"type": "unaryExpr", "op": "-", "expr": tree("x")})),
            ("NaN", json!({"type": "numberLiteral", "val": "NaN"})),
            ("\"a\\tb\"", json!({"type": "stringLiteral", "val": "a\tb"})),
            (
                "up{job=\"x\"} offset 5m",
                json!({
                    "type": "vectorSelector", "name": "up", "offset": 300000,
                    "matchers": [
                        {"name": "job", "value": "x", "type": "="},
                        {"name": "__name__", "value": "up", "type": "="},
                    ],
                    "timestamp": null, "startOrEnd": null, "anchored": false, "smoothed": false,
                }),
            ),
            (
                "{__name__=~\"a.*\"} @ 10",
                json!({
                    "type": "vectorSelector", "name": "", "offset": 0,
                    "matchers": [{"name": "__name__", "value": "a.*", "type": "=~"}],
                    "timestamp": 10000, "startOrEnd": null, "anchored": false, "smoothed": false,
                }),
            ),
            (
                "x[5m] @ end() offset -1m",
                json!({
                    "type": "matrixSelector", "name": "x", "range": 300000, "offset": -60000,
                    "matchers": [{"name": "__name__", "value": "x", "type": "="}],
                    "timestamp": null, "startOrEnd": "end", "anchored": false, "smoothed": false,
                }),
            ),
            (
                "x[1m] anchored",
                json!({
                    "type": "matrixSelector", "name": "x", "range": 60000, "offset": 0,
                    "matchers": [{"name": "__name__", "value": "x", "type": "="}],
                    "timestamp": null, "startOrEnd": null, "anchored": true, "smoothed": false,
                }),
            ),
            (
                "(x)[1h:] @ start()",
                json!({
                    "type": "subquery", "range": 3600000, "offset": 0, "step": 0,
                    "timestamp": null, "startOrEnd": "start", "alignEvalTime": false,
                    "expr": {"type": "parenExpr", "expr": {
                        "type": "vectorSelector", "name": "x", "offset": 0,
                        "matchers": [{"name": "__name__", "value": "x", "type": "="}],
                        "timestamp": null, "startOrEnd": null, "anchored": false, "smoothed": false,
                    }},
                }),
            ),
            (
                "sum without (a, b) (-x)",
                json!({"type": "aggregation", "op": "sum", "expr": tree("-x"),
                    "param": null, "grouping": ["a", "b"], "without": true}),
            ),
            (
                "topk(3, -x)",
                json!({"type": "aggregation", "op": "topk", "expr": tree("-x"),
                    "param": {"type": "numberLiteral", "val": "3"}, "grouping": [], "without": false}),
            ),
            (
                "1 > bool 2",
                json!({"type": "binaryExpr", "op": ">", "bool": true, "matching": null,
                    "lhs": {"type": "numberLiteral", "val": "1"}, "rhs": {"type": "numberLiteral", "val": "2"}}),
            ),
            (
                "time()",
                json!({"type": "call", "args": [],
                    "func": {"name": "time", "argTypes": [], "variadic": 0, "returnType": "scalar"}}),
            ),
            (
                "label_join(x, \"d\", \",\")",
                json!({"type": "call",
                "func": {"name": "label_join", "argTypes": ["vector", "string", "string", "string"],
                    "variadic": -1, "returnType": "vector"},
                "args": [
                    {"type": "vectorSelector", "name": "x", "offset": 0,
                        "matchers": [{"name": "__name__", "value": "x", "type": "="}],
                        "timestamp": null, "startOrEnd": null, "anchored": false, "smoothed": false},
                    {"type": "stringLiteral", "val": "d"},
                    {"type": "stringLiteral", "val": ","},
                ]}),
            ),
        ];
        for (q, want) in cases {
            assert_eq!(&tree(q), want, "{q}");
        }
    }

    #[test]
    fn vector_matching() {
        let cases: &[(&str, Value)] = &[
            (
                "a + b",
                json!({"card": "one-to-one", "labels": [], "on": false, "include": [],
                    "fillValues": {"lhs": null, "rhs": null}}),
            ),
            (
                "a and on (x) b",
                json!({"card": "many-to-many", "labels": ["x"], "on": true, "include": [],
                    "fillValues": {"lhs": null, "rhs": null}}),
            ),
            (
                "a / ignoring (x) group_left (y) b",
                json!({"card": "many-to-one", "labels": ["x"], "on": false, "include": ["y"],
                    "fillValues": {"lhs": null, "rhs": null}}),
            ),
            (
                "a - on () group_right b",
                json!({"card": "one-to-many", "labels": [], "on": true, "include": [],
                    "fillValues": {"lhs": null, "rhs": null}}),
            ),
            (
                "a + fill(0) b",
                json!({"card": "one-to-one", "labels": [], "on": false, "include": [],
                    "fillValues": {"lhs": 0.0, "rhs": 0.0}}),
            ),
        ];
        for (q, want) in cases {
            assert_eq!(&tree(q)["matching"], want, "{q}");
        }
        assert_eq!(tree("a * 2")["matching"], Value::Null);
    }
}
