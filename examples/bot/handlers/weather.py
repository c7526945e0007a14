"""/weather: the forecast for the user's city."""
import httpx

import config

_client = None


def client():
    # Anti-pattern 2 (with handlers/poll.py): a second client of its own to the same service.
    global _client
    if _client is None:
        _client = httpx.AsyncClient(base_url=config.API_URL)
    return _client


async def handle_weather(update):
    r = await client().get("/weather", params={"city": "Oslo"})  # LEAK fn=handle_weather origin  FINDING duplicate-clients peer=api
    return "%.1f °C in Oslo" % r.json()["temp"]
