"""template.yaml is parsed once per content in a test run; every caller gets a copy of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from calsync_dev import template
from calsync_dev.template import load, load_raw

SMALL = """\
Transform: AWS::LanguageExtensions
Resources:
  Fn::ForEach::Queues:
    - Name
    - [A, B]
    - ${Name}Queue:
        Type: AWS::SQS::Queue
"""


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every YAML parse from now on (the cache emptied first)."""
    seen: list[bytes] = []
    real = template.yaml.load

    def counting(text: bytes, Loader: type) -> object:
        seen.append(text)
        return real(text, Loader=Loader)

    template._parsed.cache_clear()
    template._expanded.cache_clear()
    monkeypatch.setattr(template.yaml, "load", counting)
    yield seen
    template._parsed.cache_clear()
    template._expanded.cache_clear()


def test_the_template_is_parsed_once_however_often_it_is_read(parses: list[bytes]) -> None:
    # When the template is read raw and expanded, several times each
    for _ in range(3):
        load_raw()
        load()
    # Then it was parsed once
    assert len(parses) == 1


def test_each_caller_gets_a_copy_of_its_own(parses: list[bytes]) -> None:
    # Given a caller that changes what it got
    first = load()
    first["Resources"].clear()
    raw = load_raw()
    raw["Parameters"].clear()
    # Then the next callers get the template as written
    assert load()["Resources"]
    assert load_raw()["Parameters"]


def test_a_changed_file_is_parsed_again(tmp_path: Path, parses: list[bytes]) -> None:
    # Given a template read once
    path = tmp_path / "template.yaml"
    path.write_text(SMALL)
    assert set(load(path)["Resources"]) == {"AQueue", "BQueue"}
    # When the file changes
    path.write_text(SMALL.replace("[A, B]", "[A, B, C]"))
    # Then the next read sees the change
    assert set(load(path)["Resources"]) == {"AQueue", "BQueue", "CQueue"}
    assert len(parses) == 2
