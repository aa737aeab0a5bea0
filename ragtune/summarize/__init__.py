"""Summaries of documents (map-reduce when long) and of what an index says about a query, with citations."""

from ragtune.summarize.summarizer import Summarizer, Summary, summary_config

__all__ = ["Summarizer", "Summary", "summary_config"]
