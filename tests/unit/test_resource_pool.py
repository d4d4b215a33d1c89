"""The local resource pool: GPUs handed out by id, backfill, and no starvation (issue 13)."""

from __future__ import annotations

import asyncio

import pytest

from tests.engine_harness import Fake, run_workflow
from workflow_runner.engine import gpus
from workflow_runner.engine.resources import Request, ResourcePool
from workflow_runner.errors import WorkflowError


def pool(cpus: float, gpu_ids: tuple[str, ...] = (), memory: float = 1000.0, vendor: str = gpus.CUDA) -> ResourcePool:
    return ResourcePool(Request(cpus, memory, len(gpu_ids)), gpus.Gpus(gpu_ids, vendor, True))


async def started(p: ResourcePool, r: Request) -> asyncio.Task:
    task = asyncio.ensure_future(p.acquire(r))
    await asyncio.sleep(0)
    return task


# ------------------------------------------------------------------ GPUs by id

def test_two_one_gpu_jobs_hold_different_ids():
    async def main():
        p = pool(4, ("0", "1"))
        a = await p.acquire(Request(1, 0, 1))
        b = await p.acquire(Request(1, 0, 1))
        return a, b, p.device_env(a), p.device_env(b)

    a, b, env_a, env_b = asyncio.run(main())
    assert {a, b} == {("0",), ("1",)}
    assert {env_a["CUDA_VISIBLE_DEVICES"], env_b["CUDA_VISIBLE_DEVICES"]} == {"0", "1"}


def test_released_ids_go_back_and_a_job_without_gpus_sees_none():
    async def main():
        p = pool(4, ("2", "5", "7"))
        two = await p.acquire(Request(1, 0, 2))
        none = await p.acquire(Request(1, 0, 0))
        await p.release(Request(1, 0, 2), two)
        three = await p.acquire(Request(1, 0, 3))
        return two, none, three, p.device_env(none), p.device_env(three)

    two, none, three, env_none, env_three = asyncio.run(main())
    assert two == ("2", "5") and none == () and three == ("2", "5", "7")
    assert env_none == {"CUDA_VISIBLE_DEVICES": ""}
    assert env_three == {"CUDA_VISIBLE_DEVICES": "2,5,7"}


def test_rocm_sets_rocr_to_the_ids_and_hip_to_what_rocr_left():
    g = gpus.Gpus(("4", "6"), gpus.ROCM, True)
    assert gpus.visibility(g, ("6",)) == {"ROCR_VISIBLE_DEVICES": "6", "HIP_VISIBLE_DEVICES": "0", "CUDA_VISIBLE_DEVICES": "0"}
    assert gpus.visibility(g, ())["ROCR_VISIBLE_DEVICES"] == "-1"


def test_no_gpu_found_and_no_option_leaves_the_variables_alone():
    assert gpus.visibility(gpus.Gpus(), ()) == {}


def test_detect_reads_the_visible_devices_of_the_machine():
    assert gpus.detect({"CUDA_VISIBLE_DEVICES": "0,1"}) == gpus.Gpus(("0", "1"), gpus.CUDA, True)
    assert gpus.detect({"CUDA_VISIBLE_DEVICES": "GPU-aa,GPU-bb"}).ids == ("GPU-aa", "GPU-bb")
    assert gpus.detect({"ROCR_VISIBLE_DEVICES": "2,3"}) == gpus.Gpus(("2", "3"), gpus.ROCM, True)
    # ROCR is applied first, HIP indexes what it left
    assert gpus.detect({"ROCR_VISIBLE_DEVICES": "4,5,6", "HIP_VISIBLE_DEVICES": "2,0"}).ids == ("6", "4")


@pytest.mark.parametrize("text, ids", [
    ("2", ("0", "1")),  # a count
    ("0,1,3", ("0", "1", "3")),
    ("3,", ("3",)),  # one id
    ("GPU-8f2c", ("GPU-8f2c",)),
    ("0", ()),
])
def test_gpus_option_is_a_count_or_ids(text, ids):
    got = gpus.from_option(text, gpus.Gpus())
    assert got.ids == ids and got.managed


