"""GradientTape calls inside a traced function, as graph lines: entering a tape (a replay makes
a fresh tape with the same options) and `stop_recording()` blocks (a replay pauses and resumes
the tape). `tracing._patches()` installs `tape_enter` and `stop_recording` while a trace runs;
`ORIGINALS` holds the GradientTape methods they wrap.
"""

from __future__ import annotations

import contextlib

from .. import tape as tape_module
from . import tracing  # noqa: F401 - read at call time (tracing imports this module)


def _new_tape(persistent: bool, watch_accessed_variables: bool):
    tape = tape_module.GradientTape(persistent=persistent,
                                    watch_accessed_variables=watch_accessed_variables)
    return ORIGINALS["tape_enter"](tape)


ORIGINALS: dict = {}


def tape_enter(self):
    tracer = tracing.current()
    if tracer is None or tracer.depth:
        return ORIGINALS["tape_enter"](self)
    # replay makes a fresh tape with the same options and enters it
    return tracer.record("GradientTape.__enter__", _new_tape,
                         (self._persistent, self._watch_accessed_variables), {}, stateful=True,
                         run=lambda *_: ORIGINALS["tape_enter"](self))


def _pause(tape) -> None:
    """Replay of `stop_recording()`'s start: take the tape out of the recording list."""
    tape._paused_at = tape_module._recording_tapes.index(tape)
    tape_module._recording_tapes.remove(tape)


def _resume(tape) -> None:
    """Replay of `stop_recording()`'s end: put the tape back where it was."""
    tape_module._recording_tapes.insert(tape._paused_at, tape)


@contextlib.contextmanager
def stop_recording(self):
    tracer = tracing.current()
    block = ORIGINALS["stop_recording"](self)
    if tracer is None or tracer.depth:
        with block:
            yield
        return
    tracer.record("GradientTape.stop_recording", _pause, (self,), {}, stateful=True,
                  run=lambda tape: block.__enter__())
    try:
        yield
    finally:
        tracer.record("GradientTape.resume_recording", _resume, (self,), {}, stateful=True,
                      run=lambda tape: block.__exit__(None, None, None))
