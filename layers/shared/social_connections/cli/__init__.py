"""`clerk-connections`: the operator's console command, against a deployed stack or `make dev`.

Each subcommand is a module of this package with `add_to(subcommands)`; it parses its own options and returns an exit
code: 0 done, 1 a run that failed or found nothing, 2 bad configuration or credentials (the message names the setting).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from social_connections.cli import connections, health, reconcile, report, table

Command = Callable[[argparse.Namespace], int]
SUBCOMMANDS = (connections, table, report, reconcile, health)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="clerk-connections", description=__doc__.splitlines()[0] if __doc__ else "")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_to(subcommands)
    args = parser.parse_args(argv)
    run: Command = args.run
    return run(args)
