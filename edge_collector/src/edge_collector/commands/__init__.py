"""Subcommands of ``edge-collector`` (see ``edge_collector.cli.COMMAND_MODULES``)."""
