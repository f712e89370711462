"""The pack's one logger. Every message the core and the ComfyUI nodes log goes through `log`, prefixed
"[ActionMesh] " so that it stands out in a shared console (ComfyUI's server log, a batch job's output).

    from ..base.log import log
    log.warning("%s: ...", source)
"""

from __future__ import annotations

import logging

PREFIX = "[ActionMesh] "
LOGGER_NAME = "actionmesh"


class PrefixedLogger(logging.LoggerAdapter):
    """A logger whose messages start with PREFIX (the arguments stay lazy: formatted only when shown)."""

    def process(self, msg, kwargs):
        return f"{PREFIX}{msg}", kwargs


log = PrefixedLogger(logging.getLogger(LOGGER_NAME), {})
