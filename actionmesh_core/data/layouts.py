"""Random articulated objects of a few kinds (part layouts), each with its own kind of motion.

    quadruped  a body on four legs (optional knees) with a neck, a head and a tail; trotting gait
    biped      a torso with a head, two-segment arms and two legs; swinging arms and legs
    lamp       a base with a chain of two or three segments and a head; bending joints that may stretch
    flapper    a bird-like body with two flat wings, a head and a tail; flapping and bobbing

Units are arbitrary (objects are about 1-2 across); clips normalise them into the model cube.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Callable

import numpy as np

from .primitives import Primitive
from .rig import Part, Rig, Wave, axis_angle

X, Y, Z = np.eye(3)
IDENTITY = np.eye(3)


class RigBuilder:
    """Collects parts; `limb` adds a capsule (or box) that starts at its joint and runs along local +Y."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.parts: list[Part] = []
        self.cycles = rng.uniform(0.5, 1.25)  # one tempo for the whole object
        hue = rng.uniform()
        self.palette = [_color(hue + shift, rng) for shift in (0.0, 0.33, 0.6)]

    def add(self, primitive: Primitive, parent: int, attach, rest: np.ndarray = IDENTITY, axis=Z,
            swing: float = 0.0, phase: float = 0.0, stretch: float = 0.0, color: int = 0) -> int:
        self.parts.append(Part(primitive, parent, tuple(float(a) for a in attach), rest, tuple(axis),
                               Wave(swing, self.cycles, phase), Wave(stretch, self.cycles, phase + 0.25),
                               self.palette[color]))
        return len(self.parts) - 1

    def limb(self, parent: int, attach, rest: np.ndarray, length: float, radius: float, **motion) -> int:
        half = max(length / 2.0 - radius, 0.02)
        return self.add(Primitive("capsule", (0.0, half, 0.0), (radius, half, radius)), parent, attach, rest,
                        **motion)

    def blob(self, size, center=(0.0, 0.0, 0.0)) -> Primitive:
        """A box or an ellipsoid of half extents `size`."""
        kind = "box" if self.rng.uniform() < 0.4 else "ellipsoid"
        return Primitive(kind, tuple(center), tuple(float(s) for s in size))

    def amplitude(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high) * self.rng.choice([-1.0, 1.0]))


def _color(hue: float, rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, rng.uniform(0.45, 0.8), rng.uniform(0.6, 0.95))
    return int(r * 255), int(g * 255), int(b * 255)


DOWN = axis_angle(Z, math.pi)  # local +Y pointing down


def quadruped(rng: np.random.Generator) -> Rig:
    b = RigBuilder(rng)
    lx, ly, lz = rng.uniform(0.5, 0.75), rng.uniform(0.22, 0.32), rng.uniform(0.22, 0.32)
    body = b.add(b.blob((lx, ly, lz)), -1, (0, 0, 0), axis=Z, swing=b.amplitude(0.0, 0.08))
    leg_length, radius = rng.uniform(0.45, 0.8), rng.uniform(0.08, 0.12)
    knees = rng.uniform() < 0.4
    swing = rng.uniform(0.3, 0.7)
    for sx, sz, phase in ((1, 1, 0.0), (-1, -1, 0.0), (1, -1, 0.5), (-1, 1, 0.5)):
        attach = (sx * 0.7 * lx, -0.5 * ly, sz * 0.65 * lz)
        upper_length = leg_length * (0.55 if knees else 1.0)
        leg = b.limb(body, attach, DOWN, upper_length, radius, swing=swing, phase=phase, color=1)
        if knees:
            b.limb(leg, (0, upper_length - 2 * radius, 0), IDENTITY, leg_length * 0.5, radius * 0.9,
                   swing=rng.uniform(0.2, 0.5), phase=phase + 0.25, color=1)
    neck_length = rng.uniform(0.3, 0.5)
    neck = b.limb(body, (0.85 * lx, 0.4 * ly, 0), axis_angle(Z, -rng.uniform(0.5, 1.0)), neck_length,
                  rng.uniform(0.08, 0.12), swing=b.amplitude(0.1, 0.35), phase=rng.uniform(), color=0)
    head = rng.uniform(0.14, 0.22)
    b.add(b.blob((head * 1.3, head, head), center=(0.0, head * 0.6, 0.0)), neck,
          (0, neck_length - 0.05, 0), axis_angle(Z, 0.7), color=2)
    b.limb(body, (-0.9 * lx, 0.3 * ly, 0), axis_angle(Z, rng.uniform(1.8, 2.4)), rng.uniform(0.3, 0.6),
           rng.uniform(0.05, 0.08), axis=X, swing=b.amplitude(0.3, 0.8), phase=rng.uniform(), color=2)
    return Rig(b.parts, Wave(rng.uniform(0.0, 0.05), 2 * b.cycles, 0.0))


