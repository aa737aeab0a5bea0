"""The RAG marginal likelihood (Lewis et al. 2020): the answer's probability summed over retrieved passages.

Pure tensor functions, so the loss can be checked by hand. `doc_logits` are the retriever's scores of the k
candidates (softmaxed into p(z|q)); `token_logprobs[..., z, t]` is log p(y_t | q, z, y<t) from a prompt holding
only passage z. Everything is in log space: small probabilities of long answers must not underflow.
"""

from __future__ import annotations

import torch


def sequence_logprobs(token_logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log p(y | q, z) per passage: (..., k, T) token log-probs and a (..., T) mask → (..., k)."""
    return (token_logprobs * mask.unsqueeze(-2)).sum(-1)


def rag_sequence_nll(doc_logits: torch.Tensor, seq_logprobs: torch.Tensor) -> torch.Tensor:
    """RAG-Sequence: -log Σ_z p(z|q) p(y|q,z), one passage for the whole answer. (..., k), (..., k) → (...)."""
    return -torch.logsumexp(doc_logits.log_softmax(-1) + seq_logprobs, dim=-1)


def rag_token_nll(doc_logits: torch.Tensor, token_logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """RAG-Token: -Σ_t log Σ_z p(z|q) p(y_t|q,z,y<t), each token may draw on another passage.

    (..., k) logits, (..., k, T) token log-probs, (..., T) mask of real answer tokens → (...).
    """
    per_token = torch.logsumexp(doc_logits.log_softmax(-1).unsqueeze(-1) + token_logprobs, dim=-2)
    return -(per_token * mask).sum(-1)


def doc_entropy(doc_logits: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of p(z|q): log k when the retriever cannot tell the candidates apart, 0 when it is sure."""
    logp = doc_logits.log_softmax(-1)
    return -(logp.exp() * logp).sum(-1)
