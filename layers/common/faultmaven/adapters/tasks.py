"""Where background tasks run: an asynchronous Lambda invocation on AWS (the event is
retried by Lambda, twice, on failure), or one worker thread of this process locally."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Mapping

from faultmaven.core.logging import logger
from faultmaven.core.settings import Settings

TaskRunner = Callable[[str, dict[str, str]], None]


class LambdaTaskQueue:
    def __init__(self, settings: Settings, function_name: str) -> None:
        self._settings = settings
        self._function = function_name

    def submit(self, task: str, payload: Mapping[str, str]) -> None:
        from faultmaven.adapters.aws import client

        client("lambda", self._settings).invoke(
            FunctionName=self._function,
            InvocationType="Event",
            Payload=json.dumps({"task": task, "payload": dict(payload)}).encode(),
        )


class InProcessTaskQueue:
    """One daemon thread, tasks in submission order; a failing task is logged (its job
    says it failed) and the worker carries on."""

    def __init__(self, run: TaskRunner) -> None:
        self._run = run
        self._queue: queue.Queue[tuple[str, dict[str, str]]] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, task: str, payload: Mapping[str, str]) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._work, name="faultmaven-tasks", daemon=True
                )
                self._worker.start()
        self._queue.put((task, dict(payload)))

    def _work(self) -> None:
        while True:
            task, payload = self._queue.get()
            try:
                self._run(task, payload)
            except Exception as exc:
                logger.error(
                    "background task failed", extra={"task": task, "error": type(exc).__name__}
                )
            finally:
                self._queue.task_done()
