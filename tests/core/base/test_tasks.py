"""TaskSet: shutdown cancels exactly the tasks the server started, whatever their source files are called."""

import asyncio

from core.base.tasks import TaskSet


async def test_cancel_all_cancels_tracked_tasks_only():
    tasks = TaskSet()
    tracked = tasks.spawn(asyncio.sleep(60), name="tracked")
    adopted = tasks.add(asyncio.ensure_future(asyncio.sleep(60)))
    other = asyncio.ensure_future(asyncio.sleep(60))  # e.g. the project's own, in a path with "socketio"
    await asyncio.sleep(0)
    assert len(tasks) == 2
    assert await tasks.cancel_all(timeout=1.0) == 2
    assert tracked.cancelled() and adopted.cancelled()
    assert not other.done()
    other.cancel()
    assert len(tasks) == 0


async def test_finished_tasks_are_forgotten():
    tasks = TaskSet()
    done = tasks.spawn(asyncio.sleep(0))
    await done
    await asyncio.sleep(0)  # done callbacks run on the next loop turn
    assert len(tasks) == 0
    assert await tasks.cancel_all(timeout=0.1) == 0


async def test_cancel_all_leaves_the_calling_task_alone():
    tasks = TaskSet()

    async def shutdown():
        return await tasks.cancel_all(timeout=1.0)

    sleeper = tasks.spawn(asyncio.sleep(60))
    caller = tasks.spawn(shutdown())
    assert await caller == 1
    assert sleeper.cancelled()
