"""The floor wfrun is measured against: a bare asyncio loop spawning the same commands.

Same shapes as bench/gen.py: `independent N` runs N `bash -c 'echo hi'` with at
most J at once; `chain N` runs them one after another.
"""

from __future__ import annotations

import asyncio
import sys


async def one() -> None:
    proc = await asyncio.create_subprocess_exec("bash", "-c", "echo hi", stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    await proc.communicate()


async def main(shape: str, n: int, jobs: int) -> None:
    if shape == "chain":
        for _ in range(n):
            await one()
        return
    sem = asyncio.Semaphore(jobs)

    async def gated() -> None:
        async with sem:
            await one()

    await asyncio.gather(*(gated() for _ in range(n)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 2))
