"""The reminder job, run every ten updates (every ten minutes in the real bot)."""
import redis.asyncio

import config


async def run_reminders():
    # Anti-pattern 3: a new connection pool per run. Closed each time, so nothing leaks, but
    # every run pays a connect (DNS, handshake, auth in production) and the connections churn.
    r = redis.asyncio.Redis(host=config.REDIS_HOST, port=config.REDIS_PORT)
    try:
        due = await r.lrange("reminders", 0, -1)  # FINDING pool-per-operation peer=redis
        await r.delete("reminders")
        return len(due)
    finally:
        await r.close()
