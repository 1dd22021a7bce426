"""What the stream manager knows about the stream and says about it: resets, gaps, connection state."""

from __future__ import annotations

import json
import logging
import time

from redis.exceptions import ResponseError


def parse_id(entry_id: bytes | str | None) -> tuple[int, int]:
    """A stream id as (milliseconds, sequence), comparable."""
    if not entry_id:
        return (0, 0)
    if isinstance(entry_id, bytes):
        entry_id = entry_id.decode()
    ms, _, seq = entry_id.partition("-")
    return (int(ms), int(seq or 0))


def count_entries(entries) -> int:
    """How many entries an XREAD answer holds."""
    return sum(len(items) for _, items in entries or ())


class RateLimitedLog:
    """A warning at most every `every` seconds; the caller's message carries the running count."""

    def __init__(self, log: logging.Logger, every: float = 5.0):
        self._log, self._every, self._last = log, every, float("-inf")

    def __call__(self, message: str, *args) -> bool:
        now = time.monotonic()
        if now - self._last < self._every:
            return False
        self._last = now
        self._log.warning(message, *args)
        return True


class StreamChecks:
    """Mixin of StreamManager: the stream's identity, per-sender sequence numbers, their log lines."""

    def _check_stream(self, epoch: bytes | None, info) -> bool:
        """Detect a reset stream (gone, new epoch, ids or entries-added going back) and trimmed gaps.

        Returns True when the stream was reset: reading starts again at its first entry (what
        was delivered already is recognised by its sequence number).
        """
        if isinstance(info, ResponseError):  # no such key
            if self.epoch is not None or self.last_id != b"0-0":
                return self._reset("it is gone", None)
            return False
        if isinstance(info, Exception):
            raise info
        epoch = epoch.decode() if epoch else None
        last_generated, added = parse_id(info["last-generated-id"]), info.get("entries-added", 0)
        reason = None
        if self.epoch is not None and epoch != self.epoch:
            reason = f"its epoch marker changed from {self.epoch} to {epoch}"
        elif parse_id(self.last_id) > last_generated:
            reason = (f"its ids went back: read up to {self.last_id.decode()}, the stream's last id "
                      f"is {info['last-generated-id'].decode()}")
        elif added < self._entries_added:
            reason = f"its entries-added went back from {self._entries_added} to {added}"
        if reason is not None:
            return self._reset(reason, epoch)
        self.epoch, self._entries_added = epoch, added
        first = info.get("first-entry")
        if self._measured and first and parse_id(first[0]) > parse_id(self.last_id):
            # Every entry after our position is either still there or was trimmed unread.
            unread = added - self._added_at_position - info["length"]
            if unread > 0:
                self._added_at_position += unread
                self.counts["trimmed_gaps"] += 1
                self.counts["trimmed_unread"] += unread
                self._log.warning("stream %s: %d entries after %s were trimmed before this process read "
                                  "them (the senders' sequence numbers tell whose)", self.stream, unread,
                                  self.last_id.decode())
        return False

    def _reset(self, reason: str, epoch: str | None) -> bool:
        self.counts["resets"] += 1
        self._log.warning("stream %s was reset (%s); reading the new stream from its first entry "
                          "(%d reset(s) so far)", self.stream, reason, self.counts["resets"])
        self.last_id, self.epoch, self._entries_added = b"0-0", epoch, 0
        self._added_at_position, self._measured = 0, True
        return True

    def _accept(self, raw: bytes | None) -> dict | None:
        """Decode an entry; None for our own, for duplicates and for garbage; count gaps."""
        try:
            message = json.loads(raw)
            host, seq = message["host_id"], int(message["seq"])
        except (TypeError, ValueError, KeyError):
            self.counts["malformed"] += 1
            self._log.warning("ignored a malformed entry on %s", self.stream)
            return None
        if host == self.host_id:
            # Connection-state recovery: our own entries up to this one are in the stream before last_id.
            self.own_read = max(getattr(self, "own_read", 0), seq)
            return None
        last = self._seen.get(host)
        if last is not None and seq <= last:
            self.counts["duplicates"] += 1
            return None
        if last is not None and seq > last + 1:
            self._gap(host, last + 1, seq - 1)
        self._seen[host] = seq
        return message

    def _gap(self, host: str, first: int, last: int) -> None:
        size = last - first + 1
        self.counts["missed"] += size
        self.counts["gaps"] += 1
        self.recent_gaps.append({"process": host, "first_seq": first, "last_seq": last, "size": size,
                                 "at": round(time.time(), 3)})
        self._log.warning("missed %d message(s) from process %s (sequence %d to %d): trimmed, reset or "
                          "dropped before this process read them (%d missed so far)", size, host,
                          first, last, self.counts["missed"])

    def _set_state(self, writer: bool | None = None, reader: bool | None = None,
                   error: Exception | None = None) -> None:
        was_up = self._writer_up and self._reader_up
        if writer is not None:
            self._writer_up = writer
        if reader is not None:
            self._reader_up = reader
        now_up = self._writer_up and self._reader_up
        if now_up and not was_up:
            outage = f" after {time.monotonic() - self._down_since:.1f}s" if self._ever_connected else ""
            self._ever_connected = True
            self._log.info("connected to Redis at %s%s (stream %s); %d buffered message(s) to deliver",
                           self._safe_url(), outage, self.stream,
                           len(self._outbox) + self._written_since_down)
            self._written_since_down = 0
        elif was_up and not now_up:
            self._down_since = time.monotonic()
            self._written_since_down = 0
            self._log.warning("lost Redis at %s (%s); buffering up to %d messages, retrying every %ss",
                              self._safe_url(), error, self.config.buffer_size, self.config.retry_interval)
        elif error is not None and not self._ever_connected and not self._said_unreachable:
            self._said_unreachable = True
            self._log.warning("Redis at %s is not reachable (%s); serving local clients and retrying "
                              "every %ss", self._safe_url(), error, self.config.retry_interval)

    def _safe_url(self) -> str:
        """The Redis URL without its password."""
        kwargs = self._redis.connection_pool.connection_kwargs
        return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
