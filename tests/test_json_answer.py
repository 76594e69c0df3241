"""The hot routes' JSON answers (service.web.json_answer, written by orjson) say what Starlette's
JSONResponse would have: the same bytes, or for floats the same numbers."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from service.web.json_answer import json_answer, json_bytes

SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text()
DOCUMENTS = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
)
NUMBERS = st.floats(allow_nan=False, allow_infinity=False)


def starlette_bytes(content: Any) -> bytes:
    return bytes(JSONResponse(content).body)


@given(DOCUMENTS)
def test_documents_without_floats_are_the_same_bytes(document: Any) -> None:
    assert json_bytes(document) == starlette_bytes(document)


@given(st.recursive(NUMBERS | SCALARS, lambda inner: st.lists(inner, max_size=4)))
def test_floats_are_the_same_numbers(document: Any) -> None:
    assert json.loads(json_bytes(document)) == json.loads(starlette_bytes(document))


def test_what_orjson_will_not_write_is_written_as_before() -> None:
    for document in ({"big": 2**70}, {1: "a key that is a number"}, [-(2**64)]):
        assert json_bytes(document) == starlette_bytes(document)


def test_control_characters_and_non_ascii_are_spelled_as_starlette_spells_them() -> None:
    document = {"text": '\x00\x1f\u2028 é 😀 "quoted" back\\slash\n\t', "n": -0.0, "x": 1e16}
    assert json.loads(json_bytes(document)) == document
    assert json_bytes({"text": document["text"]}) == starlette_bytes({"text": document["text"]})
    assert math.copysign(1, json.loads(json_bytes(-0.0))) == -1


def test_an_answer_carries_its_length_and_type() -> None:
    answer = json_answer({"error": "é"}, 422, ((b"cache-control", b"no-store"),))
    assert answer.status_code == 422
    assert answer.body == '{"error":"é"}'.encode()
    assert answer.raw_headers == [
        (b"content-length", b"%d" % len(answer.body)),
        (b"content-type", b"application/json"),
        (b"cache-control", b"no-store"),
    ]
