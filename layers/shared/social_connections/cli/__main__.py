"""`python -m social_connections.cli`, the same as the `clerk-connections` command."""

from social_connections.cli import main

raise SystemExit(main())
