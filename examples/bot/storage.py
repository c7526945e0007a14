"""Counters and per-user state in Redis."""
import redis.asyncio

import config

_redis = None


def redis_client():
    # Anti-pattern 1: a global client created on first use and never closed at shutdown.
    global _redis
    if _redis is None:
        _redis = redis.asyncio.Redis(host=config.REDIS_HOST, port=config.REDIS_PORT)
    return _redis


async def count_update(user_id):
    return await redis_client().incr("updates:%d" % user_id)  # LEAK fn=count_update  FINDING never-closed peer=redis


async def last_seen(user_id, update_id):
    await redis_client().set("seen:%d" % user_id, update_id)
