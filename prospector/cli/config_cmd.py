"""``prospector config``: show the effective configuration or the reference of every key."""

from __future__ import annotations

import click

from prospector.cli.options import config_option


@click.group("config")
def config() -> None:
    """Show the configuration a run would use."""


@config.command("show")
@config_option
@click.option(
    "--markdown",
    is_flag=True,
    help="Print the reference of every key (docs/config.md) instead of the effective values.",
)
def show(config_path: str | None, markdown: bool) -> None:
    """Print the effective configuration as TOML (defaults merged with --config)."""
    from prospector.config import config_reference, config_to_toml, load_config

    if markdown:
        if config_path:
            raise click.UsageError("--markdown documents the defaults; leave out --config.")
        click.echo(config_reference(), nl=False)
        return
    loaded = load_config(config_path)
    source = f"defaults merged with {config_path}" if config_path else "the defaults"
    click.echo(
        config_to_toml(loaded, header=f"Effective Prospector configuration: {source}."), nl=False
    )