def biped(rng: np.random.Generator) -> Rig:
    b = RigBuilder(rng)
    w, h, d = rng.uniform(0.25, 0.38), rng.uniform(0.35, 0.5), rng.uniform(0.16, 0.24)
    torso = b.add(b.blob((w, h, d)), -1, (0, 0, 0), axis=Y, swing=b.amplitude(0.0, 0.25))
    head = rng.uniform(0.16, 0.24)
    b.add(b.blob((head, head * 1.1, head), center=(0.0, head * 0.9, 0.0)), torso, (0, h - 0.05, 0), IDENTITY,
          axis=X,
          swing=b.amplitude(0.0, 0.3), phase=rng.uniform(), color=2)
    arm_length, arm_radius = rng.uniform(0.35, 0.55), rng.uniform(0.06, 0.1)
    arm_swing, elbow = rng.uniform(0.4, 1.2), rng.uniform(0.2, 0.9)
    stretch = rng.uniform(0.0, 0.25) if rng.uniform() < 0.3 else 0.0
    leg_length, leg_radius, leg_swing = rng.uniform(0.45, 0.75), rng.uniform(0.08, 0.12), rng.uniform(0.2, 0.6)
    axis = (X, Z)[int(rng.integers(2))]  # swing forward-backward or sideways
    for side, phase in ((1, 0.0), (-1, 0.5)):
        spread = axis_angle(Z, math.pi - side * rng.uniform(0.1, 0.4))
        shoulder = (side * (0.75 * w + 0.5 * arm_radius), h - 2 * arm_radius, 0)
        upper = b.limb(torso, shoulder, spread, arm_length, arm_radius, axis=axis, swing=side * arm_swing,
                       phase=phase, stretch=stretch, color=1)
        b.limb(upper, (0, arm_length - 2 * arm_radius, 0), IDENTITY, arm_length * 0.9, arm_radius * 0.9,
               axis=axis, swing=side * elbow, phase=phase + 0.2, color=1)
        b.limb(torso, (side * 0.55 * w, -0.85 * h, 0), DOWN, leg_length, leg_radius, axis=axis,
               swing=side * leg_swing, phase=phase + 0.5, color=0)
    return Rig(b.parts, Wave(rng.uniform(0.0, 0.04), 2 * b.cycles, 0.25))


def lamp(rng: np.random.Generator) -> Rig:
    b = RigBuilder(rng)
    base = (rng.uniform(0.35, 0.55), rng.uniform(0.06, 0.12), rng.uniform(0.35, 0.55))
    parent = b.add(Primitive("box", (0, 0, 0), base), -1, (0, 0, 0), axis=Y, swing=b.amplitude(0.0, 0.4))
    attach, radius = (0, base[1], 0), rng.uniform(0.07, 0.12)
    for k in range(int(rng.integers(2, 4))):
        length = rng.uniform(0.45, 0.8)
        tilt = axis_angle(Z, rng.uniform(-0.6, 0.6))
        stretch = rng.uniform(0.1, 0.35) if rng.uniform() < 0.3 else 0.0
        parent = b.limb(parent, attach, tilt, length, radius, swing=b.amplitude(0.3, 0.8), phase=rng.uniform(),
                        stretch=stretch, color=k % 2)
        attach, radius = (0, length - radius, 0), radius * rng.uniform(0.8, 1.0)
    head = rng.uniform(0.15, 0.25)
    b.add(b.blob((head * 1.4, head, head), center=(head * 0.5, head * 0.6, 0.0)), parent, attach,
          axis_angle(Z, rng.uniform(-0.8, 0.0)), swing=b.amplitude(0.2, 0.6), phase=rng.uniform(), color=2)
    return Rig(b.parts)


def flapper(rng: np.random.Generator) -> Rig:
    b = RigBuilder(rng)
    lx, ly, lz = rng.uniform(0.4, 0.6), rng.uniform(0.18, 0.26), rng.uniform(0.18, 0.26)
    body = b.add(Primitive("ellipsoid", (0, 0, 0), (lx, ly, lz)), -1, (0, 0, 0), axis=Z,
                 swing=b.amplitude(0.0, 0.15))
    span, chord, thickness = rng.uniform(0.5, 0.9), rng.uniform(0.15, 0.3), rng.uniform(0.05, 0.08)
    flap = rng.uniform(0.5, 1.0)
    for side in (1, -1):
        wing = Primitive("box", (0.0, span / 2, 0.0), (chord, span / 2, thickness))
        b.add(wing, body, (0, 0.3 * ly, side * 0.6 * lz), axis_angle(X, side * math.pi / 2), axis=X,
              swing=-side * flap, color=1)
    head = rng.uniform(0.13, 0.2)
    b.add(Primitive("ellipsoid", (head * 0.5, 0, 0), (head * 1.2, head, head)), body, (0.85 * lx, 0.3 * ly, 0),
          axis=Z, swing=b.amplitude(0.0, 0.3), phase=rng.uniform(), color=2)
    tail = Primitive("box", (0.0, 0.15, 0.0), (0.04, 0.15, rng.uniform(0.1, 0.18)))
    b.add(tail, body, (-0.9 * lx, 0, 0), axis_angle(Z, math.pi / 2), axis=Z, swing=b.amplitude(0.1, 0.4),
          phase=rng.uniform(), color=2)
    return Rig(b.parts, Wave(rng.uniform(0.03, 0.1), b.cycles, 0.25))


CATEGORIES: dict[str, Callable[[np.random.Generator], Rig]] = {
    "quadruped": quadruped, "biped": biped, "lamp": lamp, "flapper": flapper,
}
