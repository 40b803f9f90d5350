//! The PromQL parser: tokens to a type-checked [`Expr`].
//!
//! Hand-written precedence climbing over the lexer's tokens, following the grammar of upstream's
//! `generated_parser.y`: postfix modifiers (`[range]`, `[range:step]`, `offset`, `@`, `anchored`, `smoothed`) bind
//! tightest, then unary signs (as tight as `*`, looser than `^`), then the binary operators by precedence with
//! `^` grouping to the right. Type checks (upstream's `checkAST`) run as each node is built, so the first error in
//! the query is the one reported, with upstream's message and a `line:column` position.

use crate::model::matcher::{MatchOp, Matcher};

use super::ast::*;
use super::functions::{self, ANCHORED_FUNCTIONS, SMOOTHED_FUNCTIONS};
use super::lexer::{Token, TokenKind as K, go_quote_str, parse_duration_ms, tokenize};
use super::literals::unquote;

/// Which experimental syntax the parser accepts (upstream's `--enable-feature` flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// `promql-experimental-functions`: experimental functions and the `limitk`/`limit_ratio` aggregations.
    pub experimental_functions: bool,
    /// `promql-duration-expr`: arithmetic, `step()`, `range()`, `min_of`/`max_of` where a duration goes.
    pub duration_expressions: bool,
    /// `promql-extended-range-selectors`: the `anchored` and `smoothed` modifiers.
    pub extended_range_selectors: bool,
    /// `promql-binop-fill-modifiers`: `fill()`, `fill_left()`, `fill_right()` on binary operators.
    pub binop_fill_modifiers: bool,
}

impl ParseOptions {
    /// Everything enabled (what upstream's PromQL test scripts run with).
    pub fn all() -> ParseOptions {
        ParseOptions {
            experimental_functions: true,
            duration_expressions: true,
            extended_range_selectors: true,
            binop_fill_modifiers: true,
        }
    }
}

/// A query that does not parse or type-check.
///
/// One struct rather than a variant per cause: the message text is upstream's and is part of the contract
/// (API clients and the PromQL test scripts match on it), and there are several dozen of them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: parse error: {message}")]
pub struct ParseError {
    /// Where in the query.
    pub pos: PosRange,
    /// 1-based line of `pos.start`.
    pub line: usize,
    /// 1-based column (in bytes) of `pos.start`.
    pub column: usize,
    /// What is wrong, as upstream words it.
    pub message: String,
}

impl ParseError {
    fn new(input: &str, pos: PosRange, message: String) -> ParseError {
        let start = pos.start.min(input.len());
        let before = &input.as_bytes()[..start];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        ParseError {
            pos,
            line,
            column: start - line_start + 1,
            message,
        }
    }
}

/// Parses `input` with no experimental syntax enabled.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    parse_with(input, &ParseOptions::default())
}

/// Parses `input` with the given experimental syntax enabled.
pub fn parse_with(input: &str, opts: &ParseOptions) -> Result<Expr, ParseError> {
    let mut p = Parser::new(input, opts);
    if p.peek().kind == K::Eof {
        return Err(p.error_at(PosRange::new(0, 0), "no expression found in input".into()));
    }
    let expr = p.expr(0)?;
    p.expect_eof(None)?;
    check_selectors(input, &expr)?;
    Ok(expr)
}

/// Upstream's check that a selector without a metric name has a matcher that rejects the empty value (so a typo
/// cannot select every series). The label selectors of `info()`'s second argument are exempt.
fn check_selectors(input: &str, e: &Expr) -> Result<(), ParseError> {
    let check = |vs: &VectorSelector| {
        if vs.name.is_none() && vs.matchers.iter().all(Matcher::matches_empty) {
            return Err(ParseError::new(
                input,
                vs.pos,
                "vector selector must contain at least one non-empty matcher".into(),
            ));
        }
        Ok(())
    };
    match e {
        Expr::VectorSelector(vs) => check(vs),
        Expr::MatrixSelector(ms) => check(&ms.vs),
        Expr::Call(c) if c.func.name == "info" => match c.args.first() {
            Some(a) => check_selectors(input, a),
            None => Ok(()),
        },
        _ => e.children().into_iter().try_for_each(|c| check_selectors(input, c)),
    }
}

/// Parses a series selector (`foo{a="b"}`, as the `match[]` API parameters take) to its matchers, the metric
/// name included as a `__name__` matcher.
pub fn parse_metric_selector(input: &str) -> Result<Vec<Matcher>, ParseError> {
    let opts = ParseOptions::default();
    let mut p = Parser::new(input, &opts);
    let t = p.peek();
    let vs = match t.kind {
        K::LeftBrace => p.vector_selector(None, t.pos.start)?,
        K::Identifier | K::MetricIdentifier if !is_reserved_word(t.text(input)) => {
            p.bump();
            p.vector_selector(Some(t), t.pos.start)?
        }
        _ => return Err(p.unexpected(t, None, None)),
    };
    p.expect_eof(None)?;
    check_selectors(input, &Expr::VectorSelector(vs.clone()))?;
    Ok(vs.matchers)
}

/// How deep the tree may grow (nesting and operator chains) before the parser gives up, so that hostile input
/// cannot exhaust the stack in the recursive passes over the tree (printing, dropping, evaluating).
const MAX_DEPTH: usize = 500;

/// How much stack the parser's own recursion may use (measured from where parsing started), so deeply nested
/// input fails cleanly on any thread with a normal stack, in debug builds (large frames) as in release ones.
const STACK_BUDGET: usize = 384 * 1024;

/// The precedence of unary signs: like `*`, so only `^` binds tighter.
pub(super) const UNARY_OPERAND_PREC: u8 = 6;

