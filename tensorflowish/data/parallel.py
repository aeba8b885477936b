"""Work in threads: ``map(num_parallel_calls=...)``, ``prefetch`` and parallel ``interleave``.

NumPy, file reads, zlib and Pillow release the GIL, so a pool of threads overlaps the input
pipeline with itself and with training. The order of elements is the order of the input unless
``deterministic=False``. Tapes record only the ops of the thread that entered them, so work done
here never lands on a training step's tape.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import queue
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from .dataset import AUTOTUNE, Dataset
from .structure import apply_function
from .transformations import _PassThrough, as_dataset

__all__ = ["ParallelMapDataset", "PrefetchDataset", "interleave"]


def _threads(num_parallel_calls: Any) -> int:
    count = int(num_parallel_calls.numpy() if hasattr(num_parallel_calls, "numpy")
                else num_parallel_calls)  # fmt: skip
    if count == AUTOTUNE:
        return os.cpu_count() or 1
    if count < 1:
        raise ValueError(
            f"num_parallel_calls must be a positive number or tf.data.AUTOTUNE, got {count}."
        )
    return count


def _deterministic(dataset: Dataset, deterministic: bool | None) -> bool:
    if deterministic is not None:
        return bool(deterministic)
    option = dataset.options().deterministic
    return True if option is None else bool(option)


class _Failed:
    """An error of the input, kept in its place in the order of elements."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class ParallelMapDataset(Dataset):
    def __init__(
        self, parent: Dataset, fn: Callable[..., Any], num_parallel_calls: Any,
        deterministic: bool | None,
    ) -> None:
        self.parent, self.fn = parent, fn
        self.num_parallel_calls = num_parallel_calls
        self.threads = _threads(num_parallel_calls)
        self.deterministic = deterministic

    def _cardinality(self) -> int:
        return self.parent._cardinality()

    def _iter_arrays(self) -> Iterator[Any]:
        pool = self.options().threading.private_threadpool_size or self.threads
        return _ParallelMapIterator(
            iter(self.parent._iter_arrays()), self.fn, pool,
            _deterministic(self, self.deterministic),
        )  # fmt: skip


class _ParallelMapIterator:
    """Keeps up to two calls per thread in flight; yields results in input order (or as they
    finish). An error of one call is raised for that element only; the next call goes on."""

    def __init__(self, source: Iterator[Any], fn: Callable[..., Any], threads: int,
                 deterministic: bool) -> None:
        self._source, self._fn = source, fn
        self._pool = concurrent.futures.ThreadPoolExecutor(threads, "tf.data.map")
        self._window = 2 * threads
        self._pending: collections.deque = collections.deque()
        self._exhausted = False
        self._deterministic = deterministic
        weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)

    def __iter__(self) -> _ParallelMapIterator:
        return self

    def _fill(self) -> None:
        while not self._exhausted and len(self._pending) < self._window:
            try:
                element = next(self._source)
            except StopIteration:
                self._exhausted = True
                break
            except Exception as error:  # noqa: BLE001 - delivered in order, as the element
                failed: concurrent.futures.Future = concurrent.futures.Future()
                failed.set_exception(error)
                self._pending.append(failed)
                continue
            self._pending.append(self._pool.submit(apply_function, self._fn, element))

    def __next__(self) -> Any:
        self._fill()
        if not self._pending:
            self._pool.shutdown(wait=False)
            raise StopIteration
        if self._deterministic:
            future = self._pending.popleft()
        else:
            done, _ = concurrent.futures.wait(
                self._pending, return_when=concurrent.futures.FIRST_COMPLETED
            )
            future = next(f for f in self._pending if f in done)
            self._pending.remove(future)
        return future.result()


class PrefetchDataset(_PassThrough):
    def __init__(self, parent: Dataset, buffer_size: int) -> None:
        if buffer_size < AUTOTUNE:
            raise ValueError(
                f"prefetch(buffer_size=...) must be tf.data.AUTOTUNE or >= 0, got {buffer_size}."
            )
        self.parent = parent
        self.buffer_size = 2 if buffer_size == AUTOTUNE else buffer_size

    def _iter_arrays(self) -> Iterator[Any]:
        if self.buffer_size == 0:
            return iter(self.parent._iter_arrays())
        return prefetching(iter(self.parent._iter_arrays()), self.buffer_size)


