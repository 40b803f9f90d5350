//! The PromQL syntax tree the parser produces and the engine evaluates.
//!
//! Every node carries a [`PosRange`]: byte offsets into the query text, so the engine and the API can point at
//! the part of a query an error or an annotation is about. Durations are `i64` milliseconds; where the query
//! writes a duration as an expression (`[5m + step()]`, `offset min_of(range(), 1h)`), the tree keeps the
//! [`DurationExpr`] and the engine evaluates it per query with [`DurationExpr::eval`].
//!
//! Types follow upstream `promql/parser/ast.go`: an [`Expr`] has a [`ValueType`] fixed at parse time (the parser
//! rejects ill-typed queries), and `Display` on [`Expr`] prints a query the parser reads back to the same tree.

use std::fmt;

use crate::model::matcher::Matcher;

use super::functions::FunctionDef;

/// A half-open byte range `start..end` in the query text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PosRange {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl PosRange {
    /// `start..end`.
    pub fn new(start: usize, end: usize) -> PosRange {
        PosRange { start, end }
    }

    /// The smallest range covering both.
    pub fn join(self, other: PosRange) -> PosRange {
        PosRange {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// The type of value an expression evaluates to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// A single float.
    Scalar,
    /// An instant vector: one sample per series.
    Vector,
    /// A range vector: a window of samples per series.
    Matrix,
    /// A string.
    String,
}

impl ValueType {
    /// The name upstream uses in type errors (`"instant vector"`, `"range vector"`, `"scalar"`, `"string"`).
    pub fn documented(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            ValueType::String => "string",
        }
    }

    /// The name the HTTP API uses for a result of this type (`resultType`).
    pub fn api_name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
            ValueType::String => "string",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.documented())
    }
}

/// A PromQL expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `1`, `-2.5e3`, `0x1f`, `Inf`, `NaN`, or (with duration expressions) `5m` as 300 seconds.
    NumberLiteral(NumberLiteral),
    /// `"text"`, `'text'` or `` `raw` ``.
    StringLiteral(StringLiteral),
    /// `name{label="v"} offset 5m @ 100`.
    VectorSelector(VectorSelector),
    /// `name{label="v"}[5m]`.
    MatrixSelector(MatrixSelector),
    /// `expr[30m:1m]`.
    Subquery(SubqueryExpr),
    /// `rate(x[5m])`.
    Call(Call),
    /// `sum by (job) (x)`, `topk(3, x)`.
    Aggregate(AggregateExpr),
    /// `a + on(job) group_left b`.
    Binary(BinaryExpr),
    /// `-x`, `+x` (a sign on a number literal folds into the literal).
    Unary(UnaryExpr),
    /// `(expr)`.
    Paren(ParenExpr),
    /// `step()`, `range()`, `start()` or `end()` used as a scalar expression: the query's step or range in
    /// seconds, or its start or end time in seconds since the epoch.
    Duration(DurationExpr),
}

/// A float literal.
#[derive(Clone, Debug)]
pub struct NumberLiteral {
    /// The value.
    pub val: f64,
    /// Written as a duration (`5m` is 300): printed back as one.
    pub duration: bool,
    /// Where it is.
    pub pos: PosRange,
}

impl PartialEq for NumberLiteral {
    /// Equal when both are NaN, too, so parsed trees compare as the queries do.
    fn eq(&self, other: &NumberLiteral) -> bool {
        (self.val == other.val || (self.val.is_nan() && other.val.is_nan())) && self.pos == other.pos
    }
}

/// A string literal, unescaped.
#[derive(Clone, Debug, PartialEq)]
pub struct StringLiteral {
    /// The value.
    pub val: String,
    /// Where it is, quotes included.
    pub pos: PosRange,
}

/// A duration: a fixed number of milliseconds, or an expression evaluated per query.
#[derive(Clone, Debug, PartialEq)]
pub enum Duration {
    /// Milliseconds (negative only for offsets).
    Fixed(i64),
    /// An expression over numbers, durations, `step()`, `range()`, `min_of`/`max_of`.
    Expr(Box<DurationExpr>),
}

