"""What the sample's clean async tests do on whichever plugin's loop runs them: a server, a
connection to it, both closed."""
import asyncio


async def open_and_close_a_connection():
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    _, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
