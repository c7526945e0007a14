"""The demo bot done right: the same updates, commands, services and reminder job as main.py,
with one Redis client and one HTTP client for the whole process (per-user headers go on the
request, not on a client of their own), both closed at shutdown. fdleak must find nothing here:
no leak and no finding (tests/check_findings.py).

    clean_bot.py --api URL --redis-port PORT [--updates N]"""
import argparse
import asyncio

import httpx
import redis.asyncio

REMINDER_EVERY = 10  # as main.py


class Bot:
    def __init__(self, api, redis_port):
        # One client per service, made once and shared by every handler and the job.
        self.http = httpx.AsyncClient(base_url=api)
        self.redis = redis.asyncio.Redis(host="127.0.0.1", port=redis_port)

    async def close(self):
        await self.http.aclose()
        await self.redis.close()

    async def updates(self, offset):
        r = await self.http.get("/bot/getUpdates", params={"offset": offset, "limit": 20})
        return r.json()["result"]

    async def send(self, user_id, text):
        await self.http.post("/bot/sendMessage", json={"chat_id": user_id, "text": text})

    async def handle(self, update):
        await self.redis.incr("updates:%d" % update["user_id"])
        command = update["text"]
        if command == "/poll":
            r = await self.http.post("/polls", json={"question": "Lunch?", "by": update["user_id"]})
            return "poll %d created" % r.json()["id"]
        if command == "/weather":
            r = await self.http.get("/weather", params={"city": "Oslo"})
            return "%.1f °C in Oslo" % r.json()["temp"]
        if command == "/profile":
            uid = update["user_id"]
            r = await self.http.get("/users/%d" % uid, headers={"X-User": str(uid)})
            return "you are %s" % r.json()["name"]
        return "hello!"

    async def run_reminders(self):
        due = await self.redis.lrange("reminders", 0, -1)
        await self.redis.delete("reminders")
        return len(due)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--updates", type=int, default=600)
    a = ap.parse_args()
    bot = Bot(a.api, a.redis_port)
    offset = handled = reminders = 0
    try:
        while handled < a.updates:
            batch = await bot.updates(offset)
            if not batch:
                break
            for update in batch:
                await bot.send(update["user_id"], await bot.handle(update))
                await bot.redis.set("seen:%d" % update["user_id"], update["update_id"])
                handled += 1
                if handled % REMINDER_EVERY == 0:
                    reminders += 1
                    await bot.run_reminders()
            offset = batch[-1]["update_id"] + 1
    finally:
        await bot.close()
    print("bot: handled %d updates, ran the reminder job %d times" % (handled, reminders))


if __name__ == "__main__":
    asyncio.run(main())