impl Duration {
    /// The fixed value in milliseconds, if this is not an expression.
    pub fn fixed(&self) -> Option<i64> {
        match self {
            Duration::Fixed(ms) => Some(*ms),
            Duration::Expr(_) => None,
        }
    }

    /// The value in milliseconds: fixed, or the expression evaluated in `ctx` (rounded to the millisecond).
    pub fn millis(&self, ctx: &DurationContext) -> i64 {
        match self {
            Duration::Fixed(ms) => *ms,
            Duration::Expr(e) => seconds_to_millis(e.eval(ctx)),
        }
    }
}

/// Seconds (possibly fractional) to whole milliseconds, rounding to nearest and saturating.
pub fn seconds_to_millis(s: f64) -> i64 {
    let ms = (s * 1000.0).round();
    if ms.is_nan() { 0 } else { ms as i64 }
}

/// What `step()`, `range()`, `start()` and `end()` evaluate to, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DurationContext {
    /// The query's resolution step (0 for instant queries).
    pub step_ms: i64,
    /// `end - start` of the query (0 for instant queries).
    pub range_ms: i64,
    /// The query's start time.
    pub start_ms: i64,
    /// The query's end time.
    pub end_ms: i64,
}

/// An arithmetic expression over durations (experimental `promql-duration-expr` syntax), in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct DurationExpr {
    /// What it computes.
    pub kind: DurationKind,
    /// Written inside parentheses (kept for printing).
    pub wrapped: bool,
    /// Where it is.
    pub pos: PosRange,
}

/// The forms of a [`DurationExpr`].
#[derive(Clone, Debug)]
pub enum DurationKind {
    /// A number of seconds, or a duration literal (`duration`: printed back as `5m`).
    Number {
        /// Seconds.
        seconds: f64,
        /// Written as a duration literal.
        duration: bool,
    },
    /// `step()`: the query step.
    Step,
    /// `range()`: the query range (`end - start`).
    Range,
    /// `start()`: the query start time (only as a scalar expression).
    Start,
    /// `end()`: the query end time (only as a scalar expression).
    End,
    /// `-expr`.
    Neg(Box<DurationExpr>),
    /// `lhs op rhs`.
    Binary {
        /// The operator: one of `+ - * / % ^`.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<DurationExpr>,
        /// Right operand.
        rhs: Box<DurationExpr>,
    },
    /// `min_of(a, b)`.
    MinOf(Box<DurationExpr>, Box<DurationExpr>),
    /// `max_of(a, b)`.
    MaxOf(Box<DurationExpr>, Box<DurationExpr>),
}

impl PartialEq for DurationKind {
    /// Numbers compare bitwise, so `NaN` equals itself.
    fn eq(&self, other: &DurationKind) -> bool {
        use DurationKind as D;
        match (self, other) {
            (
                D::Number {
                    seconds: a,
                    duration: x,
                },
                D::Number {
                    seconds: b,
                    duration: y,
                },
            ) => a.to_bits() == b.to_bits() && x == y,
            (D::Step, D::Step) | (D::Range, D::Range) | (D::Start, D::Start) | (D::End, D::End) => true,
            (D::Neg(a), D::Neg(b)) => a == b,
            (
                D::Binary {
                    op: o1,
                    lhs: l1,
                    rhs: r1,
                },
                D::Binary {
                    op: o2,
                    lhs: l2,
                    rhs: r2,
                },
            ) => o1 == o2 && l1 == l2 && r1 == r2,
            (D::MinOf(a1, b1), D::MinOf(a2, b2)) | (D::MaxOf(a1, b1), D::MaxOf(a2, b2)) => a1 == a2 && b1 == b2,
            _ => false,
        }
    }
}

