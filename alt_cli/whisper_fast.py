"""openai-whisper's per-token bookkeeping, batched: the same tokens with far fewer GPU round trips.

Why: on a GPU, Whisper's decoder step itself is quick (a large-v2 step for 16 windows x 5 beams
reads the decoder's weights once, well under a millisecond at HBM speed), but around it
openai-whisper 20250625 does its bookkeeping row by row in Python.  Per step, its beam search
calls ``.tolist()``, ``topk`` and two ``.item()`` per candidate for each of the 80 rows (~1000
device synchronisations), its timestamp rules loop over the rows with a ``.tolist()``, a
boolean index and a ``logsumexp`` comparison each, and the key/value cache is re-indexed with a
Python list per layer (a host-to-device copy each).  Here each of the three is done with batched
tensor operations and one transfer per step:

* :class:`BatchedBeamSearch` takes the top candidates of every row in one ``topk``, moves
  tokens and scores to the host once, then runs Whisper's own ranking loop on plain Python
  numbers.  The scores are the same float32 sums (a float32 addition is exact and identical on
  either side), so the ranking -- and the tokens -- are Whisper's.
* :class:`BatchedTimestampRules` is ``ApplyTimestampRules`` as masks over the whole batch.
* :class:`IndexedInference` re-indexes the cache with one index tensor.

Equality with openai-whisper's own classes is tested on a real model
(``tests/test_whisper_fast.py``).  One caveat, stated: where two candidate tokens have exactly
equal log-probabilities, a batched ``topk`` may list them in another order than a per-row one;
in fp16 on a GPU that can pick the other of two equally likely beams.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from whisper.decoding import (
    ApplyTimestampRules,
    BeamSearchDecoder,
    DecodingTask,
    LogitFilter,
    PyTorchInference,
)


class IndexedInference(PyTorchInference):
    """Whisper's kv-cached decoder calls, re-indexing the cache with one device tensor."""

    def rearrange_kv_cache(self, source_indices) -> None:
        if source_indices == list(range(len(source_indices))):
            return
        index: torch.Tensor | None = None
        for module in self.kv_modules:
            cached = self.kv_cache[module]
            if index is None:
                index = torch.tensor(source_indices, device=cached.device)
            self.kv_cache[module] = cached.index_select(0, index).detach()


class BatchedBeamSearch(BeamSearchDecoder):
    """``BeamSearchDecoder.update`` with one ``topk`` and one device-to-host copy per step."""

    def update(self, tokens: torch.Tensor, logits: torch.Tensor, sum_logprobs: torch.Tensor
               ) -> tuple[torch.Tensor, bool]:
        if tokens.shape[0] % self.beam_size != 0:
            raise ValueError(f"{tokens.shape}[0] % {self.beam_size} != 0")
        n_audio = tokens.shape[0] // self.beam_size
        if self.finished_sequences is None:
            self.finished_sequences = [{} for _ in range(n_audio)]
        logprobs = F.log_softmax(logits.float(), dim=-1)
        top_logprobs, top_tokens = logprobs.topk(self.beam_size + 1, dim=-1)
        # float32 sums, as Whisper's `(sum_logprobs[idx] + logprob).item()` computes them
        candidates = (sum_logprobs[:, None] + top_logprobs).tolist()
        prefixes = tokens.tolist()
        top_tokens = top_tokens.tolist()

        next_tokens, source_indices, next_sums, finished_sequences = [], [], [], []
        for i in range(n_audio):
            scores, sources, finished = {}, {}, {}
            for j in range(self.beam_size):
                idx = i * self.beam_size + j
                prefix = prefixes[idx]
                for new_logprob, token in zip(candidates[idx], top_tokens[idx], strict=True):
                    sequence = tuple(prefix + [token])
                    scores[sequence] = new_logprob
                    sources[sequence] = idx
            saved = 0
            for sequence in sorted(scores, key=scores.get, reverse=True):
                if sequence[-1] == self.eot:
                    finished[sequence] = scores[sequence]
                else:
                    next_sums.append(scores[sequence])
                    next_tokens.append(sequence)
                    source_indices.append(sources[sequence])
                    saved += 1
                    if saved == self.beam_size:
                        break
            finished_sequences.append(finished)

        sum_logprobs[: len(next_sums)] = torch.tensor(next_sums, dtype=sum_logprobs.dtype,
                                                      device=sum_logprobs.device)
        tokens = torch.tensor(next_tokens, device=tokens.device)
        self.inference.rearrange_kv_cache(source_indices)
        for previously_finished, newly_finished in zip(
            self.finished_sequences, finished_sequences, strict=True
        ):
            for seq in sorted(newly_finished, key=newly_finished.get, reverse=True):
                if len(previously_finished) >= self.max_candidates:
                    break
                previously_finished[seq] = newly_finished[seq]
        completed = all(len(s) >= self.max_candidates for s in self.finished_sequences)
        return tokens, completed


