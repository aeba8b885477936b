"""The buffers a replay plan keeps from call to call, and who may use them.

A plan's lines compute GEMM results, gradients and elementwise chains into arrays. NumPy would
allocate each anew at every call and free it at the call's end; for arrays of a few hundred KiB
glibc hands that memory back to the operating system and faults it in again at the next call
(docs/function.md#speed). So the plan allocates these arrays once (per plan, that is per
signature and tuple of input shapes) and passes them to its lines as `out=`.

Ownership: a persistent buffer is reused at the next call, so a value may live in one only if
nothing can hold it after the call. Values are grouped into *buffer classes*: names that may
share memory (a line computing in place into a dying input joins the input's class; a line
whose results may be views of its arguments joins them all). A class is private when every
member is a buffer only the plan holds (`_Builder.owned`: never wrapped in a Tensor, so never
returned, passed to a line without a rule (metrics, tf.print, py_function), to control flow or
to a tape; never the input of a view) and no line keeps a member (an optimiser update that may
store its gradients). Only names of private classes get persistent buffers; every other
allocation stays per call, as eager's.

Liveness: a class lives from the first line defining one of its names to the last line using
one; a buffer is given again (same shape and dtype) to a later class only once the class that
had it is dead, strictly before the line that writes the new value.

Threads and re-entry: the generated function takes its buffers as an argument. A call takes
the plan's lock without waiting; a call that finds it held (another thread, or the plan
running inside itself through a py_function or another traced function) runs with no buffers
(None for each: every line allocates, as eager), so calls never share them.
"""

from __future__ import annotations

import threading

import numpy as np

_enabled = [True]


def enable(enabled: bool = True) -> None:
    """Keep buffers from call to call in plans compiled afterwards (the default), or let every
    line allocate its results at every call (for comparisons)."""
    _enabled[0] = bool(enabled)


class BufferClasses:
    """Union-find over the names of a plan's statements: which names may share memory."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, name: str) -> str:
        parent = self.parent.setdefault(name, name)
        if parent != name:
            parent = self.parent[name] = self.find(parent)
        return parent

    def union(self, a: str, b: str) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[a] = b


def assign(statements: list, last_use: dict, inplace: list, eligible) -> tuple[dict, list]:
    """Persistent buffers for the statements' allocations.

    `inplace[i]`: the name statement i computes into in place, or None. `eligible(name)`:
    whether the name is a buffer only the plan holds. Returns ({(statement index, name):
    buffer name}, [(shape, dtype) per buffer, in buffer-name order])."""
    classes = BufferClasses()
    for position, statement in enumerate(statements):
        for name in statement.defines + statement.uses:
            classes.find(name)
        if inplace[position] is not None:
            for name in statement.defines:
                classes.union(name, inplace[position])
        if not statement.fresh:
            for name in statement.defines:
                for used in statement.uses:
                    classes.union(name, used)
        for used in statement.aliases:
            for name in statement.defines:
                classes.union(name, used)
    shared = set()  # roots of classes that leave the plan's hands
    for statement in statements:
        for name in statement.defines + statement.uses:
            if not eligible(name):
                shared.add(classes.find(name))
        for name in statement.keeps:
            shared.add(classes.find(name))
    ends: dict[str, int] = {}
    for position, statement in enumerate(statements):
        for name in statement.defines + statement.uses:
            root = classes.find(name)
            end = max(position, last_use.get(name, position))
            ends[root] = max(ends.get(root, end), end)

    chosen: dict = {}
    specs: list = []
    if not _enabled[0]:
        return chosen, specs
    busy: list[int] = []  # per buffer: the last position its current class lives to
    for position, statement in enumerate(statements):
        wanted = list(statement.allocate)
        if statement.out_buffer is not None and inplace[position] is None:
            wanted.append(statement.out_buffer)
        for entry in wanted:
            if entry is None:
                continue
            name, shape, dtype = entry
            root = classes.find(name)
            if root in shared:
                continue
            key = (tuple(shape), np.dtype(dtype))
            for index, spec in enumerate(specs):
                if spec == key and busy[index] < position:
                    break
            else:
                index = len(specs)
                specs.append(key)
                busy.append(-1)
            busy[index] = ends.get(root, position)
            chosen[(position, name)] = f"P{index}"
    return chosen, specs


def guarded(function, specs: list):
    """`run(inputs)`: the generated plan called with the plan's own buffers, or with none
    while another call holds them (a thread, or re-entry)."""
    if not specs:
        def run(inputs):
            return function(inputs, ())
        return run, ()
    buffers = tuple(np.empty(shape, dtype) for shape, dtype in specs)
    without = (None,) * len(buffers)
    lock = threading.Lock()
    acquire, release = lock.acquire, lock.release

    def run(inputs):
        if acquire(False):
            try:
                return function(inputs, buffers)
            finally:
                release()
        return function(inputs, without)
    return run, buffers
