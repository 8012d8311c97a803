"""Fast paths of the front end that must give exactly what the slow ones gave: `checked()` against pydantic's
model_construct, `type_ok` against its declared kinds, Span's own __init__ against the dataclass fields."""

from __future__ import annotations

import itertools
import pickle

import pytest

from yamlnet.diagnostics import Span
from yamlnet.graph.bind import type_ok
from yamlnet.spec.expr import ActivationCall
from yamlnet.spec.model import Ref, Row, checked

SP = Span("f.yaml", 3, 5, 3, 9)


@pytest.mark.parametrize(
    ("cls", "values"),
    [
        (Ref, {"index": 3, "text": "3", "span": SP}),
        (Ref, {"row_name": "backbone", "tap": "P4", "text": "backbone.P4", "span": SP}),
        (
            Row,
            dict(position=0, section="backbone", refs=[], number=1, module="Conv", span=SP, from_span=SP, number_span=SP, module_span=SP,
                 args_span=SP),
        ),
        (
            Row,
            dict(
                position=4, section="head", name="neck", refs=[], number=3, module="C3", args=[64, True], weights="w.pt", span=SP,
                from_span=SP, number_span=SP, module_span=SP, args_span=SP, arg_spans=[SP, SP],
            ),
        ),
    ],
)  # fmt: skip
def test_checked_is_model_construct(cls: type, values: dict) -> None:
    a, b = cls.model_construct(**values), checked(cls, **values)
    assert a == b and repr(a) == repr(b)
    assert list(a.__dict__.items()) == list(b.__dict__.items())  # same fields, same order
    assert a.model_fields_set == b.model_fields_set and a.model_dump() == b.model_dump()
    if cls is Row and "args" not in values:
        assert b.args == [] and b.args is not checked(cls, **values).args  # a fresh default list each time
    assert pickle.loads(pickle.dumps(b)) == a


def test_checked_refuses_missing_or_unknown_fields() -> None:
    with pytest.raises(TypeError, match="span"):
        checked(Ref, index=1, text="1")
    with pytest.raises(TypeError, match="colour"):
        checked(Ref, index=1, text="1", span=SP, colour="red")


def _type_ok_by_the_words(value: object, type_: str) -> bool:
    """The rule as the declarations state it: any kind listed in `type_` accepts the value."""
    kinds = {t.strip() for t in type_.split("|")}
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return (
        "any" in kinds
        or ("none" in kinds and value is None)
        or ("bool" in kinds and isinstance(value, bool))
        or ("int" in kinds and isinstance(value, int) and not isinstance(value, bool))
        or ("float" in kinds and is_number)
        or ("str" in kinds and isinstance(value, str))
        or ("list" in kinds and isinstance(value, (list, tuple)))
        or ("activation" in kinds and isinstance(value, ActivationCall))
    )


def test_type_ok_for_every_kind_combination() -> None:
    kinds = ["any", "none", "bool", "int", "float", "str", "list", "activation"]
    types = ["|".join(c) for r in (1, 2, 3) for c in itertools.combinations(kinds, r)] + ["int | none", " float|str "]
    values = [None, True, False, 0, 3, -1, 1.5, float("nan"), "x", "", [1], (1,), {}, object(), ActivationCall("nn.SiLU", (), ())]
    assert [(v, t) for v in values for t in types if type_ok(v, t) != _type_ok_by_the_words(v, t)] == []


def test_span_init_keeps_the_dataclass_behaviour() -> None:
    s = Span("a.yaml", 1, 2)
    assert (s.file, s.line, s.column, s.end_line, s.end_column) == ("a.yaml", 1, 2, None, None)
    assert Span("a.yaml", 1, 2, 1, 5) == Span(file="a.yaml", line=1, column=2, end_line=1, end_column=5)
    assert hash(Span("a.yaml", 1, 2)) == hash(Span("a.yaml", 1, 2)) and pickle.loads(pickle.dumps(SP)) == SP
    with pytest.raises(AttributeError):  # still frozen
        s.line = 4  # type: ignore[misc]