class BatchedTimestampRules(LogitFilter):
    """``ApplyTimestampRules`` for all rows at once, as boolean masks (no host round trips)."""

    def __init__(self, rules: ApplyTimestampRules):
        self.tokenizer = rules.tokenizer
        self.sample_begin = rules.sample_begin
        self.max_initial_timestamp_index = rules.max_initial_timestamp_index

    def apply(self, logits: torch.Tensor, tokens: torch.Tensor) -> None:
        begin, eot = self.tokenizer.timestamp_begin, self.tokenizer.eot
        if self.tokenizer.no_timestamps is not None:
            logits[:, self.tokenizer.no_timestamps] = -float("inf")
        sampled = tokens[:, self.sample_begin:]
        if sampled.shape[1] >= 1:
            columns = torch.arange(logits.shape[1], device=logits.device)[None, :]
            is_stamp = sampled >= begin
            last = is_stamp[:, -1]
            penultimate = is_stamp[:, -2] if sampled.shape[1] >= 2 else torch.ones_like(last)
            # pairs: after a pair, text; after a lone timestamp, no text
            mask = ((last & penultimate)[:, None] & (columns >= begin)) | (
                (last & ~penultimate)[:, None] & (columns < eot))
            # timestamps never decrease, and a segment is never empty
            positions = torch.arange(sampled.shape[1], device=sampled.device)
            where_last = torch.where(is_stamp, positions, -1).max(dim=1).values
            stamp = sampled.gather(1, where_last.clamp(min=0)[:, None])[:, 0]
            limit = torch.where(last & ~penultimate, stamp, stamp + 1)
            mask |= ((where_last >= 0)[:, None] & (columns >= begin)
                     & (columns < limit[:, None]))
            logits.masked_fill_(mask, -float("inf"))
        if tokens.shape[1] == self.sample_begin:
            logits[:, :begin] = -float("inf")
            if self.max_initial_timestamp_index is not None:
                logits[:, begin + self.max_initial_timestamp_index + 1:] = -float("inf")
        # a timestamp when their total probability beats every text token
        logprobs = F.log_softmax(logits.float(), dim=-1)
        stamp_mass = logprobs[:, begin:].logsumexp(dim=-1)
        best_text = logprobs[:, :begin].max(dim=-1).values
        logits[:, :begin].masked_fill_((stamp_mass > best_text)[:, None], -float("inf"))


def batch_bookkeeping(task: DecodingTask) -> DecodingTask:
    """Swap a decoding task's beam search, timestamp rules and cache indexing for the batched
    ones above (in place; returns the task)."""
    inference = IndexedInference(task.model, len(task.initial_tokens))
    task.inference = inference
    if isinstance(task.decoder, BeamSearchDecoder):
        old = task.decoder
        task.decoder = BatchedBeamSearch(old.beam_size, old.eot, inference, old.patience)
    task.logit_filters = [BatchedTimestampRules(f) if type(f) is ApplyTimestampRules else f
                          for f in task.logit_filters]
    return task


def store_half_weights(model) -> None:
    """Keep Whisper's matrix weights in float16 on the GPU (layer norms stay float32).

    openai-whisper's ``Linear`` and ``Conv1d`` cast their float32 weights to the input's dtype
    at every call, so an fp16 decode converts the whole decoder's weights at every token step
    (for large-v2, ~5 GB of memory traffic a step).  Casting them once gives the very same
    numbers.  Only for fp16 decoding: a float32 decode of the same model afterwards would use
    the rounded weights.
    """
    from whisper.model import Conv1d, Linear

    for module in model.modules():
        if isinstance(module, (Linear, Conv1d, torch.nn.Embedding)):
            module.half()