/// Binary-operator modifiers, parsed between the operator and its right operand.
#[derive(Default)]
struct BinModifiers {
    return_bool: bool,
    on: bool,
    has_matching: bool,
    matching_labels: Vec<String>,
    card: Option<Cardinality>,
    include: Vec<String>,
    fill_left: Option<f64>,
    fill_right: Option<f64>,
}

/// The words that never name a metric (`bool`, `on`, ...; `inf`/`nan` are numbers).
fn is_reserved_word(w: &str) -> bool {
    [
        "bool",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "atan2",
        "inf",
        "nan",
    ]
    .iter()
    .any(|k| k.eq_ignore_ascii_case(w))
}

fn binary_op_of(t: &Token, input: &str) -> Option<BinaryOp> {
    Some(match t.kind {
        K::Add => BinaryOp::Add,
        K::Sub => BinaryOp::Sub,
        K::Mul => BinaryOp::Mul,
        K::Div => BinaryOp::Div,
        K::Mod => BinaryOp::Mod,
        K::Pow => BinaryOp::Pow,
        K::Eql => BinaryOp::Eql,
        K::Neq => BinaryOp::Neq,
        K::Gtr => BinaryOp::Gtr,
        K::Lss => BinaryOp::Lss,
        K::Gte => BinaryOp::Gte,
        K::Lte => BinaryOp::Lte,
        K::TrimUpper => BinaryOp::TrimUpper,
        K::TrimLower => BinaryOp::TrimLower,
        K::Identifier => {
            let w = t.text(input);
            if w.eq_ignore_ascii_case("and") {
                BinaryOp::And
            } else if w.eq_ignore_ascii_case("or") {
                BinaryOp::Or
            } else if w.eq_ignore_ascii_case("unless") {
                BinaryOp::Unless
            } else if w.eq_ignore_ascii_case("atan2") {
                BinaryOp::Atan2
            } else {
                return None;
            }
        }
        _ => return None,
    })
}

/// A float as Go's `%f` prints it (`+Inf`, `NaN`, six decimals).
fn go_float_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v:.6}")
    }
}

/// Whether `name` is a label name in the legacy character set (printed without quotes).
pub fn is_legacy_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && (b[0] == b'_' || b[0].is_ascii_alphabetic())
        && b.iter().all(|&c| c == b'_' || c.is_ascii_alphanumeric())
}

/// Upstream's description of a token in "unexpected ..." messages.
fn describe(t: &Token, input: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "start",
        "end",
        "step",
        "range",
        "anchored",
        "smoothed",
    ];
    let text = t.text(input);
    let short = |s: &str| {
        if s.chars().count() > 10 {
            let cut: String = s.chars().take(10).collect();
            format!("{}...", go_quote_str(&cut))
        } else {
            go_quote_str(s)
        }
    };
    match t.kind {
        K::Eof => "end of input".into(),
        K::Error => t.error_message(input),
        K::Identifier => {
            let lower = text.to_ascii_lowercase();
            if KEYWORDS.contains(&lower.as_str()) {
                format!("<{text}>")
            } else if AggregateOp::from_keyword(text).is_some() {
                format!("<aggr:{text}>")
            } else if ["and", "or", "unless", "atan2"].contains(&lower.as_str()) {
                format!("<op:{text}>")
            } else if lower == "inf" || lower == "nan" {
                format!("number {}", short(text))
            } else {
                format!("identifier {}", go_quote_str(text))
            }
        }
        K::MetricIdentifier => format!("metric identifier {}", go_quote_str(text)),
        K::Number => format!("number {}", short(text)),
        K::Duration => format!("duration {}", short(text)),
        K::String => format!("string {}", short(text)),
        K::Add | K::Sub | K::Mul | K::Div | K::Mod | K::Pow | K::Eql | K::Neq | K::Gtr | K::Lss | K::Gte | K::Lte => {
            format!("<op:{text}>")
        }
        K::EqlRegex | K::NeqRegex | K::At | K::TrimUpper | K::TrimLower => format!("<op:{text}>"),
        _ => go_quote_str(text),
    }
}

/// The parser's state: the tokens and the position in them.
pub(super) struct Parser<'a> {
    pub(super) input: &'a str,
    toks: Vec<Token>,
    i: usize,
    pub(super) opts: &'a ParseOptions,
    pub(super) depth: usize,
    pub(super) last_end: usize,
    /// The address of a local variable where parsing started: the stack's high-water mark.
    stack_base: usize,
}

/// The address of a local in the caller's frame (stacks grow down on every supported platform; the difference
/// between two of these is the stack used in between).
#[inline(always)]
fn stack_position() -> usize {
    let marker = 0u8;
    std::ptr::addr_of!(marker) as usize
}

pub(super) type PResult<T> = Result<T, ParseError>;