def test_gpus_count_takes_the_first_detected_ids():
    assert gpus.from_option("1", gpus.Gpus(("4", "5"), gpus.CUDA, True)).ids == ("4",)


@pytest.mark.parametrize("text, message", [
    ("0,0", "names a GPU twice"),
    ("0;rm -rf /,1", "is not a GPU id"),
    (",", "expected a number of GPUs"),
])
def test_bad_gpus_option_is_an_error(text, message):
    with pytest.raises(WorkflowError, match=message):
        gpus.from_option(text, gpus.Gpus())


# ------------------------------------------------------------------ order: backfill without starvation

def test_a_cpu_job_starts_while_a_gpu_job_waits_for_its_gpu():
    async def main():
        p = pool(4, ("0",))
        first = await p.acquire(Request(1, 0, 1))  # holds the GPU
        gpu_waiter = await started(p, Request(1, 0, 1))
        small = await started(p, Request(1, 0, 0))
        state = (gpu_waiter.done(), small.done())
        await p.release(Request(1, 0, 1), first)
        await asyncio.sleep(0)
        return state, gpu_waiter.done(), gpu_waiter.result()

    (gpu_started, small_started), later, ids = asyncio.run(main())
    assert small_started and not gpu_started
    assert later and ids == ("0",)


def test_nothing_overtakes_a_job_waiting_for_cpus():
    async def main():
        p = pool(2)
        a = Request(1)
        await p.acquire(a)
        big = await started(p, Request(2))
        small = await started(p, Request(1))
        return big.done(), small.done(), p

    big, small, _ = asyncio.run(main())
    assert not big and not small  # the 1-CPU job would fit, but it would delay the 2-CPU job


def test_a_gpu_job_is_not_starved_by_a_stream_of_cpu_jobs():
    """GPU frees while CPU jobs hold every CPU: from then on no CPU job starts ahead of the GPU job."""
    async def main():
        p = pool(2, ("0",))
        holder = Request(1, 0, 1)
        held = await p.acquire(holder)  # 1 CPU + the GPU
        gpu_job = await started(p, Request(1, 0, 1))
        cpu = Request(1)
        running = [await started(p, cpu)]  # backfills the free CPU
        assert running[0].done() and not gpu_job.done()
        await p.release(holder, held)  # the GPU is free, but the CPUs: one held by a backfill, one free
        await asyncio.sleep(0)
        assert gpu_job.done()  # it had been short of the GPU only; it starts at once
        order = []
        # Now the reverse: a GPU job short of CPUs too. A stream of CPU jobs must not pass it.
        p2 = pool(2, ("0",))
        g = await p2.acquire(Request(1, 0, 1))
        c1 = await p2.acquire(cpu)
        big_gpu = await started(p2, Request(2, 0, 1))  # short of the GPU and of CPUs
        stream = [await started(p2, cpu) for _ in range(5)]
        await p2.release(Request(1, 0, 1), g)
        await asyncio.sleep(0)
        order.append(("after gpu freed", big_gpu.done(), sum(t.done() for t in stream)))
        await p2.release(cpu, c1)
        await asyncio.sleep(0)
        order.append(("after cpu freed", big_gpu.done(), sum(t.done() for t in stream)))
        return order

    assert asyncio.run(main()) == [("after gpu freed", False, 0), ("after cpu freed", True, 0)]