impl DurationExpr {
    /// The value in seconds (`step()` etc. from `ctx`). Division and modulo by zero give ±Inf/NaN, which the
    /// caller rejects where a duration must be finite.
    pub fn eval(&self, ctx: &DurationContext) -> f64 {
        match &self.kind {
            DurationKind::Number { seconds, .. } => *seconds,
            DurationKind::Step => ctx.step_ms as f64 / 1000.0,
            DurationKind::Range => ctx.range_ms as f64 / 1000.0,
            DurationKind::Start => ctx.start_ms as f64 / 1000.0,
            DurationKind::End => ctx.end_ms as f64 / 1000.0,
            DurationKind::Neg(e) => -e.eval(ctx),
            DurationKind::Binary { op, lhs, rhs } => {
                let (a, b) = (lhs.eval(ctx), rhs.eval(ctx));
                match op {
                    BinaryOp::Add => a + b,
                    BinaryOp::Sub => a - b,
                    BinaryOp::Mul => a * b,
                    BinaryOp::Div => a / b,
                    BinaryOp::Mod => a % b,
                    BinaryOp::Pow => a.powf(b),
                    _ => f64::NAN,
                }
            }
            DurationKind::MinOf(a, b) => a.eval(ctx).min(b.eval(ctx)),
            DurationKind::MaxOf(a, b) => a.eval(ctx).max(b.eval(ctx)),
        }
    }

    /// Whether the value depends on the query (`step()`, `range()`, `start()`, `end()` inside).
    pub fn is_query_dependent(&self) -> bool {
        match &self.kind {
            DurationKind::Number { .. } => false,
            DurationKind::Step | DurationKind::Range | DurationKind::Start | DurationKind::End => true,
            DurationKind::Neg(e) => e.is_query_dependent(),
            DurationKind::Binary { lhs, rhs, .. } => lhs.is_query_dependent() || rhs.is_query_dependent(),
            DurationKind::MinOf(a, b) | DurationKind::MaxOf(a, b) => a.is_query_dependent() || b.is_query_dependent(),
        }
    }
}

/// The `@` modifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtModifier {
    /// `@ <timestamp>`: milliseconds since the epoch.
    Timestamp(i64),
    /// `@ start()`: the query's start time.
    Start,
    /// `@ end()`: the query's end time.
    End,
}

/// An instant vector selector.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorSelector {
    /// The metric name, when written before the braces (or as a bare quoted name inside them).
    pub name: Option<String>,
    /// All matchers, including `__name__="<name>"` for a name written outside the braces (as upstream).
    pub matchers: Vec<Matcher>,
    /// `offset`: positive looks back in time, negative forward. `None` when absent or zero.
    pub offset: Option<Duration>,
    /// `@` modifier.
    pub at: Option<AtModifier>,
    /// `anchored` (experimental extended range selectors): the range's samples include the value at its start.
    pub anchored: bool,
    /// `smoothed` (experimental extended range selectors): values interpolated at the window's edges.
    pub smoothed: bool,
    /// Where it is (the selector itself, without modifiers).
    pub pos: PosRange,
}

/// A range vector selector: a vector selector with a window.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixSelector {
    /// The selector; its `offset`, `@`, `anchored`, `smoothed` written after the range apply to the whole.
    pub vs: VectorSelector,
    /// The window length.
    pub range: Duration,
    /// From the selector to the closing `]`.
    pub pos: PosRange,
}

/// A subquery: `expr[range:step]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SubqueryExpr {
    /// The inner expression (an instant vector).
    pub expr: Box<Expr>,
    /// The window length.
    pub range: Duration,
    /// The resolution; `None` for the engine's default (the global evaluation interval).
    pub step: Option<Duration>,
    /// `offset`.
    pub offset: Option<Duration>,
    /// `@` modifier.
    pub at: Option<AtModifier>,
    /// From the inner expression to the closing `]`.
    pub pos: PosRange,
}

/// A function call.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The function, from [`super::functions::FUNCTIONS`].
    pub func: &'static FunctionDef,
    /// The arguments, type-checked against `func`.
    pub args: Vec<Expr>,
    /// From the name to the closing parenthesis.
    pub pos: PosRange,
}

/// Aggregation operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggregateOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `count`
    Count,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `group`
    Group,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `topk(k, v)`
    Topk,
    /// `bottomk(k, v)`
    Bottomk,
    /// `count_values("label", v)`
    CountValues,
    /// `quantile(q, v)`
    Quantile,
    /// `limitk(k, v)` (experimental)
    Limitk,
    /// `limit_ratio(r, v)` (experimental)
    LimitRatio,
}

