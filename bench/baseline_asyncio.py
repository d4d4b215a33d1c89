"""The floor wfrun is measured against: a bare asyncio loop spawning the same commands.

Same shapes as bench/gen.py: `independent N` runs N `bash -c 'echo hi'` with at
most J at once; `chain N` runs them one after another.

With a fourth argument DIR, each job also keeps the files wfrun keeps for a step:
a folder for its logs and one for its ``$OUTPUTS`` records (``DIR/logs/jN``,
``DIR/outputs/jN``) and its output in a log file created there. Creating a file or
folder costs 0.4–0.7 ms on some disks (ext4 on the CI machines), so this floor shows
what wfrun adds beyond keeping a durable record.
"""

from __future__ import annotations

import asyncio
import os
import sys


async def one(record: str | None, index: int) -> None:
    if record is None:
        stdout = asyncio.subprocess.PIPE
    else:
        os.mkdir(f"{record}/outputs/j{index}")
        os.mkdir(f"{record}/logs/j{index}")
        stdout = os.open(f"{record}/logs/j{index}/01-step.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    proc = await asyncio.create_subprocess_exec("bash", "-c", "echo hi", stdout=stdout,
                                                stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    if record is None:
        await proc.communicate()
    else:
        os.close(stdout)
        await proc.wait()


async def main(shape: str, n: int, jobs: int, record: str | None) -> None:
    if record is not None:
        for part in ("logs", "outputs"):
            os.makedirs(f"{record}/{part}", exist_ok=True)
    if shape == "chain":
        for i in range(n):
            await one(record, i)
        return
    sem = asyncio.Semaphore(jobs)

    async def gated(i: int) -> None:
        async with sem:
            await one(record, i)

    await asyncio.gather(*(gated(i) for i in range(n)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 2,
                     sys.argv[4] if len(sys.argv) > 4 else None))
