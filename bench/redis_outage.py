"""Kill Redis under a steady sender and measure loss and resume time, for each Redis backplane.

    .venv/bin/python -m bench.redis_outage --outage 5 --outage 30
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from tests.support.clients import Clients
from tests.support.redis import RedisServer
from tests.support.server import BASE_CONFIG, ServerProcess, merge

INTERVAL = 0.1


async def scenario(kind: str, outage: float, workdir: Path) -> dict:
    redis = RedisServer().start()
    config = merge(BASE_CONFIG, {"backplane": {"kind": kind, kind: {"url": redis.url}}})
    servers = [ServerProcess(config, workdir, name=f"{kind}-{i}").start() for i in range(2)]
    clients = Clients()
    try:
        await asyncio.sleep(1.0)  # both subscribed
        sender = await clients.python(servers[0].url)
        remote = await clients.python(servers[1].url)
        loop = asyncio.get_running_loop()
        sent: list[int] = []
        first_after_restart: list[float] = []
        restarted_at = None

        def on_receive(event, *args):
            remote.inbox.add(event, args)
            if restarted_at is not None and not first_after_restart:
                first_after_restart.append(loop.time() - restarted_at)

        remote.sio.handlers["/"]["*"] = on_receive
        total = int((outage + 8) / INTERVAL)

        async def send():
            for n in range(total):
                await sender.emit("broadcast", n)
                sent.append(n)
                await asyncio.sleep(INTERVAL)

        task = asyncio.create_task(send())
        await asyncio.sleep(1.5)
        redis.stop()
        await asyncio.sleep(outage)
        redis.start()
        restarted_at = loop.time()
        await task
        await asyncio.sleep(3.0)
        got = [a[0] for a in remote.inbox.all("receiveAll")]
        return {"kind": kind, "outage_s": outage, "sent": len(sent), "received": len(got),
                "lost": len(set(sent) - set(got)), "duplicates": len(got) - len(set(got)),
                "in_order": got == sorted(got),
                "resume_s": round(first_after_restart[0], 2) if first_after_restart else None}
    finally:
        await clients.close_all()
        for s in servers:
            s.stop()
        redis.stop()


async def main(outages: list[float], kinds: list[str]) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for outage in outages:
            for kind in kinds:
                rows.append(await scenario(kind, outage, Path(tmp)))
                print(rows[-1], flush=True)
    print("\n| backplane | outage | sent | received | lost | duplicates | in order | resumed after restart |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['kind']} | {r['outage_s']:.0f} s | {r['sent']} | {r['received']} | {r['lost']} | "
              f"{r['duplicates']} | {r['in_order']} | {r['resume_s']} s |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, action="append", help="seconds Redis stays down")
    parser.add_argument("--kind", action="append", help="backplane kinds (default: redis, redis_pubsub)")
    ns = parser.parse_args()
    asyncio.run(main(ns.outage or [5.0, 30.0], ns.kind or ["redis", "redis_pubsub"]))
