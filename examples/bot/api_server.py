"""The outside world of the demo bot: a fake Telegram Bot API plus the services its handlers
call, in one aiohttp application on 127.0.0.1 (HTTP/1.1 keep-alive, as real APIs are).

    api_server.py [--updates N] [--users U]

Prints its port on stdout, then serves until killed. getUpdates hands out N updates from U
users who join one by one over the run (as a bot gains users); each new user starts with
/profile, then cycles through the bot's commands, so every user reaches every handler."""
import argparse
import asyncio
import random

from aiohttp import web

COMMANDS = ["/start", "/poll", "/weather", "/profile"]


def schedule(updates, users):
    """[(user_id, command)] for each update id."""
    out, count = [], {}
    for i in range(updates):
        active = min(users, 1 + i * users // updates)
        u = active if active not in count else i % active + 1  # a newcomer speaks at once
        out.append((u, COMMANDS[(3 + count.get(u, 0)) % len(COMMANDS)]))
        count[u] = count.get(u, 0) + 1
    return out


def make_app(updates, users):
    sent = []
    plan = schedule(updates, users)

    async def get_updates(request):
        offset = int(request.query.get("offset", "0"))
        limit = int(request.query.get("limit", "20"))
        batch = [{"update_id": i, "user_id": plan[i][0], "text": plan[i][1]}
                 for i in range(offset, min(offset + limit, updates))]
        return web.json_response({"ok": True, "result": batch})

    async def send_message(request):
        sent.append(await request.json())
        return web.json_response({"ok": True})

    async def weather(request):
        return web.json_response({"city": request.query.get("city", "?"),
                                  "temp": round(random.uniform(-5, 25), 1)})

    async def new_poll(request):
        body = await request.json()
        return web.json_response({"id": len(sent), "question": body.get("question")})

    async def user(request):
        uid = int(request.match_info["uid"])
        return web.json_response({"id": uid, "name": "user%d" % uid, "city": "Oslo"})

    app = web.Application()
    app.router.add_get("/bot/getUpdates", get_updates)
    app.router.add_post("/bot/sendMessage", send_message)
    app.router.add_get("/weather", weather)
    app.router.add_post("/polls", new_poll)
    app.router.add_get("/users/{uid}", user)
    return app


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--updates", type=int, default=300)
    ap.add_argument("--users", type=int, default=20)
    a = ap.parse_args()
    runner = web.AppRunner(make_app(a.updates, a.users), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