impl<'a> Parser<'a> {
    pub(super) fn new(input: &'a str, opts: &'a ParseOptions) -> Parser<'a> {
        Parser {
            input,
            toks: tokenize(input),
            i: 0,
            opts,
            depth: 0,
            last_end: 0,
            stack_base: stack_position(),
        }
    }

    pub(super) fn peek(&self) -> Token {
        self.toks[self.i.min(self.toks.len() - 1)]
    }

    pub(super) fn peek_at(&self, n: usize) -> Token {
        self.toks[(self.i + n).min(self.toks.len() - 1)]
    }

    pub(super) fn bump(&mut self) -> Token {
        let t = self.peek();
        if !matches!(t.kind, K::Eof | K::Error) {
            self.i += 1;
            self.last_end = t.pos.end;
        }
        t
    }

    pub(super) fn text(&self, t: &Token) -> &'a str {
        t.text(self.input)
    }

    pub(super) fn is_word(&self, t: &Token, w: &str) -> bool {
        t.is_word(self.input, w)
    }

    #[inline(never)]
    pub(super) fn error_at(&self, pos: PosRange, message: String) -> ParseError {
        ParseError::new(self.input, pos, message)
    }

    #[cold]
    #[inline(never)]
    pub(super) fn error_fmt(&self, pos: PosRange, message: std::fmt::Arguments<'_>) -> ParseError {
        ParseError::new(self.input, pos, message.to_string())
    }

    /// Upstream's `unexpected <token> [in <context>][, expected <what>]`; a lexer error is reported as itself.
    #[cold]
    #[inline(never)]
    pub(super) fn unexpected(&self, t: Token, context: Option<&str>, expected: Option<&str>) -> ParseError {
        if t.kind == K::Error {
            return self.error_at(t.pos, t.error_message(self.input));
        }
        let mut msg = format!("unexpected {}", describe(&t, self.input));
        if let Some(c) = context {
            msg.push_str(" in ");
            msg.push_str(c);
        }
        if let Some(e) = expected {
            msg.push_str(", expected ");
            msg.push_str(e);
        }
        self.error_at(t.pos, msg)
    }

    #[inline(never)]
    pub(super) fn expect(&mut self, kind: K, context: Option<&str>, expected: Option<&str>) -> PResult<Token> {
        let t = self.peek();
        if t.kind == kind {
            Ok(self.bump())
        } else {
            Err(self.unexpected(t, context, expected))
        }
    }

    #[inline(never)]
    fn expect_eof(&mut self, context: Option<&str>) -> PResult<()> {
        let t = self.peek();
        if t.kind == K::Eof {
            Ok(())
        } else {
            Err(self.unexpected(t, context, None))
        }
    }

    #[inline(never)]
    pub(super) fn enter(&mut self, pos: PosRange) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH || self.stack_base.abs_diff(stack_position()) > STACK_BUDGET {
            return Err(self.error_at(pos, "expression nested too deeply".into()));
        }
        Ok(())
    }

    // ---- expressions ----

    fn expr(&mut self, min_prec: u8) -> PResult<Expr> {
        self.enter(self.peek().pos)?;
        let depth_before = self.depth;
        let mut lhs = self.unary()?;
        loop {
            let t = self.peek();
            let Some(op) = binary_op_of(&t, self.input) else { break };
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            self.bump();
            let mods = self.bin_modifiers(op)?;
            // Each left-associative step deepens the tree without recursing here; count it.
            self.enter(t.pos)?;
            let rhs = self.expr(if op.is_right_associative() { prec } else { prec + 1 })?;
            lhs = self.binary(op, lhs, rhs, mods)?;
        }
        self.depth = depth_before - 1;
        Ok(lhs)
    }

    #[inline(never)]
    fn unary(&mut self) -> PResult<Expr> {
        let t = self.peek();
        let op = match t.kind {
            K::Add => UnaryOp::Pos,
            K::Sub => UnaryOp::Neg,
            _ => {
                let e = self.primary()?;
                return self.postfix(e);
            }
        };
        self.bump();
        let operand = self.expr(UNARY_OPERAND_PREC)?;
        let pos = PosRange::new(t.pos.start, operand.pos().end);
        if let Expr::NumberLiteral(mut n) = operand {
            if op == UnaryOp::Neg {
                n.val = -n.val;
            }
            n.pos.start = t.pos.start;
            return Ok(Expr::NumberLiteral(n));
        }
        let ty = operand.value_type();
        if ty != ValueType::Scalar && ty != ValueType::Vector {
            return Err(self.error_fmt(
                pos,
                format_args!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                    go_quote_str(ty.documented())
                ),
            ));
        }
        Ok(Expr::Unary(UnaryExpr {
            op,
            expr: Box::new(operand),
            pos,
        }))
    }

    #[inline(never)]
    fn primary(&mut self) -> PResult<Expr> {
        let t = self.peek();
        match t.kind {
            K::Number => {
                self.bump();
                let val = self.number(&t)?;
                Ok(Expr::NumberLiteral(NumberLiteral {
                    val,
                    duration: false,
                    pos: t.pos,
                }))
            }
            K::Duration => {
                self.bump();
                let ms = self.duration_literal(&t)?;
                Ok(Expr::NumberLiteral(NumberLiteral {
                    val: ms as f64 / 1000.0,
                    duration: true,
                    pos: t.pos,
                }))
            }
            K::String => {
                self.bump();
                let val = self.unquote(&t)?;
                Ok(Expr::StringLiteral(StringLiteral { val, pos: t.pos }))
            }
            K::LeftParen => {
                self.bump();
                let inner = self.expr(0)?;
                let close = self.expect(K::RightParen, None, None)?;
                Ok(Expr::Paren(ParenExpr {
                    expr: Box::new(inner),
                    pos: PosRange::new(t.pos.start, close.pos.end),
                }))
            }
            K::LeftBrace => Ok(Expr::VectorSelector(self.vector_selector(None, t.pos.start)?)),
            K::Identifier | K::MetricIdentifier => self.identifier_expr(t),
            _ => Err(self.unexpected(t, None, None)),
        }
    }

    #[inline(never)]
    fn identifier_expr(&mut self, t: Token) -> PResult<Expr> {
        let word = self.text(&t);
        let next = self.peek_at(1);
        if t.kind == K::Identifier {
            let lower = word.to_ascii_lowercase();
            if lower == "inf" || lower == "nan" {
                self.bump();
                let val = if lower == "inf" { f64::INFINITY } else { f64::NAN };
                return Ok(Expr::NumberLiteral(NumberLiteral {
                    val,
                    duration: false,
                    pos: t.pos,
                }));
            }
            if is_reserved_word(word) {
                return Err(self.unexpected(t, None, None));
            }
            if let Some(op) = AggregateOp::from_keyword(word)
                && (next.kind == K::LeftParen || self.is_word(&next, "by") || self.is_word(&next, "without"))
            {
                return self.aggregate(t, op);
            }
            if next.kind == K::LeftParen {
                let kind = match lower.as_str() {
                    "step" => Some(DurationKind::Step),
                    "range" => Some(DurationKind::Range),
                    "start" => Some(DurationKind::Start),
                    "end" => Some(DurationKind::End),
                    _ => None,
                };
                if lower == "min_of" || lower == "max_of" {
                    let d = self.dur_primary()?;
                    return Ok(Expr::Duration(d));
                }
                if let Some(kind) = kind {
                    self.bump();
                    self.bump();
                    let close = self.expect(K::RightParen, None, Some("\")\""))?;
                    let pos = PosRange::new(t.pos.start, close.pos.end);
                    return Ok(Expr::Duration(DurationExpr {
                        kind,
                        wrapped: false,
                        pos,
                    }));
                }
                return self.call(t);
            }
        }
        self.bump();
        Ok(Expr::VectorSelector(self.vector_selector(Some(t), t.pos.start)?))
    }

    #[inline(never)]
    fn call(&mut self, name: Token) -> PResult<Expr> {
        let fname = self.text(&name);
        let Some(func) = functions::lookup(fname) else {
            return Err(self.error_fmt(
                name.pos,
                format_args!("unknown function with name {}", go_quote_str(fname)),
            ));
        };
        if func.experimental && !self.opts.experimental_functions {
            return Err(self.error_fmt(
                name.pos,
                format_args!("function {} is not enabled", go_quote_str(fname)),
            ));
        }
        self.bump();
        let args = self.call_args()?;
        let pos = PosRange::new(name.pos.start, self.last_end);
        let call = Call { func, args, pos };
        self.check_call(&call)?;
        Ok(Expr::Call(call))
    }

    /// `( [expr {, expr}] )`, the opening parenthesis next.
    #[inline(never)]
    fn call_args(&mut self) -> PResult<Vec<Expr>> {
        self.expect(K::LeftParen, None, None)?;
        let mut args = Vec::new();
        if self.peek().kind == K::RightParen {
            self.bump();
            return Ok(args);
        }
        loop {
            args.push(self.expr(0)?);
            let t = self.peek();
            match t.kind {
                K::Comma => {
                    self.bump();
                    if self.peek().kind == K::RightParen {
                        return Err(self.error_at(t.pos, "trailing commas not allowed in function call args".into()));
                    }
                }
                K::RightParen => {
                    self.bump();
                    return Ok(args);
                }
                _ => return Err(self.unexpected(t, None, None)),
            }
        }
    }

    #[inline(never)]
    fn check_call(&self, call: &Call) -> PResult<()> {
        let f = call.func;
        let n = call.args.len();
        if f.variadic == 0 {
            if n != f.arg_types.len() {
                return Err(self.error_fmt(
                    call.pos,
                    format_args!(
                        "expected {} argument(s) in call to {}, got {n}",
                        f.arg_types.len(),
                        go_quote_str(f.name)
                    ),
                ));
            }
        } else if n < f.min_args() {
            return Err(self.error_fmt(
                call.pos,
                format_args!(
                    "expected at least {} argument(s) in call to {}, got {n}",
                    f.min_args(),
                    go_quote_str(f.name)
                ),
            ));
        } else if let Some(max) = f.max_args()
            && n > max
        {
            return Err(self.error_fmt(
                call.pos,
                format_args!(
                    "expected at most {max} argument(s) in call to {}, got {n}",
                    go_quote_str(f.name)
                ),
            ));
        }
        for (i, arg) in call.args.iter().enumerate() {
            self.expect_type(
                arg,
                f.arg_type(i),
                &format!("call to function {}", go_quote_str(f.name)),
            )?;
            if let Expr::MatrixSelector(m) = arg.unparen() {
                let check = |flag: bool, word: &str, allowed: &[&str]| {
                    if flag && !allowed.contains(&f.name) {
                        return Err(self.error_fmt(
                            call.pos,
                            format_args!(
                                "{word} modifier can only be used with: {} - not with {}",
                                allowed.join(", "),
                                f.name
                            ),
                        ));
                    }
                    Ok(())
                };
                check(m.vs.anchored, "anchored", ANCHORED_FUNCTIONS)?;
                check(m.vs.smoothed, "smoothed", SMOOTHED_FUNCTIONS)?;
            }
        }
        if f.name == "info"
            && let Some(arg) = call.args.get(1)
            && !matches!(arg.unparen(), Expr::VectorSelector(_))
        {
            return Err(self.error_fmt(
                arg.pos(),
                format_args!(
                    "expected label selectors as the second argument to \"info\" function, got {}",
                    arg.value_type().api_name()
                ),
            ));
        }
        Ok(())
    }

    #[inline(never)]
    fn expect_type(&self, e: &Expr, want: ValueType, context: &str) -> PResult<()> {
        let got = e.value_type();
        if got != want {
            return Err(self.error_fmt(
                e.pos(),
                format_args!(
                    "expected type {} in {context}, got {}",
                    want.documented(),
                    got.documented()
                ),
            ));
        }
        Ok(())
    }

    #[inline(never)]
    fn aggregate(&mut self, kw: Token, op: AggregateOp) -> PResult<Expr> {
        self.bump();
        if op.is_experimental() && !self.opts.experimental_functions {
            return Err(self.error_at(
                kw.pos,
                "limitk() and limit_ratio() are experimental and must be enabled with \
                 --enable-feature=promql-experimental-functions"
                    .into(),
            ));
        }
        let mut grouping = None;
        if let Some(g) = self.aggregate_modifier()? {
            grouping = Some(g);
        }
        if self.peek().kind != K::LeftParen {
            return Err(self.unexpected(self.peek(), Some("aggregation"), None));
        }
        let mut args = self.call_args()?;
        if grouping.is_none() {
            grouping = self.aggregate_modifier()?;
        }
        let pos = PosRange::new(kw.pos.start, self.last_end);
        let want = if op.has_param() { 2 } else { 1 };
        if args.len() != want {
            return Err(self.error_fmt(
                pos,
                format_args!(
                    "wrong number of arguments for aggregate expression provided, expected {want}, got {}",
                    args.len()
                ),
            ));
        }
        let expr = args.pop().unwrap_or_else(|| unreachable_expr(pos));
        let param = args.pop();
        self.expect_type(&expr, ValueType::Vector, "aggregation expression")?;
        if let (Some(p), Some(t)) = (&param, op.param_type()) {
            self.expect_type(p, t, "aggregation parameter")?;
        }
        let (grouping, without) = grouping.unwrap_or_default();
        Ok(Expr::Aggregate(AggregateExpr {
            op,
            expr: Box::new(expr),
            param: param.map(Box::new),
            grouping,
            without,
            pos,
        }))
    }

    /// `by (labels)` / `without (labels)`, if next.
    #[inline(never)]
    fn aggregate_modifier(&mut self) -> PResult<Option<(Vec<String>, bool)>> {
        let t = self.peek();
        let without = if self.is_word(&t, "by") {
            false
        } else if self.is_word(&t, "without") {
            true
        } else {
            return Ok(None);
        };
        self.bump();
        Ok(Some((self.grouping_labels()?, without)))
    }

    /// `( [label {, label} [,]] )`.
    #[inline(never)]
    fn grouping_labels(&mut self) -> PResult<Vec<String>> {
        const CTX: Option<&str> = Some("grouping opts");
        self.expect(K::LeftParen, CTX, Some("\"(\""))?;
        let mut labels = Vec::new();
        loop {
            let t = self.peek();
            match t.kind {
                K::RightParen => {
                    self.bump();
                    return Ok(labels);
                }
                K::Identifier if !self.is_word(&t, "inf") && !self.is_word(&t, "nan") => {
                    self.bump();
                    labels.push(self.text(&t).to_string());
                }
                K::String => {
                    self.bump();
                    let name = self.unquote(&t)?;
                    if name.is_empty() {
                        return Err(self.error_fmt(
                            t.pos,
                            format_args!("invalid label name for grouping: {}", go_quote_str(&name)),
                        ));
                    }
                    labels.push(name);
                }
                K::MetricIdentifier => {
                    return Err(self.error_fmt(
                        t.pos,
                        format_args!("invalid label name for grouping: {}", go_quote_str(self.text(&t))),
                    ));
                }
                _ => return Err(self.unexpected(t, CTX, Some("label"))),
            }
            let t = self.peek();
            match t.kind {
                K::Comma => {
                    self.bump();
                }
                K::RightParen => {}
                _ => return Err(self.unexpected(t, CTX, Some("\",\" or \")\""))),
            }
        }
    }

    // ---- binary operators ----

    #[inline(never)]
    fn bin_modifiers(&mut self, op: BinaryOp) -> PResult<BinModifiers> {
        let mut m = BinModifiers::default();
        if self.is_word(&self.peek(), "bool") {
            self.bump();
            m.return_bool = true;
        }
        let t = self.peek();
        if self.is_word(&t, "on") || self.is_word(&t, "ignoring") {
            self.bump();
            m.on = self.is_word(&t, "on");
            m.has_matching = true;
            m.matching_labels = self.grouping_labels()?;
            let g = self.peek();
            let card = if self.is_word(&g, "group_left") {
                Some(Cardinality::ManyToOne)
            } else if self.is_word(&g, "group_right") {
                Some(Cardinality::OneToMany)
            } else {
                None
            };
            if card.is_some() {
                self.bump();
                m.card = card;
                if self.peek().kind == K::LeftParen {
                    m.include = self.grouping_labels()?;
                }
            }
        }
        loop {
            let t = self.peek();
            let which = match self.text(&t).to_ascii_lowercase().as_str() {
                "fill" if t.kind == K::Identifier => 0,
                "fill_left" if t.kind == K::Identifier => 1,
                "fill_right" if t.kind == K::Identifier => 2,
                _ => break,
            };
            if self.peek_at(1).kind != K::LeftParen {
                break;
            }
            if !self.opts.binop_fill_modifiers {
                return Err(self.error_at(
                    t.pos,
                    "fill modifiers are experimental and must be enabled with \
                     --enable-feature=promql-binop-fill-modifiers"
                        .into(),
                ));
            }
            if op.is_set_operator() {
                return Err(self.error_fmt(
                    t.pos,
                    format_args!(
                        "fill modifiers not allowed for set operator {}",
                        go_quote_str(op.as_str())
                    ),
                ));
            }
            self.bump();
            self.bump();
            let v = self.signed_number(Some("fill modifier"), Some("number"))?;
            self.expect(K::RightParen, Some("fill modifier"), Some("\")\""))?;
            let dup = match which {
                0 => {
                    let dup = m.fill_left.is_some() || m.fill_right.is_some();
                    m.fill_left = Some(v);
                    m.fill_right = Some(v);
                    dup
                }
                1 => m.fill_left.replace(v).is_some(),
                _ => m.fill_right.replace(v).is_some(),
            };
            if dup {
                return Err(self.error_at(t.pos, "fill modifier may not be set multiple times".into()));
            }
        }
        Ok(m)
    }

    /// Upstream's `opRange`: from after the left operand to before the right one, spaces trimmed.
    #[inline(never)]
    fn op_range(&self, lhs: &Expr, rhs: &Expr) -> PosRange {
        let b = self.input.as_bytes();
        let mut start = lhs.pos().end;
        while start < b.len() && b[start].is_ascii_whitespace() {
            start += 1;
        }
        let mut end = rhs.pos().start.max(start);
        while end > start && b[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        PosRange::new(start, end)
    }

    #[inline(never)]
    fn binary(&self, op: BinaryOp, lhs: Expr, rhs: Expr, m: BinModifiers) -> PResult<Expr> {
        let pos = PosRange::new(lhs.pos().start, rhs.pos().end);
        let (lt, rt) = (lhs.value_type(), rhs.value_type());
        let op_range = || self.op_range(&lhs, &rhs);
        if m.return_bool && !op.is_comparison() {
            return Err(self.error_at(
                op_range(),
                "bool modifier can only be used on comparison operators".into(),
            ));
        }
        if op.is_comparison() && !m.return_bool && lt == ValueType::Scalar && rt == ValueType::Scalar {
            return Err(self.error_at(op_range(), "comparisons between scalars must use BOOL modifier".into()));
        }
        let mut card = m.card.unwrap_or(Cardinality::OneToOne);
        if op.is_set_operator() && card == Cardinality::OneToOne {
            card = Cardinality::ManyToMany;
        }
        if m.on {
            for l in &m.matching_labels {
                if m.include.contains(l) {
                    return Err(self.error_fmt(
                        op_range(),
                        format_args!(
                            "label {} must not occur in ON and GROUP clause at once",
                            go_quote_str(l)
                        ),
                    ));
                }
            }
        }
        for (t, e) in [(lt, &lhs), (rt, &rhs)] {
            if t != ValueType::Scalar && t != ValueType::Vector {
                return Err(self.error_at(
                    e.pos(),
                    "binary expression must contain only scalar and instant vector types".into(),
                ));
            }
        }
        let both_vectors = lt == ValueType::Vector && rt == ValueType::Vector;
        if !both_vectors && !m.matching_labels.is_empty() {
            return Err(self.error_at(pos, "vector matching only allowed between instant vectors".into()));
        }
        if both_vectors && op.is_set_operator() {
            if matches!(card, Cardinality::OneToMany | Cardinality::ManyToOne) {
                return Err(self.error_fmt(
                    pos,
                    format_args!("no grouping allowed for {} operation", go_quote_str(op.as_str())),
                ));
            }
            if card != Cardinality::ManyToMany {
                return Err(self.error_at(pos, "set operations must always be many-to-many".into()));
            }
        }
        if (lt == ValueType::Scalar || rt == ValueType::Scalar) && op.is_set_operator() {
            return Err(self.error_fmt(
                pos,
                format_args!(
                    "set operator {} not allowed in binary scalar expression",
                    go_quote_str(op.as_str())
                ),
            ));
        }
        let matching = both_vectors.then_some(VectorMatching {
            card,
            matching_labels: m.matching_labels,
            on: m.on,
            include: m.include,
            fill_left: m.fill_left,
            fill_right: m.fill_right,
        });
        Ok(Expr::Binary(BinaryExpr {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            matching,
            return_bool: m.return_bool,
            pos,
        }))
    }

    // ---- selectors ----

    /// A vector selector: the name token (already consumed) if any, then `{matchers}` if next.
    #[inline(never)]
    fn vector_selector(&mut self, name: Option<Token>, start: usize) -> PResult<VectorSelector> {
        let mut matchers = Vec::new();
        let mut end = name.map_or(start, |t| t.pos.end);
        if self.peek().kind == K::LeftBrace {
            self.bump();
            matchers = self.label_matchers()?;
            end = self.last_end;
        }
        let pos = PosRange::new(start, end);
        let name = name.map(|t| self.text(&t).to_string());
        if let Some(n) = &name {
            if let Some(m) = matchers.iter().find(|m| m.name == "__name__") {
                return Err(self.error_fmt(
                    pos,
                    format_args!(
                        "metric name must not be set twice: {} or {}",
                        go_quote_str(n),
                        go_quote_str(&m.value)
                    ),
                ));
            }
            matchers.push(Matcher::equal("__name__", n.clone()));
        }
        Ok(VectorSelector {
            name,
            matchers,
            offset: None,
            at: None,
            anchored: false,
            smoothed: false,
            pos,
        })
    }

    /// The matchers after `{`, through `}`.
    #[inline(never)]
    fn label_matchers(&mut self) -> PResult<Vec<Matcher>> {
        const CTX: Option<&str> = Some("label matching");
        let mut out = Vec::new();
        loop {
            let t = self.peek();
            let label = match t.kind {
                K::RightBrace => {
                    self.bump();
                    return Ok(out);
                }
                K::Identifier => {
                    self.bump();
                    let op = self.peek();
                    if !matches!(op.kind, K::Assign | K::Neq | K::EqlRegex | K::NeqRegex) {
                        return Err(self.unexpected(op, CTX, Some("label matching operator")));
                    }
                    self.text(&t).to_string()
                }
                K::String => {
                    self.bump();
                    self.unquote(&t)?
                }
                _ => return Err(self.unexpected(t, CTX, Some("identifier or \"}\""))),
            };
            let op_tok = self.peek();
            let op = match op_tok.kind {
                K::Assign => Some(MatchOp::Equal),
                K::Neq => Some(MatchOp::NotEqual),
                K::EqlRegex => Some(MatchOp::Regex),
                K::NeqRegex => Some(MatchOp::NotRegex),
                _ => None,
            };
            match op {
                Some(op) => {
                    self.bump();
                    let v = self.peek();
                    if v.kind != K::String {
                        return Err(self.unexpected(v, CTX, Some("string")));
                    }
                    self.bump();
                    let value = self.unquote(&v)?;
                    let m = super::compiled::matcher(op, &label, &value)
                        .map_err(|e| self.error_at(PosRange::new(t.pos.start, v.pos.end), e.to_string()))?;
                    out.push(m);
                }
                // A quoted name alone is the metric name: `{"my.metric"}`.
                None => out.push(Matcher::equal("__name__", label)),
            }
            let t = self.peek();
            match t.kind {
                K::Comma => {
                    self.bump();
                }
                K::RightBrace => {}
                _ => return Err(self.unexpected(t, CTX, Some("\",\" or \"}\""))),
            }
        }
    }

    // ---- postfix modifiers ----

    #[inline(never)]
    fn postfix(&mut self, mut e: Expr) -> PResult<Expr> {
        loop {
            let t = self.peek();
            e = match t.kind {
                K::LeftBracket => self.range_or_subquery(e)?,
                K::At => self.at_modifier(e)?,
                K::Identifier if self.is_word(&t, "offset") => self.offset_modifier(e)?,
                K::Identifier if self.is_word(&t, "anchored") || self.is_word(&t, "smoothed") => {
                    self.extended_modifier(e, t)?
                }
                _ => return Ok(e),
            };
        }
    }

    #[inline(never)]
    fn range_or_subquery(&mut self, e: Expr) -> PResult<Expr> {
        let open = self.bump();
        let t = self.peek();
        if !self.starts_duration(&t) {
            return Err(self.unexpected(
                t,
                Some("subquery or range selector"),
                Some("number, duration, step(), or range()"),
            ));
        }
        let range = self.positive_duration()?;
        let t = self.peek();
        match t.kind {
            K::RightBracket => {
                let close = self.bump();
                let vs = match e {
                    Expr::VectorSelector(vs) => vs,
                    _ => {
                        return Err(self.error_at(
                            PosRange::new(open.pos.start, close.pos.end),
                            "ranges only allowed for vector selectors".into(),
                        ));
                    }
                };
                let msg = if vs.offset.is_some() {
                    Some("no offset modifiers allowed before range")
                } else if vs.at.is_some() {
                    Some("no @ modifiers allowed before range")
                } else {
                    None
                };
                if let Some(msg) = msg {
                    return Err(self.error_at(PosRange::new(open.pos.start, close.pos.end), msg.into()));
                }
                let pos = PosRange::new(vs.pos.start, close.pos.end);
                Ok(Expr::MatrixSelector(MatrixSelector { vs, range, pos }))
            }
            K::Colon => {
                self.bump();
                let t = self.peek();
                let step = if t.kind == K::RightBracket {
                    None
                } else if self.starts_duration(&t) {
                    Some(self.positive_duration()?)
                } else {
                    return Err(self.unexpected(
                        t,
                        Some("subquery selector"),
                        Some("number, duration, step(), range(), or \"]\""),
                    ));
                };
                let close = self.expect(K::RightBracket, Some("subquery selector"), Some("\"]\""))?;
                let pos = PosRange::new(e.pos().start, close.pos.end);
                let ty = e.value_type();
                if ty != ValueType::Vector {
                    return Err(self.error_fmt(
                        pos,
                        format_args!("subquery is only allowed on instant vector, got {}", ty.api_name()),
                    ));
                }
                Ok(Expr::Subquery(SubqueryExpr {
                    expr: Box::new(e),
                    range,
                    step,
                    offset: None,
                    at: None,
                    pos,
                }))
            }
            _ => Err(self.unexpected(t, Some("subquery or range"), Some("\":\" or \"]\""))),
        }
    }

    #[inline(never)]
    fn offset_modifier(&mut self, mut e: Expr) -> PResult<Expr> {
        self.bump();
        let t = self.peek();
        if !self.starts_duration(&t) {
            return Err(self.unexpected(t, Some("offset"), Some("number, duration, step(), or range()")));
        }
        let d = self.offset_duration()?;
        let d = match d {
            Duration::Fixed(0) => None,
            d => Some(d),
        };
        let end = self.last_end;
        let slot = match &mut e {
            Expr::VectorSelector(vs) => {
                vs.pos.end = end;
                &mut vs.offset
            }
            Expr::MatrixSelector(ms) => {
                ms.pos.end = end;
                &mut ms.vs.offset
            }
            Expr::Subquery(sq) => {
                sq.pos.end = end;
                &mut sq.offset
            }
            other => {
                return Err(self.error_at(
                    other.pos(),
                    "offset modifier must be preceded by an instant vector selector or range vector selector or a \
                     subquery"
                        .into(),
                ));
            }
        };
        if slot.is_some() {
            let pos = e.pos();
            return Err(self.error_at(pos, "offset may not be set multiple times".into()));
        }
        *slot = d;
        Ok(e)
    }

    #[inline(never)]
    fn at_modifier(&mut self, mut e: Expr) -> PResult<Expr> {
        self.bump();
        let t = self.peek();
        let at = if (self.is_word(&t, "start") || self.is_word(&t, "end")) && self.peek_at(1).kind == K::LeftParen {
            self.bump();
            self.bump();
            self.expect(K::RightParen, Some("@"), Some("\")\""))?;
            if self.is_word(&t, "start") {
                AtModifier::Start
            } else {
                AtModifier::End
            }
        } else {
            let ts = self.signed_number(Some("@"), Some("timestamp"))?;
            if !ts.is_finite() || ts >= i64::MAX as f64 || ts <= i64::MIN as f64 {
                return Err(self.error_fmt(
                    e.pos(),
                    format_args!("timestamp out of bounds for @ modifier: {}", go_float_f(ts)),
                ));
            }
            AtModifier::Timestamp(seconds_to_millis(ts))
        };
        let end = self.last_end;
        let slot = match &mut e {
            Expr::VectorSelector(vs) => {
                vs.pos.end = end;
                &mut vs.at
            }
            Expr::MatrixSelector(ms) => {
                ms.pos.end = end;
                &mut ms.vs.at
            }
            Expr::Subquery(sq) => {
                sq.pos.end = end;
                &mut sq.at
            }
            other => {
                return Err(self.error_at(
                    other.pos(),
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a \
                     subquery"
                        .into(),
                ));
            }
        };
        if slot.is_some() {
            let pos = e.pos();
            return Err(self.error_at(pos, "@ <timestamp> may not be set multiple times".into()));
        }
        *slot = Some(at);
        Ok(e)
    }

    #[inline(never)]
    fn extended_modifier(&mut self, mut e: Expr, t: Token) -> PResult<Expr> {
        let word = self.text(&t).to_ascii_lowercase();
        if !self.opts.extended_range_selectors {
            return Err(self.error_fmt(
                t.pos,
                format_args!(
                    "the {word} modifier is experimental and must be enabled with \
                     --enable-feature=promql-extended-range-selectors"
                ),
            ));
        }
        self.bump();
        let end = self.last_end;
        let vs = match &mut e {
            Expr::VectorSelector(vs) => {
                vs.pos.end = end;
                vs
            }
            Expr::MatrixSelector(ms) => {
                ms.pos.end = end;
                &mut ms.vs
            }
            other => {
                return Err(self.error_fmt(
                    other.pos(),
                    format_args!(
                        "{word} modifier must be preceded by an instant vector selector or range vector selector"
                    ),
                ));
            }
        };
        if vs.anchored || vs.smoothed {
            return Err(self.error_at(t.pos, "anchored and smoothed modifiers may be used only once".into()));
        }
        if word == "anchored" {
            vs.anchored = true;
        } else {
            vs.smoothed = true;
        }
        Ok(e)
    }

    // ---- numbers, strings, durations ----

    /// `[+|-] number|duration|inf|nan`, as `@` and `fill()` take.
    #[inline(never)]
    fn signed_number(&mut self, context: Option<&str>, expected: Option<&str>) -> PResult<f64> {
        let mut sign = 1.0;
        let t = self.peek();
        if matches!(t.kind, K::Add | K::Sub) {
            self.bump();
            if t.kind == K::Sub {
                sign = -1.0;
            }
        }
        let t = self.peek();
        let v = match t.kind {
            K::Number => self.number(&t)?,
            K::Duration => self.duration_literal(&t)? as f64 / 1000.0,
            K::Identifier if self.is_word(&t, "inf") => f64::INFINITY,
            K::Identifier if self.is_word(&t, "nan") => f64::NAN,
            _ => return Err(self.unexpected(t, context, expected)),
        };
        self.bump();
        Ok(sign * v)
    }

    /// Upstream's `number()`: Go's `ParseInt(s, 0, 64)` (hex, leading-zero octal), else `ParseFloat`.
    #[inline(never)]
    pub(super) fn number(&self, t: &Token) -> PResult<f64> {
        let s = self.text(t);
        let bad = || self.error_fmt(t.pos, format_args!("error parsing number: {}", go_quote_str(s)));
        if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            let digits: String = hex.chars().filter(|&c| c != '_').collect();
            return i64::from_str_radix(&digits, 16).map(|v| v as f64).map_err(|_| bad());
        }
        if s.len() > 1 && s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(v) = i64::from_str_radix(s, 8) {
                return Ok(v as f64);
            }
        }
        match s.parse::<f64>() {
            Ok(v) if v.is_infinite() => Err(self.error_fmt(
                t.pos,
                format_args!(
                    "error parsing number: strconv.ParseFloat: parsing {}: value out of range",
                    go_quote_str(s)
                ),
            )),
            Ok(v) => Ok(v),
            Err(_) => Err(bad()),
        }
    }

    #[inline(never)]
    pub(super) fn duration_literal(&self, t: &Token) -> PResult<i64> {
        let s = self.text(t);
        match parse_duration_ms(s) {
            Some(Ok(ms)) => Ok(ms),
            Some(Err(())) => Err(self.error_at(t.pos, "duration out of range".into())),
            None => Err(self.error_fmt(t.pos, format_args!("not a valid duration string: {}", go_quote_str(s)))),
        }
    }

    /// A string token's value (Go quoting rules; `'` strings like `"` ones; raw strings verbatim).
    #[inline(never)]
    pub(super) fn unquote(&self, t: &Token) -> PResult<String> {
        unquote(self.text(t)).map_err(|msg| self.error_at(t.pos, msg))
    }
}

/// Placeholder for an argument list that was checked to be non-empty (never reached).
fn unreachable_expr(pos: PosRange) -> Expr {
    Expr::NumberLiteral(NumberLiteral {
        val: f64::NAN,
        duration: false,
        pos,
    })
}
