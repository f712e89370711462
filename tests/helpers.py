"""Shared test helpers."""

from pathlib import Path

REFERENCE = Path(__file__).parent / "reference"


def read_reference(stem: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """{key: (shape, dtype)} from a reference manifest (tests/reference/<stem>.tsv)."""
    table = {}
    for line in (REFERENCE / f"{stem}.tsv").read_text().splitlines():
        key, shape, dtype = line.split("\t")
        table[key] = (tuple(int(s) for s in shape.strip("[]").split(",") if s.strip()), dtype)
    return table