impl AggregateOp {
    /// All operators, for lookups and tests.
    pub const ALL: [AggregateOp; 14] = [
        AggregateOp::Sum,
        AggregateOp::Avg,
        AggregateOp::Count,
        AggregateOp::Min,
        AggregateOp::Max,
        AggregateOp::Group,
        AggregateOp::Stddev,
        AggregateOp::Stdvar,
        AggregateOp::Topk,
        AggregateOp::Bottomk,
        AggregateOp::CountValues,
        AggregateOp::Quantile,
        AggregateOp::Limitk,
        AggregateOp::LimitRatio,
    ];

    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Sum => "sum",
            AggregateOp::Avg => "avg",
            AggregateOp::Count => "count",
            AggregateOp::Min => "min",
            AggregateOp::Max => "max",
            AggregateOp::Group => "group",
            AggregateOp::Stddev => "stddev",
            AggregateOp::Stdvar => "stdvar",
            AggregateOp::Topk => "topk",
            AggregateOp::Bottomk => "bottomk",
            AggregateOp::CountValues => "count_values",
            AggregateOp::Quantile => "quantile",
            AggregateOp::Limitk => "limitk",
            AggregateOp::LimitRatio => "limit_ratio",
        }
    }

    /// The operator for a keyword, case-insensitively.
    pub fn from_keyword(s: &str) -> Option<AggregateOp> {
        AggregateOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether it takes a parameter before the vector.
    pub fn has_param(self) -> bool {
        matches!(
            self,
            AggregateOp::Topk
                | AggregateOp::Bottomk
                | AggregateOp::CountValues
                | AggregateOp::Quantile
                | AggregateOp::Limitk
                | AggregateOp::LimitRatio
        )
    }

    /// The parameter's type, for those that take one.
    pub fn param_type(self) -> Option<ValueType> {
        match self {
            AggregateOp::CountValues => Some(ValueType::String),
            op if op.has_param() => Some(ValueType::Scalar),
            _ => None,
        }
    }

    /// Behind `--enable-feature=promql-experimental-functions`.
    pub fn is_experimental(self) -> bool {
        matches!(self, AggregateOp::Limitk | AggregateOp::LimitRatio)
    }
}

impl fmt::Display for AggregateOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An aggregation.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateExpr {
    /// The operator.
    pub op: AggregateOp,
    /// The vector aggregated.
    pub expr: Box<Expr>,
    /// The parameter (`k`, `q`, the label for `count_values`, ...), for operators that take one.
    pub param: Option<Box<Expr>>,
    /// The `by`/`without` labels.
    pub grouping: Vec<String>,
    /// `without` rather than `by`.
    pub without: bool,
    /// From the keyword to the closing parenthesis (or the grouping clause after it).
    pub pos: PosRange,
}

