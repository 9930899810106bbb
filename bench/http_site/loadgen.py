"""Load generators of bench/http_intake.py that wrk cannot be: each runs in its own process and prints one JSON line.

    loadgen.py openloop --port P --key K --members FILE --kind orders|members|rewards|page --path PATH --rate R \
        --seconds S --tag T
    loadgen.py batch    --port P --key K --members FILE --path PATH --clients N --size 500 --seconds S --tag T

openloop: requests at a fixed rate whatever the server does (request i is due at start + i / rate), each
latency measured from the time it was due, not from when it could be sent: a stalled server shows as
latency of every request that should have gone meanwhile (no coordinated omission, as wrk2 would).
Kinds are those of wrk.lua: orders (POST PATH), members (GET PATH/id), rewards (GET PATH?member_id=id), page
(GET PATH signed in: the members file's first column is a session key, sent as the sessionid cookie).
batch: N clients, each posting batches of --size orders one after another until --seconds have passed;
in-flight batches are awaited and counted. The bodies are built before the clock starts (as many as 5,000
orders/s would need) and answers are read with orjson: the generator shares the server's cores, and building
and parsing 500 orders in Python took about 5% of the CPU that the server had for them (pgbench and wrk are C).

One new connection per request with "Connection: close", as gunicorn's sync workers close it anyway.
No Django here: the standard library and orjson, so it starts fast and costs little CPU.
"""

import argparse
import asyncio
import datetime as dt
import json
import random
import sys
import time

import orjson

IN_FLIGHT_MAX = 256  # open-loop: more than this waiting means the server is far past saturation


def members_load(path: str) -> list[tuple[str, str]]:
    with open(path) as f:
        return [tuple(line.split()) for line in f if line.strip()]


def order_body(*, external_id: str, customer: str) -> dict:
    """A 3-line order for `customer`: 2 books (multiplier), a bottle of wine (fixed points), a gift card
    (excluded). The same shape as wrk.lua's order_body()."""
    books, wine = random.randint(10, 40), random.randint(8, 30)
    subtotal = 2 * books + wine + 25
    tax = subtotal * 19 // 100
    return {
        "external_id": external_id,
        "member_external_id": customer,
        "currency": "EUR",
        "total": f"{subtotal + tax + 4}.95",
        "subtotal": f"{subtotal}.00",
        "tax": f"{tax}.00",
        "shipping": "4.95",
        "discount": "0",
        "placed_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lines": [
            {
                "sku": f"BOOK-{books}",
                "name": "A book",
                "category": "books",
                "quantity": "2",
                "unit_price": f"{books}.00",
                "total": f"{2 * books}.00",
            },
            {
                "sku": "WINE-RED-75",
                "name": "Red wine",
                "category": "wine",
                "quantity": "1",
                "unit_price": f"{wine}.00",
                "total": f"{wine}.00",
            },
            {
                "sku": "GIFT-25",
                "name": "Gift card",
                "category": "gift card",
                "quantity": "1",
                "unit_price": "25.00",
                "total": "25.00",
            },
        ],
    }


def http_request(method: str, path: str, *, port: int, key: str, body: bytes = b"", session: str = "") -> bytes:
    """With `session`: a signed-in member's request (the session cookie instead of the API key)."""
    auth = f"Cookie: sessionid={session}" if session else f"X-Api-Key: {key}"
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\n"
        "X-Forwarded-Proto: https\r\nConnection: close\r\n"
    )
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


async def http_send(port: int, request: bytes) -> tuple[int, bytes]:
    """Send one request on a new connection; returns (status, body). The server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        response = await reader.read()
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head[9:12]), body


async def openloop(args) -> dict:
    members = members_load(args.members)
    total = int(args.rate * args.seconds)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    first_error = ""
    limit = asyncio.Semaphore(IN_FLIGHT_MAX)
    send_lag_max = 0.0

    async def one(i: int, due: float) -> None:
        nonlocal first_error
        customer, member_id = random.choice(members)
        if args.kind == "orders":
            body = json.dumps(order_body(external_id=f"{args.tag}-{i}", customer=customer)).encode()
            request = http_request("POST", args.path, port=args.port, key=args.key, body=body)
        elif args.kind == "rewards":
            request = http_request("GET", f"{args.path}?member_id={member_id}", port=args.port, key=args.key)
        elif args.kind == "page":
            request = http_request("GET", args.path, port=args.port, key=args.key, session=customer)
        else:
            request = http_request("GET", f"{args.path}/{member_id}", port=args.port, key=args.key)
        async with limit:
            try:
                status, body = await http_send(args.port, request)
            except OSError as exc:
                status, body = 0, str(exc).encode()
        latencies.append(time.perf_counter() - due)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if not 200 <= status < 300 and not first_error:
            first_error = f"{status} {body[:300].decode(errors='replace')}"

    tasks = []
    start = time.perf_counter()
    for i in range(total):
        due = start + i / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        send_lag_max = max(send_lag_max, time.perf_counter() - due)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    return {
        "sent": total,
        "seconds": time.perf_counter() - start,
        "statuses": statuses,
        "latencies": latencies,
        "send_lag_max": send_lag_max,
        "first_error": first_error,
    }


BATCH_RATE_MAX = 5000  # orders/s: bodies built in advance for this rate (more are built on the way)


async def batch(args) -> dict:
    members = members_load(args.members)
    counts = {"requests": 0, "created": 0, "replayed": 0, "failed": 0, "errors": 0}
    request_seconds: list[float] = []
    first_error = ""

    def body(c: int, n: int) -> bytes:
        orders = [
            order_body(external_id=f"{args.tag}-{c}-{n}-{i}", customer=random.choice(members)[0])
            for i in range(args.size)
        ]
        return orjson.dumps({"orders": orders})

    per_client = int(args.seconds * BATCH_RATE_MAX / args.size / args.clients) + 2
    bodies = [[body(c, n) for n in range(per_client)] for c in range(args.clients)]
    deadline = time.perf_counter() + args.seconds

    async def client(c: int) -> None:
        nonlocal first_error
        n = 0
        while time.perf_counter() < deadline:
            request = bodies[c][n] if n < per_client else body(c, n)
            n += 1
            began = time.perf_counter()
            try:
                status, answer = await http_send(
                    args.port, http_request("POST", args.path, port=args.port, key=args.key, body=request)
                )
            except OSError as exc:
                status, answer = 0, str(exc).encode()
            request_seconds.append(time.perf_counter() - began)
            counts["requests"] += 1
            if status != 200:
                counts["errors"] += 1
                first_error = first_error or f"{status} {answer[:300].decode(errors='replace')}"
                continue
            result = orjson.loads(answer)
            for name in ("created", "replayed", "failed"):
                counts[name] += int(result.get(name, 0))

    start = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(args.clients)))
    return {
        **counts,
        "seconds": time.perf_counter() - start,
        "request_seconds": request_seconds,
        "first_error": first_error,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["openloop", "batch"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--members", required=True, help='file of "customer_id member_uuid" lines')
    parser.add_argument("--path", required=True)
    parser.add_argument("--tag", required=True, help="prefix of the orders' external ids (unique per run)")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--kind", choices=["orders", "members", "rewards", "page"], default="orders")
    parser.add_argument("--rate", type=float, default=10.0, help="openloop: requests per second")
    parser.add_argument("--clients", type=int, default=1, help="batch: concurrent clients")
    parser.add_argument("--size", type=int, default=500, help="batch: orders per request")
    args = parser.parse_args()
    result = asyncio.run(openloop(args) if args.mode == "openloop" else batch(args))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
