"""Argument expressions: a string from a spec is parsed by the lark grammar in expr.lark and evaluated over
the names the spec binds (nc, anchors, any top-level key). Nothing is ever executed; sizes are bounded.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import lark

from .limits import Limits

_GRAMMAR = (Path(__file__).with_name("expr.lark")).read_text()

# A bare word that YOLOv5 would fail to evaluate and keep as a string ('nearest', 'bilinear').
_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
# Text that only makes sense as Python code: calls, attribute access, dunders, imports, lambdas.
_CODE = re.compile(r"__|\bimport\b|\blambda\b|\bexec\b|\beval\b|\bopen\s*\(|[A-Za-z_\])]\s*\(|\.\s*[A-Za-z_]|;|`|\*\*")


class ExprError(Exception):
    """An expression that cannot be evaluated; `code` is the diagnostic code, `column` 1-based in the text."""

    def __init__(self, code: str, message: str, column: int = 1, help: str = ""):
        super().__init__(message)
        self.code, self.message, self.column, self.help = code, message, column, help


@functools.lru_cache(maxsize=None)
def _parser(start: str) -> lark.Lark:
    return lark.Lark(_GRAMMAR, start=start, parser="lalr", maybe_placeholders=False)


def looks_like_code(text: str) -> bool:
    return bool(_CODE.search(text))


@dataclass
class _Eval:
    names: Mapping[str, Any]
    limits: Limits

    def check(self, v: Any, tok: Any = None) -> Any:
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, (int, float)):
            if isinstance(v, float) and not math.isfinite(v):
                raise ExprError("YN506", "the expression gives a number that is not finite", _col(tok))
            if abs(v) > self.limits.value_abs:
                raise ExprError("YN506", f"the expression gives {v:.3g}, beyond the limit of {self.limits.value_abs:.3g}", _col(tok), help="specs use small numbers; check the arithmetic")
            return v
        if isinstance(v, (str, list, tuple)) and len(v) > self.limits.value_items:
            raise ExprError("YN506", f"the expression gives a value of {len(v):,} items", _col(tok), help=f"values longer than {self.limits.value_items:,} items are refused")
        return v

    def eval(self, t: Any) -> Any:
        if isinstance(t, lark.Token):
            raise ExprError("YN108", f"unexpected `{t}`", _col(t))
        d = t.data
        ch = t.children
        if d == "number":
            s = str(ch[0]).replace("_", "")
            v: Any = float(s) if any(c in s for c in ".eE") else int(s)
            return self.check(v, ch[0])
        if d == "string":
            return self.check(str(ch[0])[1:-1], ch[0])
        if d == "none":
            return None
        if d == "true":
            return True
        if d == "false":
            return False
        if d == "name":
            n = str(ch[0])
            if n not in self.names:
                raise ExprError("YN109", f"unknown name `{n}` in an expression", _col(ch[0]), help=f"names a spec binds: {', '.join(sorted(self.names)) or 'none'}")
            return self.names[n]
        if d in ("list", "tuple"):
            items = [self.eval(c) for c in ch if c is not None]
            return self.check(items if d == "list" else tuple(items))
        if d in ("neg", "pos"):
            v = self.eval(ch[0])
            if not _is_num(v):
                raise ExprError("YN107", f"`{'-' if d == 'neg' else '+'}` needs a number", _col(_first_token(ch[0])))
            return self.check(-v if d == "neg" else v)
        if d in ("add", "sub", "mul", "truediv", "floordiv", "mod"):
            a, b = self.eval(ch[0]), self.eval(ch[1])
            return self.check(self.binop(d, a, b, _first_token(ch[1])))
        raise ExprError("YN108", "unsupported expression", 1)  # pragma: no cover

    def binop(self, op: str, a: Any, b: Any, tok: Any) -> Any:
        if op == "mul" and (isinstance(a, (str, list)) and _is_int(b) or isinstance(b, (str, list)) and _is_int(a)):
            seq, n = (a, b) if isinstance(a, (str, list)) else (b, a)
            if len(seq) * max(n, 0) > self.limits.value_items:
                raise ExprError("YN506", f"repeating a value {n:,} times exceeds the limit of {self.limits.value_items:,} items", _col(tok), help="specs never need values this large")
            return seq * n
        if op == "add" and type(a) is type(b) and isinstance(a, (str, list)):
            return a + b
        if not (_is_num(a) and _is_num(b)):
            raise ExprError("YN107", f"cannot apply `{_OPS[op]}` to {type(a).__name__} and {type(b).__name__}", _col(tok))
        if op in ("truediv", "floordiv", "mod") and b == 0:
            raise ExprError("YN107", "division by zero", _col(tok))
        return {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b, "truediv": lambda: a / b,
                "floordiv": lambda: a // b, "mod": lambda: a % b}[op]()


_OPS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%"}


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _col(tok: Any) -> int:
    return int(getattr(tok, "column", 1) or 1)


def _first_token(t: Any) -> Any:
    if isinstance(t, lark.Token):
        return t
    for c in getattr(t, "children", []):
        tok = _first_token(c)
        if tok is not None:
            return tok
    return None


def evaluate(text: str, names: Mapping[str, Any], limits: Limits) -> Any:
    """The value of an argument string. A bare unbound word stays a string (YOLOv5 keeps 'nearest' so)."""
    if len(text) > limits.expr_chars:
        raise ExprError("YN506", f"an expression of {len(text):,} characters", 1, help=f"expressions longer than {limits.expr_chars} characters are refused")
    stripped = text.strip()
    if _WORD.match(stripped) and stripped not in names and stripped not in ("None", "True", "False"):
        return text
    if looks_like_code(text):
        m = _CODE.search(text)
        raise ExprError("YN501", "this string is Python code; yamlnet never runs code from a spec", (m.start() + 1) if m else 1,
                        help="write a literal value (number, list, quoted string) or a name the spec defines such as `nc`")
    try:
        tree = _parser("start").parse(text)
    except lark.exceptions.UnexpectedInput as e:
        raise ExprError("YN108", f"cannot read the expression `{text}`", int(getattr(e, "column", 1) or 1),
                        help="expressions may use numbers, quoted strings, lists, None/True/False, spec names and + - * / // %") from None
    return _Eval(names, limits).eval(tree)


@dataclass(frozen=True)
class ActivationCall:
    """An activation as a spec names it: `nn.LeakyReLU(0.1)` -> ("nn.LeakyReLU", (0.1,), {})."""

    name: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]


def parse_activation(text: str, limits: Limits) -> ActivationCall:
    if len(text) > limits.expr_chars:
        raise ExprError("YN506", "the activation is too long", 1)
    if "__" in text or re.search(r"\bimport\b|\blambda\b", text):
        raise ExprError("YN501", "this activation is Python code; yamlnet never runs code from a spec", 1,
                        help="name an activation such as nn.SiLU() or nn.LeakyReLU(0.1)")
    try:
        tree = _parser("activation").parse(text)
    except lark.exceptions.UnexpectedInput as e:
        raise ExprError("YN111", f"cannot read the activation `{text}`", int(getattr(e, "column", 1) or 1),
                        help="write a name with literal arguments, e.g. nn.LeakyReLU(0.1)") from None
    ev = _Eval({}, limits)
    name = str(tree.children[0])
    args: list[Any] = []
    kwargs: list[tuple[str, Any]] = []
    for a in tree.children[1:]:
        if a is None:
            continue
        if a.data == "act_pos":
            args.append(ev.eval(a.children[0]))
        else:
            kwargs.append((str(a.children[0]), ev.eval(a.children[1])))
    return ActivationCall(name, tuple(args), tuple(kwargs))