/// Binary operators, arithmetic, comparison and set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^` (right-associative)
    Pow,
    /// `atan2`
    Atan2,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `>`
    Gtr,
    /// `<`
    Lss,
    /// `>=`
    Gte,
    /// `<=`
    Lte,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
    /// `</` (histogram trim): drop the parts of native histograms above the right-hand value.
    TrimUpper,
    /// `>/` (histogram trim): drop the parts of native histograms below the right-hand value.
    TrimLower,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Atan2 => "atan2",
            BinaryOp::Eql => "==",
            BinaryOp::Neq => "!=",
            BinaryOp::Gtr => ">",
            BinaryOp::Lss => "<",
            BinaryOp::Gte => ">=",
            BinaryOp::Lte => "<=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Unless => "unless",
            BinaryOp::TrimUpper => "</",
            BinaryOp::TrimLower => ">/",
        }
    }

    /// Binding strength: `or` 1, `and`/`unless` 2, comparisons 3, `+ -` 4, `* / % atan2 </ >/` 5, `^` 6.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And | BinaryOp::Unless => 2,
            BinaryOp::Eql | BinaryOp::Neq | BinaryOp::Gtr | BinaryOp::Lss | BinaryOp::Gte | BinaryOp::Lte => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Mod
            | BinaryOp::Atan2
            | BinaryOp::TrimUpper
            | BinaryOp::TrimLower => 5,
            BinaryOp::Pow => 6,
        }
    }

    /// Only `^` groups to the right.
    pub fn is_right_associative(self) -> bool {
        self == BinaryOp::Pow
    }

    /// `== != > < >= <=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eql | BinaryOp::Neq | BinaryOp::Gtr | BinaryOp::Lss | BinaryOp::Gte | BinaryOp::Lte
        )
    }

    /// `and or unless`.
    pub fn is_set_operator(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the series of the two sides pair up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cardinality {
    /// Each left series matches at most one right series.
    OneToOne,
    /// `group_left`: many left series per right series.
    ManyToOne,
    /// `group_right`: many right series per left series.
    OneToMany,
    /// Set operators.
    ManyToMany,
}

/// Vector matching of a binary operation between two instant vectors.
#[derive(Clone, Debug)]
pub struct VectorMatching {
    /// The cardinality.
    pub card: Cardinality,
    /// The `on`/`ignoring` labels.
    pub matching_labels: Vec<String>,
    /// `on` (the labels are the ones compared) rather than `ignoring` (the labels are the ones left out).
    pub on: bool,
    /// The `group_left(...)`/`group_right(...)` labels copied from the "one" side.
    pub include: Vec<String>,
    /// `fill(v)`/`fill_left(v)` (experimental): the value used for a missing left-hand series.
    pub fill_left: Option<f64>,
    /// `fill(v)`/`fill_right(v)` (experimental): the value used for a missing right-hand series.
    pub fill_right: Option<f64>,
}

impl PartialEq for VectorMatching {
    /// Fill values compare bitwise, so `fill(NaN)` equals itself.
    fn eq(&self, other: &VectorMatching) -> bool {
        let same = |a: Option<f64>, b: Option<f64>| a.map(f64::to_bits) == b.map(f64::to_bits);
        self.card == other.card
            && self.matching_labels == other.matching_labels
            && self.on == other.on
            && self.include == other.include
            && same(self.fill_left, other.fill_left)
            && same(self.fill_right, other.fill_right)
    }
}

/// A binary operation.
#[derive(Clone, Debug, PartialEq)]
pub struct BinaryExpr {
    /// The operator.
    pub op: BinaryOp,
    /// Left operand.
    pub lhs: Box<Expr>,
    /// Right operand.
    pub rhs: Box<Expr>,
    /// Set when both sides are instant vectors; `None` otherwise.
    pub matching: Option<VectorMatching>,
    /// `bool` on a comparison: return 0/1 instead of filtering.
    pub return_bool: bool,
    /// From the left operand to the right one.
    pub pos: PosRange,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `+`
    Pos,
}

/// A unary operation on a vector or a non-literal scalar.
#[derive(Clone, Debug, PartialEq)]
pub struct UnaryExpr {
    /// The operator.
    pub op: UnaryOp,
    /// The operand.
    pub expr: Box<Expr>,
    /// From the sign to the end of the operand.
    pub pos: PosRange,
}

/// A parenthesized expression.
#[derive(Clone, Debug, PartialEq)]
pub struct ParenExpr {
    /// The inner expression.
    pub expr: Box<Expr>,
    /// From `(` to `)`.
    pub pos: PosRange,
}

impl Expr {
    /// The type of value the expression evaluates to.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::NumberLiteral(_) | Expr::Duration(_) => ValueType::Scalar,
            Expr::StringLiteral(_) => ValueType::String,
            Expr::VectorSelector(_) | Expr::Aggregate(_) => ValueType::Vector,
            Expr::MatrixSelector(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::Call(c) => c.func.return_type,
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar && b.rhs.value_type() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Unary(u) => u.expr.value_type(),
            Expr::Paren(p) => p.expr.value_type(),
        }
    }

    /// Where the expression is in the query text.
    pub fn pos(&self) -> PosRange {
        match self {
            Expr::NumberLiteral(n) => n.pos,
            Expr::StringLiteral(s) => s.pos,
            Expr::VectorSelector(v) => v.pos,
            Expr::MatrixSelector(m) => m.pos,
            Expr::Subquery(s) => s.pos,
            Expr::Call(c) => c.pos,
            Expr::Aggregate(a) => a.pos,
            Expr::Binary(b) => b.pos,
            Expr::Unary(u) => u.pos,
            Expr::Paren(p) => p.pos,
            Expr::Duration(d) => d.pos,
        }
    }

    /// The direct sub-expressions, in source order.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_)
            | Expr::MatrixSelector(_)
            | Expr::Duration(_) => Vec::new(),
            Expr::Subquery(s) => vec![&*s.expr],
            Expr::Call(c) => c.args.iter().collect(),
            Expr::Aggregate(a) => a.param.iter().map(|p| &**p).chain(std::iter::once(&*a.expr)).collect(),
            Expr::Binary(b) => vec![&*b.lhs, &*b.rhs],
            Expr::Unary(u) => vec![&*u.expr],
            Expr::Paren(p) => vec![&*p.expr],
        }
    }

    /// Calls `f` on this expression and every sub-expression, parents before children.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        for child in self.children() {
            child.walk(f);
        }
    }

    /// The expression with any parentheses around it removed.
    pub fn unparen(&self) -> &Expr {
        let mut e = self;
        while let Expr::Paren(p) = e {
            e = &p.expr;
        }
        e
    }
}