def test_overtaking_is_bounded_even_when_shortages_alternate():
    """A waiter short of the GPU, then of memory: jobs taking the GPU cannot slip in while it waits for memory."""
    async def main():
        p = pool(8, ("0",), memory=1000)
        gpu_holder = await p.acquire(Request(1, 0, 1))
        head = await started(p, Request(1, 600, 1))  # short of the GPU
        mem_job = await started(p, Request(1, 600, 0))  # takes no GPU: backfills, takes the memory
        await p.release(Request(1, 0, 1), gpu_holder)  # GPU free; head now short of memory
        await asyncio.sleep(0)
        gpu_thief = await started(p, Request(1, 0, 1))  # takes no memory, but the GPU the head waited for
        state = (head.done(), mem_job.done(), gpu_thief.done())
        await p.release(Request(1, 600, 0), ())
        await asyncio.sleep(0)
        return state, head.done(), gpu_thief.done()

    state, head_started, thief_started = asyncio.run(main())
    assert state == (False, True, False)
    assert head_started and not thief_started


def test_canceled_waiters_are_dropped_and_unblock_the_others():
    async def main():
        p = pool(1)
        r = Request(1)
        await p.acquire(r)
        waiters = [await started(p, r) for _ in range(1000)]
        for t in waiters[:-1]:
            t.cancel()
        await asyncio.sleep(0)
        await p.release(r)
        await asyncio.sleep(0)
        return waiters[-1].done() and not waiters[-1].cancelled(), p.waiting, p.queues

    assert asyncio.run(main()) == (True, 0, {})


def test_backfill_in_a_run():
    """In process: a GPU job waits for the GPU another holds; a 1-CPU job declared after it runs meanwhile."""
    trace = run_workflow("""
jobs:
  holder:
    resources: {gpus: 1}
    steps: [{run: hold}]
  gpu:
    resources: {gpus: 1}
    steps: [{run: use-gpu}]
  small:
    steps: [{run: small}]
""", fakes={"hold": Fake(sleep=0.3)}, max_parallel=4, pool=pool(4, ("0",)))
    execs = trace.execs()
    assert execs.index("small") < execs.index("use-gpu")
    assert trace.outcome.exit_code == 0


def test_a_request_larger_than_the_machine_known_only_at_run_time_fails_instead_of_waiting():
    async def main():
        p = pool(2, ("0",))
        with pytest.raises(WorkflowError, match="asks for 1 CPU, 2 GPUs but this machine has 2 CPUs"):
            await p.acquire(Request(1, 0, 2))
        return await p.acquire(Request(1))  # nothing was queued behind it

    assert asyncio.run(main()) == ()


def test_jobs_of_one_kind_keep_their_order():
    async def main():
        p = pool(4, ("0",))
        held = await p.acquire(Request(1, 0, 1))
        first = await started(p, Request(1, 0, 1))
        second = await started(p, Request(1, 0, 1))
        await p.release(Request(1, 0, 1), held)
        await asyncio.sleep(0)
        return first.done(), second.done()

    assert asyncio.run(main()) == (True, False)


def test_random_arrivals_never_oversubscribe_share_ids_or_strand_a_waiter():
    """Randomized (fixed seed): mixed requests arrive and finish; invariants hold after every event and
    every job starts in the end."""
    import random

    rng = random.Random(1312)

    async def main():
        p = pool(4, ("0", "1", "2"), memory=1000)
        holding: dict[str, int] = {}
        started_jobs = 0

        async def job(r: Request) -> None:
            nonlocal started_jobs
            held = await p.acquire(r)
            started_jobs += 1
            u = p.used
            assert u.cpus <= 4 and u.memory_mb <= 1000 and u.gpus <= 3
            for gpu in held:
                assert gpu not in holding
                holding[gpu] = 1
            for _ in range(rng.randint(0, 3)):
                await asyncio.sleep(0)
            for gpu in held:
                del holding[gpu]
            await p.release(r, held)

        requests = [Request(rng.choice([0.5, 1, 2, 4]), rng.choice([0, 0, 300, 900]), rng.choice([0, 0, 1, 2, 3]))
                    for _ in range(2000)]
        await asyncio.gather(*(job(r) for r in requests))
        return started_jobs, p.used, p.waiting, sorted(p.free_ids)

    count, used, waiting, free = asyncio.run(main())
    assert count == 2000 and waiting == 0 and free == ["0", "1", "2"]
    assert used.cpus == 0 and used.memory_mb == 0 and used.gpus == 0
