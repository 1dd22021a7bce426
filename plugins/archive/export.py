"""Export one room's archive as JSON lines, oldest first.

    .venv/bin/python -m plugins.archive.export ROOM_ID [--dsn DSN] [--output FILE]
    .venv/bin/python -m plugins.archive.export --chat        # the everybody-chat

DSN defaults to DATABASE_URL. Each line: {"id", "at" (epoch ms), "kind" (message, event, entered,
left), "event", "nickName", "data"}. Exits 1 with one line on stderr when the database is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from . import db, queries


async def export(dsn: str, room: str, out) -> int:
    """Write every event of room to out; returns how many."""
    conn = await db.connect(dsn, connect_timeout=5, command_timeout=600)
    count = 0
    try:
        async for item in queries.export(conn, room):
            out.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    finally:
        await conn.close()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugins.archive.export", description=__doc__.split("\n")[0])
    parser.add_argument("room", nargs="?", help="the room id")
    parser.add_argument("--chat", action="store_true", help="export the everybody-chat instead of a room")
    parser.add_argument("--dsn", default=os.environ.get("DATABASE_URL", ""), help="default: DATABASE_URL")
    parser.add_argument("--output", "-o", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    if bool(args.room) == args.chat:
        parser.error("give a room id or --chat")
    if not args.dsn:
        parser.error("no DSN: pass --dsn or set DATABASE_URL")
    room = queries.EVERYBODY if args.chat else args.room
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        count = asyncio.run(export(args.dsn, room, out))
    except db.ERRORS as exc:
        print(f"export failed: {db.safe_dsn(args.dsn)}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"exported {count} event(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
