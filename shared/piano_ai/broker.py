"""The embedded default's broker: kombu's filesystem transport, except that a worker takes its next message
as soon as it acknowledges (or rejects) the last one, instead of at its next look at the queue folder.

Celery runs a polling transport in a blocking loop: the worker's main process looks at the folder, and when
its one-message prefetch is taken (a job running, acknowledged late) it sleeps ``polling_interval`` and looks
again. The job's acknowledgement arrives meanwhile (on the pool's result thread), so every job in a backlog
waited half an interval on average before it started. Here that sleep is a wait that the acknowledgement
ends. A new message from the API is still found at the next look (``polling_interval``).

Messages also appear whole: kombu writes a message file in place, and a worker that looked at that moment read
it empty and stopped ("Unrecoverable error: JSONDecodeError", seen with two API processes sending); here it is
written under a name no queue matches and then renamed.
"""

import contextlib
import os
import threading
import uuid
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

PARTIAL = ".partial-"  # a message being written: kombu's queues match "<anything>.<queue>.msg" only


class Channel(filesystem.Channel):  # type: ignore[misc]
    connection: "Transport"

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Put a message on ``queue`` as kombu does (same file name and content), renamed into place whole."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, PARTIAL + name)
        try:
            with open(partial, "wb") as out:
                out.write(str_to_bytes(dumps(payload)))
            os.rename(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def basic_ack(self, delivery_tag: Any, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple)
        self.connection.wake()

    def basic_reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        super().basic_reject(delivery_tag, requeue)
        self.connection.wake()


class Transport(filesystem.Transport):  # type: ignore[misc]
    Channel = Channel

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._woken = threading.Event()

    def wake(self) -> None:
        """A message was settled: room for the next one, so look at the queue now."""
        self._woken.set()

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:  # type: ignore[override]
        """Deliver one message; as kombu's virtual transport, but the sleep between looks ends early on
        wake()."""
        start = monotonic()
        interval = self.polling_interval
        if timeout and interval and interval > timeout:
            interval = timeout
        while True:
            self._woken.clear()  # before the look: a wake during it ends the wait that follows at once
            try:
                self.cycle.get(self._deliver, timeout=timeout)  # type: ignore[union-attr]
            except Empty:
                if timeout is not None and monotonic() - start >= timeout:
                    raise TimeoutError() from None  # socket.timeout, which kombu callers catch
                if interval is not None:
                    self._woken.wait(interval)
            else:
                return
