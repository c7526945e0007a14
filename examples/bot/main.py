"""A small asyncio chat bot in the image of the one behind fdleak: it polls a Bot API for
updates, answers commands with Redis and HTTP services, and runs a periodic job. Its resource
mistakes are deliberate, one per module (see the "Anti-pattern" comments); lines marked LEAK are
where fdleak must point (tests/check_python.py reads the marks).

    main.py --api URL --redis-port PORT [--updates N]

Processes N updates (all the API has), then shuts down: the shared API client is closed
properly, everything else is left as the anti-patterns leave it."""
import argparse
import asyncio

import httpx

import config
import storage
import users
from handlers.poll import handle_poll
from handlers.weather import handle_weather
from jobs.reminders import run_reminders

REMINDER_EVERY = 10  # updates between two runs of the reminder job


class Api:
    """The one shared client for the Bot API itself: the right way, closed at shutdown."""

    def __init__(self, url):
        self.http = httpx.AsyncClient(base_url=url + "/bot")

    async def updates(self, offset):
        r = await self.http.get("/getUpdates", params={"offset": offset, "limit": 20})
        return r.json()["result"]

    async def send(self, user_id, text):
        await self.http.post("/sendMessage", json={"chat_id": user_id, "text": text})

    async def close(self):
        await self.http.aclose()


async def handle(update):
    await storage.count_update(update["user_id"])
    command = update["text"]
    if command == "/poll":
        return await handle_poll(update)
    if command == "/weather":
        return await handle_weather(update)
    if command == "/profile":
        profile = await users.load_profile(update["user_id"])
        return "you are %s" % profile["name"]
    return "hello!"


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--updates", type=int, default=300)
    a = ap.parse_args()
    config.API_URL, config.REDIS_PORT = a.api, a.redis_port
    api = Api(a.api)
    offset = handled = reminders = 0
    try:
        while handled < a.updates:
            batch = await api.updates(offset)
            if not batch:
                break
            for update in batch:
                await api.send(update["user_id"], await handle(update))
                await storage.last_seen(update["user_id"], update["update_id"])
                handled += 1
                if handled % REMINDER_EVERY == 0:
                    reminders += 1
                    await run_reminders()
            offset = batch[-1]["update_id"] + 1
    finally:
        await api.close()
    print("bot: handled %d updates, ran the reminder job %d times" % (handled, reminders))


if __name__ == "__main__":
    asyncio.run(main())
