//! Duration expressions where a range, a subquery step or an offset goes (`[5m + step()]`, `offset min_of(range(),
//! 1h)`; experimental, `--enable-feature=promql-duration-expr`), and plain duration literals.

use super::ast::*;
use super::lexer::{Token, TokenKind as K};
use super::parser::{PResult, Parser, UNARY_OPERAND_PREC};

impl Parser<'_> {
    #[inline(never)]
    pub(super) fn starts_duration(&self, t: &Token) -> bool {
        match t.kind {
            K::Number | K::Duration | K::Add | K::Sub | K::LeftParen => true,
            K::Identifier => ["step", "range", "min_of", "max_of", "inf", "nan"]
                .iter()
                .any(|w| self.is_word(t, w)),
            _ => false,
        }
    }

    /// A range or step: any duration expression; a literal must be positive.
    #[inline(never)]
    pub(super) fn positive_duration(&mut self) -> PResult<Duration> {
        let e = self.dur_expr(0)?;
        if let DurationKind::Number { seconds, .. } = e.kind {
            if seconds <= 0.0 || seconds.is_nan() {
                return Err(self.error_at(e.pos, "duration must be greater than 0".into()));
            }
        }
        self.to_duration(e)
    }

    /// An offset: a signed literal, `step()`, `range()`, `min_of`/`max_of(...)` or a parenthesized expression;
    /// an unparenthesized operator after those belongs to the enclosing query (`foo offset 5m * 2`), except after
    /// a bare parenthesized expression, which upstream's grammar continues (`offset (1m) + 5` is 65 seconds).
    #[inline(never)]
    pub(super) fn offset_duration(&mut self) -> PResult<Duration> {
        let t = self.peek();
        let e = match t.kind {
            K::Add | K::Sub => {
                self.bump();
                let inner = self.dur_primary()?;
                let pos = PosRange::new(t.pos.start, inner.pos.end);
                self.dur_negate(t.kind == K::Sub, inner, pos)
            }
            K::LeftParen => {
                let first = self.dur_primary()?;
                self.dur_binary_tail(first, 0)?
            }
            _ => self.dur_primary()?,
        };
        self.to_duration(e)
    }

    #[inline(never)]
    fn to_duration(&self, e: DurationExpr) -> PResult<Duration> {
        match e.kind {
            DurationKind::Number { seconds, .. } => {
                if seconds.abs() > (i64::MAX / 1_000_000_000) as f64 {
                    return Err(self.error_at(e.pos, "duration out of range".into()));
                }
                Ok(Duration::Fixed(seconds_to_millis(seconds)))
            }
            _ => Ok(Duration::Expr(Box::new(e))),
        }
    }

    #[inline(never)]
    fn require_duration_exprs(&self, pos: PosRange) -> PResult<()> {
        if self.opts.duration_expressions {
            Ok(())
        } else {
            Err(self.error_at(pos, "experimental duration expression is not enabled".into()))
        }
    }

    fn dur_expr(&mut self, min_prec: u8) -> PResult<DurationExpr> {
        self.enter(self.peek().pos)?;
        let depth_before = self.depth;
        let lhs = self.dur_unary()?;
        let e = self.dur_binary_tail(lhs, min_prec)?;
        self.depth = depth_before - 1;
        Ok(e)
    }

    fn dur_binary_tail(&mut self, mut lhs: DurationExpr, min_prec: u8) -> PResult<DurationExpr> {
        loop {
            let t = self.peek();
            let op = match t.kind {
                K::Add => BinaryOp::Add,
                K::Sub => BinaryOp::Sub,
                K::Mul => BinaryOp::Mul,
                K::Div => BinaryOp::Div,
                K::Mod => BinaryOp::Mod,
                K::Pow => BinaryOp::Pow,
                _ => return Ok(lhs),
            };
            let prec = op.precedence();
            if prec < min_prec {
                return Ok(lhs);
            }
            self.bump();
            self.require_duration_exprs(lhs.pos.join(t.pos))?;
            self.enter(t.pos)?;
            let rhs = self.dur_expr(if op.is_right_associative() { prec } else { prec + 1 })?;
            if matches!(op, BinaryOp::Div | BinaryOp::Mod)
                && let DurationKind::Number { seconds, .. } = rhs.kind
                && seconds == 0.0
            {
                let what = if op == BinaryOp::Div {
                    "division by zero"
                } else {
                    "modulo by zero"
                };
                return Err(self.error_at(t.pos, what.into()));
            }
            let pos = lhs.pos.join(rhs.pos);
            lhs = DurationExpr {
                kind: DurationKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                wrapped: false,
                pos,
            };
        }
    }

    fn dur_unary(&mut self) -> PResult<DurationExpr> {
        let t = self.peek();
        if !matches!(t.kind, K::Add | K::Sub) {
            return self.dur_primary();
        }
        self.bump();
        let inner = self.dur_expr(UNARY_OPERAND_PREC)?;
        let pos = PosRange::new(t.pos.start, inner.pos.end);
        Ok(self.dur_negate(t.kind == K::Sub, inner, pos))
    }

    /// A sign applied to a duration expression: folded into a literal, `-` kept otherwise.
    #[inline(never)]
    fn dur_negate(&self, neg: bool, inner: DurationExpr, pos: PosRange) -> DurationExpr {
        match inner.kind {
            DurationKind::Number { seconds, duration } => DurationExpr {
                kind: DurationKind::Number {
                    seconds: if neg { -seconds } else { seconds },
                    duration,
                },
                wrapped: false,
                pos,
            },
            _ if !neg => inner,
            _ => DurationExpr {
                kind: DurationKind::Neg(Box::new(inner)),
                wrapped: false,
                pos,
            },
        }
    }

    pub(super) fn dur_primary(&mut self) -> PResult<DurationExpr> {
        let t = self.peek();
        match t.kind {
            K::Number => {
                self.bump();
                let seconds = self.number(&t)?;
                Ok(DurationExpr {
                    kind: DurationKind::Number {
                        seconds,
                        duration: false,
                    },
                    wrapped: false,
                    pos: t.pos,
                })
            }
            K::Identifier if self.is_word(&t, "nan") => {
                self.bump();
                let kind = DurationKind::Number {
                    seconds: f64::NAN,
                    duration: false,
                };
                Ok(DurationExpr {
                    kind,
                    wrapped: false,
                    pos: t.pos,
                })
            }
            K::Identifier if self.is_word(&t, "inf") => {
                self.bump();
                Err(self.error_at(t.pos, "duration out of range".into()))
            }
            K::Duration => {
                self.bump();
                let ms = self.duration_literal(&t)?;
                let kind = DurationKind::Number {
                    seconds: ms as f64 / 1000.0,
                    duration: true,
                };
                Ok(DurationExpr {
                    kind,
                    wrapped: false,
                    pos: t.pos,
                })
            }
            K::LeftParen => {
                self.bump();
                let mut inner = self.dur_expr(0)?;
                let close = self.expect(K::RightParen, None, Some("\")\""))?;
                let pos = PosRange::new(t.pos.start, close.pos.end);
                self.require_duration_exprs(pos)?;
                if matches!(inner.kind, DurationKind::Number { .. }) {
                    inner.pos = pos;
                    return Ok(inner);
                }
                inner.wrapped = true;
                inner.pos = pos;
                Ok(inner)
            }
            K::Identifier if self.peek_at(1).kind == K::LeftParen => {
                let word = self.text(&t).to_ascii_lowercase();
                let kind = match word.as_str() {
                    "step" | "range" => {
                        self.bump();
                        self.bump();
                        self.expect(K::RightParen, None, Some("\")\""))?;
                        if word == "step" {
                            DurationKind::Step
                        } else {
                            DurationKind::Range
                        }
                    }
                    "min_of" | "max_of" => {
                        self.bump();
                        self.bump();
                        let a = self.dur_expr(0)?;
                        self.expect(K::Comma, None, Some("\",\""))?;
                        let b = self.dur_expr(0)?;
                        self.expect(K::RightParen, None, Some("\")\""))?;
                        if word == "min_of" {
                            DurationKind::MinOf(Box::new(a), Box::new(b))
                        } else {
                            DurationKind::MaxOf(Box::new(a), Box::new(b))
                        }
                    }
                    _ => return Err(self.unexpected(t, None, Some("number, duration, step(), or range()"))),
                };
                let pos = PosRange::new(t.pos.start, self.last_end);
                self.require_duration_exprs(pos)?;
                Ok(DurationExpr {
                    kind,
                    wrapped: false,
                    pos,
                })
            }
            _ => Err(self.unexpected(t, None, Some("number, duration, step(), or range()"))),
        }
    }
}