impl Expr {
    /// Sets every position in the tree to `0..0` and sorts each selector's matchers as the printer orders
    /// them, so trees parsed from differently formatted queries compare equal (the round-trip tests use it).
    pub fn canonicalize(&mut self) {
        fn dur(d: &mut Duration) {
            if let Duration::Expr(e) = d {
                dexpr(e);
            }
        }
        fn dexpr(e: &mut DurationExpr) {
            e.pos = PosRange::default();
            match &mut e.kind {
                DurationKind::Neg(x) => dexpr(x),
                DurationKind::Binary { lhs, rhs, .. } => {
                    dexpr(lhs);
                    dexpr(rhs);
                }
                DurationKind::MinOf(a, b) | DurationKind::MaxOf(a, b) => {
                    dexpr(a);
                    dexpr(b);
                }
                _ => {}
            }
        }
        fn vs(v: &mut VectorSelector) {
            v.pos = PosRange::default();
            v.matchers
                .sort_by_cached_key(|m| (m.name.clone(), m.op.as_str(), m.value.clone()));
            if let Some(o) = &mut v.offset {
                dur(o);
            }
        }
        match self {
            Expr::NumberLiteral(n) => n.pos = PosRange::default(),
            Expr::StringLiteral(s) => s.pos = PosRange::default(),
            Expr::VectorSelector(v) => vs(v),
            Expr::MatrixSelector(m) => {
                m.pos = PosRange::default();
                vs(&mut m.vs);
                dur(&mut m.range);
            }
            Expr::Subquery(s) => {
                s.pos = PosRange::default();
                dur(&mut s.range);
                if let Some(st) = &mut s.step {
                    dur(st);
                }
                if let Some(o) = &mut s.offset {
                    dur(o);
                }
                s.expr.canonicalize();
            }
            Expr::Call(c) => {
                c.pos = PosRange::default();
                c.args.iter_mut().for_each(Expr::canonicalize);
            }
            Expr::Aggregate(a) => {
                a.pos = PosRange::default();
                a.expr.canonicalize();
                if let Some(p) = &mut a.param {
                    p.canonicalize();
                }
            }
            Expr::Binary(b) => {
                b.pos = PosRange::default();
                b.lhs.canonicalize();
                b.rhs.canonicalize();
            }
            Expr::Unary(u) => {
                u.pos = PosRange::default();
                u.expr.canonicalize();
            }
            Expr::Paren(p) => {
                p.pos = PosRange::default();
                p.expr.canonicalize();
            }
            Expr::Duration(d) => dexpr(d),
        }
    }
}