_END = object()


def prefetching(source: Iterator[Any], buffer_size: int) -> Iterator[Any]:
    """``source``'s elements, produced ahead by a background thread into a bounded queue."""
    return _PrefetchIterator(source, buffer_size)


class _PrefetchIterator:
    def __init__(self, source: Iterator[Any], buffer_size: int) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=buffer_size)
        self._stop = threading.Event()
        self._finished = False
        # the thread holds the queue, the flag and the source, never this object, so dropping
        # the iterator mid-way lets the finalizer stop the thread
        thread = threading.Thread(
            target=_produce, args=(source, self._queue, self._stop),
            name="tf.data.prefetch", daemon=True,
        )  # fmt: skip
        thread.start()
        weakref.finalize(self, self._stop.set)

    def __iter__(self) -> _PrefetchIterator:
        return self

    def __next__(self) -> Any:
        if self._finished:
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self._finished = True
            raise StopIteration
        if isinstance(item, _Failed):
            raise item.error
        return item


def _produce(source: Iterator[Any], out: queue.Queue, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            item = next(source)
        except StopIteration:
            item = _END
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, in order
            item = _Failed(error)
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                break
            except queue.Full:
                continue
        if item is _END:
            return


# --- interleave ----------------------------------------------------------------------------


def interleave_iterators(
    opened: Iterator[Callable[[], Iterator[Any]]],
    cycle_length: int,
    block_length: int,
    parallel: int | None,
    deterministic: bool = True,
) -> Iterator[Any]:
    """TensorFlow's interleave order over iterators made by ``opened``'s factories.

    ``cycle_length`` slots are visited in turn, ``block_length`` elements from each; an
    exhausted slot is refilled from ``opened`` when the turn comes back to it. With
    ``parallel``, each open iterator reads ahead in its own thread (the order is unchanged).
    """
    opened = iter(opened)
    slots: list[Iterator[Any] | None] = [None] * cycle_length
    open_count, index, block, end_of_input = 0, 0, 0, False
    while not end_of_input or open_count > 0:
        current = slots[index]
        if current is not None:
            try:
                element = next(current)
            except StopIteration:
                slots[index] = None
                open_count -= 1
                index, block = (index + 1) % cycle_length, 0
                continue
            block += 1
            if block == block_length:
                index, block = (index + 1) % cycle_length, 0
            yield element
        elif not end_of_input:
            try:
                factory = next(opened)
            except StopIteration:
                end_of_input = True
                continue
            iterator = iter(factory())
            slots[index] = prefetching(iterator, 2) if parallel else iterator
            open_count += 1
        else:
            index, block = (index + 1) % cycle_length, 0


class InterleaveDataset(Dataset):
    def __init__(self, parent: Dataset, fn: Callable[..., Any], cycle_length: int,
                 block_length: int, parallel: int | None, deterministic: bool | None) -> None:
        self.parent, self.fn = parent, fn
        self.cycle_length, self.block_length = cycle_length, block_length
        self.parallel, self.deterministic = parallel, deterministic

    def _iter_arrays(self) -> Iterator[Any]:
        def factories() -> Iterator[Callable[[], Iterator[Any]]]:
            for element in self.parent._iter_arrays():
                inner = as_dataset(apply_function(self.fn, element, convert=False), "interleave")
                yield inner._iter_arrays

        return interleave_iterators(
            factories(), self.cycle_length, self.block_length, self.parallel,
            _deterministic(self, self.deterministic),
        )  # fmt: skip


def interleave(
    dataset: Dataset, fn: Callable[..., Any], cycle_length: Any, block_length: Any,
    num_parallel_calls: Any, deterministic: bool | None,
) -> Dataset:
    """``Dataset.interleave``: cycle_length None or AUTOTUNE means one slot per core."""
    cycle = AUTOTUNE if cycle_length is None else int(cycle_length)
    cycle = (os.cpu_count() or 1) if cycle == AUTOTUNE else cycle
    block = 1 if block_length is None else int(block_length)
    if cycle < 1 or block < 1:
        raise ValueError(
            f"interleave: cycle_length and block_length must be positive, got {cycle_length} "
            f"and {block_length}."
        )
    parallel = None if num_parallel_calls is None else _threads(num_parallel_calls)
    return InterleaveDataset(dataset, fn, cycle, block, parallel, deterministic)
