"""/profile: user profiles, each fetched with that user's own authenticated client."""
import httpx

import config

_clients = {}


def client_for(user_id):
    # Anti-pattern 4: a per-user client cache that is never evicted or closed; it grows with
    # every new user until the process runs out of descriptors.
    if user_id not in _clients:
        _clients[user_id] = httpx.AsyncClient(base_url=config.API_URL,
                                              headers={"X-User": str(user_id)})
    return _clients[user_id]


async def load_profile(user_id):
    r = await client_for(user_id).get("/users/%d" % user_id)  # LEAK x20 fn=load_profile origin  FINDING growing
    return r.json()
