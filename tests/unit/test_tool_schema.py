"""A tool's JSON schema is read from its source: signature, annotations and docstring."""

from __future__ import annotations

from textwrap import dedent
from typing import Any

import pytest

from engram.errors import InvalidInput
from engram.tools.docstrings import parse_docstring
from engram.tools.schema import function_schema


def schema_of(source: str) -> dict[str, Any]:
    return function_schema(dedent(source))


def params(source: str) -> dict[str, Any]:
    return schema_of(source)["parameters"]


def rejection(source: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        function_schema(dedent(source))
    assert caught.value.field == "source_code"
    return str(caught.value)


# --------------------------------------------------------------------------- signatures


def test_plain_scalars_are_required_and_typed() -> None:
    schema = schema_of(
        '''
        def book_room(room: str, guests: int, budget: float, breakfast: bool):
            """Book a hotel room."""
        '''
    )
    assert schema["name"] == "book_room"
    assert schema["description"] == "Book a hotel room."
    assert schema["parameters"] == {
        "type": "object",
        "properties": {
            "room": {"type": "string"},
            "guests": {"type": "integer"},
            "budget": {"type": "number"},
            "breakfast": {"type": "boolean"},
        },
        "required": ["room", "guests", "budget", "breakfast"],
    }


def test_defaults_are_recorded_and_make_parameters_optional() -> None:
    schema = params(
        """
        def search(query: str, limit: int = 10, exact: bool = False, scale: float = 0.5):
            pass
        """
    )
    assert schema["required"] == ["query"]
    assert schema["properties"]["limit"] == {"type": "integer", "default": 10}
    assert schema["properties"]["exact"] == {"type": "boolean", "default": False}
    assert schema["properties"]["scale"] == {"type": "number", "default": 0.5}


def test_optional_and_union_with_none_describe_the_inner_type() -> None:
    schema = params(
        """
        from typing import Optional, Union

        def f(a: Optional[str] = None, b: int | None = None, c: Union[float, None] = None):
            pass
        """
    )
    assert schema["properties"] == {
        "a": {"type": "string", "default": None},
        "b": {"type": "integer", "default": None},
        "c": {"type": "number", "default": None},
    }
    assert schema["required"] == []


def test_optional_without_default_stays_required() -> None:
    schema = params("def f(note: Optional[str]): pass")
    assert schema["required"] == ["note"]
    assert schema["properties"]["note"] == {"type": "string"}


def test_lists_carry_their_item_type() -> None:
    schema = params(
        """
        from typing import List

        def f(names: list[str], ids: List[int], grid: list[list[float]], anything: list):
            pass
        """
    )
    assert schema["properties"] == {
        "names": {"type": "array", "items": {"type": "string"}},
        "ids": {"type": "array", "items": {"type": "integer"}},
        "grid": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
        "anything": {"type": "array"},
    }


def test_dicts_are_objects_with_typed_values() -> None:
    schema = params("def f(scores: dict[str, int], extra: dict, raw: Dict[str, Any]): pass")
    assert schema["properties"] == {
        "scores": {"type": "object", "additionalProperties": {"type": "integer"}},
        "extra": {"type": "object"},
        "raw": {"type": "object"},
    }


def test_literal_becomes_an_enum() -> None:
    schema = params(
        """
        from typing import Literal

        def f(unit: Literal["celsius", "fahrenheit"] = "celsius", level: Literal[1, 2, 3] = 1):
            pass
        """
    )
    assert schema["properties"]["unit"] == {
        "type": "string",
        "enum": ["celsius", "fahrenheit"],
        "default": "celsius",
    }
    assert schema["properties"]["level"] == {"type": "integer", "enum": [1, 2, 3], "default": 1}


def test_enum_class_in_the_source_becomes_an_enum() -> None:
    schema = params(
        """
        from enum import Enum

        class Priority(str, Enum):
            LOW = "low"
            HIGH = "high"

        def file_ticket(title: str, priority: Priority):
            pass
        """
    )
    assert schema["properties"]["priority"] == {"type": "string", "enum": ["low", "high"]}


def test_string_annotations_and_type_aliases_are_resolved() -> None:
    schema = params(
        """
        from typing import Literal
        Mode = Literal["read", "write"]

        def f(path: "str", mode: Mode, sizes: "list[int]"):
            pass
        """
    )
    assert schema["properties"] == {
        "path": {"type": "string"},
        "mode": {"type": "string", "enum": ["read", "write"]},
        "sizes": {"type": "array", "items": {"type": "integer"}},
    }


def test_keyword_only_parameters_and_async_functions_are_read() -> None:
    schema = schema_of(
        """
        async def fetch(url: str, *, timeout: float = 5.0, retries: int):
            pass
        """
    )
    assert schema["name"] == "fetch"
    assert schema["parameters"]["required"] == ["url", "retries"]
    assert schema["parameters"]["properties"]["timeout"] == {"type": "number", "default": 5.0}


def test_mixed_union_lists_both_types_and_annotated_adds_a_description() -> None:
    schema = params(
        """
        from typing import Annotated, Union

        def f(key: Union[int, str], note: Annotated[str, "A short note."]):
            pass
        """
    )
    assert schema["properties"]["key"] == {"type": ["integer", "string"]}
    assert schema["properties"]["note"] == {"type": "string", "description": "A short note."}


def test_the_last_public_function_is_the_tool_and_agent_state_is_not_a_parameter() -> None:
    schema = schema_of(
        """
        def _helper(x: int) -> int:
            return x

        def normalise(text: str) -> str:
            return text

        def shout(agent_state: "AgentState", text: str) -> str:
            \"\"\"Say it loudly.\"\"\"
            return normalise(text).upper()

        def _private_after(y: int) -> int:
            return y
        """
    )
    assert schema["name"] == "shout"
    assert list(schema["parameters"]["properties"]) == ["text"]


# --------------------------------------------------------------------------- docstrings


def test_google_docstring_gives_summary_and_parameter_descriptions() -> None:
    schema = schema_of(
        '''
        def send_email(to: str, subject: str, cc: list[str] | None = None) -> bool:
            """Send an email to one recipient.

            The message goes out through the company relay; this longer
            text is not part of the tool description.

            Args:
                to (str): Address of the recipient.
                subject: Subject line, kept
                    under 80 characters.
                cc: Addresses to copy.

            Returns:
                bool: Whether the relay accepted it.
            """
        '''
    )
    assert schema["description"] == "Send an email to one recipient."
    properties = schema["parameters"]["properties"]
    assert properties["to"]["description"] == "Address of the recipient."
    assert properties["subject"]["description"] == "Subject line, kept under 80 characters."
    assert properties["cc"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": "Addresses to copy.",
        "default": None,
    }


def test_numpy_docstring_gives_parameter_descriptions() -> None:
    schema = schema_of(
        '''
        def convert(amount: float, currency: str = "EUR") -> float:
            """Convert money between currencies.

            Parameters
            ----------
            amount : float
                How much money,
                in the source currency.
            currency : str, optional
                ISO code of the target currency.

            Returns
            -------
            float
                The converted amount.
            """
        '''
    )
    assert schema["description"] == "Convert money between currencies."
    properties = schema["parameters"]["properties"]
    assert properties["amount"]["description"] == "How much money, in the source currency."
    assert properties["currency"] == {
        "type": "string",
        "description": "ISO code of the target currency.",
        "default": "EUR",
    }


def test_rest_field_docstring_gives_parameter_descriptions() -> None:
    doc = parse_docstring(
        """Roll dice.

        :param sides: Faces per die.
        :param count: How many dice
            to roll.
        :returns: The total.
        """
    )
    assert doc.summary == "Roll dice."
    assert doc.params == {"sides": "Faces per die.", "count": "How many dice to roll."}


def test_no_docstring_gives_an_empty_description() -> None:
    schema = schema_of("def ping(host: str): pass")
    assert schema["description"] == ""
    assert "description" not in schema["parameters"]["properties"]["host"]


def test_computed_defaults_are_optional_without_a_recorded_default() -> None:
    schema = params("def f(when: str = make_default(), items: tuple = (1, 2)): pass")
    assert schema["required"] == []
    assert schema["properties"]["when"] == {"type": "string"}
    assert schema["properties"]["items"] == {"type": "array", "default": [1, 2]}


# --------------------------------------------------------------------------- rejections


def test_missing_annotation_is_rejected_naming_the_parameter() -> None:
    message = rejection("def f(city: str, days):\n    pass\n")
    assert "'days'" in message and "f()" in message and "annotation" in message


def test_syntax_error_is_rejected_with_its_line() -> None:
    message = rejection("def f(x: int)\n    return x\n")
    assert "line 1" in message and "not valid Python" in message


def test_source_without_a_function_is_rejected() -> None:
    message = rejection("x = 1\nclass Thing:\n    pass\n")
    assert "no function" in message


def test_star_args_and_unknown_types_are_rejected_by_name() -> None:
    assert "*args" in rejection("def f(*args: int): pass")
    assert "**options" in rejection("def f(**options: str): pass")
    message = rejection("def f(when: datetime): pass")
    assert "'when'" in message and "datetime" in message


def test_the_source_is_never_executed(tmp_path: Any) -> None:
    marker = tmp_path / "ran"
    schema = schema_of(
        f"""
        open({str(marker)!r}, "w").write("executed")

        def harmless(x: int):
            pass
        """
    )
    assert schema["name"] == "harmless"
    assert not marker.exists()
