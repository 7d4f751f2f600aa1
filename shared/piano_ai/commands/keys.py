"""`piano-ai keys create NAME [--admin] | list | revoke NAME`: the API keys of the job service.

Keys live in the job store (DATABASE_URL), hashed: `create` prints the key once, nobody can show it again.
Clients send it as `Authorization: Bearer <key>`; a key sees only its own jobs, an admin key sees all.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from piano_ai.db.models import ApiKey

HELP = "make, list and revoke the job service's API keys (in DATABASE_URL's job store)"
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("keys", help=HELP, description=__doc__)
    actions = parser.add_subparsers(title="actions", dest="keys_action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="make a key and print it (once)")
    create.add_argument("name", help="who or what uses it, e.g. dashboard, ci, alice (unique)")
    create.add_argument("--admin", action="store_true", help="may see and manage every key's jobs")
    actions.add_parser("list", help="name, prefix, scope, created, last used, revoked")
    revoke = actions.add_parser("revoke", help="stop a key working at once (its jobs stay)")
    revoke.add_argument("name", help="the key's name or its prefix (as `keys list` shows)")


def run(args: argparse.Namespace) -> int:
    from piano_ai.db import keys
    from piano_ai.db.migrate import upgrade
    from piano_ai.db.session import session_scope

    upgrade()  # a fresh machine may make its first key before it ever started the service
    with session_scope() as session:
        if args.keys_action == "create":
            try:
                row, key = keys.create_key(session, args.name, admin=args.admin)
            except keys.KeyNameTakenError as exc:
                print(f"piano-ai keys: {exc}", file=sys.stderr)
                return EXIT_USAGE
            scope = "admin" if row.admin else "own jobs"
            print(f"created key {row.name!r} ({scope}); it is shown only now:", file=sys.stderr)
            print(key)
            return 0
        if args.keys_action == "list":
            print(format_table(keys.list_keys(session)))
            return 0
        if not keys.revoke(session, args.name):
            print(f"piano-ai keys: no live key named {args.name!r}", file=sys.stderr)
            return EXIT_NOT_FOUND
        print(f"revoked {args.name!r}", file=sys.stderr)
        return 0


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


def format_table(rows: list[ApiKey]) -> str:
    """The keys as an aligned text table (never the keys themselves: only their prefixes)."""

    table = [("NAME", "PREFIX", "SCOPE", "CREATED", "LAST USED", "REVOKED")]
    for row in rows:
        scope = "admin" if row.admin else "own"
        table.append(
            (
                row.name,
                f"pai_{row.prefix}",
                scope,
                _when(row.created_at),
                _when(row.last_used_at),
                _when(row.revoked_at),
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in table
    )
