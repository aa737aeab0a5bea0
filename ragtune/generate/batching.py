"""Dynamic batching: many callers' prompts decoded together by one model, each caller streaming its own answer.

A server shares one generator among its users. `Generator.decoder()` gives the generator's `BatchDecoder`: a
thread that owns the model and takes prompts from an inbox. `submit` returns at once with a `DecodeStream` the
caller iterates for text pieces. How prompts join a batch is the backend's: OpenVINO adds a request to the
running batch at its next decoding step (continuous batching); torch gathers what is waiting into one batch
and starts the next batch when it ends (`BoundaryDecoder`).
"""

from __future__ import annotations

import queue
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator

from ragtune.generate.base import Candidates, Message
from ragtune.workers import OnDemandQueue

_END = object()


class TokenText:
    """Token ids in, text pieces out: a piece is released once its bytes form whole characters (a CJK character
    may span tokens), decoded by the generator's own tokenizer so the text equals a batch decode."""

    def __init__(self, tokenizer, stop_ids: set[int]):
        self.tokenizer, self.stop_ids = tokenizer, stop_ids
        self.tokens: list[int] = []
        self.sent = 0

    def add(self, tokens: list[int]) -> str:
        self.tokens.extend(int(t) for t in tokens if int(t) not in self.stop_ids)
        text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        if text.endswith("\ufffd") or len(text) <= self.sent:
            return ""
        piece, self.sent = text[self.sent :], len(text)
        return piece


class DecodeStream:
    """One submitted prompt: iterate it for the answer's text pieces (an error in decoding is raised here).
    `cancel()` (a client went away) stops its decoding at the next step; `tokens` counts what was decoded.
    A prompt submitted for several `candidates` streams nothing: its answers are read from `answers()` when it
    ends."""

    def __init__(self, messages: list[Message], text: TokenText, candidates: Candidates | None = None):
        self.messages = messages
        self.text = text
        self.candidates = candidates
        #: the candidates' token ids and scores (log-probabilities), by the backend's sequence number
        self.sequences: dict[int, list[int]] = {}
        self.scores: dict[int, float] = {}
        self.cancelled = False
        self.submitted = time.perf_counter()
        self._pieces: queue.Queue = queue.Queue()
        self._error: BaseException | None = None

    @property
    def tokens(self) -> int:
        return len(self.text.tokens)

    # ---- the decoder's side -----------------------------------------------------------------
    def push(self, tokens: list[int], sequence: int = 0, score: float = 0.0) -> None:
        if self.candidates is not None:
            self.sequences.setdefault(sequence, []).extend(int(t) for t in tokens)
            self.scores[sequence] = score
            return
        piece = self.text.add(tokens)
        if piece:
            self._pieces.put(piece)

    def finish(self, error: BaseException | None = None) -> None:
        self._error = error
        self._pieces.put(_END)

    # ---- the caller's side ------------------------------------------------------------------
    def cancel(self) -> None:
        self.cancelled = True

    def __iter__(self) -> Iterator[str]:
        while (piece := self._pieces.get()) is not _END:
            yield piece
        if self._error is not None:
            raise self._error

    def result(self) -> str:
        return "".join(self).strip()

    def answers(self) -> list[str]:
        """The candidates' answers once the prompt has ended, best score first."""
        for _ in self:  # waits for the end; raises what decoding raised
            pass
        stops, order = self.text.stop_ids, sorted(self.sequences, key=lambda s: (-self.scores[s], s))
        return [self.text.tokenizer.decode([t for t in self.sequences[s] if t not in stops],
                                           skip_special_tokens=True).strip() for s in order]


class BatchDecoder(ABC):
    """A thread owning the generator's decoding: prompts are submitted from any thread, decoded in shared
    batches. It runs while there is work (ragtune/workers.py); `waiting` and `running` are what a server reports
    as its queue."""

    def __init__(self, tokenizer, stop_ids: set[int], encode: Callable[[list[Message]], list[int]]):
        self.tokenizer, self.stop_ids, self.encode = tokenizer, stop_ids, encode
        self.queue: OnDemandQueue[DecodeStream] = OnDemandQueue(type(self).__name__, self._handle)
        self.running = 0
        #: the most prompts decoded together so far (tests and benchmarks check that batching happened)
        self.peak = 0

    @property
    def waiting(self) -> int:
        return self.queue.waiting

    def submit(self, messages: list[Message], candidates: Candidates | None = None) -> DecodeStream:
        """Queue a prompt (for several `candidates`, where the backend gives them); its prompt-budget error (too
        long) is raised here, in the caller's thread."""
        stream = DecodeStream(messages, TokenText(self.tokenizer, self.stop_ids), candidates)
        stream.ids = self.encode(messages)
        self.queue.put(stream)
        return stream

    def generate(self, batch: list[list[Message]]) -> list[str]:
        """Answers to `batch`, decoded together (a batch call through the same loop as the streams)."""
        streams = [self.submit(m) for m in batch]
        return [s.result() for s in streams]

    def _handle(self, first: DecodeStream) -> None:
        try:
            self.run(first)
        except BaseException as exc:  # noqa: BLE001 - every stream in flight learns why, the loop goes on
            self.fail(exc)

    def take_waiting(self, limit: int) -> list[DecodeStream]:
        return self.queue.take_waiting(limit)

    @abstractmethod
    def run(self, first: DecodeStream) -> None:
        """Decode `first` and whatever joins it, until nothing is in flight."""

    @abstractmethod
    def fail(self, error: BaseException) -> None:
        """Finish every stream in flight with `error`."""


class BoundaryDecoder(BatchDecoder):
    """Batching at batch boundaries: the prompts waiting when a batch starts (up to `size`, after a wait of
    `gather_s` for more to arrive) decode together; each stream ends when its own answer does, and prompts that
    arrive meanwhile form the next batch. `decode(batch, on_tokens)` decodes one batch, reporting each row's new
    token ids as they come (the generator's `decode_together`)."""

    def __init__(self, tokenizer, stop_ids, encode, decode: Callable, size: int, gather_s: float = 0.01):
        super().__init__(tokenizer, stop_ids, encode)
        self.decode, self.size, self.gather_s = decode, size, gather_s
        self._batch: list[DecodeStream] = []

    def run(self, first: DecodeStream) -> None:
        pending = [first]
        while pending:
            if len(pending) < self.size and self.gather_s:
                time.sleep(self.gather_s)
            pending += self.take_waiting(self.size - len(pending))
            batch = [s for s in pending[: self.size] if not s.cancelled]
            for stream in pending[: self.size]:
                if stream.cancelled:
                    stream.finish()
            pending = pending[self.size :] + self.take_waiting(self.size)
            if batch:
                self._decode(batch)

    def _decode(self, batch: list[DecodeStream]) -> None:
        self._batch, self.running = batch, len(batch)
        self.peak = max(self.peak, len(batch))
        done = [False] * len(batch)

        def on_tokens(row: int, tokens: list[int]) -> bool:
            """Returns whether the row is still wanted (False: finished or cancelled)."""
            if done[row]:
                return False
            stream = batch[row]
            ended = any(int(t) in self.stop_ids for t in tokens)
            stream.push(tokens)
            if ended or stream.cancelled:
                done[row] = True
                self.running -= 1
                stream.finish()
            return not done[row]

        self.decode([s.messages for s in batch], on_tokens)
        for row, stream in enumerate(batch):
            if not done[row]:
                stream.finish()
        self._batch, self.running = [], 0

    def fail(self, error: BaseException) -> None:
        for stream in self._batch:
            stream.finish(error)
        self._batch, self.running = [], 0
