"""Sliding windows over the frames of a clip for Stage I and Stage II.

A window is a list of frame indices in window order (the order noise is drawn in). Frames that are
known when a window runs (the anchor, earlier windows' frames) condition it; the others are generated.
`plan_windows` is the official planner (spec §3.7; Stage II uses the same rule, §4.4): windows are laid
out from frame 0 upwards (edges at multiples of `slide`), the side towards the clip's end is walked
forwards from the anchor and the side towards frame 0 backwards, the forward side first when
2·anchor <= frames.
Anchored windows (`anchored_windows`) instead all hold the anchor, for a Stage II model trained on short
windows: every frame is then decoded from the anchor mesh itself, not from a chain of predictions.
"""

from __future__ import annotations


def chunked(start: int, stop: int, size: int = 16, slide: int = 15) -> list[list[int]]:
    """Ascending windows over frames start..stop-1: the first ends at min(start + size, stop), each next
    one `slide` frames later (clamped to stop), and each starts `size` frames before its end but never
    before `start`, so a window is shorter than `size` when stop - start < size.

    chunked(0, 32) -> [0..15], [15..30], [16..31]; chunked(5, 17) -> [5..16]."""
    windows, end = [], min(start + size, stop)
    while True:
        windows.append(list(range(max(start, end - size), end)))
        if end >= stop:
            return windows
        end = min(end + slide, stop)


def plan_windows(total: int, anchor: int = 0, size: int = 16, slide: int = 15,
                 known: set[int] | None = None) -> list[list[int]]:
    """Windows covering frames 0..total-1 from the anchor frame (spec §3.7).

    total <= size: one window, the anchor first then the other frames ascending.
    Otherwise two sides, the forward one first when 2·anchor <= total:
      forward first:  chunked(anchor, total), then chunked(0, max(anchor + 1, size)) last to first,
                      each window descending (total=31, anchor=5: [5..20], [15..30], [15..0]);
      backward first: chunked(0, anchor + 1) last to first, each descending, then
                      chunked(min(anchor, total - size), total)
                      (total=61, anchor=40: [40..25], [30..15], [15..0], [40..55], [45..60]).
    Anchor 0 gives [0..15], [15..30], [30..45], ...; the last frame gives the same windows right to left.
    Windows that would generate no new frame (everything in them already known) are dropped."""
    if not 0 <= anchor < total:
        raise ValueError(f"anchor frame {anchor} is outside 0..{total - 1}")
    if total <= size:
        return [[anchor] + [i for i in range(total) if i != anchor]]
    forward_first = 2 * anchor <= total
    if forward_first:
        forward = chunked(anchor, total, size, slide)
        backward = chunked(0, max(anchor + 1, size), size, slide)
    else:
        backward = chunked(0, anchor + 1, size, slide)
        forward = chunked(min(anchor, total - size), total, size, slide)
    backward = [window[::-1] for window in reversed(backward)]
    covered = set(known or ()) | {anchor}
    windows = []
    for window in forward + backward if forward_first else backward + forward:
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
