"""Sliding windows over the frames of a clip for Stage I and Stage II.

A window is a list of frame indices in window order (the order noise is drawn in). Frames that are
known when a window runs (the anchor, earlier windows' frames) condition it; the others are generated.
Windows grow from the anchor towards both ends, the larger side first; each later window ends `slide`
frames further on and starts `size - 1` frames before its end, so consecutive windows overlap.
Anchored windows (`anchored_windows`) instead all hold the anchor, for a Stage II model trained on short
windows: every frame is then decoded from the anchor mesh itself, not from a chain of predictions.
"""

from __future__ import annotations


def _directional_windows(start: int, step: int, total: int, size: int, slide: int) -> list[list[int]]:
    """Windows from `start` towards one end (step +1 or -1), each in that direction's order."""
    last = total - 1 if step > 0 else 0
    clamp = (lambda i: min(i, last)) if step > 0 else (lambda i: max(i, last))
    windows, end = [], clamp(start + (size - 1) * step)
    while True:
        windows.append([end - (size - 1 - k) * step for k in range(size)])
        if end == last:
            return windows
        end = clamp(end + slide * step)


def plan_windows(total: int, anchor: int = 0, size: int = 16, slide: int = 15,
                 known: set[int] | None = None) -> list[list[int]]:
    """Windows covering frames 0..total-1 from the anchor frame.

    total <= size: one window, the anchor first then the other frames ascending.
    anchor 0: [0..15], [15..30], [30..45], ...; the last window is clamped to end at total-1.
    Windows that would generate no new frame (everything in them already known) are dropped."""
    if not 0 <= anchor < total:
        raise ValueError(f"anchor frame {anchor} is outside 0..{total - 1}")
    if total <= size:
        return [[anchor] + [i for i in range(total) if i != anchor]]
    right = _directional_windows(anchor, +1, total, size, slide) if anchor < total - 1 else []
    left = _directional_windows(anchor, -1, total, size, slide) if anchor > 0 else []
    ordered = right + left if total - 1 - anchor >= anchor else left + right
    covered = set(known or ()) | {anchor}
    windows = []
    for window in ordered:
        if set(window) - covered:
            windows.append(window)
            covered |= set(window)
    return windows


def anchored_windows(total: int, anchor: int = 0, size: int = 2) -> list[list[int]]:
    """Windows of the anchor and up to `size - 1` other frames each (nearest to the anchor first), ascending.

    total=16, anchor=0, size=4: [0, 1, 2, 3], [0, 4, 5, 6], ..., [0, 13, 14, 15]. Every other frame is in
    exactly one window."""
    if not 0 <= anchor < total:
        raise ValueError(f"anchor frame {anchor} is outside 0..{total - 1}")
    others = sorted((f for f in range(total) if f != anchor), key=lambda f: (abs(f - anchor), f))
    chunks = [others[i:i + size - 1] for i in range(0, len(others), size - 1)]
    return [sorted([anchor, *chunk]) for chunk in chunks] or [[anchor]]
