#!/usr/bin/python3
# bench/milter_noop.py — a no-op milter for the relay_milter scenario: speaks
# the milter protocol (v6) on 127.0.0.1:PORT, asks for every event and
# answers each with SMFIR_CONTINUE (asyncio, one task per MTA connection).
import asyncio
import struct
import sys

CONTINUE = struct.pack(">I", 1) + b"c"
NO_REPLY = {b"D", b"A"}  # SMFIC_MACRO, SMFIC_ABORT


async def serve(reader, writer):
    try:
        while True:
            (length,) = struct.unpack(">I", await reader.readexactly(4))
            body = await reader.readexactly(length)
            code = body[:1]
            if code == b"O":  # version 6, no actions, every event and reply wanted
                writer.write(struct.pack(">I", 13) + b"O" + struct.pack(">III", 6, 0, 0))
            elif code == b"Q":
                break
            elif code not in NO_REPLY:
                writer.write(CONTINUE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=512)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
