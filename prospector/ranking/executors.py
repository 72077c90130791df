"""Where tiles run: this process, forked local processes, or a dask.distributed cluster.

An executor is a context manager made with the run's shared :class:`TileContext`; its
``map(func, items)`` yields ``func(context, item)`` for every item, in item order.

``local``   ``workers=1``: tiles run here, one after the other (each may use threads).
            More workers: forked processes (Linux/macOS ``fork``), started when the
            executor is entered, so the context is shared copy-on-write, never pickled.
``dask``    The same tasks on ``dask.distributed``: a scheduler address, a ``Client``, or
            None (the current client, else a ``LocalCluster`` started for the run).  The
            context is scattered to every worker once; an in-memory run sends each tile's
            parcels with its task; file-backed layers are read by the workers themselves
            (paths must be visible to them).

Tasks of both pool kinds run :func:`~prospector._runtime.single_threaded`: the workers
already use every core between them.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType
from typing import Any, Literal

from prospector._runtime import single_threaded
from prospector.ranking.tiles import TileContext

__all__ = ["DaskExecutor", "Executor", "ExecutorKind", "LocalExecutor", "make_executor"]

#: Executors :func:`make_executor` can start.
ExecutorKind = Literal["local", "dask"]


TaskFunc = Callable[[TileContext, Any], Any]


class Executor(ABC):
    """Runs tile tasks; a context manager: entering starts the workers, leaving closes them."""

    @abstractmethod
    def __enter__(self) -> Executor: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None:
        """Stop what :meth:`__enter__` started (safe to call twice)."""

    @abstractmethod
    def map(self, func: TaskFunc, items: list[Any]) -> Iterator[Any]:
        """``func(context, item)`` for every item, in item order."""

    @property
    @abstractmethod
    def parallel(self) -> bool:
        """True when tasks run outside this process."""


# Process-pool plumbing: the context is inherited by fork, never pickled.
_FORKED: dict[str, TileContext] = {}


def _forked_call(func: TaskFunc, item: Any) -> Any:
    with single_threaded():
        return func(_FORKED["context"], item)


class LocalExecutor(Executor):
    """Tiles here (``workers=1``) or in *workers* forked, single-threaded processes."""

    def __init__(self, context: TileContext, workers: int) -> None:
        self.context = context
        self.workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    @property
    def parallel(self) -> bool:
        """True with more than one worker."""
        return self.workers > 1

    def __enter__(self) -> LocalExecutor:
        if self.workers > 1:
            _FORKED["context"] = self.context
            pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("fork"))
            self._pool = pool
            # Fork the workers now, while this process is small (the pool would fork them
            # at the first submit).
            try:
                for f in [pool.submit(os.getpid) for _ in range(self.workers)]:
                    f.result()
            except BaseException:
                self.close()
                raise
        return self

    def close(self) -> None:
        """Shut the worker processes down."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        _FORKED.clear()

    def map(self, func: TaskFunc, items: list[Any]) -> Iterator[Any]:
        """``func(context, item)`` for every item, in item order."""
        if self._pool is None:
            for item in items:
                yield func(self.context, item)
            return
        yield from self._pool.map(_forked_call, [func] * len(items), items)


def _dask_call(func: TaskFunc, context: TileContext, item: Any) -> Any:
    # Dask runs tasks on worker threads and processes already: no threads inside a task.
    with single_threaded():
        return func(context, item)


class DaskExecutor(Executor):
    """Tile tasks on dask.distributed (see the module doc)."""

    def __init__(self, context: TileContext, workers: int, scheduler: Any = None) -> None:
        self.context = context
        self.workers = max(1, workers)
        self.scheduler = scheduler
        self._client: Any = None
        self._own: list[Any] = []
        self._shared: Any = None

    @property
    def parallel(self) -> bool:
        """Always True: tasks run on the cluster's workers."""
        return True

    def __enter__(self) -> DaskExecutor:
        from distributed import Client, LocalCluster

        try:
            if self.scheduler is None:
                try:
                    from distributed import get_client

                    self._client = get_client()
                except ValueError:
                    cluster = LocalCluster(
                        n_workers=self.workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                    )
                    self._own.append(cluster)
                    self._client = Client(cluster)
                    self._own.append(self._client)
            elif isinstance(self.scheduler, Client):
                self._client = self.scheduler
            else:
                self._client = Client(self.scheduler)
                self._own.append(self._client)
            shared = dataclasses.replace(self.context, parcels=None)
            [self._shared] = self._client.scatter([shared], broadcast=True)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Close the client and the cluster this executor started (not a given client)."""
        for thing in reversed(self._own):  # client first, then its cluster
            thing.close()
        self._own.clear()

    def map(self, func: TaskFunc, items: list[Any]) -> Iterator[Any]:
        """``func(context, item)`` for every item, in item order."""
        parcels = self.context.parcels
        futures = [
            self._client.submit(
                _dask_call,
                func,
                self._shared,
                parcels.iloc[item] if parcels is not None else item,
                pure=False,
            )
            for item in items
        ]
        for fut in futures:
            yield fut.result()
            fut.release()


def make_executor(
    kind: str, context: TileContext, *, workers: int, scheduler: Any = None
) -> LocalExecutor | DaskExecutor:
    """Make an executor of *kind* (``"local"`` or ``"dask"``) for *context*."""
    if kind == "local":
        return LocalExecutor(context, workers)
    if kind == "dask":
        return DaskExecutor(context, workers, scheduler)
    raise ValueError(f"unknown engine {kind!r}; use 'local' or 'dask'")
