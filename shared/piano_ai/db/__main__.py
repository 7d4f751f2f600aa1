"""`python -m piano_ai.db upgrade|downgrade|current [revision]`: manage the job-store schema."""

import argparse
import logging

from alembic import command

from piano_ai.db.migrate import alembic_config, downgrade, upgrade


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m piano_ai.db", description=__doc__)
    parser.add_argument("action", choices=["upgrade", "downgrade", "current"])
    parser.add_argument("revision", nargs="?", help="target revision (upgrade: head, downgrade: base)")
    parser.add_argument("--url", help="database URL (default: DATABASE_URL from settings)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.action == "upgrade":
        upgrade(args.url, args.revision or "head")
    elif args.action == "downgrade":
        downgrade(args.url, args.revision or "base")
    else:
        command.current(alembic_config(args.url), verbose=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
