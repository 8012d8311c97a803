"""Argument expressions: a string from a spec is parsed by the lark grammar in expr.lark and evaluated over
the names the spec binds (nc, anchors, any top-level key). Nothing is ever executed; sizes are bounded.

The evaluator walks the parse tree with an explicit stack (no recursion), so a long or deeply nested
expression gives a diagnostic, never a RecursionError. lark is imported, and the parser built, only when a
string is more than a bare word or name (YOLOv5's YAMLs never need it: `nc`, `anchors`, `None`, 'nearest').
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .limits import Limits

if TYPE_CHECKING:
    import lark

_GRAMMAR_FILE = Path(__file__).with_name("expr.lark")

# A bare word that YOLOv5 would fail to evaluate and keep as a string ('nearest', 'bilinear').
_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_PATH = re.compile(r"^[A-Za-z0-9_\-./~]+$")
_CONSTANTS = {"None": None, "True": True, "False": False}
# Text that only makes sense as Python code: calls, attribute access, dunders, imports, lambdas.
_CODE = re.compile(r"__|\bimport\b|\blambda\b|\bexec\b|\beval\b|\bopen\s*\(|[A-Za-z_\])]\s*\(|\.\s*[A-Za-z_]|;|`")


# activations a spec may name (in `activation:` and as block arguments), each a torch.nn class; `torch.nn.X`
# is read as `nn.X`. Nothing else of torch can be reached from a spec.
ACTIVATIONS = frozenset(
    {
        "nn.SiLU",
        "nn.ReLU",
        "nn.ReLU6",
        "nn.LeakyReLU",
        "nn.Hardswish",
        "nn.Hardsigmoid",
        "nn.GELU",
        "nn.Mish",
        "nn.ELU",
        "nn.SELU",
        "nn.CELU",
        "nn.PReLU",
        "nn.Sigmoid",
        "nn.Tanh",
        "nn.Identity",
        "nn.Softplus",
    }
)
# an activation object written as a block argument: nn.LeakyReLU(0.1), torch.nn.ReLU()
_ACTIVATION_ARG = re.compile(r"^\s*(?:torch\s*\.\s*)?nn\s*\.\s*[A-Za-z_][A-Za-z0-9_]*\s*\(.*\)\s*$", re.S)


class ExprError(Exception):
    """An expression that cannot be evaluated; `code` is the diagnostic code, `column` 1-based in the text.
    `suggest` is (start, end, replacement, applicability), columns in the text (end exclusive): a correction,
    "safe" when it is certainly what was meant."""

    def __init__(self, code: str, message: str, column: int = 1, help: str = "", suggest: tuple[int, int, str, str] | None = None):
        super().__init__(message)
        self.code, self.message, self.column, self.help, self.suggest = code, message, column, help, suggest


@functools.cache
def _lark() -> lark.Lark:
    """One LALR parser for both start symbols (argument expressions and activations), built on first use."""
    import lark

    return lark.Lark(_GRAMMAR_FILE.read_text(), start=["start", "activation"], parser="lalr", maybe_placeholders=False)


def _parse(text: str, start: str) -> Any:
    return _lark().parse(text, start=start)


def _unexpected(e: Exception) -> int:
    return int(getattr(e, "column", 1) or 1)


def looks_like_code(text: str) -> bool:
    return bool(_CODE.search(text))


_LEAVES = ("number", "string", "none", "true", "false", "name")
_BINOPS = ("add", "sub", "mul", "truediv", "floordiv", "mod")


@dataclass
class _Eval:
    names: Mapping[str, Any]
    limits: Limits

    def check(self, v: Any, tok: Any = None) -> Any:
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, (int, float)):
            if isinstance(v, float) and not math.isfinite(v):
                raise ExprError("YN506", "the expression gives a number that is not finite", _col(tok), help="specs use small finite numbers")
            if abs(v) > self.limits.value_abs:
                raise ExprError(
                    "YN506",
                    f"the expression gives {_num(v)}, beyond the limit of {self.limits.value_abs:.3g}",
                    _col(tok),
                    help="specs use small numbers; check the arithmetic",
                )
            return v
        if isinstance(v, (str, list, tuple)) and len(v) > self.limits.value_items:
            raise ExprError(
                "YN506",
                f"the expression gives a value of {len(v):,} items",
                _col(tok),
                help=f"values longer than {self.limits.value_items:,} items are refused",
            )
        return v

    def leaf(self, t: Any) -> Any:
        d, ch = t.data, t.children
        if d == "number":
            s = str(ch[0]).replace("_", "")
            try:
                v: Any = float(s) if any(c in s for c in ".eE") else int(s)
            except (ValueError, OverflowError):
                raise ExprError("YN506", f"the number `{ch[0]}` is too large", _col(ch[0]), help="specs use small numbers") from None
            return self.check(v, ch[0])
        if d == "string":
            return self.check(str(ch[0])[1:-1], ch[0])
        if d == "name":
            n = str(ch[0])
            if n not in self.names:
                import difflib

                close = difflib.get_close_matches(n, sorted(self.names), n=1, cutoff=0.75)
                start = _col(ch[0])
                raise ExprError(
                    "YN109",
                    f"unknown name `{n}` in an expression",
                    start,
                    help=(f"did you mean `{close[0]}`? " if close else "") + f"names a spec binds: {', '.join(sorted(self.names)) or 'none'}",
                    suggest=(start, start + len(n), close[0], "unsafe") if close else None,
                )
            return self.names[n]
        return {"none": None, "true": True, "false": False}[d]

    def value_of(self, root: Any) -> Any:
        """Post-order evaluation with an explicit stack; lists carry their nesting depth (limited)."""
        import lark

        values: list[tuple[Any, int]] = []  # (value, list nesting depth)
        work: list[tuple[bool, Any]] = [(False, root)]
        while work:
            reduce, t = work.pop()
            if isinstance(t, lark.Token):
                raise ExprError("YN108", f"unexpected `{t}`", _col(t))
            if not reduce:
                if t.data in _LEAVES:
                    values.append((self.leaf(t), 0))
                    continue
                work.append((True, t))
                work.extend((False, c) for c in reversed(t.children) if c is not None)
                continue
            k = sum(c is not None for c in t.children)
            args = values[len(values) - k :] if k else []
            del values[len(values) - k :]
            d = t.data
            if d in ("list", "tuple"):
                depth = 1 + max((a[1] for a in args), default=0)
                if depth > self.limits.depth:
                    raise ExprError(
                        "YN505",
                        f"the expression nests lists deeper than {self.limits.depth} levels",
                        _col(_first_token(t)),
                        help="specs never need deeply nested values",
                    )
                items = [a[0] for a in args]
                values.append((self.check(items if d == "list" else tuple(items)), depth))
            elif d in ("neg", "pos"):
                v = args[0][0]
                if not _is_num(v):
                    raise ExprError(
                        "YN115",
                        f"`{'-' if d == 'neg' else '+'}` needs a number",
                        _col(_first_token(t.children[0])),
                        help="a sign goes before a number or a name of one",
                    )
                values.append((self.check(-v if d == "neg" else v, _first_token(t.children[0])), 0))
            elif d in _BINOPS:
                (a, da), (b, db) = args
                v = self.check(self.binop(d, a, b, _first_token(t.children[1])), _first_token(t.children[1]))
                values.append((v, max(da, db)))
            else:  # pragma: no cover - the grammar derives nothing else
                raise ExprError("YN108", "unsupported expression", 1)
        return values[-1][0]

    def binop(self, op: str, a: Any, b: Any, tok: Any) -> Any:
        if op == "mul" and (isinstance(a, (str, list)) and _is_int(b) or isinstance(b, (str, list)) and _is_int(a)):
            seq, n = (a, b) if isinstance(a, (str, list)) else (b, a)
            if len(seq) * max(n, 0) > self.limits.value_items:
                raise ExprError(
                    "YN506",
                    f"repeating a value {n:,} times exceeds the limit of {self.limits.value_items:,} items",
                    _col(tok),
                    help="specs never need values this large",
                )
            return seq * n
        if op == "add" and type(a) is type(b) and isinstance(a, (str, list)):
            if len(a) + len(b) > self.limits.value_items:
                raise ExprError(
                    "YN506",
                    f"the expression gives a value of {len(a) + len(b):,} items",
                    _col(tok),
                    help=f"values longer than {self.limits.value_items:,} items are refused",
                )
            return a + b
        if not (_is_num(a) and _is_num(b)):
            raise ExprError(
                "YN115",
                f"cannot apply `{_OPS[op]}` to {_kind(a)} and {_kind(b)}",
                _col(tok),
                help="arithmetic takes numbers (lists and text only repeat or join)",
            )
        if op in ("truediv", "floordiv", "mod") and b == 0:
            raise ExprError("YN115", "division by zero", _col(tok), help="divide by a number other than 0")
        if op == "mul" and abs(a) > 0 and abs(b) > self.limits.value_abs / abs(a):
            raise ExprError("YN506", f"the product is beyond the limit of {self.limits.value_abs:.3g}", _col(tok), help="specs use small numbers")
        try:
            return {
                "add": lambda: a + b,
                "sub": lambda: a - b,
                "mul": lambda: a * b,
                "truediv": lambda: a / b,
                "floordiv": lambda: a // b,
                "mod": lambda: a % b,
            }[op]()
        except (OverflowError, ZeroDivisionError, ValueError):
            raise ExprError("YN506", f"`{_OPS[op]}` gives a number out of range", _col(tok), help="specs use small numbers") from None


_OPS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%"}


def _num(v: float) -> str:
    try:
        return f"{v:.3g}"
    except OverflowError:
        return f"a number of {len(str(abs(int(v)))):,} digits"


def _kind(v: Any) -> str:
    return "None" if v is None else type(v).__name__


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _col(tok: Any) -> int:
    return int(getattr(tok, "column", 1) or 1)


def _first_token(t: Any) -> Any:
    """The leftmost token under t (iteratively: trees can be deep)."""
    while t is not None and not hasattr(t, "column"):
        kids = [c for c in getattr(t, "children", []) if c is not None]
        if not kids:
            return None
        t = kids[0]
    return t


def evaluate(text: str, names: Mapping[str, Any], limits: Limits) -> Any:
    """The value of an argument string. A bare unbound word stays a string (YOLOv5 keeps 'nearest' so)."""
    if len(text) > limits.expr_chars:
        raise ExprError(
            "YN506", f"an expression of {len(text):,} characters", 1, help=f"expressions longer than {limits.expr_chars} characters are refused"
        )
    stripped = text.strip()
    if _ACTIVATION_ARG.match(text):
        return allowed_activation(text, limits)
    if stripped in _CONSTANTS and stripped not in names:
        return _CONSTANTS[stripped]
    if _WORD.match(stripped):
        if stripped in names:
            return names[stripped]
        if "__" not in stripped:
            return text
    if _PATH.match(stripped) and "__" not in stripped and ("." in stripped or "/" in stripped):
        # a file name such as weights/emo_1m.pth stays a string, unless it reads as arithmetic (nc/2)
        import lark

        try:
            return _Eval(names, limits).value_of(_parse(text, "start"))
        except lark.exceptions.LarkError:
            return text
        except ExprError as e:
            if e.code in ("YN108", "YN109"):
                return text
            raise
    if looks_like_code(text):
        m = _CODE.search(text)
        raise ExprError(
            "YN501",
            "this string is Python code; yamlnet never runs code from a spec",
            (m.start() + 1) if m else 1,
            help="write a literal value (number, list, quoted string) or a name the spec defines such as `nc`",
        )
    if "**" in text:
        raise ExprError(
            "YN108",
            "the power operator `**` is not supported in expressions",
            text.index("**") + 1,
            help="write the value out; expressions may use + - * / // % only",
        )
    import lark

    try:
        tree = _parse(text, "start")
    except lark.exceptions.LarkError as e:
        raise ExprError(
            "YN108",
            f"cannot read the expression `{text}`",
            _unexpected(e),
            help="expressions may use numbers, quoted strings, lists, None/True/False, spec names and + - * / // %",
        ) from None
    return _Eval(names, limits).value_of(tree)


@dataclass(frozen=True, repr=False)
class ActivationCall:
    """An activation as a spec names it: `nn.LeakyReLU(0.1)` -> ("nn.LeakyReLU", (0.1,), {}). A value, never
    called here: the compiler builds the torch.nn class of an allowed name."""

    name: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]

    def __repr__(self) -> str:
        return f"{self.name}({', '.join([repr(a) for a in self.args] + [f'{k}={v!r}' for k, v in self.kwargs])})"

    __str__ = __repr__


def parse_activation(text: str, limits: Limits) -> ActivationCall:
    """The call an activation's text names. Read once per text and limits (an ActivationCall is frozen): specs
    repeat the same few, and the grammar is the slowest step of reading one."""
    key = (text, limits)
    call = _ACTIVATIONS_READ.get(key)
    if call is None:
        call = _parse_activation(text, limits)
        if len(_ACTIVATIONS_READ) >= 1_000:
            _ACTIVATIONS_READ.clear()
        _ACTIVATIONS_READ[key] = call
    return call


_ACTIVATIONS_READ: dict[tuple[str, Limits], ActivationCall] = {}


def _parse_activation(text: str, limits: Limits) -> ActivationCall:
    if len(text) > limits.expr_chars:
        raise ExprError("YN506", "the activation is too long", 1, help=f"expressions longer than {limits.expr_chars} characters are refused")
    m = re.search(r"__|\bimport\b|\blambda\b|\bexec\b|\beval\b|;|`", text)
    if m:
        raise ExprError(
            "YN501",
            "this activation is Python code; yamlnet never runs code from a spec",
            m.start() + 1,
            help="name an activation such as nn.SiLU() or nn.LeakyReLU(0.1)",
        )
    if "**" in text:
        raise ExprError("YN108", "the power operator `**` is not supported in expressions", text.index("**") + 1, help="write the value out")
    import lark

    try:
        tree = _parse(text, "activation")
    except lark.exceptions.LarkError as e:
        raise ExprError(
            "YN111", f"cannot read the activation `{text}`", _unexpected(e), help="write a name with literal arguments, e.g. nn.LeakyReLU(0.1)"
        ) from None
    ev = _Eval({}, limits)
    name = re.sub(r"\s+", "", str(tree.children[0]))
    if name.startswith("torch.nn."):
        name = name.removeprefix("torch.")
    args: list[Any] = []
    kwargs: list[tuple[str, Any]] = []
    for a in tree.children[1:]:
        if a is None:
            continue
        if a.data == "act_pos":
            args.append(ev.value_of(a.children[0]))
        else:
            kwargs.append((str(a.children[0]), ev.value_of(a.children[1])))
    return ActivationCall(name, tuple(args), tuple(kwargs))


def allowed_activation(text: str, limits: Limits) -> ActivationCall:
    """An activation checked against the allow-list (unknown names: YN111 with the closest allowed name)."""
    call = parse_activation(text, limits)
    if call.name in ACTIVATIONS:
        return call
    import difflib

    lowered = {a.lower(): a for a in ACTIVATIONS}
    same = _SAME_AS.get(call.name) or lowered.get(call.name.lower())
    close = [same] if same else difflib.get_close_matches(call.name, sorted(ACTIVATIONS), n=1)
    safe = bool(same) or bool(close and difflib.SequenceMatcher(None, call.name, close[0]).ratio() >= 0.9)
    written = re.search(r"[A-Za-z_][A-Za-z0-9_.\s]*", text)
    start, end = (written.start() + 1, written.start() + 1 + len(written.group().rstrip())) if written else (1, 1)
    raise ExprError(
        "YN111",
        f"unknown activation `{call.name}`",
        start,
        help=(f"did you mean `{close[0]}`? " if close else "") + "allowed: " + ", ".join(sorted(ACTIVATIONS)),
        suggest=(start, end, close[0], "safe" if safe else "unsafe") if close else None,
    )


# other names of allowed activations (Swish is SiLU; Hardswish's common misspelling)
_SAME_AS = {"nn.Swish": "nn.SiLU", "nn.HardSwish": "nn.Hardswish", "nn.HardSigmoid": "nn.Hardsigmoid"}
