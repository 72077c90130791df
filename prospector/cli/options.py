"""Options, consoles and printing shared by every ``prospector`` command.

Choices come from the library's own definitions (the config's ``Literal`` types, the
ranking engines), so the CLI can never offer a value the library refuses.  Command
modules import this module only; nothing here imports a command.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, get_args, get_type_hints

import click
from rich.console import Console

from prospector.cli._console import err, out, print_warnings
from prospector.config import ScoreConfig

__all__ = [
    "command_line",
    "commodity_option",
    "config_option",
    "engine_options",
    "err",
    "group_option",
    "input_file_option",
    "method_option",
    "out",
    "overwrite_option",
    "print_warnings",
    "progress",
    "ranked_argument",
    "recorded_warnings",
    "region_option",
    "seed_option",
    "status_option",
]

F = TypeVar("F", bound=Callable[..., Any])


def _choices(cls: type, name: str) -> list[str]:
    return [str(c) for c in get_args(get_type_hints(cls)[name])]


def _score_option(name: str, help: str) -> Callable[[F], F]:
    """``--NAME`` with the choices of ``score.NAME`` (default: the configuration's)."""
    return click.option(
        f"--{name}", type=click.Choice(_choices(ScoreConfig, name)), default=None, help=help
    )


#: An input file of a command: it must exist and not be a folder.
INPUT_FILE = click.Path(exists=True, dir_okay=False)

#: The ranked GeoPackage or GeoParquet a command reads.
ranked_argument = click.argument("ranked", type=INPUT_FILE)


def input_file_option(*names: str, help: str) -> Callable[[F], F]:
    """Return an option for an optional input file (``--plss PATH``): existing, not a folder."""
    return click.option(*names, type=INPUT_FILE, default=None, help=help)


region_option = click.option(
    "--region",
    "-r",
    required=True,
    metavar="REGION",
    help="Region name in layers/regions/ (e.g. utah-sample) or path of a region .toml file.",
)
config_option = click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML configuration file (weights, radii, methods; default: the built-in defaults).",
)
overwrite_option = click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
seed_option = click.option(
    "--seed", type=int, default=None, help="Random seed (default: the configuration's `seed`)."
)
commodity_option = click.option(
    "--commodity",
    "focus_commodities",
    default=None,
    metavar="NAMES",
    help="Commodity focus, comma-separated (tungsten; lithium,boron): value, validation "
    "targets and sentences follow it (config value.focus_commodities).",
)
group_option = click.option(
    "--group",
    "focus_groups",
    default=None,
    metavar="GROUPS",
    help="Commodity focus by group, comma-separated (battery, ree, pgm, specialty...; "
    "config value.focus_groups).",
)
status_option = _score_option(
    "status",
    "Rank all parcels, only open/partly open ones, or all but closed ones "
    "(default from config: not_closed).",
)
method_option = _score_option("method", "Scoring method (default from config: wlc).")


def engine_options(func: F) -> F:
    """Add ``--engine``, ``--workers``, ``--tile-km`` and ``--scheduler``."""
    from prospector.ranking import ENGINES

    for option in reversed(
        [
            click.option(
                "--engine",
                type=click.Choice(list(ENGINES)),
                default="auto",
                show_default=True,
                help="auto: memory unless the run would not fit, then stream; memory: one "
                "pass; local: spatial tiles on worker processes; dask: tiles on "
                "dask.distributed; stream: bounded memory through GeoParquet.",
            ),
            click.option(
                "--workers", type=click.IntRange(1), default=None, help="Worker processes."
            ),
            click.option(
                "--tile-km",
                type=click.FloatRange(min=1.0),
                default=150.0,
                show_default=True,
                help="Tile size (local/dask/stream).",
            ),
            click.option(
                "--scheduler",
                default=None,
                metavar="ADDRESS",
                help="dask scheduler address, e.g. tcp://10.0.0.5:8786 (dask only).",
            ),
        ]
    ):
        func = option(func)
    return func


class recorded_warnings:
    """Record warnings inside the block; print them (once each) when it ends."""

    def __enter__(self) -> list[warnings.WarningMessage]:
        self._catch = warnings.catch_warnings(record=True)
        self.caught = self._catch.__enter__()
        assert self.caught is not None
        warnings.simplefilter("always")
        return self.caught

    def __exit__(self, *exc: object) -> None:
        self._catch.__exit__(*exc)  # type: ignore[arg-type]
        print_warnings(self.caught)


def command_line() -> str:
    """Return the invoked command with its effective options, for the manifest."""
    ctx = click.get_current_context()
    parts = [ctx.command_path]
    for name, value in sorted(ctx.params.items()):
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-").removesuffix("-path")
        parts.append(flag if value is True else f"{flag} {value}")
    return " ".join(parts)


class _StatusHandler(logging.Handler):
    """Shows each progress message of the library on a rich status line."""

    def __init__(self, status: Any) -> None:
        super().__init__(logging.INFO)
        self.status = status
        self.started = time.perf_counter()

    def emit(self, record: logging.LogRecord) -> None:
        elapsed = time.perf_counter() - self.started
        self.status.update(f"{record.getMessage()} [dim]({elapsed:.0f} s)[/]")


@contextlib.contextmanager
def progress(console: Console = err) -> Iterator[None]:
    """Show the library's progress (logger ``prospector``, INFO) on a terminal.

    A spinner line names the running step (reading layers, measuring N parcels, writing
    the map...) with the time so far; nothing is printed when stderr is not a terminal.
    """
    if not console.is_terminal:
        yield
        return
    logger = logging.getLogger("prospector")
    level = logger.level
    with console.status("starting…", spinner="dots") as status:
        handler = _StatusHandler(status)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            yield
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
