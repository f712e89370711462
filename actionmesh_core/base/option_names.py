"""How each front end names the core's options, so that a message says what the user can actually change.

The core words a message once, with option names looked up in an `OptionNames`: the command line says
`--max-frames`, a ComfyUI node `frame_load_cap`, the Python API `max_frames`. A front end without an option maps
it to None, and advice that needs it is left out (a node without a target-fps widget is never told to lower it).

    names = OptionNames({"max_frames": "frame_load_cap", "target_fps": None})
    names.advice(("raise", "max_frames"), ("lower", "target_fps"))   # -> "raise frame_load_cap"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OptionNames:
    """{core option name: the front end's name for it, or None when it has none}; unlisted options keep the core's
    name (the Python API's keyword arguments)."""

    names: Mapping[str, str | None] = field(default_factory=dict)

    def __call__(self, option: str) -> str | None:
        """The front end's name of `option`, None when it has no such option."""
        return self.names.get(option, option)

    def offers(self, option: str) -> bool:
        return self(option) is not None

    def values(self, **values) -> str:
        """'start_frame=0, stride=2': the given option values under the front end's names; unset ones (None) and
        those the front end lacks are left out."""
        return ", ".join(f"{self(name)}={value}" for name, value in values.items()
                         if value is not None and self.offers(name))

    def advice(self, *moves: tuple[str, str]) -> str:
        """'raise --max-frames, raise --stride or lower --fps' from (verb, option) pairs, leaving out the options
        the front end lacks; "" when it has none of them."""
        kept = [f"{verb} {self(option)}".strip() for verb, option in moves if self.offers(option)]
        return kept[0] if len(kept) == 1 else ", ".join(kept[:-1]) + f" or {kept[-1]}" if kept else ""


PYTHON_NAMES = OptionNames()
"""The Python API's own names (keyword arguments and Settings fields)."""
