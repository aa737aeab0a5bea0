"""Request and response bodies of the HTTP API (they make its OpenAPI schema at /openapi.json)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=20_000)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, description="The question; a follow-up is read with `history`.")
    top_k: int | None = Field(None, ge=1, description="Passages to answer from (default: retrieval.top_k).")
    history: list[ChatMessage] = Field(default_factory=list, description="Earlier turns, oldest first.")
    stream: bool = Field(False, description="Server-Sent Events: `token` events, then one `sources` event.")


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1)
    top_k: int | None = Field(None, ge=1)
    history: list[ChatMessage] = Field(default_factory=list)
    rerank: bool = Field(False, description="Rerank as /v1/ask does (slower); default: the fused order.")


class Source(BaseModel):
    id: str
    title: str
    text: str
    score: float
    chunk: int
    cited: bool = False


class AskResponse(BaseModel):
    answer: str
    sources: list[Source]
    cited: list[int] = Field(description="1-based positions in `sources` the answer cites.")
    standalone_question: str = Field(description="What was searched: the question, or a follow-up rewritten.")
    timings: dict[str, float]


class RetrieveResponse(BaseModel):
    standalone_question: str
    passages: list[Source]


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request; the fields ragtune does not use are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = "ragtune"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    top_k: int | None = Field(None, ge=1, description="ragtune's own: passages to answer from.")


class Document(BaseModel):
    id: str
    name: str
    title: str
    passages: int


class DocumentList(BaseModel):
    documents: list[Document]
    passages: int


class JobFile(BaseModel):
    name: str
    status: str
    error: str | None = None
    passages: int = 0


class JobStatus(BaseModel):
    id: str
    status: str
    total: int
    done: int
    passages_added: int
    message: str | None = None
    files: list[JobFile]


class ErrorBody(BaseModel):
    message: str
    type: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class GraphNode(BaseModel):
    id: str = Field(description="The entity key (normalised name) all its aliases share.")
    label: str
    aliases: list[str]
    type: str
    hops: int = Field(description="Triples away from the entity asked for.")
    triples: int | None = None


class GraphEdge(BaseModel):
    source: str
    target: str
    predicate: str
    subject: str
    object: str
    passage_id: str
    chunk: int
    title: str
    span: tuple[int, int] | None = Field(description="Characters of the passage covering subject and object.")
    snippet: str


class GraphView(BaseModel):
    entity: str | None = Field(description="The entity key shown; null: the most connected entities, no edges.")
    label: str | None
    version: str
    hops: int
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    truncated: bool = Field(description="More triples than graph.max_edges: the rest are not shown.")
    counts: dict[str, int]
