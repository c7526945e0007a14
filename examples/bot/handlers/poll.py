"""/poll: creates a poll through the polls service."""
import httpx

import config

_client = None


def client():
    # Anti-pattern 2 (with handlers/weather.py): a module builds its own HTTP client to the same
    # service instead of sharing one, and never closes it.
    global _client
    if _client is None:
        _client = httpx.AsyncClient(base_url=config.API_URL)
    return _client


async def handle_poll(update):
    r = await client().post("/polls", json={"question": "Lunch?", "by": update["user_id"]})  # LEAK fn=handle_poll origin  FINDING duplicate-clients peer=api
    return "poll %d created" % r.json()["id"]
